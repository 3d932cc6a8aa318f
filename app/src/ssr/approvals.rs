//! The one write path for approval requests: ask (or get the open one),
//! decide, cancel, and the SLA. Each writes the request, the environment's
//! transition where the decision applies one, the audit event and the
//! notifications in one transaction. Audit events target the environment,
//! so open pages (the queue, the environment) see them live.

use super::clock::{new_id, now_ms};
use super::environments::{load_visible, stored, transition_in};
use super::store::{self, approvals::Approval, audit::AuditEvent, audit::Outcome, environments::Environment};
use super::{authz, internal, notify, AppState, Db, PortalSettings, RequestMeta};
use crate::api::approvals::{ApprovalItem, HistoryFilter};
use crate::domain::access::Viewer;
use crate::domain::approval::{self, ApprovalError, ApprovalKind, ApprovalState, Decision, Request, SlaOutcome};
use crate::domain::authz::Action;
use crate::domain::lifecycle::{self, EnvState};
use crate::domain::money::Micros;
use crate::domain::notification::EventKind;
use crate::domain::tier::{Tier, TierPolicy};
use crate::domain::time::{utc_datetime, HOUR_MS, MINUTE_MS};
use crate::error::AppError;

/// What is asked.
#[derive(Clone, Debug)]
pub struct Ask {
    pub kind: ApprovalKind,
    /// The extension's length (extend only).
    pub asked_ms: Option<i64>,
    pub reason: Option<String>,
}

fn refusal(e: ApprovalError) -> AppError {
    match e {
        ApprovalError::OwnRequest | ApprovalError::NotTheRequester | ApprovalError::PlatformAdminsOnly(_) => {
            AppError::Refused(e.to_string())
        }
        ApprovalError::ReasonNeeded | ApprovalError::ReasonTooLong | ApprovalError::ReasonUnprintable => {
            AppError::invalid("reason", e.to_string())
        }
        ApprovalError::NotNow { .. } | ApprovalError::Closed(_) | ApprovalError::TtlDestroyCannotBeDenied => {
            AppError::Conflict(e.to_string())
        }
    }
}

fn request_of(a: &Approval) -> Result<Request, AppError> {
    Ok(Request {
        kind: stored(&a.kind, "kind", &a.id)?,
        state: stored(&a.state, "state", &a.id)?,
        requested_by: a.requested_by.clone(),
        sla_deadline: a.sla_deadline,
        escalated: a.escalated_at.is_some(),
    })
}

fn what(kind: ApprovalKind, asked_ms: Option<i64>, env_name: &str) -> String {
    match kind {
        ApprovalKind::Extend => format!("extend {env_name} by {} h", hours(asked_ms.unwrap_or(0))),
        ApprovalKind::Destroy => format!("destroy {env_name}"),
    }
}

fn hours(ms: i64) -> String {
    let h = ms as f64 / HOUR_MS as f64;
    if h.fract() == 0.0 {
        format!("{h:.0}")
    } else {
        format!("{h:.2}")
    }
}

