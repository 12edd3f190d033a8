// The classes of issue 13's hostile-input probe, replayed as an attacker would against the real
// binary: overflow arithmetic on reservations, chunk metadata, response amplification,
// transfer-coding framing (smuggling), Host rules and log encoding. Key minting has its own
// file (key_minting.test.js). After every case the server must still answer /health.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BroServer, backend, waitFor } from '../lib/harness.js';
import { RawConn, exchange, httpRequest, sseData } from '../lib/raw.js';

const HANG_MS = 15_000;
const MiB = 1024 * 1024;

function rssKiB(pid, field = 'VmRSS') {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
  return Number(m[1]);
}

// Streams `piece` as an endless field would, yielding to the event loop between writes so that
// an answer is noticed at once (a client that keeps writing after the server closed would be
// reset and could lose the answer). Returns the bytes sent.
async function sendUntilAnswered(c, piece, max) {
  let sent = 0;
  while (!c.ended && c.buf.length === 0 && sent < max) {
    if (!await c.write(piece)) break;
    sent += piece.length;
    await new Promise((resolve) => { setImmediate(resolve); });
  }
  return sent;
}

// Limiter backends: the in-process one always, Redis when the test command started one.
const limiterBackends = [{ name: 'memory', config: '' }];
if (process.env.BRO_TEST_REDIS_URL) {
  limiterBackends.push({
    name: 'redis',
    config: `redis:\n  url: ${process.env.BRO_TEST_REDIS_URL}\n  key_prefix: "e2e-${process.pid}-${Date.now()}:"`,
  });
}

for (const limiter of limiterBackends) {
  describe(`overflow arithmetic on an exhausted budget (${backend}, ${limiter.name} limiter)`, () => {
    let server;
    let key;

    before(async () => {
      server = await BroServer.start({
        name: `overflow-${limiter.name}`,
        extraConfig: [
          'limits:',
          `  backend: ${limiter.name}`,
          '  per_key:',
          '    daily_tokens: 300',
          limiter.config,
        ].join('\n'),
      });
      key = await server.createKey({ user: 'budget@example.com', role: 'developer' });
    });
    after(async () => { await server?.cleanup(); });

    // Raw JSON text: JavaScript numbers cannot carry 2^63 - 1 or 2^64 - 1 exactly.
    const chat = (extra) => httpRequest({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: `{"model":"echo","messages":[{"role":"user","content":"hi"}]${extra}}`,
    });

    it('the budget is spent first, then no value of max_tokens, max_completion_tokens or n gets through', async () => {
      let spent = false;
      for (let i = 0; i < 100 && !spent; i += 1) {
        const r = await exchange(server.port, chat(',"max_tokens":1'));
        if (r.status === 429) spent = true;
        else assert.equal(r.status, 200, r.text);
      }
      assert.ok(spent, 'the daily budget of 300 tokens was never exhausted');

      const outOfRange = [
        '9223372036854775807', '18446744073709551615', '4611686018427387904', '9007199254740993',
        '2147483648', '1000001', '1e308', '1e3', '1.5', '-1', '0', '-9223372036854775808', '"5"',
        'true', '[1]',
      ];
      for (const field of ['max_tokens', 'max_completion_tokens']) {
        for (const v of outOfRange) {
          const r = await exchange(server.port, chat(`,"${field}":${v}`));
          assert.equal(r.status, 400, `${field}=${v}: ${r.text}`);
          assert.equal(JSON.parse(r.text).error.param, field, r.text);
        }
      }
      for (const v of ['129', '4611686018427387904', '18446744073709551615', '0', '-1', '1.5', '2e1']) {
        const r = await exchange(server.port, chat(`,"n":${v}`));
        assert.equal(r.status, 400, `n=${v}: ${r.text}`);
        assert.equal(JSON.parse(r.text).error.param, 'n', r.text);
      }
      // 2^62 x 2 once wrapped negative; now the field is refused before any arithmetic.
      const wrapped = await exchange(server.port, chat(',"max_tokens":4611686018427387904,"n":2'));
      assert.equal(wrapped.status, 400, wrapped.text);
      // Within range, the exhausted budget answers, whatever the size.
      for (const extra of ['', ',"max_tokens":1', ',"max_tokens":1000000,"n":128',
        ',"max_completion_tokens":1000000', ',"n":128']) {
        const r = await exchange(server.port, chat(extra));
        assert.equal(r.status, 429, `${extra}: ${r.text}`);
        assert.equal(JSON.parse(r.text).error.code, 'insufficient_quota', r.text);
      }
    });
  });
}

