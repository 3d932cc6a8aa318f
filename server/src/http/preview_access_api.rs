//! The portal's side of preview access protection: `/preview-access`, where
//! a signed-in browser is given a one-time code for a preview host (after
//! signing in, if it had to), and the share-link API
//! `/api/v1/environments/{id}/share-links` (team members and platform admins).

use super::api_v1::{body, ApiError, Caller};
use super::auth::{error_page, notice_page};
use app::domain::token::Scope;
use app::error::AppError;
use app::ssr::store::preview_access::ShareLink;
use app::ssr::{preview_access, AppState, RequestMeta};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/preview-access", get(open_preview))
        .route("/api/v1/environments/{id}/share-links", get(list_links).post(create_link))
        .route("/api/v1/environments/{id}/share-links/{link}", delete(revoke_link))
}

#[derive(Deserialize)]
struct OpenPreview {
    /// The preview's environment name.
    to: String,
    /// The path on the preview the browser was going to.
    #[serde(default)]
    next: String,
}

/// Signed in (the sign-in gate sent anyone else to sign in and back here):
/// a one-time code, redeemed on the preview host for its own cookie.
async fn open_preview(
    State(state): State<AppState>,
    Extension(meta): Extension<RequestMeta>,
    Query(q): Query<OpenPreview>,
) -> Response {
    let Some(viewer) = meta.viewer.as_ref() else {
        return Redirect::to("/login").into_response();
    };
    let not_found = || {
        notice_page(
            StatusCode::NOT_FOUND,
            "No such preview",
            &format!(
                "There is no preview named {:?} that you can open: it may have been destroyed, or belong to a team you are not in.",
                q.to
            ),
            ("/", "Back to the portal"),
        )
    };
    if !app::domain::naming::is_valid_name(&q.to) {
        return not_found();
    }
    match preview_access::issue_code(&state.db, &state.settings, &meta, viewer, &q.to, &q.next).await {
        Ok(code) => {
            let to = format!("{}.eod/auth?code={code}", state.settings.preview_urls.url_for(&q.to));
            Redirect::to(&to).into_response()
        }
        Err(AppError::NotFound) => not_found(),
        Err(err) => error_page(
            StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            &err.to_string(),
        ),
    }
}

/// A share link. Times are UTC epoch milliseconds.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ShareLinkJson {
    id: String,
    environment_id: String,
    note: String,
    /// The creator's user id.
    created_by: String,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
    /// `active`, `expired` or `revoked`.
    state: &'static str,
    /// Only in the answer to its creation: the link itself (never shown again).
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

fn link_json(l: ShareLink, url: Option<String>) -> ShareLinkJson {
    let state = match (l.revoked_at, l.expires_at <= app::ssr::clock::now_ms()) {
        (Some(_), _) => "revoked",
        (None, true) => "expired",
        (None, false) => "active",
    };
    ShareLinkJson {
        id: l.id,
        environment_id: l.environment_id,
        note: l.note,
        created_by: l.created_by,
        created_at: l.created_at,
        expires_at: l.expires_at,
        revoked_at: l.revoked_at,
        state,
        url,
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewShareLink {
    /// 1 to 720 hours.
    #[schema(minimum = 1, maximum = 720)]
    expires_in_hours: i64,
    /// Who it is for (shown to the team): one line, at most 200 characters.
    #[serde(default)]
    #[schema(max_length = 200, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]*$")]
    note: String,
}

#[utoipa::path(post, path = "/api/v1/environments/{id}/share-links", params(("id" = String, Path)), request_body = NewShareLink, responses(
    (status = 201, body = ShareLinkJson, description = "The link (its url is shown only now)"),
    (status = 401), (status = 403), (status = 404), (status = 409, description = "The environment is destroyed"),
    (status = 422, description = "A bad expiry or note")))]
pub async fn create_link(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Result<Json<NewShareLink>, JsonRejection>,
) -> Result<(StatusCode, Json<ShareLinkJson>), ApiError> {
    caller.require_scope(&state, Scope::EnvironmentsWrite).await?;
    let b = body(payload)?;
    let viewer = caller.meta.viewer.as_ref().ok_or(ApiError(AppError::Unauthorized))?;
    let (link, url) = preview_access::create_share_link(
        &state.db,
        &state.settings,
        &caller.meta,
        viewer,
        &id,
        b.expires_in_hours,
        &b.note,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(link_json(link, Some(url)))))
}

#[utoipa::path(get, path = "/api/v1/environments/{id}/share-links", params(("id" = String, Path)), responses(
    (status = 200, body = Vec<ShareLinkJson>, description = "Newest first"), (status = 401), (status = 403), (status = 404)))]
pub async fn list_links(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<ShareLinkJson>>, ApiError> {
    caller.require_scope(&state, Scope::EnvironmentsRead).await?;
    let viewer = caller.meta.viewer.as_ref().ok_or(ApiError(AppError::Unauthorized))?;
    let links = preview_access::share_links(&state.db, viewer, &id).await?;
    Ok(Json(links.into_iter().map(|l| link_json(l, None)).collect()))
}

#[utoipa::path(delete, path = "/api/v1/environments/{id}/share-links/{link}", params(("id" = String, Path), ("link" = String, Path)), responses(
    (status = 204, description = "Revoked: browsers that opened it lose access at once"), (status = 401), (status = 403), (status = 404)))]
pub async fn revoke_link(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, link)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    caller.require_scope(&state, Scope::EnvironmentsWrite).await?;
    let viewer = caller.meta.viewer.as_ref().ok_or(ApiError(AppError::Unauthorized))?;
    preview_access::revoke_share_link(&state.db, &caller.meta, viewer, &id, &link).await?;
    Ok(StatusCode::NO_CONTENT)
}
