-- Preview access protection (issue #14). A preview answers only to whom its
-- access mode allows; a browser proves it with a cookie scoped to the
-- preview's own host, got through a one-time code (the portal's session
-- cookie never goes to preview hosts) or a share link.

-- One-time codes: the portal, having checked the signed-in viewer, hands
-- the browser a code the preview host exchanges for its own cookie. Only the
-- hash is kept; a code works once, within a minute.
CREATE TABLE preview_codes (
    code_hash       TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments(id),
    user_id         TEXT NOT NULL REFERENCES users(id),
    -- Where on the preview the browser was going.
    next_path       TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT
);

-- Share links: a member lets someone without an account see one preview
-- until the link expires or is revoked.
CREATE TABLE share_links (
    id              TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments(id),
    token_hash      TEXT NOT NULL UNIQUE,
    note            TEXT NOT NULL DEFAULT '',
    created_by      TEXT NOT NULL REFERENCES users(id),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    revoked_at      BIGINT,
    revoked_by      TEXT REFERENCES users(id)
);
CREATE INDEX share_links_environment ON share_links (environment_id, created_at);

-- A browser's access to one preview host: by a signed-in user (through a
-- code) or by a share link. Checked on every request, so revoking the link,
-- disabling the user or the environment's end stops it at once.
CREATE TABLE preview_sessions (
    token_hash      TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments(id),
    user_id         TEXT REFERENCES users(id),
    share_link_id   TEXT REFERENCES share_links(id),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    CHECK ((user_id IS NULL) <> (share_link_id IS NULL))
);

-- A platform admin can disable a user: their sessions end, their tokens and
-- preview cookies stop working, their live streams close.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
