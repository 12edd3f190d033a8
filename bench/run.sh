#!/usr/bin/env bash
# Loopback benchmark of bro-ai against nginx, in one run (see bench/README.md).
#
#   a  nginx mock upstream alone (return 200 with a chat completion JSON)
#   b  nginx proxy_pass to that mock
#   c  bro-ai -> openai provider -> the same mock (key auth, usage recording)
#   d  bro-ai answering with the built-in echo model
#   e  as c, plus limits in process (requests, tokens, concurrency, daily budget per key and user)
#   f  as e, with the limiter in Redis (a local redis-server)
#
# Environment:
#   BENCH_DURATION=10s  BENCH_WARMUP=2s  BENCH_CONNECTIONS=50  BENCH_THREADS=2
#   BENCH_CASES="a b c d e f"   BRO_AI_BIN (default <repo>/build/release/bro-ai)
#   BENCH_DATABASE_URL  bro-ai's database (default: SQLite in the temp dir)
#   BENCH_OUT=FILE      also write the markdown table there
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
bin="${BRO_AI_BIN:-$repo/build/release/bro-ai}"
duration="${BENCH_DURATION:-10s}"
warmup="${BENCH_WARMUP:-2s}"
conns="${BENCH_CONNECTIONS:-50}"
threads="${BENCH_THREADS:-2}"
cases="${BENCH_CASES:-a b c d e f}"
clk_tck="$(getconf CLK_TCK)"

for tool in nginx wrk curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "bench: $tool is missing (apt-get install -y nginx-light wrk curl)" >&2
    exit 1
  fi
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/bro-bench.XXXXXX")"
started=()

# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n "${BENCH_KEEP:-}" ]]; then echo "bench: kept $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

