// A fake of Anthropic's Messages API (POST /v1/messages) on loopback, answering with the
// response shapes and streaming event sequences Anthropic documents. The model name the
// gateway sends picks the script; every request is recorded.
import http from 'node:http';

const sse = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
const messageStart = (id) => sse('message_start', {
  message: {
    id, type: 'message', role: 'assistant', content: [], model: 'claude-sonnet-4-5',
    stop_reason: null, stop_sequence: null, usage: { input_tokens: 472, output_tokens: 2 },
  },
});
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class FakeAnthropic {
  constructor({ pieceDelayMs = 150 } = {}) {
    this.pieceDelayMs = pieceDelayMs;
    this.requests = [];
    this.sentAt = []; // when each tool-argument piece was written
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  async start() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = this.server.address().port;
    return this;
  }

  get baseURL() { return `http://127.0.0.1:${this.port}`; }

  handle(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      let body = null;
      try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { /* recorded as null */ }
      this.requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      if (req.url !== '/v1/messages' || !body) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'not_found_error', message: 'Not found' } }));
        return;
      }
      if (body.model === 'claude-overloaded') {
        res.writeHead(529, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      if (body.model === 'claude-error-event') {
        res.write(messageStart('msg_fake_err'));
        res.write(sse('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
        res.write(sse('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Partial' } }));
        res.end(sse('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }));
        return;
      }
      await this.toolStream(res);
    });
  }

  // Text, then a get_weather tool_use whose input arrives in pieces, pieceDelayMs apart.
  async toolStream(res) {
    res.write(messageStart('msg_fake_tool'));
    res.write(sse('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }));
    res.write(sse('ping', {}));
    res.write(sse('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Checking the weather.' } }));
    res.write(sse('content_block_stop', { index: 0 }));
    res.write(sse('content_block_start', {
      index: 1, content_block: { type: 'tool_use', id: 'toolu_fake_e2e', name: 'get_weather', input: {} },
    }));
    res.write(sse('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '' } }));
    for (const piece of ['{"city": ', '"Par', 'is", "unit": "c"}']) {
      await sleep(this.pieceDelayMs);
      this.sentAt.push(Date.now());
      res.write(sse('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: piece } }));
    }
    res.write(sse('content_block_stop', { index: 1 }));
    res.write(sse('message_delta', { delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 89 } }));
    res.end(sse('message_stop', {}));
  }

  async stop() {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
