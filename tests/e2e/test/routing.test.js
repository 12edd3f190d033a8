// Routing and the response cache through the official client: a model whose first deployment
// is down (connection refused) and whose second answers with 500s falls back to another model;
// the client sees clean answers, streaming included. A cached model answers a repeated request
// from the cache, in another key order too.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { BroServer, backend, freePort } from '../lib/harness.js';
import { MockUpstream } from '../lib/mock_upstream.js';

describe(`routing and response cache (${backend})`, () => {
  let mock;
  let gateway;
  let client;

  before(async () => {
    mock = await new MockUpstream().start();
    const closedPort = await freePort();
    gateway = await BroServer.start({
      name: 'routing',
      providers: [
        { name: 'echo', type: 'echo', token_delay: '0ms' },
        { name: 'mock', type: 'openai', base_url: mock.baseURL, api_key_env: 'MOCK_KEY' },
        { name: 'dead', type: 'openai', base_url: `http://127.0.0.1:${closedPort}/v1`, connect_timeout: '1s' },
      ],
      models: [
        { name: 'echo', provider: 'echo' },
        {
          name: 'resilient',
          deployments: [
            { provider: 'dead', upstream_model: 'x', weight: 5 },
            { provider: 'mock', upstream_model: 'gpt-4o-mini', weight: 1 },
          ],
        },
        { name: 'doomed', provider: 'mock', upstream_model: 'mock-500', fallbacks: ['echo'] },
        { name: 'cached', provider: 'echo', cache: 'true' },
      ],
      env: { MOCK_KEY: 'mock-key' },
    });
    client = new OpenAI({ baseURL: gateway.baseURL, apiKey: gateway.apiKey, maxRetries: 0, timeout: 30_000 });
  });

  after(async () => {
    await gateway?.cleanup();
    await mock?.stop();
  });

  const messages = [{ role: 'user', content: 'Where is Paris?' }];

  it('answers every call although one deployment refuses connections', async () => {
    // The dead deployment is drawn first 5 times in 6 until its circuit opens (5 failures);
    // 30 calls make fewer than 5 such draws practically impossible (p < 1e-14).
    for (let i = 0; i < 30; i++) {
      const r = await client.chat.completions.create({ model: 'resilient', messages });
      assert.equal(r.choices[0].message.role, 'assistant');
    }
    const metrics = await (await fetch(`http://127.0.0.1:${gateway.metricsPort}/metrics`)).text();
    assert.match(metrics, /bro_ai_circuit_state\{model="resilient",deployment="dead\/x"\} 2/);
  });

  it('falls back to another model, streaming, when every deployment fails', async () => {
    const stream = await client.chat.completions.create({ model: 'doomed', messages, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.ok(text.length > 0, 'the fallback (echo) answered');
    const metrics = await (await fetch(`http://127.0.0.1:${gateway.metricsPort}/metrics`)).text();
    assert.match(metrics, /bro_ai_fallbacks_total\{model="doomed"\} 1/);
  });

  it('serves a repeated request from the cache, whatever the key order', async () => {
    const first = await client.chat.completions
      .create({ model: 'cached', messages, temperature: 0.5 })
      .withResponse();
    assert.equal(first.response.headers.get('x-bro-cache'), 'miss');
    const raw = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.apiKey}`, 'content-type': 'application/json' },
      body: `{"temperature":0.50,"messages":[{"content":"Where is Paris?","role":"user"}],"model":"cached"}`,
    });
    assert.equal(raw.headers.get('x-bro-cache'), 'hit');
    assert.deepEqual(await raw.json(), first.data);
  });
});
