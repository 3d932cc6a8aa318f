//! `/api/v1/approvals`: the approval queue for CI and agents. Listing needs
//! `environments:read`; approve and deny need `approvals:write` and an
//! approver's role; cancel needs `environments:write` (as asking does) and
//! being the requester.

use super::api_v1::{ApiError, Caller};
use app::api::approvals::{ApprovalItem, HistoryFilter};
use app::domain::approval::Decision;
use app::domain::token::Scope;
use app::error::AppError;
use app::ssr::{approvals, clock::now_ms, AppState};
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/approvals", get(list_approvals))
        .route("/api/v1/approvals/{id}", get(get_approval))
        .route("/api/v1/approvals/{id}/approve", post(approve))
        .route("/api/v1/approvals/{id}/deny", post(deny))
        .route("/api/v1/approvals/{id}/cancel", post(cancel))
}

/// An approval request. Times are UTC epoch milliseconds.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ApprovalJson {
    id: String,
    /// `extend` or `destroy`.
    kind: String,
    /// `pending`, `approved`, `denied`, `expired` or `cancelled`.
    state: String,
    environment_id: String,
    environment: String,
    team: String,
    tier: String,
    /// The requester's login; null when the portal asked (TTL reached).
    requested_by: Option<String>,
    requested_at: i64,
    /// The extension asked for, in hours (extend only).
    hours: Option<f64>,
    reason: Option<String>,
    sla_deadline: i64,
    escalated_at: Option<i64>,
    /// The approver's login; null on a decided request means the SLA decided.
    decided_by: Option<String>,
    decision_reason: Option<String>,
    decided_at: Option<i64>,
    /// What the approver saw: cost so far, what it adds, budget headroom, new expiry (micro-dollars).
    #[schema(value_type = Option<Object>)]
    seen: Option<app::api::approvals::Seen>,
    /// Cost accrued from the request to its decision (or now), micro-dollars.
    cost_while_waiting_micros: i64,
}

pub fn approval_json(a: ApprovalItem) -> ApprovalJson {
    ApprovalJson {
        hours: a.asked_ms.map(|ms| ms as f64 / 3_600_000.0),
        cost_while_waiting_micros: a.cost_while_waiting.0,
        id: a.id,
        kind: a.kind,
        state: a.state,
        environment_id: a.environment_id,
        environment: a.environment_name,
        team: a.team,
        tier: a.tier,
        requested_by: a.requested_by,
        requested_at: a.requested_at,
        reason: a.reason,
        sla_deadline: a.sla_deadline,
        escalated_at: a.escalated_at,
        decided_by: a.decided_by,
        decision_reason: a.decision_reason,
        decided_at: a.decided_at,
        seen: a.seen,
    }
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// `pending`, `approved`, `denied`, `expired` or `cancelled`; any when absent.
    state: Option<String>,
    /// `extend` or `destroy`.
    kind: Option<String>,
    /// A team slug.
    team: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/approvals", params(ListQuery), responses(
    (status = 200, body = Vec<ApprovalJson>, description = "Newest first, at most 200: every team's for platform admins, else the caller's own requests"),
    (status = 401), (status = 403, description = "The token lacks environments:read"), (status = 422)))]
pub async fn list_approvals(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<ApprovalJson>>, ApiError> {
    caller.require_scope(&state, Scope::EnvironmentsRead).await?;
    let Query(q) = query.map_err(|r| ApiError(AppError::invalid("query", r.body_text())))?;
    let filter = HistoryFilter {
        state: q.state.unwrap_or_default(),
        kind: q.kind.unwrap_or_default(),
        team: q.team.unwrap_or_default(),
    };
    let items = approvals::list(&state, &caller.meta, &filter, now_ms()).await?;
    Ok(Json(items.into_iter().map(approval_json).collect()))
}

#[utoipa::path(get, path = "/api/v1/approvals/{id}", params(("id" = String, Path)), responses(
    (status = 200, body = ApprovalJson), (status = 401), (status = 404)))]
pub async fn get_approval(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ApprovalJson>, ApiError> {
    caller.require_scope(&state, Scope::EnvironmentsRead).await?;
    Ok(Json(approval_json(approvals::item(&state, &caller.meta, &id, now_ms()).await?)))
}

#[derive(serde::Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// Required to deny; optional to approve. At most 1,000 characters.
    reason: Option<String>,
}

/// The body is optional (an approve needs none); when present it is JSON.
fn decision_body(raw: &[u8]) -> Result<DecisionBody, ApiError> {
    super::api_v1::optional_body(raw, "{\"reason\": \"…\"}")
}

#[utoipa::path(post, path = "/api/v1/approvals/{id}/approve", params(("id" = String, Path)), request_body = DecisionBody, responses(
    (status = 200, body = ApprovalJson, description = "Approved and applied (the new expiry, or the destroy under way)"),
    (status = 401), (status = 403, description = "Not an approver, your own request, or the token lacks approvals:write"),
    (status = 404), (status = 409, description = "Already decided, or the environment can no longer take it"), (status = 422)))]
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: axum::body::Bytes,
) -> Result<Json<ApprovalJson>, ApiError> {
    caller.require_scope(&state, Scope::ApprovalsWrite).await?;
    let b = decision_body(&payload)?;
    let reason = b.reason.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    approvals::decide(&state, &caller.meta, &id, Decision::Approve { reason }).await?;
    Ok(Json(approval_json(approvals::item(&state, &caller.meta, &id, now_ms()).await?)))
}

#[utoipa::path(post, path = "/api/v1/approvals/{id}/deny", params(("id" = String, Path)), request_body = DecisionBody, responses(
    (status = 200, body = ApprovalJson), (status = 401), (status = 403), (status = 404), (status = 409),
    (status = 422, description = "No reason given")))]
pub async fn deny(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: axum::body::Bytes,
) -> Result<Json<ApprovalJson>, ApiError> {
    caller.require_scope(&state, Scope::ApprovalsWrite).await?;
    let b = decision_body(&payload)?;
    approvals::decide(&state, &caller.meta, &id, Decision::Deny { reason: b.reason.unwrap_or_default() }).await?;
    Ok(Json(approval_json(approvals::item(&state, &caller.meta, &id, now_ms()).await?)))
}

#[utoipa::path(post, path = "/api/v1/approvals/{id}/cancel", params(("id" = String, Path)), responses(
    (status = 200, body = ApprovalJson, description = "Withdrawn"), (status = 401),
    (status = 403, description = "Only the requester cancels; a token needs environments:write, as for asking"), (status = 404), (status = 409)))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ApprovalJson>, ApiError> {
    caller.require_scope(&state, Scope::EnvironmentsWrite).await?;
    approvals::cancel(&state, &caller.meta, &id).await?;
    Ok(Json(approval_json(approvals::item(&state, &caller.meta, &id, now_ms()).await?)))
}
