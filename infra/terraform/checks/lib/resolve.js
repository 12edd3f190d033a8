'use strict';
// A small evaluator for the parts of Terraform expressions the policies need:
// literals, string templates, object and tuple constructors, simple
// conditionals, var.*, local.*, each.*, count.index, module.NAME.OUTPUT and
// module.NAME[KEY].OUTPUT (module calls with count/for_each, at any depth)
// and references to resources. Everything else (functions, for expressions,
// operators) is an Unknown: a value that exists but is only known at plan time.

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

const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
const UNKNOWN_KEY = Symbol('unknown instance key');

// Whether a module call or resource is expanded by count or for_each.
function isMulti(body) {
  return has(body, 'count') || has(body, 'for_each');
}

class Instance {
  // scope: where args are evaluated: the parent, or for a module call with
  // count/for_each a view of the parent with count.index or each.* set.
  // key: the count index or for_each key of this instance, if any.
  constructor(tree, dir, args, parent, address, scope = parent, key = undefined) {
    this.tree = tree;
    this.dir = dir;
    this.args = args; // variable name -> raw expression (evaluated in scope)
    this.parent = parent;
    this.scope = scope;
    this.key = key;
    this.address = address;
    this.children = new Map();
  }

  // The instances of module call NAME: one without count/for_each; one per
  // index or key when count/for_each are known (none for count = 0 or an
  // empty for_each); one with an unknown key otherwise.
  instances(name) {
    const self = this.real || this;
    if (self.children.has(name)) return self.children.get(name);
    let list = [];
    const call = self.dir.modules[name];
    if (call && isLocalSource(call.body.source)) {
      const dir = self.tree.dirs.get(path.resolve(self.dir.path, call.body.source));
      if (dir && self.depth() < 10) {
        const args = {};
        for (const [k, v] of Object.entries(call.body)) if (!MODULE_META.has(k)) args[k] = v;
        const base = `${self.address}/module.${name}`;
        list = isMulti(call.body)
          ? expandKeys(call.body, self).map(({ key, scope }) => new Instance(self.tree, dir, args, self, key === UNKNOWN_KEY ? `${base}[*]` : `${base}[${JSON.stringify(key)}]`, scope, key))
          : [new Instance(self.tree, dir, args, self, base)];
      }
    }
    self.children.set(name, list);
    return list;
  }

  // The instance module.NAME (key undefined) or module.NAME[KEY] refers to;
  // null when there is none (wrong indexing, count = 0, unknown source).
  child(name, key) {
    const self = this.real || this;
    const call = self.dir.modules[name];
    const list = self.instances(name);
    if (!call || !isMulti(call.body)) return key === undefined ? list[0] || null : null;
    if (key === undefined) return null;
    return list.find((c) => c.key === key) || list.find((c) => c.key === UNKNOWN_KEY) || null;
  }

  depth() {
    return this.parent ? this.parent.depth() + 1 : 0;
  }

  varValue(name, depth) {
    const v = this.dir.variables[name];
    let value;
    if (Object.prototype.hasOwnProperty.call(this.args, name)) value = resolve(this.args[name], this.scope, depth + 1);
    else if (v && Object.prototype.hasOwnProperty.call(v.body, 'default')) value = resolve(v.body.default, this, depth + 1);
    else return new Unknown(`var.${name}`);
    return v ? withOptionalDefaults(value, v.body.type) : value;
  }

