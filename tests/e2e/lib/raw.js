// Raw-socket HTTP/1.1 client for hostile-input tests: sends exactly the bytes
// given and parses whatever comes back, in order.
import net from 'node:net';

// Parses as many complete responses as `buf` holds. A response without
// Content-Length or chunked framing runs to the end of the stream, so it is
// complete only when `eof` is set.
export function parseResponses(buf, eof = false) {
  const out = [];
  let pos = 0;
  for (;;) {
    const headEnd = buf.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) break;
    const head = buf.subarray(pos, headEnd).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
    if (!m) throw new Error(`not an HTTP response: ${JSON.stringify(head[0])}`);
    const headers = {};
    for (const line of head.slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const status = Number(m[1]);
    let bodyStart = headEnd + 4;
    let body;
    if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
      body = Buffer.alloc(0);
    } else if (/chunked/i.test(headers['transfer-encoding'] || '')) {
      const parts = [];
      let p = bodyStart;
      let complete = false;
      for (;;) {
        const lineEnd = buf.indexOf('\r\n', p);
        if (lineEnd < 0) break;
        const size = parseInt(buf.subarray(p, lineEnd).toString('latin1'), 16);
        if (Number.isNaN(size)) throw new Error('bad chunk size');
        if (size === 0) {
          const trailerEnd = buf.indexOf('\r\n\r\n', lineEnd);
          if (trailerEnd === lineEnd) { p = lineEnd + 4; complete = true; break; }
          const end2 = buf.indexOf('\r\n', lineEnd + 2);
          if (end2 < 0) break;
          p = end2 + 2; complete = true; break;
        }
        if (buf.length < lineEnd + 2 + size + 2) break;
        parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
        p = lineEnd + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(parts);
      bodyStart = p;
      out.push({ status, headers, body, text: body.toString('utf8') });
      pos = bodyStart;
      continue;
    } else if (headers['content-length'] !== undefined) {
      const len = Number(headers['content-length']);
      if (buf.length < bodyStart + len) break;
      body = buf.subarray(bodyStart, bodyStart + len);
      bodyStart += len;
    } else {
      if (!eof) break;
      body = buf.subarray(bodyStart);
      bodyStart = buf.length;
    }
    out.push({ status, headers, body, text: body.toString('utf8') });
    pos = bodyStart;
  }
  return { responses: out, rest: buf.subarray(pos) };
}

export class RawConn {
  static open(port, host = '127.0.0.1') {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port, host });
      sock.once('connect', () => { sock.off('error', reject); resolve(new RawConn(sock)); });
      sock.once('error', reject);
    });
  }

  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.ended = false;
    this.closed = false;
    this.error = null;
    this.waiters = new Set();
    sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this.wake(); });
    sock.on('end', () => { this.ended = true; this.wake(); });
    // A reset after the server answered and closed is a normal end here.
    sock.on('error', (e) => { this.error = e; this.wake(); });
    sock.on('close', () => { this.closed = true; this.ended = true; this.wake(); });
  }

  wake() { for (const w of this.waiters) w(); }

  // Writes, ignoring EPIPE/ECONNRESET: a server may answer 413/431 and close
  // before the client has finished sending.
  write(data) {
    return new Promise((resolve) => {
      if (this.sock.destroyed || this.sock.writableEnded) return resolve(false);
      this.sock.write(data, (err) => resolve(!err));
    });
  }

  until(pred, timeoutMs, what) {
    return new Promise((resolve, reject) => {
      const check = () => {
        let v;
        try { v = pred(); } catch (e) { cleanup(); reject(e); return; }
        if (v) { cleanup(); resolve(v); }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received so far: ` +
          JSON.stringify(this.buf.subarray(0, 400).toString('latin1'))));
      }, timeoutMs);
      const cleanup = () => { clearTimeout(timer); this.waiters.delete(check); };
      this.waiters.add(check);
      check();
    });
  }

  // Resolves with the first `n` responses; rejects if the connection ends first.
  async responses(n = 1, timeoutMs = 15_000) {
    return this.until(() => {
      const { responses } = parseResponses(this.buf, this.ended);
      if (responses.length >= n) return responses.slice(0, n);
      if (this.ended) {
        const how = this.error ? ` by ${this.error.code}` : '';
        throw new Error(`connection ended${how} after ${responses.length} of ${n} responses; ` +
          `received: ${JSON.stringify(this.buf.subarray(0, 400).toString('latin1'))}`);
      }
      return null;
    }, timeoutMs, `${n} response(s)`);
  }

  // Resolves when the server has closed (FIN or RST) the connection.
  async closedByPeer(timeoutMs = 15_000) {
    await this.until(() => this.ended, timeoutMs, 'the server to close the connection');
    return parseResponses(this.buf, true).responses;
  }

  destroy() { this.sock.destroy(); }
}

// One request on a fresh connection; returns the first response.
export async function exchange(port, data, { timeoutMs = 15_000 } = {}) {
  const c = await RawConn.open(port);
  try {
    await c.write(data);
    const [r] = await c.responses(1, timeoutMs);
    return r;
  } finally {
    c.destroy();
  }
}

export function httpRequest({ method = 'GET', path = '/', headers = {}, body = '' }) {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1'];
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  if (method !== 'GET' || b.length) lines.push(`Content-Length: ${b.length}`);
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), b]);
}

// `data:` payloads of a server-sent-events body, in order.
export function sseData(text) {
  return text.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim());
}
