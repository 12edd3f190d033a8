'use strict';
// A small evaluator for the parts of Terraform expressions the policies need:
// literals, var.*, local.*, module.NAME.OUTPUT and references to resources.
// Everything else (functions, conditionals, for expressions, each.*) is an
// Unknown: a value that exists but is only known at plan time.

const path = require('node:path');

class Unknown {
  constructor(text, ref = null) {
    this.text = text;
    this.ref = ref; // { inst, mode, type, name, attr } for resource/data references
  }
}

const MODULE_META = new Set(['source', 'version', 'count', 'for_each', 'providers', 'depends_on']);

function isLocalSource(source) {
  return typeof source === 'string' && (source.startsWith('./') || source.startsWith('../'));
}

class Instance {
  constructor(tree, dir, args, parent, address) {
    this.tree = tree;
    this.dir = dir;
    this.args = args; // variable name -> raw expression (evaluated in parent)
    this.parent = parent;
    this.address = address;
    this.children = new Map();
  }

  child(name) {
    if (this.children.has(name)) return this.children.get(name);
    let inst = null;
    const call = this.dir.modules[name];
    if (call && isLocalSource(call.body.source)) {
      const dir = this.tree.dirs.get(path.resolve(this.dir.path, call.body.source));
      if (dir && this.depth() < 10) {
        const args = {};
        for (const [k, v] of Object.entries(call.body)) if (!MODULE_META.has(k)) args[k] = v;
        inst = new Instance(this.tree, dir, args, this, `${this.address}/module.${name}`);
      }
    }
    this.children.set(name, inst);
    return inst;
  }

  depth() {
    return this.parent ? this.parent.depth() + 1 : 0;
  }

  varValue(name, depth) {
    const v = this.dir.variables[name];
    let value;
    if (Object.prototype.hasOwnProperty.call(this.args, name)) value = resolve(this.args[name], this.parent, depth + 1);
    else if (v && Object.prototype.hasOwnProperty.call(v.body, 'default')) value = resolve(v.body.default, this, depth + 1);
    else return new Unknown(`var.${name}`);
    return v ? withOptionalDefaults(value, v.body.type) : value;
  }

  // Every resource and data block of this instance and of the modules it calls.
  *all() {
    for (const res of this.dir.resources) yield* expand(res, this);
    for (const name of Object.keys(this.dir.modules)) {
      const c = this.child(name);
      if (c) yield* c.all();
    }
  }
}

