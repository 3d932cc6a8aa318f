-- Runtime truth (issue #13). `desired` was written and never read: the
-- lifecycle state and the jobs queued with it already say where an
-- environment is going, so the column goes rather than promise a reconciler
-- that reads it.
ALTER TABLE environments DROP COLUMN desired;

-- What the health monitor last concluded from the tier's probes, beside the
-- lifecycle state: `unknown` until the first deploy passes its readiness
-- probe, `unhealthy` after the tier's failure threshold (or as soon as the
-- process is seen gone), `healthy` again once a probe passes.
ALTER TABLE environments ADD COLUMN health TEXT NOT NULL DEFAULT 'unknown'
    CHECK (health IN ('healthy', 'unhealthy', 'unknown'));
ALTER TABLE environments ADD COLUMN health_changed_at BIGINT;
-- Environments running before this migration passed their readiness probe
-- then: the monitor watches them from now on.
UPDATE environments SET health = 'healthy' WHERE state IN ('active', 'idle', 'expiring');
-- Restarts since the environment was last stably healthy: the backoff of the
-- next one grows with it.
ALTER TABLE environments ADD COLUMN restarts BIGINT NOT NULL DEFAULT 0;

-- Deployments (issue #13): a commit replacing what an environment runs, by
-- its tier's strategy. The environment's `commit_sha` is what serves now.
CREATE TABLE deployments (
    id               TEXT PRIMARY KEY,
    environment_id   TEXT NOT NULL REFERENCES environments(id),
    commit_sha       TEXT NOT NULL,
    git_ref          TEXT,
    -- What served before it, and its ref (a rollback goes back to them).
    previous_commit  TEXT,
    previous_ref     TEXT,
    strategy         TEXT NOT NULL CHECK (strategy IN ('recreate', 'rolling', 'blue-green')),
    -- NULL: the portal itself (an automatic rollback).
    requested_by     TEXT REFERENCES users(id),
    state            TEXT NOT NULL CHECK (state IN ('queued', 'deploying', 'succeeded', 'failed', 'rolled-back')),
    reason           TEXT,
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    ready_at         BIGINT,
    finished_at      BIGINT,
    -- Blue-green: the old colour is kept (and a rollback offered) until then.
    rollback_until   BIGINT
);
CREATE INDEX deployments_environment ON deployments (environment_id, created_at);
-- The Environments page counts the unhealthy ones on every load.
CREATE INDEX environments_unhealthy ON environments (team_id) WHERE health = 'unhealthy';
