//! `/api/v1/environments/{id}/deployments`: deploy a commit (by the tier's
//! strategy), read the deployments, roll a blue-green one back. Reading needs
//! `environments:read`; deploying and rolling back `environments:write`.

use super::api_v1::{optional_body, ApiError, Caller};
use app::domain::token::Scope;
use app::ssr::deployments::{self, Wanting};
use app::ssr::store::deployments::Listed;
use app::ssr::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/environments/{id}/deployments", get(list_deployments).post(create_deployment))
        .route("/api/v1/environments/{id}/deployments/{deployment}", get(get_deployment))
        .route("/api/v1/environments/{id}/deployments/{deployment}/rollback", post(rollback_deployment))
}

/// A deployment. Times are UTC epoch milliseconds.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeploymentJson {
    id: String,
    environment_id: String,
    commit_sha: String,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    /// What served before it (a rollback goes back to it).
    previous_commit: Option<String>,
    /// `recreate`, `rolling` or `blue-green` (the tier's).
    strategy: String,
    /// `queued`, `deploying`, `succeeded`, `failed` or `rolled-back`.
    state: String,
    /// The requester's login; null when the portal itself acted.
    requested_by: Option<String>,
    /// Why it failed.
    reason: Option<String>,
    created_at: i64,
    started_at: Option<i64>,
    ready_at: Option<i64>,
    finished_at: Option<i64>,
    /// From the request to the new version serving (or failing), ms.
    duration_ms: Option<i64>,
    /// Blue-green: a rollback is possible until then.
    rollback_until: Option<i64>,
}

fn deployment_json(l: Listed) -> DeploymentJson {
    let d = l.d;
    DeploymentJson {
        duration_ms: d.finished_at.map(|f| f - d.created_at),
        id: d.id,
        environment_id: d.environment_id,
        commit_sha: d.commit_sha,
        git_ref: d.git_ref,
        previous_commit: d.previous_commit,
        strategy: d.strategy,
        state: d.state,
        requested_by: l.requested_by_login,
        reason: d.reason,
        created_at: d.created_at,
        started_at: d.started_at,
        ready_at: d.ready_at,
        finished_at: d.finished_at,
        rollback_until: d.rollback_until,
    }
}

/// What to deploy: a full commit id, or a ref (a branch, or
/// `refs/pull/<n>/head`) resolved now; neither: the environment's own
/// branch or pull request as it is now.
#[derive(serde::Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployBody {
    commit_sha: Option<String>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/environments/{id}/deployments", params(("id" = String, Path)), request_body = DeployBody, responses(
    (status = 202, body = DeploymentJson, description = "Queued: the tier's strategy replaces what runs"),
    (status = 401), (status = 403), (status = 404),
    (status = 409, description = "The environment is not running, a deployment is under way, or the pull request has its own environment"),
    (status = 422, description = "A bad commit id or ref, or one the repository does not have")))]
pub async fn create_deployment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: axum::body::Bytes,
) -> Result<(StatusCode, Json<DeploymentJson>), ApiError> {
    caller.require_scope(&state, Scope::EnvironmentsWrite).await?;
    // No body is the Redeploy button's request: its own branch as it is now.
    let b: DeployBody = optional_body(&payload, "{\"commit_sha\": \"…\"} or {\"ref\": \"…\"}")?;
    let d = deployments::deploy(&state, &caller.meta, &id, Wanting { commit_sha: b.commit_sha, git_ref: b.git_ref })
        .await?;
    let listed = deployments::find(&state, &caller.meta, &id, &d.id).await?;
    Ok((StatusCode::ACCEPTED, Json(deployment_json(listed))))
}

#[utoipa::path(get, path = "/api/v1/environments/{id}/deployments", params(("id" = String, Path)), responses(
    (status = 200, body = Vec<DeploymentJson>, description = "Newest first (50 at most)"), (status = 401), (status = 403), (status = 404)))]
pub async fn list_deployments(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<DeploymentJson>>, ApiError> {
    caller.require_scope(&state, Scope::EnvironmentsRead).await?;
    let rows = deployments::list(&state, &caller.meta, &id).await?;
    Ok(Json(rows.into_iter().map(deployment_json).collect()))
}

#[utoipa::path(get, path = "/api/v1/environments/{id}/deployments/{deployment}", params(("id" = String, Path), ("deployment" = String, Path)), responses(
    (status = 200, body = DeploymentJson), (status = 401), (status = 403), (status = 404)))]
pub async fn get_deployment(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, deployment)): Path<(String, String)>,
) -> Result<Json<DeploymentJson>, ApiError> {
    caller.require_scope(&state, Scope::EnvironmentsRead).await?;
    Ok(Json(deployment_json(deployments::find(&state, &caller.meta, &id, &deployment).await?)))
}

#[utoipa::path(post, path = "/api/v1/environments/{id}/deployments/{deployment}/rollback", params(("id" = String, Path), ("deployment" = String, Path)), responses(
    (status = 202, body = DeploymentJson, description = "Queued: traffic switches back to the previous colour"),
    (status = 401), (status = 403), (status = 404),
    (status = 409, description = "Not a blue-green deployment that serves now, or its window closed")))]
pub async fn rollback_deployment(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, deployment)): Path<(String, String)>,
) -> Result<(StatusCode, Json<DeploymentJson>), ApiError> {
    caller.require_scope(&state, Scope::EnvironmentsWrite).await?;
    deployments::rollback(&state, &caller.meta, &id, &deployment).await?;
    let listed = deployments::find(&state, &caller.meta, &id, &deployment).await?;
    Ok((StatusCode::ACCEPTED, Json(deployment_json(listed))))
}
