#!/usr/bin/env bash
# Offline checks of everything under deploy/: renders every kustomize overlay (also with
# the Istio component, and with the switched-off worker component) and the Argo CD
# objects, validates every object against its schema (CRDs included) and for unknown
# fields, runs the policy checks, proves each check can fail on its fixture, lints YAML,
# shell scripts and the Dockerfile.
# Usage: deploy/checks/run.sh            (no cluster, no network except npm/apt installs)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
deploy="$(cd "$here/.." && pwd)"
work="$here/.work"
start=$SECONDS
failures=()

step() { printf '\n== %s\n' "$*"; }
fail() { failures+=("$1"); printf 'FAIL: %s\n' "$1"; }

apt_install() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  echo "installing ${missing[*]} (apt)"
  local sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

step "tools"
command -v kubectl >/dev/null || { echo "kubectl is required (it renders kustomize)"; exit 2; }
command -v node >/dev/null || apt_install nodejs npm
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' || { echo "node >= 18 is required"; exit 2; }
command -v yamllint >/dev/null || apt_install yamllint
command -v shellcheck >/dev/null || apt_install shellcheck
echo "kubectl $(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: //p' | sed 's/^/kustomize /'), node $(node --version), $(yamllint --version)"

if [[ ! -f "$here/node_modules/.package-lock.json" || "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]]; then
  step "npm ci"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

# Models for CRDs that the kubernetes-models family lacks (SecretProviderClass,
# PodMonitoring), generated from the vendored CRDs and compiled for node.
gen="$here/.generated"
if [[ ! -f "$gen/dist/index.js" || -n "$(find "$here/crds" "$here/lib/prepare-crds.js" "$here/package-lock.json" -newer "$gen/dist/index.js" 2>/dev/null)" ]]; then
  step "generate models from crds/"
  rm -rf "$gen"
  node "$here/lib/prepare-crds.js" "$here/crds" "$gen/crds"
  inputs=()
  for f in "$gen"/crds/*.yaml; do inputs+=(--input "$f"); done
  "$here/node_modules/.bin/crd-generate" "${inputs[@]}" --output "$gen/models" >/dev/null
  cat >"$gen/tsconfig.json" <<'EOF'
{
  "compilerOptions": {
    "allowJs": true, "module": "commonjs", "target": "es2020", "moduleResolution": "node",
    "outDir": "dist", "rootDir": "models", "skipLibCheck": true, "esModuleInterop": true, "types": []
  },
  "include": ["models/**/*"]
}
EOF
  "$here/node_modules/.bin/tsc" -p "$gen/tsconfig.json"
fi

step "render (kubectl kustomize)"
rm -rf "$work"
mkdir -p "$work/rendered"
render() { # name dir
  if kubectl kustomize --load-restrictor LoadRestrictionsNone "$2" >"$work/rendered/$1.yaml" 2>"$work/rendered/$1.err"; then
    printf 'ok   %-20s %3d objects\n' "$1" "$(grep -c '^kind:' "$work/rendered/$1.yaml")"
    sets+=(--set "$1=$work/rendered/$1.yaml")
  else
    cat "$work/rendered/$1.err"
    fail "kustomize build $1"
  fi
}
sets=()
overlays=()
for d in "$deploy"/k8s/overlays/*/; do overlays+=("$(basename "$d")"); done
for o in "${overlays[@]}"; do
  render "$o" "$deploy/k8s/overlays/$o"
  # The same overlay with the optional Istio component switched on.
  mkdir -p "$work/istio-$o"
  cat >"$work/istio-$o/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../../k8s/overlays/$o
components:
  - ../../../k8s/components/istio
EOF
  render "$o+istio" "$work/istio-$o"
  # The same overlay with the worker tier switched on, the way an overlay would do it: in
  # its own components list (so that its namespace, labels, image tag and generated
  # ConfigMap names reach the worker objects). components/worker is off in every overlay
  # until the worker role has work; this keeps its manifests checked meanwhile.
  mkdir -p "$work/worker-$o"
  cp -R "$deploy/k8s/overlays/$o/." "$work/worker-$o/"
  sed -i 's#\.\./\.\./#../../../k8s/#' "$work/worker-$o/kustomization.yaml"
  if awk '{ print }
          /^  - \.\.\/\.\.\/\.\.\/k8s\/components\/environment$/ { print "  - ../../../k8s/components/worker"; n++ }
          END { exit n != 1 }' "$work/worker-$o/kustomization.yaml" >"$work/worker-$o/k.tmp"; then
    mv "$work/worker-$o/k.tmp" "$work/worker-$o/kustomization.yaml"
    render "$o+worker" "$work/worker-$o"
  else
    fail "overlay $o: no '../../components/environment' line to put components/worker after"
  fi
done
render argocd "$deploy/argocd"

step "schema, unknown fields and policies (kubernetes-models, TypeScript)"
if ! node "$here/lib/check.js" "${sets[@]}" --fixtures "$here/fixtures" --work "$work"; then
  fail "schema/policy checks"
fi

step "yamllint"
if yamllint -s -c "$deploy/.yamllint.yaml" "$deploy/k8s" "$deploy/argocd" "$here/fixtures" "$work/rendered"; then
  echo "ok   yamllint: sources and rendered output"
else
  fail "yamllint"
fi
if yamllint -s -c "$deploy/.yamllint.yaml" "$here/fixtures-lint/bad.yaml" >/dev/null 2>&1; then
  fail "yamllint fixture fixtures-lint/bad.yaml passed; the lint is not effective"
else
  echo "ok   fixture fixtures-lint/bad.yaml fails yamllint as intended"
fi

step "shellcheck"
mapfile -t scripts < <(find "$deploy" -name '*.sh' -not -path '*/node_modules/*' -not -path '*/.work/*' | sort)
if shellcheck -x "${scripts[@]}"; then echo "ok   shellcheck: ${#scripts[@]} scripts"; else fail "shellcheck"; fi

step "Dockerfile (dockerfile-utils)"
lint_dockerfile() { # file -> prints problems, succeeds when there are none
  local out
  out="$(cd "$here" && node_modules/.bin/dockerfile-utils lint "$1" 2>&1)" || true
  if [[ -n "$out" ]]; then printf '%s\n' "$out"; return 1; fi
}
if lint_dockerfile "$deploy/Dockerfile"; then echo "ok   deploy/Dockerfile"; else fail "dockerfile-utils deploy/Dockerfile"; fi
if lint_dockerfile "$here/fixtures-lint/Dockerfile.bad" >/dev/null; then
  fail "Dockerfile fixture passed; the lint is not effective"
else
  echo "ok   fixture fixtures-lint/Dockerfile.bad fails dockerfile-utils as intended"
fi
# Properties that the image test also checks at run time, here statically: prints one
# line per problem.
dockerfile_policy() { # file
  local f="$1" ref last
  grep -qE '^USER 1000(:1000)?$' "$f" || echo "runtime stage must run as USER 1000"
  grep -qE '^STOPSIGNAL SIGTERM$' "$f" || echo "STOPSIGNAL SIGTERM missing"
  grep -qE '^ENTRYPOINT \[' "$f" || echo "ENTRYPOINT must be in exec form"
  # Every FROM names an earlier stage or a tagged, non-latest image (ARG defaults resolved).
  while read -r ref; do
    [[ -n "$ref" ]] || continue
    last="${ref##*/}"
    if [[ "$ref" != *@sha256:* && ( "$last" != *:* || "$last" == *:latest ) ]]; then
      echo "base image '$ref' needs a tag other than latest"
    fi
  done < <(awk '
    /^ARG [A-Za-z_]+=/ { split(substr($0, 5), kv, "="); arg[kv[1]] = kv[2] }
    /^FROM / {
      img = $2
      if (img ~ /^\$\{?[A-Za-z_]+\}?$/) { name = img; gsub(/[${}]/, "", name); img = arg[name] }
      if (!(img in stage)) print img
      if (toupper($3) == "AS") stage[$4] = 1
    }' "$f")
}
problems="$(dockerfile_policy "$deploy/Dockerfile")"
if [[ -z "$problems" ]]; then
  echo "ok   deploy/Dockerfile: USER 1000, STOPSIGNAL SIGTERM, exec ENTRYPOINT, pinned bases"
else
  printf '%s\n' "$problems"
  fail "Dockerfile policy"
fi
problems="$(dockerfile_policy "$here/fixtures-lint/Dockerfile.bad")"
if [[ "$(grep -c . <<<"$problems")" -eq 4 ]]; then
  echo "ok   fixture fixtures-lint/Dockerfile.bad fails all 4 Dockerfile policies as intended"
else
  fail "Dockerfile policy fixture: expected 4 problems, got: ${problems:-none}"
fi

elapsed=$((SECONDS - start))
echo
if ((${#failures[@]})); then
  printf 'deploy checks FAILED in %ss:\n' "$elapsed"
  printf '  - %s\n' "${failures[@]}"
  exit 1
fi
echo "deploy checks passed in ${elapsed}s"
