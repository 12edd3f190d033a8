-- Identity and access: who logged in through OIDC, key rotation links, and the audit log.
-- The audit log is append-only: the application only INSERTs and SELECTs; 0011 adds triggers
-- that refuse UPDATE and DELETE. Its ids are time-ordered, so `id` alone orders and pages it.
ALTER TABLE users ADD COLUMN oidc_subject TEXT;
ALTER TABLE users ADD COLUMN last_login_at TEXT;
ALTER TABLE api_keys ADD COLUMN replaced_by TEXT;

CREATE TABLE audit_log (
  id            TEXT PRIMARY KEY,
  created_at    TEXT NOT NULL,
  actor_user_id TEXT NOT NULL DEFAULT '',
  actor_email   TEXT NOT NULL DEFAULT '',
  actor_method  TEXT NOT NULL DEFAULT '',
  action        TEXT NOT NULL,
  target_type   TEXT NOT NULL DEFAULT '',
  target_id     TEXT NOT NULL DEFAULT '',
  outcome       TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
  reason        TEXT NOT NULL DEFAULT '',
  ip            TEXT NOT NULL DEFAULT '',
  trace_id      TEXT NOT NULL DEFAULT '',
  details       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_user_id, id);
CREATE INDEX audit_log_target_idx ON audit_log (target_id, id);
CREATE INDEX audit_log_created_idx ON audit_log (created_at);
