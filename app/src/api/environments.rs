//! Server functions of the developer's journey: the Environments list
//! (filtered, paged), one environment's detail, and its actions.

use crate::domain::health::Health;
use crate::domain::lifecycle::EnvState;
use crate::domain::listing::ListQuery;
use crate::domain::money::Micros;
use crate::domain::tier::Tier;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of the Environments page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentRow {
    pub id: String,
    pub name: String,
    pub app: String,
    pub team: String,
    pub tier: Tier,
    pub state: EnvState,
    /// What the health probes say, beside the lifecycle state.
    pub health: Health,
    pub owner: Option<String>,
    pub git_ref: Option<String>,
    pub pr_number: Option<i64>,
    /// The pull request's page (from its webhook), if known.
    pub pr_url: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    /// Set while the environment can be reached.
    pub url: Option<String>,
}

/// One page of the list. `now` is the server's clock at read time so the
/// server render and the browser compute the same ages and countdowns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentList {
    pub now: i64,
    pub rows: Vec<EnvironmentRow>,
    /// How many match the filters (all pages).
    pub total: i64,
    /// The previous and next pages' queries, if there are such pages.
    pub prev: Option<ListQuery>,
    pub next: Option<ListQuery>,
    /// How many of the viewer's running environments are unhealthy (any filter).
    pub unhealthy: i64,
    pub query: ListQuery,
    /// Teams and apps the viewer can filter by (slugs).
    pub teams: Vec<String>,
    pub apps: Vec<String>,
}

#[server(prefix = "/api/fn", endpoint = "list_environments")]
pub async fn list_environments(query: ListQuery) -> Result<EnvironmentList, AppError> {
    crate::ssr::with_status(list_environments_inner(query).await)
}

#[cfg(feature = "ssr")]
fn parse_row(
    e: crate::ssr::store::environments::Listed,
    state: &crate::ssr::AppState,
) -> Result<EnvironmentRow, AppError> {
    use crate::ssr::environments::stored;
    let tier: Tier = stored(&e.tier, "tier", &e.id)?;
    let env_state: EnvState = stored(&e.state, "state", &e.id)?;
    let health: Health = stored(&e.health, "health", &e.id)?;
    Ok(EnvironmentRow {
        health,
        url: env_state.is_reachable().then(|| state.settings.preview_urls.url_for(&e.name)),
        id: e.id,
        name: e.name,
        app: e.app_slug,
        team: e.team_slug,
        tier,
        state: env_state,
        owner: e.owner_login,
        git_ref: e.git_ref,
        pr_number: e.pr_number,
        pr_url: e.pr_url,
        created_at: e.created_at,
        expires_at: e.expires_at,
    })
}

#[cfg(feature = "ssr")]
async fn list_environments_inner(query: ListQuery) -> Result<EnvironmentList, AppError> {
    use crate::ssr::{
        clock::now_ms,
        context::{app_state, require_viewer},
        internal, store,
    };
    let viewer = require_viewer()?;
    let state = app_state()?;
    let pool = state.db.pool();
    let page = store::environments::list_page(pool, &viewer, &query, crate::domain::listing::PAGE_SIZE, false)
        .await
        .map_err(internal("listing environments"))?;
    // Counts are shared by everyone who sees the same: a platform admin sees all.
    let scope = if viewer.is_platform_admin { "*" } else { viewer.user_id.as_str() };
    let filters = (query.state, &query.team, &query.app, query.tier, &query.search);
    let total = state
        .db
        .recent_count(
            format!("matching|{scope}|{filters:?}"),
            store::environments::count_matching(pool, &viewer, &query),
        )
        .await
        .map_err(internal("counting environments"))?;
    let rows = page.rows.into_iter().map(|e| parse_row(e, &state)).collect::<Result<Vec<_>, AppError>>()?;
    let (teams, apps) = visible_teams_and_apps(&viewer).await?;
    let unhealthy = state
        .db
        .recent_count(format!("unhealthy|{scope}"), store::environments::count_unhealthy(pool, &viewer))
        .await
        .map_err(internal("counting unhealthy environments"))?;
    Ok(EnvironmentList {
        now: now_ms(),
        rows,
        total,
        prev: page.prev.map(|k| query.first_page().with_cursor(None, Some(k))),
        next: page.next.map(|k| query.first_page().with_cursor(Some(k), None)),
        unhealthy,
        query,
        teams: teams.into_iter().map(|(_, slug)| slug).collect(),
        apps: apps.into_iter().map(|a| a.slug).collect::<std::collections::BTreeSet<_>>().into_iter().collect(),
    })
}

