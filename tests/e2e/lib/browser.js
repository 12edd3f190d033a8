// What the identity tests need of a browser: a cookie jar per origin and redirects followed by
// hand (so that each hop can be checked), plus the local OpenID Provider as a child process.
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export class Browser {
  constructor() {
    this.jar = new Map(); // origin -> Map(name -> value)
  }

  cookies(origin) {
    if (!this.jar.has(origin)) this.jar.set(origin, new Map());
    return this.jar.get(origin);
  }

  async request(method, url, { body, headers = {} } = {}) {
    const u = new URL(url);
    const jar = this.cookies(u.origin);
    const h = { ...headers };
    if (jar.size) h.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body !== undefined) h['content-type'] = 'application/json';
    const res = await fetch(u, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'manual',
      signal: AbortSignal.timeout(20_000),
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (!value || expired) jar.delete(name);
      else jar.set(name, value);
    }
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, location: res.headers.get('location'), text, json, headers: res.headers };
  }

  // GET /auth/login on `base`, then every redirect through the provider (logging in as `user`
  // at its interaction step) up to and including bro-ai's /auth/callback answer.
  async login(base, user, returnTo = '/') {
    let url = `${base}/auth/login?return_to=${encodeURIComponent(returnTo)}`;
    let r = await this.request('GET', url);
    for (let hops = 0; hops < 12 && r.status >= 300 && r.status < 400; hops++) {
      const next = new URL(r.location, url);
      if (next.pathname.startsWith('/interaction/')) next.searchParams.set('as', user);
      url = next.href;
      r = await this.request('GET', url);
      if (next.href.startsWith(`${base}/auth/callback`)) return r;
    }
    throw new Error(`login of ${user} did not reach the callback: ${r.status} ${r.text}`);
  }
}

// tests/e2e/lib/oidc_provider.js on a free loopback port; resolves once it listens.
export async function startOidcProvider(redirectUri) {
  const child = spawn(process.execPath, [path.join(here, 'oidc_provider.js'), '--redirect-uri', redirectUri], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const line = await new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`oidc provider exited ${code} before it was ready`)));
  });
  const { issuer } = JSON.parse(line);
  return {
    issuer,
    clientId: 'bro-ai-test',
    clientSecret: 'bro-ai-test-secret-0123456789abcdef',
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
