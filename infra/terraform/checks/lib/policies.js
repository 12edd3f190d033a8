'use strict';
// Security and platform policies, evaluated per root (envs/stage, envs/prod,
// bootstrap) with module arguments resolved, so a module default that an
// environment overrides is judged by the value the environment passes.

const path = require('node:path');
const { Unknown, resolve, blocks, block } = require('./resolve');

const OPEN = new Set(['0.0.0.0/0', '::/0']);
const LB_RANGES = ['35.191.0.0/16', '130.211.0.0/22'];
const NINETY_DAYS = 90 * 86400;

const where = (r) => `${r.inst.address}: ${r.type}.${r.name}${r.key !== undefined ? `[${JSON.stringify(r.key)}]` : ''}`;
const isUnknown = (v) => v instanceof Unknown;
const has = (o, k) => o && Object.prototype.hasOwnProperty.call(o, k);
const show = (v) => (isUnknown(v) ? v.text : JSON.stringify(v));

function ofType(ctx, type) {
  return ctx.resources.filter((r) => r.mode === 'resource' && r.type === type);
}

// Resolved value of an argument inside a (possibly nested) block.
function arg(r, body, name) {
  return has(body, name) ? resolve(body[name], r.inst) : undefined;
}

function sameRef(v, inst, type, name) {
  return isUnknown(v) && v.ref && v.ref.mode === 'resource' && v.ref.type === type && v.ref.name === name && v.ref.inst === (inst.real || inst);
}

const policies = [];
const policy = (id, title, run) => policies.push({ id, title, run });

policy('firewall-ingress', 'no allow rule open to 0.0.0.0/0 (load balancer traffic comes from Google front-end ranges)', (ctx) => {
  const out = [];
  for (const r of ofType(ctx, 'google_compute_firewall')) {
    const direction = arg(r, r.body, 'direction');
    if (direction === 'EGRESS') continue;
    if (!blocks(r.body, 'allow').length) continue; // deny rules may cover everything
    const ranges = arg(r, r.body, 'source_ranges');
    if (ranges === undefined || ranges === null) {
      if (!has(r.body, 'source_tags') && !has(r.body, 'source_service_accounts')) out.push(`${where(r)}: allow rule without source_ranges/tags/service accounts is open to 0.0.0.0/0`);
      continue;
    }
    if (!Array.isArray(ranges)) {
      out.push(`${where(r)}: source_ranges must be a literal list (got ${show(ranges)})`);
      continue;
    }
    for (const cidr of ranges) {
      if (isUnknown(cidr)) out.push(`${where(r)}: source range ${cidr.text} cannot be verified offline`);
      else if (OPEN.has(cidr)) out.push(`${where(r)}: allows ingress from ${cidr}; only the load balancer's front-end ranges (${LB_RANGES.join(', ')}) and specific ranges are allowed`);
    }
  }
  return out;
});

policy('cloudsql-hardening', 'Cloud SQL: no public IP, SSL only, backups and PITR on primaries', (ctx) => {
  const out = [];
  for (const r of ofType(ctx, 'google_sql_database_instance')) {
    const settings = block(r.body, 'settings')[0];
    if (!settings) {
      out.push(`${where(r)}: no settings block`);
      continue;
    }
    const ip = block(settings, 'ip_configuration')[0];
    if (!ip || arg(r, ip, 'ipv4_enabled') !== false) out.push(`${where(r)}: settings.ip_configuration.ipv4_enabled must be false (private IP only)`);
    if (ip && (arg(r, ip, 'private_network') === undefined || arg(r, ip, 'private_network') === null)) out.push(`${where(r)}: settings.ip_configuration.private_network must be set`);
    const sslMode = ip && arg(r, ip, 'ssl_mode');
    const requireSsl = ip && arg(r, ip, 'require_ssl');
    if (!['ENCRYPTED_ONLY', 'TRUSTED_CLIENT_CERTIFICATE_REQUIRED'].includes(sslMode) && requireSsl !== true) {
      out.push(`${where(r)}: SSL must be enforced (ssl_mode ENCRYPTED_ONLY or TRUSTED_CLIENT_CERTIFICATE_REQUIRED), got ${show(sslMode)}`);
    }
    const primary = arg(r, r.body, 'master_instance_name');
    if (primary === undefined || primary === null) {
      const backup = block(settings, 'backup_configuration')[0];
      if (!backup || arg(r, backup, 'enabled') !== true) out.push(`${where(r)}: automated backups must be enabled`);
      if (!backup || arg(r, backup, 'point_in_time_recovery_enabled') !== true) out.push(`${where(r)}: point_in_time_recovery_enabled must be true`);
      const retention = backup && block(backup, 'backup_retention_settings')[0];
      if (!retention || !has(retention, 'retained_backups')) out.push(`${where(r)}: backup_retention_settings.retained_backups must be set`);
    }
  }
  return out;
});

