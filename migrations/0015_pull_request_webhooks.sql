-- Pull-request webhooks (GitHub, GitLab). Every delivery is logged, bad
-- ones too; the body is kept (for Re-run) only when its signature held.
-- `dedup_key` is the provider's delivery id on the first good delivery
-- and NULL on the rest, so a redelivery collides on the unique index in
-- the transaction that would have queued its work.
DROP TABLE webhook_deliveries;
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    provider        TEXT NOT NULL CHECK (provider IN ('github', 'gitlab')),
    delivery_id     TEXT,
    dedup_key       TEXT,
    event           TEXT,
    action          TEXT,
    repository      TEXT,
    pr_number       BIGINT,
    signature       TEXT NOT NULL CHECK (signature IN ('valid', 'invalid', 'missing', 'not-configured', 'unchecked')),
    status          BIGINT NOT NULL,
    outcome         TEXT NOT NULL,
    app_id          TEXT REFERENCES apps(id),
    environment_id  TEXT REFERENCES environments(id),
    body            TEXT,
    received_at     BIGINT NOT NULL,
    processed_at    BIGINT
);
CREATE UNIQUE INDEX webhook_deliveries_dedup ON webhook_deliveries (provider, dedup_key);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at);

-- Each pull request's latest facts (by the provider's updated_at): what its
-- preview converges on, whatever order deliveries arrive in.
CREATE TABLE pull_requests (
    app_id          TEXT NOT NULL REFERENCES apps(id),
    number          BIGINT NOT NULL,
    provider        TEXT NOT NULL,
    facts           TEXT NOT NULL,
    fork            BIGINT NOT NULL CHECK (fork IN (0, 1)),
    -- The pull request's page, for links from its preview (http(s) only).
    url             TEXT,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (app_id, number)
);

-- What each pull request is told about its preview (a commit status and one
-- comment kept up to date): the newest report wanted (`version`), the one
-- sent last, and the comment to edit. Sent by a worker under a lease, with
-- retries; a failure is kept in `last_error` and never holds up the preview.
CREATE TABLE pull_request_reports (
    app_id           TEXT NOT NULL REFERENCES apps(id),
    number           BIGINT NOT NULL,
    provider         TEXT NOT NULL,
    repository       TEXT NOT NULL,
    report           TEXT NOT NULL,
    version          BIGINT NOT NULL,
    sent_version     BIGINT NOT NULL DEFAULT 0,
    comment_id       TEXT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT,
    last_error       TEXT,
    sent_at          BIGINT,
    PRIMARY KEY (app_id, number)
);
CREATE INDEX pull_request_reports_due ON pull_request_reports (next_attempt_at) WHERE sent_version < version;
