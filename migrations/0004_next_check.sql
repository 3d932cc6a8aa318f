-- When the scheduler should next look at an environment (expiry, warning or
-- idle window; computed by the pure lifecycle on every write). NULL: no timer
-- can fire. Live rows from before this column get one check right away.
ALTER TABLE environments ADD COLUMN next_check_at BIGINT;
UPDATE environments SET next_check_at = 0 WHERE state IN ('ready', 'active', 'idle');
CREATE INDEX environments_next_check ON environments (next_check_at) WHERE next_check_at IS NOT NULL;
