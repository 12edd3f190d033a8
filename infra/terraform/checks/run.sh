#!/usr/bin/env bash
# Offline checks of infra/terraform: terraform fmt, HCL syntax, google
# provider 5.x schema, module wiring, policies, and the fixtures that prove
# each check can fail. Needs Node 20 and npm (npm ci runs once, from the
# committed package-lock.json); terraform and shellcheck are used when present.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tf_root="$(dirname "$here")"
start=$SECONDS
passed=0
failed=0
skipped=0

section() { printf '\n== %s\n' "$1"; }

# Adds the "N passed, N failed[, N skipped]" line of a step's output to the totals.
count() {
  local line p f s
  line="$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1 || true)"
  if [[ -z "$line" ]]; then
    failed=$((failed + 1))
    return
  fi
  p="$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")"
  f="$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")"
  s="$(sed -nE 's/.* ([0-9]+) skipped.*/\1/p' <<<"$line")"
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + ${s:-0}))
}

if ! command -v node >/dev/null 2>&1; then
  echo "terraform-checks: node is required (Node 20)" >&2
  exit 2
fi

installed="$(HERE="$here" node -p "try { require(process.env.HERE + '/node_modules/@cdktf/hcl2json/package.json').version } catch { '' }")"
wanted="$(HERE="$here" node -p "require(process.env.HERE + '/package.json').dependencies['@cdktf/hcl2json']")"
if [[ "$installed" != "$wanted" ]]; then
  section "npm ci"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

if [[ ! -s "$here/schema/google-5.43.1.json" ]]; then
  echo "terraform-checks: schema/google-5.43.1.json is missing; regenerate with: npm run regen-schema" >&2
  exit 2
fi

log="$(mktemp -d)"
trap 'rm -rf "$log"' EXIT

# A CLI config variable pointing at a missing file only adds warnings; fmt needs none.
if [[ -n "${TF_CLI_CONFIG_FILE:-}" && ! -e "$TF_CLI_CONFIG_FILE" ]]; then
  unset TF_CLI_CONFIG_FILE
fi

section "terraform fmt -check -recursive"
terraform_bin="$(command -v terraform || true)"
if [[ -n "$terraform_bin" ]]; then
  if "$terraform_bin" fmt -check -recursive -diff -no-color "$tf_root"; then
    echo "ok   terraform fmt: every .tf file under infra/terraform"
    passed=$((passed + 1))
  else
    echo "FAIL terraform fmt (above): run terraform fmt -recursive infra/terraform"
    failed=$((failed + 1))
  fi
else
  echo "skipped: terraform not installed (fmt check and its fixture)"
  skipped=$((skipped + 1))
fi

section "shellcheck"
if command -v shellcheck >/dev/null 2>&1; then
  if shellcheck "$here/run.sh" "$tf_root/bootstrap/service-identities.sh"; then
    echo "ok   shellcheck: checks/run.sh, bootstrap/service-identities.sh"
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
else
  echo "skipped: shellcheck not installed"
  skipped=$((skipped + 1))
fi

section "syntax, schema, wiring and policies of infra/terraform"
node "$here/check.js" --skip "$here" "$tf_root" | tee "$log/check.txt" || true
count "$log/check.txt"

section "fixtures: every check fails on its defect"
fixture_args=()
if [[ -n "$terraform_bin" ]]; then
  fixture_args=(--terraform "$terraform_bin")
fi
node "$here/selftest.js" "${fixture_args[@]}" >"$log/fixtures.txt" || true
grep -v '^ok ' "$log/fixtures.txt" || true
echo "($(grep -c '^ok ' "$log/fixtures.txt" || true) fixtures failed as intended; details: node checks/selftest.js)"
count "$log/fixtures.txt"

printf '\nfinished in %d s\n' "$((SECONDS - start))"
if [[ $skipped -gt 0 ]]; then
  echo "terraform-checks: $passed passed, $failed failed, $skipped skipped"
else
  echo "terraform-checks: $passed passed, $failed failed"
fi
[[ $failed -eq 0 ]]
