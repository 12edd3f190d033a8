// Key minting by key: a developer key restricted to one model must not be a way to a wider key.
// It cannot create an unrestricted key (and nothing is created), a key it creates without
// naming models inherits its restriction, and it cannot rotate its user's unrestricted key to
// receive that key's successor. The other dimensions (role, expiry, cache_responses) are
// covered by tests/integration/key_containment_test.cpp.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { BroServer, backend } from '../lib/harness.js';

describe(`key minting is contained by the calling key (${backend})`, () => {
  let server;
  let devKey; // the developer's unrestricted key, made with the CLI
  let devUserId;
  let restricted; // { id, key } limited to ["echo"], made with the admin key

  const api = async (method, path, key, body) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(20_000),
    });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, text, json };
  };
  const keyIds = async (key) => {
    const r = await api('GET', '/api/v1/keys', key);
    assert.equal(r.status, 200, r.text);
    return r.json.data.map((k) => k.id).sort();
  };
  const openai = (apiKey) => new OpenAI({ baseURL: server.baseURL, apiKey, maxRetries: 0, timeout: 30_000 });
  const chat = (model) => ({ model, messages: [{ role: 'user', content: 'hi' }] });

  before(async () => {
    server = await BroServer.start({
      name: 'key-minting',
      models: [
        { name: 'echo', provider: 'echo' },
        { name: 'other', provider: 'echo', upstream_model: 'echo-other' },
      ],
    });
    devKey = await server.createKey({ user: 'minting-dev@example.com', role: 'developer' });
    const own = await api('GET', '/api/v1/keys', devKey);
    assert.equal(own.status, 200, own.text);
    devUserId = own.json.data[0].user_id;
    const made = await api('POST', '/api/v1/keys', server.apiKey, {
      name: 'echo-only', role: 'developer', models: ['echo'], user_id: devUserId,
    });
    assert.equal(made.status, 201, made.text);
    restricted = { id: made.json.id, key: made.json.key };
    await openai(restricted.key).chat.completions.create(chat('echo'));
    await assert.rejects(openai(restricted.key).chat.completions.create(chat('other')),
      (err) => err.status === 404);
  });

  after(async () => {
    await server?.cleanup();
  });

  it('a key restricted to ["echo"] cannot mint an unrestricted key, and nothing is created', async () => {
    const ids = await keyIds(restricted.key);
    const r = await api('POST', '/api/v1/keys', restricted.key, { name: 'escalated', models: [] });
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.equal(r.json.error.code, 'insufficient_permissions');
    assert.equal(r.json.error.param, 'models');
    assert.deepEqual(await keyIds(restricted.key), ids, 'no key was created');
    const all = await api('GET', '/api/v1/keys?all=true', server.apiKey);
    assert.ok(!all.json.data.some((k) => k.name === 'escalated'));

    const audit = await api('GET', '/api/v1/audit?action=key.create&outcome=failure', server.apiKey);
    assert.equal(audit.status, 200, audit.text);
    assert.ok(audit.json.data.some((e) => e.reason === 'exceeds_calling_key' &&
      e.actor.method === 'api_key' && e.details.param === 'models'), audit.text);
  });

  it('a key it mints without naming models inherits ["echo"], never every model', async () => {
    const r = await api('POST', '/api/v1/keys', restricted.key, { name: 'inherits' });
    assert.equal(r.status, 201, r.text);
    const listed = (await api('GET', '/api/v1/keys', restricted.key)).json.data.find((k) => k.id === r.json.id);
    assert.deepEqual(listed.allowed_models, ['echo']);
    await assert.rejects(openai(r.json.key).chat.completions.create(chat('other')), (err) => {
      assert.equal(err.status, 404);
      assert.equal(err.code, 'model_not_found');
      return true;
    });
  });

  it('it cannot rotate its user\'s unrestricted key to receive an unrestricted secret', async () => {
    const unrestrictedId = (await api('GET', '/api/v1/keys', devKey)).json.data
      .find((k) => k.allowed_models.length === 0).id;
    const r = await api('POST', `/api/v1/keys/${unrestrictedId}/rotate`, restricted.key);
    assert.equal(r.status, 403, r.text);
    assert.equal(r.json.error.code, 'insufficient_permissions');
    assert.equal(r.json.error.param, 'allowed_models');
    assert.equal(r.json.key, undefined);
    const listed = (await api('GET', '/api/v1/keys', devKey)).json.data.find((k) => k.id === unrestrictedId);
    assert.equal(listed.replaced_by, null, 'no successor was issued');
  });
});
