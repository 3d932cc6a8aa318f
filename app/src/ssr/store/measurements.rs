//! The portal's measurements of itself: each requester's click-to-ready
//! wait, and the raw rows the ROI and maturity dashboards summarise.

use super::{flag, Exec};
use crate::domain::maturity::Stamp;
use crate::domain::measure::{Created, Rating, ReadyPath, Via, WaitRow};

/// A wait as it starts (at the request) or ends (ready).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wait {
    pub environment_id: String,
    pub team_id: String,
    pub tier: String,
    pub via: Via,
    pub path: ReadyPath,
    pub requested_at: i64,
    /// Set at once for a pool hand-over, at provisioning's end for a cold start.
    pub ready_at: Option<i64>,
    pub demo: bool,
}

pub async fn insert<'c>(ex: impl Exec<'c>, w: &Wait) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO provision_waits (environment_id, team_id, tier, via, path, requested_at, ready_at, wait_ms, demo)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&w.environment_id)
    .bind(&w.team_id)
    .bind(&w.tier)
    .bind(w.via.as_str())
    .bind(w.path.as_str())
    .bind(w.requested_at)
    .bind(w.ready_at)
    .bind(w.ready_at.map(|r| (r - w.requested_at).max(0)))
    .bind(flag(w.demo))
    .execute(ex)
    .await?;
    Ok(())
}

/// Ends an open wait at `now` (no-op for environments nobody waited for,
/// and for a wait already ended).
/// Ends an environment's open wait; its length (ms) and path if one was open.
pub async fn mark_ready<'c>(ex: impl Exec<'c>, environment_id: &str, now: i64) -> sqlx::Result<Option<(i64, String)>> {
    sqlx::query_as(
        "UPDATE provision_waits SET ready_at = $1,
             wait_ms = CASE WHEN $1 > requested_at THEN $1 - requested_at ELSE 0 END
         WHERE environment_id = $2 AND ready_at IS NULL
         RETURNING wait_ms, path",
    )
    .bind(now)
    .bind(environment_id)
    .fetch_optional(ex)
    .await
}

/// One environment's measured wait: (wait in ms once ready, path, trigger, demo).
pub async fn for_environment<'c>(
    ex: impl Exec<'c>,
    environment_id: &str,
) -> sqlx::Result<Option<(Option<i64>, String, String, i64)>> {
    sqlx::query_as("SELECT wait_ms, path, via, demo FROM provision_waits WHERE environment_id = $1")
        .bind(environment_id)
        .fetch_optional(ex)
        .await
}

/// Ended waits requested at or after `from`.
pub async fn waits_since<'c>(ex: impl Exec<'c>, from: i64) -> sqlx::Result<Vec<WaitRow>> {
    let rows: Vec<(i64, i64, String, String, i64)> = sqlx::query_as(
        "SELECT requested_at, wait_ms, path, via, demo FROM provision_waits
         WHERE requested_at >= $1 AND wait_ms IS NOT NULL ORDER BY requested_at",
    )
    .bind(from)
    .fetch_all(ex)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(requested_at, wait_ms, path, via, demo)| {
            Some(WaitRow { requested_at, wait_ms, path: path.parse().ok()?, via: via.parse().ok()?, demo: demo != 0 })
        })
        .collect())
}

/// Environments people asked for since `from` (a claim counts at the claim;
/// pool fills and the long-lived environments nobody requested do not).
pub async fn created_since<'c>(ex: impl Exec<'c>, from: i64) -> sqlx::Result<Vec<Created>> {
    let rows: Vec<(i64, Option<String>, i64)> = sqlx::query_as(
        "SELECT created_at, owner_id, demo FROM environments
         WHERE created_at >= $1 AND pooled = 0 AND owner_id IS NOT NULL ORDER BY created_at",
    )
    .bind(from)
    .fetch_all(ex)
    .await?;
    Ok(rows.into_iter().map(|(at, owner, demo)| Created { at, owner, demo: demo != 0 }).collect())
}

/// Ratings given since `from`; a rating is demo when its environment is.
pub async fn ratings_since<'c>(ex: impl Exec<'c>, from: i64) -> sqlx::Result<Vec<Rating>> {
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT r.created_at, r.score, e.demo FROM ratings r JOIN environments e ON e.id = r.environment_id
         WHERE r.created_at >= $1 ORDER BY r.created_at",
    )
    .bind(from)
    .fetch_all(ex)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(at, score, demo)| Rating { at, score: score.clamp(1, 5) as u8, demo: demo != 0 })
        .collect())
}

/// Audit events about environments since `from` whose action is `action`
/// (and whose detail contains `detail_like`, a SQL LIKE pattern), with the
/// environment's demo flag.
pub async fn audited_since<'c>(
    ex: impl Exec<'c>,
    action: &str,
    detail_like: &str,
    people_only: bool,
    from: i64,
) -> sqlx::Result<Vec<Stamp>> {
    let rows: Vec<(i64, Option<String>, Option<i64>)> = sqlx::query_as(
        "SELECT a.at, a.target_id, e.demo FROM audit_events a LEFT JOIN environments e ON e.id = a.target_id
         WHERE a.action = $1 AND a.detail LIKE $2 AND a.at >= $3 AND ($4 = 0 OR a.actor_id IS NOT NULL)
         ORDER BY a.at",
    )
    .bind(action)
    .bind(detail_like)
    .bind(from)
    .bind(flag(people_only))
    .fetch_all(ex)
    .await?;
    Ok(rows.into_iter().map(|(at, env, demo)| Stamp { at, env, demo: demo.unwrap_or(0) != 0 }).collect())
}

/// Approval requests a person decided since `from`.
pub async fn reviews_since<'c>(ex: impl Exec<'c>, from: i64) -> sqlx::Result<Vec<Stamp>> {
    let rows: Vec<(i64, String, Option<i64>)> = sqlx::query_as(
        "SELECT q.decided_at, q.environment_id, e.demo FROM approval_requests q
         LEFT JOIN environments e ON e.id = q.environment_id
         WHERE q.decided_at >= $1 AND q.decided_by IS NOT NULL ORDER BY q.decided_at",
    )
    .bind(from)
    .fetch_all(ex)
    .await?;
    Ok(rows.into_iter().map(|(at, env, demo)| Stamp { at, env: Some(env), demo: demo.unwrap_or(0) != 0 }).collect())
}

/// Budget alerts sent since `from`.
pub async fn alerts_since<'c>(ex: impl Exec<'c>, from: i64) -> sqlx::Result<Vec<Stamp>> {
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT at FROM budget_alerts WHERE at >= $1 ORDER BY at").bind(from).fetch_all(ex).await?;
    Ok(rows.into_iter().map(|(at,)| Stamp { at, env: None, demo: false }).collect())
}

/// Audit events appended in [from, to).
pub async fn audit_count<'c>(ex: impl Exec<'c>, from: i64, to: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE at >= $1 AND at < $2")
        .bind(from)
        .bind(to)
        .fetch_one(ex)
        .await
}

/// Counts one run of the compliance checks on its UTC day.
pub async fn record_compliance_run<'c>(ex: impl Exec<'c>, day: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO compliance_days (day, runs, last_at) VALUES ($1, 1, $2)
         ON CONFLICT (day) DO UPDATE SET runs = compliance_days.runs + 1, last_at = excluded.last_at",
    )
    .bind(day)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// When the checks last ran on each day since `from`.
pub async fn compliance_runs_since<'c>(ex: impl Exec<'c>, from: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar("SELECT last_at FROM compliance_days WHERE last_at >= $1 ORDER BY last_at")
        .bind(from)
        .fetch_all(ex)
        .await
}
