-- E-mail to people (SMTP, when configured): one row per (notification,
-- person), written in the transaction of the event it tells about, sent by
-- the mailer worker under a lease, like the team channels' deliveries.
-- The address is read when sending, so a changed address is used.
CREATE TABLE emails (
    id               TEXT PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users(id),
    kind             TEXT NOT NULL,
    environment_id   TEXT,
    message          TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT,
    last_error       TEXT,
    sent_at          BIGINT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX emails_due ON emails (state, next_attempt_at);
CREATE INDEX emails_user ON emails (user_id, created_at);

-- Per kind, a person turns the inbox and e-mail on or off separately.
ALTER TABLE notification_prefs ADD COLUMN email_muted BIGINT NOT NULL DEFAULT 0 CHECK (email_muted IN (0, 1));