/// Opens a request for `env` inside `tx`, or returns the open one of the
/// same kind (asking twice is harmless). `requester` `None`: the portal.
pub(crate) async fn open_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    env: &Environment,
    policy: &TierPolicy,
    ask: &Ask,
    requester: Option<&RequestMeta>,
    now: i64,
) -> Result<(Approval, bool), AppError> {
    let state: EnvState = stored(&env.state, "state", &env.id)?;
    approval::may_request(ask.kind, state, policy).map_err(refusal)?;
    if let Some(open) = store::approvals::find_open(&mut **tx, &env.id, ask.kind.as_str())
        .await
        .map_err(internal("finding a request"))?
    {
        if requester.is_some() || open.requested_by.is_none() {
            return Ok((open, false));
        }
        // The TTL's own destroy supersedes a person's open one: theirs could
        // be withdrawn or denied, and an environment past its TTL must go.
        let reason = "superseded: the TTL was reached and the portal asks for the destroy itself";
        close_with_event(tx, &open, ApprovalState::Cancelled, reason, now).await?;
    }
    let requested_by = requester.and_then(|m| m.viewer.as_ref()).map(|v| v.user_id.clone());
    let row = Approval {
        id: new_id(),
        environment_id: env.id.clone(),
        team_id: env.team_id.clone(),
        kind: ask.kind.as_str().into(),
        state: ApprovalState::Pending.as_str().into(),
        requested_by: requested_by.clone(),
        requested_at: now,
        asked_ms: ask.asked_ms,
        reason: ask.reason.clone(),
        sla_deadline: now.saturating_add(policy.approval_sla_ms()),
        escalated_at: None,
        decided_by: None,
        decision_reason: None,
        decided_at: None,
        seen: None,
    };
    if !store::approvals::insert_open(&mut **tx, &row).await.map_err(internal("recording a request"))? {
        // A concurrent ask won the race: theirs is the open one.
        let open = store::approvals::find_open(&mut **tx, &env.id, ask.kind.as_str())
            .await
            .map_err(internal("finding a request"))?
            .ok_or_else(|| AppError::Conflict("the request changed meanwhile; try again".into()))?;
        return Ok((open, false));
    }
    let mut event = match requester {
        Some(meta) => {
            AuditEvent::from_request(meta, "approval.requested", "environment", Some(env.id.clone()), Outcome::Success)
        }
        None => AuditEvent::system("approval.requested", Some(env.id.clone()), None),
    }
    .with_detail(serde_json::json!({
        "approval_id": row.id, "kind": ask.kind.as_str(), "asked_ms": ask.asked_ms, "reason": ask.reason,
        "sla_deadline": row.sla_deadline,
    }));
    event.team_id = Some(env.team_id.clone());
    store::audit::append(&mut **tx, &event).await.map_err(internal("auditing a request"))?;
    let who =
        requester.and_then(|m| m.viewer.as_ref()).map_or("The portal (TTL reached)".to_string(), |v| v.login.clone());
    let message = format!(
        "{who} asks to {}; decide by {}",
        what(ask.kind, ask.asked_ms, &env.name),
        utc_datetime(row.sla_deadline)
    );
    let group = stored::<Tier>(&env.tier, "tier", &env.id)?.is_preview();
    notify::to_approvers(tx, requested_by.as_deref(), group, &env.id, "approval_requested", &message, now).await?;
    let title = format!("Approval requested: {}", what(ask.kind, ask.asked_ms, &env.name));
    notify::to_team(tx, &env.team_id, EventKind::ApprovalRequested, Some(env), &title, &message, now).await?;
    Ok((row, true))
}

/// A person asks: the environment must be visible and operable to them.
/// Returns the request and whether it is new.
pub async fn request(
    state: &AppState,
    meta: &RequestMeta,
    env_id: &str,
    ask: Ask,
) -> Result<(Approval, bool), AppError> {
    let env = load_visible(state, meta, env_id, Action::OperateEnvironments).await?;
    if let Some(reason) = &ask.reason {
        if reason.chars().count() > approval::MAX_REASON {
            return Err(AppError::invalid("reason", format!("at most {} characters", approval::MAX_REASON)));
        }
    }
    let tier: Tier = stored(&env.tier, "tier", &env.id)?;
    let policy = state.settings.tiers.get(tier);
    let now = now_ms();
    let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
    let env = store::environments::find(&mut *tx, env_id)
        .await
        .map_err(internal("loading an environment"))?
        .ok_or(AppError::NotFound)?
        .env;
    if ask.kind == ApprovalKind::Extend {
        // Refuse now what an approval could not apply (step, lifetime).
        let lc = super::environments::lifecycle_of(&env)?;
        lifecycle::apply(&lc, &approval::on_approval(ask.kind, ask.asked_ms), policy, now).map_err(|r| match r {
            lifecycle::Rejected::BadExtension { .. } => AppError::invalid("hours", r.to_string()),
            other => AppError::Conflict(other.to_string()),
        })?;
    }
    let opened = open_in(&mut tx, &env, policy, &ask, Some(meta), now).await?;
    tx.commit().await.map_err(internal("committing a request"))?;
    Ok(opened)
}

