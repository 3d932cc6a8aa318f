use super::{flag, Exec};
use crate::domain::access::Viewer;

/// A row of `environments` as written.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Environment {
    pub id: String,
    pub name: String,
    pub team_id: String,
    pub app_id: String,
    pub owner_id: Option<String>,
    pub tier: String,
    pub state: String,
    pub desired: String,
    pub git_ref: Option<String>,
    pub pr_number: Option<i64>,
    pub commit_sha: Option<String>,
    #[sqlx(try_from = "super::Flag")]
    pub pooled: bool,
    pub created_at: i64,
    pub ready_at: Option<i64>,
    pub last_activity_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub warned_at: Option<i64>,
    pub destroyed_at: Option<i64>,
    pub failure_reason: Option<String>,
}

pub async fn insert<'c>(ex: impl Exec<'c>, env: &Environment) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO environments (id, name, team_id, app_id, owner_id, tier, state, desired, git_ref,
             pr_number, commit_sha, pooled, created_at, ready_at, last_activity_at, expires_at,
             warned_at, destroyed_at, failure_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
    )
    .bind(&env.id)
    .bind(&env.name)
    .bind(&env.team_id)
    .bind(&env.app_id)
    .bind(&env.owner_id)
    .bind(&env.tier)
    .bind(&env.state)
    .bind(&env.desired)
    .bind(&env.git_ref)
    .bind(env.pr_number)
    .bind(&env.commit_sha)
    .bind(flag(env.pooled))
    .bind(env.created_at)
    .bind(env.ready_at)
    .bind(env.last_activity_at)
    .bind(env.expires_at)
    .bind(env.warned_at)
    .bind(env.destroyed_at)
    .bind(&env.failure_reason)
    .execute(ex)
    .await?;
    Ok(())
}

/// One line of the Environments page: the environment with its app, team and
/// owner resolved.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub tier: String,
    pub state: String,
    pub git_ref: Option<String>,
    pub pr_number: Option<i64>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub app_slug: String,
    pub team_id: String,
    pub team_slug: String,
    pub owner_login: Option<String>,
}

const LISTED_SELECT: &str = "SELECT e.id, e.name, e.tier, e.state, e.git_ref, e.pr_number, e.created_at, e.expires_at,
        a.slug AS app_slug, t.id AS team_id, t.slug AS team_slug, u.login AS owner_login
     FROM environments e
     JOIN apps a ON a.id = e.app_id
     JOIN teams t ON t.id = e.team_id
     LEFT JOIN users u ON u.id = e.owner_id";

/// Live (not destroyed, not pooled) environments the viewer may see: their
/// teams' or, for platform admins, everyone's; newest first.
pub async fn list_live_visible<'c>(ex: impl Exec<'c>, viewer: &Viewer, limit: i64) -> sqlx::Result<Vec<Listed>> {
    sqlx::query_as(&format!(
        "{LISTED_SELECT}
         WHERE e.state <> 'destroyed' AND e.pooled = 0
           AND ($1 = 1 OR e.team_id IN (SELECT m.team_id FROM memberships m WHERE m.user_id = $2))
         ORDER BY e.created_at DESC, e.id
         LIMIT $3"
    ))
    .bind(flag(viewer.is_platform_admin))
    .bind(&viewer.user_id)
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// One environment as listed (any state).
pub async fn listed_by_id<'c>(ex: impl Exec<'c>, id: &str) -> sqlx::Result<Option<Listed>> {
    sqlx::query_as(&format!("{LISTED_SELECT} WHERE e.id = $1")).bind(id).fetch_optional(ex).await
}

pub async fn count_by_state<'c>(ex: impl Exec<'c>) -> sqlx::Result<Vec<(String, i64)>> {
    sqlx::query_as("SELECT state, COUNT(*) FROM environments GROUP BY state ORDER BY state").fetch_all(ex).await
}

const ENV_COLUMNS: &str =
    "id, name, team_id, app_id, owner_id, tier, state, desired, git_ref, pr_number, commit_sha, pooled,
    created_at, ready_at, last_activity_at, expires_at, warned_at, destroyed_at, failure_reason";

/// An environment with its optimistic-concurrency version.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Versioned {
    #[sqlx(flatten)]
    pub env: Environment,
    pub version: i64,
}

pub async fn find<'c>(ex: impl Exec<'c>, id: &str) -> sqlx::Result<Option<Versioned>> {
    sqlx::query_as(&format!("SELECT {ENV_COLUMNS}, version FROM environments WHERE id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await
}

pub async fn find_by_name<'c>(ex: impl Exec<'c>, name: &str) -> sqlx::Result<Option<Versioned>> {
    sqlx::query_as(&format!("SELECT {ENV_COLUMNS}, version FROM environments WHERE name = $1"))
        .bind(name)
        .fetch_optional(ex)
        .await
}

/// Writes the lifecycle columns if nobody else changed the row since
/// `version` was read; returns whether it did.
pub async fn update_lifecycle<'c>(ex: impl Exec<'c>, env: &Environment, version: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE environments SET state = $1, desired = $2, ready_at = $3, last_activity_at = $4, expires_at = $5,
             warned_at = $6, destroyed_at = $7, failure_reason = $8, version = version + 1
         WHERE id = $9 AND version = $10",
    )
    .bind(&env.state)
    .bind(&env.desired)
    .bind(env.ready_at)
    .bind(env.last_activity_at)
    .bind(env.expires_at)
    .bind(env.warned_at)
    .bind(env.destroyed_at)
    .bind(&env.failure_reason)
    .bind(&env.id)
    .bind(version)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Live environments whose timers may fire by `horizon` (expiry, warning
/// or idle), for the scheduler.
pub async fn due_for_tick<'c>(
    ex: impl Exec<'c>,
    horizon: i64,
    idle_before: i64,
    limit: i64,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT id FROM environments
         WHERE state IN ('ready', 'active', 'idle')
           AND ((expires_at IS NOT NULL AND expires_at <= $1) OR (state = 'active' AND last_activity_at <= $2))
         ORDER BY expires_at LIMIT $3",
    )
    .bind(horizon)
    .bind(idle_before)
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// Names of every environment that still owns resources (for the orphan sweep).
pub async fn live_names<'c>(ex: impl Exec<'c>) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT name FROM environments WHERE state <> 'destroyed'").fetch_all(ex).await
}
