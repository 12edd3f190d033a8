// Fakes of two Google services on loopback, following their published protocols:
// FakeVertex answers Vertex AI's generateContent, streamGenerateContent?alt=sse and predict with
// the response shapes Vertex documents (GenerateContentResponse, SSE framed with CRLF, Google
// error bodies); FakeMetadataServer answers the GCE metadata server's service-account token
// request and, like the real one, refuses requests without `Metadata-Flavor: Google`.
// The model in the URL picks FakeVertex's script; every request is recorded.
import http from 'node:http';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const sse = (obj) => `data: ${JSON.stringify(obj)}\r\n\r\n`;
const responseId = 'fakeVertexResp01';
const reply = (parts, finishReason, usage) => ({
  candidates: [{ content: { role: 'model', parts }, ...(finishReason ? { finishReason } : {}) }],
  ...(usage ? { usageMetadata: usage } : {}),
  modelVersion: 'gemini-2.0-flash-001',
  createTime: '2025-01-21T15:45:09.491785Z',
  responseId,
});

async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  try { return JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { return null; }
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

async function close(server) {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

export class FakeMetadataServer {
  constructor() {
    this.requests = 0;
    this.server = http.createServer((req, res) => {
      this.requests += 1;
      if (req.method !== 'GET' || req.url !== '/computeMetadata/v1/instance/service-accounts/default/token') {
        res.writeHead(404).end('Not Found');
        return;
      }
      if (req.headers['metadata-flavor'] !== 'Google') {
        res.writeHead(403).end('Missing Metadata-Flavor:Google header.');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'metadata-flavor': 'Google' });
      res.end(JSON.stringify({ access_token: `ya29.fake-e2e-${this.requests}`, expires_in: 3599, token_type: 'Bearer' }));
    });
  }

  async start() { this.port = await listen(this.server); return this; }
  get host() { return `127.0.0.1:${this.port}`; }
  stop() { return close(this.server); }
}

export class FakeVertex {
  constructor({ callDelayMs = 150 } = {}) {
    this.callDelayMs = callDelayMs;
    this.requests = [];
    this.finishedAt = 0; // when the tool stream's last event was written
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  async start() { this.port = await listen(this.server); return this; }
  get baseURL() { return `http://127.0.0.1:${this.port}`; }
  stop() { return close(this.server); }

  async handle(req, res) {
    const body = await readJson(req);
    this.requests.push({ method: req.method, url: req.url, headers: req.headers, body });
    const m = /\/publishers\/google\/models\/([^:/]+):([A-Za-z]+)/.exec(req.url);
    if (!m || !body) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 404, message: 'Not found', status: 'NOT_FOUND' } }));
      return;
    }
    const [, model, method] = m;
    if (method === 'predict') {
      const predictions = body.instances.map((inst) => ({
        embeddings: { statistics: { truncated: false, token_count: 3 }, values: [inst.content.length, 0.5, -0.25] },
      }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ predictions, metadata: { billableCharacterCount: 9 } }));
      return;
    }
    if (model === 'gemini-busy') {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '3' });
      res.end(JSON.stringify({ error: { code: 429, message: 'Resource exhausted. Please try again later.', status: 'RESOURCE_EXHAUSTED' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    if (model === 'gemini-broken') {
      res.write(sse(reply([{ text: 'Partial' }])));
      res.end(sse({ error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } }));
      return;
    }
    await this.toolStream(res);
  }

  // Text, then a get_weather call, then the finish with usage, callDelayMs apart.
  async toolStream(res) {
    res.write(sse(reply([{ text: 'Checking the weather.' }])));
    await sleep(this.callDelayMs);
    res.write(sse(reply([{ functionCall: { name: 'get_weather', args: { city: 'Paris', unit: 'c' } } }])));
    await sleep(this.callDelayMs);
    this.finishedAt = Date.now();
    res.end(sse(reply([{ text: '' }], 'STOP', { promptTokenCount: 472, candidatesTokenCount: 89, totalTokenCount: 561 })));
  }
}