/// What the approver sees on the card, recorded with the decision.
async fn seen(state: &AppState, env: &Environment, a: &Approval, now: i64) -> Result<serde_json::Value, AppError> {
    let book = super::costs::price_book(&state.db).await?;
    let headroom = super::costs::budget_headroom(state, &env.team_id, now).await?;
    seen_with(state, &book, headroom, env, a, now).await
}

async fn seen_with(
    state: &AppState,
    book: &crate::domain::price::PriceBook,
    headroom: Option<Micros>,
    env: &Environment,
    a: &Approval,
    now: i64,
) -> Result<serde_json::Value, AppError> {
    let tier: Tier = stored(&env.tier, "tier", &env.id)?;
    let policy = state.settings.tiers.get(tier);
    let cost = super::costs::environment_cost(&state.db, book, env, i64::MIN, now).await?;
    let new_expiry = match (a.kind.as_str(), env.expires_at) {
        ("extend", Some(exp)) => Some(
            (exp.max(now) + a.asked_ms.unwrap_or(0))
                .min(env.created_at.saturating_add(policy.extension.max_lifetime_ms)),
        ),
        _ => None,
    };
    let adds = match new_expiry {
        Some(to) => Micros(cost.hourly.0.saturating_mul((to - env.expires_at.unwrap_or(to)).max(0)) / HOUR_MS),
        None => Micros::ZERO,
    };
    Ok(serde_json::json!({
        "cost_so_far_micros": cost.so_far.0,
        "hourly_micros": cost.hourly.0,
        "adds_micros": adds.0,
        "budget_headroom_micros": headroom.map(|m| m.0),
        "expires_at": env.expires_at,
        "new_expires_at": new_expiry,
    }))
}

