// A scripted OpenAI-compatible upstream on loopback, for what a second bro-ai
// cannot show: the exact request relayed, upstream failures, and whether the
// upstream request is cancelled when the client goes away.
//
// The behaviour is chosen by the model name the gateway sends upstream.
import http from 'node:http';

export const recordedCompletion = {
  id: 'chatcmpl-recorded-1',
  object: 'chat.completion',
  created: 1732550400,
  model: 'gpt-4o-mini-2024-07-18',
  system_fingerprint: 'fp_e2e',
  choices: [{
    index: 0,
    message: {
      role: 'assistant',
      content: null,
      tool_calls: [{
        id: 'call_e2e_1',
        type: 'function',
        function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      }],
      refusal: null,
    },
    logprobs: null,
    finish_reason: 'tool_calls',
  }],
  usage: { prompt_tokens: 57, completion_tokens: 15, total_tokens: 72 },
};

export class MockUpstream {
  constructor() {
    this.requests = [];
    this.open = new Set();
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  async start() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = this.server.address().port;
    return this;
  }

  get baseURL() { return `http://127.0.0.1:${this.port}/v1`; }

  handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body = null;
      try { body = JSON.parse(raw); } catch { /* recorded as null */ }
      const rec = { method: req.method, url: req.url, headers: req.headers, body, closedEarly: false, finished: false };
      this.requests.push(rec);
      const model = body?.model;
      if (model === 'mock-500') {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'upstream exploded', type: 'server_error', code: null, param: null } }));
      } else if (model === 'mock-hang') {
        this.open.add(res);
        res.on('close', () => this.open.delete(res));
      } else if (model === 'mock-slow-stream') {
        this.slowStream(req, res, rec);
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ...recordedCompletion, model: model ?? recordedCompletion.model }));
      }
    });
  }

  // Streams one token every 100 ms for up to 60 s, noting whether the gateway
  // closed the connection before the end.
  slowStream(req, res, rec) {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    this.open.add(res);
    let n = 0;
    const timer = setInterval(() => {
      n += 1;
      if (n > 600) {
        clearInterval(timer);
        res.write('data: [DONE]\n\n');
        rec.finished = true;
        res.end();
        return;
      }
      const chunk = {
        id: 'chatcmpl-slow', object: 'chat.completion.chunk', created: 1732550400, model: 'mock-slow-stream',
        choices: [{ index: 0, delta: n === 1 ? { role: 'assistant', content: 'tok ' } : { content: 'tok ' }, finish_reason: null }],
      };
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
    }, 100);
    res.on('close', () => {
      clearInterval(timer);
      this.open.delete(res);
      if (!rec.finished) rec.closedEarly = true;
    });
  }

  async stop() {
    for (const res of this.open) res.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
