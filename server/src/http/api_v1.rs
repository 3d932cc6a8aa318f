//! `/api/v1`: the JSON API for CI and coding agents. Callers authenticate
//! with `Authorization: Bearer eod_<id>_<secret>` (scoped) or a browser
//! session (all scopes of the user's roles). Every route authorizes on the
//! server with the same policy as the UI; errors are JSON with the status
//! from `AppError::status`.

use app::domain::token::Scope;
use app::error::AppError;
use app::ssr::store::{self, audit::AuditEvent, audit::Outcome};
use app::ssr::{tokens, AppState, RequestMeta};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/me", get(me)).route("/api/v1/environments", get(list_environments))
}

/// An `AppError` rendered as `{"error": {"status", "message", "field"}}`.
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let field = match &self.0 {
            AppError::Invalid { field, .. } => Some(field.clone()),
            _ => None,
        };
        let body = serde_json::json!({ "error": { "status": status.as_u16(), "message": self.0.to_string(), "field": field } });
        let mut res = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        res
    }
}

/// Who is calling the API and with which scopes. `None` scopes = a browser
/// session, limited only by the user's roles.
pub struct Caller {
    pub meta: RequestMeta,
    pub scopes: Option<Vec<Scope>>,
}

impl Caller {
    /// Requires a token scope (sessions pass), auditing a refusal.
    async fn require_scope(&self, state: &AppState, scope: Scope) -> Result<(), ApiError> {
        match &self.scopes {
            Some(scopes) if !scopes.contains(&scope) => {
                let event =
                    AuditEvent::from_request(&self.meta, "api.scope_denied", "api_token", None, Outcome::Denied)
                        .with_detail(serde_json::json!({ "needed": scope.as_str() }));
                if let Err(err) = store::audit::append(state.db.pool(), &event).await {
                    tracing::error!(error = %err, "auditing a scope denial");
                }
                Err(ApiError(AppError::Forbidden))
            }
            _ => Ok(()),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let base = parts.extensions.get::<RequestMeta>().cloned().unwrap_or_default();
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let Some(presented) = bearer else {
            return match base.viewer {
                Some(_) => Ok(Caller { meta: base, scopes: None }),
                None => Err(ApiError(AppError::Unauthorized)),
            };
        };
        match tokens::authenticate(&state.db, presented.trim()).await? {
            Ok(auth) => {
                let meta = RequestMeta { viewer: Some(auth.viewer), ..base };
                Ok(Caller { meta, scopes: Some(auth.scopes) })
            }
            Err((reason, token_id)) => {
                // The presented secret is never logged or stored; only the public id.
                let anonymous = RequestMeta { viewer: None, ..base };
                let event = AuditEvent::from_request(&anonymous, "api.auth", "api_token", token_id, Outcome::Denied)
                    .with_detail(serde_json::json!({ "reason": reason.to_string() }));
                if let Err(err) = store::audit::append(state.db.pool(), &event).await {
                    tracing::error!(error = %err, "auditing a refused token");
                }
                Err(ApiError(AppError::Unauthorized))
            }
        }
    }
}

#[derive(Serialize)]
struct Me {
    login: String,
    display_name: String,
    platform_admin: bool,
    teams: Vec<serde_json::Value>,
    scopes: Option<Vec<&'static str>>,
}

async fn me(caller: Caller) -> Result<Json<Me>, ApiError> {
    let viewer = caller.meta.viewer.ok_or(ApiError(AppError::Unauthorized))?;
    Ok(Json(Me {
        login: viewer.login,
        display_name: viewer.display_name,
        platform_admin: viewer.is_platform_admin,
        teams: viewer
            .memberships
            .iter()
            .map(|m| serde_json::json!({ "team": m.team_slug, "role": m.role.as_str() }))
            .collect(),
        scopes: caller.scopes.map(|s| s.iter().map(|x| x.as_str()).collect()),
    }))
}

#[derive(Serialize)]
struct EnvironmentJson {
    id: String,
    name: String,
    team: String,
    app: String,
    tier: String,
    state: String,
    owner: Option<String>,
    git_ref: Option<String>,
    pr_number: Option<i64>,
    created_at: i64,
    expires_at: Option<i64>,
    url: Option<String>,
}

async fn list_environments(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<EnvironmentJson>>, ApiError> {
    caller.require_scope(&state, Scope::EnvironmentsRead).await?;
    // Listing spans the caller's teams; the query scopes rows to them
    // (every team for platform admins), as `authz::teams_for` would.
    let viewer = caller.meta.viewer.clone().ok_or(ApiError(AppError::Unauthorized))?;
    let rows = store::environments::list_live_visible(state.db.pool(), &viewer, 1000)
        .await
        .map_err(app::ssr::internal("listing environments for the API"))?;
    Ok(Json(
        rows.into_iter()
            .map(|e| {
                let reachable = e.state.parse::<app::domain::lifecycle::EnvState>().is_ok_and(|s| s.is_reachable());
                EnvironmentJson {
                    url: reachable.then(|| state.settings.preview_urls.url_for(&e.name)),
                    id: e.id,
                    name: e.name,
                    team: e.team_slug,
                    app: e.app_slug,
                    tier: e.tier,
                    state: e.state,
                    owner: e.owner_login,
                    git_ref: e.git_ref,
                    pr_number: e.pr_number,
                    created_at: e.created_at,
                    expires_at: e.expires_at,
                }
            })
            .collect(),
    ))
}