/// A platform admin decides. An approval applies its event to the
/// environment in the same transaction; if the lifecycle refuses it (the
/// environment moved on), the request stays pending and the refusal is the
/// answer.
pub async fn decide(state: &AppState, meta: &RequestMeta, id: &str, decision: Decision) -> Result<Approval, AppError> {
    let viewer = authz::require(state, meta, Action::Approve, None).await?;
    let found = store::approvals::find(state.db.pool(), id).await.map_err(internal("loading a request"))?;
    let a = found.ok_or(AppError::NotFound)?;
    approval::decide(&request_of(&a)?, &viewer.user_id, &decision).map_err(refusal)?;
    let env = store::environments::find(state.db.pool(), &a.environment_id)
        .await
        .map_err(internal("loading an environment"))?
        .ok_or(AppError::NotFound)?
        .env;
    let tier: Tier = stored(&env.tier, "tier", &env.id)?;
    approval::may_decide(tier, viewer.is_platform_admin, viewer.approver_group).map_err(refusal)?;
    let now = now_ms();
    let seen = seen(state, &env, &a, now).await?.to_string();
    let kind: ApprovalKind = stored(&a.kind, "kind", &a.id)?;
    for _ in 0..5 {
        let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
        let current = store::approvals::find(&mut *tx, id).await.map_err(internal("loading a request"))?;
        let current = current.ok_or(AppError::NotFound)?;
        let next = approval::decide(&request_of(&current)?, &viewer.user_id, &decision).map_err(refusal)?;
        let reason = match &decision {
            Decision::Approve { reason } => reason.clone().filter(|r| !r.trim().is_empty()),
            Decision::Deny { reason } => Some(reason.trim().to_string()),
        };
        if next == ApprovalState::Approved {
            let action = format!("approval.applied.{kind}");
            let audit = |e: &Environment| {
                let mut ev =
                    AuditEvent::from_request(meta, &action, "environment", Some(e.id.clone()), Outcome::Success)
                        .with_detail(
                            serde_json::json!({ "approval_id": id, "expires_at": e.expires_at, "state": e.state }),
                        );
                ev.team_id = Some(e.team_id.clone());
                ev
            };
            let event = approval::on_approval(kind, current.asked_ms);
            if transition_in(&mut tx, &state.settings.tiers, &current.environment_id, &event, &audit, now_ms())
                .await?
                .is_none()
            {
                continue;
            }
            if kind == ApprovalKind::Extend {
                supersede_ttl_destroy(&mut tx, &current.environment_id, now).await?;
            }
        }
        if !store::approvals::close(
            &mut *tx,
            id,
            next.as_str(),
            Some(&viewer.user_id),
            reason.as_deref(),
            Some(&seen),
            now,
        )
        .await
        .map_err(internal("closing a request"))?
        {
            return Err(AppError::Conflict("someone decided it meanwhile".into()));
        }
        let mut event = AuditEvent::from_request(
            meta,
            &format!("approval.{next}"),
            "environment",
            Some(current.environment_id.clone()),
            Outcome::Success,
        )
        .with_detail(serde_json::json!({ "approval_id": id, "kind": kind.as_str(), "reason": reason, "seen": serde_json::from_str::<serde_json::Value>(&seen).unwrap_or_default() }));
        event.team_id = Some(current.team_id.clone());
        store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a decision"))?;
        let message = format!(
            "{} {next} your request to {}{}",
            viewer.login,
            what(kind, current.asked_ms, &env.name),
            reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
        );
        notify::to_user(
            &mut tx,
            current.requested_by.as_deref(),
            Some(&current.environment_id),
            "approval_decided",
            &message,
            now,
        )
        .await?;
        let title = format!("Request to {} {next}", what(kind, current.asked_ms, &env.name));
        let text = format!(
            "{} {next} the request to {}{}",
            viewer.login,
            what(kind, current.asked_ms, &env.name),
            reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
        );
        notify::to_team(&mut tx, &current.team_id, EventKind::ApprovalDecided, Some(&env), &title, &text, now).await?;
        tx.commit().await.map_err(internal("committing a decision"))?;
        state.work.notify_one();
        let done = store::approvals::find(state.db.pool(), id).await.map_err(internal("loading a request"))?;
        return done.ok_or(AppError::NotFound);
    }
    Err(AppError::Conflict("the environment is changing right now; try again".into()))
}

/// An approved extension keeps the environment: the destroy its TTL asked
/// for is moot.
async fn supersede_ttl_destroy(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    env_id: &str,
    now: i64,
) -> Result<(), AppError> {
    for open in store::approvals::open_for(&mut **tx, env_id).await.map_err(internal("loading requests"))? {
        if open.kind == ApprovalKind::Destroy.as_str() && open.requested_by.is_none() {
            close_with_event(tx, &open, ApprovalState::Cancelled, "superseded: an extension was approved", now).await?;
        }
    }
    Ok(())
}

/// Closes a request by the portal (no decider), with its audit event and a
/// word to the requester.
async fn close_with_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    a: &Approval,
    to: ApprovalState,
    reason: &str,
    now: i64,
) -> Result<bool, AppError> {
    if !store::approvals::close(&mut **tx, &a.id, to.as_str(), None, Some(reason), None, now)
        .await
        .map_err(internal("closing a request"))?
    {
        return Ok(false);
    }
    let mut event =
        AuditEvent::system(&format!("approval.{to}"), Some(a.environment_id.clone()), Some(a.team_id.clone()))
            .with_detail(serde_json::json!({ "approval_id": a.id, "kind": a.kind, "reason": reason }));
    event.team_id = Some(a.team_id.clone());
    store::audit::append(&mut **tx, &event).await.map_err(internal("auditing a request"))?;
    let message = format!("Your {} request was {to}: {reason}", a.kind);
    notify::to_user(tx, a.requested_by.as_deref(), Some(&a.environment_id), "approval_decided", &message, now).await?;
    let title = format!("A {} request was {to}", a.kind);
    let text = format!("{title}: {reason}");
    notify::to_team(tx, &a.team_id, EventKind::ApprovalDecided, None, &title, &text, now).await?;
    Ok(true)
}

