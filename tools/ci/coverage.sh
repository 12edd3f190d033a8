#!/usr/bin/env bash
# Coverage gate: builds the `coverage` preset (gcov instrumentation), runs the ctest suite,
# reports line coverage of src/ with gcovr and fails below tools/ci/coverage-threshold.
# Usage: tools/ci/coverage.sh                    build, test, report, gate
#        tools/ci/coverage.sh --report-only      report and gate the counters already in build/coverage
#                                                (scripts/test.sh: after ctest and the e2e suite ran on
#                                                the coverage build, so end-to-end tests count too)
#        tools/ci/coverage.sh --gate-only FILE   gate a gcovr --json-summary file
# Environment: BRO_TEST_POSTGRES_URL, BRO_TEST_REDIS_URL and PUBSUB_EMULATOR_HOST are passed
# through to the tests (integration tests run, and count, when they are set);
# COVERAGE_THRESHOLD overrides the threshold file; CTEST_ARGS adds ctest arguments.
# Reports: build/coverage/coverage/{summary.txt,summary.json,cobertura.xml,html/}.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
threshold=${COVERAGE_THRESHOLD:-$(tr -d '[:space:]' <"$root/tools/ci/coverage-threshold")}
if ! [[ $threshold =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
  echo "coverage: threshold '$threshold' is not a number" >&2
  exit 1
fi

gate() {
  python3 - "$1" "$threshold" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
threshold = float(sys.argv[2])
covered, total = summary["line_covered"], summary["line_total"]
if total == 0:
    print("coverage: no instrumented lines under src/: nothing was measured")
    sys.exit(1)
percent = 100.0 * covered / total
verdict = "meets" if percent >= threshold else "is below the threshold of"
print(f"coverage: lines {percent:.1f}% ({covered}/{total}) {verdict} {threshold:g}%")
sys.exit(0 if percent >= threshold else 1)
PY
}

if [[ ${1:-} == --gate-only ]]; then
  gate "${2:?usage: coverage.sh --gate-only SUMMARY.json}"
  exit
fi

cd "$root"
build=build/coverage
out=$build/coverage
for tool in cmake ctest gcovr python3; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "coverage: $tool is missing (scripts/install-deps.sh --test)" >&2
    exit 1
  }
done

if [[ ${1:-} != --report-only ]]; then
  cmake --preset coverage
  cmake --build --preset coverage
  # Counters from an earlier run would add to this one.
  find "$build" -name '*.gcda' -delete
  read -r -a ctest_args <<<"${CTEST_ARGS:-}"
  ctest --preset coverage "${ctest_args[@]}"
fi

compiler_id=$(sed -n 's/^CMAKE_CXX_COMPILER_ID:[A-Z]*=//p' "$build/CMakeCache.txt")
compiler_version=$(sed -n 's/^CMAKE_CXX_COMPILER_VERSION:[A-Z]*=//p' "$build/CMakeCache.txt")
major=${compiler_version%%.*}
if [[ $compiler_id == *Clang* ]]; then
  llvm_cov=$(command -v "llvm-cov-$major" || command -v llvm-cov || true)
  [[ -n $llvm_cov ]] || {
    echo "coverage: llvm-cov for clang $major is missing" >&2
    exit 1
  }
  gcov_tool="$llvm_cov gcov"
else
  gcov_tool=$(command -v "gcov-$major" || command -v gcov)
fi

rm -rf "$out"
mkdir -p "$out/html"
gcovr --root "$root" --object-directory "$build" --filter 'src/' \
  --gcov-executable "$gcov_tool" \
  --txt "$out/summary.txt" \
  --json-summary "$out/summary.json" \
  --cobertura "$out/cobertura.xml" \
  --html-details "$out/html/index.html" \
  --print-summary
cat "$out/summary.txt"
gate "$out/summary.json"
