#!/usr/bin/env bash
# The README's test command (and .ci/run): install what is missing, build, start the services the
# tests need (PostgreSQL 15 on loopback, in a temp dir), run every suite, stop what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=lib.sh
source scripts/lib.sh

./scripts/install-deps.sh --test

work=$(mktemp -d /tmp/bro-test.XXXXXX)
chmod 755 "${work}"
cleanup() {
  local rc=$?
  ./scripts/services/postgres.sh stop "${work}/pg" || true
  rm -rf "${work}"
  exit "${rc}"
}
trap cleanup EXIT INT TERM

log "building (release, with tests)"
cmake --preset release -DBRO_BUILD_TESTS=ON >/dev/null
cmake --build --preset release

log "starting PostgreSQL 15"
BRO_TEST_POSTGRES_URL=$(./scripts/services/postgres.sh start "${work}/pg")
export BRO_TEST_POSTGRES_URL

log "unit and integration tests (SQLite and PostgreSQL)"
ctest --preset release -j 2

failed=()
run_suite() {
  local name=$1
  shift
  log "${name}"
  if ! "$@"; then failed+=("${name}"); fi
}

run_suite "end-to-end tests (official OpenAI client, hostile input, shutdown)" tests/e2e/run.sh
for check in deploy/checks/run.sh infra/terraform/checks/run.sh tools/ci/check.sh tools/ci/format-check.sh \
  deploy/image/test.sh; do
  if [[ -x "${root}/${check}" ]]; then
    run_suite "${check}" "${root}/${check}"
  fi
done

if ((${#failed[@]})); then
  log "FAILED: ${failed[*]}"
  exit 1
fi
log "all suites passed"
