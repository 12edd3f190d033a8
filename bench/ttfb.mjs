// Time to first byte of a streamed chat completion, at a fixed request rate over a fixed number
// of keep-alive connections, against several targets in one run (Node's built-in http only).
//
//   node bench/ttfb.mjs --rate 1000 --connections 50 --duration 10 \
//     --target direct=http://127.0.0.1:P/stream/v1/chat/completions \
//     --target gateway=http://127.0.0.1:Q/v1/chat/completions,KEY --body FILE --model M
//
// TTFB = from writing the request to the first byte of the response body (the first SSE event).
// Targets are measured one after the other, each after a 1 s warm-up; prints one JSON line per
// target: {name, requests, errors, p50_ms, p90_ms, p99_ms, max_ms}.
import http from 'node:http';
import fs from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '1000' },
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '10' },
    target: { type: 'string', multiple: true },
    body: { type: 'string' },
    model: { type: 'string', multiple: true },
  },
});
const rate = Number(values.rate);
const connections = Number(values.connections);
const duration = Number(values.duration) * 1000;
const template = fs.readFileSync(values.body, 'utf8').trim();

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function once(agent, url, headers, body) {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    let first = null;
    const req = http.request(url, { method: 'POST', agent, headers }, (res) => {
      res.on('data', () => {
        if (first === null) first = process.hrtime.bigint();
      });
      res.on('end', () => {
        const ok = res.statusCode === 200 && first !== null;
        resolve(ok ? Number(first - start) / 1e6 : null);
      });
      res.on('error', () => resolve(null));
    });
    req.on('error', () => resolve(null));
    req.end(body);
  });
}

async function run(name, url, key, model, ms, record) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const body = template.replace('MODEL', model);
  const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  if (key) headers.authorization = `Bearer ${key}`;
  const samples = [];
  let errors = 0;
  const inflight = new Set();
  const interval = 1000 / rate;
  const t0 = performance.now();
  for (let i = 0; ; i++) {
    const due = t0 + i * interval;
    if (due - t0 >= ms) break;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const p = once(agent, url, headers, body).then((t) => {
      if (t === null) errors++;
      else samples.push(t);
      inflight.delete(p);
    });
    inflight.add(p);
  }
  await Promise.all(inflight);
  agent.destroy();
  if (!record) return;
  samples.sort((a, b) => a - b);
  const r = (v) => Math.round(v * 1000) / 1000;
  console.log(JSON.stringify({
    name, requests: samples.length, errors,
    p50_ms: r(percentile(samples, 50)), p90_ms: r(percentile(samples, 90)),
    p99_ms: r(percentile(samples, 99)), max_ms: r(samples[samples.length - 1] ?? NaN),
  }));
}

const models = values.model ?? [];
for (const [i, spec] of values.target.entries()) {
  const [name, rest] = spec.split(/=(.*)/s);
  const [url, key] = rest.split(',');
  const model = models[i] ?? models[0] ?? 'gpt-4o-mini';
  await run(name, url, key, model, 1000, false);
  await run(name, url, key, model, duration, true);
}
