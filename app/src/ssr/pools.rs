//! Keeps each configured warm pool at its size: new members are created
//! through the same insert as a requested environment (audited, provisioned
//! by the reconciler), failed or surplus members are destroyed through the
//! one write path. One replica refills a pool at a time (a transaction lock),
//! so two replicas never over-fill it.

use super::clock::{new_id, now_ms};
use super::context::Sources;
use super::environments::{blueprint_of, free_name, insert_pending, pending_row, system_event};
use super::store::{self, audit::AuditEvent, environments::Environment};
use super::{internal, Db, PortalSettings};
use crate::domain::lifecycle::{self, Event};
use crate::domain::naming::stable_hash;
use crate::domain::pool::{self, member_name, PoolSpec, Refill};
use crate::domain::repository::Wanted;
use crate::error::AppError;

/// A lock key per pool, the same on every replica.
fn lock_key(spec: &PoolSpec) -> i64 {
    stable_hash(&format!("pool/{}/{}/{}", spec.team.as_deref().unwrap_or(""), spec.app, spec.tier.as_str())) as i64
}

/// One refill pass over every configured pool; returns how many members it
/// started. A pool naming an unknown app is logged and skipped.
pub async fn refill(db: &Db, settings: &PortalSettings, sources: Option<&dyn Sources>) -> Result<usize, AppError> {
    let mut started = 0;
    for spec in &settings.pools {
        started += refill_one(db, settings, sources, spec).await?;
    }
    Ok(started)
}

async fn refill_one(
    db: &Db,
    settings: &PortalSettings,
    sources: Option<&dyn Sources>,
    spec: &PoolSpec,
) -> Result<usize, AppError> {
    let mut apps = store::apps::find_by_slug(db.pool(), &spec.app).await.map_err(internal("finding a pool's app"))?;
    if let Some(team) = &spec.team {
        let team_id = store::teams::find_by_slug(db.pool(), team)
            .await
            .map_err(internal("finding a pool's team"))?
            .map(|t| t.id)
            .unwrap_or_default();
        apps.retain(|a| a.team_id == team_id);
    }
    let app = match apps.as_slice() {
        [app] => app,
        [] => {
            tracing::warn!(app = %spec.app, "pool names an app that does not exist; skipped");
            return Ok(0);
        }
        _ => {
            tracing::warn!(app = %spec.app, "pool names an app several teams have; add team = \"…\"");
            return Ok(0);
        }
    };
    let blueprint = blueprint_of(app)?;
    let tier = spec.tier;
    // Members are built on the default branch, resolved now (before the lock:
    // a fetch can take a moment). An archived app's pool drains.
    let size = if app.archived_at.is_some() { 0 } else { spec.size };
    // Resolving fetches the repository: only when members must be started.
    let running = store::environments::pool_members(db.pool(), &app.id, tier.as_str())
        .await
        .map_err(internal("listing a pool"))?
        .iter()
        .filter(|(_, state)| state != "failed" && state != "expiring")
        .count();
    let commit_sha = match (sources, &app.repo_url) {
        _ if running as u32 >= size => None,
        (Some(sources), Some(repo)) => {
            match sources.resolve(&app.id, repo, &Wanted::Branch(app.default_branch.clone())).await {
                Ok(sha) => Some(sha),
                Err(err) => {
                    tracing::warn!(app = %app.slug, error = %err, "pool: cannot resolve the default branch; not refilled");
                    return Ok(0);
                }
            }
        }
        _ => None,
    };
    let mut tx = db.begin_write().await.map_err(internal("starting a transaction"))?;
    if !db.try_lock(&mut tx, lock_key(spec)).await.map_err(internal("locking a pool"))? {
        return Ok(0); // another replica is refilling it
    }
    let members = store::environments::pool_members(&mut *tx, &app.id, tier.as_str())
        .await
        .map_err(internal("listing a pool"))?;
    let (broken, live): (Vec<_>, Vec<_>) = members.into_iter().partition(|(_, state)| state == "failed");
    let live: Vec<_> = live.into_iter().filter(|(_, state)| state != "expiring").collect();
    let mut retire: Vec<String> = broken.into_iter().map(|(id, _)| id).collect();
    let mut started = 0;
    match pool::refill(size, live.len() as u32) {
        // A member needs its commit (unresolved: a concurrent refill raced us).
        Refill::Start(_) if commit_sha.is_none() && app.repo_url.is_some() && sources.is_some() => {}
        Refill::Start(n) => {
            let policy = settings.tiers.get(tier);
            for _ in 0..n {
                let now = now_ms();
                let (lc, effects) = lifecycle::start(policy, now);
                let id = new_id();
                let name = free_name(&mut tx, &id, |suffix| member_name(&app.slug, tier, suffix)).await?;
                // Pool members wait without a TTL; their clock starts at the claim.
                let env = Environment {
                    expires_at: None,
                    commit_sha: commit_sha.clone(),
                    git_ref: Some(app.default_branch.clone()),
                    ..pending_row(&id, &name, app, tier, &lc, true)
                };
                let event = AuditEvent::system("pool.fill", Some(env.id.clone()), Some(env.team_id.clone())).with_detail(
                    serde_json::json!({ "name": env.name, "app": app.slug, "tier": tier.as_str(), "size": spec.size }),
                );
                insert_pending(
                    &mut tx,
                    policy,
                    &env,
                    (&blueprint.driver, &blueprint.resources_for(tier)),
                    &event,
                    &effects,
                )
                .await?;
                started += 1;
            }
        }
        // Newest first: the oldest members are the ones most surely ready.
        Refill::Retire(n) => retire.extend(live.iter().rev().take(n as usize).map(|(id, _)| id.clone())),
        Refill::Nothing => {}
    }
    tx.commit().await.map_err(internal("committing a pool refill"))?;
    for id in retire {
        if let Err(err) = system_event(db, &settings.tiers, &id, Event::DestroyApproved, "pool.retire").await {
            tracing::warn!(env = %id, error = %err, "retiring a pool member");
        }
    }
    Ok(started)
}