/// Every open request of an environment that is gone.
pub(crate) async fn close_all_open(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    env: &Environment,
    reason: &str,
    now: i64,
) -> Result<(), AppError> {
    for open in store::approvals::open_for(&mut **tx, &env.id).await.map_err(internal("loading requests"))? {
        close_with_event(tx, &open, ApprovalState::Cancelled, reason, now).await?;
    }
    Ok(())
}

/// The requester withdraws their request.
pub async fn cancel(state: &AppState, meta: &RequestMeta, id: &str) -> Result<Approval, AppError> {
    let viewer = meta.viewer.clone().ok_or(AppError::Unauthorized)?;
    let a = store::approvals::find(state.db.pool(), id)
        .await
        .map_err(internal("loading a request"))?
        .ok_or(AppError::NotFound)?;
    load_visible(state, meta, &a.environment_id, Action::ViewEnvironments).await?;
    let now = now_ms();
    let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
    let current = store::approvals::find(&mut *tx, id).await.map_err(internal("loading a request"))?;
    let current = current.ok_or(AppError::NotFound)?;
    approval::cancel(&request_of(&current)?, &viewer.user_id).map_err(refusal)?;
    if !store::approvals::close(
        &mut *tx,
        id,
        "cancelled",
        Some(&viewer.user_id),
        Some("withdrawn by the requester"),
        None,
        now,
    )
    .await
    .map_err(internal("closing a request"))?
    {
        return Err(AppError::Conflict("it was decided meanwhile".into()));
    }
    let mut event = AuditEvent::from_request(
        meta,
        "approval.cancelled",
        "environment",
        Some(current.environment_id.clone()),
        Outcome::Success,
    )
    .with_detail(serde_json::json!({ "approval_id": id, "kind": current.kind }));
    event.team_id = Some(current.team_id.clone());
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a cancel"))?;
    tx.commit().await.map_err(internal("committing a cancel"))?;
    let done = store::approvals::find(state.db.pool(), id).await.map_err(internal("loading a request"))?;
    done.ok_or(AppError::NotFound)
}

/// Applies the SLA to every open request whose deadline has come; returns
/// how many it moved. Run by the scheduler on every replica: the
/// conditional close makes each outcome land once.
pub async fn enforce_sla(db: &Db, settings: &PortalSettings, now: i64) -> Result<usize, AppError> {
    let due = store::approvals::due(db.pool(), now, 200).await.map_err(internal("finding due requests"))?;
    let mut moved = 0;
    for id in due {
        match sla_one(db, settings, &id, now).await {
            Ok(true) => moved += 1,
            Ok(false) => {}
            Err(err) => tracing::warn!(approval = %id, error = %err, "approval SLA"),
        }
    }
    Ok(moved)
}

