#!/usr/bin/env bash
# Restore validation of a logical PostgreSQL dump (a Cloud SQL `gcloud sql export sql` file,
# plain SQL, optionally gzipped): loads it into a new database of a scratch PostgreSQL 15,
# with every error fatal, then lets the current release's `bro-ai migrate` run against it and
# checks that the tables the service needs are there.
# Usage: BRO_TEST_POSTGRES_URL=postgresql://.../db tools/ci/backup/restore-check.sh DUMP [BRO_AI_BINARY]
#   Run it under tools/ci/with-services.sh to get the scratch server.
set -euo pipefail

dump=${1:?usage: restore-check.sh DUMP [BRO_AI_BINARY]}
bro_ai=${2:-}
: "${BRO_TEST_POSTGRES_URL:?BRO_TEST_POSTGRES_URL is not set (run under tools/ci/with-services.sh)}"
server=${BRO_TEST_POSTGRES_URL%/*}
target=restore_check_$$
url="$server/$target"
required_tables=(users api_keys usage_records)

sql_stream() { if [[ $dump == *.gz ]]; then gzip -dc -- "$dump"; else cat -- "$dump"; fi; }

psql_admin() { psql "$BRO_TEST_POSTGRES_URL" -v ON_ERROR_STOP=1 -qAt "$@"; }
psql_admin -c "CREATE DATABASE $target"
trap 'psql_admin -c "DROP DATABASE IF EXISTS $target" >/dev/null 2>&1 || true' EXIT

# Cloud SQL dumps name their roles (owners, grants); a scratch server has none of them.
mapfile -t roles < <(sql_stream |
  grep -oE '(OWNER TO|GRANT [A-Z, ]+ ON [^;]+ TO) "?[A-Za-z0-9_@.-]+"?' |
  sed -E 's/.* TO "?([^"]+)"?$/\1/' | grep -vx -e postgres -e PUBLIC | sort -u || true)
for role in "${roles[@]}"; do
  psql_admin -c "DO \$\$ BEGIN CREATE ROLE \"$role\"; EXCEPTION WHEN duplicate_object THEN NULL; END \$\$"
done
echo "restore-check: ${#roles[@]} role(s) referenced by the dump created"

start=$SECONDS
sql_stream | psql "$url" -v ON_ERROR_STOP=1 -q >/dev/null
echo "restore-check: loaded $(basename "$dump") into $target in $((SECONDS - start))s"

if [[ -n $bro_ai ]]; then
  # migrate hashes no API key, but the configuration asks for a key secret with PostgreSQL:
  # a throw-away one keeps the production secret out of this job.
  DATABASE_URL=$url BRO_KEY_SECRET=${BRO_KEY_SECRET:-$(od -An -N24 -tx1 /dev/urandom | tr -d " \n")} "$bro_ai" migrate
  echo "restore-check: bro-ai migrate succeeded on the restored database"
else
  echo "restore-check: no bro-ai binary given: migrations were NOT checked against the restore"
fi

missing=0
for table in "${required_tables[@]}"; do
  if [[ $(psql "$url" -qAt -c "SELECT to_regclass('public.$table') IS NOT NULL") != t ]]; then
    echo "restore-check: FAIL table $table is missing after the restore" >&2
    missing=1
  else
    echo "restore-check: ok   $table: $(psql "$url" -qAt -c "SELECT count(*) FROM $table") row(s)"
  fi
done
exit "$missing"
