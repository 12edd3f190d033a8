'use strict';
// Module wiring: every module call points at a directory of this tree, passes
// only variables that module declares and every variable it requires; every
// var.*, local.*, module.*.* and resource reference names something declared.

const path = require('node:path');
const { isLocalSource, MODULE_META } = require('./resolve');

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
          for (const m of clean.matchAll(/(?<![\w.])module\.([A-Za-z_][\w-]*)(?:\.([A-Za-z_][\w-]*))?/g)) {
            const call = dir.modules[m[1]];
            if (!call) {
              report(`${rel(file)}: module.${m[1]} is not called in ${rel(dir.path) || '.'}`);
              continue;
            }
            const target = isLocalSource(call.body.source) && tree.dirs.get(path.resolve(dir.path, call.body.source));
            if (target && m[2] && !target.outputs[m[2]]) report(`${rel(file)}: module.${m[1]}.${m[2]} is not an output of ${call.body.source}`);
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
