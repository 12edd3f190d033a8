#!/usr/bin/env bash
# Starts or stops a throw-away PostgreSQL 15 on loopback in a directory of its own.
#   scripts/services/postgres.sh start DIR   -> prints the connection URL
#   scripts/services/postgres.sh stop DIR
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../lib.sh
source "${here}/lib.sh"

cmd=${1:?usage: postgres.sh start|stop DIR}
dir=${2:?usage: postgres.sh start|stop DIR}
bindir=/usr/lib/postgresql/15/bin
[[ -x "${bindir}/initdb" ]] || bindir=$(dirname "$(command -v initdb)")

as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "${cmd}" in
  start)
    mkdir -p "${dir}"
    [[ $(id -u) -eq 0 ]] && chown postgres:postgres "${dir}"
    as_pg "${bindir}/initdb" -D "${dir}/data" -U postgres --auth=trust -E UTF8 >"${dir}/initdb.log" 2>&1
    port=$(free_port)
    as_pg "${bindir}/pg_ctl" -D "${dir}/data" -l "${dir}/server.log" -w -t 60 \
      -o "-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null
    echo "${port}" >"${dir}/port"
    as_pg "${bindir}/psql" -h 127.0.0.1 -p "${port}" -U postgres -qc "CREATE DATABASE bro" >/dev/null
    echo "postgres://postgres@127.0.0.1:${port}/bro?sslmode=disable"
    ;;
  stop)
    if [[ -f "${dir}/data/postmaster.pid" ]]; then
      as_pg "${bindir}/pg_ctl" -D "${dir}/data" -m fast -w stop >/dev/null || true
    fi
    ;;
  *)
    echo "usage: postgres.sh start|stop DIR" >&2
    exit 2
    ;;
esac
