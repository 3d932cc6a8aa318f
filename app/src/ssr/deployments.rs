//! Deployments, through the one write path: a person (or token) asks for a
//! commit to replace what an environment runs; the request is authorized,
//! written with its audit event and its `deploy` job (and counts as
//! activity) in one transaction. The reconciler carries it out with the
//! driver by the tier's strategy and records the outcome here; a blue-green
//! deployment can be rolled back within its window, by a person or — when
//! the new colour fails its probes — by the portal itself.

use super::clock::{new_id, now_ms};
use super::environments::{load_visible, resolve_commit, stored, transition_in};
use super::store::{self, audit::AuditEvent, audit::Outcome, deployments::Deployment};
use super::{internal, AppState, Db, RequestMeta};
use crate::domain::authz::Action;
use crate::domain::deployment::{self, DeployState, RollbackCheck};
use crate::domain::lifecycle::{ActivityKind, EnvState, Event};
use crate::domain::repository::{is_commit_sha, parse_ref, Wanted};
use crate::domain::tier::{DeploymentStrategy, Tier};
use crate::error::AppError;

/// Most deployments an environment's page and API list.
pub const LISTED: i64 = 50;

/// What a deployment request names; both empty: the environment's own
/// branch or pull request as it is now (the Redeploy button).
#[derive(Clone, Debug, Default)]
pub struct Wanting {
    pub commit_sha: Option<String>,
    pub git_ref: Option<String>,
}

fn refused(r: deployment::Refused) -> AppError {
    AppError::Conflict(r.to_string())
}

/// Asks for a deployment: authorize, resolve the commit, then in one
/// transaction check the environment runs and nothing else is being
/// deployed, write the record, audit, count the activity, queue the job.
pub async fn deploy(
    state: &AppState,
    meta: &RequestMeta,
    env_id: &str,
    wanting: Wanting,
) -> Result<Deployment, AppError> {
    let viewer = meta.viewer.clone().ok_or(AppError::Unauthorized)?;
    let env = load_visible(state, meta, env_id, Action::OperateEnvironments).await?;
    let commit_sha = wanting.commit_sha.map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty());
    let git_ref = wanting.git_ref.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    if commit_sha.is_some() && git_ref.is_some() {
        return Err(AppError::invalid("ref", "give commit_sha or ref, not both"));
    }
    if let Some(sha) = &commit_sha {
        if !is_commit_sha(sha) {
            return Err(AppError::invalid("commit_sha", "give a full commit id (40 or 64 hexadecimal digits)"));
        }
    }
    let named = match &git_ref {
        Some(r) => Some(
            parse_ref(r)
                .ok_or_else(|| AppError::invalid("ref", "give a branch git accepts, or refs/pull/<number>/head"))?,
        ),
        None => None,
    };
    let wanted = match (&commit_sha, named) {
        (Some(sha), _) => Wanted::Commit(sha.clone()),
        (None, Some(w)) => w,
        (None, None) => match (env.pr_number, env.git_ref.as_deref()) {
            (Some(n), _) if n > 0 => Wanted::PullRequest(n as u64),
            (_, Some(r)) => parse_ref(r)
                .ok_or_else(|| AppError::invalid("ref", "this environment's ref cannot be deployed; give a ref"))?,
            _ => return Err(AppError::invalid("ref", "this environment has no branch; give commit_sha or ref")),
        },
    };
    let app = store::apps::find(state.db.pool(), &env.app_id)
        .await
        .map_err(internal("loading an app"))?
        .ok_or(AppError::NotFound)?;
    // One preview per pull request: another's is not taken over.
    if let Wanted::PullRequest(n) = &wanted {
        let other = super::environments::pull_request_preview(state.db.pool(), &app.id, *n as i64).await?;
        if let Some(other) = other.filter(|o| o.id != env.id) {
            return Err(AppError::Conflict(format!("pull request #{n} has its own preview, {}", other.name)));
        }
    }
    // The request's field is `ref` (or `commit_sha`), whatever it resolved as.
    let resolved = resolve_commit(state, &app, &wanted).await.map_err(|e| match e {
        AppError::Invalid { field, message } if field == "branch" || field == "pr_number" => {
            AppError::Invalid { field: "ref".into(), message }
        }
        other => other,
    })?;
    let Some(sha) = resolved else {
        return Err(AppError::invalid("app", "this app has no repository to deploy from"));
    };
    let record_ref = git_ref.or_else(|| match &wanted {
        Wanted::Commit(_) => None,
        _ => env.git_ref.clone(),
    });
    let tier: Tier = stored(&env.tier, "tier", &env.id)?;
    // Long-lived tiers are made by platform admins; what runs there changes
    // with the team's manager or a platform admin, not any developer.
    if !tier.is_preview() && !super::environments::may_manage(&viewer, &env.team_id) {
        let rule = format!("deploying to {} takes the team's manager or a platform admin", tier.label());
        super::authz::audit_denial(state, meta, Action::OperateEnvironments, Some(&env.team_id), &rule).await;
        return Err(AppError::Refused(rule));
    }
    let strategy = state.settings.tiers.get(tier).strategy;
    for _ in 0..5 {
        let now = now_ms();
        let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
        let current = store::environments::find(&mut *tx, env_id)
            .await
            .map_err(internal("loading an environment"))?
            .ok_or(AppError::NotFound)?;
        let busy = store::deployments::under_way(&mut *tx, env_id).await.map_err(internal("reading deployments"))?;
        deployment::may_deploy(stored(&current.env.state, "state", env_id)?, busy.is_some()).map_err(refused)?;
        let d = Deployment {
            id: new_id(),
            environment_id: env_id.to_string(),
            commit_sha: sha.clone(),
            git_ref: record_ref.clone(),
            previous_commit: current.env.commit_sha.clone(),
            previous_ref: current.env.git_ref.clone(),
            strategy: strategy.as_str().into(),
            requested_by: Some(viewer.user_id.clone()),
            state: DeployState::Queued.as_str().into(),
            reason: None,
            created_at: now,
            started_at: None,
            ready_at: None,
            finished_at: None,
            rollback_until: None,
        };
        store::deployments::insert(&mut *tx, &d).await.map_err(internal("recording a deployment"))?;
        let mut event =
            AuditEvent::from_request(meta, "environment.deploy", "environment", Some(env_id.into()), Outcome::Success)
                .with_detail(serde_json::json!({
                    "deployment": d.id, "commit_sha": d.commit_sha, "ref": d.git_ref, "strategy": d.strategy,
                    "previous_commit": d.previous_commit,
                }));
        event.team_id = Some(current.env.team_id.clone());
        store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a deployment"))?;
        store::jobs::enqueue(&mut *tx, &new_id(), "deploy", Some(env_id), now)
            .await
            .map_err(internal("enqueueing a deployment"))?;
        // A deploy is activity (it keeps the environment, never shortens it).
        let actor = meta.clone();
        let audit = move |e: &store::environments::Environment| {
            let mut a = AuditEvent::from_request(
                &actor,
                "environment.activity",
                "environment",
                Some(e.id.clone()),
                Outcome::Success,
            );
            a.team_id = Some(e.team_id.clone());
            a
        };
        let activity = Event::Activity(ActivityKind::Deploy);
        if transition_in(&mut tx, &state.settings.tiers, env_id, &activity, &audit, now).await?.is_none() {
            continue; // the row moved meanwhile: decide again
        }
        tx.commit().await.map_err(internal("committing a deployment"))?;
        state.work.notify_one();
        return Ok(d);
    }
    Err(AppError::Conflict("the environment is changing right now; try again".into()))
}

