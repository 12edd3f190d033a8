#!/usr/bin/env bash
# Writes the non-secret variables of a Terraform environment (GitHub variable TFVARS_<ENV>,
# passed as $TFVARS) to DIR/terraform.tfvars, which is not committed. Without $TFVARS an
# existing DIR/terraform.tfvars is kept; with neither, the environment cannot be planned.
# Usage: TFVARS=... tools/ci/terraform-vars.sh DIR
set -euo pipefail

dir=${1:?usage: terraform-vars.sh DIR}
if [[ -n ${TFVARS:-} ]]; then
  printf '%s\n' "$TFVARS" >"$dir/terraform.tfvars"
  echo "terraform-vars: wrote $dir/terraform.tfvars ($(grep -c '=' "$dir/terraform.tfvars") assignment(s))"
elif [[ -f $dir/terraform.tfvars ]]; then
  echo "terraform-vars: using the existing $dir/terraform.tfvars"
else
  echo "::error::no variables for $dir: set the GitHub variable TFVARS_$(basename "$dir" | tr '[:lower:]' '[:upper:]') (docs/ci.md)"
  exit 1
fi
