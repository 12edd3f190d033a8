#!/usr/bin/env bash
# Black-box end-to-end tests of the bro-ai binary with the official OpenAI client.
#
# Usage: tests/e2e/run.sh [test/FILE.test.js ...]
#   BRO_AI_BIN             binary under test (default: <repo>/build/release/bro-ai)
#   BRO_TEST_POSTGRES_URL  when set, the suite runs a second time on PostgreSQL
#                          (in a fresh database made there, when psql may create one)
#   E2E_KEEP=1             keep the temp dirs (configs, databases, server logs)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export BRO_AI_BIN="${BRO_AI_BIN:-$repo/build/release/bro-ai}"
cd "$here"

if [[ ! -x "$BRO_AI_BIN" ]]; then
  echo "e2e: no bro-ai binary at $BRO_AI_BIN (build it, or set BRO_AI_BIN)" >&2
  exit 1
fi
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
  echo "e2e: Node.js >= 20 is required, found $(node --version)" >&2
  exit 1
fi
if [[ ! -d node_modules ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/bro-e2e.XXXXXX")"
pid_file="$tmp/pids"
: >"$pid_file"
runner_pid=""
pg_admin_url=""
pg_db=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # The test runner leads its own process group: its test-file processes and
  # the servers they started go with it.
  if [[ -n "$runner_pid" ]] && kill -0 "$runner_pid" 2>/dev/null; then
    kill -TERM -- "-$runner_pid" 2>/dev/null || true
    wait "$runner_pid" 2>/dev/null || true
  fi
  # Any bro-ai the tests recorded and failed to stop; the binary check guards
  # against a recycled PID.
  local pid
  while read -r pid; do
    if [[ -n "$pid" ]] && [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == "$(readlink -f "$BRO_AI_BIN")" ]]; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done <"$pid_file"
  if [[ -n "$pg_db" ]]; then
    psql "$pg_admin_url" -X -q -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [[ -n "${E2E_KEEP:-}" ]]; then
    echo "e2e: kept $tmp"
  else
    rm -rf "$tmp"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if (($#)); then
  tests=("$@")
else
  tests=(test/*.test.js)
fi

# Runs the suite once; $1 names the backend, $2 is a PostgreSQL URL or empty.
run_suite() {
  local name=$1 db_url=$2 rc=0
  mkdir -p "$tmp/$name"
  echo "=== e2e on $name: $BRO_AI_BIN"
  E2E_TMP="$tmp/$name" E2E_PID_FILE="$pid_file" E2E_DATABASE_URL="$db_url" \
    setsid node --test --test-concurrency=1 --test-timeout=300000 --test-reporter=spec "${tests[@]}" &
  runner_pid=$!
  wait "$runner_pid" || rc=$?
  runner_pid=""
  return "$rc"
}

failed=()
run_suite sqlite "" || failed+=(sqlite)

if [[ -n "${BRO_TEST_POSTGRES_URL:-}" ]]; then
  pg_url="$BRO_TEST_POSTGRES_URL"
  candidate="bro_e2e_$$_${RANDOM}"
  if command -v psql >/dev/null &&
    psql "$BRO_TEST_POSTGRES_URL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $candidate" >/dev/null 2>&1; then
    pg_admin_url="$BRO_TEST_POSTGRES_URL"
    pg_db="$candidate"
    pg_url="$(node -e 'const u = new URL(process.argv[1]); u.pathname = "/" + process.argv[2]; console.log(u.href)' \
      "$BRO_TEST_POSTGRES_URL" "$pg_db")"
    echo "e2e: PostgreSQL run in a fresh database $pg_db"
  else
    echo "e2e: could not create a fresh database; PostgreSQL run uses BRO_TEST_POSTGRES_URL as it is"
  fi
  run_suite postgres "$pg_url" || failed+=(postgres)
else
  echo "e2e: BRO_TEST_POSTGRES_URL is not set: ran on SQLite only, PostgreSQL NOT tested"
fi

if ((${#failed[@]})); then
  echo "e2e: FAILED on: ${failed[*]}" >&2
  exit 1
fi
echo "e2e: all passed"