policy('cloudsql-deletion-protection', 'Cloud SQL deletion protection (Terraform and API) in prod', (ctx) => {
  const out = [];
  if (!ctx.isProd) return out;
  for (const r of ofType(ctx, 'google_sql_database_instance')) {
    const tf = arg(r, r.body, 'deletion_protection');
    if (tf !== undefined && tf !== true) out.push(`${where(r)}: deletion_protection must be true in prod (got ${show(tf)})`);
    const settings = block(r.body, 'settings')[0];
    const api = settings && arg(r, settings, 'deletion_protection_enabled');
    if (api !== true) out.push(`${where(r)}: settings.deletion_protection_enabled must be true in prod (got ${show(api)})`);
  }
  return out;
});

function maintenanceHours(r, window) {
  const start = arg(r, window, 'start_time');
  const end = arg(r, window, 'end_time');
  const rec = arg(r, window, 'recurrence');
  if (typeof start !== 'string' || typeof end !== 'string' || typeof rec !== 'string') return null;
  const hours = (Date.parse(end) - Date.parse(start)) / 3600000;
  let perWeek;
  if (/FREQ=DAILY/.test(rec)) perWeek = 7;
  else if (/FREQ=WEEKLY/.test(rec)) perWeek = ((rec.match(/BYDAY=([A-Z,]+)/) || [null, 'X'])[1]).split(',').length;
  else return null;
  return { hours, per32Days: (hours * perWeek * 32) / 7 };
}

