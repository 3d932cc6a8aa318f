//! Deployment records (migration 0011).

use super::Exec;

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Deployment {
    pub id: String,
    pub environment_id: String,
    pub commit_sha: String,
    pub git_ref: Option<String>,
    pub previous_commit: Option<String>,
    pub previous_ref: Option<String>,
    pub strategy: String,
    pub requested_by: Option<String>,
    pub state: String,
    pub reason: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub ready_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub rollback_until: Option<i64>,
}

const COLUMNS: &str = "id, environment_id, commit_sha, git_ref, previous_commit, previous_ref, strategy, requested_by,
    state, reason, created_at, started_at, ready_at, finished_at, rollback_until";

pub async fn insert<'c>(ex: impl Exec<'c>, d: &Deployment) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO deployments ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    ))
    .bind(&d.id)
    .bind(&d.environment_id)
    .bind(&d.commit_sha)
    .bind(&d.git_ref)
    .bind(&d.previous_commit)
    .bind(&d.previous_ref)
    .bind(&d.strategy)
    .bind(&d.requested_by)
    .bind(&d.state)
    .bind(&d.reason)
    .bind(d.created_at)
    .bind(d.started_at)
    .bind(d.ready_at)
    .bind(d.finished_at)
    .bind(d.rollback_until)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn find<'c>(ex: impl Exec<'c>, id: &str) -> sqlx::Result<Option<Deployment>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM deployments WHERE id = $1")).bind(id).fetch_optional(ex).await
}

/// A deployment with its requester's login (`None`: the portal).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Listed {
    #[sqlx(flatten)]
    pub d: Deployment,
    pub requested_by_login: Option<String>,
}

const LISTED_SELECT: &str =
    "SELECT d.id, d.environment_id, d.commit_sha, d.git_ref, d.previous_commit, d.previous_ref, d.strategy,
    d.requested_by, d.state, d.reason, d.created_at, d.started_at, d.ready_at, d.finished_at, d.rollback_until,
    u.login AS requested_by_login
    FROM deployments d LEFT JOIN users u ON u.id = d.requested_by";

/// An environment's deployments, newest first.
pub async fn for_environment<'c>(ex: impl Exec<'c>, env_id: &str, limit: i64) -> sqlx::Result<Vec<Listed>> {
    sqlx::query_as(&format!(
        "{LISTED_SELECT} WHERE d.environment_id = $1 ORDER BY d.created_at DESC, d.id DESC LIMIT $2"
    ))
    .bind(env_id)
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// One deployment with its requester's login.
pub async fn listed<'c>(ex: impl Exec<'c>, id: &str) -> sqlx::Result<Option<Listed>> {
    sqlx::query_as(&format!("{LISTED_SELECT} WHERE d.id = $1")).bind(id).fetch_optional(ex).await
}

/// The deployment under way (queued or deploying), if any: its job's work.
pub async fn under_way<'c>(ex: impl Exec<'c>, env_id: &str) -> sqlx::Result<Option<Deployment>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM deployments WHERE environment_id = $1 AND state IN ('queued', 'deploying')
         ORDER BY created_at, id LIMIT 1"
    ))
    .bind(env_id)
    .fetch_optional(ex)
    .await
}

/// The deployment that serves now: the newest succeeded one.
pub async fn serving<'c>(ex: impl Exec<'c>, env_id: &str) -> sqlx::Result<Option<Deployment>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM deployments WHERE environment_id = $1 AND state = 'succeeded'
         ORDER BY ready_at DESC, id DESC LIMIT 1"
    ))
    .bind(env_id)
    .fetch_optional(ex)
    .await
}

/// Moves a deployment from `from` to the facts given; false when it was no
/// longer in `from` (another replica or an earlier attempt moved it).
pub async fn advance<'c>(ex: impl Exec<'c>, d: &Deployment, from: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE deployments SET state = $1, reason = $2, started_at = $3, ready_at = $4, finished_at = $5,
             rollback_until = $6
         WHERE id = $7 AND state = $8",
    )
    .bind(&d.state)
    .bind(&d.reason)
    .bind(d.started_at)
    .bind(d.ready_at)
    .bind(d.finished_at)
    .bind(d.rollback_until)
    .bind(&d.id)
    .bind(from)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Blue-green deployments whose rollback window has closed with the old
/// colour presumably still kept: the reconciler retires it.
pub async fn windows_closed<'c>(ex: impl Exec<'c>, now: i64) -> sqlx::Result<Vec<Deployment>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM deployments WHERE state = 'succeeded' AND rollback_until IS NOT NULL
           AND rollback_until <= $1 ORDER BY rollback_until LIMIT 100"
    ))
    .bind(now)
    .fetch_all(ex)
    .await
}

/// Closes a window whose old colour is gone (retired or rolled back to).
pub async fn close_window<'c>(ex: impl Exec<'c>, id: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE deployments SET rollback_until = NULL WHERE id = $1").bind(id).execute(ex).await?;
    Ok(())
}
