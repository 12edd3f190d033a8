#!/usr/bin/env bash
# cppcheck gate over src/ (warning, performance and portability checks; any finding fails).
# Suppressions, each with a reason, live in tools/ci/cppcheck-suppressions.txt.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
command -v cppcheck >/dev/null 2>&1 || {
  echo "cppcheck: cppcheck is missing (apt-get install -y cppcheck)" >&2
  exit 1
}
cmake -S . -B build/cppcheck -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DBRO_BUILD_TESTS=OFF >/dev/null
mkdir -p build/cppcheck/cache
# Only the translation units under src/: the database also lists generated sources that
# exist only after a build.
python3 - "$PWD/src/" <<'PY'
import json, sys
entries = json.load(open("build/cppcheck/compile_commands.json"))
mine = [e for e in entries if e["file"].startswith(sys.argv[1])]
json.dump(mine, open("build/cppcheck/src_commands.json", "w"))
print(f"cppcheck: {len(mine)} translation unit(s) under src/")
PY
cppcheck --project=build/cppcheck/src_commands.json \
  --std=c++20 --enable=warning,performance,portability --inline-suppr \
  --suppressions-list=tools/ci/cppcheck-suppressions.txt \
  --cppcheck-build-dir=build/cppcheck/cache -j "$(nproc)" \
  --error-exitcode=1 --quiet --template='{file}:{line}:{column}: {severity}: {message} [{id}]'
echo "cppcheck: no findings"