policy('gke-hardening', 'GKE: private nodes, Workload Identity, shielded nodes, Binary Authorization, network policy, release channel', (ctx) => {
  const out = [];
  for (const r of ofType(ctx, 'google_container_cluster')) {
    const w = where(r);
    const pcc = block(r.body, 'private_cluster_config')[0];
    if (!pcc || arg(r, pcc, 'enable_private_nodes') !== true) out.push(`${w}: private_cluster_config.enable_private_nodes must be true`);
    const wi = block(r.body, 'workload_identity_config')[0];
    const pool = wi && arg(r, wi, 'workload_pool');
    if (pool === undefined || pool === null) out.push(`${w}: workload_identity_config.workload_pool must be set`);
    if (arg(r, r.body, 'enable_shielded_nodes') !== true) out.push(`${w}: enable_shielded_nodes must be true`);
    const binauthz = block(r.body, 'binary_authorization')[0];
    if (!binauthz || arg(r, binauthz, 'evaluation_mode') !== 'PROJECT_SINGLETON_POLICY_ENFORCE') out.push(`${w}: binary_authorization.evaluation_mode must be PROJECT_SINGLETON_POLICY_ENFORCE`);
    const np = block(r.body, 'network_policy')[0];
    const npAddon = block(r.body, 'addons_config', 'network_policy_config')[0];
    if (!np || arg(r, np, 'enabled') !== true || !npAddon || arg(r, npAddon, 'disabled') !== false) {
      out.push(`${w}: network policy must be enabled (network_policy.enabled = true and addons_config.network_policy_config.disabled = false)`);
    }
    const channel = block(r.body, 'release_channel')[0];
    if (!channel || arg(r, channel, 'channel') !== 'STABLE') out.push(`${w}: release_channel.channel must be STABLE`);
    if (arg(r, r.body, 'remove_default_node_pool') !== true) out.push(`${w}: remove_default_node_pool must be true (node pools are managed separately)`);
    const enc = block(r.body, 'database_encryption')[0];
    if (!enc || arg(r, enc, 'state') !== 'ENCRYPTED') out.push(`${w}: database_encryption.state must be ENCRYPTED (application-layer secrets encryption)`);

    const man = block(r.body, 'master_authorized_networks_config')[0];
    if (!man) out.push(`${w}: master_authorized_networks_config must be set`);
    else {
      const cidrs = [];
      for (const b of blocks(man, 'cidr_blocks')) {
        if (b.__dynamic) {
          const items = resolve(b.__dynamic.for_each, r.inst);
          if (Array.isArray(items)) for (const it of items) cidrs.push(it && typeof it === 'object' ? it.cidr_block : it);
        } else cidrs.push(arg(r, b, 'cidr_block'));
      }
      for (const c of cidrs) if (OPEN.has(c)) out.push(`${w}: control plane authorized network ${c} is open to the internet`);
      if (arg(r, man, 'gcp_public_cidrs_access_enabled') === true) out.push(`${w}: gcp_public_cidrs_access_enabled must not be true`);
    }

    const mw = block(r.body, 'maintenance_policy', 'recurring_window')[0];
    const h = mw && maintenanceHours(r, mw);
    if (!h) out.push(`${w}: maintenance_policy.recurring_window must be set with literal times and a DAILY/WEEKLY recurrence`);
    else if (h.hours < 4 || h.per32Days < 48) out.push(`${w}: maintenance window gives ${h.per32Days.toFixed(1)} h in 32 days in ${h.hours} h windows; GKE needs >= 48 h and >= 4 h windows`);

    for (const nc of blocks(r.body, 'node_config')) checkNodeConfig(r, nc, w, out);
  }
  for (const r of ofType(ctx, 'google_container_node_pool')) {
    const ncs = blocks(r.body, 'node_config');
    if (!ncs.length) out.push(`${where(r)}: node_config must be set (shielded instance, GKE metadata server)`);
    for (const nc of ncs) checkNodeConfig(r, nc, where(r), out);
    if (!blocks(r.body, 'autoscaling').length) out.push(`${where(r)}: node pools must autoscale`);
  }
  return out;
});

function checkNodeConfig(r, nc, w, out) {
  const sic = block(nc, 'shielded_instance_config')[0];
  if (!sic || arg(r, sic, 'enable_secure_boot') !== true) out.push(`${w}: node_config.shielded_instance_config.enable_secure_boot must be true`);
  const wmc = block(nc, 'workload_metadata_config')[0];
  if (!wmc || arg(r, wmc, 'mode') !== 'GKE_METADATA') out.push(`${w}: node_config.workload_metadata_config.mode must be GKE_METADATA`);
  const sa = arg(r, nc, 'service_account');
  if (sa === undefined || sa === null || (typeof sa === 'string' && /-compute@developer\.gserviceaccount\.com$/.test(sa))) out.push(`${w}: node_config.service_account must be a dedicated service account`);
}

policy('nat-gke-subnet', 'Cloud NAT covers every range of the subnet GKE nodes use', (ctx) => {
  const out = [];
  const nats = ofType(ctx, 'google_compute_router_nat');
  for (const r of ofType(ctx, 'google_container_cluster')) {
    const sub = arg(r, r.body, 'subnetwork');
    if (!isUnknown(sub) || !sub.ref || sub.ref.type !== 'google_compute_subnetwork') {
      out.push(`${where(r)}: cannot trace subnetwork (${show(sub)}) to a google_compute_subnetwork of this tree`);
      continue;
    }
    const covered = nats.some((n) => {
      const mode = arg(n, n.body, 'source_subnetwork_ip_ranges_to_nat');
      if (mode === 'ALL_SUBNETWORKS_ALL_IP_RANGES') return true;
      if (mode !== 'LIST_OF_SUBNETWORKS') return false;
      return blocks(n.body, 'subnetwork').some((s) => {
        const name = arg(n, s, 'name');
        const ranges = arg(n, s, 'source_ip_ranges_to_nat');
        return sameRef(name, sub.ref.inst, 'google_compute_subnetwork', sub.ref.name) && Array.isArray(ranges) && ranges.includes('ALL_IP_RANGES');
      });
    });
    if (!covered) out.push(`${where(r)}: no Cloud NAT covers all IP ranges of google_compute_subnetwork.${sub.ref.name} (${sub.ref.inst.address})`);
  }
  return out;
});

