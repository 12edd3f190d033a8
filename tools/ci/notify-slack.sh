#!/usr/bin/env bash
# Posts one line to Slack through an incoming webhook (SLACK_WEBHOOK_URL) and prints it.
# Without a webhook it prints the line and a warning annotation, and succeeds: notifications
# are not a gate, but their absence is visible in the run.
# Usage: SLACK_WEBHOOK_URL=... tools/ci/notify-slack.sh TEXT
set -euo pipefail

text=${1:?usage: notify-slack.sh TEXT}
echo "$text"
if [[ -z ${SLACK_WEBHOOK_URL:-} ]]; then
  echo "::warning::SLACK_WEBHOOK_URL is not set: no Slack notification was sent"
  exit 0
fi
jq -n --arg text "$text" '{text: $text}' |
  curl -fsS --retry 3 --max-time 20 -X POST -H 'Content-Type: application/json' \
    --data @- "$SLACK_WEBHOOK_URL" >/dev/null