/// The teams (id, slug) and apps the viewer works with (all for platform admins).
#[cfg(feature = "ssr")]
async fn visible_teams_and_apps(
    viewer: &crate::domain::access::Viewer,
) -> Result<(Vec<(String, String)>, Vec<crate::ssr::store::apps::App>), AppError> {
    use crate::ssr::{context::app_state, internal};
    let state = app_state()?;
    let catalog = state.db.catalog().await.map_err(internal("reading teams and apps"))?;
    let teams: Vec<(String, String)> =
        catalog.teams.iter().filter(|t| viewer.can_see_team(&t.id)).map(|t| (t.id.clone(), t.slug.clone())).collect();
    let apps = catalog.apps.iter().filter(|a| viewer.can_see_team(&a.team_id)).cloned().collect();
    Ok((teams, apps))
}

/// An app a preview can be made of, with its hourly rate per preview tier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppChoice {
    pub slug: String,
    pub name: String,
    pub team: String,
    pub rates: Vec<(Tier, Micros)>,
}

/// What a preview tier does, for the New-preview panel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierChoice {
    pub tier: Tier,
    pub ttl_ms: Option<i64>,
    pub at_ttl: String,
    pub needs_approval_to_extend: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewChoices {
    pub apps: Vec<AppChoice>,
    /// Index into `apps` of the default: the app of the viewer's latest environment.
    pub default_app: Option<usize>,
    pub tiers: Vec<TierChoice>,
}

impl PreviewChoices {
    /// Estimated cost of a preview of `app` on `tier` kept for its whole TTL.
    pub fn estimate(&self, app: usize, tier: Tier) -> Option<Micros> {
        let rate = self.apps.get(app)?.rates.iter().find(|(t, _)| *t == tier)?.1;
        let ttl = self.tiers.iter().find(|t| t.tier == tier)?.ttl_ms?;
        Some(crate::domain::cost::interval_cost(rate.0, 0, ttl))
    }
}

#[server(prefix = "/api/fn", endpoint = "preview_options")]
pub async fn preview_options() -> Result<PreviewChoices, AppError> {
    crate::ssr::with_status(preview_options_inner().await)
}

#[cfg(feature = "ssr")]
async fn preview_options_inner() -> Result<PreviewChoices, AppError> {
    use crate::domain::blueprint::Blueprint;
    use crate::ssr::{
        context::{app_state, require_viewer},
        internal,
    };
    let viewer = require_viewer()?;
    let state = app_state()?;
    let (teams, apps) = visible_teams_and_apps(&viewer).await?;
    let catalog = state.db.catalog().await.map_err(internal("reading apps"))?;
    let previews: Vec<Tier> = Tier::ALL.into_iter().filter(|t| t.is_preview()).collect();
    let latest: Option<String> =
        sqlx::query_scalar("SELECT app_id FROM environments WHERE owner_id = $1 ORDER BY created_at DESC LIMIT 1")
            .bind(&viewer.user_id)
            .fetch_optional(state.db.pool())
            .await
            .map_err(internal("finding the latest app"))?;
    let default_app = latest.and_then(|id| apps.iter().position(|a| a.id == id)).or((!apps.is_empty()).then_some(0));
    let choices = apps
        .iter()
        .map(|a| {
            // An app with a broken blueprint is still listed; creating it says why it fails.
            let fallback = Blueprint::default();
            let bp = catalog.blueprints.get(&a.id).unwrap_or(&fallback);
            AppChoice {
                slug: a.slug.clone(),
                name: a.name.clone(),
                team: teams.iter().find(|(id, _)| *id == a.team_id).map(|(_, s)| s.clone()).unwrap_or_default(),
                rates: previews.iter().map(|t| (*t, bp.hourly_rate(*t))).collect(),
            }
        })
        .collect();
    let tiers = previews
        .iter()
        .map(|t| {
            let p = state.settings.tiers.get(*t);
            TierChoice {
                tier: *t,
                ttl_ms: p.ttl_ms,
                at_ttl: p.at_ttl.describe().to_string(),
                needs_approval_to_extend: p.extension.needs_approval,
            }
        })
        .collect();
    Ok(PreviewChoices { apps: choices, default_app, tiers })
}