/// An environment's deployments, newest first (who may see it may read them).
pub async fn list(
    state: &AppState,
    meta: &RequestMeta,
    env_id: &str,
) -> Result<Vec<store::deployments::Listed>, AppError> {
    load_visible(state, meta, env_id, Action::ViewEnvironments).await?;
    store::deployments::for_environment(state.db.pool(), env_id, LISTED).await.map_err(internal("listing deployments"))
}

/// One deployment, found through its environment's visibility.
pub async fn find(
    state: &AppState,
    meta: &RequestMeta,
    env_id: &str,
    id: &str,
) -> Result<store::deployments::Listed, AppError> {
    load_visible(state, meta, env_id, Action::ViewEnvironments).await?;
    store::deployments::listed(state.db.pool(), id)
        .await
        .map_err(internal("loading a deployment"))?
        .filter(|l| l.d.environment_id == env_id)
        .ok_or(AppError::NotFound)
}

/// Whether `d` can be rolled back now (it serves, blue-green, in its window).
async fn rollback_check(ex: &mut sqlx::AnyConnection, d: &Deployment, now: i64) -> Result<(), AppError> {
    let serving =
        store::deployments::serving(&mut *ex, &d.environment_id).await.map_err(internal("reading deployments"))?;
    let busy =
        store::deployments::under_way(&mut *ex, &d.environment_id).await.map_err(internal("reading deployments"))?;
    let rolling_back: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE environment_id = $1 AND kind = 'rollback' AND finished_at IS NULL",
    )
    .bind(&d.environment_id)
    .fetch_one(&mut *ex)
    .await
    .map_err(internal("reading jobs"))?;
    if busy.is_some() || rolling_back > 0 {
        return Err(refused(deployment::Refused::Busy));
    }
    let check = RollbackCheck {
        strategy: d.strategy.parse::<DeploymentStrategy>().map_err(|_| AppError::Internal)?,
        state: stored(&d.state, "state", &d.id)?,
        serving: serving.is_some_and(|s| s.id == d.id),
        rollback_until: d.rollback_until,
    };
    deployment::may_roll_back(&check, now).map_err(refused)
}

