-- Core schema for the whole portal, portable across SQLite and PostgreSQL.
-- Conventions: ids are TEXT (UUIDv7 or slugs), instants are BIGINT epoch
-- milliseconds (UTC), money is BIGINT micro-dollars, rates are micro-dollars
-- per hour. Flags are BIGINT 0/1: sqlx's Any driver cannot read SQLite
-- BOOLEAN columns, and PostgreSQL will not compare BOOLEAN with integers.

CREATE TABLE teams (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Users are keyed by (issuer, subject), never by e-mail.
CREATE TABLE users (
    id                 TEXT PRIMARY KEY,
    issuer             TEXT NOT NULL,
    subject            TEXT NOT NULL,
    login              TEXT NOT NULL UNIQUE,
    display_name       TEXT NOT NULL,
    email              TEXT,
    is_platform_admin  BIGINT NOT NULL DEFAULT 0 CHECK (is_platform_admin IN (0, 1)),
    created_at         BIGINT NOT NULL,
    last_seen_at       BIGINT,
    UNIQUE (issuer, subject)
);

CREATE TABLE memberships (
    team_id     TEXT NOT NULL REFERENCES teams(id),
    user_id     TEXT NOT NULL REFERENCES users(id),
    role        TEXT NOT NULL CHECK (role IN ('developer', 'manager')),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

-- An app is something a team deploys; its blueprint says how an environment
-- of it is made (driver, command, health path, template database, resources).
CREATE TABLE apps (
    id          TEXT PRIMARY KEY,
    team_id     TEXT NOT NULL REFERENCES teams(id),
    slug        TEXT NOT NULL,
    name        TEXT NOT NULL,
    repo_url    TEXT,
    blueprint   TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    UNIQUE (team_id, slug)
);

CREATE TABLE environments (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    team_id           TEXT NOT NULL REFERENCES teams(id),
    app_id            TEXT NOT NULL REFERENCES apps(id),
    owner_id          TEXT REFERENCES users(id),
    tier              TEXT NOT NULL CHECK (tier IN ('preview-lightweight', 'preview-full', 'preview-compliance', 'staging', 'production')),
    state             TEXT NOT NULL CHECK (state IN ('pending', 'ready', 'active', 'idle', 'expiring', 'destroyed', 'failed')),
    -- What the user asked for; the reconciler drives `state` toward it.
    desired           TEXT NOT NULL DEFAULT 'running' CHECK (desired IN ('running', 'destroyed')),
    git_ref           TEXT,
    pr_number         BIGINT,
    commit_sha        TEXT,
    -- Environments provisioned ahead into a warm pool have no owner yet.
    pooled            BIGINT NOT NULL DEFAULT 0 CHECK (pooled IN (0, 1)),
    created_at        BIGINT NOT NULL,
    ready_at          BIGINT,
    last_activity_at  BIGINT,
    expires_at        BIGINT,
    warned_at         BIGINT,
    destroyed_at      BIGINT,
    failure_reason    TEXT,
    -- Optimistic concurrency: every write bumps it.
    version           BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX environments_team_state ON environments (team_id, state);
CREATE INDEX environments_expiry ON environments (expires_at) WHERE destroyed_at IS NULL;
CREATE INDEX environments_created ON environments (created_at);

-- Every priced thing an environment holds. Cost is the exact integral of
-- hourly_rate_micros over [started_at, ended_at or now).
CREATE TABLE resources (
    id                  TEXT PRIMARY KEY,
    environment_id      TEXT NOT NULL REFERENCES environments(id),
    kind                TEXT NOT NULL,
    -- Deterministic, derived from the environment name, so retries are idempotent.
    name                TEXT NOT NULL,
    driver              TEXT NOT NULL,
    state               TEXT NOT NULL CHECK (state IN ('planned', 'created', 'deleted')),
    hourly_rate_micros  BIGINT NOT NULL CHECK (hourly_rate_micros >= 0),
    started_at          BIGINT,
    ended_at            BIGINT,
    UNIQUE (environment_id, kind)
);
CREATE INDEX resources_started ON resources (started_at);

-- The price book: the hourly rate of each resource kind per tier.
CREATE TABLE price_book (
    tier                TEXT NOT NULL,
    kind                TEXT NOT NULL,
    hourly_rate_micros  BIGINT NOT NULL CHECK (hourly_rate_micros >= 0),
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (tier, kind)
);

CREATE TABLE budgets (
    team_id        TEXT NOT NULL REFERENCES teams(id),
    month          TEXT NOT NULL,  -- 'YYYY-MM', UTC
    amount_micros  BIGINT NOT NULL CHECK (amount_micros >= 0),
    alert_pcts     TEXT NOT NULL DEFAULT '50,80,100',
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (team_id, month)
);

-- Append-only: no code path updates or deletes these rows.
CREATE TABLE audit_events (
    id           TEXT PRIMARY KEY,  -- UUIDv7: sorts by time
    at           BIGINT NOT NULL,
    actor_id     TEXT,
    actor_label  TEXT NOT NULL,
    action       TEXT NOT NULL,
    target_kind  TEXT NOT NULL,
    target_id    TEXT,
    team_id      TEXT,
    ip           TEXT,
    user_agent   TEXT,
    outcome      TEXT NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
    detail       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_team_at ON audit_events (team_id, at);
CREATE INDEX audit_events_target ON audit_events (target_id);

-- Work for the workers, enqueued in the same transaction as the change that
-- needs it. A claim is a lease that a heartbeat extends.
CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,
    environment_id  TEXT REFERENCES environments(id),
    payload         TEXT NOT NULL DEFAULT '{}',
    run_at          BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    max_attempts    BIGINT NOT NULL DEFAULT 5,
    locked_by       TEXT,
    lease_until     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    finished_at     BIGINT
);
CREATE INDEX jobs_runnable ON jobs (run_at) WHERE finished_at IS NULL;

CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    user_id         TEXT REFERENCES users(id),
    environment_id  TEXT REFERENCES environments(id),
    kind            TEXT NOT NULL,
    message         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    read_at         BIGINT
);
CREATE INDEX notifications_user ON notifications (user_id, created_at);

CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,  -- the public prefix id
    user_id       TEXT NOT NULL REFERENCES users(id),
    name          TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    last_used_at  BIGINT,
    revoked_at    BIGINT
);

-- Satisfaction ratings after destroy, for the ROI dashboard.
CREATE TABLE ratings (
    environment_id  TEXT NOT NULL REFERENCES environments(id),
    user_id         TEXT NOT NULL REFERENCES users(id),
    score           BIGINT NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment         TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (environment_id, user_id)
);

CREATE TABLE webhook_deliveries (
    delivery_id  TEXT PRIMARY KEY,
    source       TEXT NOT NULL,
    received_at  BIGINT NOT NULL
);

-- Small facts about this installation (e.g. that demo data was seeded).
CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
