-- Limits (issue 5): the cost of each usage record, and per-key/per-user limit overrides.
-- Costs are integer nano-dollars (USD * 1e9) so sums are exact in both dialects.
ALTER TABLE usage_records ADD COLUMN cost_nanos BIGINT NOT NULL DEFAULT 0;

-- One row per (scope, subject, model); model '' means every model. A NULL limit inherits
-- the configured default; 0 means unlimited.
CREATE TABLE limit_overrides (
  scope               TEXT NOT NULL CHECK (scope IN ('key', 'user')),
  subject_id          TEXT NOT NULL,
  model               TEXT NOT NULL DEFAULT '',
  requests_per_minute BIGINT,
  tokens_per_minute   BIGINT,
  concurrent_requests BIGINT,
  daily_tokens        BIGINT,
  monthly_tokens      BIGINT,
  daily_cost_nanos    BIGINT,
  monthly_cost_nanos  BIGINT,
  updated_at          TEXT NOT NULL,
  updated_by          TEXT NOT NULL,
  PRIMARY KEY (scope, subject_id, model)
);
CREATE INDEX usage_records_model_idx ON usage_records (model, created_at);
