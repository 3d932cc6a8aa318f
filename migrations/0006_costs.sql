-- Chargeback. The price book becomes effective-dated: a rate applies from
-- its instant until the next row of the same (tier, kind), so a change never
-- rewrites past cost. Seeded with the defaults of `domain/price.rs` (a test
-- checks they agree), in force since the epoch.
DROP TABLE price_book;
CREATE TABLE price_book (
    id                  TEXT PRIMARY KEY,
    tier                TEXT NOT NULL,
    kind                TEXT NOT NULL,
    effective_from      BIGINT NOT NULL,
    hourly_rate_micros  BIGINT NOT NULL CHECK (hourly_rate_micros >= 0),
    created_by          TEXT REFERENCES users(id),
    created_at          BIGINT NOT NULL,
    UNIQUE (tier, kind, effective_from)
);
INSERT INTO price_book (id, tier, kind, effective_from, hourly_rate_micros, created_by, created_at) VALUES
    ('default-preview-lightweight-compute', 'preview-lightweight', 'compute', 0, 100000, NULL, 0),
    ('default-preview-lightweight-shared-database', 'preview-lightweight', 'shared-database', 0, 50000, NULL, 0),
    ('default-preview-lightweight-shared-database-server', 'preview-lightweight', 'shared-database-server', 0, 400000, NULL, 0),
    ('default-preview-full-compute', 'preview-full', 'compute', 0, 125000, NULL, 0),
    ('default-preview-full-database', 'preview-full', 'database', 0, 375000, NULL, 0),
    ('default-preview-full-cdn', 'preview-full', 'cdn', 0, 145834, NULL, 0),
    ('default-preview-compliance-compute', 'preview-compliance', 'compute', 0, 150000, NULL, 0),
    ('default-preview-compliance-database', 'preview-compliance', 'database', 0, 450000, NULL, 0),
    ('default-preview-compliance-cdn', 'preview-compliance', 'cdn', 0, 145834, NULL, 0),
    ('default-preview-compliance-isolation', 'preview-compliance', 'isolation', 0, 100000, NULL, 0),
    ('default-staging-compute', 'staging', 'compute', 0, 400000, NULL, 0),
    ('default-staging-database', 'staging', 'database', 0, 350000, NULL, 0),
    ('default-staging-cdn', 'staging', 'cdn', 0, 72000, NULL, 0),
    ('default-production-compute', 'production', 'compute', 0, 1200000, NULL, 0),
    ('default-production-database', 'production', 'database', 0, 900000, NULL, 0),
    ('default-production-cdn', 'production', 'cdn', 0, 300000, NULL, 0);

-- A budget row applies from its month on, until a later row for the team:
-- the budget of month M is the team's latest row with month <= M.
-- Each alert level is sent once per team, month and basis (actual or
-- forecast): the primary key is what makes it once.
CREATE TABLE budget_alerts (
    team_id        TEXT NOT NULL REFERENCES teams(id),
    month          TEXT NOT NULL,
    basis          TEXT NOT NULL CHECK (basis IN ('actual', 'forecast')),
    pct            BIGINT NOT NULL,
    spent_micros   BIGINT NOT NULL,
    budget_micros  BIGINT NOT NULL,
    at             BIGINT NOT NULL,
    PRIMARY KEY (team_id, month, basis, pct)
);

-- When an environment was shared by several teams (a shared staging): its
-- cost in [started_at, ended_at or now) is a shared cost, allocated to the
-- teams with usage, not its own team's. Marking opens a period, unmarking
-- closes it: neither reaches back into months already reported.
CREATE TABLE shared_periods (
    environment_id  TEXT NOT NULL REFERENCES environments(id),
    started_at      BIGINT NOT NULL,
    ended_at        BIGINT,
    PRIMARY KEY (environment_id, started_at)
);

-- Reports read the resources overlapping a month.
CREATE INDEX resources_ended ON resources (ended_at);
CREATE INDEX notifications_kind ON notifications (kind, created_at);
