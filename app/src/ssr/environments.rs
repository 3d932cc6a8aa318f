//! The one write path for environments. Every change — from the UI, the API,
//! webhooks or the workers — loads the row, authorizes, applies the pure
//! lifecycle transition, writes (optimistically, by version), appends the
//! audit event and enqueues the work the transition asks for, in one
//! transaction.

use super::clock::{new_id, now_ms};
use super::context::SourceError;
use super::store::{self, audit::AuditEvent, audit::Outcome, environments::Environment, resources::Resource};
use super::{authz, internal, AppState, Db, RequestMeta};
use crate::domain::approval::ApprovalKind;
use crate::domain::authz::Action;
use crate::domain::blueprint::Blueprint;
use crate::domain::health::Health;
use crate::domain::lifecycle::{self, Effect, EnvState, Event, Lifecycle};
use crate::domain::measure::ReadyPath;
use crate::domain::naming::{environment_name, Source};
use crate::domain::repository::{is_valid_branch, Wanted};
use crate::domain::tier::{Tier, TierPolicies};
use crate::error::AppError;

/// What a New-preview request asks for.
#[derive(Clone, Debug)]
pub struct NewEnvironment {
    pub app: String,
    /// Needed only when several teams have an app with this slug.
    pub team: Option<String>,
    pub branch: Option<String>,
    pub pr_number: Option<u64>,
    pub tier: Tier,
}

pub(crate) fn lifecycle_of(env: &Environment) -> Result<Lifecycle, AppError> {
    let state: EnvState = stored(&env.state, "state", &env.id)?;
    Ok(Lifecycle {
        state,
        created_at: env.created_at,
        last_activity_at: env.last_activity_at.unwrap_or(env.created_at),
        expires_at: env.expires_at,
        warned_at: env.warned_at,
        failure: env.failure_reason.clone(),
    })
}

fn tier_of(env: &Environment) -> Result<Tier, AppError> {
    stored(&env.tier, "tier", &env.id)
}

/// Parses an enum column; a value the code does not know is a bug (or a
/// hand edit) to log, and an internal error to the caller.
pub(crate) fn stored<T: std::str::FromStr>(value: &str, column: &str, id: &str) -> Result<T, AppError>
where
    T::Err: std::fmt::Display,
{
    value.parse::<T>().map_err(|e| {
        tracing::error!(error = %e, %id, column, "bad value in database");
        AppError::Internal
    })
}

/// The job kind that carries out an effect (warnings and approval requests
/// become notifications instead).
fn job_kind(effect: &Effect) -> Option<&'static str> {
    match effect {
        Effect::Provision => Some("provision"),
        Effect::Snapshot => Some("snapshot"),
        Effect::Teardown => Some("teardown"),
        Effect::Warn { .. } | Effect::RequestApproval => None,
    }
}

