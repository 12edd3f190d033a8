// Two bro-ai replicas sharing PostgreSQL and Redis (as behind a load balancer): a session made
// on one works on the other and a logout on either ends it; a key revoked on one is refused by
// the other once its key cache entry expires (auth.key_cache_ttl). Runs when the suite runs on
// PostgreSQL and BRO_TEST_REDIS_URL is set (tools/ci/with-services.sh); skipped otherwise.
// The user is the provider's "other" (bob@other.test): identity.test.js, which shares the
// database in the same run, downgrades alice.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { BroServer, backend, freePort, waitFor } from '../lib/harness.js';
import { Browser, startOidcProvider } from '../lib/browser.js';

const redisUrl = process.env.BRO_TEST_REDIS_URL || '';
const skip = backend !== 'postgres' ? 'needs the PostgreSQL run'
  : !redisUrl ? 'BRO_TEST_REDIS_URL is not set' : false;

describe(`identity across two replicas (${backend})`, { skip }, () => {
  let provider;
  let a;
  let b;
  const browser = new Browser();

  const authConfig = (base) => [
    'auth:',
    '  cookie_secure: false',
    '  key_cache_ttl: 1s',
    '  oidc:',
    '    enabled: true',
    `    issuer: "${provider.issuer}"`,
    `    client_id: "${provider.clientId}"`,
    '    client_secret_env: E2E_OIDC_CLIENT_SECRET',
    `    redirect_uri: "${base}/auth/callback"`,
    '    default_role: developer',
    'redis:',
    '  key_prefix: "e2e-replicas:"',
    '',
  ].join('\n');

  before(async () => {
    const portA = await freePort();
    provider = await startOidcProvider(`http://127.0.0.1:${portA}/auth/callback`);
    const env = { E2E_OIDC_CLIENT_SECRET: provider.clientSecret, REDIS_URL: redisUrl };
    a = await BroServer.start({
      name: 'replica-a', port: portA, createKey: false, env,
      extraConfig: authConfig(`http://127.0.0.1:${portA}`),
    });
    b = await BroServer.start({
      name: 'replica-b', createKey: false, migrate: false, env,
      extraConfig: authConfig(`http://127.0.0.1:${portA}`),
    });
  });

  after(async () => {
    await a?.cleanup();
    await b?.cleanup();
    await provider?.stop();
  });

  it('both replicas keep sessions in Redis', async () => {
    for (const s of [a, b]) {
      await waitFor(() => /"backend":"redis"/.test(s.logTail(200)), { what: `${s.name} to log its store` });
    }
  });

  it('a session made on one replica works on the other, and a logout on the other ends it', async () => {
    const r = await browser.login(a.url, 'other');
    assert.equal(r.status, 302, r.text);
    const cookie = browser.cookies(a.url).get('bro_session');
    assert.ok(cookie);
    // Cookies are per host, not per port: the browser sends the same cookie to both.
    browser.cookies(b.url).set('bro_session', cookie);
    const onB = await browser.request('GET', `${b.url}/api/v1/me`);
    assert.equal(onB.status, 200, onB.text);
    assert.equal(onB.json.email, 'bob@other.test');
    assert.equal(onB.json.method, 'session');

    const out = await browser.request('POST', `${b.url}/auth/logout`, {
      headers: { 'x-csrf-token': onB.json.csrf_token },
    });
    assert.equal(out.status, 200, out.text);
    assert.equal((await browser.request('GET', `${a.url}/api/v1/me`)).status, 401);
  });

  it('a key revoked on one replica is refused by the other within the cache TTL', async () => {
    const login = new Browser();
    assert.equal((await login.login(a.url, 'other')).status, 302);
    const me = (await login.request('GET', `${a.url}/api/v1/me`)).json;
    const made = await login.request('POST', `${a.url}/api/v1/keys`, {
      body: { name: 'replicated' }, headers: { 'x-csrf-token': me.csrf_token },
    });
    assert.equal(made.status, 201, made.text);
    const onB = new OpenAI({ baseURL: b.baseURL, apiKey: made.json.key, maxRetries: 0 });
    assert.ok((await onB.models.list()).data.length > 0, 'B accepts (and caches) the key');

    const revoked = await login.request('DELETE', `${a.url}/api/v1/keys/${made.json.id}`, {
      headers: { 'x-csrf-token': me.csrf_token },
    });
    assert.equal(revoked.status, 200, revoked.text);
    await waitFor(async () => {
      try {
        await onB.models.list();
        return false;
      } catch (err) {
        return err.status === 401;
      }
    }, { timeoutMs: 15_000, what: 'replica B to refuse the revoked key' });
  });
});