async fn sla_one(db: &Db, settings: &PortalSettings, id: &str, now: i64) -> Result<bool, AppError> {
    for _ in 0..5 {
        let mut tx = db.begin_write().await.map_err(internal("starting a transaction"))?;
        let Some(a) = store::approvals::find(&mut *tx, id).await.map_err(internal("loading a request"))? else {
            return Ok(false);
        };
        let env = store::environments::find(&mut *tx, &a.environment_id)
            .await
            .map_err(internal("loading an environment"))?
            .ok_or(AppError::NotFound)?
            .env;
        let tier: Tier = stored(&env.tier, "tier", &env.id)?;
        let policy = settings.tiers.get(tier);
        let kind: ApprovalKind = stored(&a.kind, "kind", &a.id)?;
        let minutes = policy.approval_sla_ms() / MINUTE_MS;
        match approval::at_sla(&request_of(&a)?, policy, now) {
            SlaOutcome::Wait => return Ok(false),
            SlaOutcome::Approve => {
                let audit = |e: &Environment| {
                    AuditEvent::system(&format!("approval.applied.{kind}"), Some(e.id.clone()), Some(e.team_id.clone()))
                        .with_detail(serde_json::json!({ "approval_id": id, "by": "sla" }))
                };
                let event = approval::on_approval(kind, a.asked_ms);
                let (to, reason) = match transition_in(&mut tx, &settings.tiers, &env.id, &event, &audit, now).await {
                    Ok(Some(_)) => {
                        if kind == ApprovalKind::Extend {
                            supersede_ttl_destroy(&mut tx, &env.id, now).await?;
                        }
                        (ApprovalState::Approved, format!("no decision within {minutes} min: the tier approves"))
                    }
                    Ok(None) => continue,
                    // Nothing a decision could apply any more: it lapses.
                    Err(AppError::Conflict(why)) | Err(AppError::Invalid { message: why, .. }) => {
                        (ApprovalState::Expired, format!("approved by the SLA, but it cannot apply: {why}"))
                    }
                    Err(other) => return Err(other),
                };
                close_with_event(&mut tx, &a, to, &reason, now).await?;
            }
            SlaOutcome::Deny => {
                let reason = format!("no decision within {minutes} min: the tier denies");
                close_with_event(&mut tx, &a, ApprovalState::Denied, &reason, now).await?;
            }
            SlaOutcome::Expire => {
                let reason = format!("no decision within {minutes} min after escalation");
                close_with_event(&mut tx, &a, ApprovalState::Expired, &reason, now).await?;
            }
            SlaOutcome::Escalate { deadline } => {
                if !store::approvals::escalate(&mut *tx, id, deadline, now).await.map_err(internal("escalating"))? {
                    return Ok(false);
                }
                let event = AuditEvent::system("approval.escalated", Some(env.id.clone()), Some(env.team_id.clone()))
                    .with_detail(serde_json::json!({ "approval_id": id, "sla_deadline": deadline }));
                store::audit::append(&mut *tx, &event).await.map_err(internal("auditing an escalation"))?;
                let message = format!(
                    "Escalated: nobody decided on the request to {} within {minutes} min; decide by {}",
                    what(kind, a.asked_ms, &env.name),
                    utc_datetime(deadline)
                );
                notify::to_approvers(&mut tx, None, tier.is_preview(), &env.id, "approval_escalated", &message, now)
                    .await?;
            }
        }
        tx.commit().await.map_err(internal("committing an SLA outcome"))?;
        return Ok(true);
    }
    Ok(false)
}

/// Requests as pages and the API show them: approvers (platform admins and
/// the approver group) see every team's, others the ones they asked. Filters name a state, a
/// kind and a team slug (empty: any).
pub async fn list(
    state: &AppState,
    meta: &RequestMeta,
    filter: &HistoryFilter,
    now: i64,
) -> Result<Vec<ApprovalItem>, AppError> {
    let viewer = meta.viewer.clone().ok_or(AppError::Unauthorized)?;
    let mut f = store::approvals::Filter::default();
    if !filter.state.is_empty() {
        let s: ApprovalState = filter.state.parse().map_err(|e: String| AppError::invalid("state", e))?;
        f.state = Some(s.as_str().into());
    }
    if !filter.kind.is_empty() {
        let k: ApprovalKind = filter.kind.parse().map_err(|e: String| AppError::invalid("kind", e))?;
        f.kind = Some(k.as_str().into());
    }
    if !filter.team.is_empty() {
        let team =
            store::teams::find_by_slug(state.db.pool(), &filter.team).await.map_err(internal("finding a team"))?;
        f.team_id = Some(team.ok_or_else(|| AppError::invalid("team", "no such team"))?.id);
    }
    if !viewer.is_approver() {
        f.requested_by = Some(viewer.user_id.clone());
    }
    items(state, &viewer, &f, 200, now).await
}

