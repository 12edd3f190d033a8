#!/usr/bin/env bash
# Checks the module layering of src/ (docs/architecture.md, "Modules and their layers"): every
# `#include "<module>/..."` in src/<m>/ must name <m> itself or a module src/modules.txt allows
# for <m>. Prints each violation as file:line and exits 1; also fails on a known-debt line that
# no include needs any more (so the list only shrinks).
#
#   tools/ci/layers.sh [SRC_DIR [MODULES_FILE]]    defaults: src, src/modules.txt
set -euo pipefail
cd "$(dirname "$0")/../.."
src=${1:-src}
modules=${2:-$src/modules.txt}

declare -A allowed=() debt=() used_debt=()
while read -r first rest; do
  [[ -z $first || $first == \#* ]] && continue
  if [[ $first == debt ]]; then
    read -r from to _ <<<"$rest"
    debt["$from $to"]=1
  else
    allowed[$first]=" $first $rest "
  fi
done <"$modules"

violations=0
while IFS= read -r -d '' file; do
  rel=${file#"$src"/}
  module=${rel%%/*}
  [[ $module == "$rel" ]] && continue # src/main.cpp and other top-level files: anything goes
  if [[ -z ${allowed[$module]+x} ]]; then
    echo "$file: module '$module' is not declared in $modules"
    violations=$((violations + 1))
    continue
  fi
  while IFS=: read -r line target; do
    [[ ${allowed[$module]} == *" $target "* ]] && continue
    if [[ -n ${debt["$module $target"]+x} ]]; then
      used_debt["$module $target"]=1
      continue
    fi
    echo "$file:$line: '$module' may not include '$target/' ($modules)"
    violations=$((violations + 1))
  done < <(grep -noE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[a-z_]+/' "$file" |
    sed -E 's/^([0-9]+):.*"([a-z_]+)\/$/\1:\2/')
done < <(find "$src" -type f \( -name '*.cpp' -o -name '*.hpp' \) -print0 | sort -z)

for edge in "${!debt[@]}"; do
  if [[ -z ${used_debt[$edge]+x} ]]; then
    echo "$modules: debt '$edge' is no longer used: delete the line"
    violations=$((violations + 1))
  fi
done

if ((violations)); then
  echo "layers: $violations violation(s)"
  exit 1
fi
echo "layers: ${#allowed[@]} modules, every include within its layer (${#debt[@]} known debt edge(s))"
