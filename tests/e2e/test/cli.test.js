// The command line: help, config validation, first-start bootstrap key.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BroServer, backend, runCli } from '../lib/harness.js';

function tempConfig(text) {
  const dir = mkdtempSync(path.join(process.env.E2E_TMP || os.tmpdir(), 'cli-'));
  const file = path.join(dir, 'app.yaml');
  writeFileSync(file, text);
  return { dir, file };
}

const validConfig = 'server:\n  host: 127.0.0.1\n  port: 0\nmetrics:\n  enabled: false\n' +
  'providers:\n  - name: echo\n    type: echo\nmodels:\n  - name: echo\n    provider: echo\n';

describe(`command line (${backend})`, () => {
  it('--help lists the commands', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const cmd of ['serve', 'migrate', 'admin']) assert.match(r.stdout + r.stderr, new RegExp(cmd));
    const s = await runCli(['serve', '--help']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout + s.stderr, /--config/);
  });

  it('an unknown config key exits 2 naming the key', async () => {
    const { dir, file } = tempConfig(validConfig.replace('  port: 0\n', '  port: 0\n  bogus_knob: 1\n'));
    try {
      const r = await runCli(['serve', '--config', file], {
        env: { DATABASE_URL: `sqlite://${dir}/bro.db` }, timeoutMs: 20_000,
      });
      assert.equal(r.code, 2, `exit ${r.code} ${r.signal ?? ''}: ${r.stderr}`);
      assert.match(r.stderr + r.stdout, /server\.bogus_knob/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a bad value from the environment exits 2 naming the key', async () => {
    const { dir, file } = tempConfig(validConfig);
    try {
      const r = await runCli(['serve', '--config', file], {
        env: { DATABASE_URL: `sqlite://${dir}/bro.db`, BRO_SERVER_PORT: 'eighty' }, timeoutMs: 20_000,
      });
      assert.equal(r.code, 2, `exit ${r.code} ${r.signal ?? ''}: ${r.stderr}`);
      assert.match(r.stderr + r.stdout, /server\.port|BRO_SERVER_PORT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('first start on an empty database prints one working admin key, once', { skip: backend !== 'sqlite' && 'needs an empty database' }, async () => {
    const server = await BroServer.start({ name: 'bootstrap', bootstrapAdmin: true, createKey: false, migrate: false });
    try {
      const firstLog = readFileSync(server.logPath, 'utf8');
      const candidates = [...new Set(firstLog.match(/[A-Za-z0-9_-]{24,}/g) || [])].slice(0, 100);
      let key = null;
      for (const c of candidates) {
        const res = await fetch(`${server.baseURL}/models`, { headers: { authorization: `Bearer ${c}` } });
        if (res.status === 200) { key = c; break; }
      }
      assert.ok(key, `no working API key printed on first start\n${server.logTail()}`);

      const stopped = await server.stop();
      assert.equal(stopped.code, 0);
      writeFileSync(server.logPath, '');
      await server.spawn();
      const res = await fetch(`${server.baseURL}/models`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(res.status, 200, 'the bootstrap key survives a restart');
      assert.ok(!readFileSync(server.logPath, 'utf8').includes(key), 'the key was printed again on the second start');
    } finally {
      await server.cleanup();
    }
  });
});
