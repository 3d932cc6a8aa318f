//! Pull-request webhooks as a service. A delivery whose signature held is
//! logged, audited and its work queued in one transaction — a redelivery
//! collides on the log's unique key there and does nothing. The queued job
//! keeps the pull request's newest facts and converges its preview on them
//! through the environments' one write path, acting as the provider's
//! service account (a developer of the app's team, nothing more).

use super::clock::{new_id, now_ms};
use super::environments::{self, Created, Fallback, NewEnvironment};
use super::store::{self, audit::AuditEvent, webhooks::Delivery};
use super::{internal, AppState, RequestMeta};
use crate::domain::access::{Membership, TeamRole, Viewer};
use crate::domain::blueprint::Blueprint;
use crate::domain::lifecycle::EnvState;
use crate::domain::measure::Via;
use crate::domain::pull_request::{self as pr, Parsed, Provider, PullRequest, PullRequestEvent, Step};
use crate::error::AppError;

/// The job kind that processes a delivery.
pub const JOB_KIND: &str = "pull_request";
/// How long a converge waits for a starting preview before deploying a
/// newer head to it: polls every few seconds, up to a build's longest time.
const WAIT_STEP_MS: i64 = 3_000;
const MAX_WAITS: i64 = 400;

/// What the signature check at the HTTP edge found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signature {
    Valid,
    Invalid,
    Missing,
    /// No secret is configured for the provider: nothing is trusted.
    NotConfigured,
    /// Not read: the body is over [`MAX_BODY`].
    TooLarge,
}

impl Signature {
    fn as_str(self) -> &'static str {
        match self {
            Signature::Valid => "valid",
            Signature::Invalid => "invalid",
            Signature::Missing => "missing",
            Signature::NotConfigured => "not-configured",
            Signature::TooLarge => "unchecked",
        }
    }
}

/// A delivery as the HTTP edge received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub provider: Provider,
    pub delivery_id: Option<String>,
    pub event: Option<String>,
    pub signature: Signature,
    pub body: Vec<u8>,
}

/// The answer to a delivery: its HTTP status, what it came to, and the log row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub message: String,
    pub delivery: String,
}

/// The largest body read (GitHub caps its payloads at 25 MB).
pub const MAX_BODY: usize = 25 * 1024 * 1024;

/// The names a provider's refusals point at.
struct Headers {
    signature: &'static str,
    delivery: &'static str,
    event: &'static str,
    setting: &'static str,
    /// What a signature that does not match may also be.
    mismatch: &'static str,
}

impl Headers {
    fn of(provider: Provider) -> Headers {
        match provider {
            Provider::Github => Headers {
                signature: "X-Hub-Signature-256",
                delivery: "X-GitHub-Delivery",
                event: "X-GitHub-Event",
                setting: "EOD_GITHUB_WEBHOOK_SECRET",
                mismatch: "expected sha256=<hex HMAC-SHA256 of the body>",
            },
            Provider::Gitlab => Headers {
                signature: "X-Gitlab-Token (or webhook-signature)",
                delivery: "Idempotency-Key (or X-Gitlab-Event-UUID)",
                event: "X-Gitlab-Event",
                setting: "EOD_GITLAB_WEBHOOK_SECRET",
                mismatch: "or its webhook-timestamp is over 5 minutes old",
            },
        }
    }
}

/// The longest delivery id kept (GitHub's are UUIDs).
const MAX_DELIVERY_ID: usize = 200;