// Attributes declared as optional(TYPE, DEFAULT) in an object type constraint,
// filled in where a module argument leaves them out (top level of the object
// only). Returns the value unchanged when the type is not an object type.
function optionalDefaults(type) {
  const out = {};
  if (typeof type !== 'string') return out;
  const re = /([A-Za-z_][\w-]*)\s*=\s*optional\(\s*(?:[^(),]|\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\))*,\s*("(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|true|false|null|\{\}|\[\])\s*\)/g;
  for (const m of type.matchAll(re)) out[m[1]] = JSON.parse(m[2] === '{}' ? '{}' : m[2]);
  return out;
}

function withOptionalDefaults(value, type) {
  if (typeof type !== 'string' || !type.includes('optional(')) return value;
  const defaults = optionalDefaults(type);
  // As in Terraform, an attribute set to null takes the default too.
  const fill = (obj) => {
    if (!obj || typeof obj !== 'object' || Array.isArray(obj) || obj instanceof Unknown) return obj;
    const out = { ...defaults };
    for (const [k, v] of Object.entries(obj)) if (v !== null || !(k in defaults)) out[k] = v;
    return out;
  };
  const t = type.replace(/^\$\{/, '').trim();
  if (t.startsWith('object(')) return fill(value);
  if (/^(map|list|set)\(\s*object\(/.test(t)) {
    if (Array.isArray(value)) return value.map(fill);
    if (value && typeof value === 'object' && !(value instanceof Unknown)) return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, fill(x)]));
  }
  return value;
}

// One entry per instance when count/for_each are known; otherwise one entry
// whose each.* values are unknown.
function* expand(res, inst) {
  if (Object.prototype.hasOwnProperty.call(res.body, 'count')) {
    const n = resolve(res.body.count, inst);
    if (n === 0) return;
  }
  if (Object.prototype.hasOwnProperty.call(res.body, 'for_each')) {
    const fe = resolve(res.body.for_each, inst);
    let entries = null;
    if (Array.isArray(fe) && fe.every((x) => typeof x === 'string')) entries = fe.map((x) => [x, x]);
    else if (fe && typeof fe === 'object' && !Array.isArray(fe) && !(fe instanceof Unknown)) entries = Object.entries(fe);
    if (entries) {
      for (const [key, value] of entries) {
        const scope = Object.create(inst);
        scope.each = { key, value };
        scope.real = inst;
        yield { ...res, inst: scope, key };
      }
      return;
    }
  }
  yield { ...res, inst };
}

// Splits "a ? b : c" at top level (outside quotes, brackets and parentheses).
function splitTop(text, seps) {
  let depth = 0;
  let quote = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quote) {
      if (c === '\\') i += 1;
      else if (c === '"') quote = false;
      continue;
    }
    if (c === '"') quote = true;
    else if ('([{'.includes(c)) depth += 1;
    else if (')]}'.includes(c)) depth -= 1;
    else if (depth === 0) {
      for (const sep of seps) if (text.startsWith(sep, i)) return [text.slice(0, i), sep, text.slice(i + sep.length)];
    }
  }
  return null;
}

function known(v) {
  return v === null || ['string', 'number', 'boolean'].includes(typeof v);
}

// cond ? a : b, with cond a literal, a traversal, or X == Y / X != Y.
function conditional(text, inst, depth) {
  const q = splitTop(text, ['?']);
  if (!q) return undefined;
  const c = splitTop(q[2], [':']);
  if (!c) return undefined;
  const sub = (t) => resolve(`\${${t.trim()}}`, inst, depth + 1);
  let cond;
  const cmp = splitTop(q[0], ['==', '!=']);
  if (cmp) {
    const a = sub(cmp[0]);
    const b = sub(cmp[2]);
    if (!known(a) || !known(b)) return new Unknown(`\${${text}}`);
    cond = cmp[1] === '==' ? a === b : a !== b;
  } else {
    cond = sub(q[0]);
    if (typeof cond !== 'boolean') return new Unknown(`\${${text}}`);
  }
  return sub(cond ? c[0] : c[2]);
}