used_ports=" "
free_port() {
  local p _
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    [[ "$used_ports" == *" $p "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      used_ports+="$p "
      echo "$p"
      return 0
    fi
  done
  echo "bench: no free port found" >&2
  return 1
}

wait_http() { # URL: until anything answers over HTTP, 30 s at most
  local _
  for _ in $(seq 300); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "bench: nothing answers at $1" >&2
  return 1
}

# Sum of utime+stime, in clock ticks, of the given PIDs (all their threads).
cpu_ticks() {
  local total=0 pid stat
  local -a f
  for pid in "$@"; do
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || continue
    read -r -a f <<<"${stat##*) }"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

# The PID and the PIDs of its direct children (nginx: master and workers).
with_children() {
  local parent=$1 file stat
  local -a f
  echo "$parent"
  for file in /proc/[0-9]*/stat; do
    stat="$(cat "$file" 2>/dev/null)" || continue
    read -r -a f <<<"${stat##*) }"
    if [[ "${f[1]}" == "$parent" ]]; then
      file="${file#/proc/}"
      echo "${file%/stat}"
    fi
  done
}

# nginx with its own prefix and port; sets nginx_pid.
# start_nginx NAME PORT SERVER_BLOCK_BODY [MORE_HTTP_BLOCK]
start_nginx() {
  local name=$1 port=$2 body=$3 more=${4:-} prefix="$tmp/$1"
  mkdir -p "$prefix/tmp"
  cat >"$prefix/nginx.conf" <<EOF
worker_processes auto;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_body_temp_path $prefix/tmp/body;
  proxy_temp_path $prefix/tmp/proxy;
  fastcgi_temp_path $prefix/tmp/fastcgi;
  uwsgi_temp_path $prefix/tmp/uwsgi;
  scgi_temp_path $prefix/tmp/scgi;
  server {
    listen 127.0.0.1:$port;
$body
  }
$more
}
EOF
  nginx -p "$prefix/" -c "$prefix/nginx.conf" -e "$prefix/error.log" -g 'daemon off;' &
  nginx_pid=$!
  started+=("$nginx_pid")
  wait_http "http://127.0.0.1:$port/" || { cat "$prefix/error.log" >&2; return 1; }
  echo "bench: $name nginx on 127.0.0.1:$port (pid $nginx_pid)"
}

# The recorded completion, as an nginx single-quoted string.
completion="$(tr -d '\n' <"$here/fixtures/chat_completion.json")"
if [[ "$completion" == *'$'* ]]; then
  echo "bench: fixtures/chat_completion.json must not contain \$ (nginx variables)" >&2
  exit 1
fi
completion="${completion//\\/\\\\}"
completion="${completion//\'/\\\'}"

mock_port="$(free_port)"
proxy_port="$(free_port)"
start_nginx mock "$mock_port" "    default_type application/json;
    location = /v1/chat/completions { return 200 '$completion'; }
    location / { return 404; }"
mock_pid=$nginx_pid
start_nginx proxy "$proxy_port" "    location / {
      proxy_pass http://mock_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
    }" "  upstream mock_upstream {
    server 127.0.0.1:$mock_port;
    keepalive 64;
    keepalive_requests 1000000;
  }"
proxy_pid=$nginx_pid

bro_key=""
declare -A bro_port bro_pid
redis_pid=""

# start_bro NAME LIMITS_YAML [ENV=VALUE...]: a bro-ai of its own (same database and key).
start_bro() {
  local name=$1 limits=$2 dir="$tmp/bro-$1"
  shift 2
  mkdir -p "$dir"
  bro_port[$name]="$(free_port)"
  cat >"$dir/app.yaml" <<EOF
server:
  host: 127.0.0.1
  port: ${bro_port[$name]}
  shutdown_grace: 2s
logging:
  level: warning
  format: json
  access_log: false
metrics:
  enabled: true
  host: 127.0.0.1
  port: $(free_port)
$limits
providers:
  - name: echo
    type: echo
  - name: mock
    type: openai
    base_url: "http://127.0.0.1:$mock_port/v1"
    api_key_env: BENCH_UPSTREAM_KEY
models:
  - name: echo
    provider: echo
  - name: gpt-4o-mini
    provider: mock
    upstream_model: gpt-4o-mini
EOF
  if [[ -z "$bro_key" ]]; then
    "$bin" migrate --config "$dir/app.yaml" >"$dir/migrate.log" 2>&1 ||
      { cat "$dir/migrate.log" >&2; exit 1; }
    bro_key="$("$bin" admin create-key --config "$dir/app.yaml" --user bench@example.com --role developer --name bench)"
  fi
  env "$@" "$bin" serve --config "$dir/app.yaml" >"$dir/serve.log" 2>&1 &
  bro_pid[$name]=$!
  started+=("${bro_pid[$name]}")
  wait_http "http://127.0.0.1:${bro_port[$name]}/health" || { tail -20 "$dir/serve.log" >&2; exit 1; }
  echo "bench: bro-ai ($name) on 127.0.0.1:${bro_port[$name]} (pid ${bro_pid[$name]}), database $DATABASE_URL"
}

# Limits that every request is checked against and counted in, none of them reached.
governed="limits:
  max_tokens_default: 256
  per_key: {requests_per_minute: 100000000, tokens_per_minute: 100000000000, concurrent_requests: 100000, daily_tokens: 100000000000000}
  per_user: {requests_per_minute: 100000000, tokens_per_minute: 100000000000}"

if [[ " $cases " == *" c "* || " $cases " == *" d "* || " $cases " == *" e "* || " $cases " == *" f "* ]]; then
  if [[ -x "$bin" ]]; then
    export DATABASE_URL="${BENCH_DATABASE_URL:-sqlite://$tmp/bro.db}"
    BRO_KEY_SECRET="$(od -An -tx1 -N32 /dev/urandom | tr -d " \n")"
    export BRO_KEY_SECRET
    export BRO_AUTH_BOOTSTRAP_ADMIN=false
    export BENCH_UPSTREAM_KEY="sk-bench-upstream"
    if [[ " $cases " == *" c "* || " $cases " == *" d "* ]]; then
      start_bro plain "limits: {enabled: false}"
    fi
    if [[ " $cases " == *" e "* ]]; then start_bro memory "$governed"; fi
    if [[ " $cases " == *" f "* ]]; then
      if command -v redis-server >/dev/null; then
        redis_port="$(free_port)"
        redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
          --daemonize no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
        redis_pid=$!
        started+=("$redis_pid")
        for _ in $(seq 100); do
          redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && break
          sleep 0.05
        done
        start_bro redis "$governed
  backend: redis" "REDIS_URL=redis://127.0.0.1:$redis_port/0"
      else
        echo "bench: NOTICE: redis-server is missing: case f skipped"
        cases="$(tr -d 'f' <<<"$cases" | xargs)"
      fi
    fi
  else
    echo "bench: NOTICE: no bro-ai binary at $bin: cases c to f skipped"
    cases="$(tr -d 'cdef' <<<"$cases" | xargs)"
  fi
fi

to_ms() { # wrk latency such as 245.00us, 1.20ms, 1.01s
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
    else { sub(/s$/, "", v); printf "%.3f", v * 1000 } }'
}

declare -A rps p50 p99 cpu_us errors label
failed=0

