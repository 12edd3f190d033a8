#!/usr/bin/env bash
# The local gates that need a build, for the README's test command (scripts/test.sh):
#   clang-format check, coverage report with its gate, one ASan+UBSan pass over the unit and
#   integration tests. Services come from tools/ci/with-services.sh (an already exported
#   BRO_TEST_POSTGRES_URL etc. is reused). Every gate runs; the exit status is non-zero if
#   any failed. tools/ci/check.sh (workflows and scripts) is separate and takes ~10 s.
# Usage: tools/ci/build-gates.sh [format] [coverage] [asan]   (default: all three)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
gates=("$@")
((${#gates[@]})) || gates=(format coverage asan)

failed=()
passed=0
for gate in "${gates[@]}"; do
  start=$SECONDS
  case $gate in
    format) command=(tools/ci/format-check.sh) ;;
    coverage) command=(tools/ci/with-services.sh tools/ci/coverage.sh) ;;
    asan) command=(tools/ci/with-services.sh tools/ci/sanitize.sh asan) ;;
    *)
      echo "build-gates: unknown gate '$gate' (format, coverage, asan)" >&2
      exit 2
      ;;
  esac
  echo "== build gate: $gate"
  if "${command[@]}"; then
    passed=$((passed + 1))
    printf 'PASS %-10s %4ss\n' "$gate" "$((SECONDS - start))"
  else
    failed+=("$gate")
    printf 'FAIL %-10s %4ss\n' "$gate" "$((SECONDS - start))"
  fi
done
((${#failed[@]})) && printf 'failed build gate: %s\n' "${failed[@]}"
echo "build-gates: $passed passed, ${#failed[@]} failed"
((${#failed[@]} == 0))