/// A preview that was just asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedPreview {
    pub id: String,
    pub name: String,
    pub state: EnvState,
    /// The budget gate's warning (a `warn` tier over budget).
    pub budget_warning: Option<String>,
    /// The pull request had a live environment already: this is it.
    pub existing: bool,
}

/// New preview: `branch` or `pr_number` (branch `main` when neither is given).
#[server(prefix = "/api/fn", endpoint = "new_preview")]
pub async fn new_preview(
    app: String,
    team: Option<String>,
    branch: Option<String>,
    pr_number: Option<u64>,
    tier: Option<Tier>,
) -> Result<CreatedPreview, AppError> {
    crate::ssr::with_status(new_preview_inner(app, team, branch, pr_number, tier).await)
}

#[cfg(feature = "ssr")]
async fn new_preview_inner(
    app: String,
    team: Option<String>,
    branch: Option<String>,
    pr_number: Option<u64>,
    tier: Option<Tier>,
) -> Result<CreatedPreview, AppError> {
    use crate::ssr::context::{app_state, request_meta};
    let state = app_state()?;
    let meta = request_meta();
    let branch = branch.map(|b| b.trim().to_string()).filter(|b| !b.is_empty());
    let branch = if pr_number.is_none() && branch.is_none() { Some("main".to_string()) } else { branch };
    let new = crate::ssr::environments::NewEnvironment {
        app,
        team: team.filter(|t| !t.trim().is_empty()),
        branch,
        pr_number,
        tier: tier.unwrap_or(Tier::PreviewLightweight),
    };
    let created = crate::ssr::environments::create_noting_budget(&state, &meta, new).await?;
    Ok(CreatedPreview {
        state: created.env.state.parse().unwrap_or(EnvState::Pending),
        id: created.env.id,
        name: created.env.name,
        budget_warning: created.budget_warning,
        existing: created.existing,
    })
}

/// A line of an environment's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub outcome: String,
}

/// A priced resource and what it has cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceLine {
    pub kind: String,
    pub state: String,
    pub hourly_rate: Micros,
    pub cost: Micros,
}

/// A creation's measured wait, from the request reaching the portal to ready.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitLine {
    /// `None` while it is still on its way to ready (or never got there).
    pub wait_ms: Option<i64>,
    /// `pool` or `cold`.
    pub path: String,
    /// `ui`, `api` or `webhook`.
    pub via: String,
    /// Invented by the demo seed, not measured.
    pub demo: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentView {
    pub now: i64,
    pub row: EnvironmentRow,
    pub ready_at: Option<i64>,
    /// The requester's measured click-to-ready wait (`None`: nobody asked
    /// for it — a pool fill, a long-lived environment, demo history).
    pub wait: Option<WaitLine>,
    pub destroyed_at: Option<i64>,
    pub failure: Option<String>,
    /// The commit (full SHA) its code was checked out at, once resolved.
    pub commit_sha: Option<String>,
    pub from_pool: bool,
    pub at_ttl: String,
    pub extension_step_hours: i64,
    pub extension_needs_approval: bool,
    /// Latest expiry the tier allows (maximum lifetime).
    pub latest_expiry: Option<i64>,
    pub resources: Vec<ResourceLine>,
    /// The team's cost so far (pool waiting time is the platform's).
    pub cost_so_far: Micros,
    /// Cost if it runs until its current expiry.
    pub projected: Option<Micros>,
    pub timeline: Vec<TimelineEntry>,
    pub log_tail: Option<String>,
    pub snapshots: Vec<String>,
    pub my_rating: Option<i64>,
    /// Marked shared: its cost is a shared cost allocated across teams.
    pub shared: bool,
    /// The viewer may mark it shared (platform admins).
    pub can_mark_shared: bool,
    /// Its approval requests (open first), as the viewer may see them.
    pub approvals: Vec<crate::api::approvals::ApprovalItem>,
    /// The tier's destroy rule in words, when it is more than "any member".
    pub destroy_rule: Option<String>,
    /// Destroy opens an approval request (compliance, production) rather than starting now.
    pub destroy_by_request: bool,
    /// The viewer's role passes the tier's destroy rule.
    pub may_destroy: bool,
    /// The tier's deployment strategy (`recreate`, `rolling`, `blue-green`).
    pub strategy: String,
    /// The viewer operates its team's environments: the Redeploy form is
    /// shown (a permission, so the page keeps its shape while the state moves).
    pub may_operate: bool,
    /// Redeploy is enabled: it runs and no deployment is under way.
    pub can_deploy: bool,
    /// Its deployments, newest first.
    pub deployments: Vec<DeploymentLine>,
}

