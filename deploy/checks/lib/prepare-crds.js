'use strict';
// Copies the vendored CRDs for the model generator, with one correction: in Kubernetes
// OpenAPI, `format: duration` means a Go/Prometheus duration ("15s", "1m30s"), but the
// generated validators would apply JSON Schema's ISO 8601 duration ("PT15S") and reject
// every valid value. Such fields get the equivalent pattern instead.
//   node lib/prepare-crds.js SRC_DIR DEST_DIR
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

const GO_DURATION = '^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h|d|w|y))+$';

function fix(node) {
  if (Array.isArray(node)) { node.forEach(fix); return; }
  if (!node || typeof node !== 'object') return;
  if (node.format === 'duration' && node.type === 'string') {
    delete node.format;
    if (!node.pattern) node.pattern = GO_DURATION;
  }
  Object.values(node).forEach(fix);
}

const [src, dest] = process.argv.slice(2);
fs.mkdirSync(dest, { recursive: true });
for (const f of fs.readdirSync(src).filter((x) => x.endsWith('.yaml'))) {
  const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(src, f), 'utf8')).map((d) => d.toJS()).filter(Boolean);
  docs.forEach(fix);
  fs.writeFileSync(path.join(dest, f), docs.map((d) => YAML.stringify(d)).join('---\n'));
}
