// Hostile and broken clients on raw sockets. After every case the server must
// still answer /health on a fresh connection.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { BroServer, backend, countUsageRecords, waitFor } from '../lib/harness.js';
import { RawConn, exchange, httpRequest, sseData } from '../lib/raw.js';

// Generous bound for "the server closed the connection": the timeouts below
// are 1-2 s; this only catches a server that never closes.
const HANG_MS = 15_000;

describe(`hostile input (${backend})`, () => {
  let server;
  let auth;

  before(async () => {
    server = await BroServer.start({
      name: 'hostile',
      providers: [{ name: 'echo', type: 'echo', token_delay: '20ms' }],
      env: {
        BRO_SERVER_IDLE_TIMEOUT: '1s',
        BRO_SERVER_READ_TIMEOUT: '2s',
        BRO_SERVER_MAX_HEADER_BYTES: '16KiB',
        BRO_SERVER_MAX_BODY_BYTES: '16KiB',
        BRO_SERVER_CHAT_MAX_BODY_BYTES: '64KiB',
      },
    });
    auth = { Authorization: `Bearer ${server.apiKey}` };
  });

  afterEach(async () => {
    assert.ok(server.isRunning(), `server died\n${server.logTail()}`);
    const r = await exchange(server.port, httpRequest({ path: '/health', headers: { Connection: 'close' } }));
    assert.equal(r.status, 200, `/health after the case\n${server.logTail()}`);
  });

  after(async () => {
    await server?.cleanup();
  });

  function chat(body, extraHeaders = {}) {
    return httpRequest({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { ...auth, 'Content-Type': 'application/json', ...extraHeaders },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  function assertOpenAIError(r, status, code) {
    assert.equal(r.status, status, r.text);
    const body = JSON.parse(r.text);
    assert.equal(typeof body.error?.message, 'string', r.text);
    for (const k of ['type', 'code', 'param']) assert.ok(k in body.error, `error.${k} missing: ${r.text}`);
    if (code) assert.equal(body.error.code, code, r.text);
    return body.error;
  }

  describe('invalid requests', () => {
    it('malformed JSON → 400 invalid_json', async () => {
      for (const body of ['{"model": "echo", "messages": [', '{model: echo}', '\x00\x01\x02', '{"a":1}}']) {
        const r = await exchange(server.port, chat(body));
        assertOpenAIError(r, 400, 'invalid_json');
      }
    });

    it('missing or mistyped fields → 400 invalid_request_error naming the field', async () => {
      const cases = [
        [{ messages: [{ role: 'user', content: 'hi' }] }, 'model'],
        [{ model: 42, messages: [{ role: 'user', content: 'hi' }] }, 'model'],
        [{ model: null, messages: [{ role: 'user', content: 'hi' }] }, 'model'],
        [{ model: 'echo' }, 'messages'],
        [{ model: 'echo', messages: 'hi' }, 'messages'],
        [{ model: 'echo', messages: { role: 'user', content: 'hi' } }, 'messages'],
        [{ model: 'echo', messages: [{ role: 'user', content: 'hi' }], stream: 'yes' }, 'stream'],
      ];
      for (const [body, field] of cases) {
        const r = await exchange(server.port, chat(body));
        const err = assertOpenAIError(r, 400);
        assert.equal(err.type, 'invalid_request_error', `${JSON.stringify(body)} → ${r.text}`);
        assert.ok(typeof err.param === 'string' && err.param.startsWith(field),
          `${JSON.stringify(body)}: param should name ${field}, got ${r.text}`);
      }
    });

    it('a body that is JSON but not an object, or empty → 400', async () => {
      for (const body of ['[]', '"echo"', '42', 'null', '']) {
        const r = await exchange(server.port, chat(body));
        assertOpenAIError(r, 400);
      }
    });
  });

  describe('size limits', () => {
    it('a declared body over the chat limit → 413 without waiting for it', async () => {
      const c = await RawConn.open(server.port);
      const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.apiKey}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 10485760\r\n\r\n{"model":"echo","messages":[';
      await c.write(head);
      const [r] = await c.responses(1, HANG_MS);
      c.destroy();
      assert.equal(r.status, 413, r.text);
    });

    it('a sent body over the chat limit → 413', async () => {
      const big = JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: 'x'.repeat(100 * 1024) }] });
      const c = await RawConn.open(server.port);
      await c.write(chat(big));
      const [r] = await c.responses(1, HANG_MS);
      c.destroy();
      assert.equal(r.status, 413, r.text);
    });

    it('a chunked body over the chat limit → 413', async () => {
      const c = await RawConn.open(server.port);
      await c.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.apiKey}\r\n` +
        'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
      const piece = 'y'.repeat(8192);
      for (let i = 0; i < 12 && !c.ended && c.buf.length === 0; i += 1) {
        await c.write(`${piece.length.toString(16)}\r\n${piece}\r\n`);
      }
      await c.write('0\r\n\r\n');
      const [r] = await c.responses(1, HANG_MS);
      c.destroy();
      assert.equal(r.status, 413, r.text);
    });

    it('chat accepts a body above the default limit but under its own (per-route limit)', async () => {
      const text = 'z'.repeat(32 * 1024);
      // max_tokens: the echo model stops at 4096 tokens by default, like a model.
      const r = await exchange(server.port, chat({ model: 'echo', messages: [{ role: 'user', content: text }],
        max_tokens: 10_000 }));
      assert.equal(r.status, 200, r.text.slice(0, 300));
      assert.equal(JSON.parse(r.text).choices[0].message.content, `Echo: ${text}`);
    });

    it('one huge header → 431', async () => {
      const r = await exchange(server.port, httpRequest({ path: '/health', headers: { 'X-Big': 'a'.repeat(20 * 1024) } }));
      assert.equal(r.status, 431, r.text);
    });

    it('a header flood → 431', async () => {
      const headers = {};
      for (let i = 0; i < 2000; i += 1) headers[`X-Flood-${i}`] = 'flood-value';
      const r = await exchange(server.port, httpRequest({ path: '/health', headers }));
      assert.equal(r.status, 431, r.text);
    });

    it('a huge request line → 431 or 414', async () => {
      const r = await exchange(server.port, httpRequest({ path: `/health?${'q'.repeat(20 * 1024)}` }));
      assert.ok([414, 431].includes(r.status), `status ${r.status}`);
    });

    it('many small headers under the limit are fine', async () => {
      const headers = { ...auth };
      for (let i = 0; i < 150; i += 1) headers[`X-Many-${i}`] = `v${i}`;
      const r = await exchange(server.port, httpRequest({ path: '/v1/models', headers }));
      assert.equal(r.status, 200, r.text);
    });
  });

  describe('slow and silent clients', () => {
    it('a client that sends nothing is disconnected (idle timeout)', async () => {
      const c = await RawConn.open(server.port);
      const responses = await c.closedByPeer(HANG_MS);
      for (const r of responses) assert.equal(r.status, 408);
    });

    it('an idle keep-alive connection is disconnected after its last request', async () => {
      const c = await RawConn.open(server.port);
      await c.write(httpRequest({ path: '/health' }));
      const [r] = await c.responses(1);
      assert.equal(r.status, 200);
      await c.closedByPeer(HANG_MS);
    });

    it('a request head that stalls gets 408 or is closed', async () => {
      const c = await RawConn.open(server.port);
      await c.write('GET /health HTTP/1.1\r\nHost: x\r\nX-Half: ');
      const responses = await c.closedByPeer(HANG_MS);
      for (const r of responses) assert.equal(r.status, 408);
    });

    it('a request body that stalls gets 408 or is closed', async () => {
      const c = await RawConn.open(server.port);
      await c.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.apiKey}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{"model":"echo",');
      const responses = await c.closedByPeer(HANG_MS);
      for (const r of responses) assert.equal(r.status, 408);
    });

    it('a drip-fed request head is cut off (read timeout covers the whole request)', async () => {
      const c = await RawConn.open(server.port);
      await c.write('GET /health HTTP/1.1\r\nHost: x\r\nX-Drip: ');
      const deadline = Date.now() + HANG_MS;
      while (!c.ended && Date.now() < deadline) {
        await c.write('a');
        await sleep(200);
      }
      assert.ok(c.ended, 'the server kept a drip-fed connection open');
      const responses = await c.closedByPeer(1000);
      for (const r of responses) assert.equal(r.status, 408);
    });
  });

  describe('garbage', () => {
    const payloads = {
      'random bytes': randomBytes(4096),
      'text that is not HTTP': Buffer.from('HELLO THERE\r\nTHIS IS NOT HTTP\r\n\r\n'),
      'a TLS ClientHello': Buffer.from('16030100a5010000a10303' + '00'.repeat(64), 'hex'),
      'a bad method and version': Buffer.from('BREW /pot HTTP/9.9\r\nHost: x\r\n\r\n'),
      'a bad Content-Length': Buffer.from('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n'),
      'two different Content-Length headers': Buffer.from('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n' +
        'Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'),
    };
    for (const [name, bytes] of Object.entries(payloads)) {
      it(`${name} → 4xx and/or closed`, async () => {
        const c = await RawConn.open(server.port);
        await c.write(bytes);
        const responses = await c.closedByPeer(HANG_MS);
        for (const r of responses) assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}`);
      });
    }
  });

  describe('pipelining and disconnects', () => {
    it('answers pipelined requests in order', async () => {
      const c = await RawConn.open(server.port);
      await c.write(Buffer.concat([
        chat({ model: 'echo', messages: [{ role: 'user', content: 'first' }] }),
        httpRequest({ path: '/health' }),
        chat({ model: 'echo', messages: [{ role: 'user', content: 'second' }] }),
        httpRequest({ path: '/v1/models', headers: auth }),
        chat({ model: 'echo', messages: [{ role: 'user', content: 'third' }], stream: true }),
        httpRequest({ path: '/v1/nope-not-a-route', headers: auth }),
        chat('{broken'),
        httpRequest({ path: '/health', headers: { Connection: 'close' } }),
      ]));
      const rs = await c.responses(8, HANG_MS);
      c.destroy();
      assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 200, 200, 404, 400, 200]);
      assert.equal(JSON.parse(rs[0].text).choices[0].message.content, 'Echo: first');
      assert.equal(JSON.parse(rs[2].text).choices[0].message.content, 'Echo: second');
      assert.equal(JSON.parse(rs[3].text).object, 'list');
      const data = sseData(rs[4].text);
      assert.equal(data.at(-1), '[DONE]');
      const streamed = data.slice(0, -1).map((d) => JSON.parse(d).choices[0]?.delta?.content ?? '').join('');
      assert.equal(streamed, 'Echo: third');
      assert.equal(JSON.parse(rs[6].text).error.code, 'invalid_json');
    });

    it('survives a client that disconnects mid-stream; usage and metrics still work', async () => {
      const stable = async () => {
        const a = await countUsageRecords(server);
        await sleep(700);
        const b = await countUsageRecords(server);
        return a === b ? { n: b } : null;
      };
      const before = (await waitFor(stable, { what: 'usage_records to settle' })).n;
      const c = await RawConn.open(server.port);
      const words = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');
      await c.write(chat({ model: 'echo', messages: [{ role: 'user', content: words }], stream: true,
        stream_options: { include_usage: true } }));
      await c.until(() => c.buf.includes('data:'), HANG_MS, 'the first SSE chunk');
      c.destroy();

      const r = await exchange(server.port, chat({ model: 'echo', messages: [{ role: 'user', content: 'still here?' }] }));
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.text).choices[0].message.content, 'Echo: still here?');

      if (before === null) {
        console.log('# NOTICE: sqlite3/psql client not found; usage_records not checked');
      } else {
        // The cut stream and the request after it both leave a usage record.
        await waitFor(async () => (await countUsageRecords(server)) >= before + 2, {
          what: 'usage records for the cut stream and the next request',
        });
      }
      const m = await fetch(server.metricsUrl);
      assert.equal(m.status, 200);
      assert.match(await m.text(), /^# TYPE /m);
    });

    it('survives a client that disconnects before reading a non-streaming answer', async () => {
      for (let i = 0; i < 20; i += 1) {
        const c = await RawConn.open(server.port);
        await c.write(chat({ model: 'echo', messages: [{ role: 'user', content: `bye ${i}` }] }));
        c.destroy();
      }
    });

    it('survives a burst of connections that open and close at once', async () => {
      const conns = await Promise.all(Array.from({ length: 200 }, () => RawConn.open(server.port)));
      for (const c of conns) c.destroy();
    });
  });
});