/// One deployment as the environment page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentLine {
    pub id: String,
    pub commit_sha: String,
    pub git_ref: Option<String>,
    pub strategy: String,
    pub state: String,
    /// The requester's login; `None`: the portal.
    pub requested_by: Option<String>,
    pub reason: Option<String>,
    pub created_at: i64,
    pub ready_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub rollback_until: Option<i64>,
    /// It serves now, is blue-green and its window is open.
    pub can_roll_back: bool,
}

#[server(prefix = "/api/fn", endpoint = "environment_detail")]
pub async fn environment_detail(id: String) -> Result<EnvironmentView, AppError> {
    crate::ssr::with_status(environment_detail_inner(id).await)
}

#[cfg(feature = "ssr")]
async fn environment_detail_inner(id: String) -> Result<EnvironmentView, AppError> {
    use crate::domain::authz::Action;
    use crate::ssr::{
        clock::now_ms,
        context::{app_state, request_meta, require_viewer},
        environments::load_visible,
        internal, store,
    };
    let viewer = require_viewer()?;
    let state = app_state()?;
    let meta = request_meta();
    let env = load_visible(&state, &meta, &id, Action::ViewEnvironments).await?;
    let pool = state.db.pool();
    let now = now_ms();
    let listed = store::environments::listed_by_id(pool, &id)
        .await
        .map_err(internal("loading an environment"))?
        .ok_or(AppError::NotFound)?;
    let row = parse_row(listed, &state)?;
    let policy = state.settings.tiers.get(row.tier);
    // The team pays from the claim for pool members; the wait was the platform's.
    let team_start = env.claimed_at.unwrap_or(i64::MIN);
    // Priced by the price book, as the Costs page and the exports price it.
    let book = crate::ssr::costs::price_book(&state.db).await?;
    let tier = row.tier;
    let stored_resources = store::resources::for_environment(pool, &id).await.map_err(internal("loading resources"))?;
    let resources: Vec<ResourceLine> = stored_resources
        .iter()
        .map(|r| {
            let recorded = Micros(r.hourly_rate_micros);
            let cost = match r.started_at {
                Some(start) => book.cost(tier, &r.kind, recorded, start.max(team_start), r.ended_at.unwrap_or(now)),
                None => Micros::ZERO,
            };
            let hourly_rate = book.rate_at(tier, &r.kind, recorded, r.ended_at.map_or(now, |e| e - 1));
            ResourceLine { kind: r.kind.clone(), state: r.state.clone(), hourly_rate, cost }
        })
        .collect();
    let cost_so_far: Micros = resources.iter().map(|r| r.cost).sum();
    let projected = match (row.state.is_live(), env.expires_at) {
        (true, Some(exp)) => Some(
            cost_so_far
                + stored_resources
                    .iter()
                    .filter(|r| r.state != "deleted")
                    .map(|r| book.cost(tier, &r.kind, Micros(r.hourly_rate_micros), now.max(team_start), exp))
                    .sum::<Micros>(),
        ),
        _ => None,
    };
    let shared = crate::ssr::costs::is_shared(&state.db, &id).await?;
    let timeline = store::audit::for_target(pool, &id, 100)
        .await
        .map_err(internal("loading the timeline"))?
        .into_iter()
        .map(|e| TimelineEntry { at: e.at, actor: e.actor_label, action: e.action, outcome: e.outcome })
        .collect();
    let log_tail = match &state.runtime {
        Some(rt) => rt.log_tail(&id, 8_192).await,
        None => None,
    };
    let snapshots = match &state.runtime {
        Some(rt) => rt.snapshots(&row.name).await,
        None => vec![],
    };
    let approvals = crate::ssr::approvals::for_environment(&state, &viewer, &id, now).await?;
    let destroy_by_request =
        crate::domain::approval::destroy_path(policy, row.state) == crate::domain::approval::DestroyPath::Ask;
    let destroy_rule = (policy.destroy != crate::domain::approval::DestroyRule::Member)
        .then(|| policy.destroy.describe(row.tier.label()));
    let may_destroy = policy.destroy != crate::domain::approval::DestroyRule::Manager
        || crate::ssr::environments::may_manage(&viewer, &env.team_id);
    let my_rating: Option<i64> =
        sqlx::query_scalar("SELECT score FROM ratings WHERE environment_id = $1 AND user_id = $2")
            .bind(&id)
            .bind(&viewer.user_id)
            .fetch_optional(pool)
            .await
            .map_err(internal("loading a rating"))?;
    let wait = crate::ssr::store::measurements::for_environment(pool, &id)
        .await
        .map_err(internal("loading a wait"))?
        .map(|(wait_ms, path, via, demo)| WaitLine { wait_ms, path, via, demo: demo != 0 });
    let listed = crate::ssr::deployments::list(&state, &meta, &id).await?;
    let serving =
        listed.iter().filter(|l| l.d.state == "succeeded").max_by_key(|l| l.d.ready_at).map(|l| l.d.id.clone());
    let busy = listed.iter().any(|l| l.d.state == "queued" || l.d.state == "deploying");
    // Asked, not required: a reader without the right is not a denial to audit.
    let may_operate = crate::domain::authz::decide(&viewer, Action::OperateEnvironments, Some(&env.team_id))
        == crate::domain::authz::Decision::Allow;
    let deployments = listed
        .into_iter()
        .map(|l| {
            let d = l.d;
            let can_roll_back = may_operate
                && !busy
                && serving.as_deref() == Some(d.id.as_str())
                && d.strategy == "blue-green"
                && d.rollback_until.is_some_and(|u| now < u);
            DeploymentLine {
                id: d.id,
                commit_sha: d.commit_sha,
                git_ref: d.git_ref,
                strategy: d.strategy,
                state: d.state,
                requested_by: l.requested_by_login,
                reason: d.reason,
                created_at: d.created_at,
                ready_at: d.ready_at,
                finished_at: d.finished_at,
                rollback_until: d.rollback_until,
                can_roll_back,
            }
        })
        .collect();
    let can_deploy = may_operate && matches!(row.state, EnvState::Active | EnvState::Idle) && !busy;
    Ok(EnvironmentView {
        strategy: policy.strategy.as_str().to_string(),
        may_operate,
        can_deploy,
        deployments,
        now,
        ready_at: env.ready_at,
        wait,
        destroyed_at: env.destroyed_at,
        failure: env.failure_reason.clone(),
        commit_sha: env.commit_sha.clone(),
        from_pool: env.claimed_at.is_some(),
        at_ttl: policy.at_ttl.describe().to_string(),
        extension_step_hours: policy.extension.step_ms / crate::domain::time::HOUR_MS,
        extension_needs_approval: policy.extension.needs_approval,
        latest_expiry: policy.ttl_ms.map(|_| env.created_at.saturating_add(policy.extension.max_lifetime_ms)),
        resources,
        cost_so_far,
        projected,
        timeline,
        log_tail,
        snapshots,
        my_rating,
        shared,
        can_mark_shared: viewer.is_platform_admin,
        approvals,
        destroy_rule,
        destroy_by_request,
        may_destroy,
        row,
    })
}