describe(`framing, metadata and amplification (${backend})`, () => {
  let server;
  let auth;

  before(async () => {
    server = await BroServer.start({
      name: 'probe',
      env: {
        BRO_SERVER_READ_TIMEOUT: '3s',
        BRO_SERVER_MAX_HEADER_BYTES: '16KiB',
      },
    });
    auth = { Authorization: `Bearer ${server.apiKey}` };
  });

  afterEach(async () => {
    assert.ok(server.isRunning(), `server died\n${server.logTail()}`);
    const r = await exchange(server.port, httpRequest({ path: '/health', headers: { Connection: 'close' } }));
    assert.equal(r.status, 200, `/health after the case\n${server.logTail()}`);
  });

  after(async () => { await server?.cleanup(); });

  const chatHead = (te) => `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${server.apiKey}\r\n` +
    `Content-Type: application/json\r\nTransfer-Encoding: ${te}\r\n\r\n`;

  describe('chunk metadata is bounded (pre-auth memory exhaustion)', () => {
    const endless = {
      'an endless chunk extension': ['5;', 'e'.repeat(16384)],
      'an endless chunk-size line': ['0000', '0'.repeat(16384)],
      'an endless trailer field': ['0\r\nX-T: ', 't'.repeat(16384)],
      'endless trailer fields': ['0\r\n', 'X-T: tttttttttttttttttttttttttt\r\n'.repeat(512)],
    };
    for (const [name, [prefix, piece]] of Object.entries(endless)) {
      it(`${name} → 400 and closed, memory flat`, async () => {
        const before = rssKiB(server.pid);
        const c = await RawConn.open(server.port);
        // No Authorization: this is what an anonymous attacker can do.
        await c.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' + prefix);
        const sent = await sendUntilAnswered(c, piece, 256 * MiB);
        const responses = await c.closedByPeer(HANG_MS);
        // Kernel buffers and the server's bounded drain after answering take some MiB; an
        // unbounded server never answers and this reaches 256 MiB.
        assert.ok(sent < 32 * MiB, `the server read ${sent} bytes of metadata before answering`);
        assert.equal(responses[0]?.status, 400, JSON.stringify(responses.map((r) => r.status)));
        const grown = rssKiB(server.pid) - before;
        assert.ok(grown < 32 * 1024, `RSS grew by ${grown} KiB`);
      });
    }

    it('tiny chunks behind long extensions cannot stream past the body budget', async () => {
      const c = await RawConn.open(server.port);
      await c.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
      const sent = await sendUntilAnswered(c, `1;${'e'.repeat(250)}\r\nx\r\n`.repeat(64), 256 * MiB);
      const responses = await c.closedByPeer(HANG_MS);
      // 400 at the wire budget; 408 only if this machine could not send 16 MiB within the 3 s read timeout.
      assert.ok([400, 408].includes(responses[0]?.status), JSON.stringify(responses[0]?.status));
      assert.ok(sent < 64 * MiB, `sent ${sent}`);
    });

    it('trailer fields never reach a handler as headers', async () => {
      // A trailer "Authorization" must not authenticate: the head has none, so 401.
      const c = await RawConn.open(server.port);
      await c.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n' +
        `Authorization: Bearer ${server.apiKey}\r\n\r\n`);
      const [r] = await c.responses(1, HANG_MS);
      c.destroy();
      assert.equal(r.status, 401, r.text);
    });
  });

  describe('transfer-coding framing (request smuggling)', () => {
    const smuggled = 'GET /ready HTTP/1.1\r\nHost: x\r\n\r\n';
    const body = '2\r\n{}\r\n0\r\n\r\n';
    const cases = {
      xchunked: [400], identity: [400], gzip: [400], 'chunked, identity': [400], 'chunked;x=1': [400],
      'chunked, chunked': [400], '"chunked"': [400], 'gzip, chunked': [501], 'deflate , chunked': [501],
    };
    for (const [te, [status]] of Object.entries(cases)) {
      for (const withLength of [false, true]) {
        // With Content-Length as well, the pair itself is the error (400) whatever the coding.
        const expected = withLength ? 400 : status;
        it(`Transfer-Encoding: ${te}${withLength ? ' with Content-Length' : ''} → ${expected}, nothing smuggled`, async () => {
          let head = chatHead(te);
          if (withLength) head = head.replace('\r\n\r\n', `\r\nContent-Length: ${body.length}\r\n\r\n`);
          const c = await RawConn.open(server.port);
          await c.write(head + body + smuggled);
          c.sock.end(); // all sent: the server's drain after its answer ends at once
          const responses = await c.closedByPeer(HANG_MS);
          assert.equal(responses.length, 1, `answers: ${responses.map((r) => r.status)}`);
          assert.equal(responses[0].status, expected, responses[0].text);
          assert.equal(typeof JSON.parse(responses[0].text).error.message, 'string');
        });
      }
    }

    const heads = {
      'obs-fold': 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n',
      'space before the colon': 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n',
      'two Transfer-Encoding fields': 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n' +
        'Transfer-Encoding: identity\r\n\r\n',
      'Content-Length then Transfer-Encoding': 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n' +
        'Transfer-Encoding: chunked\r\n\r\n',
      'Transfer-Encoding on HTTP/1.0': 'POST /v1/chat/completions HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
      'a vertical tab in the value': 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\x0b\r\n\r\n',
    };
    for (const [name, head] of Object.entries(heads)) {
      it(`${name} → 400, nothing smuggled`, async () => {
        const c = await RawConn.open(server.port);
        await c.write(head + body + smuggled);
        c.sock.end();
        const responses = await c.closedByPeer(HANG_MS);
        assert.equal(responses.length, 1, `answers: ${responses.map((r) => r.status)}`);
        assert.equal(responses[0].status, 400, responses[0].text);
      });
    }

    it('chunked in any letter case frames the body, and the next request after it', async () => {
      for (const te of ['chunked', 'Chunked', 'CHUNKED']) {
        const payload = JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: te }] });
        const c = await RawConn.open(server.port);
        await c.write(chatHead(te) + `${payload.length.toString(16)}\r\n${payload}\r\n0\r\n\r\n` +
          'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
        const rs = await c.responses(2, HANG_MS);
        c.destroy();
        assert.equal(rs[0].status, 200, rs[0].text);
        assert.equal(JSON.parse(rs[0].text).choices[0].message.content, `Echo: ${te}`);
        assert.equal(rs[1].status, 200);
      }
    });
  });

  describe('Host rules (RFC 9112 §3.2)', () => {
    for (const [name, head] of Object.entries({
      'no Host on HTTP/1.1': 'GET /health HTTP/1.1\r\n\r\n',
      'two Host fields': 'GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
      'a Host list': 'GET /health HTTP/1.1\r\nHost: a, b\r\n\r\n',
      'a Host with userinfo': 'GET /health HTTP/1.1\r\nHost: user@a\r\n\r\n',
      'an absolute-form target': 'GET http://elsewhere/health HTTP/1.1\r\nHost: x\r\n\r\n',
    })) {
      it(`${name} → 400`, async () => {
        const c = await RawConn.open(server.port);
        await c.write(head);
        c.sock.end();
        const responses = await c.closedByPeer(HANG_MS);
        assert.equal(responses[0]?.status, 400, JSON.stringify(responses[0]?.text));
      });
    }
    it('HTTP/1.0 without Host is served', async () => {
      const r = await exchange(server.port, 'GET /health HTTP/1.0\r\n\r\n');
      assert.equal(r.status, 200);
    });
  });

  describe('response amplification', () => {
    const embed = (body) => httpRequest({
      method: 'POST',
      path: '/v1/embeddings',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });

    it('inputs × dimensions above the bound → 400 naming dimensions, before any work', async () => {
      const r = await exchange(server.port, embed({ model: 'echo', input: Array(2048).fill('x'), dimensions: 8192 }));
      assert.equal(r.status, 400, r.text.slice(0, 300));
      assert.equal(JSON.parse(r.text).error.param, 'dimensions');
    });

    it('the largest allowed embeddings answer keeps memory bounded', async () => {
      const before = rssKiB(server.pid);
      const r = await fetch(`${server.baseURL}/embeddings`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ model: 'echo', input: Array(2048).fill('x'), dimensions: 1024 }),
      });
      assert.equal(r.status, 200);
      const parsed = await r.json();
      assert.equal(parsed.data.length, 2048);
      assert.equal(parsed.data[0].embedding.length, 1024);
      const peak = rssKiB(server.pid, 'VmHWM');
      assert.ok(peak - before < 200 * 1024, `peak RSS ${peak} KiB, ${before} KiB before`);
    });

    it('the echo model stops at max_tokens (or its default), streamed or not', async () => {
      const text = 'word '.repeat(12_000); // 60 KB of prompt
      const body = { model: 'echo', messages: [{ role: 'user', content: text }] };
      const plain = await exchange(server.port, httpRequest({
        method: 'POST', path: '/v1/chat/completions', headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ ...body, max_tokens: 10 }),
      }));
      const choice = JSON.parse(plain.text).choices[0];
      assert.equal(choice.finish_reason, 'length');
      assert.ok(choice.message.content.length <= 40, choice.message.content);

      const streamed = await exchange(server.port, httpRequest({
        method: 'POST', path: '/v1/chat/completions', headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ ...body, stream: true }),
      }), { timeoutMs: 60_000 });
      const events = sseData(streamed.text);
      const content = events.slice(0, -1).map((d) => JSON.parse(d).choices[0]?.delta?.content ?? '').join('');
      assert.ok(content.length <= 4096 * 4, `streamed ${content.length} characters`);
      assert.ok(streamed.text.length < 2 * MiB, `the stream was ${streamed.text.length} bytes`);
      assert.equal(JSON.parse(events.at(-2)).choices[0].finish_reason, 'length');
    });
  });

  describe('log encoding', () => {
    it('bytes that are not UTF-8 in the path and User-Agent leave valid UTF-8 JSON log lines', async () => {
      const head = Buffer.concat([
        Buffer.from('GET /v1/\x80\xff\xc3\x28/x HTTP/1.1\r\nHost: x\r\nUser-Agent: ', 'latin1'),
        Buffer.from([0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xf8, 0x88, 0x80, 0x80, 0x80, 0xfe, 0x41]),
        Buffer.from(`\r\nAuthorization: Bearer ${server.apiKey}\r\nConnection: close\r\n\r\n`, 'latin1'),
      ]);
      const r = await exchange(server.port, head);
      assert.equal(r.status, 404);
      const decoder = new TextDecoder('utf-8', { fatal: true });
      await waitFor(async () => {
        const raw = readFileSync(server.logPath);
        const lines = decoder.decode(raw).trimEnd().split('\n'); // throws on any invalid byte
        const json = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
        return json.some((l) => l.httpRequest?.status === 404 && l.httpRequest.requestUrl.startsWith('/v1/'));
      }, { what: 'the access log line of the request' });
    });
  });
});
