//! `/api/v1`: the JSON API for CI and coding agents. Callers authenticate
//! with `Authorization: Bearer eod_<id>_<secret>` (scoped) or a browser
//! session (all scopes of the user's roles). Every route authorizes on the
//! server with the same policy as the UI; errors are JSON with the status
//! from `AppError::status`.

use app::domain::lifecycle::{ActivityKind, Event};
use app::domain::measure::Via;
use app::domain::token::Scope;
use app::error::AppError;
use app::ssr::store::{self, audit::AuditEvent, audit::Outcome};
use app::ssr::{tokens, AppState, RequestMeta};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, State};
use axum::extract::{Path, Query};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me", get(me))
        .route("/api/v1/environments", get(list_environments).post(create_environment))
        .route("/api/v1/environments/{id}", get(get_environment).delete(destroy_environment))
        .route("/api/v1/environments/{id}/extend", post(extend_environment))
        .route("/api/v1/environments/{id}/activity", post(record_activity))
        .route("/api/v1/apps", get(list_apps).post(create_app))
        .route("/api/v1/apps/{slug}", get(get_app).patch(update_app).delete(archive_app))
        .route("/api/v1/apps/{slug}/template", post(rebuild_template))
        .route("/api/v1/openapi.json", get(openapi))
        // Anything else under the API is a JSON 404, never the HTML page.
        .route("/api/v1/{*rest}", axum::routing::any(unknown_route))
}

async fn unknown_route() -> ApiError {
    ApiError(AppError::NotFound)
}

/// The OpenAPI 3.1 description of `/api/v1`, generated from the handlers.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "EoD Portal API", version = "1", description = "Preview environments on demand: create, read, extend and destroy environments; authenticate with a personal access token."),
    paths(me, list_environments, create_environment, get_environment, destroy_environment, extend_environment, record_activity,
        list_apps, create_app, get_app, update_app, archive_app, rebuild_template,
        super::costs_api::month_json, super::costs_api::export_csv, super::costs_api::export_focus,
        super::costs_api::set_budget, super::approvals_api::list_approvals, super::approvals_api::get_approval,
        super::approvals_api::approve, super::approvals_api::deny, super::approvals_api::cancel,
        super::insights_api::roi, super::insights_api::maturity,
        super::deployments_api::create_deployment, super::deployments_api::list_deployments,
        super::deployments_api::get_deployment, super::deployments_api::rollback_deployment,
        super::preview_access_api::create_link, super::preview_access_api::list_links,
        super::preview_access_api::revoke_link),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("eod_<id>_<secret>").build(),
            ),
        );
    }
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(<ApiDoc as utoipa::OpenApi>::openapi())
}

/// The body of every error response.
#[derive(Serialize, utoipa::ToSchema)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
struct ErrorDetail {
    status: u16,
    message: String,
    /// The offending field, for 422 responses.
    field: Option<String>,
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
        let body = ErrorBody { error: ErrorDetail { status: status.as_u16(), message: self.0.to_string(), field } };
        let mut res = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            res.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
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
    pub(crate) async fn require_scope(&self, state: &AppState, scope: Scope) -> Result<(), ApiError> {
        match &self.scopes {
            Some(scopes) if !scopes.contains(&scope) => {
                let event =
                    AuditEvent::from_request(&self.meta, "api.scope_denied", "api_token", None, Outcome::Denied)
                        .with_detail(serde_json::json!({ "needed": scope.as_str() }));
                if let Err(err) = store::audit::append(state.db.pool(), &event).await {
                    tracing::error!(error = %err, "auditing a scope denial");
                }
                Err(ApiError(AppError::Refused(format!("this token lacks the {} scope", scope.as_str()))))
            }
            _ => Ok(()),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let base = RequestMeta { via: Via::Api, ..parts.extensions.get::<RequestMeta>().cloned().unwrap_or_default() };
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
                if !super::throttle::FAILURES.allow_failure_from(base.ip.as_deref()) {
                    return Err(ApiError(AppError::TooMany));
                }
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

#[derive(Serialize, utoipa::ToSchema)]
struct Me {
    login: String,
    display_name: String,
    platform_admin: bool,
    teams: Vec<TeamRoleJson>,
    /// The token's scopes; absent for a browser session.
    scopes: Option<Vec<&'static str>>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct TeamRoleJson {
    team: String,
    role: &'static str,
}

#[utoipa::path(get, path = "/api/v1/me", responses(
    (status = 200, body = Me, description = "Who the token or session belongs to"),
    (status = 401, body = ErrorBody)))]