async fn record_effects(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    env: &Environment,
    policy: &crate::domain::tier::TierPolicy,
    effects: &[Effect],
    now: i64,
) -> Result<(), AppError> {
    for effect in effects {
        if let Some(kind) = job_kind(effect) {
            store::jobs::enqueue(&mut **tx, &new_id(), kind, Some(&env.id), now)
                .await
                .map_err(internal("enqueueing a job"))?;
        }
        match effect {
            Effect::Warn { expires_at } => {
                let message = format!("{} expires at {}", env.name, crate::domain::time::utc_datetime(*expires_at));
                super::notify::to_user(tx, env.owner_id.as_deref(), Some(&env.id), "expiry_warning", &message, now)
                    .await?;
                let text = format!("{message}. Extend it from its page (Extend…) if it is still needed.");
                let kind = crate::domain::notification::EventKind::ExpiryWarning;
                super::notify::to_team(tx, &env.team_id, kind, Some(env), &message, &text, now).await?;
            }
            // The TTL's own destroy: the portal asks the approvers.
            Effect::RequestApproval => {
                let ask = super::approvals::Ask { kind: ApprovalKind::Destroy, asked_ms: None, reason: None };
                super::approvals::open_in(tx, env, policy, &ask, None, now).await?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The app's blueprint, or a clear refusal naming what is wrong with it.
pub fn blueprint_of(app: &store::apps::App) -> Result<Blueprint, AppError> {
    Blueprint::parse(&app.blueprint).map_err(|e| {
        tracing::warn!(app = %app.slug, error = %e, "invalid blueprint");
        AppError::invalid("app", format!("the app's blueprint cannot be used: {e}"))
    })
}

/// The last `len` alphanumerics of an id (its random end): a name suffix.
/// The largest pull-request number accepted: GitHub's and GitLab's are
/// 32-bit, and the column and the names carry it as such.
const MAX_PR_NUMBER: u64 = i32::MAX as u64;

fn suffix_of(id: &str, len: usize) -> String {
    id.chars().rev().filter(|c| c.is_ascii_alphanumeric()).take(len).collect()
}

/// A name no environment has had yet, built by `make` from a suffix of `id`:
/// four characters read best, but names are unique for ever (they key
/// resources and hosts) and a year of history makes four collide, so a taken
/// name gets a longer suffix rather than a refused create.
pub(crate) async fn free_name(
    ex: &mut sqlx::AnyConnection,
    id: &str,
    make: impl Fn(&str) -> String,
) -> Result<String, AppError> {
    // The whole id last: unique because the id is.
    for len in [4, 6, 8, 12, 32] {
        let name = make(&suffix_of(id, len));
        let taken = store::environments::find_by_name(&mut *ex, &name).await.map_err(internal("choosing a name"))?;
        if taken.is_none() {
            return Ok(name);
        }
    }
    Err(AppError::Conflict("an environment with that name exists; try again".into()))
}

/// The row of an environment just started (`lifecycle::start`), with no
/// owner or source yet: a request or a pool fills those in.
pub(crate) fn pending_row(
    id: &str,
    name: &str,
    app: &store::apps::App,
    tier: Tier,
    lc: &Lifecycle,
    pooled: bool,
) -> Environment {
    Environment {
        id: id.to_string(),
        name: name.to_string(),
        team_id: app.team_id.clone(),
        app_id: app.id.clone(),
        owner_id: None,
        tier: tier.as_str().to_string(),
        state: lc.state.as_str().to_string(),
        git_ref: None,
        pr_number: None,
        commit_sha: None,
        pooled,
        created_at: lc.created_at,
        ready_at: None,
        last_activity_at: Some(lc.last_activity_at),
        expires_at: lc.expires_at,
        warned_at: lc.warned_at,
        destroyed_at: None,
        failure_reason: None,
        claimed_at: None,
        next_check_at: None,
        health: Health::Unknown.as_str().into(),
        health_changed_at: None,
        restarts: 0,
    }
}

/// A new pending environment with its planned resources, inserted in `tx`
/// with its audit event and provisioning job.
pub(crate) async fn insert_pending(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    policy: &crate::domain::tier::TierPolicy,
    env: &Environment,
    (driver, resources): (&str, &[(String, crate::domain::money::Micros)]),
    event: &AuditEvent,
    effects: &[Effect],
) -> Result<(), AppError> {
    store::environments::insert(&mut **tx, env).await.map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            AppError::Conflict("an environment with that name exists; try again".into())
        }
        _ => internal("creating an environment")(e),
    })?;
    for (kind, rate) in resources {
        let r = Resource {
            id: new_id(),
            environment_id: env.id.clone(),
            kind: kind.clone(),
            name: format!("{}-{kind}", env.name),
            driver: driver.into(),
            state: "planned".into(),
            hourly_rate_micros: rate.0,
            started_at: None,
            ended_at: None,
        };
        store::resources::insert(&mut **tx, &r).await.map_err(internal("planning a resource"))?;
    }
    store::audit::append(&mut **tx, event).await.map_err(internal("auditing a create"))?;
    record_effects(tx, env, policy, effects, env.created_at).await
}

/// Creates an environment (see [`create_noting_budget`]).
pub async fn create(state: &AppState, meta: &RequestMeta, new: NewEnvironment) -> Result<Environment, AppError> {
    create_noting_budget(state, meta, new).await.map(|created| created.env)
}

/// What a create did.
pub struct Created {
    pub env: Environment,
    /// The budget gate's warning, if it gave one.
    pub budget_warning: Option<String>,
    /// The pull request had a live environment already: this is it, as it was.
    pub existing: bool,
    /// The same `Idempotency-Key` made this environment before: this is it.
    pub replayed: bool,
}

impl Created {
    fn answer(env: Environment, existing: bool, replayed: bool) -> Created {
        Created { env, budget_warning: None, existing, replayed }
    }
}

/// A client's `Idempotency-Key` for a create, and what it asked (the
/// request's fields as JSON).
#[derive(Clone, Debug)]
pub struct IdempotencyKey {
    pub key: String,
    pub request: String,
}

/// How long a key answers for (a client retries within minutes; a day
/// covers a job queue's retries), after which its row is purged.
pub const IDEMPOTENCY_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// The answer `key` got for `user_id` within the window, if it was used:
/// the same environment, existing or made; with another request, refused.
async fn replay(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    key: &IdempotencyKey,
) -> Result<Option<Created>, AppError> {
    let since = now_ms() - IDEMPOTENCY_WINDOW_MS;
    let used = store::idempotency_keys::find(&mut *conn, user_id, &key.key, since)
        .await
        .map_err(internal("reading an idempotency key"))?;
    let Some(used) = used else { return Ok(None) };
    if used.request != key.request {
        return Err(AppError::invalid("Idempotency-Key", "this key was sent with another request; use a new key"));
    }
    let env = store::environments::find(&mut *conn, &used.environment_id)
        .await
        .map_err(internal("reading an environment"))?
        .ok_or(AppError::Internal)?; // environments are never deleted
    Ok(Some(Created::answer(env.env, used.existing != 0, true)))
}

/// Creates an environment: authorize on the app's team, pass the tier's
/// budget gate, then hand over a running warm-pool member if the app's pool
/// has one, else insert it pending with its planned resources, audit,
/// enqueue provisioning. A pull request has at most one live environment:
/// asking again (even concurrently) answers the one it has.
pub async fn create_noting_budget(
    state: &AppState,
    meta: &RequestMeta,
    new: NewEnvironment,
) -> Result<Created, AppError> {
    create_with_key(state, meta, new, None).await
}

/// [`create_noting_budget`] with the client's `Idempotency-Key`: a retry
/// answers what the first request made.
pub async fn create_with_key(
    state: &AppState,
    meta: &RequestMeta,
    new: NewEnvironment,
    key: Option<&IdempotencyKey>,
) -> Result<Created, AppError> {
    create_in(state, meta, new, key, Fallback::Cold).await
}

/// What a create does when the app's warm pool has no member to hand over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fallback {
    /// Build one.
    Cold,
    /// Nothing (a draft pull request of an app whose drafts are `pool-only`).
    Refuse,
}

