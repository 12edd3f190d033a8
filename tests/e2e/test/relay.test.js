// The `openai` provider: bro-ai #1 relays to bro-ai #2 (echo) and to a
// scripted upstream, all on loopback.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { BroServer, backend, freePort, waitFor } from '../lib/harness.js';
import { MockUpstream, recordedCompletion } from '../lib/mock_upstream.js';

const MOCK_KEY = 'mock-upstream-key-e2e';

describe(`openai provider relay (${backend})`, () => {
  let upstream; // bro-ai #2 on echo
  let gateway; // bro-ai #1
  let mock;
  let direct; // client of #2
  let client; // client of #1

  before(async () => {
    upstream = await BroServer.start({ name: 'upstream' });
    mock = await new MockUpstream().start();
    const closedPort = await freePort();
    gateway = await BroServer.start({
      name: 'gateway',
      providers: [
        { name: 'up', type: 'openai', base_url: upstream.baseURL, api_key_env: 'UPSTREAM_KEY' },
        { name: 'mock', type: 'openai', base_url: mock.baseURL, api_key_env: 'MOCK_KEY' },
        {
          name: 'mockfast', type: 'openai', base_url: mock.baseURL, api_key_env: 'MOCK_KEY',
          connect_timeout: '1s', first_token_timeout: '1s', total_timeout: '2s',
        },
        {
          name: 'dead', type: 'openai', base_url: `http://127.0.0.1:${closedPort}/v1`, api_key_env: 'MOCK_KEY',
          connect_timeout: '2s',
        },
      ],
      models: [
        { name: 'relay', provider: 'up', upstream_model: 'echo' },
        { name: 'tools', provider: 'mock', upstream_model: 'gpt-4o-mini' },
        { name: 'broken', provider: 'mock', upstream_model: 'mock-500' },
        { name: 'slow', provider: 'mock', upstream_model: 'mock-slow-stream' },
        { name: 'hang', provider: 'mockfast', upstream_model: 'mock-hang' },
        { name: 'refused', provider: 'dead', upstream_model: 'anything' },
      ],
      env: { UPSTREAM_KEY: upstream.apiKey, MOCK_KEY },
    });
    direct = new OpenAI({ baseURL: upstream.baseURL, apiKey: upstream.apiKey, maxRetries: 0, timeout: 30_000 });
    client = new OpenAI({ baseURL: gateway.baseURL, apiKey: gateway.apiKey, maxRetries: 0, timeout: 30_000 });
  });

  after(async () => {
    const errors = [];
    for (const s of [gateway, upstream]) {
      try { await s?.cleanup(); } catch (e) { errors.push(e); }
    }
    await mock?.stop();
    if (errors.length) throw errors[0];
  });

  const messages = [
    { role: 'system', content: 'Relay test.' },
    { role: 'user', content: 'Through two gateways and back again, unchanged.' },
  ];

  it('lists the relay model', async () => {
    const ids = (await client.models.list()).data.map((m) => m.id);
    for (const id of ['relay', 'tools', 'broken']) assert.ok(ids.includes(id), `${id} missing from ${ids}`);
  });

  it('relays a non-streaming completion with the same content and usage', async () => {
    const want = await direct.chat.completions.create({ model: 'echo', messages });
    const got = await client.chat.completions.create({ model: 'relay', messages });
    assert.equal(got.choices[0].message.content, 'Echo: Through two gateways and back again, unchanged.');
    assert.equal(got.choices[0].message.content, want.choices[0].message.content);
    assert.equal(got.choices[0].finish_reason, 'stop');
    assert.deepEqual(
      [got.usage.prompt_tokens, got.usage.completion_tokens, got.usage.total_tokens],
      [want.usage.prompt_tokens, want.usage.completion_tokens, want.usage.total_tokens]);
  });

  it('relays a stream with the same content and usage', async () => {
    const want = await direct.chat.completions.create({ model: 'echo', messages });
    const stream = await client.chat.completions.create({
      model: 'relay', messages, stream: true, stream_options: { include_usage: true },
    });
    let content = '';
    let usage = null;
    let finish = null;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      const c = chunk.choices[0];
      if (c?.delta?.content) content += c.delta.content;
      if (c?.finish_reason) finish = c.finish_reason;
    }
    assert.equal(content, want.choices[0].message.content);
    assert.equal(finish, 'stop');
    assert.ok(usage, 'usage chunk relayed');
    assert.deepEqual(
      [usage.prompt_tokens, usage.completion_tokens, usage.total_tokens],
      [want.usage.prompt_tokens, want.usage.completion_tokens, want.usage.total_tokens]);
  });

  it('relays a stream without usage when the client did not ask for it', async () => {
    const stream = await client.chat.completions.create({ model: 'relay', messages, stream: true });
    let content = '';
    for await (const chunk of stream) {
      assert.ok(!chunk.usage, `usage chunk sent without include_usage: ${JSON.stringify(chunk)}`);
      content += chunk.choices[0]?.delta?.content ?? '';
    }
    assert.equal(content, 'Echo: Through two gateways and back again, unchanged.');
  });

  it('passes tools through unchanged, with the upstream model and key', async () => {
    const tools = [{
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Current weather for a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        strict: true,
      },
    }];
    const toolChoice = { type: 'function', function: { name: 'get_weather' } };
    mock.requests.length = 0;
    const r = await client.chat.completions.create({
      model: 'tools', messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools, tool_choice: toolChoice, parallel_tool_calls: false, temperature: 0,
    });
    assert.equal(mock.requests.length, 1);
    const seen = mock.requests[0];
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/v1/chat/completions');
    assert.equal(seen.headers.authorization, `Bearer ${MOCK_KEY}`, 'the upstream key, never the client key');
    assert.equal(seen.body.model, 'gpt-4o-mini');
    assert.deepEqual(seen.body.tools, tools);
    assert.deepEqual(seen.body.tool_choice, toolChoice);
    assert.equal(seen.body.parallel_tool_calls, false);
    assert.equal(seen.body.temperature, 0);
    assert.deepEqual(seen.body.messages, [{ role: 'user', content: 'Weather in Paris?' }]);
    assert.deepEqual(r.choices[0].message.tool_calls, recordedCompletion.choices[0].message.tool_calls);
    assert.equal(r.choices[0].finish_reason, 'tool_calls');
    assert.deepEqual(r.usage.prompt_tokens, recordedCompletion.usage.prompt_tokens);
    assert.deepEqual(r.usage.completion_tokens, recordedCompletion.usage.completion_tokens);
  });

  it('relays tools to bro-ai #2 too', async () => {
    const r = await client.chat.completions.create({
      model: 'relay', messages: [{ role: 'user', content: 'tool time' }],
      tools: [{ type: 'function', function: { name: 'noop', parameters: { type: 'object', properties: {} } } }],
    });
    assert.equal(r.choices[0].message.content, 'Echo: tool time');
  });

  it('rejects a wrong key and an unknown model before going upstream', async () => {
    const bad = new OpenAI({ baseURL: gateway.baseURL, apiKey: 'bro-wrong-key', maxRetries: 0 });
    await assert.rejects(bad.chat.completions.create({ model: 'relay', messages }), (e) =>
      e instanceof OpenAI.AuthenticationError && e.status === 401 && e.code === 'invalid_api_key');
    await assert.rejects(client.chat.completions.create({ model: 'echo', messages }), (e) =>
      e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
  });

  async function expectError(model, status, { stream = false } = {}) {
    const res = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages, stream }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    assert.equal(res.status, status, `POST model=${model} stream=${stream}: ${res.status} ${text}`);
    const body = JSON.parse(text);
    assert.equal(typeof body.error?.message, 'string', text);
    assert.ok('type' in body.error && 'code' in body.error, text);
    return body;
  }

  it('answers 502 when the upstream answers 5xx', async () => {
    const body = await expectError('broken', 502);
    assert.ok(!JSON.stringify(body).includes(MOCK_KEY), 'upstream key leaked into the error');
  });

  it('answers 502 when the upstream refuses the connection', async () => {
    await expectError('refused', 502);
    await expectError('refused', 502, { stream: true });
  });

  it('answers 504 when the upstream does not answer in time', async () => {
    await expectError('hang', 504);
  });

  it('cancels the upstream request when the client disconnects mid-stream', async () => {
    mock.requests.length = 0;
    const ac = new AbortController();
    const res = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'slow', messages, stream: true }),
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    const first = await reader.read();
    assert.ok(!first.done && first.value.length > 0, 'got a first chunk');
    ac.abort();
    await waitFor(() => mock.requests[0]?.closedEarly, {
      timeoutMs: 15_000, what: 'the gateway to close its upstream request',
    });
    const r = await client.chat.completions.create({ model: 'relay', messages });
    assert.equal(r.choices[0].message.content, 'Echo: Through two gateways and back again, unchanged.');
  });

  it('keeps both servers healthy', async () => {
    for (const s of [gateway, upstream]) {
      assert.equal((await fetch(`${s.url}/health`)).status, 200);
      assert.ok(s.isRunning());
    }
  });
});