async fn me(caller: Caller) -> Result<Json<Me>, ApiError> {
    let viewer = caller.meta.viewer.ok_or(ApiError(AppError::Unauthorized))?;
    Ok(Json(Me {
        login: viewer.login,
        display_name: viewer.display_name,
        platform_admin: viewer.is_platform_admin,
        teams: viewer
            .memberships
            .iter()
            .map(|m| TeamRoleJson { team: m.team_slug.clone(), role: m.role.as_str() })
            .collect(),
        scopes: caller.scopes.map(|s| s.iter().map(|x| x.as_str()).collect()),
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct EnvironmentJson {
    id: String,
    name: String,
    team: String,
    app: String,
    tier: String,
    state: String,
    /// What the health probes say: `healthy`, `unhealthy` (being restarted;
    /// still charged) or `unknown` (provisioning, failed or destroyed).
    health: String,
    owner: Option<String>,
    git_ref: Option<String>,
    pr_number: Option<i64>,
    /// The commit the environment runs (its branch or pull request, resolved at creation).
    commit_sha: Option<String>,
    created_at: i64,
    expires_at: Option<i64>,
    url: Option<String>,
    /// On create only: the budget gate's warning (a `warn` tier over budget).
    #[serde(skip_serializing_if = "Option::is_none")]
    budget_warning: Option<String>,
    /// On a 202 from destroy or extend: the approval request it waits for.
    #[serde(skip_serializing_if = "Option::is_none")]
    approval: Option<super::approvals_api::ApprovalJson>,
}

fn environment_json(state: &AppState, e: store::environments::Listed) -> EnvironmentJson {
    let reachable = e.state.parse::<app::domain::lifecycle::EnvState>().is_ok_and(|s| s.is_reachable());
    EnvironmentJson {
        url: reachable.then(|| state.settings.preview_urls.url_for(&e.name)),
        id: e.id,
        name: e.name,
        team: e.team_slug,
        app: e.app_slug,
        tier: e.tier,
        state: e.state,
        health: e.health,
        owner: e.owner_login,
        git_ref: e.git_ref,
        pr_number: e.pr_number,
        commit_sha: e.commit_sha,
        created_at: e.created_at,
        expires_at: e.expires_at,
        budget_warning: None,
        approval: None,
    }
}

#[utoipa::path(get, path = "/api/v1/environments", responses(
    (status = 200, body = Vec<EnvironmentJson>, description = "Live environments of the caller's teams, newest first"),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "Token lacks environments:read")))]
async fn list_environments(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<EnvironmentJson>>, ApiError> {
    caller.require_scope(&state, Scope::EnvironmentsRead).await?;
    // Listing spans the caller's teams; the query scopes rows to them
    // (every team for platform admins).
    let viewer = caller.meta.viewer.clone().ok_or(ApiError(AppError::Unauthorized))?;
    let rows = store::environments::list_live_visible(state.db.pool(), &viewer, 1000)
        .await
        .map_err(app::ssr::internal("listing environments for the API"))?;
    Ok(Json(rows.into_iter().map(|e| environment_json(&state, e)).collect()))
}

/// An optional JSON body: empty (or blank) is `T::default()`; anything
/// else must parse, whatever its content type, or it is a 422 saying what
/// was `expected`.
pub(crate) fn optional_body<T: serde::de::DeserializeOwned + Default>(
    raw: &[u8],
    expected: &str,
) -> Result<T, ApiError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(raw).map_err(|e| ApiError(AppError::invalid("body", format!("expected {expected}: {e}"))))
}

/// The JSON body of a request, or a 422 naming what is wrong with it.
pub(crate) fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    payload.map(|Json(v)| v).map_err(|rejection| ApiError(AppError::invalid("body", rejection.body_text())))
}