/// The create behind [`create_with_key`] and pull-request webhooks.
pub(crate) async fn create_in(
    state: &AppState,
    meta: &RequestMeta,
    new: NewEnvironment,
    key: Option<&IdempotencyKey>,
    fallback: Fallback,
) -> Result<Created, AppError> {
    let viewer = meta.viewer.clone().ok_or(AppError::Unauthorized)?;
    let pool = state.db.pool();
    let apps = store::apps::find_by_slug(pool, new.app.trim()).await.map_err(internal("finding an app"))?;
    let visible: Vec<_> = apps.into_iter().filter(|a| viewer.can_see_team(&a.team_id)).collect();
    let app = match (visible.len(), &new.team) {
        (0, _) => return Err(AppError::invalid("app", format!("no app {:?} in your teams", new.app.trim()))),
        (1, None) => visible.into_iter().next().expect("one app"),
        (_, Some(team)) => {
            let team_row = store::teams::find_by_slug(pool, team).await.map_err(internal("finding a team"))?;
            let team_id = team_row.map(|t| t.id).unwrap_or_default();
            visible
                .into_iter()
                .find(|a| a.team_id == team_id)
                .ok_or_else(|| AppError::invalid("team", "no such app in that team"))?
        }
        (_, None) => return Err(AppError::invalid("team", "several teams have this app; say which team")),
    };
    authz::require(state, meta, Action::OperateEnvironments, Some(&app.team_id)).await?;
    if !new.tier.is_preview() && !viewer.is_platform_admin {
        authz::audit_denial(state, meta, Action::OperateEnvironments, Some(&app.team_id), "long-lived tier").await;
        return Err(AppError::Forbidden);
    }
    let source = match (&new.pr_number, new.branch.as_deref().map(str::trim)) {
        (Some(_), Some(b)) if !b.is_empty() => {
            return Err(AppError::invalid("pr_number", "give a branch or a pull request number, not both"));
        }
        (Some(n), _) if !(1..=MAX_PR_NUMBER).contains(n) => {
            return Err(AppError::invalid("pr_number", "give a pull request number from 1 to 2147483647"));
        }
        (Some(n), _) => Source::PullRequest(*n),
        (None, Some(b)) if !b.is_empty() && b.len() <= 200 => Source::Branch(b),
        (None, Some(_)) => return Err(AppError::invalid("branch", "give a branch name of 1 to 200 characters")),
        (None, None) => return Err(AppError::invalid("branch", "give a branch or a pull request number")),
    };
    if app.archived_at.is_some() {
        return Err(AppError::invalid("app", "this app is archived; restore it on its page to make environments"));
    }
    // Asked before (a retry), or the pull request's preview exists: answer it.
    if let Some(key) = key {
        let mut conn = pool.acquire().await.map_err(internal("reading an idempotency key"))?;
        if let Some(answer) = replay(&mut conn, &viewer.user_id, key).await? {
            return Ok(answer);
        }
    }
    // (With a key, the answer is recorded for the key in a transaction below.)
    if let (Source::PullRequest(n), true, None) = (&source, new.tier.is_preview(), key) {
        if let Some(env) = pull_request_preview(pool, &app.id, *n as i64).await? {
            return Ok(Created::answer(env, true, false));
        }
    }
    let blueprint = blueprint_of(&app)?;
    // Before any network or write: a blocked team learns it at once.
    let budget_warning = super::costs::admit(state, &viewer, &app.team_id, new.tier).await?;
    let wanted = match &source {
        Source::Branch(b) if !is_valid_branch(b) => {
            return Err(AppError::invalid("branch", "not a branch name git accepts"));
        }
        Source::Branch(b) => Wanted::Branch(b.to_string()),
        Source::PullRequest(n) => Wanted::PullRequest(*n),
    };
    let commit_sha = resolve_commit(state, &app, &wanted).await?;
    let git_ref = Some(match &source {
        Source::Branch(b) => b.to_string(),
        Source::PullRequest(n) => format!("refs/pull/{n}/head"),
    });
    let requested =
        Requested { owner_id: viewer.user_id.clone(), git_ref, pr_number: new.pr_number.map(|n| n as i64), commit_sha };
    if let Some(claimed) = claim_pooled(state, meta, &app, new.tier, &source, &requested, key).await? {
        let made = !claimed.existing && !claimed.replayed;
        return Ok(Created { budget_warning: budget_warning.filter(|_| made), ..claimed });
    }
    if fallback == Fallback::Refuse {
        return Err(AppError::Conflict(format!("no warm {} of {} is free", new.tier.label(), app.slug)));
    }
    let now = now_ms();
    let policy = state.settings.tiers.get(new.tier);
    let (lc, effects) = lifecycle::start(policy, now);
    let id = new_id();
    let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
    if let Some(answer) = made_meanwhile(state, &mut tx, &requested, (&app.id, new.tier), key).await? {
        tx.commit().await.map_err(internal("recording an answer"))?;
        return Ok(answer);
    }
    let admitting =
        super::admission::Admitting { team_id: &app.team_id, app_slug: &app.slug, tier: new.tier, viewer: &viewer };
    if let Err(refused) = super::admission::check_in(&mut tx, state, &admitting).await? {
        drop(tx); // rolled back, so the audit does not wait on this write lock
        return Err(super::admission::refuse(state, meta, refused).await);
    }
    let name = free_name(&mut tx, &id, |suffix| environment_name(&app.slug, &source, suffix)).await?;
    let env = Environment {
        owner_id: Some(requested.owner_id),
        git_ref: requested.git_ref,
        pr_number: requested.pr_number,
        commit_sha: requested.commit_sha,
        ..pending_row(&id, &name, &app, new.tier, &lc, false)
    };
    let mut event =
        AuditEvent::from_request(meta, "environment.create", "environment", Some(id.clone()), Outcome::Success)
            .with_detail(serde_json::json!({
                "name": name, "tier": new.tier.as_str(), "app": app.slug, "git_ref": env.git_ref,
                "commit_sha": env.commit_sha, "budget_warning": budget_warning,
            }));
    event.team_id = Some(app.team_id.clone());
    insert_pending(&mut tx, policy, &env, (&blueprint.driver, &blueprint.resources_for(new.tier)), &event, &effects)
        .await?;
    start_wait(&mut tx, meta, &env, ReadyPath::Cold, None, now).await?;
    record_key(&mut tx, &viewer.user_id, key, (&env.id, false), now).await?;
    tx.commit().await.map_err(internal("committing a create"))?;
    state.work.notify_one();
    Ok(Created { env, budget_warning, existing: false, replayed: false })
}

