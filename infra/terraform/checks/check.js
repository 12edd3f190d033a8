#!/usr/bin/env node
'use strict';
// Offline checks of a Terraform tree: HCL syntax, google provider 5.x schema,
// module wiring and policies. Usage: node check.js [--skip DIR]... [--quiet] DIR

const path = require('node:path');
const { loadTree } = require('./lib/model');
const { checkSchema, SCHEMA } = require('./lib/schema');
const { checkWiring } = require('./lib/wiring');
const { instantiateRoots } = require('./lib/resolve');
const { policies, dirPolicies } = require('./lib/policies');

const CHECKS = [
  { id: 'hcl-syntax', title: 'every .tf file parses (HCL)' },
  { id: 'schema', title: `google_* blocks match the google ${SCHEMA.provider} schema (${SCHEMA.source})` },
  { id: 'wiring', title: 'module calls and references resolve to declared variables, outputs, locals and resources' },
  ...dirPolicies.map((p) => ({ id: p.id, title: p.title })),
  ...policies.map((p) => ({ id: p.id, title: p.title })),
];

async function runChecks(root, { skip = [] } = {}) {
  const base = path.resolve(root);
  const tree = await loadTree(base, { skip });
  const results = new Map(CHECKS.map((c) => [c.id, new Set()]));
  const add = (id, list) => list.forEach((f) => results.get(id).add(f));

  add('hcl-syntax', tree.errors.map((e) => `${path.relative(base, e.file)}: ${e.message}`));
  const schema = checkSchema(tree, base);
  add('schema', schema.findings);
  const wiring = checkWiring(tree, base);
  add('wiring', wiring.findings);
  for (const p of dirPolicies) add(p.id, p.run(tree, base));

  const roots = instantiateRoots(tree, base);
  for (const inst of roots) {
    const isEnv = /(^|\/)envs\/[^/]+$/.test(inst.address);
    const ctx = {
      root: inst,
      resources: [...inst.all()],
      isEnv,
      isProd: isEnv && path.basename(inst.address) === 'prod',
    };
    for (const p of policies) add(p.id, p.run(ctx));
  }
  const stats = {
    files: [...tree.dirs.values()].reduce((n, d) => n + d.files.length, 0) + tree.errors.length,
    dirs: tree.dirs.size,
    blocks: schema.checked,
    moduleCalls: wiring.calls,
    roots: roots.map((r) => r.address),
  };
  return { results, stats };
}

async function main() {
  const args = process.argv.slice(2);
  const skip = [];
  let quiet = false;
  let root = null;
  for (let i = 0; i < args.length; i += 1) {
    if (args[i] === '--skip') skip.push(path.resolve(args[(i += 1)]));
    else if (args[i] === '--quiet') quiet = true;
    else root = args[i];
  }
  if (!root) {
    console.error('usage: node check.js [--skip DIR]... [--quiet] DIR');
    process.exit(2);
  }
  const { results, stats } = await runChecks(root, { skip });
  let failed = 0;
  console.log(`checked ${stats.files} files in ${stats.dirs} directories: ${stats.blocks} google_* blocks, ${stats.moduleCalls} module calls, roots ${stats.roots.join(', ')}`);
  for (const c of CHECKS) {
    const f = [...results.get(c.id)];
    if (f.length) failed += 1;
    if (f.length || !quiet) console.log(`${f.length ? 'FAIL' : 'ok  '} ${c.id.padEnd(29)} ${c.title}`);
    for (const line of f) console.log(`       - ${line}`);
  }
  console.log(`checks: ${CHECKS.length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(2);
  });
}

module.exports = { runChecks, CHECKS };
