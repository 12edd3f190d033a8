#!/usr/bin/env bash
# Loopback benchmark of bro-ai against nginx, in one run (see bench/README.md).
#
#   a  nginx mock upstream alone (return 200 with a chat completion JSON)
#   b  nginx proxy_pass to that mock
#   c  bro-ai -> openai provider -> the same mock (key auth, usage recording)
#   d  bro-ai answering with the built-in echo model
#   e  bro-ai, a model with two weighted deployments (both the mock) and a fallback (issue 3)
#   f  nginx mock streaming (SSE), direct: the time-to-first-byte baseline
#   g  bro-ai openai provider -> that streaming mock (stream: true)
#   h  bro-ai, echo model behind the response cache: every request a cache hit
#   p  as c, on a bro-ai instance of its own: the baseline of i and j
#   i  as p, plus limits in process (requests, tokens, concurrency, daily budget per key and user)
#   j  as i, with the limiter in Redis (a local redis-server; its CPU counts as the server's)
#      p, i and j run BENCH_ROUNDS times interleaved, after the other cases; medians are reported
#   t  time to first byte of a stream at a fixed rate (bench/ttfb.mjs): f's mock direct vs
#      through bro-ai (g's route), BENCH_TTFB_RATE req/s (1000) over BENCH_CONNECTIONS
#
# Environment:
#   BENCH_DURATION=10s  BENCH_WARMUP=2s  BENCH_CONNECTIONS=50  BENCH_THREADS=2
#   BENCH_CASES="a b c d e f g h i j"   BRO_AI_BIN (default <repo>/build/release/bro-ai)
#   BENCH_DATABASE_URL  bro-ai's database (default: SQLite in the temp dir)
#   BENCH_OUT=FILE      also write the markdown table there
#   BENCH_ROUNDS=3      p, i and j are run this many times, interleaved; medians are reported
#   BRO_LIMITER_BENCH_BIN  the limiter alone, without HTTP (default
#                       <repo>/build/release/bro-limiter-bench; skipped when missing)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
bin="${BRO_AI_BIN:-$repo/build/release/bro-ai}"
duration="${BENCH_DURATION:-10s}"
warmup="${BENCH_WARMUP:-2s}"
conns="${BENCH_CONNECTIONS:-50}"
threads="${BENCH_THREADS:-2}"
cases="${BENCH_CASES:-a b c d e f g h i j t}"
rounds="${BENCH_ROUNDS:-3}"
limiter_bin="${BRO_LIMITER_BENCH_BIN:-$repo/build/release/bro-limiter-bench}"
declare -A all_rps all_cpu
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
# The same answer as a stream: one content chunk, the finish chunk, the usage chunk, [DONE].
chunk='{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1764086400,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":"Paris is the capital of France, in the north of the country on the Seine."},"finish_reason":null}]}'
finish='{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1764086400,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}'
usage_chunk='{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1764086400,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":38,"completion_tokens":17,"total_tokens":55}}'
stream_body="data: $chunk\\n\\ndata: $finish\\n\\ndata: $usage_chunk\\n\\ndata: [DONE]\\n\\n"

mock_port="$(free_port)"
proxy_port="$(free_port)"
start_nginx mock "$mock_port" "    default_type application/json;
    location = /v1/chat/completions { return 200 '$completion'; }
    location = /stream/v1/chat/completions {
      default_type text/event-stream;
      return 200 '$stream_body';
    }
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

bro_pid=""
bro_key=""
bro_port=""
if [[ " $cases " =~ \ [cdeghijt]\  ]]; then
  if [[ -x "$bin" ]]; then
    bro_dir="$tmp/bro"
    mkdir -p "$bro_dir"
    bro_port="$(free_port)"
    cat >"$bro_dir/app.yaml" <<EOF
server:
  host: 127.0.0.1
  port: $bro_port
  shutdown_grace: 2s
logging:
  level: warning
  format: json
  access_log: false
metrics:
  enabled: true
  host: 127.0.0.1
  port: $(free_port)