/// What an Extend click did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExtendOutcome {
    NewExpiry(Option<i64>),
    ApprovalRequested,
}

#[server(prefix = "/api/fn", endpoint = "extend_environment")]
pub async fn extend_environment(id: String, hours: i64) -> Result<ExtendOutcome, AppError> {
    crate::ssr::with_status(extend_inner(id, hours).await)
}

#[cfg(feature = "ssr")]
async fn extend_inner(id: String, hours: i64) -> Result<ExtendOutcome, AppError> {
    use crate::ssr::context::{app_state, request_meta};
    use crate::ssr::environments::{extend, Extended};
    if !(1..=24 * 30).contains(&hours) {
        return Err(AppError::invalid("hours", "give a whole number of hours"));
    }
    let state = app_state()?;
    match extend(&state, &request_meta(), &id, hours * crate::domain::time::HOUR_MS).await? {
        Extended::Moved(env) => Ok(ExtendOutcome::NewExpiry(env.expires_at)),
        Extended::ApprovalRequested(_) => Ok(ExtendOutcome::ApprovalRequested),
    }
}

/// What a Destroy click did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DestroyOutcome {
    Started,
    /// The tier destroys on an approved request: it waits in the queue.
    ApprovalRequested,
}

#[server(prefix = "/api/fn", endpoint = "destroy_environment")]
pub async fn destroy_environment(id: String) -> Result<DestroyOutcome, AppError> {
    crate::ssr::with_status(destroy_inner(id).await)
}

