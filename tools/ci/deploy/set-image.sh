#!/usr/bin/env bash
# GitOps step of deploy.yml: points an overlay's `bro-ai` image at IMAGE (by digest, or the
# previous reference when rolling back), commits and pushes to main.
# Usage: tools/ci/deploy/set-image.sh OVERLAY_DIR IMAGE [REASON]
#   prints `previous=<ref>` and `commit=<sha>` (empty when nothing changed) on stdout, in
#   the format of $GITHUB_OUTPUT. Needs kustomize and a checkout of main that may push.
set -euo pipefail

overlay=${1:?usage: set-image.sh OVERLAY_DIR IMAGE [REASON]}
image=${2:?usage: set-image.sh OVERLAY_DIR IMAGE [REASON]}
reason=${3:-deploy}
branch=${DEPLOY_BRANCH:-main}

cd "$(git rev-parse --show-toplevel)"
if [[ ! -f $overlay/kustomization.yaml ]]; then
  echo "set-image: $overlay/kustomization.yaml not found" >&2
  exit 1
fi
if ! [[ $image =~ ^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+(@sha256:[0-9a-f]{64}|:[A-Za-z0-9._-]+)$ ]]; then
  echo "set-image: '$image' is not an image reference (REGISTRY/PATH@sha256:... or :tag)" >&2
  exit 1
fi
command -v kustomize >/dev/null 2>&1 || {
  echo "set-image: kustomize is missing" >&2
  exit 1
}

render() {
  kustomize build --load-restrictor LoadRestrictionsNone "$overlay" |
    sed -n 's/^[[:space:]]*image:[[:space:]]*//p' | tr -d '"' | grep -E '/bro-ai(@|:)' | sort -u
}

previous=$(render | head -n1)
echo "previous=$previous"
(cd "$overlay" && kustomize edit set image "bro-ai=$image")
rendered=$(render)
if [[ $rendered != "$image" ]]; then
  echo "set-image: the overlay renders '$rendered', not '$image'" >&2
  exit 1
fi
if git diff --quiet -- "$overlay"; then
  echo "set-image: $overlay already runs $image" >&2
  echo "commit="
  exit 0
fi

git config user.name "github-actions[bot]"
git config user.email "41898282+github-actions[bot]@users.noreply.github.com"
git add -- "$overlay/kustomization.yaml"
git commit -q -m "$reason: $(basename "$overlay") -> ${image##*/}" -m "Previous image: $previous"
for attempt in 1 2 3 4 5; do
  if git push -q origin "HEAD:$branch"; then
    echo "commit=$(git rev-parse HEAD)"
    exit 0
  fi
  echo "set-image: push attempt $attempt was rejected; rebasing on $branch" >&2
  sleep $((attempt * 2))
  git pull -q --rebase origin "$branch"
done
echo "set-image: could not push to $branch" >&2
exit 1