/// Logs a delivery and, when it is a good pull-request event for an app,
/// queues its work — in one transaction, once per delivery id.
pub async fn receive(state: &AppState, r: Received) -> Result<Answer, AppError> {
    let now = now_ms();
    let mut row = Delivery {
        id: new_id(),
        provider: r.provider.as_str().into(),
        delivery_id: r.delivery_id.clone().filter(|d| d.len() <= MAX_DELIVERY_ID),
        dedup_key: None,
        event: r.event.clone().map(|e| e.chars().take(100).collect()),
        action: None,
        repository: None,
        pr_number: None,
        signature: r.signature.as_str().into(),
        status: 0,
        outcome: String::new(),
        app_id: None,
        environment_id: None,
        body: None,
        received_at: now,
        processed_at: None,
    };
    let refuse = |status: u16, message: String| (status, message);
    let h = Headers::of(r.provider);
    let verdict = match r.signature {
        Signature::NotConfigured => Err(refuse(
            401,
            format!("webhooks from {} are not configured here ({} is not set)", r.provider.as_str(), h.setting),
        )),
        Signature::Missing => Err(refuse(401, format!("the delivery is not signed: {} is missing", h.signature))),
        Signature::TooLarge => Err(refuse(413, "the body is over 25 MB; it was not read".into())),
        Signature::Invalid => {
            Err(refuse(401, format!("{} does not match {} ({})", h.signature, h.setting, h.mismatch)))
        }
        Signature::Valid => Ok(()),
    }
    .and_then(|()| match (&r.delivery_id, &r.event) {
        (None, _) => Err(refuse(400, format!("the delivery has no id: {} is missing", h.delivery))),
        (Some(d), _) if d.is_empty() || d.len() > MAX_DELIVERY_ID => {
            Err(refuse(400, format!("{} is malformed (1 to {MAX_DELIVERY_ID} characters)", h.delivery)))
        }
        (_, None) => Err(refuse(400, format!("the delivery names no event: {} is missing", h.event))),
        _ => Ok(()),
    });
    if let Err((status, message)) = verdict {
        return log_only(state, row, status, message).await;
    }
    // Signed: the body is ours to keep (for Re-run) and to read.
    row.body = Some(String::from_utf8_lossy(&r.body).into_owned());
    let event = r.event.as_deref().unwrap_or_default();
    let parsed = match r.provider {
        Provider::Github => pr::parse_github(event, &r.body),
        Provider::Gitlab => pr::parse_gitlab(event, &r.body),
    };
    let e = match parsed {
        Err(e) => {
            let message = format!("{e} (the webhook must send the JSON body as Content-Type application/json)");
            return log_only(state, row, 400, message).await;
        }
        Ok(Parsed::Ping) => return log_only(state, row, 200, "ping: the hook reaches the portal".into()).await,
        Ok(Parsed::Ignored) => {
            let message = format!("{event} events are not acted on");
            return log_only(state, row, 204, message).await;
        }
        Ok(Parsed::PullRequest(e)) => e,
    };
    row.action = Some(e.action.chars().take(100).collect());
    row.repository = Some(e.repository.chars().take(255).collect());
    row.pr_number = Some(e.pull_request.number as i64);
    let apps = apps_for(state, &e.repository).await?;
    let Some((first, _)) = apps.first() else {
        let message = format!("no app previews the pull requests of {}", e.repository);
        return log_only(state, row, 200, message).await;
    };
    row.app_id = Some(first.id.clone());
    row.dedup_key = row.delivery_id.clone();
    row.status = 202;
    row.outcome = "queued".into();
    let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
    if let Err(err) = store::webhooks::insert(&mut *tx, &row).await {
        drop(tx);
        return match err {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                row.dedup_key = None;
                row.app_id = None;
                let message = "a redelivery of a delivery already received: nothing done".to_string();
                log_only(state, row, 200, message).await
            }
            other => Err(internal("logging a delivery")(other)),
        };
    }
    let mut audit =
        AuditEvent::system("pull_request.delivery", None, Some(first.team_id.clone())).with_detail(serde_json::json!({
            "provider": row.provider, "delivery": row.delivery_id, "action": row.action,
            "repository": row.repository, "pr_number": row.pr_number,
        }));
    audit.actor_label = r.provider.as_str().into();
    audit.target_kind = "webhook_delivery".into();
    audit.target_id = Some(row.id.clone());
    store::audit::append(&mut *tx, &audit).await.map_err(internal("auditing a delivery"))?;
    enqueue(&mut tx, &row.id, 0, now).await?;
    tx.commit().await.map_err(internal("committing a delivery"))?;
    state.work.notify_one();
    Ok(Answer { status: 202, message: "queued".into(), delivery: row.id })
}

