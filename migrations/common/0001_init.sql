-- Users, API keys and usage records. Written once for SQLite 3.40 and PostgreSQL 15:
-- timestamps are UTC ISO-8601 text (sortable, substr(...,1,10) is the day in both),
-- booleans are integers.
CREATE TABLE users (
  id           TEXT PRIMARY KEY,
  email        TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL DEFAULT '',
  role         TEXT NOT NULL CHECK (role IN ('admin', 'developer', 'viewer')),
  active       INTEGER NOT NULL DEFAULT 1,
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL
);

CREATE TABLE api_keys (
  id             TEXT PRIMARY KEY,
  user_id        TEXT NOT NULL REFERENCES users (id),
  name           TEXT NOT NULL,
  prefix         TEXT NOT NULL,
  hash           TEXT NOT NULL UNIQUE,
  role           TEXT NOT NULL CHECK (role IN ('admin', 'developer', 'viewer')),
  allowed_models TEXT NOT NULL DEFAULT '',
  created_at     TEXT NOT NULL,
  expires_at     TEXT,
  revoked_at     TEXT,
  last_used_at   TEXT
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

CREATE TABLE usage_records (
  id                TEXT PRIMARY KEY,
  created_at        TEXT NOT NULL,
  request_id        TEXT NOT NULL,
  api_key_id        TEXT,
  user_id           TEXT,
  model             TEXT NOT NULL,
  provider          TEXT NOT NULL,
  deployment        TEXT NOT NULL,
  prompt_tokens     BIGINT NOT NULL,
  completion_tokens BIGINT NOT NULL,
  latency_ms        BIGINT NOT NULL,
  ttft_ms           BIGINT,
  status            INTEGER NOT NULL,
  streamed          INTEGER NOT NULL,
  error_code        TEXT
);
CREATE INDEX usage_records_created_idx ON usage_records (created_at);
CREATE INDEX usage_records_key_idx ON usage_records (api_key_id, created_at);
CREATE INDEX usage_records_user_idx ON usage_records (user_id, created_at);
