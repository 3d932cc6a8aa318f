-- Outgoing notification channels per team and the transactional outbox
-- feeding them. URLs and webhook secrets are sealed with the portal's
-- secret key (EOD_SECRET_KEY or the data directory's key file), so a
-- database dump alone does not reveal them.
CREATE TABLE channels (
    id                      TEXT PRIMARY KEY,
    team_id                 TEXT NOT NULL REFERENCES teams(id),
    kind                    TEXT NOT NULL,   -- slack | webhook
    url_sealed              TEXT NOT NULL,
    secret_sealed           TEXT,            -- webhook: whsec_…
    -- While a secret is rotated, the previous one signs too, until then.
    previous_secret_sealed  TEXT,
    previous_until          BIGINT,
    disabled_at             BIGINT,
    disabled_reason         TEXT,
    created_by              TEXT REFERENCES users(id),
    created_at              BIGINT NOT NULL
);
CREATE INDEX channels_team ON channels (team_id);

-- One row per (event, channel), written in the event's transaction. The id
-- is the webhook-id receivers de-duplicate on; `delivered` is recorded by a
-- conditional update on the worker's lease, so once.
CREATE TABLE deliveries (
    id               TEXT PRIMARY KEY,
    channel_id       TEXT NOT NULL REFERENCES channels(id),
    event            TEXT NOT NULL,
    message          TEXT NOT NULL,
    state            TEXT NOT NULL,     -- pending | delivered | failed
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT,
    last_status      BIGINT,
    last_error       TEXT,
    delivered_at     BIGINT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_channel ON deliveries (channel_id, created_at);

-- Which kinds of in-app notification a user muted (absent: on).
CREATE TABLE notification_prefs (
    user_id  TEXT NOT NULL REFERENCES users(id),
    kind     TEXT NOT NULL,
    muted    BIGINT NOT NULL CHECK (muted IN (0, 1)),
    PRIMARY KEY (user_id, kind)
);