async fn enqueue(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    delivery: &str,
    waits: i64,
    run_at: i64,
) -> Result<(), AppError> {
    let payload = serde_json::json!({ "delivery": delivery, "waits": waits });
    let serde_json::Value::Object(payload) = payload else { unreachable!("an object") };
    store::jobs::enqueue_with(&mut **tx, &new_id(), JOB_KIND, None, run_at, payload)
        .await
        .map_err(internal("queueing a delivery's work"))
}

/// Logs a delivery that causes no work (refused, ignored, unmapped, repeated).
async fn log_only(state: &AppState, mut row: Delivery, status: u16, message: String) -> Result<Answer, AppError> {
    row.status = i64::from(status);
    row.outcome = message.clone();
    row.processed_at = Some(row.received_at);
    store::webhooks::insert(state.db.pool(), &row).await.map_err(internal("logging a delivery"))?;
    if status >= 400 {
        tracing::warn!(provider = %row.provider, delivery = ?row.delivery_id, status, %message, "webhook delivery refused");
    }
    Ok(Answer { status, message, delivery: row.id })
}

/// The apps (not archived) whose blueprint previews `repository`'s pull
/// requests, with their policy.
async fn apps_for(
    state: &AppState,
    repository: &str,
) -> Result<Vec<(store::apps::App, pr::PullRequestPolicy)>, AppError> {
    let apps = store::apps::list(state.db.pool()).await.map_err(internal("listing apps"))?;
    Ok(apps
        .into_iter()
        .filter(|a| a.archived_at.is_none())
        .filter_map(|a| {
            let policy = Blueprint::parse(&a.blueprint).ok()?.pull_requests?;
            policy.is_for(repository).then_some((a, policy))
        })
        .collect())
}

/// The provider's service account: a user row made once, acting as a
/// developer of exactly the app's team.
async fn service_account(state: &AppState, provider: Provider, team_id: &str) -> Result<Viewer, AppError> {
    let subject = provider.as_str();
    let pool = state.db.pool();
    let found =
        store::users::find_by_identity(pool, "eod:webhooks", subject).await.map_err(internal("finding a user"))?;
    let user = match found {
        Some(u) => u,
        None => {
            let u = store::users::User {
                id: new_id(),
                issuer: "eod:webhooks".into(),
                subject: subject.into(),
                login: format!("{subject}-pull-requests"),
                display_name: format!(
                    "{} pull requests",
                    if provider == Provider::Github { "GitHub" } else { "GitLab" }
                ),
                email: None,
                is_platform_admin: false,
                created_at: now_ms(),
            };
            match store::users::insert(pool, &u).await {
                Ok(()) => u,
                // Another replica made it meanwhile.
                Err(_) => store::users::find_by_identity(pool, "eod:webhooks", subject)
                    .await
                    .map_err(internal("finding a user"))?
                    .ok_or(AppError::Internal)?,
            }
        }
    };
    let team =
        store::teams::find(pool, team_id).await.map_err(internal("finding a team"))?.ok_or(AppError::Internal)?;
    Ok(Viewer {
        user_id: user.id,
        login: user.login,
        display_name: user.display_name,
        is_platform_admin: false,
        approver_group: false,
        memberships: vec![Membership {
            team_id: team.id,
            team_slug: team.slug,
            team_name: team.name,
            role: TeamRole::Developer,
        }],
    })
}

/// A commit's first 12 hex digits, as the pages show it.
fn short(sha: &str) -> &str {
    &sha[..12.min(sha.len())]
}

