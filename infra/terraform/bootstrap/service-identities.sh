#!/usr/bin/env bash
# Creates the Cloud SQL and Secret Manager service agents of an environment
# project before its first apply. google 5.x has no GA resource for this
# (google_project_service_identity is google-beta only), and the CMEK grants
# in envs/* need the agents to exist. Idempotent.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 PROJECT_ID" >&2
  exit 2
fi
project="$1"

for service in sqladmin.googleapis.com secretmanager.googleapis.com; do
  gcloud services enable "$service" --project "$project"
  gcloud beta services identity create --service "$service" --project "$project"
done
