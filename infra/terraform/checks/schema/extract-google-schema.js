#!/usr/bin/env node
// Regenerates google-5.43.1.json, the compact google provider schema the
// offline checks use, from the jsii assembly shipped in the npm package
// @cdktf/provider-google@13.32.1 (generated from hashicorp/google 5.43.1).
//
// Usage:
//   node schema/extract-google-schema.js                 # npm pack the package into a temp dir
//   node schema/extract-google-schema.js path/to/.jsii   # or use an already unpacked assembly
//   node schema/extract-google-schema.js --verify [...]  # regenerate in memory, compare with the committed file
//
// The package is ~23 MB packed / ~70 MB for .jsii alone, so it is not a
// dependency of the checks: only this script needs it, and only when the
// provider version moves.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const PACKAGE = '@cdktf/provider-google';
const PACKAGE_VERSION = '13.32.1';
const PROVIDER_VERSION = '5.43.1';
const OUT = path.join(__dirname, `google-${PROVIDER_VERSION}.json`);

function loadAssembly(argPath) {
  if (argPath) return JSON.parse(fs.readFileSync(argPath, 'utf8'));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'provider-google-'));
  try {
    // npm verifies the tarball against the registry's integrity hash.
    const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', tmp, `${PACKAGE}@${PACKAGE_VERSION}`],
      { encoding: 'utf8' }).trim().split('\n').pop();
    execFileSync('tar', ['-xzf', path.join(tmp, out), '-C', tmp, 'package/.jsii']);
    return JSON.parse(fs.readFileSync(path.join(tmp, 'package', '.jsii'), 'utf8'));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function main() {
  const args = process.argv.slice(2);
  const verify = args.includes('--verify');
  const asm = loadAssembly(args.find((a) => a !== '--verify'));
  if (asm.name !== PACKAGE || asm.version !== PACKAGE_VERSION) {
    throw new Error(`expected ${PACKAGE}@${PACKAGE_VERSION}, got ${asm.name}@${asm.version}`);
  }
  const types = asm.types;

  const isStruct = (fqn) => types[fqn] && types[fqn].kind === 'interface' && types[fqn].datatype;

  // The Terraform name of a property is the anchor of its registry link:
  // "... {@link https://registry.terraform.io/...#ipv4_enabled SqlDatabaseInstance#ipv4_enabled}".
  function tfName(prop) {
    const text = `${prop.docs.summary || ''} ${prop.docs.remarks || ''}`;
    const m = text.match(/#([a-z0-9_]+)\}/);
    if (m) return m[1];
    return prop.name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  }

  // Strip cdktf.IResolvable from unions: it only means "may be a token".
  function unwrap(type) {
    if (type.union) {
      const rest = type.union.types.filter((t) => t.fqn !== 'cdktf.IResolvable');
      return rest.length === 1 ? rest[0] : type;
    }
    return type;
  }

  // Block format, kept short on purpose:
  //   { "a": { "<attr>": 1 if required else 0 },
  //     "b": { "<block>": [ required 0|1, max_items 1 or 0 for unbounded, <block> ] } }
  const seen = new Map();
  function block(fqn, topLevel = false) {
    if (seen.has(fqn)) return seen.get(fqn);
    const out = { a: {}, b: {} };
    seen.set(fqn, out);
    for (const prop of types[fqn].properties || []) {
      // cdktf adds a settable "id" to every SDKv2 resource; nobody should set it.
      // Nested "id" fields (e.g. Artifact Registry cleanup_policies.id) are real.
      if (topLevel && prop.name === 'id' && /automatically added/.test(prop.docs.remarks || '')) continue;
      const name = tfName(prop);
      const required = prop.optional ? 0 : 1;
      const t = unwrap(prop.type);
      if (t.fqn && isStruct(t.fqn)) {
        out.b[name] = [required, 1, block(t.fqn)];
      } else if (t.collection && t.collection.kind === 'array' && t.collection.elementtype.fqn && isStruct(t.collection.elementtype.fqn)) {
        out.b[name] = [required, 0, block(t.collection.elementtype.fqn)];
      } else {
        out.a[name] = required;
      }
    }
    if (!Object.keys(out.b).length) delete out.b;
    return out;
  }

  const schema = { source: `${PACKAGE}@${PACKAGE_VERSION}`, provider: `hashicorp/google ${PROVIDER_VERSION}`, resource: {}, data: {} };
  for (const [fqn, t] of Object.entries(types)) {
    if (t.kind !== 'class') continue;
    const kind = t.base === 'cdktf.TerraformResource' ? 'resource' : t.base === 'cdktf.TerraformDataSource' ? 'data' : null;
    if (!kind) continue;
    const m = (t.docs.summary || '').match(/docs\/(?:resources|data-sources)\/\S+ (google_[a-z0-9_]+)\}/);
    if (!m) throw new Error(`no Terraform type name for ${fqn}`);
    const config = t.initializer.parameters.find((p) => p.name === 'config');
    schema[kind][m[1]] = block(config.type.fqn, true);
  }
  for (const kind of ['resource', 'data']) {
    schema[kind] = Object.fromEntries(Object.entries(schema[kind]).sort(([a], [b]) => a.localeCompare(b)));
  }
  const text = `${JSON.stringify(schema)}\n`;
  const n = (k) => Object.keys(schema[k]).length;
  if (verify) {
    const same = fs.existsSync(OUT) && fs.readFileSync(OUT, 'utf8') === text;
    console.log(`${path.basename(OUT)} ${same ? 'matches' : 'DIFFERS FROM'} ${PACKAGE}@${PACKAGE_VERSION} (${n('resource')} resources, ${n('data')} data sources)`);
    process.exit(same ? 0 : 1);
  }
  fs.writeFileSync(OUT, text);
  console.log(`wrote ${path.relative(process.cwd(), OUT)}: ${n('resource')} resources, ${n('data')} data sources, ${text.length} bytes`);
}

main();
