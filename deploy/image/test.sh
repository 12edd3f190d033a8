#!/usr/bin/env bash
# Builds the bro-ai image with podman (offline base image, see ../../../shared/TOOLING.md
# "Containers") and runs it the way Kubernetes does: non-root, read-only root filesystem,
# writable /tmp only, no capabilities. Checks uid != 0, read-only root, /health 200,
# /ready 200, /metrics 200, SIGTERM -> exit 0; reports image size (budget 120 MB) and
# start-to-ready time.
#
# Usage: deploy/image/test.sh [--keep-image] [--purge-cache]
#   --keep-image   keep localhost/bro-ai:test-<pid> after the run
#   --purge-cache  remove the cached base images and build cache, then exit
# Environment: BRO_IMAGE_CACHE (default /var/cache/bro-ai-image) holds the Debian base
# tarball; podman's own store keeps the build-stage cache image localhost/bro-ai-build:cache.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${BRO_IMAGE_CACHE:-/var/cache/bro-ai-image}"
budget_mb=120
base_build=localhost/bro-ai-base/debian:bookworm
base_runtime=localhost/bro-ai-base/debian:bookworm-slim
build_cache=localhost/bro-ai-build:cache
image="localhost/bro-ai:test-$$"
container="bro-ai-test-$$"
keep_image=false
t0=$SECONDS

for a in "$@"; do
  case "$a" in
    --keep-image) keep_image=true ;;
    --purge-cache) purge=true ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done

say() { printf '[image] %s\n' "$*"; }
die() { printf '[image] FAIL: %s\n' "$*" >&2; exit 1; }

skip() {
  cat >&2 <<EOF

################################################################################
##  SKIPPED: the bro-ai image was NOT built and NOT tested.
##  Reason: $1
##  Install podman, buildah, runc and debootstrap (Debian 12) and run again.
################################################################################

EOF
  exit 0
}

