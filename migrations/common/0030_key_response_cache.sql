-- Response cache opt-in per API key: every request of a key with cache_responses = 1 goes
-- through the response cache (as if it sent `x-bro-cache: on`, which `off` still overrides).
ALTER TABLE api_keys ADD COLUMN cache_responses INTEGER NOT NULL DEFAULT 0;