function parseTraversal(text) {
  let rest = text.trim();
  const head = rest.match(/^[A-Za-z_][A-Za-z0-9_-]*/);
  if (!head) return null;
  const root = head[0];
  rest = rest.slice(root.length);
  const steps = [];
  while (rest.length) {
    let m;
    if ((m = rest.match(/^\.([A-Za-z_][A-Za-z0-9_-]*)/))) steps.push({ key: m[1] });
    else if ((m = rest.match(/^\[\s*"([^"]*)"\s*\]/))) steps.push({ key: m[1] });
    else if ((m = rest.match(/^\[\s*(\d+)\s*\]/))) steps.push({ key: Number(m[1]) });
    else if ((m = rest.match(/^\[([^\][]*)\]/))) steps.push({ dynamic: m[1] });
    else return null;
    rest = rest.slice(m[0].length);
  }
  return { root, steps };
}

function applySteps(value, steps, text) {
  let v = value;
  for (const step of steps) {
    if (v instanceof Unknown) return v.ref ? new Unknown(text, { ...v.ref, attr: (v.ref.attr || []).concat(step.key ?? '*') }) : new Unknown(text);
    if (step.dynamic !== undefined || v === null || typeof v !== 'object' || !(step.key in v)) return new Unknown(text);
    v = v[step.key];
  }
  return v;
}

function interpolationBody(s) {
  if (!s.startsWith('${') || !s.endsWith('}')) return null;
  if (s.indexOf('${', 2) !== -1) return null;
  return s.slice(2, -1);
}

function resolve(expr, inst, depth = 0) {
  if (depth > 60) return new Unknown('(recursion limit)');
  if (expr === null || typeof expr === 'boolean' || typeof expr === 'number') return expr;
  if (Array.isArray(expr)) return expr.map((e) => resolve(e, inst, depth + 1));
  if (typeof expr === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(expr)) out[k] = resolve(v, inst, depth + 1);
    return out;
  }
  if (typeof expr !== 'string' || !expr.includes('${')) return expr;
  const inner = interpolationBody(expr);
  if (inner === null || !inst) return new Unknown(expr);
  const text = inner.trim();
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (/^"[^"$]*"$/.test(text)) return text.slice(1, -1);
  const t = parseTraversal(text);
  if (!t) {
    const c = conditional(text, inst, depth);
    return c === undefined ? new Unknown(expr) : c;
  }
  const { root, steps } = t;
  if (root === 'var' && steps[0] && steps[0].key !== undefined) {
    return applySteps(inst.varValue(steps[0].key, depth), steps.slice(1), expr);
  }
  if (root === 'local' && steps[0] && steps[0].key !== undefined) {
    const l = inst.dir.locals[steps[0].key];
    return l ? applySteps(resolve(l.expr, inst, depth + 1), steps.slice(1), expr) : new Unknown(expr);
  }
  if (root === 'module' && steps.length >= 2 && steps[0].key !== undefined) {
    const c = inst.child(steps[0].key);
    const out = c && c.dir.outputs[steps[1].key];
    return out ? applySteps(resolve(out.body.value, c, depth + 1), steps.slice(2), expr) : new Unknown(expr);
  }
  if (root === 'each' && inst.each && steps[0] && (steps[0].key === 'key' || steps[0].key === 'value')) {
    return applySteps(inst.each[steps[0].key], steps.slice(1), expr);
  }
  const real = inst.real || inst;
  if (root === 'data' && steps.length >= 2) {
    return new Unknown(expr, { inst: real, mode: 'data', type: steps[0].key, name: steps[1].key, attr: steps.slice(2).map((s) => s.key ?? '*') });
  }
  if (/^google(-beta)?_|^google_/.test(root) && steps.length >= 1) {
    return new Unknown(expr, { inst: real, mode: 'resource', type: root, name: steps[0].key, attr: steps.slice(1).map((s) => s.key ?? '*') });
  }
  return new Unknown(expr);
}

// Directories that no other directory calls as a module are roots.
function roots(tree) {
  const called = new Set();
  for (const dir of tree.dirs.values()) {
    for (const call of Object.values(dir.modules)) {
      if (isLocalSource(call.body.source)) called.add(path.resolve(dir.path, call.body.source));
    }
  }
  return [...tree.dirs.values()].filter((d) => !called.has(d.path));
}

function instantiateRoots(tree, base) {
  return roots(tree).map((dir) => new Instance(tree, dir, {}, null, path.relative(base, dir.path) || '.'));
}

// Nested blocks of a body, static and dynamic ("dynamic" content counts once).
function blocks(body, name) {
  if (!body || typeof body !== 'object') return [];
  const out = [];
  const v = body[name];
  if (Array.isArray(v)) for (const b of v) if (b && typeof b === 'object' && !Array.isArray(b)) out.push(b);
  if (body.dynamic && Array.isArray(body.dynamic[name])) {
    for (const d of body.dynamic[name]) for (const c of d.content || []) out.push({ ...c, __dynamic: d });
  }
  return out;
}

function block(body, ...names) {
  let cur = [body];
  for (const n of names) cur = cur.flatMap((b) => blocks(b, n));
  return cur;
}

module.exports = { Unknown, Instance, expand, withOptionalDefaults, resolve, roots, instantiateRoots, blocks, block, isLocalSource, MODULE_META, parseTraversal };
