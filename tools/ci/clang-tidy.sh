#!/usr/bin/env bash
# clang-tidy gate over src/ with the repository's .clang-tidy (warnings are errors).
# Usage: tools/ci/clang-tidy.sh [FILE_REGEX]   (default: every .cpp under src/)
# Configures build/tidy with clang 14 to get a compile_commands.json for clang's view.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
run_clang_tidy=$(command -v run-clang-tidy-14 || command -v run-clang-tidy || true)
if [[ -z $run_clang_tidy ]]; then
  echo "clang-tidy: run-clang-tidy-14 is missing (apt-get install -y clang-tidy-14)" >&2
  exit 1
fi
filter=${1:-"$PWD/src/.*\\.cpp$"}

CC=${CC:-clang-14} CXX=${CXX:-clang++-14} cmake -S . -B build/tidy -G Ninja \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DBRO_BUILD_TESTS=OFF
"$run_clang_tidy" -p build/tidy -quiet -j "$(nproc)" "$filter"
