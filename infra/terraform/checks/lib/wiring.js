'use strict';
// Module wiring: every module call points at a directory of this tree, passes
// only variables that module declares and every variable it requires; every
// var.*, local.*, module.*.* and resource reference names something declared,
// module calls with count/for_each are indexed and others are not; every
// moved block leads to something declared and from something no longer declared.

const path = require('node:path');
const { isLocalSource, isMulti, MODULE_META } = require('./resolve');

function interpolations(s) {
  const out = [];
  let i = s.indexOf('${');
  while (i !== -1) {
    let depth = 0;
    let j = i + 2;
    for (; j < s.length; j += 1) {
      if (s[j] === '{') depth += 1;
      else if (s[j] === '}') {
        if (depth === 0) break;
        depth -= 1;
      }
    }
    out.push(s.slice(i + 2, j));
    i = s.indexOf('${', j);
  }
  return out;
}

function* strings(v) {
  if (typeof v === 'string') yield v;
  else if (Array.isArray(v)) for (const x of v) yield* strings(x);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) yield* strings(x);
}

// Steps of a moved endpoint: module.A[0].module.B.TYPE.NAME ->
// [{ name: 'module' }, { name: 'A' }, { index: 0 }, ...]; null if malformed.
function addressSteps(text) {
  const s = String(text).replace(/^\$\{/, '').replace(/\}$/, '').trim();
  const steps = [];
  let rest = `.${s}`;
  while (rest) {
    let m;
    if ((m = rest.match(/^\.([A-Za-z_][\w-]*)/))) steps.push({ name: m[1] });
    else if ((m = rest.match(/^\[\s*(\d+|"[^"\\]*")\s*\]/))) steps.push({ index: JSON.parse(m[1]) });
    else return null;
    rest = rest.slice(m[0].length);
  }
  return steps;
}

// Follows a moved endpoint from DIR through the module calls it names to a
// module call or resource. Returns a problem (string) or null when declared.
function undeclared(tree, dir, text, rel) {
  const steps = addressSteps(text);
  if (!steps || !steps.length) return `"${text}" is not an address`;
  let cur = dir;
  let i = 0;
  while (i < steps.length && steps[i].name === 'module') {
    const name = steps[i + 1] && steps[i + 1].name;
    const call = name && cur.modules[name];
    if (!call) return `module.${name} is not called in ${rel(cur.path) || '.'}`;
    i += 2;
    if (i < steps.length && steps[i].index !== undefined) {
      if (!isMulti(call.body)) return `module.${name} is indexed but has neither count nor for_each`;
      i += 1;
    }
    const target = isLocalSource(call.body.source) && tree.dirs.get(path.resolve(cur.path, call.body.source));
    if (!target) return `module.${name} has no module of this tree behind it`;
    cur = target;
  }
  if (i < steps.length) {
    const type = steps[i].name;
    const name = steps[i + 1] && steps[i + 1].name;
    if (!type || !name || type === 'data' || !cur.resources.some((r) => r.mode === 'resource' && r.type === type && r.name === name)) {
      return `${type}.${name} is not a resource of ${rel(cur.path) || '.'}`;
    }
  }
  return null;
}

function checkWiring(tree, base) {
  const findings = [];
  let calls = 0;
  for (const dir of tree.dirs.values()) {
    const rel = (f) => path.relative(base, f);
    for (const d of dir.duplicates || []) findings.push(`${rel(dir.path)}: ${d} declared twice`);

    for (const [name, call] of Object.entries(dir.modules)) {
      calls += 1;
      const where = `${rel(call.file)}: module "${name}"`;
      const source = call.body.source;
      if (!isLocalSource(source)) {
        findings.push(`${where}: source "${source}" is not a local path; only modules of this tree can be checked offline`);
        continue;
      }
      const target = tree.dirs.get(path.resolve(dir.path, source));
      if (!target) {
        findings.push(`${where}: source "${source}" has no .tf files`);
        continue;
      }
      for (const arg of Object.keys(call.body)) {
        if (!MODULE_META.has(arg) && !target.variables[arg]) findings.push(`${where}: passes "${arg}", which ${source} does not declare`);
      }
      for (const [v, decl] of Object.entries(target.variables)) {
        if (!Object.prototype.hasOwnProperty.call(decl.body, 'default') && !Object.prototype.hasOwnProperty.call(call.body, v)) {
          findings.push(`${where}: required variable "${v}" of ${source} is not passed`);
        }
      }
    }

    // A moved block must lead to something declared, and its origin must be
    // gone (Terraform refuses a move from an object that is still declared).
    for (const { body, file } of dir.moved) {
      const to = undeclared(tree, dir, body.to, rel);
      if (to) findings.push(`${rel(file)}: moved to ${String(body.to).replace(/^\$\{|\}$/g, '')}: ${to}`);
      if (!undeclared(tree, dir, body.from, rel)) findings.push(`${rel(file)}: moved from ${String(body.from).replace(/^\$\{|\}$/g, '')}, which is still declared`);
    }

    const resourceNames = new Set(dir.resources.map((r) => `${r.mode === 'data' ? 'data.' : ''}${r.type}.${r.name}`));
    const usedVars = new Set();
    const usedLocals = new Set();
    const usedData = new Set();
    const blocksToScan = [
      ...dir.resources.map((r) => ({ file: r.file, body: r.body })),
      ...Object.values(dir.modules),
      ...Object.values(dir.outputs),
      ...Object.values(dir.locals).map((l) => ({ file: l.file, body: l.expr })),
      ...Object.values(dir.variables).map((v) => ({ file: v.file, body: v.body.validation || [] })),
      ...(dir.provider ? [{ file: dir.path, body: dir.provider }] : []),
    ];
    const seen = new Set();
    const report = (msg) => {
      if (!seen.has(msg)) {
        seen.add(msg);
        findings.push(msg);
      }
    };
    for (const { file, body } of blocksToScan) {
      for (const s of strings(body)) {
        for (const expr of interpolations(s)) {
          const clean = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
          for (const m of clean.matchAll(/(?<![\w.])var\.([A-Za-z_][\w-]*)/g)) {
            usedVars.add(m[1]);
            if (!dir.variables[m[1]]) report(`${rel(file)}: var.${m[1]} is not declared in ${rel(dir.path) || '.'}`);
          }
          for (const m of clean.matchAll(/(?<![\w.])local\.([A-Za-z_][\w-]*)/g)) {
            usedLocals.add(m[1]);
            if (!dir.locals[m[1]]) report(`${rel(file)}: local.${m[1]} is not defined in ${rel(dir.path) || '.'}`);
          }
          for (const m of clean.matchAll(/(?<![\w.])module\.([A-Za-z_][\w-]*)(\[[^\]]*\])?(?:\.([A-Za-z_][\w-]*))?/g)) {
            const call = dir.modules[m[1]];
            if (!call) {
              report(`${rel(file)}: module.${m[1]} is not called in ${rel(dir.path) || '.'}`);
              continue;
            }
            const ref = `module.${m[1]}${m[2] || ''}${m[3] ? `.${m[3]}` : ''}`;
            if (m[2] && m[2] !== '[*]' && !isMulti(call.body)) report(`${rel(file)}: ${ref}: module.${m[1]} has neither count nor for_each`);
            if (!m[2] && m[3] && isMulti(call.body)) report(`${rel(file)}: ${ref}: module.${m[1]} has count or for_each; index it`);
            const target = isLocalSource(call.body.source) && tree.dirs.get(path.resolve(dir.path, call.body.source));
            if (target && m[3] && !target.outputs[m[3]]) report(`${rel(file)}: ${ref} is not an output of ${call.body.source}`);
          }
          for (const m of clean.matchAll(/(?<![\w.])(data\.)?(google_[a-z0-9_]+)\.([A-Za-z_][\w-]*)/g)) {
            const ref = `${m[1] || ''}${m[2]}.${m[3]}`;
            if (m[1]) usedData.add(ref);
            if (!resourceNames.has(ref)) report(`${rel(file)}: ${ref} is not declared in ${rel(dir.path) || '.'}`);
          }
        }
      }
    }
    // What tflint's terraform_unused_declarations reports, too.
    for (const [name, v] of Object.entries(dir.variables)) if (!usedVars.has(name)) report(`${rel(v.file)}: variable "${name}" is declared but not used`);
    for (const [name, l] of Object.entries(dir.locals)) if (!usedLocals.has(name)) report(`${rel(l.file)}: local "${name}" is defined but not used`);
    for (const r of dir.resources) {
      const ref = `data.${r.type}.${r.name}`;
      if (r.mode === 'data' && !usedData.has(ref)) report(`${rel(r.file)}: ${ref} is read but not used`);
    }
  }
  return { findings, calls };
}

module.exports = { checkWiring, interpolations };
