#!/usr/bin/env node
'use strict';
// Proves that every check can fail: each directory under fixtures/ is a small
// Terraform tree with one defect, and an EXPECT file naming the check that
// must report it (and a piece of the expected message). Every other check must
// stay silent on the fixture, so a fixture fails for the intended reason only.
// Fixture files are named *.tf.fixture so that terraform fmt, validate and
// tflint runs over infra/terraform do not trip over the deliberate defects;
// each fixture is copied to a temporary directory as *.tf before checking.
// Usage: node selftest.js [--terraform PATH]

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { runChecks, CHECKS } = require('./check');

const FIXTURES = path.join(__dirname, 'fixtures');

// Copies a fixture to TMP/NAME, renaming *.tf.fixture to *.tf.
function stage(src, tmp) {
  const dst = path.join(tmp, path.basename(src));
  const copy = (from, to) => {
    fs.mkdirSync(to, { recursive: true });
    for (const e of fs.readdirSync(from, { withFileTypes: true })) {
      const f = path.join(from, e.name);
      if (e.isDirectory()) copy(f, path.join(to, e.name));
      else fs.copyFileSync(f, path.join(to, e.name.replace(/\.tf\.fixture$/, '.tf')));
    }
  };
  copy(src, dst);
  return dst;
}

function readExpect(dir) {
  const text = fs.readFileSync(path.join(dir, 'EXPECT'), 'utf8');
  const field = (k) => (text.match(new RegExp(`^${k}:\\s*(.*)$`, 'm')) || [])[1];
  return { check: field('check'), match: field('match'), why: field('why') };
}

async function main() {
  const tfIndex = process.argv.indexOf('--terraform');
  const terraform = tfIndex > 0 ? process.argv[tfIndex + 1] : null;
  const names = fs.readdirSync(FIXTURES).filter((n) => fs.existsSync(path.join(FIXTURES, n, 'EXPECT'))).sort();
  const covered = new Set();
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tf-fixtures-'));
  process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
  for (const name of names) {
    const exp = readExpect(path.join(FIXTURES, name));
    const dir = stage(path.join(FIXTURES, name), tmp);
    covered.add(exp.check);
    const problems = [];
    if (exp.check === 'fmt') {
      if (!terraform) {
        console.log(`skip ${name}: terraform not installed`);
        skipped += 1;
        continue;
      }
      const r = spawnSync(terraform, ['fmt', '-check', '-recursive', '-no-color', dir], { encoding: 'utf8' });
      if (r.status === 0) problems.push('terraform fmt -check accepted it');
      else if (!`${r.stdout}${r.stderr}`.includes(exp.match)) problems.push(`terraform fmt output lacks "${exp.match}"`);
    } else {
      if (!CHECKS.some((c) => c.id === exp.check)) problems.push(`EXPECT names unknown check "${exp.check}"`);
      const { results } = await runChecks(dir);
      for (const [id, findings] of results) {
        const list = [...findings];
        if (id === exp.check) {
          if (!list.length) problems.push(`${id} reported nothing`);
          else if (!list.some((f) => f.includes(exp.match))) problems.push(`${id} did not report "${exp.match}"; it said: ${list.join(' | ')}`);
        } else if (list.length) {
          problems.push(`unrelated check ${id} also failed: ${list.join(' | ')}`);
        }
      }
    }
    if (problems.length) {
      failed += 1;
      console.log(`FAIL ${name} (${exp.why})`);
      for (const p of problems) console.log(`       - ${p}`);
    } else {
      passed += 1;
      console.log(`ok   ${name}: ${exp.check} fails (${exp.why})`);
    }
  }
  for (const c of CHECKS) {
    if (!covered.has(c.id)) {
      failed += 1;
      console.log(`FAIL check ${c.id} has no failing fixture`);
    }
  }
  if (!covered.has('fmt')) {
    failed += 1;
    console.log('FAIL terraform fmt has no failing fixture');
  }
  console.log(`fixtures: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(failed ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(2);
});
