// The Prometheus scrape: valid for promtool, and counting the traffic.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import { BroServer, backend } from '../lib/harness.js';

// family name -> { type, samples: [{ name, labels, value }] }
function parseExposition(text) {
  const families = new Map();
  const family = (name) => {
    if (!families.has(name)) families.set(name, { type: 'untyped', samples: [] });
    return families.get(name);
  };
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)/.exec(line);
    if (t) { family(t[1]).type = t[2]; continue; }
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    assert.ok(m, `unparsable sample line: ${line}`);
    const labels = {};
    for (const l of (m[2] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    let base = m[1];
    for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created']) {
      if (base.endsWith(suffix) && families.has(base.slice(0, -suffix.length))) {
        base = base.slice(0, -suffix.length);
        break;
      }
    }
    if (!families.has(base) && families.has(m[1])) base = m[1];
    family(base).samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return families;
}

function hasPromtool() {
  return spawnSync('promtool', ['--version']).error?.code !== 'ENOENT';
}

describe(`metrics (${backend})`, () => {
  let server;

  before(async () => {
    server = await BroServer.start({ name: 'metrics' });
  });

  after(async () => {
    await server?.cleanup();
  });

  async function scrape() {
    const res = await fetch(server.metricsUrl);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') || '', /^text\/plain/);
    return res.text();
  }

  // The request counters: counter families named like requests, with a
  // status code label.
  function requestCounters(families) {
    return [...families.entries()].filter(([name, f]) =>
      f.type === 'counter' && /request/.test(name) && !/upstream|provider/.test(name) &&
      f.samples.some((s) => Object.values(s.labels).some((v) => /^[1-5]\d\d$/.test(v))))
      .sort(([a], [b]) => Number(/http/.test(b)) - Number(/http/.test(a)));
  }

  function total(families, name, pred = () => true) {
    return families.get(name).samples.filter((s) => !s.name.endsWith('_created') && pred(s))
      .reduce((n, s) => n + s.value, 0);
  }

  it('counts requests by code after traffic and passes promtool check metrics', async () => {
    const before = parseExposition(await scrape());
    const client = new OpenAI({ baseURL: server.baseURL, apiKey: server.apiKey, maxRetries: 0 });
    const messages = [{ role: 'user', content: 'count me' }];
    const N = 5;
    for (let i = 0; i < N; i += 1) await client.chat.completions.create({ model: 'echo', messages });
    const stream = await client.chat.completions.create({
      model: 'echo', messages, stream: true, stream_options: { include_usage: true },
    });
    for await (const chunk of stream) void chunk;
    await client.models.list();
    await assert.rejects(client.chat.completions.create({ model: 'missing', messages }), OpenAI.NotFoundError);
    const bad = new OpenAI({ baseURL: server.baseURL, apiKey: 'wrong', maxRetries: 0 });
    await assert.rejects(bad.models.list(), OpenAI.AuthenticationError);
    const res = await fetch(`${server.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
      body: '{oops',
    });
    assert.equal(res.status, 400);

    // A request is counted when its answer has been written, which the client may see first:
    // scrape until the last answers are in (at most 2 s), then check.
    const codeIs = (code) => (s) => Object.values(s.labels).includes(code);
    let text;
    let after;
    let name;
    const delta = (code) => total(after, name, codeIs(code)) -
      (before.has(name) ? total(before, name, codeIs(code)) : 0);
    for (let attempt = 0; attempt < 40; attempt += 1) {
      text = await scrape();
      after = parseExposition(text);
      const counters = requestCounters(after);
      assert.ok(counters.length > 0,
        `no request counter with a status-code label among: ${[...after.keys()].join(', ')}`);
      [name] = counters[0];
      if (delta('200') >= N + 2 && ['400', '401', '404'].every((code) => delta(code) >= 1)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(delta('200') >= N + 2, `${name}: 200s grew by ${delta('200')}, expected >= ${N + 2}`);
    for (const code of ['400', '401', '404']) assert.ok(delta(code) >= 1, `${name}: no ${code} counted`);

    const histograms = [...after.entries()].filter(([, f]) => f.type === 'histogram');
    assert.ok(histograms.some(([n]) => /duration|latency|seconds/.test(n)),
      `no request duration histogram among ${histograms.map(([n]) => n).join(', ')}`);

    if (!hasPromtool()) {
      console.log('# NOTICE: promtool not installed (Debian package "prometheus"); the scrape was NOT linted');
      return;
    }
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);
  });
});