/// A person rolls a blue-green deployment back: checked, audited and queued
/// (the reconciler switches the proxy back as soon as it picks the job up).
pub async fn rollback(state: &AppState, meta: &RequestMeta, env_id: &str, id: &str) -> Result<Deployment, AppError> {
    let d = find(state, meta, env_id, id).await?.d;
    load_visible(state, meta, env_id, Action::OperateEnvironments).await?;
    let now = now_ms();
    let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
    rollback_check(&mut tx, &d, now).await?;
    let env = store::environments::find(&mut *tx, env_id)
        .await
        .map_err(internal("loading an environment"))?
        .ok_or(AppError::NotFound)?;
    let mut event =
        AuditEvent::from_request(meta, "environment.rollback", "environment", Some(env_id.into()), Outcome::Success)
            .with_detail(serde_json::json!({ "deployment": d.id, "to_commit": d.previous_commit, "automatic": false }));
    event.team_id = Some(env.env.team_id.clone());
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a rollback"))?;
    store::jobs::enqueue(&mut *tx, &new_id(), "rollback", Some(env_id), now)
        .await
        .map_err(internal("enqueueing a rollback"))?;
    tx.commit().await.map_err(internal("committing a rollback"))?;
    state.work.notify_one();
    Ok(d)
}

/// The portal rolls back by itself (the new colour failed its probes in its
/// window): inside the health change's transaction. Returns whether it did
/// (false: nothing to roll back to, so the caller restarts instead).
pub(crate) async fn roll_back_automatically(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    env: &store::environments::Environment,
    reason: &str,
    now: i64,
) -> Result<bool, AppError> {
    let Some(d) = store::deployments::serving(&mut **tx, &env.id).await.map_err(internal("reading deployments"))?
    else {
        return Ok(false);
    };
    if rollback_check(&mut *tx, &d, now).await.is_err() {
        return Ok(false);
    }
    let event = AuditEvent::system("environment.rollback", Some(env.id.clone()), Some(env.team_id.clone())).with_detail(
        serde_json::json!({ "deployment": d.id, "to_commit": d.previous_commit, "automatic": true, "reason": reason }),
    );
    store::audit::append(&mut **tx, &event).await.map_err(internal("auditing a rollback"))?;
    store::jobs::enqueue(&mut **tx, &new_id(), "rollback", Some(&env.id), now)
        .await
        .map_err(internal("enqueueing a rollback"))?;
    Ok(true)
}

/// The deployment the `deploy` job works on, moved to `deploying` (the
/// first attempt) — `None` when there is none or the environment stopped
/// running, in which case it is failed with that reason.
pub async fn start(db: &Db, env_id: &str) -> Result<Option<Deployment>, AppError> {
    let now = now_ms();
    let mut tx = db.begin_write().await.map_err(internal("starting a transaction"))?;
    let Some(mut d) = store::deployments::under_way(&mut *tx, env_id).await.map_err(internal("reading deployments"))?
    else {
        return Ok(None);
    };
    let env = store::environments::find(&mut *tx, env_id).await.map_err(internal("loading an environment"))?;
    let running = env
        .as_ref()
        .is_some_and(|v| matches!(v.env.state.parse(), Ok(EnvState::Active | EnvState::Idle | EnvState::Expiring)));
    let from = d.state.clone();
    if !running {
        d.state = DeployState::Failed.as_str().into();
        d.reason = Some("the environment stopped running before the deployment began".into());
        d.finished_at = Some(now);
    } else if from == DeployState::Queued.as_str() {
        d.state = DeployState::Deploying.as_str().into();
        d.started_at = Some(now);
    }
    if from != d.state {
        store::deployments::advance(&mut *tx, &d, &from).await.map_err(internal("starting a deployment"))?;
    }
    tx.commit().await.map_err(internal("committing a deployment"))?;
    Ok(running.then_some(d))
}

