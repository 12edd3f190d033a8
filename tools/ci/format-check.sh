#!/usr/bin/env bash
# clang-format gate: every C++ file under src/ and tests/ must already be formatted by the
# repository's .clang-format (clang-format 14, as Debian 12 ships it).
# Usage: tools/ci/format-check.sh [FILE...]   (no files: src/ and tests/)
#        CLANG_FORMAT=clang-format-14 by default.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
clang_format=${CLANG_FORMAT:-clang-format-14}
if ! command -v "$clang_format" >/dev/null 2>&1; then
  echo "format-check: $clang_format is missing (apt-get install -y clang-format-14)" >&2
  exit 1
fi
if [[ ! -f $root/.clang-format ]]; then
  echo "format-check: $root/.clang-format is missing" >&2
  exit 1
fi

files=()
if (($#)); then
  for f in "$@"; do files+=("$(realpath "$f")"); done
else
  while IFS= read -r f; do
    [[ -f $root/$f ]] && files+=("$root/$f")
  done < <(git -C "$root" ls-files --cached --others --exclude-standard -- src tests |
    grep -E '\.(c|cc|cpp|cxx|h|hh|hpp|hxx|ipp)$' | grep -v '/node_modules/' | sort -u)
fi
if ((${#files[@]} == 0)); then
  echo "format-check: no C++ files under src/ or tests/"
  exit 0
fi

"$clang_format" --style=file --dry-run -Werror "${files[@]}"
echo "format-check: ${#files[@]} file(s) match .clang-format"