/// Inside a create's transaction, what another request made since the first
/// look: the environment of the same `Idempotency-Key`, or of the pull
/// request (recorded as the key's answer). The locks (key first, then pull
/// request) make such creates wait for each other on PostgreSQL; SQLite
/// serializes writers already.
async fn made_meanwhile(
    state: &AppState,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    requested: &Requested,
    (app_id, tier): (&str, Tier),
    key: Option<&IdempotencyKey>,
) -> Result<Option<Created>, AppError> {
    use crate::domain::naming::stable_hash;
    if let Some(key) = key {
        let name = stable_hash(&format!("idempotency-key/{}/{}", requested.owner_id, key.key)) as i64;
        state.db.lock(tx, name).await.map_err(internal("locking an idempotency key"))?;
        if let Some(answer) = replay(tx, &requested.owner_id, key).await? {
            return Ok(Some(answer));
        }
    }
    let Some(pr) = requested.pr_number.filter(|_| tier.is_preview()) else { return Ok(None) };
    lock_pull_request(state, tx, app_id, pr).await?;
    let Some(env) = pull_request_preview(&mut **tx, app_id, pr).await? else { return Ok(None) };
    // A retry with the key answers this again, the same way.
    record_key(tx, &requested.owner_id, key, (&env.id, true), now_ms()).await?;
    Ok(Some(Created::answer(env, true, false)))
}

/// Takes the pull request's lock for the rest of the transaction (see
/// [`made_meanwhile`]).
pub(crate) async fn lock_pull_request(
    state: &AppState,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    app_id: &str,
    pr: i64,
) -> Result<(), AppError> {
    let name = crate::domain::naming::stable_hash(&format!("pull-request/{app_id}/{pr}")) as i64;
    state.db.lock(tx, name).await.map_err(internal("locking a pull request"))
}

/// The preview the app's pull request has, if any: at most one.
pub(crate) async fn pull_request_preview<'c>(
    ex: impl store::Exec<'c>,
    app_id: &str,
    pr: i64,
) -> Result<Option<Environment>, AppError> {
    let live = store::environments::live_for_pull_request(ex, app_id, pr)
        .await
        .map_err(internal("finding a pull request's preview"))?;
    Ok(live.map(|v| v.env))
}

/// Records the create's `Idempotency-Key`, in its transaction.
async fn record_key(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &str,
    key: Option<&IdempotencyKey>,
    answer: (&str, bool),
    now: i64,
) -> Result<(), AppError> {
    let Some(key) = key else { return Ok(()) };
    store::idempotency_keys::record(tx, (user_id, &key.key, &key.request), answer, now, now - IDEMPOTENCY_WINDOW_MS)
        .await
        .map_err(internal("recording an idempotency key"))
}

/// Starts the requester's click-to-ready measurement of `env` (ended at
/// once when `ready_at` is given): from when the portal received the request.
async fn start_wait(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    meta: &RequestMeta,
    env: &Environment,
    path: ReadyPath,
    ready_at: Option<i64>,
    now: i64,
) -> Result<(), AppError> {
    let wait = store::measurements::Wait {
        environment_id: env.id.clone(),
        team_id: env.team_id.clone(),
        tier: env.tier.clone(),
        via: meta.via,
        path,
        requested_at: meta.received_at.unwrap_or(now).min(now),
        ready_at,
        demo: false,
    };
    if let Some(ready_at) = ready_at {
        let seconds = (ready_at - wait.requested_at).max(0) as f64 / 1000.0;
        metrics::histogram!("eod_click_to_ready_seconds", "path" => path.as_str()).record(seconds);
    }
    if path == ReadyPath::Pool {
        metrics::counter!("eod_pool_claims_total", "tier" => env.tier.clone()).increment(1);
    }
    store::measurements::insert(&mut **tx, &wait).await.map_err(internal("recording a wait"))
}

/// Who asked for an environment and for which code.
struct Requested {
    owner_id: String,
    git_ref: Option<String>,
    pr_number: Option<i64>,
    /// The commit the ref named at the request (`None` without source control).
    commit_sha: Option<String>,
}

/// The commit `wanted` names in the app's repository now: an unknown branch
/// or pull request is a 422 on that field, before anything is created.
pub async fn resolve_commit(
    state: &AppState,
    app: &store::apps::App,
    wanted: &Wanted,
) -> Result<Option<String>, AppError> {
    let (Some(sources), Some(repo)) = (&state.sources, &app.repo_url) else { return Ok(None) };
    match sources.resolve(&app.id, repo, wanted).await {
        Ok(sha) => Ok(Some(sha)),
        Err(SourceError::UnknownRef) => Err(AppError::invalid(
            wanted.field(),
            match wanted {
                Wanted::Branch(b) => format!("{} has no branch {b:?}", app.slug),
                Wanted::PullRequest(n) => format!("{} has no pull request #{n}", app.slug),
                Wanted::Commit(sha) => format!("{} has no commit {sha}", app.slug),
            },
        )),
        Err(SourceError::Unreachable(why)) => {
            Err(AppError::invalid("app", format!("the repository of {} cannot be read: {why}", app.slug)))
        }
    }
}

