#!/usr/bin/env bash
# Smoke test of a running bro-ai: /ready answers 200, /v1/models refuses a request without an
# API key and lists models with one. Used by deploy.yml after every rollout; works against a
# local server too (scripts/run.sh, then an admin create-key).
# Usage: SMOKE_API_KEY=... tools/ci/smoke.sh BASE_URL
#   IAP_ID_TOKEN (optional): an OIDC token for Identity-Aware Proxy, sent as
#   Proxy-Authorization so that Authorization keeps the API key.
#   SMOKE_READY_TRIES (default 30, every 5 s): how long to wait for /ready.
set -euo pipefail

base=${1:?usage: SMOKE_API_KEY=... smoke.sh BASE_URL}
base=${base%/}
: "${SMOKE_API_KEY:?SMOKE_API_KEY is not set}"
command -v jq >/dev/null 2>&1 || {
  echo "smoke: jq is missing" >&2
  exit 1
}

curl_args=(--silent --show-error --max-time 10)
if [[ -n ${IAP_ID_TOKEN:-} ]]; then
  curl_args+=(--header "Proxy-Authorization: Bearer $IAP_ID_TOKEN")
fi
body=$(mktemp)
trap 'rm -f "$body"' EXIT

status() { curl "${curl_args[@]}" --output "$body" --write-out '%{http_code}' "$@" || true; }

tries=${SMOKE_READY_TRIES:-30}
for ((i = 1; i <= tries; i++)); do
  code=$(status "$base/ready")
  [[ $code == 200 ]] && break
  echo "smoke: /ready answered ${code:-nothing} (try $i/$tries)" >&2
  ((i < tries)) && sleep 5
done
if [[ $code != 200 ]]; then
  echo "smoke: FAIL /ready never answered 200" >&2
  exit 1
fi
echo "smoke: ok   /ready 200"

code=$(status "$base/v1/models")
if [[ $code != 401 ]]; then
  echo "smoke: FAIL /v1/models without a key answered $code, expected 401" >&2
  exit 1
fi
echo "smoke: ok   /v1/models without a key 401"

code=$(status --header "Authorization: Bearer $SMOKE_API_KEY" "$base/v1/models")
if [[ $code != 200 ]]; then
  echo "smoke: FAIL /v1/models with the key answered $code: $(head -c 300 "$body")" >&2
  exit 1
fi
if ! jq -e '.object == "list" and (.data | type == "array")' "$body" >/dev/null; then
  echo "smoke: FAIL /v1/models is not an OpenAI model list: $(head -c 300 "$body")" >&2
  exit 1
fi
echo "smoke: ok   /v1/models 200 with $(jq '.data | length' "$body") model(s)"