/// Runs a delivery's job: keep the pull request's newest facts, then
/// converge each mapped app's preview on them. `Err` asks for a retry.
pub async fn process(state: &AppState, delivery_id: &str, waits: i64) -> Result<(), AppError> {
    let Some(d) = store::webhooks::find(state.db.pool(), delivery_id).await.map_err(internal("reading a delivery"))?
    else {
        return Ok(()); // nothing to do for a row that is not there
    };
    let provider = if d.provider == "gitlab" { Provider::Gitlab } else { Provider::Github };
    let body = d.body.clone().unwrap_or_default();
    let event = d.event.clone().unwrap_or_default();
    let parsed = match provider {
        Provider::Github => pr::parse_github(&event, body.as_bytes()),
        Provider::Gitlab => pr::parse_gitlab(&event, body.as_bytes()),
    };
    let Ok(Parsed::PullRequest(e)) = parsed else {
        return finish(state, &d, "nothing to do: not a pull-request event", None).await;
    };
    let apps = apps_for(state, &e.repository).await?;
    if apps.is_empty() {
        return finish(state, &d, &format!("no app previews the pull requests of {}", e.repository), None).await;
    }
    let mut outcomes = Vec::new();
    let mut touched = None;
    let mut wait = false;
    for (app, policy) in &apps {
        let facts = remember(state, app, provider, &e).await?;
        match converge(state, provider, app, policy, &facts, d.received_at).await {
            Ok((outcome, env, waiting)) => {
                outcomes.push(format!("{}: {outcome}", app.slug));
                touched = touched.or(env);
                wait |= waiting;
            }
            Err(AppError::Internal) => return Err(AppError::Internal),
            Err(err) => outcomes.push(format!("{}: refused: {err}", app.slug)),
        }
    }
    if wait {
        if waits >= MAX_WAITS {
            outcomes.push("gave up waiting for the preview to run".into());
        } else {
            let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
            enqueue(&mut tx, &d.id, waits + 1, now_ms() + WAIT_STEP_MS).await?;
            tx.commit().await.map_err(internal("queueing a wait"))?;
        }
    }
    finish(state, &d, &outcomes.join("; "), touched.as_deref()).await
}

/// The reconciler gave up on a delivery's job (it kept failing inside the
/// portal): its outcome says so, so the log never shows it queued for
/// ever; Re-run queues it again.
pub async fn gave_up(state: &AppState, delivery_id: &str, reason: &str) -> Result<(), AppError> {
    let outcome = format!("failed: the portal gave up after repeated errors ({reason}); Re-run tries again");
    store::webhooks::processed(state.db.pool(), delivery_id, &outcome, (None, None), now_ms())
        .await
        .map_err(internal("recording a delivery's outcome"))
}

async fn finish(state: &AppState, d: &Delivery, outcome: &str, env: Option<&str>) -> Result<(), AppError> {
    store::webhooks::processed(state.db.pool(), &d.id, outcome, (None, env), now_ms())
        .await
        .map_err(internal("recording a delivery's outcome"))
}

/// Stores the event's facts when they are newer than those known, and
/// returns the newest (level-triggered: a late older delivery changes
/// nothing). Serialized per pull request.
async fn remember(
    state: &AppState,
    app: &store::apps::App,
    provider: Provider,
    e: &PullRequestEvent,
) -> Result<PullRequest, AppError> {
    let number = e.pull_request.number as i64;
    let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
    environments::lock_pull_request(state, &mut tx, &app.id, number).await?;
    let known = store::webhooks::pull_request(&mut *tx, &app.id, number)
        .await
        .map_err(internal("reading a pull request"))?
        .and_then(|json| serde_json::from_str::<PullRequest>(&json).ok());
    if !pr::supersedes(known.as_ref(), &e.pull_request) {
        return Ok(known.expect("superseded facts exist"));
    }
    let facts = serde_json::to_string(&e.pull_request).map_err(|_| AppError::Internal)?;
    let p = &e.pull_request;
    // Only a web address becomes a link.
    let url =
        Some(p.url.as_str()).filter(|u| (u.starts_with("https://") || u.starts_with("http://")) && u.len() <= 500);
    let kept = (p.fork, p.updated_at_ms, url);
    store::webhooks::save_pull_request(&mut *tx, (&app.id, number), provider.as_str(), &facts, kept)
        .await
        .map_err(internal("saving a pull request"))?;
    tx.commit().await.map_err(internal("saving a pull request"))?;
    Ok(e.pull_request.clone())
}

