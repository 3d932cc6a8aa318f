//! Approval requests. Closing is a conditional update on `state = 'pending'`,
//! so of two racing decisions (two admins, an admin and the SLA) exactly one
//! lands.

use super::Exec;

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Approval {
    pub id: String,
    pub environment_id: String,
    pub team_id: String,
    pub kind: String,
    pub state: String,
    pub requested_by: Option<String>,
    pub requested_at: i64,
    pub asked_ms: Option<i64>,
    pub reason: Option<String>,
    pub sla_deadline: i64,
    pub escalated_at: Option<i64>,
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
    pub decided_at: Option<i64>,
    pub seen: Option<String>,
}

const COLUMNS: &str = "id, environment_id, team_id, kind, state, requested_by, requested_at, asked_ms, reason, \
                       sla_deadline, escalated_at, decided_by, decision_reason, decided_at, seen";

/// Inserts a pending request unless one is open for its (environment,
/// kind); returns whether it was inserted.
pub async fn insert_open<'c>(ex: impl Exec<'c>, a: &Approval) -> sqlx::Result<bool> {
    let done = sqlx::query(&format!(
        "INSERT INTO approval_requests ({COLUMNS}) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, NULL, NULL, NULL, NULL, NULL)
         ON CONFLICT DO NOTHING"
    ))
    .bind(&a.id)
    .bind(&a.environment_id)
    .bind(&a.team_id)
    .bind(&a.kind)
    .bind(&a.requested_by)
    .bind(a.requested_at)
    .bind(a.asked_ms)
    .bind(&a.reason)
    .bind(a.sla_deadline)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn find<'c>(ex: impl Exec<'c>, id: &str) -> sqlx::Result<Option<Approval>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM approval_requests WHERE id = $1")).bind(id).fetch_optional(ex).await
}

pub async fn find_open<'c>(ex: impl Exec<'c>, environment_id: &str, kind: &str) -> sqlx::Result<Option<Approval>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM approval_requests WHERE environment_id = $1 AND kind = $2 AND state = 'pending'"
    ))
    .bind(environment_id)
    .bind(kind)
    .fetch_optional(ex)
    .await
}

/// Every open request of an environment.
pub async fn open_for<'c>(ex: impl Exec<'c>, environment_id: &str) -> sqlx::Result<Vec<Approval>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM approval_requests WHERE environment_id = $1 AND state = 'pending' ORDER BY requested_at"
    ))
    .bind(environment_id)
    .fetch_all(ex)
    .await
}

/// Closes a pending request; false when it was no longer pending.
pub async fn close<'c>(
    ex: impl Exec<'c>,
    id: &str,
    state: &str,
    decided_by: Option<&str>,
    reason: Option<&str>,
    seen: Option<&str>,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE approval_requests SET state = $1, decided_by = $2, decision_reason = $3, seen = $4, decided_at = $5
         WHERE id = $6 AND state = 'pending'",
    )
    .bind(state)
    .bind(decided_by)
    .bind(reason)
    .bind(seen)
    .bind(now)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks a pending request escalated with its new deadline; false when it
/// was no longer pending or already escalated.
pub async fn escalate<'c>(ex: impl Exec<'c>, id: &str, deadline: i64, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE approval_requests SET escalated_at = $1, sla_deadline = $2
         WHERE id = $3 AND state = 'pending' AND escalated_at IS NULL",
    )
    .bind(now)
    .bind(deadline)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Open requests whose SLA deadline has come.
pub async fn due<'c>(ex: impl Exec<'c>, now: i64, limit: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT id FROM approval_requests WHERE state = 'pending' AND sla_deadline <= $1 ORDER BY sla_deadline LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// A request with the names a page shows.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Listed {
    #[sqlx(flatten)]
    pub approval: Approval,
    pub environment_name: String,
    pub environment_state: String,
    pub tier: String,
    pub team_slug: String,
    pub requester_login: Option<String>,
    pub decider_login: Option<String>,
}

/// What a list asks for; `None` is any.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub state: Option<String>,
    pub kind: Option<String>,
    pub team_id: Option<String>,
    pub environment_id: Option<String>,
    /// Only requests this user made (a requester's own view).
    pub requested_by: Option<String>,
    pub id: Option<String>,
}

pub async fn list<'c>(ex: impl Exec<'c>, f: &Filter, limit: i64) -> sqlx::Result<Vec<Listed>> {
    let cols: String = COLUMNS.split(", ").map(|c| format!("a.{}", c.trim())).collect::<Vec<_>>().join(", ");
    sqlx::query_as(&format!(
        "SELECT {cols}, e.name AS environment_name, e.state AS environment_state, e.tier, t.slug AS team_slug,
                r.login AS requester_login, d.login AS decider_login
         FROM approval_requests a
         JOIN environments e ON e.id = a.environment_id
         JOIN teams t ON t.id = a.team_id
         LEFT JOIN users r ON r.id = a.requested_by
         LEFT JOIN users d ON d.id = a.decided_by
         WHERE ($1 IS NULL OR a.state = $1) AND ($2 IS NULL OR a.kind = $2) AND ($3 IS NULL OR a.team_id = $3)
           AND ($4 IS NULL OR a.environment_id = $4) AND ($5 IS NULL OR a.requested_by = $5)
           AND ($6 IS NULL OR a.id = $6)
         ORDER BY a.requested_at DESC, a.id DESC LIMIT $7"
    ))
    .bind(&f.state)
    .bind(&f.kind)
    .bind(&f.team_id)
    .bind(&f.environment_id)
    .bind(&f.requested_by)
    .bind(&f.id)
    .bind(limit)
    .fetch_all(ex)
    .await
}