/// Records how a deployment ended: `Ok(kept)` the new version serves (the
/// environment's commit and ref follow; `kept`: the old version still runs
/// for a rollback), `Err(reason)` it never became ready.
pub async fn finish(db: &Db, d: &Deployment, outcome: Result<bool, String>) -> Result<(), AppError> {
    let now = now_ms();
    let strategy: DeploymentStrategy = d.strategy.parse().map_err(|_| AppError::Internal)?;
    let mut tx = db.begin_write().await.map_err(internal("starting a transaction"))?;
    let mut done = d.clone();
    done.finished_at = Some(now);
    let (action, detail) = match &outcome {
        Ok(kept) => {
            done.state = DeployState::Succeeded.as_str().into();
            done.ready_at = Some(now);
            done.rollback_until = deployment::rollback_until(strategy, now).filter(|_| *kept);
            (
                "environment.deployed",
                serde_json::json!({ "deployment": d.id, "commit_sha": d.commit_sha, "strategy": d.strategy,
                "duration_ms": now - d.started_at.unwrap_or(d.created_at) }),
            )
        }
        Err(reason) => {
            done.state = DeployState::Failed.as_str().into();
            done.reason = Some(reason.clone());
            (
                "environment.deploy_failed",
                serde_json::json!({ "deployment": d.id, "commit_sha": d.commit_sha, "reason": reason }),
            )
        }
    };
    if !store::deployments::advance(&mut *tx, &done, DeployState::Deploying.as_str())
        .await
        .map_err(internal("ending a deployment"))?
    {
        return Ok(()); // recorded already (a retried job)
    }
    if outcome.is_ok() {
        // Any older kept colour is gone with this deployment's switch.
        sqlx::query("UPDATE deployments SET rollback_until = NULL WHERE environment_id = $1 AND id <> $2 AND rollback_until IS NOT NULL")
            .bind(&d.environment_id)
            .bind(&d.id)
            .execute(&mut *tx)
            .await
            .map_err(internal("closing older windows"))?;
        set_commit(&mut tx, &d.environment_id, &d.commit_sha, d.git_ref.as_deref(), now).await?;
        // The new head's pull request hears that it serves.
        if let Some(v) =
            store::environments::find(&mut *tx, &d.environment_id).await.map_err(internal("loading an environment"))?
        {
            let ready = crate::domain::pull_request::ReportState::Ready;
            super::pull_requests::report(&mut tx, &v.env, ready, None, now).await?;
        }
    }
    let env =
        store::environments::find(&mut *tx, &d.environment_id).await.map_err(internal("loading an environment"))?;
    let team = env.as_ref().map(|v| v.env.team_id.clone());
    let event = AuditEvent::system(action, Some(d.environment_id.clone()), team).with_detail(detail);
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a deployment"))?;
    if let (Some(v), Err(reason)) = (&env, &outcome) {
        // The pull request's new head did not deploy: its status says so
        // (the preview still serves what it served before).
        let mut head = v.env.clone();
        head.commit_sha = Some(d.commit_sha.clone());
        let why = format!(
            "this commit did not deploy ({reason}); {} still serves {}",
            v.env.name,
            v.env.commit_sha.as_deref().map(|c| &c[..12.min(c.len())]).unwrap_or("the previous version")
        );
        let failed = crate::domain::pull_request::ReportState::Failed;
        super::pull_requests::report(&mut tx, &head, failed, Some(why), now).await?;
    }
    if let (Some(v), Err(reason)) = (&env, &outcome) {
        let message =
            format!("deploying {} to {} failed: {reason}", &d.commit_sha[..12.min(d.commit_sha.len())], v.env.name);
        super::notify::to_user(
            &mut tx,
            d.requested_by.as_deref(),
            Some(&d.environment_id),
            "environment_failed",
            &message,
            now,
        )
        .await?;
    }
    tx.commit().await.map_err(internal("committing a deployment"))?;
    Ok(())
}