/// Steps the pull request's preview towards what its facts ask for.
/// Returns what was done, the environment touched, and whether it must
/// wait for a starting preview before deploying a newer head.
async fn converge(
    state: &AppState,
    provider: Provider,
    app: &store::apps::App,
    policy: &pr::PullRequestPolicy,
    facts: &PullRequest,
    received_at: i64,
) -> Result<(String, Option<String>, bool), AppError> {
    let viewer = service_account(state, provider, &app.team_id).await?;
    let team_slug = viewer.memberships[0].team_slug.clone();
    let account = viewer.user_id.clone();
    let meta = RequestMeta {
        viewer: Some(viewer),
        user_agent: Some(format!("{} webhook", provider.as_str())),
        received_at: Some(received_at),
        via: Via::Webhook,
        ..Default::default()
    };
    let (want, why) = pr::desired(facts, policy);
    let number = facts.number as i64;
    let mut done: Vec<String> = Vec::new();
    let mut touched = None;
    // Each step changes what the next sees; three reach any end (see the
    // domain's property test), the fourth is a guard.
    for _ in 0..4 {
        let current = environments::pull_request_preview(state.db.pool(), &app.id, number).await?;
        let now = current.as_ref().map(|env| pr::Current {
            tier: env.tier.parse().unwrap_or(crate::domain::tier::Tier::PreviewFull),
            commit_sha: env.commit_sha.clone(),
            running: matches!(env.state.parse::<EnvState>(), Ok(EnvState::Ready | EnvState::Active | EnvState::Idle)),
            ours: env.owner_id.as_deref() == Some(account.as_str()),
        });
        match pr::step(want, now.as_ref(), &facts.head_sha) {
            Step::Nothing => {
                if done.is_empty() {
                    done.push(match &current {
                        Some(env) => format!("{} is up to date", env.name),
                        None => format!("no preview ({why})"),
                    });
                }
                return Ok((done.join(", "), touched.or(current.map(|e| e.id)), false));
            }
            Step::WaitUntilRunning => {
                done.push("waiting for the preview to run before deploying the new head".into());
                return Ok((done.join(", "), touched.or(current.map(|e| e.id)), true));
            }
            Step::Create { tier, pool_only } => {
                let new = NewEnvironment {
                    app: app.slug.clone(),
                    team: Some(team_slug.clone()),
                    branch: None,
                    pr_number: Some(facts.number),
                    tier,
                };
                let fallback = if pool_only { Fallback::Refuse } else { Fallback::Cold };
                let Created { env, existing, .. } = environments::create_in(state, &meta, new, None, fallback).await?;
                if existing {
                    touched = Some(env.id);
                    continue; // made meanwhile by another delivery: look again
                }
                // Built from the pull request's head ref as the portal's
                // mirror has it; when that is not the head these facts name,
                // the job comes back to deploy it once the preview runs.
                done.push(format!("created {} ({})", env.name, tier.as_str()));
                let other_head = env.commit_sha.as_deref() != Some(facts.head_sha.as_str());
                let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
                let state_now = if env.state == EnvState::Active.as_str() {
                    pr::ReportState::Ready
                } else {
                    pr::ReportState::Pending
                };
                report(&mut tx, &env, state_now, None, now_ms()).await?;
                tx.commit().await.map_err(internal("queueing a pull request report"))?;
                if other_head {
                    done.push(format!("then deploying the head {} once it runs", short(&facts.head_sha)));
                }
                return Ok((done.join(", "), Some(env.id), other_head));
            }
            Step::Deploy { commit_sha } => {
                let env = current.expect("a deploy has a preview");
                let wanting = super::deployments::Wanting { commit_sha: Some(commit_sha.clone()), git_ref: None };
                match super::deployments::deploy(state, &meta, &env.id, wanting).await {
                    Ok(_) => {}
                    // Another deployment is under way: deploy this head after it.
                    Err(AppError::Conflict(why)) => {
                        done.push(format!("waiting to deploy the new head ({why})"));
                        return Ok((done.join(", "), Some(env.id), true));
                    }
                    Err(other) => return Err(other),
                }
                done.push(format!(
                    "started deploying {} to {} (how it ends: the environment's deployments and the pull request's status)",
                    short(&commit_sha),
                    env.name
                ));
                touched = Some(env.id);
                // The record now names the head: the next look is Nothing.
                return Ok((done.join(", "), touched, false));
            }
            Step::Destroy | Step::Replace => {
                let env = current.expect("a destroy has a preview");
                match environments::destroy(state, &meta, &env.id).await? {
                    environments::Destroyed::Started(_) => done.push(format!("started destroying {}", env.name)),
                    environments::Destroyed::ApprovalRequested(_) => {
                        done.push(format!("asked the approvers to destroy {}", env.name));
                        return Ok((done.join(", "), Some(env.id), false));
                    }
                }
                touched = Some(env.id);
            }
        }
    }
    Ok((done.join(", "), touched, false))
}

