#!/usr/bin/env bash
# Retention for what backup.yml makes: logical exports under gs://$BACKUP_BUCKET/logical/
# (dated YYYY/MM/DD paths) and Cloud SQL on-demand backups whose description says backup.yml,
# older than $RETENTION_DAYS. Cloud SQL's automated backups keep their own retention
# (Terraform) and are never touched here.
# Usage: GCP_PROJECT=... CLOUDSQL_INSTANCE=... BACKUP_BUCKET=... RETENTION_DAYS=30 cleanup.sh
set -euo pipefail

: "${GCP_PROJECT:?}" "${CLOUDSQL_INSTANCE:?}" "${BACKUP_BUCKET:?}" "${RETENTION_DAYS:?}"
if ! [[ $RETENTION_DAYS =~ ^[0-9]+$ ]] || ((RETENTION_DAYS < 7)); then
  echo "cleanup: RETENTION_DAYS=$RETENTION_DAYS refused: at least 7 days are kept" >&2
  exit 1
fi
cutoff_day=$(date -u -d "-$RETENTION_DAYS days" +%Y%m%d)
cutoff_time=$(date -u -d "-$RETENTION_DAYS days" +%Y-%m-%dT%H:%M:%SZ)

deleted=0
while IFS= read -r url; do
  if [[ $url =~ /logical/([0-9]{4})/([0-9]{2})/([0-9]{2})/[^/]+$ ]]; then
    day="${BASH_REMATCH[1]}${BASH_REMATCH[2]}${BASH_REMATCH[3]}"
    if ((day < cutoff_day)); then
      gcloud storage rm --quiet "$url"
      deleted=$((deleted + 1))
    fi
  fi
done < <(gcloud storage ls "gs://$BACKUP_BUCKET/logical/**" 2>/dev/null || true)
echo "cleanup: deleted $deleted export(s) older than $RETENTION_DAYS days"

deleted=0
while IFS= read -r id; do
  [[ -n $id ]] || continue
  gcloud sql backups delete "$id" --project="$GCP_PROJECT" --instance="$CLOUDSQL_INSTANCE" --quiet
  deleted=$((deleted + 1))
done < <(gcloud sql backups list --project="$GCP_PROJECT" --instance="$CLOUDSQL_INSTANCE" \
  --filter="type=ON_DEMAND AND description~'^github-actions backup.yml' AND windowStartTime<'$cutoff_time'" \
  --format='value(id)')
echo "cleanup: deleted $deleted on-demand backup(s) older than $RETENTION_DAYS days"
