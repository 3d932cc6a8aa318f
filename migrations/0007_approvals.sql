-- Approval requests: compliance extensions and destroys, production
-- destroys. Written only by `ssr/approvals.rs`, in the transaction of its
-- audit event and notifications. The partial unique index is what makes
-- "at most one open request per (environment, kind)" hold under races.
CREATE TABLE approval_requests (
    id               TEXT PRIMARY KEY,
    environment_id   TEXT NOT NULL REFERENCES environments(id),
    team_id          TEXT NOT NULL REFERENCES teams(id),
    kind             TEXT NOT NULL,
    state            TEXT NOT NULL,
    -- NULL: the portal asked (a soft destroy at TTL).
    requested_by     TEXT REFERENCES users(id),
    requested_at     BIGINT NOT NULL,
    -- What is asked: the extension's length (extend only).
    asked_ms         BIGINT,
    reason           TEXT,
    sla_deadline     BIGINT NOT NULL,
    escalated_at     BIGINT,
    -- NULL with a decision: the SLA decided.
    decided_by       TEXT REFERENCES users(id),
    decision_reason  TEXT,
    decided_at       BIGINT,
    -- JSON: what the approver saw (cost so far, what it adds, budget headroom, new expiry).
    seen             TEXT
);
CREATE UNIQUE INDEX approval_requests_one_open ON approval_requests (environment_id, kind) WHERE state = 'pending';
CREATE INDEX approval_requests_state ON approval_requests (state, sla_deadline);
CREATE INDEX approval_requests_environment ON approval_requests (environment_id, requested_at);

-- The admission policy saved on the Policies page (when the configuration
-- file has no [admission]): one JSON document.
CREATE TABLE admission_policy (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    doc         TEXT NOT NULL,
    updated_by  TEXT REFERENCES users(id),
    updated_at  BIGINT NOT NULL
);

-- The latest result of each automated compliance check.
CREATE TABLE compliance_results (
    check_id    TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    passed      BIGINT NOT NULL CHECK (passed IN (0, 1)),
    evidence    TEXT NOT NULL,
    checked_at  BIGINT NOT NULL
);
