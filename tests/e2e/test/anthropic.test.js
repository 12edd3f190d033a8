// The `anthropic` provider through the official OpenAI client: bro-ai translates to a fake
// Anthropic Messages API on loopback and back, streaming a tool call piece by piece.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { BroServer, backend } from '../lib/harness.js';
import { FakeAnthropic } from '../lib/fake_anthropic.js';

const ANTHROPIC_KEY = 'sk-ant-fake-e2e';

const tools = [{
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } }, required: ['city'] },
  },
}];

describe(`anthropic provider (${backend})`, () => {
  let fake;
  let gateway;
  let client;

  before(async () => {
    fake = await new FakeAnthropic().start();
    gateway = await BroServer.start({
      name: 'anthropic',
      providers: [{
        name: 'claude', type: 'anthropic', base_url: fake.baseURL, api_key_env: 'ANTHROPIC_KEY',
        max_tokens_default: 2048,
      }],
      models: [
        { name: 'claude', provider: 'claude', upstream_model: 'claude-tool' },
        { name: 'claude-broken', provider: 'claude', upstream_model: 'claude-error-event' },
        { name: 'claude-busy', provider: 'claude', upstream_model: 'claude-overloaded' },
      ],
      env: { ANTHROPIC_KEY },
    });
    client = new OpenAI({ baseURL: gateway.baseURL, apiKey: gateway.apiKey, maxRetries: 0, timeout: 30_000 });
  });

  after(async () => {
    try { await gateway?.cleanup(); } finally { await fake?.stop(); }
  });

  it('streams a tool call with its arguments as they arrive', async () => {
    const stream = client.chat.completions.stream({
      model: 'claude',
      messages: [
        { role: 'system', content: 'You call tools.' },
        { role: 'user', content: 'Weather in Paris?' },
      ],
      tools,
      tool_choice: 'required',
      stream_options: { include_usage: true },
    });
    const pieces = [];
    stream.on('chunk', (chunk) => {
      for (const call of chunk.choices[0]?.delta?.tool_calls ?? []) {
        if (call.function?.arguments) pieces.push({ at: Date.now(), text: call.function.arguments });
      }
    });
    const done = await stream.finalChatCompletion();

    const choice = done.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, 'Checking the weather.');
    assert.equal(choice.message.tool_calls.length, 1);
    const call = choice.message.tool_calls[0];
    assert.equal(call.id, 'toolu_fake_e2e');
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris', unit: 'c' });
    assert.deepEqual(
      [done.usage.prompt_tokens, done.usage.completion_tokens, done.usage.total_tokens], [472, 89, 561]);

    // Forwarded piece by piece, not buffered to the end of the stream.
    assert.deepEqual(pieces.map((p) => p.text), ['{"city": ', '"Par', 'is", "unit": "c"}']);
    assert.ok(pieces[0].at < fake.sentAt[2],
      `first piece reached the client at ${pieces[0].at}, after the last was sent at ${fake.sentAt[2]}`);

    const seen = fake.requests.at(-1);
    assert.equal(seen.url, '/v1/messages');
    assert.equal(seen.headers['x-api-key'], ANTHROPIC_KEY);
    assert.equal(seen.headers['anthropic-version'], '2023-06-01');
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(seen.body.model, 'claude-tool');
    assert.equal(seen.body.system, 'You call tools.');
    assert.equal(seen.body.max_tokens, 2048);
    assert.equal(seen.body.stream, true);
    assert.deepEqual(seen.body.tool_choice, { type: 'any' });
    assert.deepEqual(seen.body.tools, [{
      name: 'get_weather', description: 'Current weather for a city', input_schema: tools[0].function.parameters,
    }]);
  });

  it('sends the tool result back as an Anthropic tool_result', async () => {
    const stream = await client.chat.completions.create({
      model: 'claude',
      stream: true,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant', content: null,
          tool_calls: [{ id: 'toolu_fake_e2e', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
        },
        { role: 'tool', tool_call_id: 'toolu_fake_e2e', content: '18°C and sunny' },
      ],
      tools,
    });
    for await (const chunk of stream) assert.equal(chunk.object, 'chat.completion.chunk');
    const seen = fake.requests.at(-1).body;
    assert.deepEqual(seen.messages.slice(1), [
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_fake_e2e', name: 'get_weather', input: { city: 'Paris' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_fake_e2e', content: '18°C and sunny' }] },
    ]);
  });

  it('turns an in-band Anthropic error into an error the client sees', async () => {
    const stream = await client.chat.completions.create({
      model: 'claude-broken', stream: true, messages: [{ role: 'user', content: 'hi' }],
    });
    let text = '';
    await assert.rejects(async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    }, (err) => {
      assert.match(String(err.message), /Overloaded/);
      return true;
    });
    assert.equal(text, 'Partial');
  });

  it('maps an overloaded Anthropic (529) to 502', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'claude-busy', messages: [{ role: 'user', content: 'hi' }] }),
      (err) => err.status === 502);
  });
});