/// Hands the oldest running member of the app's pool for `tier` to the
/// requester, in one transaction: rename, assign, restart its lifecycle
/// clock, audit. `None` when the pool is empty (or has no such pool); the
/// answer of [`made_meanwhile`] when there is one.
async fn claim_pooled(
    state: &AppState,
    meta: &RequestMeta,
    app: &store::apps::App,
    tier: Tier,
    source: &Source<'_>,
    requested: &Requested,
    key: Option<&IdempotencyKey>,
) -> Result<Option<Created>, AppError> {
    let policy = state.settings.tiers.get(tier);
    // A concurrent claim can win the member we read; try the next one.
    for _ in 0..3 {
        let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
        if let Some(answer) = made_meanwhile(state, &mut tx, requested, (&app.id, tier), key).await? {
            tx.commit().await.map_err(internal("recording an answer"))?;
            return Ok(Some(answer));
        }
        let Some(member) = store::environments::pooled_member(
            &mut *tx,
            state.db.engine(),
            &app.id,
            tier.as_str(),
            requested.commit_sha.as_deref(),
        )
        .await
        .map_err(internal("finding a pool member"))?
        else {
            return Ok(None);
        };
        let viewer = meta.viewer.as_ref().ok_or(AppError::Unauthorized)?;
        let admitting = super::admission::Admitting { team_id: &app.team_id, app_slug: &app.slug, tier, viewer };
        if let Err(refused) = super::admission::check_in(&mut tx, state, &admitting).await? {
            drop(tx); // rolled back, so the audit does not wait on this write lock
            return Err(super::admission::refuse(state, meta, refused).await);
        }
        let now = now_ms();
        // The same commit runs already: hand it over as it is. Another
        // commit: the driver moves the member's checkout and rebuilds
        // incrementally, so it goes through provisioning again.
        let same_commit = requested.commit_sha.is_none() || member.env.commit_sha == requested.commit_sha;
        let (lc, effects) =
            if same_commit { (lifecycle::claimed(policy, now), vec![]) } else { lifecycle::start(policy, now) };
        let mut env = member.env.clone();
        let name = free_name(&mut tx, &env.id, |suffix| environment_name(&app.slug, source, suffix)).await?;
        let pool_name = std::mem::replace(&mut env.name, name);
        env.owner_id = Some(requested.owner_id.clone());
        env.git_ref = requested.git_ref.clone();
        env.pr_number = requested.pr_number;
        env.commit_sha = requested.commit_sha.clone().or(env.commit_sha);
        env.pooled = false;
        env.claimed_at = Some(now);
        env.created_at = lc.created_at;
        // Ready at the hand-over; a member moved to another commit is ready
        // again only when rebuilt (its wait is the rebuild's).
        env.ready_at = same_commit.then_some(now);
        env.state = lc.state.as_str().to_string();
        env.last_activity_at = Some(lc.last_activity_at);
        env.expires_at = lc.expires_at;
        env.warned_at = None;
        env.next_check_at = lifecycle::next_check(&lc, policy);
        if !same_commit {
            // Rebuilt at its new commit: nothing is known of its health until then.
            env.health = Health::Unknown.as_str().into();
            env.health_changed_at = Some(now);
        }
        let claimed = store::environments::claim(&mut *tx, &env, member.version).await.map_err(|e| match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                AppError::Conflict("an environment with that name exists; try again".into())
            }
            _ => internal("claiming a pool member")(e),
        })?;
        if !claimed {
            continue;
        }
        let mut event = AuditEvent::from_request(
            meta,
            "environment.create",
            "environment",
            Some(env.id.clone()),
            Outcome::Success,
        )
        .with_detail(serde_json::json!({
            "name": env.name, "tier": tier.as_str(), "app": app.slug, "git_ref": env.git_ref, "from_pool": pool_name,
            "commit_sha": env.commit_sha, "rebuild": !same_commit,
        }));
        event.team_id = Some(app.team_id.clone());
        store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a claim"))?;
        record_effects(&mut tx, &env, policy, &effects, now).await?;
        // The requester's wait ends with this transaction: measured as late as possible before the commit.
        let handed_over = same_commit.then(now_ms);
        start_wait(&mut tx, meta, &env, ReadyPath::Pool, handed_over, now).await?;
        if lc.state == EnvState::Active {
            // Handed over running: it is ready now.
            tell_owner(&mut tx, &env, EnvState::Ready, EnvState::Active, now).await?;
        }
        record_key(&mut tx, &requested.owner_id, key, (&env.id, false), now).await?;
        tx.commit().await.map_err(internal("committing a claim"))?;
        // The pool is one short now; the scheduler's next pass refills it.
        state.work.notify_one();
        return Ok(Some(Created::answer(env, false, false)));
    }
    Ok(None)
}

/// Loads an environment the viewer may see (others' are NotFound).
pub async fn load_visible(
    state: &AppState,
    meta: &RequestMeta,
    id: &str,
    action: Action,
) -> Result<Environment, AppError> {
    let found = store::environments::find(state.db.pool(), id).await.map_err(internal("loading an environment"))?;
    let Some(v) = found else {
        meta.viewer.as_ref().ok_or(AppError::Unauthorized)?;
        return Err(AppError::NotFound);
    };
    authz::require(state, meta, action, Some(&v.env.team_id)).await?;
    Ok(v.env)
}

/// Applies an event on behalf of a person (destroy, extend, activity):
/// authorize, transition, write, audit, enqueue.
pub async fn act(
    state: &AppState,
    meta: &RequestMeta,
    id: &str,
    event: Event,
    action_name: &str,
) -> Result<Environment, AppError> {
    load_visible(state, meta, id, Action::OperateEnvironments).await?;
    let actor = meta.clone();
    transition(&state.db, &state.settings.tiers, id, event, move |env| {
        let mut e =
            AuditEvent::from_request(&actor, action_name, "environment", Some(env.id.clone()), Outcome::Success);
        e.team_id = Some(env.team_id.clone());
        e
    })
    .await
    .inspect(|_| state.work.notify_one())
}

/// Applies an event on behalf of the portal itself (workers, scheduler).
pub async fn system_event(
    db: &Db,
    tiers: &TierPolicies,
    id: &str,
    event: Event,
    action_name: &str,
) -> Result<Environment, AppError> {
    transition(db, tiers, id, event, |env| {
        AuditEvent::system(action_name, Some(env.id.clone()), Some(env.team_id.clone()))
    })
    .await
}

/// The transaction shared by [`act`] and [`system_event`]. Retries a few
/// times when a concurrent writer bumped the version first.
async fn transition(
    db: &Db,
    tiers: &TierPolicies,
    id: &str,
    event: Event,
    audit: impl Fn(&Environment) -> AuditEvent + Sync,
) -> Result<Environment, AppError> {
    for _ in 0..5 {
        let mut tx = db.begin_write().await.map_err(internal("starting a transaction"))?;
        let Some(env) = transition_in(&mut tx, tiers, id, &event, &audit, now_ms()).await? else {
            continue; // someone else moved it; read again and re-decide
        };
        tx.commit().await.map_err(internal("committing a transition"))?;
        return Ok(env);
    }
    Err(AppError::Conflict("the environment is changing right now; try again".into()))
}