providers:
  - name: echo
    type: echo
  - name: mock
    type: openai
    base_url: "http://127.0.0.1:$mock_port/v1"
    api_key_env: BENCH_UPSTREAM_KEY
  - name: mock-stream
    type: openai
    base_url: "http://127.0.0.1:$mock_port/stream/v1"
    api_key_env: BENCH_UPSTREAM_KEY
models:
  - name: echo
    provider: echo
  - name: echo-cached
    provider: echo
    cache: true
    cache_ttl: 1h
  - name: gpt-4o-mini
    provider: mock
    upstream_model: gpt-4o-mini
  - name: gpt-4o-mini-routed
    deployments:
      - {provider: mock, upstream_model: gpt-4o-mini, weight: 3}
      - {provider: mock, upstream_model: gpt-4o-mini, weight: 1}
    fallbacks: [echo]
  - name: gpt-4o-mini-stream
    provider: mock-stream
    upstream_model: gpt-4o-mini
EOF
    export DATABASE_URL="${BENCH_DATABASE_URL:-sqlite://$bro_dir/bro.db}"
    BRO_KEY_SECRET="$(od -An -tx1 -N32 /dev/urandom | tr -d " \n")"
    export BRO_KEY_SECRET
    export BRO_AUTH_BOOTSTRAP_ADMIN=false
    export BENCH_UPSTREAM_KEY="sk-bench-upstream"
    "$bin" migrate --config "$bro_dir/app.yaml" >"$bro_dir/migrate.log" 2>&1 ||
      { cat "$bro_dir/migrate.log" >&2; exit 1; }
    bro_key="$("$bin" admin create-key --config "$bro_dir/app.yaml" --user bench@example.com --role developer --name bench)"
    # p, i and j get a copy of this database each (the same key): every request leaves a usage
    # row, and a file shared by all cases would make each case slower than the one before.
    if [[ -z "${BENCH_DATABASE_URL:-}" ]]; then
      for g in p i j; do
        for f in "$bro_dir"/bro.db*; do cp "$f" "${f/bro.db/bro-$g.db}"; done
      done
    fi
    "$bin" serve --config "$bro_dir/app.yaml" >"$bro_dir/serve.log" 2>&1 &
    bro_pid=$!
    started+=("$bro_pid")
    wait_http "http://127.0.0.1:$bro_port/health" || { tail -20 "$bro_dir/serve.log" >&2; exit 1; }
    echo "bench: bro-ai on 127.0.0.1:$bro_port (pid $bro_pid), database $DATABASE_URL"
  else
    echo "bench: NOTICE: no bro-ai binary at $bin: cases c, d, e, g, h, i, j skipped"
    cases="$(tr -d 'cdeghijt' <<<"$cases" | xargs)"
  fi
fi

# Issue 5: the same bro-ai with limits that every request is checked against and counted in
# (none of them reached) — i: limiter in process, j: limiter in Redis (a local redis-server).
declare -A gov_port gov_pid
redis_pid=""
redis_port=""
governed_limits="limits:
  max_tokens_default: 256
  per_key: {requests_per_minute: 100000000, tokens_per_minute: 100000000000, concurrent_requests: 100000, daily_tokens: 100000000000000}
  per_user: {requests_per_minute: 100000000, tokens_per_minute: 100000000000}"
start_governed() { # NAME BACKEND [ENV=VALUE...]
  local name=$1 backend=$2 dir="$tmp/bro-$1"
  shift 2
  mkdir -p "$dir"
  if [[ "$backend" == none ]]; then
    cp "$bro_dir/app.yaml" "$dir/app.yaml"
  else
    { cat "$bro_dir/app.yaml"; echo "$governed_limits"; echo "  backend: $backend"; } >"$dir/app.yaml"
  fi
  gov_port[$name]="$(free_port)"
  local db="${BENCH_DATABASE_URL:-sqlite://$bro_dir/bro-$name.db}"
  env BRO_SERVER_PORT="${gov_port[$name]}" BRO_METRICS_PORT="$(free_port)" DATABASE_URL="$db" "$@" \
    "$bin" serve --config "$dir/app.yaml" >"$dir/serve.log" 2>&1 &
  gov_pid[$name]=$!
  started+=("${gov_pid[$name]}")
  wait_http "http://127.0.0.1:${gov_port[$name]}/health" || { tail -20 "$dir/serve.log" >&2; exit 1; }
  echo "bench: bro-ai with limits in $backend on 127.0.0.1:${gov_port[$name]} (pid ${gov_pid[$name]})"
}
# p: c's configuration on an instance of its own, the baseline i and j are compared with (its
# database grows only with its own requests, as theirs do).
if [[ -n "$bro_port" && ( " $cases " == *" i "* || " $cases " == *" j "* ) ]]; then
  start_governed p none
