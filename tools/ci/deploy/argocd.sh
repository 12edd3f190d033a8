#!/usr/bin/env bash
# Argo CD steps of deploy.yml. The CLI reads ARGOCD_SERVER and ARGOCD_AUTH_TOKEN from the
# environment (a project-scoped token; never on the command line) and ARGOCD_OPTS.
# Usage:
#   argocd.sh install                      CLI from the Argo CD server itself (same version)
#   argocd.sh wait APP REVISION [TIMEOUT]  until APP has synced REVISION (or a later commit
#                                          containing it) and is Healthy; run in a clone
#   argocd.sh sync APP REVISION [TIMEOUT]  sync APP to REVISION (manual-sync apps), then wait
#   argocd.sh abort APP ROLLOUT            abort an Argo Rollouts update in progress
set -euo pipefail

: "${ARGOCD_SERVER:?ARGOCD_SERVER is not set}"
bin_dir=${RUNNER_TEMP:-/tmp}/argocd-bin
export PATH="$bin_dir:$PATH"

need_token() { : "${ARGOCD_AUTH_TOKEN:?ARGOCD_AUTH_TOKEN is not set}"; }

install_cli() {
  mkdir -p "$bin_dir"
  curl -fsSL --retry 3 -o "$bin_dir/argocd" "https://$ARGOCD_SERVER/download/argocd-linux-amd64"
  chmod +x "$bin_dir/argocd"
  argocd version --client --short
}

# The revision Argo CD has synced, after asking it to look at the repository again.
synced_revision() {
  argocd app get "$1" --refresh -o json | jq -r '.status.sync.revision // ""'
}

# True when Argo CD's revision is REVISION or a later commit of the branch containing it
# (other commits may land on main while a deploy waits).
contains_revision() {
  local revision=$1 current=$2
  [[ -n $current ]] || return 1
  [[ $current == "$revision" ]] && return 0
  git fetch -q origin "$current" 2>/dev/null || git fetch -q origin
  git merge-base --is-ancestor "$revision" "$current" 2>/dev/null
}

wait_revision() {
  local app=$1 revision=$2 timeout=${3:-900}
  local deadline=$((SECONDS + timeout)) current=
  while ((SECONDS < deadline)); do
    current=$(synced_revision "$app")
    contains_revision "$revision" "$current" && break
    echo "argocd: $app is at ${current:-nothing}, waiting for $revision" >&2
    sleep 10
  done
  if ! contains_revision "$revision" "$current"; then
    echo "argocd: $app did not sync $revision within ${timeout}s" >&2
    exit 1
  fi
  echo "argocd: $app synced $current; waiting for the operation to end and for Healthy" >&2
  local left=$((deadline - SECONDS))
  argocd app wait "$app" --operation --health --timeout "$((left > 60 ? left : 60))"
}

case ${1:-} in
  install) install_cli ;;
  wait)
    need_token
    wait_revision "${2:?APP}" "${3:?REVISION}" "${4:-900}"
    ;;
  sync)
    need_token
    argocd app get "${2:?APP}" --refresh >/dev/null
    argocd app sync "$2" --revision "${3:?REVISION}" --timeout "${4:-900}"
    wait_revision "$2" "$3" "${4:-900}"
    ;;
  abort)
    need_token
    argocd app actions run "${2:?APP}" abort --kind Rollout --group argoproj.io \
      --resource-name "${3:?ROLLOUT}"
    ;;
  *)
    echo "usage: argocd.sh install | wait APP REVISION [TIMEOUT] | sync APP REVISION [TIMEOUT] | abort APP ROLLOUT" >&2
    exit 2
    ;;
esac
