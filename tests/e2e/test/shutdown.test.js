// Graceful shutdown: SIGTERM drains, open streams finish, exit code 0.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { BroServer, backend } from '../lib/harness.js';
import { RawConn, httpRequest, parseResponses, sseData } from '../lib/raw.js';

const HANG_MS = 40_000;

// What a fresh connection to /ready sees: 'refused', 'reset', 'closed' or
// the HTTP status.
async function probeReady(port) {
  let c;
  try {
    c = await RawConn.open(port);
  } catch (e) {
    if (e.code === 'ECONNREFUSED') return 'refused';
    if (e.code === 'ECONNRESET') return 'reset';
    throw e;
  }
  try {
    await c.write(httpRequest({ path: '/ready', headers: { Connection: 'close' } }));
    const responses = await c.closedByPeer(10_000);
    if (responses.length) return responses[0].status;
    return c.error?.code === 'ECONNRESET' ? 'reset' : 'closed';
  } finally {
    c.destroy();
  }
}

function exitWithin(server, ms) {
  return Promise.race([
    server.exited,
    sleep(ms).then(() => { throw new Error(`bro-ai still running ${ms} ms after the signal\n${server.logTail()}`); }),
  ]);
}

function streamRequest(server, content) {
  return httpRequest({
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { Authorization: `Bearer ${server.apiKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'echo', messages: [{ role: 'user', content }], stream: true }),
  });
}

describe(`graceful shutdown (${backend})`, () => {
  it('SIGTERM mid-stream: drain is visible, the stream completes with [DONE], exit 0', async () => {
    const server = await BroServer.start({
      name: 'drain',
      providers: [{ name: 'echo', type: 'echo', token_delay: '50ms' }],
      env: { BRO_SERVER_SHUTDOWN_GRACE: '30s' },
    });
    try {
      assert.equal(await probeReady(server.port), 200, 'ready before the signal');
      const keepAlive = await RawConn.open(server.port);
      await keepAlive.write(httpRequest({ path: '/health' }));
      assert.equal((await keepAlive.responses(1))[0].status, 200);

      // About 7 s of streaming at 50 ms per token.
      const words = Array.from({ length: 80 }, (_, i) => `word${i}`).join(' ');
      const stream = await RawConn.open(server.port);
      await stream.write(streamRequest(server, words));
      await stream.until(() => stream.buf.includes('data:'), 15_000, 'the first SSE chunk');

      server.signal('SIGTERM');
      // A connection that races the listener's close may be accepted and then
      // closed unanswered; keep probing until the drain is unambiguous.
      const seen = [];
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        seen.push(await probeReady(server.port));
        if (['refused', 'reset', 503].includes(seen.at(-1))) break;
        await sleep(50);
      }
      assert.ok(['refused', 'reset', 503].includes(seen.at(-1)),
        `a new connection during drain should be refused or get 503 from /ready; saw ${seen.join(', ')}`);
      const firstNon200 = seen.findIndex((r) => r !== 200);
      assert.ok(!seen.slice(firstNon200).includes(200), `/ready answered 200 again during drain: ${seen.join(', ')}`);
      assert.ok(!stream.buf.includes('[DONE]'), 'the stream was still open when the drain was observed');

      // The idle keep-alive connection must not report ready either.
      await keepAlive.write(httpRequest({ path: '/ready' }));
      const onOld = await keepAlive.until(() => {
        const { responses } = parseResponses(keepAlive.buf, keepAlive.ended);
        if (responses.length >= 2) return responses[1].status;
        return keepAlive.ended ? 'closed' : null;
      }, 15_000, 'an answer or a close on the idle keep-alive connection');
      assert.ok(onOld === 503 || onOld === 'closed', `GET /ready on an existing connection during drain: ${onOld}`);
      keepAlive.destroy();

      await stream.until(() => stream.buf.includes('data: [DONE]'), HANG_MS, 'the stream to finish with [DONE]');
      const [res] = await stream.responses(1, HANG_MS);
      stream.destroy();
      assert.equal(res.status, 200);
      const data = sseData(res.text);
      assert.equal(data.at(-1), '[DONE]');
      const content = data.slice(0, -1).map((d) => JSON.parse(d).choices[0]?.delta?.content ?? '').join('');
      assert.equal(content, `Echo: ${words}`);

      const exit = await exitWithin(server, HANG_MS);
      assert.deepEqual(exit, { code: 0, signal: null }, server.logTail());
      assert.equal(await probeReady(server.port), 'refused');
    } finally {
      await server.cleanup();
    }
  });

  it('shutdown_grace bounds the drain: a stream longer than the grace is cut, exit 0', async () => {
    const server = await BroServer.start({
      name: 'grace',
      providers: [{ name: 'echo', type: 'echo', token_delay: '50ms' }],
      env: { BRO_SERVER_SHUTDOWN_GRACE: '1s' },
    });
    try {
      // Minutes of streaming, far beyond the 1 s grace.
      const words = Array.from({ length: 2000 }, (_, i) => `w${i}`).join(' ');
      const stream = await RawConn.open(server.port);
      await stream.write(streamRequest(server, words));
      await stream.until(() => stream.buf.includes('data:'), 15_000, 'the first SSE chunk');
      server.signal('SIGTERM');
      const exit = await exitWithin(server, 20_000);
      assert.deepEqual(exit, { code: 0, signal: null }, server.logTail());
      await stream.closedByPeer(5_000);
      stream.destroy();
    } finally {
      await server.cleanup();
    }
  });

  it('SIGINT on an idle server exits 0', async () => {
    const server = await BroServer.start({ name: 'sigint' });
    try {
      const exit = await server.stop({ sig: 'SIGINT', hangMs: HANG_MS });
      assert.deepEqual(exit, { code: 0, signal: null }, server.logTail());
      await assert.rejects(new Promise((resolve, reject) => {
        const s = net.connect(server.port, '127.0.0.1', () => { s.destroy(); resolve(); });
        s.on('error', reject);
      }), { code: 'ECONNREFUSED' });
    } finally {
      await server.cleanup();
    }
  });
});