# measure CASE PORT MODEL KEY SERVER_PID...
measure() {
  local c=$1 port=$2 model=$3 key=$4
  shift 4
  local -a pids=()
  local pid out="$tmp/wrk-$c.txt" body="$tmp/check-$c.json" code
  for pid in "$@"; do mapfile -t -O "${#pids[@]}" pids < <(with_children "$pid"); done

  local -a auth=()
  [[ -z "$key" ]] || auth=(-H "Authorization: Bearer $key")
  code="$(sed "s/MODEL/$model/" "$here/fixtures/request.json" |
    curl -s -o "$body" -w '%{http_code}' -X POST "http://127.0.0.1:$port/v1/chat/completions" \
      -H 'Content-Type: application/json' "${auth[@]}" --data-binary @-)" || code=000
  if [[ "$code" != 200 ]] || ! grep -q '"choices"' "$body"; then
    echo "bench: case $c: check request answered $code: $(head -c 300 "$body")" >&2
    failed=1
    return 0
  fi

  export BENCH_BODY_FILE="$here/fixtures/request.json" BENCH_MODEL="$model" BENCH_API_KEY="$key"
  wrk -t"$threads" -c"$conns" -d"$warmup" -s "$here/post.lua" "http://127.0.0.1:$port" >/dev/null
  local t0 t1
  t0="$(cpu_ticks "${pids[@]}")"
  wrk -t"$threads" -c"$conns" -d"$duration" --latency -s "$here/post.lua" "http://127.0.0.1:$port" >"$out"
  # Let buffered work (usage flush) land in the window; an idle server uses ~0 CPU.
  sleep 1.5
  t1="$(cpu_ticks "${pids[@]}")"

  local requests non2xx sockerr
  requests="$(awk '/requests in/ {print $1}' "$out")"
  rps[$c]="$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")"
  p50[$c]="$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")"
  p99[$c]="$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")"
  non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")"
  sockerr="$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$out")"
  errors[$c]="$((${non2xx:-0} + ${sockerr:-0}))"
  cpu_us[$c]="$(awk -v d="$((t1 - t0))" -v hz="$clk_tck" -v n="$requests" 'BEGIN { printf "%.1f", d * 1e6 / hz / n }')"
  echo "bench: case $c: ${rps[$c]} req/s, p50 ${p50[$c]} ms, p99 ${p99[$c]} ms, ${cpu_us[$c]} µs CPU/req, ${errors[$c]} errors"
  if ((errors[$c] > 0)); then failed=1; fi
}

label[a]="a. nginx mock alone"
label[b]="b. nginx proxy_pass → mock"
label[c]="c. bro-ai openai provider → mock"
label[d]="d. bro-ai echo model"
label[e]="e. c + limits in process"
label[f]="f. c + limits in Redis"

echo "bench: wrk -t$threads -c$conns -d$duration (warm-up $warmup), cases: $cases"
for c in $cases; do
  case "$c" in
    a) measure a "$mock_port" gpt-4o-mini "" "$mock_pid" ;;
    b) measure b "$proxy_port" gpt-4o-mini "" "$proxy_pid" ;;
    c) measure c "${bro_port[plain]}" gpt-4o-mini "$bro_key" "${bro_pid[plain]}" ;;
    d) measure d "${bro_port[plain]}" echo "$bro_key" "${bro_pid[plain]}" ;;
    e) measure e "${bro_port[memory]}" gpt-4o-mini "$bro_key" "${bro_pid[memory]}" ;;
    # Redis does part of the limiter's work: its CPU counts as the server's.
    f) measure f "${bro_port[redis]}" gpt-4o-mini "$bro_key" "${bro_pid[redis]}" "$redis_pid" ;;
    *) echo "bench: unknown case $c" >&2; exit 2 ;;
  esac
done

table="$tmp/table.md"
{
  echo
  echo "| case | req/s | p50 ms | p99 ms | server CPU µs/req | errors |"
  echo "|---|---:|---:|---:|---:|---:|"
  for c in a b c d e f; do
    [[ -n "${rps[$c]:-}" ]] || continue
    echo "| ${label[$c]} | ${rps[$c]} | ${p50[$c]} | ${p99[$c]} | ${cpu_us[$c]} | ${errors[$c]} |"
  done
  echo
  if [[ -n "${rps[b]:-}" && -n "${rps[c]:-}" ]]; then
    awk -v c="${rps[c]}" -v b="${rps[b]}" -v cc="${cpu_us[c]}" -v bc="${cpu_us[b]}" 'BEGIN {
      printf "c/b req/s = %.2f (issue 2 target >= 0.5; product target >= 1.0)\n", c / b
      printf "CPU per request c/b = %.2f (product target: c <= 25 µs)\n", cc / bc }'
  fi
  for g in e f; do
    [[ -n "${rps[c]:-}" && -n "${rps[$g]:-}" ]] || continue
    awk -v g="${rps[$g]}" -v c="${rps[c]}" -v gc="${cpu_us[$g]}" -v cc="${cpu_us[c]}" -v n="$g" 'BEGIN {
      target = n == "e" ? 10 : 25
      printf "%s: governance path %.1f %% req/s below the plain path c (issue 5 target <= %d %%); limiter cost %.1f µs CPU per request (%s - c)\n",
        n, (1 - g / c) * 100, target, gc - cc, n }'
  done
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores ($(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)), Linux $(uname -r);"
  echo "$(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | awk 'NR == 1 {print $1, $2}'), bro-ai $( [[ -x "$bin" ]] && git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo -)."
  echo "wrk -t$threads -c$conns -d$duration, $(nproc) cores shared by wrk and the servers;"
  echo "server CPU = utime+stime of nginx master+workers (a, b), bro-ai (c-f) and redis-server (f); the mock's CPU is not in b-f."
} >"$table"
cat "$table"
if [[ -n "${BENCH_OUT:-}" ]]; then cp "$table" "$BENCH_OUT"; fi
exit "$failed"