#[cfg(feature = "ssr")]
async fn destroy_inner(id: String) -> Result<DestroyOutcome, AppError> {
    use crate::ssr::context::{app_state, request_meta};
    use crate::ssr::environments::{destroy, Destroyed};
    let state = app_state()?;
    Ok(match destroy(&state, &request_meta(), &id).await? {
        Destroyed::Started(_) => DestroyOutcome::Started,
        Destroyed::ApprovalRequested(_) => DestroyOutcome::ApprovalRequested,
    })
}

/// Redeploy: the environment's own branch as it is now, or a given ref or
/// commit, by the tier's strategy. Returns the deployment's id.
#[server(prefix = "/api/fn", endpoint = "deploy_environment")]
pub async fn deploy_environment(
    id: String,
    commit_sha: Option<String>,
    git_ref: Option<String>,
) -> Result<String, AppError> {
    crate::ssr::with_status(
        async move {
            use crate::ssr::context::{app_state, request_meta};
            let wanting = crate::ssr::deployments::Wanting { commit_sha, git_ref };
            let d = crate::ssr::deployments::deploy(&app_state()?, &request_meta(), &id, wanting).await?;
            Ok(d.id)
        }
        .await,
    )
}

/// Rolls a blue-green deployment back (its window open).
#[server(prefix = "/api/fn", endpoint = "rollback_deployment")]
pub async fn rollback_deployment(id: String, deployment: String) -> Result<(), AppError> {
    crate::ssr::with_status(
        async move {
            use crate::ssr::context::{app_state, request_meta};
            crate::ssr::deployments::rollback(&app_state()?, &request_meta(), &id, &deployment).await.map(|_| ())
        }
        .await,
    )
}

#[server(prefix = "/api/fn", endpoint = "rate_environment")]
pub async fn rate_environment(id: String, score: i64, comment: Option<String>) -> Result<(), AppError> {
    crate::ssr::with_status(rate_inner(id, score, comment).await)
}

#[cfg(feature = "ssr")]
async fn rate_inner(id: String, score: i64, comment: Option<String>) -> Result<(), AppError> {
    use crate::ssr::context::{app_state, request_meta};
    let state = app_state()?;
    crate::ssr::environments::rate(&state, &request_meta(), &id, score, comment).await
}
