// Issue 5's exactness tests, against three bro-ai instances behind haproxy sharing one Redis
// and one PostgreSQL (started by tests/cluster/run.sh, which passes their addresses in CLUSTER_*).
// Only Node built-ins: fetch for HTTP, psql and the bro-ai CLI through child_process.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

const env = process.env;
const base = env.CLUSTER_URL;
const admin = env.CLUSTER_ADMIN_KEY;
const run = Math.random().toString(36).slice(2, 8);

// echo costs $1000 / $2000 per million prompt / completion tokens (tests/cluster/run.sh); slow
// has no price.
const costNanos = (u) => u.prompt_tokens * 1_000_000 + u.completion_tokens * 2_000_000;

// What the clients were told they used, per user: compared with the stored records at the end.
const reported = new Map(); // user id -> { requests, tokens, cost (nano-dollars) }
function report(user, tokens, cost) {
  const r = reported.get(user) ?? { requests: 0, tokens: 0, cost: 0 };
  r.requests += 1;
  r.tokens += tokens;
  r.cost += cost;
  reported.set(user, r);
}

function psql(sql) {
  return execFileSync("psql", [env.CLUSTER_PG_URL, "-X", "-A", "-t", "-c", sql], {
    encoding: "utf8",
  }).trim();
}

// A developer key of a fresh user; returns { key, userId }.
function newKey(name) {
  const email = `${name}-${run}@cluster.test`;
  const key = execFileSync(
    env.CLUSTER_BIN,
    ["admin", "create-key", "--config", env.CLUSTER_CONFIG, "--user", email, "--role", "developer"],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
  ).trim();
  const userId = psql(`SELECT id FROM users WHERE email = '${email}'`);
  assert.match(userId, /^[0-9a-z-]+$/);
  return { key, userId };
}

async function setUserLimits(userId, limits) {
  const res = await fetch(`${base}/api/v1/limits/user/${userId}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify(limits),
  });
  assert.equal(res.status, 200, await res.text());
  // Every replica reloads overrides within limits.override_refresh (200 ms here).
  await sleep(600);
}

function chatBody(model, maxTokens, stream = false) {
  const body = { model, max_tokens: maxTokens, messages: [{ role: "user", content: "count me" }] };
  if (stream) Object.assign(body, { stream: true, stream_options: { include_usage: true } });
  return JSON.stringify(body);
}

// One chat completion; returns { status, instance, headers, usage, error }.
async function chat(who, { model = "echo", maxTokens = 20, stream = false } = {}) {
  const res = await fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${who.key}`, "content-type": "application/json" },
    body: chatBody(model, maxTokens, stream),
  });
  const out = { status: res.status, instance: res.headers.get("x-bro-instance"), headers: res.headers };
  const text = await res.text();
  if (res.status !== 200) {
    try {
      out.error = JSON.parse(text).error;
    } catch {
      out.error = { message: text };
    }
    return out;
  }
  if (stream) {
    for (const line of text.split("\n")) {
      if (!line.startsWith("data: {")) continue;
      const chunk = JSON.parse(line.slice(6));
      if (chunk.usage) out.usage = chunk.usage;
    }
  } else {
    out.usage = JSON.parse(text).usage;
  }
  assert.ok(out.usage, "every answered call reports its usage");
  report(who.userId, out.usage.prompt_tokens + out.usage.completion_tokens,
    model === "echo" ? costNanos(out.usage) : 0);
  return out;
}

function countBy(results, f) {
  const m = new Map();
  for (const r of results) m.set(f(r), (m.get(f(r)) ?? 0) + 1);
  return m;
}

test("N requests per minute: exactly N of 10xN concurrent attempts succeed across three instances", async () => {
  const N = 20;
  const who = newKey("rpm");
  await setUserLimits(who.userId, { requests_per_minute: N });
  const results = await Promise.all(Array.from({ length: 10 * N }, () => chat(who)));
  const byStatus = countBy(results, (r) => r.status);
  assert.equal(byStatus.get(200), N, JSON.stringify([...byStatus]));
  assert.equal(byStatus.get(429), 9 * N);
  const instances = countBy(results, (r) => r.instance);
  assert.equal(instances.size, 3, `spread over the three instances: ${JSON.stringify([...instances])}`);
  for (const r of results) {
    assert.equal(r.headers.get("x-ratelimit-limit-requests"), String(N));
    assert.match(r.headers.get("x-ratelimit-reset-requests"), /^(\d+ms|(\d+m)?\d+(\.\d+)?s)$/);
    if (r.status === 429) {
      assert.equal(r.error.code, "rate_limit_exceeded");
      assert.equal(r.headers.get("x-ratelimit-remaining-requests"), "0");
      const retry = Number(r.headers.get("retry-after"));
      assert.ok(retry >= 1 && retry <= 61, `Retry-After ${retry}`);
    }
  }
  const remaining = results.filter((r) => r.status === 200).map((r) => Number(r.headers.get("x-ratelimit-remaining-requests")));
  assert.deepEqual(remaining.sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i),
    "each admitted request saw a distinct remaining count: one decision at a time across replicas");
});