policy('bucket-access', 'buckets: uniform access, public access prevention, no public members', (ctx) => {
  const out = [];
  for (const r of ofType(ctx, 'google_storage_bucket')) {
    if (arg(r, r.body, 'uniform_bucket_level_access') !== true) out.push(`${where(r)}: uniform_bucket_level_access must be true`);
    if (arg(r, r.body, 'public_access_prevention') !== 'enforced') out.push(`${where(r)}: public_access_prevention must be "enforced"`);
  }
  for (const t of ['google_storage_bucket_iam_member', 'google_storage_bucket_iam_binding']) {
    for (const r of ofType(ctx, t)) {
      const members = [arg(r, r.body, 'member'), ...[].concat(arg(r, r.body, 'members') || [])];
      for (const m of members) if (m === 'allUsers' || m === 'allAuthenticatedUsers') out.push(`${where(r)}: grants ${m}`);
    }
  }
  return out;
});

function present(v) {
  return v !== undefined && v !== null && v !== '';
}

policy('cmek', 'customer-managed keys on Cloud SQL, Redis, secrets, buckets, registry, topics and log datasets', (ctx) => {
  const out = [];
  const need = (type, get, what) => {
    for (const r of ofType(ctx, type)) {
      const values = get(r);
      if (!values.length || values.some((v) => !present(v))) out.push(`${where(r)}: ${what} must name a KMS key`);
    }
  };
  need('google_sql_database_instance', (r) => [arg(r, r.body, 'encryption_key_name')], 'encryption_key_name');
  need('google_redis_instance', (r) => [arg(r, r.body, 'customer_managed_key')], 'customer_managed_key');
  need('google_storage_bucket', (r) => block(r.body, 'encryption').map((e) => arg(r, e, 'default_kms_key_name')), 'encryption.default_kms_key_name');
  need('google_artifact_registry_repository', (r) => [arg(r, r.body, 'kms_key_name')], 'kms_key_name');
  need('google_pubsub_topic', (r) => [arg(r, r.body, 'kms_key_name')], 'kms_key_name');
  need('google_bigquery_dataset', (r) => block(r.body, 'default_encryption_configuration').map((e) => arg(r, e, 'kms_key_name')), 'default_encryption_configuration.kms_key_name');
  need('google_secret_manager_secret', (r) => {
    const auto = block(r.body, 'replication', 'auto');
    const replicas = block(r.body, 'replication', 'user_managed', 'replicas');
    const all = [...auto, ...replicas];
    if (!all.length) return [];
    return all.map((b) => {
      const cme = block(b, 'customer_managed_encryption')[0];
      return cme ? arg(r, cme, 'kms_key_name') : undefined;
    });
  }, 'every replica\'s customer_managed_encryption.kms_key_name');
  return out;
});