async fn one(state: &AppState, id: &str) -> Result<EnvironmentJson, ApiError> {
    let listed = store::environments::listed_by_id(state.db.pool(), id)
        .await
        .map_err(app::ssr::internal("reading an environment"))?
        .ok_or(ApiError(AppError::NotFound))?;
    Ok(environment_json(state, listed))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    app: String,
    team: Option<String>,
    branch: Option<String>,
    pr_number: Option<u64>,
    tier: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/environments", request_body = CreateBody, responses(
    (status = 201, body = EnvironmentJson, description = "Created; provisioning has started (state pending)"),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_environment(
    State(state): State<AppState>,
    caller: Caller,
    payload: Result<Json<CreateBody>, JsonRejection>,
) -> Result<(StatusCode, Json<EnvironmentJson>), ApiError> {
    caller.require_scope(&state, Scope::EnvironmentsWrite).await?;
    let b = body(payload)?;
    let tier = match b.tier.as_deref() {
        None => app::domain::tier::Tier::PreviewLightweight,
        Some(t) => {
            t.parse().map_err(|e: app::domain::tier::UnknownTier| ApiError(AppError::invalid("tier", e.to_string())))?
        }
    };
    let new = app::ssr::environments::NewEnvironment {
        app: b.app,
        team: b.team,
        branch: b.branch,
        pr_number: b.pr_number,
        tier,
    };
    let (env, budget_warning) = app::ssr::environments::create_noting_budget(&state, &caller.meta, new).await?;
    let mut json = one(&state, &env.id).await?;
    json.budget_warning = budget_warning;
    Ok((StatusCode::CREATED, Json(json)))
}

#[utoipa::path(get, path = "/api/v1/environments/{id}", params(("id" = String, Path)), responses(
    (status = 200, body = EnvironmentJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_environment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EnvironmentJson>, ApiError> {
    caller.require_scope(&state, Scope::EnvironmentsRead).await?;
    app::ssr::environments::load_visible(&state, &caller.meta, &id, app::domain::authz::Action::ViewEnvironments)
        .await?;
    Ok(Json(one(&state, &id).await?))
}

#[utoipa::path(delete, path = "/api/v1/environments/{id}", params(("id" = String, Path)), responses(
    (status = 202, body = EnvironmentJson, description = "Destroy under way (snapshot first where the tier keeps one), or — where the tier destroys only on an approved request (compliance, production) — waiting in the approval queue: `approval` names the request"),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "The tier's destroy rule (staging: the team's manager or a platform admin)"),
    (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn destroy_environment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<EnvironmentJson>), ApiError> {
    caller.require_scope(&state, Scope::EnvironmentsWrite).await?;
    let outcome = app::ssr::environments::destroy(&state, &caller.meta, &id).await?;
    let mut json = one(&state, &id).await?;
    if let app::ssr::environments::Destroyed::ApprovalRequested(a) = outcome {
        json.approval = Some(approval_of(&state, &caller, &a.id).await?);
    }
    Ok((StatusCode::ACCEPTED, Json(json)))
}

async fn approval_of(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<super::approvals_api::ApprovalJson, ApiError> {
    let item = app::ssr::approvals::item(state, &caller.meta, id, app::ssr::clock::now_ms()).await?;
    Ok(super::approvals_api::approval_json(item))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ExtendBody {
    hours: f64,
}

#[utoipa::path(post, path = "/api/v1/environments/{id}/extend", params(("id" = String, Path)), request_body = ExtendBody, responses(
    (status = 200, body = EnvironmentJson, description = "New expiry"),
    (status = 202, body = EnvironmentJson, description = "The tier needs approval: `approval` is the request in the platform team's queue (asking again returns the same open request)"),
    (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The tier's policy refuses"), (status = 422, body = ErrorBody)))]
async fn extend_environment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Result<Json<ExtendBody>, JsonRejection>,
) -> Result<(StatusCode, Json<EnvironmentJson>), ApiError> {
    caller.require_scope(&state, Scope::EnvironmentsWrite).await?;
    let b = body(payload)?;
    if !b.hours.is_finite() || b.hours <= 0.0 || b.hours > 24.0 * 30.0 {
        return Err(ApiError(AppError::invalid("hours", "give a positive number of hours")));
    }
    // Where the tier needs approval, this queues a request (202) instead.
    let outcome = app::ssr::environments::extend(&state, &caller.meta, &id, (b.hours * 3_600_000.0) as i64).await?;
    let mut json = one(&state, &id).await?;
    let status = match outcome {
        app::ssr::environments::Extended::Moved(_) => StatusCode::OK,
        app::ssr::environments::Extended::ApprovalRequested(a) => {
            json.approval = Some(approval_of(&state, &caller, &a.id).await?);
            StatusCode::ACCEPTED
        }
    };
    Ok((status, Json(json)))
}

#[derive(serde::Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ActivityBody {
    kind: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/environments/{id}/activity", params(("id" = String, Path)), request_body(content = ActivityBody, description = "Optional: {\"kind\": \"commit\"|\"test\"|\"deploy\"|\"api\"}"), responses(
    (status = 200, body = EnvironmentJson, description = "Recorded; resets the TTL where the tier allows"),
    (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn record_activity(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: Option<Json<ActivityBody>>,
) -> Result<Json<EnvironmentJson>, ApiError> {
    caller.require_scope(&state, Scope::EnvironmentsWrite).await?;
    let kind = match payload.and_then(|Json(b)| b.kind).as_deref() {
        None | Some("api") => ActivityKind::Api,
        Some("commit") => ActivityKind::Commit,
        Some("test") => ActivityKind::TestRun,
        Some("deploy") => ActivityKind::Deploy,
        Some(other) => {
            return Err(ApiError(AppError::invalid(
                "kind",
                format!("unknown activity {other:?}; expected commit, test, deploy or api"),
            )))
        }
    };
    app::ssr::environments::act(&state, &caller.meta, &id, Event::Activity(kind), "environment.activity").await?;
    Ok(Json(one(&state, &id).await?))
}

/// An app as the API shows it: never a secret's value, only the names.
#[derive(Serialize, utoipa::ToSchema)]
struct AppJson {
    id: String,
    team: String,
    slug: String,
    name: String,
    repository: String,
    default_branch: String,
    /// The blueprint: driver, build, build_timeout_seconds, start, health_path, database {seed_file | seed, migrate}, env, resources.
    #[schema(value_type = Object)]
    blueprint: serde_json::Value,
    /// Names of the app's secrets (values are write-only).
    secrets: Vec<String>,
    /// Owned by an `[[app]]` table of the configuration: read-only through the API.
    managed_by_config: bool,
    archived: bool,
    created_at: i64,
    updated_at: Option<i64>,
}

fn app_json(v: app::api::apps::AppView) -> AppJson {
    AppJson {
        blueprint: serde_json::to_value(&v.blueprint).unwrap_or_default(),
        id: v.id,
        team: v.team,
        slug: v.slug,
        name: v.name,
        repository: v.repository,
        default_branch: v.default_branch,
        secrets: v.secret_names,
        managed_by_config: v.managed_by_config,
        archived: v.archived,
        created_at: v.created_at,
        updated_at: v.updated_at,
    }
}

/// Which team's app, when several teams use the slug.
#[derive(serde::Deserialize, utoipa::IntoParams)]
struct TeamQuery {
    team: Option<String>,
}

/// The body of `POST /api/v1/apps`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateAppBody {
    team: String,
    slug: String,
    name: String,
    /// A local path, file://, https://, ssh:// or user@host:path.
    repository: String,
    /// Default: main.
    default_branch: Option<String>,
    /// driver, build, build_timeout_seconds, start, health_path, database {seed_file | seed, migrate}, env, secrets, resources.
    #[schema(value_type = Object)]
    blueprint: Option<serde_json::Value>,
}

/// The body of `PATCH /api/v1/apps/{slug}`: absent fields keep their value.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateAppBody {
    name: Option<String>,
    repository: Option<String>,
    default_branch: Option<String>,
    /// Replaces the blueprint; its `secrets` merge (a value sets one, null removes it).
    #[schema(value_type = Object)]
    blueprint: Option<serde_json::Value>,
    /// true archives (no new environments), false restores.
    archived: Option<bool>,
}

#[utoipa::path(get, path = "/api/v1/apps", responses(
    (status = 200, body = Vec<AppJson>, description = "Apps of the caller's teams (all for platform admins)"),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "Token lacks apps:read")))]
