// The official OpenAI client against bro-ai's built-in echo model.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { BroServer, backend } from '../lib/harness.js';

describe(`OpenAI client on echo (${backend})`, () => {
  let server;
  let client;

  before(async () => {
    server = await BroServer.start({ name: 'client' });
    client = new OpenAI({ baseURL: server.baseURL, apiKey: server.apiKey, maxRetries: 0, timeout: 30_000 });
  });

  after(async () => {
    await server?.cleanup();
  });

  const messages = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'First question, ignored by echo.' },
    { role: 'assistant', content: 'Sure.' },
    { role: 'user', content: 'Hello bro-ai, please repeat this sentence back to me.' },
  ];
  const expected = 'Echo: Hello bro-ai, please repeat this sentence back to me.';

  it('lists models', async () => {
    const page = await client.models.list();
    const ids = page.data.map((m) => m.id);
    assert.ok(ids.includes('echo'), `models: ${JSON.stringify(ids)}`);
    for (const m of page.data) assert.equal(m.object, 'model');
  });

  it('answers a non-streaming chat completion', async () => {
    const r = await client.chat.completions.create({ model: 'echo', messages });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.model, 'echo');
    assert.ok(r.id);
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].index, 0);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(r.choices[0].message.content, expected);
    assert.ok(r.usage.prompt_tokens > 0, 'prompt_tokens');
    assert.ok(r.usage.completion_tokens > 0, 'completion_tokens');
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
    // ~4 characters per token: generous bounds, not an exact tokenizer.
    assert.ok(r.usage.completion_tokens >= expected.length / 8 && r.usage.completion_tokens <= expected.length,
      `completion_tokens ${r.usage.completion_tokens} for ${expected.length} chars`);
    const promptChars = messages.reduce((n, m) => n + m.content.length, 0);
    assert.ok(r.usage.prompt_tokens >= promptChars / 8, `prompt_tokens ${r.usage.prompt_tokens} for ${promptChars} chars`);
  });

  it('streams the same content with usage when include_usage is set', async () => {
    const plain = await client.chat.completions.create({ model: 'echo', messages });
    const stream = await client.chat.completions.create({
      model: 'echo', messages, stream: true, stream_options: { include_usage: true },
    });
    let content = '';
    let chunks = 0;
    let finish = null;
    let usage = null;
    let afterUsage = 0;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      if (usage) afterUsage += 1;
      if (chunk.usage) {
        usage = chunk.usage;
        assert.deepEqual(chunk.choices, [], 'the usage chunk has empty choices');
        continue;
      }
      const c = chunk.choices[0];
      if (c.delta?.content) { content += c.delta.content; chunks += 1; }
      if (c.finish_reason) finish = c.finish_reason;
    }
    assert.equal(content, plain.choices[0].message.content);
    assert.ok(chunks > 1, `content came in ${chunks} chunk(s)`);
    assert.equal(finish, 'stop');
    assert.ok(usage, 'a usage chunk was streamed');
    assert.equal(afterUsage, 0, 'the usage chunk is the last one');
    assert.deepEqual(
      { p: usage.prompt_tokens, c: usage.completion_tokens, t: usage.total_tokens },
      { p: plain.usage.prompt_tokens, c: plain.usage.completion_tokens, t: plain.usage.total_tokens });
  });

  it('streams without a usage chunk when include_usage is not set', async () => {
    const stream = await client.chat.completions.create({ model: 'echo', messages, stream: true });
    let content = '';
    for await (const chunk of stream) {
      assert.ok(!chunk.usage, `unexpected usage chunk ${JSON.stringify(chunk)}`);
      content += chunk.choices[0]?.delta?.content ?? '';
    }
    assert.equal(content, expected);
  });

  it('accepts tools and tool_choice', async () => {
    const r = await client.chat.completions.create({
      model: 'echo',
      messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
      tools: [{
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Current weather for a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        },
      }],
      tool_choice: 'auto',
      temperature: 0.2,
      max_tokens: 64,
      user: 'e2e',
    });
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(r.choices[0].message.content, 'Echo: What is the weather in Paris?');
  });

  it('rejects a wrong key with AuthenticationError 401', async () => {
    const bad = new OpenAI({ baseURL: server.baseURL, apiKey: 'bro-not-a-real-key', maxRetries: 0 });
    await assert.rejects(bad.chat.completions.create({ model: 'echo', messages }), (e) => {
      assert.ok(e instanceof OpenAI.AuthenticationError, `got ${e?.constructor?.name}: ${e?.message}`);
      assert.equal(e.status, 401);
      assert.equal(e.code, 'invalid_api_key');
      return true;
    });
    await assert.rejects(bad.models.list(), OpenAI.AuthenticationError);
  });

  it('rejects a missing key with 401', async () => {
    const res = await fetch(`${server.baseURL}/models`);
    assert.equal(res.status, 401);
    const body = await res.json();
    assert.equal(body.error.code, 'invalid_api_key');
    assert.equal(typeof body.error.message, 'string');
    assert.ok('type' in body.error && 'param' in body.error, JSON.stringify(body));
  });

  it('rejects an unknown model with NotFoundError 404', async () => {
    await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages }), (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError, `got ${e?.constructor?.name}: ${e?.message}`);
      assert.equal(e.status, 404);
      assert.equal(e.code, 'model_not_found');
      return true;
    });
    await assert.rejects(
      client.chat.completions.create({ model: 'no-such-model', messages, stream: true }),
      OpenAI.NotFoundError);
  });

  it('accepts a key made for a developer', async () => {
    const key = await server.createKey({ user: 'dev@example.com', role: 'developer' });
    const dev = new OpenAI({ baseURL: server.baseURL, apiKey: key, maxRetries: 0 });
    const r = await dev.chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(r.choices[0].message.content, 'Echo: hi');
  });
});
