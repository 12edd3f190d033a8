#!/usr/bin/env bash
# Three bro-ai instances behind a real haproxy on loopback, sharing one Redis (the limiter)
# and one PostgreSQL (keys, overrides, usage records), and the exactness tests of issue 5
# against them (tests/cluster/cluster.test.mjs).
#
# Usage: tests/cluster/run.sh [RUNS]        RUNS: how many times in a row (default 1)
#   BRO_AI_BIN     binary under test (default: <repo>/build/debug/bro-ai)
#   CLUSTER_KEEP=1 keep the temp dir (configs, logs)
# Needs: haproxy, redis-server, PostgreSQL 15 (initdb/pg_ctl), psql, Node.js >= 20.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
bin="${BRO_AI_BIN:-$repo/build/debug/bro-ai}"
runs="${1:-1}"

for tool in haproxy redis-server redis-cli psql node curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "cluster: $tool is missing (scripts/install-deps.sh --test installs it)" >&2
    exit 1
  fi
done
[[ -x "$bin" ]] || { echo "cluster: no bro-ai binary at $bin" >&2; exit 1; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/bro-cluster.XXXXXX")"
chmod 0755 "$tmp"
pids_file="$tmp/pids"  # every process started here or by the tests, one PID a line
: >"$pids_file"

# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  while read -r pid; do
    if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; fi
  done <"$pids_file"
  while read -r pid; do
    if [[ -n "$pid" ]]; then timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null || true; fi
  done <"$pids_file"
  "$repo/scripts/services/postgres.sh" stop "$tmp/pg" >/dev/null 2>&1 || true
  if [[ $rc -ne 0 ]]; then
    for log in "$tmp"/*.log; do
      [[ -f "$log" ]] && { echo "--- $log (last lines)"; tail -n 15 "$log"; }
    done >&2
  fi
  if [[ -n "${CLUSTER_KEEP:-}" ]]; then echo "cluster: kept $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_http() {
  local _
  for _ in $(seq 300); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "cluster: nothing answers at $1" >&2
  return 1
}

pg_url="$("$repo/scripts/services/postgres.sh" start "$tmp/pg")"
redis_port="$(free_port)"
export BRO_KEY_SECRET="cluster-test-secret-cluster-test-secret-0123"
export DATABASE_URL="$pg_url"
export REDIS_URL="redis://127.0.0.1:$redis_port/0"

cat >"$tmp/bro.yaml" <<YAML
server: {host: 127.0.0.1, io_threads: 1, shutdown_grace: 5s}
metrics: {host: 127.0.0.1}
logging: {level: info, access_log: false}
auth: {bootstrap_admin: false, key_cache_ttl: 1s}
usage: {flush_interval: 100ms}
limits:
  backend: redis
  failure_mode: closed
  retry_interval: 200ms
  override_refresh: 200ms
  max_tokens_default: 256
providers:
  - {name: echo, type: echo}
  - {name: slow-echo, type: echo, token_delay: 40ms}
models:
  - {name: echo, provider: echo, input_price_per_million: 1000, output_price_per_million: 2000}
  - {name: slow, provider: slow-echo}
YAML

"$bin" migrate --config "$tmp/bro.yaml" >"$tmp/migrate.log" 2>&1

start_redis() {
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --dir "$tmp" >>"$tmp/redis.log" 2>&1 &
  echo $! >>"$pids_file"
  echo $! >"$tmp/redis.pid"
  local _
  for _ in $(seq 100); do
    redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "cluster: redis did not start" >&2
  return 1
}
start_redis

api_ports=() metrics_ports=() instance_pids=()
for i in 1 2 3; do
  api_ports+=("$(free_port)")
  metrics_ports+=("$(free_port)")
  BRO_SERVER_PORT="${api_ports[-1]}" BRO_METRICS_PORT="${metrics_ports[-1]}" \
    BRO_DATABASE_MIGRATE_ON_START=false \
    "$bin" serve --config "$tmp/bro.yaml" >"$tmp/bro-$i.log" 2>&1 &
  instance_pids+=("$!")
  echo $! >>"$pids_file"
done
for i in 0 1 2; do wait_http "http://127.0.0.1:${api_ports[i]}/ready"; done

lb_port="$(free_port)"
cat >"$tmp/haproxy.cfg" <<CFG
global
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  option http-server-close
frontend api
  bind 127.0.0.1:$lb_port
  default_backend bro
backend bro
  balance roundrobin
  http-response set-header x-bro-instance %s
  server bro1 127.0.0.1:${api_ports[0]}
  server bro2 127.0.0.1:${api_ports[1]}
  server bro3 127.0.0.1:${api_ports[2]}
CFG
haproxy -f "$tmp/haproxy.cfg" -db >"$tmp/haproxy.log" 2>&1 &
echo $! >>"$pids_file"
wait_http "http://127.0.0.1:$lb_port/health"

admin_key="$("$bin" admin create-key --config "$tmp/bro.yaml" --user admin@cluster.test \
  --role admin 2>>"$tmp/cli.log")"

export CLUSTER_URL="http://127.0.0.1:$lb_port"
export CLUSTER_ADMIN_KEY="$admin_key"
export CLUSTER_CONFIG="$tmp/bro.yaml"
export CLUSTER_BIN="$bin"
export CLUSTER_PG_URL="$pg_url"
export CLUSTER_REDIS_PORT="$redis_port"
export CLUSTER_TMP="$tmp"
export CLUSTER_PIDS_FILE="$pids_file"
export CLUSTER_INSTANCE_PIDS="${instance_pids[*]}"
export CLUSTER_METRICS_PORTS="${metrics_ports[*]}"

status=0
for run in $(seq "$runs"); do
  echo "cluster: run $run of $runs"
  # Each run needs a live cluster; the last test stops the instances, so runs after the first
  # restart them (same ports, same shared Redis and PostgreSQL).
  if ((run > 1)); then
    instance_pids=()
    for i in 1 2 3; do
      BRO_SERVER_PORT="${api_ports[i - 1]}" BRO_METRICS_PORT="${metrics_ports[i - 1]}" \
        BRO_DATABASE_MIGRATE_ON_START=false \
        "$bin" serve --config "$tmp/bro.yaml" >>"$tmp/bro-$i.log" 2>&1 &
      instance_pids+=("$!")
      echo $! >>"$pids_file"
    done
    for i in 0 1 2; do wait_http "http://127.0.0.1:${api_ports[i]}/ready"; done
    export CLUSTER_INSTANCE_PIDS="${instance_pids[*]}"
  fi
  node --test --test-concurrency=1 "$here/cluster.test.mjs" || { status=1; break; }
done
exit "$status"