async fn list_apps(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<AppJson>>, ApiError> {
    caller.require_scope(&state, Scope::AppsRead).await?;
    let apps = app::ssr::apps::list(&state, &caller.meta).await?;
    Ok(Json(apps.into_iter().map(app_json).collect()))
}

#[utoipa::path(post, path = "/api/v1/apps", request_body = CreateAppBody, responses(
    (status = 201, body = AppJson, description = "Registered"),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
    (status = 422, body = ErrorBody, description = "A field is invalid, the repository cannot be read or lacks the default branch")))]
async fn create_app(
    State(state): State<AppState>,
    caller: Caller,
    payload: Result<Json<CreateAppBody>, JsonRejection>,
) -> Result<(StatusCode, Json<AppJson>), ApiError> {
    caller.require_scope(&state, Scope::AppsWrite).await?;
    let b = body(payload)?;
    let input = app::ssr::apps::AppInput {
        team: b.team,
        slug: b.slug,
        name: b.name,
        repository: b.repository,
        default_branch: b.default_branch,
        blueprint: b.blueprint,
    };
    let view = app::ssr::apps::create(&state, &caller.meta, input).await?;
    Ok((StatusCode::CREATED, Json(app_json(view))))
}

#[utoipa::path(get, path = "/api/v1/apps/{slug}", params(("slug" = String, Path), TeamQuery), responses(
    (status = 200, body = AppJson), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_app(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Query(q): Query<TeamQuery>,
) -> Result<Json<AppJson>, ApiError> {
    caller.require_scope(&state, Scope::AppsRead).await?;
    Ok(Json(app_json(app::ssr::apps::get(&state, &caller.meta, q.team.as_deref(), &slug).await?)))
}

