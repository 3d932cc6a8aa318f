//! Compliance checks on the server: gather the facts (live environments,
//! their unfinished work, the host's resources, overdue approvals), run
//! the pure rules of `domain::compliance`, and keep the latest result of
//! each check with when it ran. The scheduler runs them every minute; a
//! platform admin can run them now.

use super::clock::now_ms;
use super::environments::stored;
use super::{authz, internal, AppState, Db, PortalSettings, RequestMeta};
use crate::domain::authz::Action;
use crate::domain::compliance::{config_checks, data_checks, CheckResult, LiveEnv};
use crate::error::AppError;

/// Grace before a pending approval past its deadline counts as overdue
/// (the scheduler applies SLA outcomes every few seconds).
const SLA_GRACE_MS: i64 = 5 * 60_000;

/// Runs every check and stores the results; returns them.
pub async fn run(
    db: &Db,
    settings: &PortalSettings,
    runtime: Option<&dyn super::context::RuntimeView>,
    now: i64,
) -> Result<Vec<CheckResult>, AppError> {
    let rows: Vec<(String, String, String, String, i64, i64)> = sqlx::query_as(
        "SELECT e.id, e.name, e.tier, e.state, COALESCE(e.claimed_at, e.created_at),
                (SELECT COUNT(*) FROM jobs j WHERE j.environment_id = e.id AND j.finished_at IS NULL)
              + (SELECT COUNT(*) FROM approval_requests a WHERE a.environment_id = e.id AND a.state = 'pending')
         FROM environments e WHERE e.state <> 'destroyed'",
    )
    .fetch_all(db.pool())
    .await
    .map_err(internal("reading live environments"))?;
    let all_live: std::collections::HashSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let mut live = Vec::with_capacity(rows.len());
    for (id, name, tier, state, created_at, work) in &rows {
        live.push(LiveEnv {
            name: name.clone(),
            tier: stored(tier, "tier", id)?,
            state: state.clone(),
            created_at: *created_at,
            attended: *work > 0,
        });
    }
    let orphans: Vec<String> = match runtime {
        Some(rt) => rt.owned().await.into_iter().filter(|id| !all_live.contains(id.as_str())).collect(),
        None => vec![],
    };
    let overdue: Vec<String> = sqlx::query_as::<_, (String, String)>(
        "SELECT a.kind, e.name FROM approval_requests a JOIN environments e ON e.id = a.environment_id
         WHERE a.state = 'pending' AND a.sla_deadline < $1 ORDER BY a.sla_deadline",
    )
    .bind(now - SLA_GRACE_MS)
    .fetch_all(db.pool())
    .await
    .map_err(internal("reading overdue approvals"))?
    .into_iter()
    .map(|(kind, name)| format!("the {kind} request on {name}"))
    .collect();
    let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM approval_requests WHERE state = 'pending'")
        .fetch_one(db.pool())
        .await
        .map_err(internal("counting pending approvals"))?;
    let mut results = config_checks(&settings.tiers);
    let pending = usize::try_from(pending).unwrap_or(0);
    results.extend(data_checks(&settings.tiers, &live, &orphans, &overdue, pending, now));
    let mut tx = db.begin_write().await.map_err(internal("starting a transaction"))?;
    for r in &results {
        let evidence = serde_json::to_string(&r.evidence).map_err(|_| AppError::Internal)?;
        sqlx::query(
            "INSERT INTO compliance_results (check_id, title, passed, evidence, checked_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (check_id) DO UPDATE SET title = excluded.title, passed = excluded.passed,
                 evidence = excluded.evidence, checked_at = excluded.checked_at",
        )
        .bind(&r.id)
        .bind(&r.title)
        .bind(super::store::flag(r.passed))
        .bind(evidence)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(internal("storing a compliance result"))?;
    }
    // The maturity history needs each day's runs; the results above keep only the latest.
    let day = &crate::domain::time::utc_datetime(now)[..10];
    super::store::measurements::record_compliance_run(&mut *tx, day, now)
        .await
        .map_err(internal("counting a compliance run"))?;
    tx.commit().await.map_err(internal("committing compliance results"))?;
    Ok(results)
}

/// A stored result with when it was checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub result: CheckResult,
    pub checked_at: i64,
}

/// The latest results (platform admins and managers).
pub async fn latest(state: &AppState, meta: &RequestMeta) -> Result<Vec<Stored>, AppError> {
    require_reader(state, meta).await?;
    let rows: Vec<(String, String, i64, String, i64)> = sqlx::query_as(
        "SELECT check_id, title, passed, evidence, checked_at FROM compliance_results ORDER BY check_id",
    )
    .fetch_all(state.db.pool())
    .await
    .map_err(internal("reading compliance results"))?;
    Ok(rows
        .into_iter()
        .map(|(id, title, passed, evidence, checked_at)| Stored {
            result: CheckResult {
                id,
                title,
                passed: passed != 0,
                evidence: serde_json::from_str(&evidence).unwrap_or_default(),
            },
            checked_at,
        })
        .collect())
}

/// A platform admin runs the checks now.
pub async fn run_now(state: &AppState, meta: &RequestMeta) -> Result<(), AppError> {
    authz::require(state, meta, Action::ManagePolicies, None).await?;
    run(&state.db, &state.settings, state.runtime.as_deref(), now_ms()).await.map(|_| ())
}

/// The Compliance page is for platform admins.
async fn require_reader(state: &AppState, meta: &RequestMeta) -> Result<(), AppError> {
    authz::require(state, meta, Action::ManagePolicies, None).await.map(|_| ())
}
