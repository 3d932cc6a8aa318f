-- When a warm-pool member was handed to its user. Resource time before this
-- instant is the platform's pool cost, not the team's; NULL for environments
-- created on request (and for members still waiting in the pool).
ALTER TABLE environments ADD COLUMN claimed_at BIGINT;

CREATE INDEX environments_pool ON environments (app_id, tier) WHERE pooled = 1;
