#!/usr/bin/env bash
# Starts or stops a throw-away Redis 7 on loopback in a directory of its own
# (no persistence). Stop uses the PID file this script's server wrote.
#   scripts/services/redis.sh start DIR   -> prints the URL (redis://127.0.0.1:PORT/0)
#   scripts/services/redis.sh stop DIR
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../lib.sh
source "${here}/lib.sh"

cmd=${1:?usage: redis.sh start|stop DIR}
dir=${2:?usage: redis.sh start|stop DIR}

case "${cmd}" in
  start)
    mkdir -p "${dir}"
    port=${BRO_REDIS_PORT:-$(free_port)}
    redis-server --port "${port}" --bind 127.0.0.1 --save '' --appendonly no \
      --daemonize yes --pidfile "${dir}/redis.pid" --dir "${dir}" \
      --logfile "${dir}/redis.log" >/dev/null
    for _ in $(seq 1 100); do
      redis-cli -h 127.0.0.1 -p "${port}" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
    redis-cli -h 127.0.0.1 -p "${port}" ping >/dev/null
    echo "${port}" >"${dir}/port"
    echo "redis://127.0.0.1:${port}/0"
    ;;
  stop)
    if [[ -f "${dir}/redis.pid" ]]; then
      pid=$(cat "${dir}/redis.pid")
      kill "${pid}" 2>/dev/null || true
      for _ in $(seq 1 50); do
        kill -0 "${pid}" 2>/dev/null || break
        sleep 0.1
      done
      rm -f "${dir}/redis.pid"
    fi
    ;;
  *)
    echo "usage: redis.sh start|stop DIR" >&2
    exit 2
    ;;
esac