/// One try of a transition inside `tx`, for services that write more in
/// the same transaction (an approval's decision): load, apply, write,
/// audit, record effects. `None` when a concurrent writer moved the row
/// first (the caller rolls back and tries again).
pub(crate) async fn transition_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tiers: &TierPolicies,
    id: &str,
    event: &Event,
    audit: &(dyn Fn(&Environment) -> AuditEvent + Sync),
    now: i64,
) -> Result<Option<Environment>, AppError> {
    let v = store::environments::find(&mut **tx, id)
        .await
        .map_err(internal("loading an environment"))?
        .ok_or(AppError::NotFound)?;
    let policy = tiers.get(tier_of(&v.env)?);
    let before = lifecycle_of(&v.env)?;
    let (after, effects) = lifecycle::apply(&before, event, policy, now).map_err(|r| match r {
        lifecycle::Rejected::BadExtension { .. } => AppError::invalid("hours", r.to_string()),
        other => AppError::Conflict(other.to_string()),
    })?;
    let next_check = lifecycle::next_check(&after, policy);
    if after == before && effects.is_empty() {
        // Nothing happened; keep the scheduler's next look right (rows
        // from before the column, or a changed tier policy).
        if v.env.next_check_at != next_check {
            store::environments::set_next_check(&mut **tx, id, next_check)
                .await
                .map_err(internal("scheduling a check"))?;
        }
        return Ok(Some(v.env));
    }
    let mut env = v.env.clone();
    env.state = after.state.as_str().to_string();
    env.last_activity_at = Some(after.last_activity_at);
    env.expires_at = after.expires_at;
    env.warned_at = after.warned_at;
    env.failure_reason = after.failure.clone();
    env.next_check_at = next_check;
    if after.state == EnvState::Ready && env.ready_at.is_none() {
        env.ready_at = Some(now);
        let ended =
            store::measurements::mark_ready(&mut **tx, &env.id, now).await.map_err(internal("ending a wait"))?;
        if let Some((wait_ms, path)) = ended {
            metrics::histogram!("eod_click_to_ready_seconds", "path" => path).record(wait_ms as f64 / 1000.0);
        }
    }
    // Health is known from the first passing readiness probe on, and
    // unknown again while nothing runs.
    let health = match after.state {
        EnvState::Active if before.state == EnvState::Ready => Some(Health::Healthy),
        EnvState::Pending | EnvState::Failed | EnvState::Destroyed => Some(Health::Unknown),
        _ => None,
    };
    if let Some(h) = health.filter(|h| h.as_str() != env.health) {
        env.health = h.as_str().into();
        env.health_changed_at = Some(now);
    }
    if after.state == EnvState::Destroyed {
        env.destroyed_at = Some(now);
        store::resources::mark_deleted(&mut **tx, &env.id, now).await.map_err(internal("stopping resource clocks"))?;
        // Whatever was still asked about it is moot now.
        super::approvals::close_all_open(tx, &env, "the environment is destroyed", now).await?;
    }
    if !store::environments::update_lifecycle(&mut **tx, &env, v.version)
        .await
        .map_err(internal("writing an environment"))?
    {
        return Ok(None);
    }
    let mut event_row = audit(&env);
    if event_row.detail == "{}" {
        event_row.detail = serde_json::json!({ "from": before.state.as_str(), "to": after.state.as_str(), "expires_at": env.expires_at }).to_string();
    }
    store::audit::append(&mut **tx, &event_row).await.map_err(internal("auditing a transition"))?;
    record_effects(tx, &env, policy, &effects, now).await?;
    tell_owner(tx, &env, before.state, after.state, now).await?;
    // A webhook-made preview's pull request hears it too.
    use crate::domain::pull_request::ReportState;
    let told = match after.state {
        EnvState::Active if before.state == EnvState::Ready => Some(ReportState::Ready),
        EnvState::Failed if before.state != EnvState::Failed => Some(ReportState::Failed),
        EnvState::Destroyed if before.state != EnvState::Destroyed => Some(ReportState::Destroyed),
        _ => None,
    };
    if let Some(told) = told {
        super::pull_requests::report(tx, &env, told, env.failure_reason.clone(), now).await?;
    }
    Ok(Some(env))
}

/// Records what the health monitor concluded, through the one write path:
/// the row (if it still runs and nobody changed it meanwhile), its audit
/// event, the owner's notification and — when it turned unhealthy — the
/// restart job, delayed by the backoff its earlier restarts earned. Returns
/// whether anything was written.
pub async fn record_health(db: &Db, id: &str, change: &crate::domain::health::Change) -> Result<bool, AppError> {
    use crate::domain::health::{restart_backoff_ms, STABLE_AFTER_MS};
    for _ in 0..5 {
        let now = now_ms();
        let mut tx = db.begin_write().await.map_err(internal("starting a transaction"))?;
        let Some(v) = store::environments::find(&mut *tx, id).await.map_err(internal("loading an environment"))? else {
            return Ok(false);
        };
        let state: EnvState = stored(&v.env.state, "state", id)?;
        let was: Health = stored(&v.env.health, "health", id)?;
        // Only a running environment has a health to change; a restart
        // already queued is not queued twice.
        if !matches!(state, EnvState::Active | EnvState::Idle | EnvState::Expiring) || was == change.to {
            return Ok(false);
        }
        let mut env = v.env.clone();
        env.health = change.to.as_str().into();
        let stable = env.health_changed_at.is_none_or(|at| now - at >= STABLE_AFTER_MS);
        env.health_changed_at = Some(now);
        let action = match change.to {
            // A blue-green deployment still in its window goes back to the
            // colour that worked; anything else is restarted with backoff.
            Health::Unhealthy
                if super::deployments::roll_back_automatically(&mut tx, &env, &change.reason, now).await? =>
            {
                "environment.unhealthy"
            }
            Health::Unhealthy => {
                if stable {
                    env.restarts = 0;
                }
                let run_at = now + restart_backoff_ms(env.restarts);
                env.restarts += 1;
                store::jobs::enqueue(&mut *tx, &new_id(), "restart", Some(id), run_at)
                    .await
                    .map_err(internal("enqueueing a restart"))?;
                "environment.unhealthy"
            }
            _ => "environment.recovered",
        };
        if !store::environments::update_lifecycle(&mut *tx, &env, v.version)
            .await
            .map_err(internal("writing an environment's health"))?
        {
            continue; // moved meanwhile: decide again on the fresh row
        }
        let event = AuditEvent::system(action, Some(env.id.clone()), Some(env.team_id.clone())).with_detail(
            serde_json::json!({ "from": was.as_str(), "to": change.to.as_str(), "reason": change.reason, "restarts": env.restarts }),
        );
        store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a health change"))?;
        let message = match change.to {
            Health::Unhealthy => format!("{} is unhealthy ({}); restarting it", env.name, change.reason),
            _ => format!("{} is healthy again", env.name),
        };
        let kind = if change.to == Health::Unhealthy { "environment_unhealthy" } else { "environment_recovered" };
        super::notify::to_user(&mut tx, env.owner_id.as_deref(), Some(&env.id), kind, &message, now).await?;
        tx.commit().await.map_err(internal("committing a health change"))?;
        return Ok(true);
    }
    Err(AppError::Conflict("the environment is changing right now; try again".into()))
}