/// The teams whose deliveries the viewer reads: every team (`None`) for a
/// platform admin, the teams they manage for a manager; others none.
fn readable_teams(viewer: &Viewer) -> Result<Option<Vec<String>>, AppError> {
    if viewer.is_platform_admin {
        return Ok(None);
    }
    let managed: Vec<String> =
        viewer.memberships.iter().filter(|m| m.role == TeamRole::Manager).map(|m| m.team_id.clone()).collect();
    if managed.is_empty() {
        return Err(AppError::Forbidden);
    }
    Ok(Some(managed))
}

/// The newest deliveries the viewer may read.
pub async fn deliveries(
    state: &AppState,
    meta: &RequestMeta,
    limit: i64,
) -> Result<crate::api::webhooks::DeliveriesPage, AppError> {
    let viewer = meta.viewer.as_ref().ok_or(AppError::Unauthorized)?;
    let teams = readable_teams(viewer)?;
    let rows = store::webhooks::list(state.db.pool(), teams.as_deref(), limit)
        .await
        .map_err(internal("listing deliveries"))?;
    let scope = match &teams {
        None => "all apps".to_string(),
        Some(_) => {
            let slugs: Vec<&str> = viewer
                .memberships
                .iter()
                .filter(|m| m.role == TeamRole::Manager)
                .map(|m| m.team_slug.as_str())
                .collect();
            format!("the apps of {}", slugs.join(", "))
        }
    };
    let rows = rows
        .into_iter()
        .map(|l| {
            let d = l.delivery;
            crate::api::webhooks::DeliveryRow {
                can_rerun: may_rerun(&d),
                id: d.id,
                provider: d.provider,
                delivery_id: d.delivery_id,
                event: d.event,
                action: d.action,
                repository: d.repository,
                pr_number: d.pr_number,
                signature: d.signature,
                status: d.status,
                outcome: d.outcome,
                app: l.app_slug,
                environment_id: d.environment_id,
                environment_name: l.environment_name,
                received_at: d.received_at,
                processed_at: d.processed_at,
            }
        })
        .collect();
    let reports = store::webhooks::reports(state.db.pool(), teams.as_deref(), limit)
        .await
        .map_err(internal("listing reports"))?
        .into_iter()
        .filter_map(|r| {
            let wanted: WantedReport = serde_json::from_str(&r.report).ok()?;
            Some(crate::api::webhooks::ReportRow {
                repository: r.repository,
                pr_number: r.number,
                state: format!("{:?}", wanted.state).to_lowercase(),
                environment_id: wanted.env_id,
                environment_name: wanted.env_name,
                sent: r.sent_version == r.version && r.last_error.is_none(),
                attempts: r.attempts,
                last_error: r.last_error,
                sent_at: r.sent_at,
                next_attempt_at: r.next_attempt_at,
            })
        })
        .collect();
    Ok(crate::api::webhooks::DeliveriesPage { rows, reports, scope })
}

