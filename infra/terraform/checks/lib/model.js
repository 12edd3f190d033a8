'use strict';
// Loads every .tf file under a tree, parses it with @cdktf/hcl2json and
// groups the blocks by directory (a Terraform module).

const fs = require('node:fs');
const path = require('node:path');
const { parse } = require('@cdktf/hcl2json');

const SKIP_DIRS = new Set(['.terraform', 'node_modules', '.git']);

function listTfFiles(root, skip = []) {
  const out = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (SKIP_DIRS.has(entry.name) || skip.some((s) => path.resolve(full) === path.resolve(s))) continue;
        walk(full);
      } else if (entry.name.endsWith('.tf')) {
        out.push(full);
      }
    }
  };
  walk(root);
  return out;
}

function emptyDir(dir) {
  return {
    path: dir,
    files: [],
    resources: [], // { type, name, body, file, mode: 'resource' | 'data' }
    modules: {}, // name -> { body, file }
    variables: {}, // name -> { body, file }
    outputs: {}, // name -> { body, file }
    locals: {}, // name -> { expr, file }
    terraform: [], // { body, file }
    moved: [], // { body: { from, to }, file }
  };
}

function addFile(dir, file, json) {
  dir.files.push(file);
  for (const [kind, blocks] of Object.entries(json)) {
    if (kind === 'resource' || kind === 'data') {
      for (const [type, byName] of Object.entries(blocks)) {
        for (const [name, bodies] of Object.entries(byName)) {
          for (const body of bodies) dir.resources.push({ mode: kind, type, name, body, file });
        }
      }
    } else if (kind === 'module' || kind === 'variable' || kind === 'output') {
      const target = { module: dir.modules, variable: dir.variables, output: dir.outputs }[kind];
      for (const [name, bodies] of Object.entries(blocks)) {
        for (const body of bodies) {
          if (target[name]) dir.duplicates = (dir.duplicates || []).concat(`${kind} "${name}"`);
          target[name] = { body, file };
        }
      }
    } else if (kind === 'locals') {
      for (const block of blocks) {
        for (const [name, expr] of Object.entries(block)) dir.locals[name] = { expr, file };
      }
    } else if (kind === 'terraform') {
      for (const body of blocks) dir.terraform.push({ body, file });
    } else if (kind === 'moved') {
      for (const body of blocks) dir.moved.push({ body, file });
    } else if (kind === 'provider' || kind === 'import' || kind === 'check') {
      dir[kind] = (dir[kind] || []).concat(blocks);
    }
  }
}

// Returns { dirs: Map(absDir -> dir model), errors: [{ file, message }] }.
async function loadTree(root, { skip = [] } = {}) {
  const dirs = new Map();
  const errors = [];
  for (const file of listTfFiles(root, skip)) {
    const dirPath = path.dirname(file);
    if (!dirs.has(dirPath)) dirs.set(dirPath, emptyDir(dirPath));
    let json;
    try {
      json = await parse(file, fs.readFileSync(file, 'utf8'));
    } catch (err) {
      errors.push({ file, message: String(err.message || err).replace(/^Error: /, '') });
      continue;
    }
    addFile(dirs.get(dirPath), file, json);
  }
  return { dirs, errors };
}

module.exports = { loadTree, listTfFiles };
