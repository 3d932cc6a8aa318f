//! `/api/v1/insights/roi` and `/api/v1/insights/maturity`: the dashboards'
//! views as JSON (measured figures with their counts and demo shares, the
//! baseline in force, the assessment and its evidence). Readable by a
//! platform admin's or a manager's session, or their token with `costs:read`.

use super::api_v1::{ApiError, Caller};
use app::api::insights::{build_maturity, build_roi, MaturityDashboard, RoiDashboard};
use app::domain::token::Scope;
use app::error::AppError;
use app::ssr::AppState;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/insights/roi", get(roi)).route("/api/v1/insights/maturity", get(maturity))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WindowQuery {
    /// The window in days: 7, 30 (default), 90 or 365.
    days: Option<u32>,
}

fn window(q: Result<Query<WindowQuery>, axum::extract::rejection::QueryRejection>) -> Result<Option<u32>, ApiError> {
    q.map(|Query(q)| q.days).map_err(|r| ApiError(AppError::invalid("query", r.body_text())))
}

#[utoipa::path(get, path = "/api/v1/insights/roi", params(WindowQuery), responses(
    (status = 200, description = "What the portal measured over the window (waits p50/p90 by path, creations, cost per destroyed environment, chargeback total, ratings; each with its count and demo share), twelve months of the series, the baseline and assumptions in force, warm-pool sizes; money in integer micro-dollars"),
    (status = 401), (status = 403, description = "Neither a platform admin nor a manager, or the token lacks costs:read"),
    (status = 422, description = "A window other than 7, 30, 90 or 365 days")))]
pub async fn roi(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<WindowQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RoiDashboard>, ApiError> {
    caller.require_scope(&state, Scope::CostsRead).await?;
    // Who may comes before what is wrong with the query.
    app::ssr::insights::require_reader(&state, &caller.meta).await?;
    Ok(Json(build_roi(&state, &caller.meta, window(q)?).await?))
}

#[utoipa::path(get, path = "/api/v1/insights/maturity", params(WindowQuery), responses(
    (status = 200, description = "The Level 0–4 assessment on provisioning, cost control and governance with evidence and next steps, and the last twelve months' levels"),
    (status = 401), (status = 403, description = "Neither a platform admin nor a manager, or the token lacks costs:read"),
    (status = 422, description = "A window other than 7, 30, 90 or 365 days")))]
pub async fn maturity(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<Query<WindowQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<MaturityDashboard>, ApiError> {
    caller.require_scope(&state, Scope::CostsRead).await?;
    app::ssr::insights::require_reader(&state, &caller.meta).await?;
    Ok(Json(build_maturity(&state, &caller.meta, window(q)?).await?))
}