/// One request, if the viewer may see it.
pub async fn item(state: &AppState, meta: &RequestMeta, id: &str, now: i64) -> Result<ApprovalItem, AppError> {
    let viewer = meta.viewer.clone().ok_or(AppError::Unauthorized)?;
    let f = store::approvals::Filter { id: Some(id.to_string()), ..Default::default() };
    let found = items(state, &viewer, &f, 1, now).await?.pop().ok_or(AppError::NotFound)?;
    let listed = store::approvals::find(state.db.pool(), id).await.map_err(internal("loading a request"))?;
    let team_id = listed.map(|a| a.team_id).unwrap_or_default();
    if viewer.is_approver() || viewer.can_see_team(&team_id) {
        Ok(found)
    } else {
        Err(AppError::NotFound)
    }
}

/// The requests of one environment the viewer may see (the open ones
/// first), for its page.
pub async fn for_environment(
    state: &AppState,
    viewer: &Viewer,
    env_id: &str,
    now: i64,
) -> Result<Vec<ApprovalItem>, AppError> {
    let f = store::approvals::Filter { environment_id: Some(env_id.to_string()), ..Default::default() };
    let mut all = items(state, viewer, &f, 20, now).await?;
    all.sort_by_key(|a| a.state != "pending");
    Ok(all)
}

async fn items(
    state: &AppState,
    viewer: &Viewer,
    f: &store::approvals::Filter,
    limit: i64,
    now: i64,
) -> Result<Vec<ApprovalItem>, AppError> {
    let rows = store::approvals::list(state.db.pool(), f, limit).await.map_err(internal("listing requests"))?;
    let book = super::costs::price_book(&state.db).await?;
    // One month report per team, however many of its requests are listed.
    let mut headrooms: std::collections::HashMap<String, Option<Micros>> = Default::default();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let a = row.approval;
        let mine = a.requested_by.as_deref() == Some(viewer.user_id.as_str());
        let may_decide = a.state == ApprovalState::Pending.as_str()
            && !mine
            && row
                .tier
                .parse::<Tier>()
                .is_ok_and(|t| approval::may_decide(t, viewer.is_platform_admin, viewer.approver_group).is_ok());
        let open = a.state == ApprovalState::Pending.as_str();
        let found = store::environments::find(state.db.pool(), &a.environment_id)
            .await
            .map_err(internal("loading an environment"))?;
        // Cost while waiting: from the request to its decision (or now).
        let (cost, preview) = match found {
            Some(v) => {
                let until = a.decided_at.unwrap_or(now);
                let cost = super::costs::environment_cost(&state.db, &book, &v.env, a.requested_at, until).await?;
                let preview = if may_decide {
                    let headroom = match headrooms.get(&a.team_id) {
                        Some(h) => *h,
                        None => {
                            let h = super::costs::budget_headroom(state, &a.team_id, now).await?;
                            headrooms.insert(a.team_id.clone(), h);
                            h
                        }
                    };
                    let json = seen_with(state, &book, headroom, &v.env, &a, now).await?;
                    serde_json::from_value(json).ok()
                } else {
                    None
                };
                (cost, preview)
            }
            None => (Default::default(), None),
        };
        out.push(ApprovalItem {
            may_decide,
            may_cancel: open && mine,
            seen: a.seen.as_deref().and_then(|s| serde_json::from_str(s).ok()),
            preview,
            cost_while_waiting: cost.so_far,
            hourly: cost.hourly,
            id: a.id,
            kind: a.kind,
            state: a.state,
            environment_id: a.environment_id,
            environment_name: row.environment_name,
            environment_state: row.environment_state,
            tier: row.tier,
            team: row.team_slug,
            requested_by: row.requester_login,
            requested_at: a.requested_at,
            asked_ms: a.asked_ms,
            reason: a.reason,
            sla_deadline: a.sla_deadline,
            escalated_at: a.escalated_at,
            decided_by: row.decider_login,
            decision_reason: a.decision_reason,
            decided_at: a.decided_at,
        });
    }
    Ok(out)
}