  // Every resource and data block of this instance and of the modules it calls.
  *all() {
    for (const res of this.dir.resources) yield* expand(res, this);
    for (const name of Object.keys(this.dir.modules)) {
      for (const c of this.instances(name)) yield* c.all();
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

// The instances of a module call or resource: [{ key, scope }], scope being
// INST with count.index or each.* set (key UNKNOWN_KEY when count/for_each
// cannot be resolved). count and for_each are resolved in INST.
function expandKeys(body, inst) {
  const scoped = (key, set) => {
    const scope = Object.create(inst);
    scope.real = inst.real || inst;
    set(scope);
    return { key, scope };
  };
  if (has(body, 'count')) {
    const n = resolve(body.count, inst);
    if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 100) {
      return Array.from({ length: n }, (_, i) => scoped(i, (s) => { s.countIndex = i; }));
    }
    return [scoped(UNKNOWN_KEY, () => {})];
  }
  const fe = resolve(body.for_each, inst);
  let entries = null;
  if (Array.isArray(fe) && fe.every((x) => typeof x === 'string')) entries = fe.map((x) => [x, x]);
  else if (fe && typeof fe === 'object' && !Array.isArray(fe) && !(fe instanceof Unknown)) entries = Object.entries(fe);
  if (entries) return entries.map(([key, value]) => scoped(key, (s) => { s.each = { key, value }; }));
  return [scoped(UNKNOWN_KEY, () => {})];
}

// One entry per instance when count/for_each are known (key and count.index
// or each.* set, none for count = 0); otherwise one entry without a key.
function* expand(res, inst) {
  if (!isMulti(res.body)) {
    yield { ...res, inst };
    return;
  }
  for (const { key, scope } of expandKeys(res.body, inst)) {
    yield key === UNKNOWN_KEY ? { ...res, inst: scope } : { ...res, inst: scope, key };
  }
}

// Calls VISIT(i, depth, c) for every character of TEXT outside string
// literals, depth counting the brackets open around it (a closing bracket is
// visited at the depth it returns to); returns the first i VISIT accepts, or -1.
function scan(text, visit) {
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
    else {
      if (')]}'.includes(c)) depth -= 1;
      if (visit(i, depth, c)) return i;
      if ('([{'.includes(c)) depth += 1;
    }
  }
  return -1;
}

// Splits "a ? b : c" at top level (outside quotes, brackets and parentheses).
function splitTop(text, seps) {
  let sep;
  const i = scan(text, (j, depth, c) => depth === 0 && !'([{)]}'.includes(c) && (sep = seps.find((x) => text.startsWith(x, j))) !== undefined);
  return i === -1 ? null : [text.slice(0, i), sep, text.slice(i + sep.length)];
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
    // Known primitives compare; so does null with any value that is not Unknown
    // (an object or list is never null, whatever it holds).
    const decidable = (known(a) && known(b)) || (a === null && !(b instanceof Unknown)) || (b === null && !(a instanceof Unknown));
    if (!decidable) return new Unknown(`\${${text}}`);
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

// Splits TEXT at every top-level separator (outside quotes and brackets).
function splitAll(text, seps) {
  const parts = [];
  let rest = text;
  for (let cut = splitTop(rest, seps); cut; cut = splitTop(rest, seps)) {
    parts.push(cut[0]);
    rest = cut[2];
  }
  parts.push(rest);
  return parts;
}

// Index of the bracket closing the one at TEXT[0], or -1.
function closing(text) {
  return scan(text, (i, depth, c) => i > 0 && depth === 0 && ')]}'.includes(c));
}

// { key = expr, ... } and [expr, ...] (not for expressions): each element
// resolved on its own. undefined when TEXT is not a constructor.
function collection(text, inst, depth) {
  const t = text.trim();
  const object = t.startsWith('{');
  if (!(object || t.startsWith('[')) || closing(t) !== t.length - 1) return undefined;
  const items = splitAll(t.slice(1, -1), object ? [',', '\n'] : [','])
    .map((x) => x.trim())
    .filter((x) => x && !x.startsWith('#') && !x.startsWith('//'));
  if (items.length && /^for\s/.test(items[0])) return undefined;
  const sub = (e) => resolve(`\${${e}}`, inst, depth + 1);
  if (!object) return items.map(sub);
  const out = {};
  for (const item of items) {
    const m = item.match(/^("(?:[^"\\$]|\\.)*"|[A-Za-z_][\w-]*)\s*(?:=(?!=)|:)\s*([\s\S]+)$/);
    if (!m) return undefined;
    out[m[1].startsWith('"') ? JSON.parse(m[1]) : m[1]] = sub(m[2]);
  }
  return out;
}

// "text ${expr} text": a string when every interpolation resolves to a
// string, number or bool; undefined otherwise (directives, escapes).
function template(s, inst, depth) {
  if (s.includes('%{') || s.includes('$${')) return undefined;
  let out = '';
  let i = 0;
  for (let j = s.indexOf('${'); j !== -1; j = s.indexOf('${', i)) {
    const end = closing(s.slice(j + 1));
    if (end === -1) return undefined;
    const v = resolve(`\${${s.slice(j + 2, j + 1 + end)}}`, inst, depth + 1);
    if (!['string', 'number', 'boolean'].includes(typeof v)) return undefined;
    out += s.slice(i, j) + String(v);
    i = j + 2 + end;
  }
  return out + s.slice(i);
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
  if (!inst) return new Unknown(expr);
  const inner = interpolationBody(expr);
  if (inner === null) {
    const s = template(expr, inst, depth);
    return s === undefined ? new Unknown(expr) : s;
  }
  const text = inner.trim();
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (/^"[^"$]*"$/.test(text)) return text.slice(1, -1);
  const t = parseTraversal(text);
  if (!t) {
    const c = conditional(text, inst, depth);
    if (c !== undefined) return c;
    const k = collection(text, inst, depth);
    return k === undefined ? new Unknown(expr) : k;
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
    const call = inst.dir.modules[steps[0].key];
    const multi = call && isMulti(call.body);
    const rest = steps.slice(multi ? 2 : 1);
    const c = rest.length && (!multi || steps[1].key !== undefined) ? inst.child(steps[0].key, multi ? steps[1].key : undefined) : null;
    const out = c && rest[0].key !== undefined && c.dir.outputs[rest[0].key];
    return out ? applySteps(resolve(out.body.value, c, depth + 1), rest.slice(1), expr) : new Unknown(expr);
  }
  if (root === 'each' && inst.each && steps[0] && (steps[0].key === 'key' || steps[0].key === 'value')) {
    return applySteps(inst.each[steps[0].key], steps.slice(1), expr);
  }
  if (root === 'count' && inst.countIndex !== undefined && steps.length === 1 && steps[0].key === 'index') {
    return inst.countIndex;
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

module.exports = { Unknown, Instance, expand, withOptionalDefaults, resolve, roots, instantiateRoots, blocks, block, isLocalSource, isMulti, MODULE_META, parseTraversal };
