#!/usr/bin/env bash
# Runs a command with the suite's backing services started on loopback for this run only,
# and stops them afterwards (in reverse order of start-up):
#   PostgreSQL 15      -> BRO_TEST_POSTGRES_URL  (scripts/services/postgres.sh, as scripts/test.sh)
#   Redis 7            -> BRO_TEST_REDIS_URL
#   Pub/Sub emulator   -> PUBSUB_EMULATOR_HOST
# A service whose variable is already set is used as it is and not started. A service whose
# binary is missing is skipped with a notice (its tests skip themselves), unless it is named
# in BRO_REQUIRE_SERVICES ("postgres redis pubsub"), as ci.yml does: then it is an error.
# Usage: tools/ci/with-services.sh CMD [ARG...]
set -euo pipefail

if (($# == 0)); then
  echo "usage: tools/ci/with-services.sh CMD [ARG...]" >&2
  exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
required=" ${BRO_REQUIRE_SERVICES:-} "
work=$(mktemp -d /tmp/bro-services.XXXXXX)
chmod 0755 "$work"
started=()

# shellcheck disable=SC2317 # reached through the EXIT trap
stop_all() {
  local i
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do
    case ${started[i]} in
      postgres) "$postgres_script" stop "$work/pg" >/dev/null 2>&1 || true ;;
      redis) "$redis_script" stop "$work/redis" >/dev/null 2>&1 || true ;;
      pid:*) kill "${started[i]#pid:}" 2>/dev/null || true ;;
    esac
  done
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do
    if [[ ${started[i]} == pid:* ]]; then wait "${started[i]#pid:}" 2>/dev/null || true; fi
  done
  rm -rf "$work"
}
trap stop_all EXIT

missing() {
  if [[ $required == *" $1 "* ]]; then
    echo "with-services: $1 is required but $2" >&2
    exit 1
  fi
  echo "with-services: $1 not started: $2 (its tests will skip)" >&2
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() {
  local what=$1 tries=$2
  shift 2
  local i
  for ((i = 0; i < tries; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "with-services: $what did not become ready" >&2
  for log in "$work"/*.log; do [[ -f $log ]] && tail -n 20 "$log" >&2; done
  exit 1
}


# PostgreSQL through the README's own script (scripts/services/postgres.sh start|stop DIR).
postgres_script=$root/scripts/services/postgres.sh
redis_script=$root/scripts/services/redis.sh
if [[ -z ${BRO_TEST_POSTGRES_URL:-} ]]; then
  if [[ ! -x $postgres_script ]]; then
    missing postgres "scripts/services/postgres.sh is missing"
  elif [[ ! -x /usr/lib/postgresql/15/bin/initdb ]] && ! command -v initdb >/dev/null 2>&1; then
    missing postgres "initdb was not found (apt-get install -y postgresql-15)"
  else
    started+=(postgres)
    BRO_TEST_POSTGRES_URL=$("$postgres_script" start "$work/pg")
    export BRO_TEST_POSTGRES_URL
    echo "with-services: PostgreSQL at $BRO_TEST_POSTGRES_URL" >&2
  fi
fi

if [[ -z ${BRO_TEST_REDIS_URL:-} ]]; then
  if ! command -v redis-server >/dev/null 2>&1; then
    missing redis "redis-server was not found (apt-get install -y redis-server)"
  else
    BRO_TEST_REDIS_URL=$("$redis_script" start "$work/redis")
    started+=(redis)
    export BRO_TEST_REDIS_URL
    echo "with-services: Redis at $BRO_TEST_REDIS_URL" >&2
  fi
fi

if [[ -z ${PUBSUB_EMULATOR_HOST:-} ]]; then
  jar=$(compgen -G '/usr/lib/google-cloud-sdk/platform/pubsub-emulator/lib/cloud-pubsub-emulator-*-all.jar' | head -n1 || true)
  if [[ -z $jar ]] || ! command -v java >/dev/null 2>&1; then
    missing pubsub "the emulator jar or java was not found (google-cloud-cli-pubsub-emulator)"
  else
    port=$(free_port)
    java -Xmx256m -XX:+UseSerialGC -jar "$jar" --host=127.0.0.1 --port="$port" >"$work/pubsub.log" 2>&1 &
    started+=("pid:$!")
    wait_for "Pub/Sub emulator" 120 curl -fsS "http://127.0.0.1:$port/"
    export PUBSUB_EMULATOR_HOST="127.0.0.1:$port"
    echo "with-services: Pub/Sub emulator at $PUBSUB_EMULATOR_HOST" >&2
  fi
fi

# Google client libraries must never look for the real metadata server in tests.
export METADATA_SERVER_DETECTION=none

status=0
"$@" || status=$?
exit "$status"
