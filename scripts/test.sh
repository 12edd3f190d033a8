#!/usr/bin/env bash
# The README's test command (and .ci/run): install what is missing, build, start the services the
# tests need (PostgreSQL 15 and Redis 7 on loopback, in a temp dir), run every suite, stop what it started.
#
#   1. coverage build (Debug, gcov) with the unit and integration tests (GoogleTest, SQLite + PostgreSQL)
#   2. end-to-end suite against that build's binary (official OpenAI client, hostile input, shutdown),
#      and three instances behind haproxy sharing Redis and PostgreSQL (limits exactness, 5 runs)
#   3. coverage report and gate (tools/ci/coverage-threshold), counting unit, integration and e2e tests
#   4. ASan + UBSan build and the unit and integration tests under it
#   5. offline platform checks (Kubernetes, Terraform, workflows, formatting) and the container image
# Every suite runs even if an earlier one failed; the exit status says whether all passed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# shellcheck source=lib.sh
source scripts/lib.sh

./scripts/install-deps.sh --test
# The test tooling from npm (committed lock file): the official OpenAI client for the e2e suite
# and the OpenID Provider the identity integration tests start.
(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)

work=$(mktemp -d /tmp/bro-test.XXXXXX)
chmod 755 "${work}"
cleanup() {
  local rc=$?
  ./scripts/services/redis.sh stop "${work}/redis" || true
  ./scripts/services/postgres.sh stop "${work}/pg" || true
  rm -rf "${work}"
  exit "${rc}"
}
trap cleanup EXIT INT TERM

failed=()
run_suite() {
  local name=$1
  shift
  log "${name}"
  local start=${SECONDS}
  if "$@"; then
    log "${name}: passed in $((SECONDS - start)) s"
  else
    log "${name}: FAILED after $((SECONDS - start)) s"
    failed+=("${name}")
  fi
}

log "starting PostgreSQL 15"
BRO_TEST_POSTGRES_URL=$(./scripts/services/postgres.sh start "${work}/pg")
export BRO_TEST_POSTGRES_URL
log "starting Redis 7"
BRO_TEST_REDIS_URL=$(./scripts/services/redis.sh start "${work}/redis")
export BRO_TEST_REDIS_URL

log "building (coverage preset: Debug with gcov, tests on)"
cmake --preset coverage >/dev/null
cmake --build --preset coverage
find build/coverage -name '*.gcda' -delete

run_suite "unit and integration tests (SQLite and PostgreSQL)" ctest --preset coverage -j 2
run_suite "end-to-end tests (SQLite and PostgreSQL)" env BRO_AI_BIN="${root}/build/coverage/bro-ai" tests/e2e/run.sh
run_suite "three instances behind haproxy: limits exactness, 5 runs in a row" env BRO_AI_BIN="${root}/build/coverage/bro-ai" tests/cluster/run.sh 5
run_suite "coverage gate" tools/ci/coverage.sh --report-only
run_suite "ASan + UBSan: unit and integration tests" tools/ci/sanitize.sh asan
run_suite "clang-format" tools/ci/format-check.sh
run_suite "workflows and scripts (actionlint, shellcheck, yamllint)" tools/ci/check.sh
run_suite "Kubernetes and Argo CD offline checks" deploy/checks/run.sh
run_suite "Terraform offline checks" infra/terraform/checks/run.sh
run_suite "container image (podman build and run)" deploy/image/test.sh

if ((${#failed[@]})); then
  log "FAILED: ${failed[*]}"
  exit 1
fi
log "all suites passed"