fi
if [[ -n "$bro_port" && " $cases " == *" i "* ]]; then start_governed i memory; fi
if [[ -n "$bro_port" && " $cases " == *" j "* ]]; then
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
    start_governed j redis "REDIS_URL=redis://127.0.0.1:$redis_port/0"
  else
    echo "bench: NOTICE: redis-server is missing: case j skipped"
    cases="$(tr -d 'j' <<<"$cases" | xargs)"
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

# measure CASE PORT MODEL KEY SERVER_PID...   (body: $body_file, path: $req_path)
body_file="$here/fixtures/request.json"
req_path=/v1/chat/completions
measure() {
  local c=$1 port=$2 model=$3 key=$4
  shift 4
  local -a pids=()
  local pid out="$tmp/wrk-$c.txt" body="$tmp/check-$c.json" code
  for pid in "$@"; do mapfile -t -O "${#pids[@]}" pids < <(with_children "$pid"); done

  local -a auth=()
  [[ -z "$key" ]] || auth=(-H "Authorization: Bearer $key")
  code="$(sed "s/MODEL/$model/" "$body_file" |
    curl -s -o "$body" -w '%{http_code}' -X POST "http://127.0.0.1:$port$req_path" \
      -H 'Content-Type: application/json' "${auth[@]}" --data-binary @-)" || code=000
  if [[ "$code" != 200 ]] || ! grep -q '"choices"' "$body"; then
    echo "bench: case $c: check request answered $code: $(head -c 300 "$body")" >&2
    failed=1
    return 0
  fi

  export BENCH_BODY_FILE="$body_file" BENCH_MODEL="$model" BENCH_API_KEY="$key" BENCH_PATH="$req_path"
  wrk -t"$threads" -c"$conns" -d"$warmup" -s "$here/post.lua" "http://127.0.0.1:$port" >/dev/null
  local t0 t1 r0=0 r1=0
  t0="$(cpu_ticks "${pids[@]}")"
  [[ "$c" != j ]] || r0="$(cpu_ticks "$redis_pid")"
  wrk -t"$threads" -c"$conns" -d"$duration" --latency -s "$here/post.lua" "http://127.0.0.1:$port" >"$out"
  # Let buffered work (usage flush) land in the window; an idle server uses ~0 CPU.
  sleep 1.5
  t1="$(cpu_ticks "${pids[@]}")"
  [[ "$c" != j ]] || r1="$(cpu_ticks "$redis_pid")"

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
  if [[ "$c" == j ]]; then
    redis_us="$(awk -v d="$((r1 - r0))" -v hz="$clk_tck" -v n="$requests" 'BEGIN { printf "%.1f", d * 1e6 / hz / n }')"
    echo "bench: case j: of which redis-server ${redis_us} µs CPU/req"
    redis-cli -h 127.0.0.1 -p "$redis_port" info commandstats >"$tmp/redis-commandstats.txt" 2>&1 || true
  fi
  if ((errors[$c] > 0)); then failed=1; fi
}

label[a]="a. nginx mock alone"
label[b]="b. nginx proxy_pass → mock"
label[c]="c. bro-ai openai provider → mock"
label[d]="d. bro-ai echo model"
label[e]="e. bro-ai, 2 weighted deployments + fallback → mock"
label[f]="f. nginx mock, streaming (SSE), direct"
label[g]="g. bro-ai openai provider → streaming mock"
label[h]="h. bro-ai echo model, response cache hit"
label[p]="p. c again, on an instance of its own: the baseline of i and j"
label[i]="i. p + limits in process"
label[j]="j. p + limits in Redis"

