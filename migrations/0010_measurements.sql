-- What the ROI and maturity dashboards read: measurements the portal takes
-- of itself, never typed in.

-- The wait each requester had, from the moment the portal received the
-- request (a click's server call, an API call, a webhook) to `ready`: at the
-- claim's commit for a warm-pool hand-over, at provisioning's end for a cold
-- start. Pool fills have no row (nobody waited for them). `ready_at` stays
-- NULL while pending and for ever if it failed.
CREATE TABLE provision_waits (
    environment_id  TEXT PRIMARY KEY REFERENCES environments(id),
    team_id         TEXT NOT NULL REFERENCES teams(id),
    tier            TEXT NOT NULL,
    via             TEXT NOT NULL CHECK (via IN ('ui', 'api', 'webhook')),
    path            TEXT NOT NULL CHECK (path IN ('pool', 'cold')),
    requested_at    BIGINT NOT NULL,
    ready_at        BIGINT,
    wait_ms         BIGINT,
    -- Rows written by the demo seed: shown, always flagged, never passed off as measured.
    demo            BIGINT NOT NULL DEFAULT 0 CHECK (demo IN (0, 1))
);
CREATE INDEX provision_waits_requested ON provision_waits (requested_at);

-- Environments (and through them their cost, ratings and audit history)
-- that the demo seed invented.
ALTER TABLE environments ADD COLUMN demo BIGINT NOT NULL DEFAULT 0 CHECK (demo IN (0, 1));

-- Days on which the automated compliance checks ran, and how often: the
-- results table keeps only the latest, the maturity history needs each month.
CREATE TABLE compliance_days (
    day   TEXT PRIMARY KEY,
    runs  BIGINT NOT NULL,
    last_at BIGINT NOT NULL
);

-- The ROI dashboard's baseline ("before") and default assumptions, as a
-- platform admin last saved them: one JSON document (defaults: the seed's).
CREATE TABLE roi_baseline (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    doc         TEXT NOT NULL,
    updated_by  TEXT REFERENCES users(id),
    updated_at  BIGINT NOT NULL
);
