// Identity and access end to end: a browser logs in through a real OpenID Provider (npm
// oidc-provider on loopback), creates a key, calls /v1 with the official OpenAI client, is
// downgraded to viewer by an admin (who logged in with MFA) and loses access; logout; key
// rotation with its grace and revocation; every step in the audit log. Session expiry and the
// end of the rotation grace need an injected clock: tests/integration/identity_test.cpp.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { BroServer, backend, freePort } from '../lib/harness.js';
import { Browser, startOidcProvider } from '../lib/browser.js';

describe(`identity: OIDC login, keys, RBAC, audit (${backend})`, () => {
  let provider;
  let server;
  let base;
  const alice = new Browser();
  const admin = new Browser();
  let aliceId;
  let aliceKey;

  const csrfOf = async (b) => (await b.request('GET', `${base}/api/v1/me`)).json.csrf_token;
  const openai = (apiKey) => new OpenAI({ baseURL: server.baseURL, apiKey, maxRetries: 0, timeout: 30_000 });
  const chat = { model: 'echo', messages: [{ role: 'user', content: 'hello through the gate' }] };
  const audit = async (query) => {
    const r = await admin.request('GET', `${base}/api/v1/audit?${query}`);
    assert.equal(r.status, 200, r.text);
    return r.json.data;
  };

  before(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    provider = await startOidcProvider(`${base}/auth/callback`);
    server = await BroServer.start({
      name: 'identity',
      port,
      createKey: false,
      env: { E2E_OIDC_CLIENT_SECRET: provider.clientSecret },
      extraConfig: [
        'auth:',
        '  cookie_secure: false', // plain http on loopback
        '  require_mfa_for_admin: true',
        '  oidc:',
        '    enabled: true',
        `    issuer: "${provider.issuer}"`,
        `    client_id: "${provider.clientId}"`,
        '    client_secret_env: E2E_OIDC_CLIENT_SECRET',
        `    redirect_uri: "${base}/auth/callback"`,
        '    default_role: developer',
        '',
      ].join('\n'),
    });
    // The admin exists before logging in (as an operator would make it with the CLI).
    await server.createKey({ user: 'admin@example.com', role: 'admin', keyName: 'cli' });
  });

  after(async () => {
    await server?.cleanup();
    await provider?.stop();
  });

  it('logs alice in with code + PKCE and a session cookie', async () => {
    const r = await alice.login(base, 'alice', '/settings?tab=keys');
    assert.equal(r.status, 302, r.text);
    assert.equal(r.location, '/settings?tab=keys');
    const set = r.headers.getSetCookie().find((c) => c.startsWith('bro_session='));
    assert.match(set, /HttpOnly/);
    assert.match(set, /SameSite=Lax/);
    const me = await alice.request('GET', `${base}/api/v1/me`);
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.email, 'alice@example.com');
    assert.equal(me.json.role, 'developer');
    assert.equal(me.json.method, 'session');
    assert.equal(me.json.mfa, false);
    aliceId = me.json.id;
  });

  it('an unauthenticated browser gets 401 on /api/v1/me', async () => {
    const r = await new Browser().request('GET', `${base}/api/v1/me`);
    assert.equal(r.status, 401);
  });

  it('creates a key only with the CSRF token, and the key calls /v1 with the OpenAI client', async () => {
    const refused = await alice.request('POST', `${base}/api/v1/keys`, { body: { name: 'laptop' } });
    assert.equal(refused.status, 403);
    assert.equal(refused.json.error.code, 'csrf_failed');
    const r = await alice.request('POST', `${base}/api/v1/keys`, {
      body: { name: 'laptop' }, headers: { 'x-csrf-token': await csrfOf(alice) },
    });
    assert.equal(r.status, 201, r.text);
    aliceKey = r.json.key;
    const list = await alice.request('GET', `${base}/api/v1/keys`);
    assert.equal(list.status, 200);
    assert.ok(!list.text.includes(aliceKey), 'the secret is never listed');
    assert.ok(list.json.data.some((k) => k.prefix === r.json.prefix));

    const answer = await openai(aliceKey).chat.completions.create(chat);
    assert.equal(answer.model, 'echo');
    assert.equal(answer.choices[0].message.content, 'Echo: hello through the gate');
  });

  it('an admin with MFA downgrades alice to viewer, and her key loses chat but keeps models', async () => {
    const r = await admin.login(base, 'admin');
    assert.equal(r.status, 302, r.text);
    const me = (await admin.request('GET', `${base}/api/v1/me`)).json;
    assert.equal(me.role, 'admin');
    assert.equal(me.mfa, true, 'the provider reported amr otp');
    const patch = await admin.request('PATCH', `${base}/api/v1/users/${aliceId}`, {
      body: { role: 'viewer' }, headers: { 'x-csrf-token': me.csrf_token },
    });
    assert.equal(patch.status, 200, patch.text);

    await assert.rejects(openai(aliceKey).chat.completions.create(chat), (err) => {
      assert.equal(err.status, 403);
      assert.equal(err.code, 'insufficient_permissions');
      return true;
    });
    const models = await openai(aliceKey).models.list();
    assert.ok(models.data.some((m) => m.id === 'echo'));
    // Her session follows the role at once too.
    assert.equal((await alice.request('GET', `${base}/api/v1/me`)).json.role, 'viewer');
    const create = await alice.request('POST', `${base}/api/v1/keys`, {
      body: { name: 'again' }, headers: { 'x-csrf-token': await csrfOf(alice) },
    });
    assert.equal(create.status, 403);
  });

  it('a viewer cannot reach admin routes; a failed login is audited without telling why', async () => {
    assert.equal((await alice.request('GET', `${base}/api/v1/audit`)).status, 403);
    const eve = await new Browser().login(base, 'eve');
    assert.equal(eve.status, 401);
    assert.equal(eve.json.error.code, 'login_failed');
    assert.ok(!eve.text.includes('verified'));
  });

  it('rotates a key with a grace period, and a revoked key is refused', async () => {
    const csrf = await csrfOf(admin);
    const made = await admin.request('POST', `${base}/api/v1/keys`, {
      body: { name: 'service', role: 'developer' }, headers: { 'x-csrf-token': csrf },
    });
    assert.equal(made.status, 201, made.text);
    const rotated = await admin.request('POST', `${base}/api/v1/keys/${made.json.id}/rotate`, {
      headers: { 'x-csrf-token': csrf },
    });
    assert.equal(rotated.status, 201, rotated.text);
    assert.notEqual(rotated.json.key, made.json.key);
    for (const key of [made.json.key, rotated.json.key]) {
      const answer = await openai(key).chat.completions.create(chat);
      assert.equal(answer.choices[0].message.content, 'Echo: hello through the gate');
    }
    const revoked = await admin.request('DELETE', `${base}/api/v1/keys/${rotated.json.id}`, {
      headers: { 'x-csrf-token': csrf },
    });
    assert.equal(revoked.status, 200, revoked.text);
    await assert.rejects(openai(rotated.json.key).models.list(), (err) => err.status === 401);
  });

  it('logout destroys the session', async () => {
    const csrf = await csrfOf(alice);
    const cookie = alice.cookies(base).get('bro_session');
    const out = await alice.request('POST', `${base}/auth/logout`, { headers: { 'x-csrf-token': csrf } });
    assert.equal(out.status, 200, out.text);
    assert.equal(alice.cookies(base).get('bro_session'), undefined);
    alice.cookies(base).set('bro_session', cookie); // replaying the old cookie does not help
    assert.equal((await alice.request('GET', `${base}/api/v1/me`)).status, 401);
  });

  it('the audit log shows every step, with the failure reason for admins only', async () => {
    const rows = await audit('limit=200');
    const seen = (action, pred = () => true) => rows.some((r) => r.action === action && pred(r));
    assert.ok(seen('login', (r) => r.actor.email === 'alice@example.com' && r.outcome === 'success'),
      JSON.stringify(rows.map((r) => r.action)));
    assert.ok(seen('login', (r) => r.actor.email === 'admin@example.com' && r.details?.mfa === true));
    assert.ok(seen('key.create'));
    assert.ok(seen('user.role_change'));
    assert.ok(seen('key.rotate'));
    assert.ok(seen('key.revoke'));
    assert.ok(seen('logout'));
    const failures = await audit('action=login&outcome=failure');
    assert.equal(failures.length, 1);
    assert.equal(failures[0].reason, 'email_not_verified');
    const change = (await audit('action=user.role_change'))[0];
    assert.equal(change.details.to, 'viewer');
    assert.equal(change.target.id, aliceId);
  });
});