/// Records a rollback the driver carried out: the deployment is
/// `rolled-back`, the environment runs its previous commit again.
pub async fn rolled_back(db: &Db, env_id: &str) -> Result<(), AppError> {
    let now = now_ms();
    let mut tx = db.begin_write().await.map_err(internal("starting a transaction"))?;
    let Some(d) = store::deployments::serving(&mut *tx, env_id).await.map_err(internal("reading deployments"))? else {
        return Ok(());
    };
    // Who asked for it (or why the portal did), from its audit event.
    let asked: Option<(String, String)> = sqlx::query_as(
        "SELECT actor_label, detail FROM audit_events WHERE target_id = $1 AND action = 'environment.rollback'
         ORDER BY at DESC, id DESC LIMIT 1",
    )
    .bind(env_id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(internal("reading a rollback"))?;
    let mut done = d.clone();
    done.state = DeployState::RolledBack.as_str().into();
    done.rollback_until = None;
    done.reason = Some(match asked {
        Some((who, detail)) if who == "system" => {
            let why = serde_json::from_str::<serde_json::Value>(&detail)
                .ok()
                .and_then(|v| v["reason"].as_str().map(str::to_string));
            format!("rolled back by the portal: {}", why.unwrap_or_else(|| "its health probe failed".into()))
        }
        Some((who, _)) => format!("rolled back by {who}"),
        None => "rolled back".into(),
    });
    if !store::deployments::advance(&mut *tx, &done, DeployState::Succeeded.as_str())
        .await
        .map_err(internal("recording a rollback"))?
    {
        return Ok(());
    }
    if let Some(previous) = &d.previous_commit {
        set_commit(&mut tx, env_id, previous, d.previous_ref.as_deref(), now).await?;
    }
    let env = store::environments::find(&mut *tx, env_id).await.map_err(internal("loading an environment"))?;
    let event = AuditEvent::system("environment.rolled_back", Some(env_id.into()), env.map(|v| v.env.team_id))
        .with_detail(serde_json::json!({ "deployment": d.id, "commit_sha": d.previous_commit }));
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a rollback"))?;
    tx.commit().await.map_err(internal("committing a rollback"))?;
    Ok(())
}

/// A rollback that could not be carried out (the old colour died): the
/// window closes, and the environment goes on with what serves.
pub async fn rollback_impossible(db: &Db, env_id: &str, reason: &str) -> Result<(), AppError> {
    let mut tx = db.begin_write().await.map_err(internal("starting a transaction"))?;
    if let Some(d) = store::deployments::serving(&mut *tx, env_id).await.map_err(internal("reading deployments"))? {
        store::deployments::close_window(&mut *tx, &d.id).await.map_err(internal("closing a window"))?;
    }
    let env = store::environments::find(&mut *tx, env_id).await.map_err(internal("loading an environment"))?;
    // An automatic rollback stood in for the restart: restart it now.
    if env.as_ref().is_some_and(|v| v.env.health == crate::domain::health::Health::Unhealthy.as_str()) {
        store::jobs::enqueue(&mut *tx, &new_id(), "restart", Some(env_id), now_ms())
            .await
            .map_err(internal("enqueueing a restart"))?;
    }
    let event = AuditEvent::system("environment.rollback_failed", Some(env_id.into()), env.map(|v| v.env.team_id))
        .with_detail(serde_json::json!({ "reason": reason }));
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a rollback"))?;
    tx.commit().await.map_err(internal("committing a rollback"))?;
    Ok(())
}

/// The environment's `commit_sha` is what serves: it follows a deployment or
/// a rollback (a version bump, so concurrent lifecycle writes re-read), and
/// so do its ref and pull request when the deployment named a ref (a bare
/// commit keeps them: the branch is still the one it follows).
async fn set_commit(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    env_id: &str,
    sha: &str,
    git_ref: Option<&str>,
    now: i64,
) -> Result<(), AppError> {
    let pr = git_ref.and_then(parse_ref).and_then(|w| match w {
        Wanted::PullRequest(n) => Some(n as i64),
        _ => None,
    });
    let git_ref = git_ref.map(|r| r.strip_prefix("refs/heads/").unwrap_or(r));
    sqlx::query(
        "UPDATE environments SET commit_sha = $1, health = 'healthy', health_changed_at = $2,
             git_ref = COALESCE($4, git_ref), pr_number = CASE WHEN $4 IS NULL THEN pr_number ELSE $5 END,
             version = version + 1
         WHERE id = $3",
    )
    .bind(sha)
    .bind(now)
    .bind(env_id)
    .bind(git_ref)
    .bind(pr)
    .execute(&mut **tx)
    .await
    .map_err(internal("recording what serves"))?;
    Ok(())
}

/// Blue-green: the window of `d` closed and the driver stopped the kept
/// colour; no rollback is offered any more.
pub async fn window_closed(db: &Db, d: &Deployment) -> Result<(), AppError> {
    let mut tx = db.begin_write().await.map_err(internal("starting a transaction"))?;
    store::deployments::close_window(&mut *tx, &d.id).await.map_err(internal("closing a window"))?;
    let env =
        store::environments::find(&mut *tx, &d.environment_id).await.map_err(internal("loading an environment"))?;
    let event =
        AuditEvent::system("environment.colour_retired", Some(d.environment_id.clone()), env.map(|v| v.env.team_id))
            .with_detail(serde_json::json!({ "deployment": d.id, "commit_sha": d.previous_commit }));
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a retired colour"))?;
    tx.commit().await.map_err(internal("committing a retired colour"))?;
    Ok(())
}