/// The driver serves `found` where the environment records another commit
/// (a crash between a deployment's switch and its record, a hand edit): a
/// restart at the recorded commit, audited, unless work on it is queued.
/// Returns whether it queued one.
pub async fn correct_drift(db: &Db, id: &str, found: &str) -> Result<bool, AppError> {
    let now = now_ms();
    let mut tx = db.begin_write().await.map_err(internal("starting a transaction"))?;
    let Some(v) = store::environments::find(&mut *tx, id).await.map_err(internal("loading an environment"))? else {
        return Ok(false);
    };
    let queued: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE environment_id = $1 AND finished_at IS NULL
           AND kind IN ('provision', 'restart', 'deploy', 'rollback', 'snapshot', 'teardown')",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await
    .map_err(internal("reading jobs"))?;
    let state: EnvState = stored(&v.env.state, "state", id)?;
    let want = v.env.commit_sha.clone().unwrap_or_default();
    if queued > 0 || want == found || !matches!(state, EnvState::Active | EnvState::Idle | EnvState::Expiring) {
        return Ok(false);
    }
    store::jobs::enqueue(&mut *tx, &new_id(), "restart", Some(id), now)
        .await
        .map_err(internal("enqueueing a restart"))?;
    let event = AuditEvent::system("environment.drift", Some(id.into()), Some(v.env.team_id.clone()))
        .with_detail(serde_json::json!({ "serving": found, "recorded": want }));
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a drift"))?;
    tx.commit().await.map_err(internal("committing a drift"))?;
    Ok(true)
}

/// The owner's inbox hears when their environment is ready, failed or
/// destroyed (and why), in the transaction of the change.
async fn tell_owner(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    env: &Environment,
    before: EnvState,
    after: EnvState,
    now: i64,
) -> Result<(), AppError> {
    if env.owner_id.is_none() || before == after {
        return Ok(());
    }
    use crate::domain::notification::EventKind;
    let (kind, message) = match after {
        EnvState::Active if before == EnvState::Ready => ("environment_ready", format!("{} is ready", env.name)),
        EnvState::Failed => (
            "environment_failed",
            format!("{} failed: {}", env.name, env.failure_reason.as_deref().unwrap_or("no reason given")),
        ),
        EnvState::Destroyed => {
            ("environment_destroyed", format!("{} was destroyed: {}", env.name, why_destroyed(tx, &env.id).await?))
        }
        _ => return Ok(()),
    };
    super::notify::to_user(tx, env.owner_id.as_deref(), Some(&env.id), kind, &message, now).await?;
    let event = match after {
        EnvState::Active => EventKind::Ready,
        EnvState::Failed => EventKind::Failed,
        _ => EventKind::Destroyed,
    };
    super::notify::to_team(tx, &env.team_id, event, Some(env), &message, &message, now).await
}

