// The `vertex` provider and /v1/embeddings through the official OpenAI client: bro-ai translates
// to a fake Vertex AI on loopback (tokens from a fake GCE metadata server, found through
// GCE_METADATA_HOST) and back, streaming a tool call; embeddings on echo, on the openai relay
// (to a second bro-ai) and on vertex.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { BroServer, backend } from '../lib/harness.js';
import { FakeMetadataServer, FakeVertex } from '../lib/fake_vertex.js';

const tools = [{
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } }, required: ['city'] },
  },
}];

describe(`vertex provider and embeddings (${backend})`, () => {
  let vertex;
  let metadata;
  let upstream; // bro-ai #2 on echo, behind the openai provider
  let gateway;
  let client;
  let direct;

  before(async () => {
    vertex = await new FakeVertex().start();
    metadata = await new FakeMetadataServer().start();
    upstream = await BroServer.start({ name: 'embed-upstream' });
    gateway = await BroServer.start({
      name: 'vertex',
      providers: [
        { name: 'gemini', type: 'vertex', base_url: vertex.baseURL, project: 'e2e-proj', location: 'us-east5' },
        { name: 'echo', type: 'echo' },
        { name: 'relay', type: 'openai', base_url: upstream.baseURL, api_key_env: 'UPSTREAM_KEY' },
      ],
      models: [
        { name: 'gemini', provider: 'gemini', upstream_model: 'gemini-tool' },
        { name: 'gemini-broken', provider: 'gemini', upstream_model: 'gemini-broken' },
        { name: 'gemini-busy', provider: 'gemini', upstream_model: 'gemini-busy' },
        { name: 'gemini-embed', provider: 'gemini', upstream_model: 'text-embedding-005' },
        { name: 'echo', provider: 'echo' },
        { name: 'relay-embed', provider: 'relay', upstream_model: 'echo' },
      ],
      env: { GCE_METADATA_HOST: metadata.host, UPSTREAM_KEY: upstream.apiKey },
    });
    client = new OpenAI({ baseURL: gateway.baseURL, apiKey: gateway.apiKey, maxRetries: 0, timeout: 30_000 });
    direct = new OpenAI({ baseURL: upstream.baseURL, apiKey: upstream.apiKey, maxRetries: 0, timeout: 30_000 });
  });

  after(async () => {
    const errors = [];
    for (const s of [gateway, upstream]) {
      try { await s?.cleanup(); } catch (e) { errors.push(e); }
    }
    await vertex?.stop();
    await metadata?.stop();
    if (errors.length) throw errors[0];
  });

  it('streams a tool call through Vertex as it arrives', async () => {
    const stream = client.chat.completions.stream({
      model: 'gemini',
      messages: [
        { role: 'system', content: 'You call tools.' },
        { role: 'user', content: 'Weather in Paris?' },
      ],
      tools,
      tool_choice: 'required',
      stream_options: { include_usage: true },
    });
    let callAt = 0;
    stream.on('chunk', (chunk) => {
      if (chunk.choices[0]?.delta?.tool_calls && !callAt) callAt = Date.now();
    });
    const done = await stream.finalChatCompletion();

    const choice = done.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.content, 'Checking the weather.');
    assert.equal(choice.message.tool_calls.length, 1);
    const call = choice.message.tool_calls[0];
    assert.match(call.id, /^call_[0-9a-f]+$/);
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris', unit: 'c' });
    assert.deepEqual(
      [done.usage.prompt_tokens, done.usage.completion_tokens, done.usage.total_tokens], [472, 89, 561]);
    // Forwarded when Vertex sent it, not held until the end of the stream.
    assert.ok(callAt > 0 && callAt < vertex.finishedAt,
      `the call reached the client at ${callAt}, the stream finished at ${vertex.finishedAt}`);

    const seen = vertex.requests.at(-1);
    assert.equal(seen.url,
      '/v1/projects/e2e-proj/locations/us-east5/publishers/google/models/gemini-tool:streamGenerateContent?alt=sse');
    assert.match(seen.headers.authorization, /^Bearer ya29\.fake-e2e-\d+$/);
    assert.deepEqual(seen.body.systemInstruction, { parts: [{ text: 'You call tools.' }] });
    assert.deepEqual(seen.body.contents, [{ role: 'user', parts: [{ text: 'Weather in Paris?' }] }]);
    assert.deepEqual(seen.body.tools, [{
      functionDeclarations: [{
        name: 'get_weather', description: 'Current weather for a city', parametersJsonSchema: tools[0].function.parameters,
      }],
    }]);
    assert.deepEqual(seen.body.toolConfig, { functionCallingConfig: { mode: 'ANY' } });
  });

  it('sends the tool result back as a functionResponse', async () => {
    const stream = await client.chat.completions.create({
      model: 'gemini',
      stream: true,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant', content: null,
          tool_calls: [{ id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
        },
        { role: 'tool', tool_call_id: 'call_abc', content: '18°C and sunny' },
      ],
      tools,
    });
    for await (const chunk of stream) assert.equal(chunk.object, 'chat.completion.chunk');
    assert.deepEqual(vertex.requests.at(-1).body.contents.slice(1), [
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { content: '18°C and sunny' } } }] },
    ]);
    assert.equal(metadata.requests, 1, 'the token is fetched once and cached');
  });

  it('turns an in-band Vertex error into an error the client sees', async () => {
    const stream = await client.chat.completions.create({
      model: 'gemini-broken', stream: true, messages: [{ role: 'user', content: 'hi' }],
    });
    let text = '';
    await assert.rejects(async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    }, (err) => {
      assert.match(String(err.message), /overloaded/);
      return true;
    });
    assert.equal(text, 'Partial');
  });

  it('relays a Vertex 429 with Retry-After', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'gemini-busy', messages: [{ role: 'user', content: 'hi' }] }),
      (err) => {
        assert.equal(err.status, 429);
        assert.equal(err.headers.get('retry-after'), '3');
        assert.match(err.message, /Resource exhausted/);
        return true;
      });
  });

  it('embeds with echo: deterministic unit vectors, base64 by default in the client', async () => {
    const a = await client.embeddings.create({ model: 'echo', input: ['hello', 'world'] });
    const b = await client.embeddings.create({ model: 'echo', input: 'hello', encoding_format: 'float' });
    assert.equal(a.object, 'list');
    assert.equal(a.data.length, 2);
    assert.equal(a.data[0].embedding.length, 16);
    const norm = Math.sqrt(a.data[0].embedding.reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(norm - 1) < 1e-5, `norm ${norm}`);
    // The client decoded base64 float32; the float answer has the same values.
    assert.deepEqual(a.data[0].embedding.map((x) => x.toFixed(6)), b.data[0].embedding.map((x) => x.toFixed(6)));
    assert.notDeepEqual(a.data[0].embedding, a.data[1].embedding);
    assert.ok(a.usage.prompt_tokens > 0);
    assert.equal(a.usage.total_tokens, a.usage.prompt_tokens);
    const wide = await client.embeddings.create({ model: 'echo', input: 'x', dimensions: 64 });
    assert.equal(wide.data[0].embedding.length, 64);
  });

  it('relays embeddings through the openai provider unchanged', async () => {
    const want = await direct.embeddings.create({ model: 'echo', input: ['relay me'] });
    const got = await client.embeddings.create({ model: 'relay-embed', input: ['relay me'] });
    assert.deepEqual(got.data[0].embedding, want.data[0].embedding);
    assert.deepEqual(got.usage, want.usage);
  });

  it('embeds with Vertex text embeddings', async () => {
    const got = await client.embeddings.create({ model: 'gemini-embed', input: ['abc', 'de'], dimensions: 3 });
    assert.deepEqual(got.data.map((d) => d.embedding), [[3, 0.5, -0.25], [2, 0.5, -0.25]]);
    assert.equal(got.model, 'gemini-embed');
    assert.equal(got.usage.prompt_tokens, 6);
    const seen = vertex.requests.at(-1);
    assert.equal(seen.url, '/v1/projects/e2e-proj/locations/us-east5/publishers/google/models/text-embedding-005:predict');
    assert.deepEqual(seen.body, { instances: [{ content: 'abc' }, { content: 'de' }], parameters: { outputDimensionality: 3 } });
  });

  it('refuses hostile embedding inputs with 400', async () => {
    for (const input of [[], '', [[1, 2, 3]], Array(2049).fill('x')]) {
      await assert.rejects(client.embeddings.create({ model: 'echo', input }), (err) => {
        assert.equal(err.status, 400);
        return true;
      });
    }
  });
});