# ---- tools
sudo_cmd=()
[[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
need=()
for p in podman buildah runc debootstrap curl catatonit; do command -v "$p" >/dev/null 2>&1 || need+=("$p"); done
if ((${#need[@]})); then
  say "installing ${need[*]} (apt)"
  if ! { "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
         "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
           podman buildah runc debootstrap catatonit curl ca-certificates uidmap >/dev/null 2>&1; }; then
    skip "podman could not be installed with apt-get"
  fi
fi
[[ $(id -u) -eq 0 ]] || skip "needs root (rootful podman with runc and a debootstrap'd base image)"

# Per-run podman configuration: runc (crun fails on this hybrid cgroup layout) and
# ulimits that this machine can grant.
conf_dir="$(mktemp -d)"
nofile="$(ulimit -Hn)"
nproc="$(ulimit -Hu)"
[[ "$nproc" == unlimited || "$nproc" -gt 32768 ]] && nproc=32768
[[ "$nofile" == unlimited ]] && nofile=1048576
cat >"$conf_dir/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_CONF="$conf_dir/containers.conf"

if [[ "${purge:-false}" == true ]]; then
  podman rmi -f "$base_build" "$base_runtime" "$build_cache" >/dev/null 2>&1 || true
  rm -rf "$cache"
  rm -rf "$conf_dir"
  say "purged $cache and cached images"
  exit 0
fi

cleanup() {
  local rc=$?
  podman rm -f -t 0 "$container" >/dev/null 2>&1 || true
  if [[ "$keep_image" != true ]]; then podman rmi -f "$image" >/dev/null 2>&1 || true; fi
  rm -rf "$conf_dir"
  if ((rc != 0)); then say "FAILED after $((SECONDS - t0)) s"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- base image: Debian bookworm minbase, made once and kept outside the clone
tarball="$cache/debian-bookworm-minbase.tar"
if [[ ! -s "$tarball" ]]; then
  say "debootstrap bookworm (minbase) into $cache (once)"
  mkdir -p "$cache"
  root="$(mktemp -d "$cache/rootfs.XXXXXX")"
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log" >&2; rm -rf "$root"; die "debootstrap failed"; }
  # What the official slim image leaves out as well.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
         "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +
  tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  rm -rf "$root"
  podman rmi -f "$base_build" "$base_runtime" >/dev/null 2>&1 || true
fi
if ! podman image exists "$base_runtime" || ! podman image exists "$base_build"; then
  say "importing the base image from $tarball"
  podman import --quiet "$tarball" "$base_runtime" >/dev/null
  podman tag "$base_runtime" "$base_build"
fi

# ---- build
build_args=(--pull=never --network host --layers -f "$repo/deploy/Dockerfile"
  --build-arg "BUILD_IMAGE=$base_build" --build-arg "RUNTIME_IMAGE=$base_runtime")
say "building the build stage (cached as $build_cache)"
tb=$SECONDS
podman build "${build_args[@]}" --target build -t "$build_cache" "$repo" >"$conf_dir/build-stage.log" 2>&1 ||
  { tail -40 "$conf_dir/build-stage.log" >&2; die "build stage failed"; }
build_stage_s=$((SECONDS - tb))
say "build stage: ${build_stage_s} s"
tb=$SECONDS
podman build "${build_args[@]}" -t "$image" "$repo" >"$conf_dir/build.log" 2>&1 ||
  { tail -40 "$conf_dir/build.log" >&2; die "image build failed"; }
runtime_stage_s=$((SECONDS - tb))
say "runtime stage: ${runtime_stage_s} s"

size_bytes="$(podman image inspect --format '{{.Size}}' "$image")"
size_mb=$(( (size_bytes + 999999) / 1000000 ))
user="$(podman image inspect --format '{{.Config.User}}' "$image")"
stopsignal="$(podman image inspect --format '{{.Config.StopSignal}}' "$image")"
say "image $image: ${size_mb} MB (budget ${budget_mb} MB), user '$user', stop signal '$stopsignal'"
((size_mb <= budget_mb)) || die "image is ${size_mb} MB, over the ${budget_mb} MB budget"
[[ "$user" == 1000* ]] || die "image user is '$user', expected 1000"
[[ "$stopsignal" == SIGTERM || "$stopsignal" == 15 ]] || die "stop signal is '$stopsignal', expected SIGTERM"

# ---- run, as Kubernetes does
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 30000))
    if port_free "$p"; then echo "$p"; return 0; fi
  done
  die "no free loopback port found"
}
api_port="$(pick_port)"
metrics_port="$(pick_port)"
[[ "$api_port" != "$metrics_port" ]] || metrics_port=$((api_port + 1))

now_ms() { date +%s%3N; }
http_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true; }

# The production overlay's environment (ConfigMap bro-ai-env) and key-secret file, so that
# the binary proves it accepts the configuration Kubernetes will give it; only addresses
# (loopback) and the database (SQLite in /tmp) differ.
env_file="$conf_dir/env"
: >"$env_file"
env_source="defaults"
if command -v kubectl >/dev/null 2>&1 &&
   kubectl kustomize --load-restrictor LoadRestrictionsNone "$repo/deploy/k8s/overlays/production" >"$conf_dir/production.yaml" 2>/dev/null; then
  awk '
    /^---/ { if (isenv) printf "%s", buf; buf = ""; isenv = 0; indata = 0; next }
    /^data:/ { indata = 1; next }
    /^[a-z]/ { indata = 0 }
    /^  name: bro-ai-env-/ { isenv = 1 }
    indata && /^  [A-Z_]+: / { k = $1; sub(/:$/, "", k); v = substr($0, index($0, ": ") + 2); gsub(/^"|"$/, "", v); buf = buf k "=" v "\n" }
    END { if (isenv) printf "%s", buf }' "$conf_dir/production.yaml" >"$env_file"
  [[ -s "$env_file" ]] && env_source="deploy/k8s/overlays/production (ConfigMap bro-ai-env: $(wc -l <"$env_file") keys)"
fi
key_file="$conf_dir/key-secret"
printf 'image-test-only-not-a-secret-0123456789abcdef\n' >"$key_file"
chmod 0644 "$key_file"

say "running on 127.0.0.1:$api_port (metrics :$metrics_port), read-only root, /tmp tmpfs, no capabilities"
say "environment: $env_source"
start_ms="$(now_ms)"
podman run -d --name "$container" \
  --network host --read-only --read-only-tmpfs=false --tmpfs /tmp:rw,nosuid,nodev,size=64m,mode=1777 \
  --cap-drop=all --security-opt no-new-privileges --init \
  --env-file "$env_file" \
  -v "$key_file:/var/run/secrets/bro-ai/key-secret:ro" \
  -e BRO_AUTH_KEY_SECRET_FILE=/var/run/secrets/bro-ai/key-secret \
  -e BRO_SERVER_HOST=127.0.0.1 -e BRO_SERVER_PORT="$api_port" \
  -e BRO_METRICS_HOST=127.0.0.1 -e BRO_METRICS_PORT="$metrics_port" \
  -e DATABASE_URL=sqlite:///tmp/bro.db -e BRO_DATABASE_MIGRATE_ON_START=true \
  "$image" >/dev/null

health_ms=""
ready_ms=""
for _ in $(seq 1 300); do
  if [[ "$(podman inspect --format '{{.State.Running}}' "$container" 2>/dev/null)" != true ]]; then
    podman logs "$container" 2>&1 | tail -30 >&2
    die "the container exited during start-up"
  fi
  [[ -n "$health_ms" ]] || { [[ "$(http_code "http://127.0.0.1:$api_port/health")" == 200 ]] && health_ms=$(( $(now_ms) - start_ms )); }
  if [[ -n "$health_ms" && "$(http_code "http://127.0.0.1:$api_port/ready")" == 200 ]]; then
    ready_ms=$(( $(now_ms) - start_ms )); break
  fi
  sleep 0.05
done
[[ -n "$health_ms" ]] || { podman logs "$container" 2>&1 | tail -30 >&2; die "/health never answered 200"; }
[[ -n "$ready_ms" ]] || { podman logs "$container" 2>&1 | tail -30 >&2; die "/ready never answered 200"; }
say "ok   /health 200 after ${health_ms} ms, /ready 200 after ${ready_ms} ms (from podman run)"

[[ "$(http_code "http://127.0.0.1:$metrics_port/metrics")" == 200 ]] || die "/metrics on :$metrics_port did not answer 200"
say "ok   /metrics 200 on the metrics port"

uid="$(podman exec "$container" id -u)"
[[ "$uid" =~ ^[0-9]+$ && "$uid" != 0 ]] || die "the container runs as uid '$uid'"
users="$(podman top "$container" user args | awk 'NR > 1 && /bro-ai/ {print $1}' | sort -u | tr '\n' ' ')"
[[ -n "$users" ]] || die "could not find the bro-ai process in the container"
[[ " $users" != *" root "* ]] || die "bro-ai runs as root"
say "ok   uid $uid; bro-ai process user: ${users% }"

[[ "$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$container")" == true ]] || die "root filesystem is not read-only"
if podman exec "$container" touch /etc/bro-ai/probe 2>/dev/null; then die "root filesystem is writable"; fi
podman exec "$container" touch /tmp/probe || die "/tmp is not writable"
say "ok   root filesystem read-only, /tmp writable"

say "SIGTERM"
term_ms="$(now_ms)"
podman kill --signal TERM "$container" >/dev/null
code="$(timeout 40 podman wait "$container" 2>/dev/null | tail -1 || true)"
drain_ms=$(( $(now_ms) - term_ms ))
[[ "$code" == 0 ]] || { podman logs "$container" 2>&1 | tail -20 >&2; die "exit status after SIGTERM is '${code:-timeout}', expected 0"; }
say "ok   exited 0 ${drain_ms} ms after SIGTERM"

echo
echo "image test passed: size ${size_mb} MB (budget ${budget_mb}), /health ${health_ms} ms, ready ${ready_ms} ms," \
  "SIGTERM -> 0 in ${drain_ms} ms; build stage ${build_stage_s} s, runtime stage ${runtime_stage_s} s, total $((SECONDS - t0)) s"
