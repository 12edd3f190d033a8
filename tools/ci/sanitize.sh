#!/usr/bin/env bash
# Sanitizer pass: builds a sanitizer preset and runs the whole ctest suite (unit tests, and the
# integration tests whose services are set: run it under tools/ci/with-services.sh).
# Usage: tools/ci/sanitize.sh asan|tsan
#   asan = AddressSanitizer + UndefinedBehaviorSanitizer, tsan = ThreadSanitizer.
# Any report fails the run (the presets build with -fno-sanitize-recover=all).
set -euo pipefail

preset=${1:?usage: tools/ci/sanitize.sh asan|tsan}
case $preset in
  asan | tsan) ;;
  *)
    echo "sanitize: unknown preset '$preset' (asan or tsan)" >&2
    exit 2
    ;;
esac
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

# Kernels with 32 bits of mmap randomness break the sanitizer runtimes of GCC 12 / clang 14
# ("unexpected memory mapping"); run without address randomisation when that is the case.
runner=()
if [[ $(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0) -gt 28 ]] &&
  setarch "$(uname -m)" -R true 2>/dev/null; then
  runner=(setarch "$(uname -m)" -R)
fi

cmake --preset "$preset"
cmake --build --preset "$preset"
read -r -a ctest_args <<<"${CTEST_ARGS:-}"
"${runner[@]}" ctest --preset "$preset" "${ctest_args[@]}"
