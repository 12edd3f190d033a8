'use strict';
// Checks every google_* resource and data block against the google provider
// 5.x schema: unknown arguments and blocks, missing required ones, and
// single blocks given more than once. google-beta blocks (provider =
// google-beta) are checked against the same GA schema.

const path = require('node:path');
const SCHEMA = require('../schema/google-5.43.1.json');

const META = new Set(['count', 'for_each', 'provider', 'depends_on', 'lifecycle', 'provisioner', 'connection']);
const DYNAMIC_META = new Set(['for_each', 'iterator', 'labels', 'content']);

function isBlockList(v) {
  return Array.isArray(v) && v.length > 0 && v.every((x) => x && typeof x === 'object' && !Array.isArray(x));
}

function checkBody(body, spec, where, findings, top) {
  const dynamic = (body.dynamic && typeof body.dynamic === 'object') ? body.dynamic : {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'dynamic' || key === '__dynamic') continue;
    if (top && META.has(key)) continue;
    if (Object.prototype.hasOwnProperty.call(spec.a, key)) {
      if (isBlockList(value)) findings.push(`${where}: "${key}" is an argument, not a block (write ${key} = ...)`);
      continue;
    }
    const nested = spec.b && spec.b[key];
    if (nested) {
      if (!Array.isArray(value)) {
        findings.push(`${where}: "${key}" is a block, not an argument (write ${key} { ... })`);
        continue;
      }
      if (nested[1] === 1 && value.length > 1) findings.push(`${where}: block "${key}" may appear only once`);
      value.forEach((b, i) => checkBody(b, nested[2], `${where}.${key}[${i}]`, findings, false));
      continue;
    }
    findings.push(`${where}: unknown ${isBlockList(value) ? 'block' : 'argument'} "${key}"`);
  }
  for (const [key, dyns] of Object.entries(dynamic)) {
    const nested = spec.b && spec.b[key];
    if (!nested) {
      findings.push(`${where}: unknown block "${key}" (dynamic)`);
      continue;
    }
    for (const d of dyns) {
      for (const k of Object.keys(d)) if (!DYNAMIC_META.has(k)) findings.push(`${where}: dynamic "${key}" has unknown argument "${k}"`);
      if (!Array.isArray(d.content) || d.content.length !== 1) findings.push(`${where}: dynamic "${key}" needs exactly one content block`);
      (d.content || []).forEach((c) => checkBody(c, nested[2], `${where}.${key}(dynamic)`, findings, false));
    }
  }
  for (const [key, required] of Object.entries(spec.a)) {
    if (required && !Object.prototype.hasOwnProperty.call(body, key)) findings.push(`${where}: missing required argument "${key}"`);
  }
  for (const [key, [required]] of Object.entries(spec.b || {})) {
    if (required && !Object.prototype.hasOwnProperty.call(body, key) && !dynamic[key]) findings.push(`${where}: missing required block "${key}"`);
  }
}

function checkSchema(tree, base) {
  const findings = [];
  let checked = 0;
  for (const dir of tree.dirs.values()) {
    for (const r of dir.resources) {
      if (!/^google_/.test(r.type)) continue;
      const where = `${path.relative(base, r.file)}: ${r.mode === 'data' ? 'data.' : ''}${r.type}.${r.name}`;
      const spec = SCHEMA[r.mode][r.type];
      checked += 1;
      if (!spec) {
        findings.push(`${where}: unknown ${r.mode === 'data' ? 'data source' : 'resource type'} in google ${SCHEMA.provider}`);
        continue;
      }
      checkBody(r.body, spec, where, findings, true);
    }
  }
  return { findings, checked };
}

module.exports = { checkSchema, SCHEMA };