echo "bench: wrk -t$threads -c$conns -d$duration (warm-up $warmup), cases: $cases"
for c in $cases; do
  case "$c" in
    a) measure a "$mock_port" gpt-4o-mini "" "$mock_pid" ;;
    b) measure b "$proxy_port" gpt-4o-mini "" "$proxy_pid" ;;
    c) measure c "$bro_port" gpt-4o-mini "$bro_key" "$bro_pid" ;;
    d) measure d "$bro_port" echo "$bro_key" "$bro_pid" ;;
    e) measure e "$bro_port" gpt-4o-mini-routed "$bro_key" "$bro_pid" ;;
    f) req_path=/stream/v1/chat/completions body_file="$here/fixtures/request_stream.json" \
      measure f "$mock_port" gpt-4o-mini "" "$mock_pid" ;;
    g) body_file="$here/fixtures/request_stream.json" \
      measure g "$bro_port" gpt-4o-mini-stream "$bro_key" "$bro_pid" ;;
    h) measure h "$bro_port" echo-cached "$bro_key" "$bro_pid" ;;
    i | j) ;; # below, interleaved with p
    t)
      node "$here/ttfb.mjs" --rate "${BENCH_TTFB_RATE:-1000}" --connections "$conns" \
        --duration "${duration%s}" --body "$here/fixtures/request_stream.json" \
        --target "direct=http://127.0.0.1:$mock_port/stream/v1/chat/completions" \
        --target "gateway=http://127.0.0.1:$bro_port/v1/chat/completions,$bro_key" \
        --model gpt-4o-mini --model gpt-4o-mini-stream | tee "$tmp/ttfb.jsonl"
      ;;
    *) echo "bench: unknown case $c" >&2; exit 2 ;;
  esac
done

# The governance comparison — p, i and j — is run BENCH_ROUNDS times, interleaved, and each
# reported as its median: run-to-run noise on these VMs is as large as what is measured.
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
governed=""
for g in i j; do [[ " $cases " == *" $g "* ]] && governed+=" $g"; done
if [[ -n "$governed" ]]; then
  for ((round = 1; round <= rounds; round++)); do
    for g in p $governed; do
      case "$g" in
        p) measure p "${gov_port[p]}" gpt-4o-mini "$bro_key" "${gov_pid[p]}" ;;
        i) measure i "${gov_port[i]}" gpt-4o-mini "$bro_key" "${gov_pid[i]}" ;;
        j) measure j "${gov_port[j]}" gpt-4o-mini "$bro_key" "${gov_pid[j]}" "$redis_pid" ;;
      esac
      all_rps[$g]+=" ${rps[$g]:-}"
      all_cpu[$g]+=" ${cpu_us[$g]:-}"
    done
  done
  for g in p $governed; do
    rps[$g]="$(median <<<"${all_rps[$g]}")"
    cpu_us[$g]="$(median <<<"${all_cpu[$g]}")"
  done
fi

# The limiter alone, without HTTP: its CPU per request in process and with Redis.
limiter_rows=""
if [[ -x "$limiter_bin" && ( " $cases " == *" i "* || " $cases " == *" j "* ) ]]; then
  limiter_rows="$("$limiter_bin" memory "${duration%s}" "$conns" "$threads")" || failed=1
  if [[ -n "$redis_port" ]]; then
    limiter_rows+=$'\n'"$("$limiter_bin" "redis://127.0.0.1:$redis_port/0" "${duration%s}" "$conns" "$threads")" || failed=1
  fi
  echo "$limiter_rows"
fi