policy('pubsub-dead-letter', 'every subscription has retry and dead-letter policies and the Pub/Sub service agent\'s grants', (ctx) => {
  const out = [];
  const subs = ofType(ctx, 'google_pubsub_subscription');
  const dlTargets = subs.flatMap((s) => block(s.body, 'dead_letter_policy').map((d) => arg(s, d, 'dead_letter_topic')));
  const isAgent = (m) => (typeof m === 'string' ? m : isUnknown(m) ? m.text : '').includes('@gcp-sa-pubsub.iam.gserviceaccount.com');
  const topicGrants = ofType(ctx, 'google_pubsub_topic_iam_member');
  const subGrants = ofType(ctx, 'google_pubsub_subscription_iam_member');
  for (const r of subs) {
    const topic = arg(r, r.body, 'topic');
    const isDeadLetterSink = isUnknown(topic) && topic.ref && dlTargets.some((t) => sameRef(t, topic.ref.inst, topic.ref.type, topic.ref.name));
    if (isDeadLetterSink) continue; // the end of the line: holds dead letters for inspection
    const dlp = block(r.body, 'dead_letter_policy')[0];
    if (!dlp) {
      out.push(`${where(r)}: no dead_letter_policy`);
      continue;
    }
    if (!blocks(r.body, 'retry_policy').length) out.push(`${where(r)}: no retry_policy`);
    if (!present(arg(r, dlp, 'max_delivery_attempts'))) out.push(`${where(r)}: dead_letter_policy.max_delivery_attempts must be set`);
    const dlt = arg(r, dlp, 'dead_letter_topic');
    if (!isUnknown(dlt) || !dlt.ref || dlt.ref.type !== 'google_pubsub_topic') {
      out.push(`${where(r)}: dead_letter_topic must reference a google_pubsub_topic of this tree to verify its grants`);
      continue;
    }
    const dlTopic = dlt.ref.inst.dir.resources.find((x) => x.mode === 'resource' && x.type === 'google_pubsub_topic' && x.name === dlt.ref.name);
    const pub = topicGrants.some((g) => arg(g, g.body, 'role') === 'roles/pubsub.publisher' && isAgent(arg(g, g.body, 'member'))
      && sameRef(arg(g, g.body, 'topic'), dlt.ref.inst, 'google_pubsub_topic', dlt.ref.name)
      && (!dlTopic || g.body.for_each === dlTopic.body.for_each));
    if (!pub) out.push(`${where(r)}: the Pub/Sub service agent needs roles/pubsub.publisher on its dead-letter topic google_pubsub_topic.${dlt.ref.name} (same for_each)`);
    const sub = subGrants.some((g) => arg(g, g.body, 'role') === 'roles/pubsub.subscriber' && isAgent(arg(g, g.body, 'member'))
      && sameRef(arg(g, g.body, 'subscription'), r.inst, 'google_pubsub_subscription', r.name)
      && g.body.for_each === r.body.for_each);
    if (!sub) out.push(`${where(r)}: the Pub/Sub service agent needs roles/pubsub.subscriber on this subscription (same for_each)`);
  }
  return out;
});

policy('budget-per-env', 'every environment has a budget alerting at 50/80/100 %', (ctx) => {
  if (!ctx.isEnv) return [];
  const budgets = ofType(ctx, 'google_billing_budget');
  if (!budgets.length) return [`${ctx.root.address}: no google_billing_budget in this environment`];
  const out = [];
  for (const r of budgets) {
    const found = new Set();
    for (const b of blocks(r.body, 'threshold_rules')) {
      if (b.__dynamic) {
        const items = resolve(b.__dynamic.for_each, r.inst);
        if (Array.isArray(items) && /\.value\}$/.test(String(b.threshold_percent))) items.forEach((x) => found.add(x));
      } else found.add(arg(r, b, 'threshold_percent'));
    }
    const missing = [0.5, 0.8, 1].filter((t) => !found.has(t));
    if (missing.length) out.push(`${where(r)}: thresholds ${missing.join(', ')} are missing`);
  }
  return out;
});

policy('kms-rotation', 'symmetric KMS keys rotate at least every 90 days', (ctx) => {
  const out = [];
  for (const r of ofType(ctx, 'google_kms_crypto_key')) {
    const purpose = arg(r, r.body, 'purpose');
    if (purpose !== undefined && purpose !== 'ENCRYPT_DECRYPT') continue;
    const period = arg(r, r.body, 'rotation_period');
    if (period === undefined || period === null) out.push(`${where(r)}: rotation_period must be set`);
    else if (typeof period === 'string' && Number(period.replace(/s$/, '')) > NINETY_DAYS) out.push(`${where(r)}: rotation_period ${period} is longer than 90 days`);
  }
  return out;
});

