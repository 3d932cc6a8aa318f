-- One live environment per app and pull request: creates look it up first.
CREATE INDEX environments_app_pr ON environments (app_id, pr_number);

-- `Idempotency-Key` of API creates: a retried create answers the
-- environment the first one made (for a day), written in the create's
-- transaction.
CREATE TABLE idempotency_keys (
    user_id         TEXT NOT NULL REFERENCES users(id),
    key             TEXT NOT NULL,
    request         TEXT NOT NULL,
    environment_id  TEXT NOT NULL REFERENCES environments(id),
    -- 1 when the first answer was the pull request's existing preview (200):
    -- a retry answers the same way.
    existing        BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);