/// Why an environment went, from what started its way out.
async fn why_destroyed(tx: &mut sqlx::Transaction<'_, sqlx::Any>, env_id: &str) -> Result<String, AppError> {
    let last: Option<(String, String)> = sqlx::query_as(
        "SELECT action, actor_label FROM audit_events WHERE target_id = $1
           AND action IN ('environment.timer', 'environment.destroy', 'approval.applied.destroy', 'pool.retire')
         ORDER BY at DESC, id DESC LIMIT 1",
    )
    .bind(env_id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(internal("reading why an environment went"))?;
    Ok(match last {
        Some((action, _)) if action == "environment.timer" => "its TTL ran out".into(),
        Some((action, who)) if action == "environment.destroy" => format!("destroyed by {who}"),
        Some((action, who)) if action == "approval.applied.destroy" && who == "system" => {
            "destroy approved by the SLA (no decision in time)".into()
        }
        Some((action, who)) if action == "approval.applied.destroy" => format!("destroy approved by {who}"),
        Some((action, _)) if action == "pool.retire" => "retired from the warm pool".into(),
        _ => "torn down".into(),
    })
}

/// What an extension request did.
#[derive(Clone, Debug)]
pub enum Extended {
    /// The expiry moved (the environment as written).
    Moved(Box<Environment>),
    /// The tier needs an approval: the open request (new or the one already asked).
    ApprovalRequested(Box<store::approvals::Approval>),
}

/// Extends an environment by `by_ms`, or — where the tier needs approval —
/// opens an approval request (whoever asks: nobody approves their own).
pub async fn extend(state: &AppState, meta: &RequestMeta, id: &str, by_ms: i64) -> Result<Extended, AppError> {
    let env = load_visible(state, meta, id, Action::OperateEnvironments).await?;
    let policy = state.settings.tiers.get(tier_of(&env)?);
    if !policy.extension.needs_approval {
        let event = Event::Extend { by_ms, approved: false };
        return act(state, meta, id, event, "environment.extend").await.map(|e| Extended::Moved(Box::new(e)));
    }
    let ask = super::approvals::Ask { kind: ApprovalKind::Extend, asked_ms: Some(by_ms), reason: None };
    let (approval, _) = super::approvals::request(state, meta, id, ask).await?;
    Ok(Extended::ApprovalRequested(Box::new(approval)))
}

/// What a destroy did.
#[derive(Clone, Debug)]
pub enum Destroyed {
    /// On its way out (snapshot or teardown queued).
    Started(Box<Environment>),
    /// The tier destroys only on an approved request: the open one.
    ApprovalRequested(Box<store::approvals::Approval>),
}

/// Destroys an environment under its tier's destroy rule: any member, the
/// team's manager (or a platform admin), or an approved request.
pub async fn destroy(state: &AppState, meta: &RequestMeta, id: &str) -> Result<Destroyed, AppError> {
    use crate::domain::approval::{destroy_path, DestroyPath, DestroyRule};
    let viewer = meta.viewer.clone().ok_or(AppError::Unauthorized)?;
    let env = load_visible(state, meta, id, Action::OperateEnvironments).await?;
    let tier = tier_of(&env)?;
    let policy = state.settings.tiers.get(tier);
    if policy.destroy == DestroyRule::Manager && !may_manage(&viewer, &env.team_id) {
        let rule = policy.destroy.describe(tier.label());
        authz::audit_denial(state, meta, Action::OperateEnvironments, Some(&env.team_id), &rule).await;
        return Err(AppError::Refused(rule));
    }
    let current: EnvState = stored(&env.state, "state", &env.id)?;
    if current == EnvState::Expiring {
        if let Some(resumed) = resume_way_out(state, meta, &env, policy).await? {
            return Ok(Destroyed::Started(Box::new(resumed)));
        }
    }
    match destroy_path(policy, current) {
        DestroyPath::Now => act(state, meta, id, Event::DestroyRequested, "environment.destroy")
            .await
            .map(|e| Destroyed::Started(Box::new(e))),
        DestroyPath::Ask => {
            let ask = super::approvals::Ask { kind: ApprovalKind::Destroy, asked_ms: None, reason: None };
            let (approval, _) = super::approvals::request(state, meta, id, ask).await?;
            Ok(Destroyed::ApprovalRequested(Box::new(approval)))
        }
    }
}

/// Destroy on an environment stuck on its way out — `expiring` with no
/// snapshot or teardown queued or running and no request waiting on the
/// approvers (a job lost to a crash before it was recorded): queues the
/// tier's way out again (snapshot first where the tier keeps one), audited.
/// `None` when it is not stuck (the work under way goes on).
async fn resume_way_out(
    state: &AppState,
    meta: &RequestMeta,
    env: &Environment,
    policy: &crate::domain::tier::TierPolicy,
) -> Result<Option<Environment>, AppError> {
    let now = now_ms();
    let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
    let work: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE environment_id = $1 AND finished_at IS NULL AND kind IN ('snapshot', 'teardown')",
    )
    .bind(&env.id)
    .fetch_one(&mut *tx)
    .await
    .map_err(internal("reading jobs"))?;
    let waiting = store::approvals::open_for(&mut *tx, &env.id).await.map_err(internal("reading approvals"))?;
    let fresh = store::environments::find(&mut *tx, &env.id).await.map_err(internal("loading an environment"))?;
    if work > 0 || !waiting.is_empty() || fresh.is_none_or(|v| v.env.state != EnvState::Expiring.as_str()) {
        return Ok(None);
    }
    let kind = match policy.at_ttl {
        crate::domain::tier::AtTtl::SnapshotThenDestroy | crate::domain::tier::AtTtl::SoftDestroy => "snapshot",
        _ => "teardown",
    };
    store::jobs::enqueue(&mut *tx, &new_id(), kind, Some(&env.id), now).await.map_err(internal("enqueueing a job"))?;
    let mut event =
        AuditEvent::from_request(meta, "environment.destroy", "environment", Some(env.id.clone()), Outcome::Success)
            .with_detail(serde_json::json!({ "resumed": kind }));
    event.team_id = Some(env.team_id.clone());
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a destroy"))?;
    tx.commit().await.map_err(internal("committing a destroy"))?;
    state.work.notify_one();
    Ok(Some(env.clone()))
}

/// The team's manager or a platform admin.
pub fn may_manage(viewer: &crate::domain::access::Viewer, team_id: &str) -> bool {
    viewer.is_platform_admin
        || viewer.memberships.iter().any(|m| m.team_id == team_id && m.role == crate::domain::access::TeamRole::Manager)
}

/// Most characters a rating comment keeps.
pub const MAX_COMMENT: usize = 1_000;

/// Records (or replaces) the caller's 1–5 satisfaction rating of a destroyed
/// environment, for the ROI dashboard.
pub async fn rate(
    state: &AppState,
    meta: &RequestMeta,
    id: &str,
    score: i64,
    comment: Option<String>,
) -> Result<(), AppError> {
    let viewer = meta.viewer.clone().ok_or(AppError::Unauthorized)?;
    if !(1..=5).contains(&score) {
        return Err(AppError::invalid("score", "rate from 1 to 5"));
    }
    let comment = comment.map(|c| c.trim().to_string()).filter(|c| !c.is_empty());
    if comment.as_ref().is_some_and(|c| c.chars().count() > MAX_COMMENT) {
        return Err(AppError::invalid("comment", format!("at most {MAX_COMMENT} characters")));
    }
    let env = load_visible(state, meta, id, Action::OperateEnvironments).await?;
    if env.state != EnvState::Destroyed.as_str() {
        return Err(AppError::Conflict("rate an environment once it is destroyed".into()));
    }
    let now = now_ms();
    let mut tx = state.db.pool().begin().await.map_err(internal("starting a transaction"))?;
    sqlx::query(
        "INSERT INTO ratings (environment_id, user_id, score, comment, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (environment_id, user_id) DO UPDATE SET score = excluded.score, comment = excluded.comment, created_at = excluded.created_at",
    )
    .bind(&env.id)
    .bind(&viewer.user_id)
    .bind(score)
    .bind(&comment)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(internal("recording a rating"))?;
    let mut event =
        AuditEvent::from_request(meta, "environment.rate", "environment", Some(env.id.clone()), Outcome::Success)
            .with_detail(serde_json::json!({ "score": score, "comment": comment.is_some() }));
    event.team_id = Some(env.team_id.clone());
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a rating"))?;
    tx.commit().await.map_err(internal("committing a rating"))?;
    Ok(())
}