policy('no-secret-values', 'no secret material in Terraform configuration or state', (ctx) => {
  const out = [];
  for (const r of ctx.resources) {
    if (r.mode !== 'resource') continue;
    if (['google_secret_manager_secret_version', 'google_service_account_key', 'google_sql_ssl_cert', 'google_compute_backend_bucket_signed_url_key', 'google_compute_backend_service_signed_url_key'].includes(r.type)) {
      out.push(`${where(r)}: ${r.type} puts secret material in state; create it outside Terraform`);
    }
    if (r.type === 'google_sql_user' && (has(r.body, 'password') || has(r.body, 'password_wo'))) out.push(`${where(r)}: database passwords do not belong in Terraform (use IAM database users)`);
    if (r.type === 'google_sql_database_instance' && has(r.body, 'root_password')) out.push(`${where(r)}: root_password must not be set`);
  }
  return out;
});

// Checks per directory rather than per root.
const dirPolicies = [];

dirPolicies.push({
  id: 'provider-pin',
  title: 'every module and root pins Terraform >= 1.x and google (and google-beta) ~> 5.0',
  run(tree, base) {
    const out = [];
    for (const dir of tree.dirs.values()) {
      const rel = path.relative(base, dir.path) || '.';
      const rp = dir.terraform.flatMap((t) => t.body.required_providers || []);
      const reqVersion = dir.terraform.map((t) => t.body.required_version).find(Boolean);
      if (!reqVersion || !/^>=\s*1(\.\d+)*$/.test(reqVersion)) out.push(`${rel}: terraform.required_version must be ">= 1.x" (got ${JSON.stringify(reqVersion)})`);
      const google = rp.map((p) => p.google).find(Boolean);
      if (!google) out.push(`${rel}: required_providers has no google entry`);
      else {
        if (google.source !== 'hashicorp/google') out.push(`${rel}: google source must be hashicorp/google`);
        if (google.version !== '~> 5.0') out.push(`${rel}: google version must be "~> 5.0" (got ${JSON.stringify(google.version)})`);
      }
      const beta = rp.map((p) => p['google-beta']).find(Boolean);
      if (beta && beta.version !== '~> 5.0') out.push(`${rel}: google-beta version must be "~> 5.0"`);
      for (const p of dir.provider || []) {
        for (const [name, bodies] of Object.entries(p)) for (const b of bodies) if (has(b, 'version')) out.push(`${rel}: provider "${name}" sets version; use required_providers`);
      }
    }
    return out;
  },
});

dirPolicies.push({
  id: 'variable-docs',
  title: 'every variable has a type and a description; every output a description',
  run(tree, base) {
    const out = [];
    for (const dir of tree.dirs.values()) {
      for (const [name, v] of Object.entries(dir.variables)) {
        const rel = path.relative(base, v.file);
        if (!has(v.body, 'type')) out.push(`${rel}: variable "${name}" has no type`);
        if (typeof v.body.description !== 'string' || !v.body.description.trim()) out.push(`${rel}: variable "${name}" has no description`);
      }
      for (const [name, o] of Object.entries(dir.outputs)) {
        if (typeof o.body.description !== 'string' || !o.body.description.trim()) out.push(`${path.relative(base, o.file)}: output "${name}" has no description`);
      }
    }
    return out;
  },
});

dirPolicies.push({
  id: 'backend-gcs',
  title: 'every environment keeps its state in GCS under a prefix of its own',
  run(tree, base) {
    const out = [];
    const prefixes = new Map();
    for (const dir of tree.dirs.values()) {
      const rel = path.relative(base, dir.path);
      if (!/(^|\/)envs\/[^/]+$/.test(rel)) continue;
      const backends = dir.terraform.flatMap((t) => t.body.backend ? [t.body.backend] : []);
      const gcs = backends.map((b) => b.gcs && b.gcs[0]).find(Boolean);
      if (!gcs) {
        out.push(`${rel}: no backend "gcs"`);
        continue;
      }
      if (typeof gcs.prefix !== 'string' || !gcs.prefix) out.push(`${rel}: backend "gcs" needs a literal prefix`);
      else if (prefixes.has(gcs.prefix)) out.push(`${rel}: state prefix "${gcs.prefix}" is also used by ${prefixes.get(gcs.prefix)}`);
      else prefixes.set(gcs.prefix, rel);
    }
    return out;
  },
});

module.exports = { policies, dirPolicies };