/// A good delivery an app took (its body kept), not a redelivery's echo.
fn may_rerun(d: &Delivery) -> bool {
    d.signature == "valid" && d.body.is_some() && d.app_id.is_some() && d.dedup_key.is_some()
}

/// Re-runs the handling of a delivery on its stored body: authorized as
/// reading it, audited and queued in one transaction.
pub async fn rerun(state: &AppState, meta: &RequestMeta, id: &str) -> Result<(), AppError> {
    let viewer = meta.viewer.as_ref().ok_or(AppError::Unauthorized)?;
    let teams = readable_teams(viewer)?;
    let pool = state.db.pool();
    let d = store::webhooks::find(pool, id).await.map_err(internal("reading a delivery"))?.ok_or(AppError::NotFound)?;
    let app = match &d.app_id {
        Some(app_id) => store::apps::find(pool, app_id).await.map_err(internal("reading an app"))?,
        None => None,
    };
    let team_id = app.as_ref().map(|a| a.team_id.clone());
    if let Some(teams) = &teams {
        if !team_id.as_ref().is_some_and(|t| teams.contains(t)) {
            return Err(AppError::NotFound);
        }
    }
    if !may_rerun(&d) {
        return Err(AppError::Conflict(
            "only a signed pull-request delivery an app took can be re-run (this one was refused, ignored or a redelivery)"
                .into(),
        ));
    }
    let now = now_ms();
    let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
    let mut event = AuditEvent::from_request(
        meta,
        "pull_request.rerun",
        "webhook_delivery",
        Some(d.id.clone()),
        store::audit::Outcome::Success,
    );
    event.team_id = team_id;
    // The row's outcome is about to be replaced: the trail keeps the old one.
    let event = event.with_detail(serde_json::json!({ "outcome_before": d.outcome }));
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a re-run"))?;
    enqueue(&mut tx, &d.id, 0, now).await?;
    store::webhooks::processed(&mut *tx, &d.id, "re-run queued", (None, None), now)
        .await
        .map_err(internal("recording a re-run"))?;
    tx.commit().await.map_err(internal("committing a re-run"))?;
    state.work.notify_one();
    Ok(())
}

/// A report as stored: what to tell the pull request (the sender adds the
/// portal's and the preview's addresses, which it knows).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WantedReport {
    pub state: pr::ReportState,
    pub env_id: String,
    pub env_name: String,
    pub head_sha: String,
    pub reason: Option<String>,
}

/// Queues what a webhook-made preview's pull request should see now, in
/// the caller's transaction. Previews the API or the UI made for a pull
/// request (no webhook told the portal of it) report nothing.
pub(crate) async fn report(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    env: &store::environments::Environment,
    state: pr::ReportState,
    reason: Option<String>,
    now: i64,
) -> Result<(), AppError> {
    let Some(number) = env.pr_number else { return Ok(()) };
    let known = store::webhooks::pull_request_with_provider(&mut **tx, &env.app_id, number)
        .await
        .map_err(internal("reading a pull request"))?;
    let Some((provider, facts)) = known else { return Ok(()) };
    let Ok(facts) = serde_json::from_str::<PullRequest>(&facts) else { return Ok(()) };
    let app = store::apps::find(&mut **tx, &env.app_id).await.map_err(internal("reading an app"))?;
    let Some(policy) = app.and_then(|a| Blueprint::parse(&a.blueprint).ok()).and_then(|b| b.pull_requests) else {
        return Ok(());
    };
    let wanted = WantedReport {
        state,
        env_id: env.id.clone(),
        env_name: env.name.clone(),
        head_sha: env.commit_sha.clone().unwrap_or(facts.head_sha),
        reason,
    };
    let json = serde_json::to_string(&wanted).map_err(|_| AppError::Internal)?;
    store::webhooks::want_report(&mut **tx, (&env.app_id, number), (&provider, &policy.repository), &json, now)
        .await
        .map_err(internal("queueing a pull request report"))
}
