// Starts and stops real bro-ai processes for black-box tests.
//
// Every process gets its own temp dir, free loopback ports and a fresh SQLite
// database (or the PostgreSQL database named by E2E_DATABASE_URL). PIDs are
// appended to E2E_PID_FILE so that run.sh can reap them if this process dies.
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..', '..');
export const binPath = process.env.BRO_AI_BIN || path.join(repoRoot, 'build', 'release', 'bro-ai');
export const postgresUrl = process.env.E2E_DATABASE_URL || '';
export const backend = postgresUrl ? 'postgres' : 'sqlite';

// One HMAC secret per test process: on a shared PostgreSQL database, keys made
// by one server must not be confused with another run's.
const keySecret = randomBytes(32).toString('hex');
const tmpRoot = process.env.E2E_TMP || os.tmpdir();
const live = new Set();

process.on('exit', () => {
  for (const child of live) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Scalars are quoted strings; lists and mappings (deployments, fallbacks) are JSON, which YAML
// reads as flow collections.
function yamlScalar(v) {
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : JSON.stringify(String(v));
}

function yamlList(items) {
  if (!items.length) return ' []\n';
  return '\n' + items.map((item) =>
    Object.entries(item)
      .map(([k, v], i) => `${i === 0 ? '  - ' : '    '}${k}: ${yamlScalar(v)}`)
      .join('\n')).join('\n') + '\n';
}

// Environment for a child: the caller's, minus anything that would configure
// bro-ai behind the test's back.
function childEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('BRO_') || k === 'DATABASE_URL') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

function run(args, env, timeoutMs = 60_000) {
  return new Promise((resolve) => {
    execFile(binPath, args, { env, timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, signal: err?.signal ?? null, stdout, stderr, error: err });
    });
  });
}

export async function runCli(args, { env = {}, timeoutMs } = {}) {
  return run(args, childEnv({ BRO_KEY_SECRET: keySecret, ...env }), timeoutMs);
}

export class BroServer {
  static async start({
    name = 'bro',
    providers = [{ name: 'echo', type: 'echo', token_delay: '0ms' }],
    models = [{ name: 'echo', provider: 'echo' }],
    env = {},
    bootstrapAdmin = false,
    createKey = true,
    migrate = true,
  } = {}) {
    const s = new BroServer();
    s.name = name;
    s.dir = mkdtempSync(path.join(tmpRoot, `${name}-`));
    s.port = await freePort();
    s.metricsPort = await freePort();
    s.dbUrl = postgresUrl || `sqlite://${path.join(s.dir, 'bro.db')}`;
    s.configPath = path.join(s.dir, 'app.yaml');
    writeFileSync(s.configPath, [
      'server:',
      '  host: 127.0.0.1',
      `  port: ${s.port}`,
      '  io_threads: 2',
      'logging:',
      '  level: info',
      '  format: json',
      'metrics:',
      '  enabled: true',
      '  host: 127.0.0.1',
      `  port: ${s.metricsPort}`,
      'usage:',
      '  flush_interval: 200ms',
      'providers:' + yamlList(providers),
      'models:' + yamlList(models),
    ].join('\n'));
    s.env = childEnv({
      DATABASE_URL: s.dbUrl,
      BRO_KEY_SECRET: keySecret,
      BRO_AUTH_BOOTSTRAP_ADMIN: bootstrapAdmin ? 'true' : 'false',
      ...env,
    });
    if (migrate) {
      const mig = await run(['migrate', '--config', s.configPath], s.env);
      if (mig.code !== 0) {
        throw new Error(`${name}: bro-ai migrate exited ${mig.code}: ${mig.stderr}${mig.stdout}`);
      }
    }
    if (createKey) s.apiKey = await s.createKey({ user: `e2e-${name}@example.com`, role: 'admin' });
    await s.spawn();
    return s;
  }

  async createKey({ user, role = 'developer', keyName = 'e2e' }) {
    const r = await run(['admin', 'create-key', '--config', this.configPath, '--user', user,
      '--role', role, '--name', keyName], this.env);
    if (r.code !== 0) throw new Error(`${this.name}: create-key exited ${r.code}: ${r.stderr}`);
    const key = r.stdout.trim();
    if (!key || /\s/.test(key)) {
      throw new Error(`${this.name}: create-key must print only the key, printed ${JSON.stringify(r.stdout)}`);
    }
    return key;
  }

  async spawn() {
    this.logPath = path.join(this.dir, 'serve.log');
    const fd = openSync(this.logPath, 'a');
    this.child = spawn(binPath, ['serve', '--config', this.configPath], {
      env: this.env,
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    live.add(this.child);
    if (process.env.E2E_PID_FILE) appendFileSync(process.env.E2E_PID_FILE, `${this.child.pid}\n`);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        live.delete(this.child);
        resolve({ code, signal });
      });
    });
    let done = false;
    this.exited.then(() => { done = true; });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (done) throw new Error(`${this.name}: bro-ai serve exited before ready\n${this.logTail()}`);
      try {
        const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(1000) });
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    throw new Error(`${this.name}: /health not 200 within 30 s\n${this.logTail()}`);
  }

  get url() { return `http://127.0.0.1:${this.port}`; }
  get baseURL() { return `${this.url}/v1`; }
  get metricsUrl() { return `http://127.0.0.1:${this.metricsPort}/metrics`; }
  get pid() { return this.child.pid; }

  logTail(lines = 40) {
    try {
      const all = readFileSync(this.logPath, 'utf8').trimEnd().split('\n');
      return `--- ${this.logPath} (last ${lines} lines) ---\n${all.slice(-lines).join('\n')}`;
    } catch {
      return `(no log at ${this.logPath})`;
    }
  }

  isRunning() { return live.has(this.child); }

  signal(sig) { process.kill(this.child.pid, sig); }

  // Sends `sig` and waits for the exit; SIGKILL after `hangMs` so a hung
  // server fails the test instead of the whole run.
  async stop({ sig = 'SIGTERM', hangMs = 40_000 } = {}) {
    if (!this.child || !this.isRunning()) return this.exited;
    this.signal(sig);
    const timer = setTimeout(() => {
      try { process.kill(this.child.pid, 'SIGKILL'); } catch { /* gone */ }
    }, hangMs);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }

  // Stops the server with SIGTERM and removes its temp dir. Throws, keeping
  // the dir and quoting the log, unless it exited with code 0.
  async cleanup() {
    const r = await this.stop();
    if (r.code !== 0) {
      throw new Error(`${this.name}: exited ${JSON.stringify(r)} after SIGTERM, expected code 0\n${this.logTail()}`);
    }
    if (!process.env.E2E_KEEP) rmSync(this.dir, { recursive: true, force: true });
    return r;
  }
}

// Number of rows in usage_records, read straight from the database with the
// sqlite3 / psql command-line client; null when that client is missing.
export async function countUsageRecords(server) {
  const sql = 'SELECT count(*) FROM usage_records;';
  const tool = server.dbUrl.startsWith('sqlite://')
    ? ['sqlite3', ['-cmd', '.timeout 10000', server.dbUrl.slice('sqlite://'.length), sql]]
    : ['psql', ['-X', '-At', '-c', sql, server.dbUrl]];
  return new Promise((resolve, reject) => {
    execFile(tool[0], tool[1], { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err?.code === 'ENOENT') return resolve(null);
      if (err) return reject(new Error(`${tool[0]}: ${stderr || err.message}`));
      resolve(Number(stdout.trim().split('\n').pop()));
    });
  });
}

export async function waitFor(fn, { timeoutMs = 15_000, intervalMs = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