table="$tmp/table.md"
{
  echo
  echo "| case | req/s | p50 ms | p99 ms | server CPU µs/req | errors |"
  echo "|---|---:|---:|---:|---:|---:|"
  for c in a b c d e f g h p i j; do
    [[ -n "${rps[$c]:-}" ]] || continue
    echo "| ${label[$c]} | ${rps[$c]} | ${p50[$c]} | ${p99[$c]} | ${cpu_us[$c]} | ${errors[$c]} |"
  done
  echo
  if [[ -n "${rps[b]:-}" && -n "${rps[c]:-}" ]]; then
    awk -v c="${rps[c]}" -v b="${rps[b]}" -v cc="${cpu_us[c]}" -v bc="${cpu_us[b]}" 'BEGIN {
      printf "c/b req/s = %.2f (issue 2 target >= 0.5; product target >= 1.0)\n", c / b
      printf "CPU per request c/b = %.2f (product target: c <= 25 µs)\n", cc / bc }'
  fi
  if [[ -n "${rps[c]:-}" && -n "${rps[e]:-}" ]]; then
    awk -v c="${rps[c]}" -v e="${rps[e]}" 'BEGIN {
      printf "routing overhead: e/c req/s = %.2f, %.1f %% lost (issue 3 target < 10 %%)\n", e / c, (1 - e / c) * 100 }'
  fi
  if [[ -n "${p99[f]:-}" && -n "${p99[g]:-}" ]]; then
    awk -v f50="${p50[f]}" -v g50="${p50[g]}" -v f="${p99[f]}" -v g="${p99[g]}" 'BEGIN {
      printf "streaming time to first byte added by the gateway: p50 %+.3f ms, p99 %+.3f ms (issue 3 target < 1 ms at p99)\n", g50 - f50, g - f }'
  fi
  if [[ -s "$tmp/ttfb.jsonl" ]]; then
    # shellcheck disable=SC2016 # JavaScript template literals, not shell
    node -e '
      const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
      const by = Object.fromEntries(rows.map((r) => [r.name, r]));
      const sign = (d) => (d >= 0 ? "+" : "") + d.toFixed(3);
      for (const r of rows) console.log(`t. TTFB ${r.name}: ${r.requests} requests, ${r.errors} errors, p50 ${r.p50_ms} ms, p90 ${r.p90_ms} ms, p99 ${r.p99_ms} ms`);
      if (by.direct && by.gateway) console.log(`TTFB added by the gateway at ${process.argv[2]} req/s over ${process.argv[3]} connections: p50 ${sign(by.gateway.p50_ms - by.direct.p50_ms)} ms, p99 ${sign(by.gateway.p99_ms - by.direct.p99_ms)} ms (issue 3 target < 1 ms at p99)`);
    ' "$tmp/ttfb.jsonl" "${BENCH_TTFB_RATE:-1000}" "$conns"
  fi
  for g in i j; do
    [[ -n "${rps[p]:-}" && -n "${rps[$g]:-}" ]] || continue
    awk -v g="${rps[$g]}" -v c="${rps[p]}" -v gc="${cpu_us[$g]}" -v cc="${cpu_us[p]}" -v n="$g" 'BEGIN {
      target = n == "i" ? 10 : 25
      printf "%s: governance path %.1f %% req/s below the plain path p (issue 5 target <= %d %%); %.1f µs more CPU per request (%s - p)\n",
        n, (1 - g / c) * 100, target, gc - cc, n }'
  done
  if [[ -n "${all_rps[p]:-}" ]]; then
    echo "p, i and j: medians of $rounds interleaved rounds (req/s p:${all_rps[p]}; i:${all_rps[i]:-}; j:${all_rps[j]:-})"
  fi
  if [[ -n "$limiter_rows" ]]; then
    echo "limiter alone (bro-limiter-bench, $conns workers on $threads threads, reserve + settle per request):"
    while IFS= read -r row; do echo "  $row"; done <<<"$limiter_rows"
  fi
  if [[ -n "${rps[d]:-}" && -n "${rps[h]:-}" ]]; then
    awk -v d="${rps[d]}" -v h="${rps[h]}" 'BEGIN { printf "cache hit path h/d req/s = %.2f\n", h / d }'
  fi
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores ($(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)), Linux $(uname -r);"
  echo "$(nginx -v 2>&1 | sed 's/.*: //'), $(wrk -v 2>&1 | awk 'NR == 1 {print $1, $2}'), bro-ai $( [[ -x "$bin" ]] && git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo -)."
  echo "wrk -t$threads -c$conns -d$duration, $(nproc) cores shared by wrk and the servers;"
  echo "server CPU = utime+stime of nginx master+workers (a, b, f), bro-ai (c-e, g-j) and redis-server (j); the mock's CPU is only in a and f."
} >"$table"
cat "$table"
if [[ -n "${BENCH_OUT:-}" ]]; then cp "$table" "$BENCH_OUT"; fi
exit "$failed"