test("daily cost budget B with 200 concurrent requests: charged <= B, nothing admitted after exhaustion", async () => {
  const B = 1.0; // US dollars
  const who = newKey("budget");
  await setUserLimits(who.userId, { daily_cost_usd: B });
  const results = await Promise.all(Array.from({ length: 200 }, () => chat(who, { maxTokens: 20 })));
  const ok = results.filter((r) => r.status === 200);
  assert.ok(ok.length > 0);
  for (const r of results.filter((x) => x.status !== 200)) {
    assert.equal(r.status, 429);
    assert.equal(r.error.code, "insufficient_quota");
  }
  // Reservations settled to less than their worst case free some budget again: use it up one
  // request at a time, until the first refusal with nothing in flight.
  const all = [...ok];
  let last;
  for (let i = 0; i < 200; i++) {
    last = await chat(who, { maxTokens: 20 });
    if (last.status !== 200) break;
    all.push(last);
  }
  assert.equal(last.status, 429);
  // Exhausted: no request of this size gets in any more, on any instance.
  const after = await Promise.all(Array.from({ length: 12 }, () => chat(who, { maxTokens: 20 })));
  assert.deepEqual([...countBy(after, (r) => r.status)], [[429, 12]]);
  assert.equal(countBy(after, (r) => r.instance).size, 3);
  const charged = all.reduce((n, r) => n + costNanos(r.usage), 0);
  assert.ok(charged <= B * 1e9, `charged ${charged} nano-dollars > budget $${B}`);
  const worst = costNanos({ prompt_tokens: all[0].usage.prompt_tokens, completion_tokens: 20 });
  assert.ok(charged > B * 1e9 - worst, `the budget was used up (${charged} of ${B * 1e9})`);
});

test("tokens per minute hold for streaming requests", async () => {
  const T = 400;
  const who = newKey("tpm");
  await setUserLimits(who.userId, { tokens_per_minute: T });
  // slow-echo streams for ~0.5 s: all 30 reserve before the first settles.
  const results = await Promise.all(
    Array.from({ length: 30 }, () => chat(who, { model: "slow", maxTokens: 40, stream: true })),
  );
  const ok = results.filter((r) => r.status === 200);
  const refused = results.filter((r) => r.status === 429);
  assert.ok(ok.length >= 1 && refused.length >= 1, `${ok.length} admitted, ${refused.length} refused`);
  for (const r of refused) assert.equal(r.error.type, "tokens");
  const used = ok.reduce((n, r) => n + r.usage.prompt_tokens + r.usage.completion_tokens, 0);
  assert.ok(used <= T, `${used} tokens used within the minute, limit ${T}`);
  for (const r of ok) assert.ok(r.headers.get("x-ratelimit-remaining-tokens") !== null);
});

async function metric(port, series) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

test("Redis stopped mid-test: failure_mode closed is honoured, then the cluster recovers", async () => {
  const who = newKey("redis");
  await setUserLimits(who.userId, { requests_per_minute: 1000 });
  assert.equal((await chat(who)).status, 200);
  const redisPid = Number(readFileSync(`${env.CLUSTER_TMP}/redis.pid`, "utf8"));
  process.kill(redisPid, "SIGKILL");
  await sleep(100);
  const down = await Promise.all(Array.from({ length: 9 }, () => chat(who)));
  for (const r of down) {
    assert.equal(r.status, 503, JSON.stringify(r.error));
    assert.equal(r.error.code, "limits_unavailable");
    assert.ok(Number(r.headers.get("retry-after")) >= 1);
  }
  const ports = env.CLUSTER_METRICS_PORTS.split(" ");
  for (const p of ports) assert.equal(await metric(p, 'bro_limits_degraded{backend="redis"}'), 1);

  // Restart Redis on the same port (empty: nothing was persisted).
  const redis = spawn(
    "redis-server",
    ["--port", env.CLUSTER_REDIS_PORT, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore", detached: false },
  );
  redis.unref(); // the harness stops it by PID (CLUSTER_PIDS_FILE); the test file may exit
  appendFileSync(env.CLUSTER_PIDS_FILE, `${redis.pid}\n`);
  writeFileSync(`${env.CLUSTER_TMP}/redis.pid`, `${redis.pid}\n`);
  let recovered = 0;
  for (let i = 0; i < 100 && recovered < 6; i++) {
    await sleep(100);
    const r = await chat(who);
    recovered = r.status === 200 ? recovered + 1 : 0;
  }
  assert.equal(recovered, 6, "every instance admits again once Redis is back");
  for (const p of ports) {
    // An instance that has not served a request since may still report the old state.
    const v = await metric(p, 'bro_limits_degraded{backend="redis"}');
    assert.ok(v === 0 || v === 1);
  }
  const after = await Promise.all(Array.from({ length: 6 }, () => chat(who)));
  assert.deepEqual([...countBy(after, (r) => r.status)], [[200, 6]]);
  for (const p of ports) assert.equal(await metric(p, 'bro_limits_degraded{backend="redis"}'), 0);
});

test("usage reported to clients equals the usage (and cost) stored, after shutdown", async () => {
  const pids = env.CLUSTER_INSTANCE_PIDS.split(" ").map(Number);
  for (const pid of pids) process.kill(pid, "SIGTERM");
  for (const pid of pids) {
    for (let i = 0; i < 200; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await sleep(50);
    }
  }
  assert.ok(reported.size >= 4);
  for (const [userId, r] of reported) {
    const [count, tokens, cost] = psql(
      `SELECT COUNT(*), COALESCE(SUM(prompt_tokens + completion_tokens), 0), COALESCE(SUM(cost_nanos), 0) FROM usage_records WHERE user_id = '${userId}'`,
    ).split("|").map(Number);
    assert.equal(count, r.requests, `records of ${userId}`);
    assert.equal(tokens, r.tokens, `tokens of ${userId}`);
    assert.equal(cost, r.cost, `cost of ${userId}`);
  }
});