#[utoipa::path(patch, path = "/api/v1/apps/{slug}", params(("slug" = String, Path), TeamQuery), request_body = UpdateAppBody, responses(
    (status = 200, body = AppJson), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Managed by the configuration file"),
    (status = 422, body = ErrorBody)))]
async fn update_app(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Query(q): Query<TeamQuery>,
    payload: Result<Json<UpdateAppBody>, JsonRejection>,
) -> Result<Json<AppJson>, ApiError> {
    caller.require_scope(&state, Scope::AppsWrite).await?;
    let b = body(payload)?;
    let patch = app::ssr::apps::AppPatch {
        name: b.name,
        repository: b.repository,
        default_branch: b.default_branch,
        blueprint: b.blueprint,
        archived: b.archived,
    };
    Ok(Json(app_json(app::ssr::apps::update(&state, &caller.meta, q.team.as_deref(), &slug, patch).await?)))
}

#[utoipa::path(delete, path = "/api/v1/apps/{slug}", params(("slug" = String, Path), TeamQuery), responses(
    (status = 200, body = AppJson, description = "Archived: no new environments; running ones live out their TTL"),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "Managed by the configuration file")))]
async fn archive_app(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Query(q): Query<TeamQuery>,
) -> Result<Json<AppJson>, ApiError> {
    caller.require_scope(&state, Scope::AppsWrite).await?;
    Ok(Json(app_json(app::ssr::apps::archive(&state, &caller.meta, q.team.as_deref(), &slug).await?)))
}

#[utoipa::path(post, path = "/api/v1/apps/{slug}/template", params(("slug" = String, Path), TeamQuery), responses(
    (status = 200, body = AppJson, description = "The next environment builds a fresh template database"),
    (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rebuild_template(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    Query(q): Query<TeamQuery>,
) -> Result<Json<AppJson>, ApiError> {
    caller.require_scope(&state, Scope::AppsWrite).await?;
    Ok(Json(app_json(app::ssr::apps::rebuild_template(&state, &caller.meta, q.team.as_deref(), &slug).await?)))
}
