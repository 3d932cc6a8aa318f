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
    modifiers(&BearerAuth, &ErrorResponses),
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

/// The errors any operation can answer, documented on every operation that
/// does not describe them itself — all with the `ErrorBody` shape: 401
/// (no or bad credentials), 403 (role or token scope), 422 (a parameter or
/// body), 429 (too many failed attempts from an address), 500; 404 where
/// the path names something; 400/413/415 where a body is read.
struct ErrorResponses;

impl utoipa::Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let named = path.contains('{');
            let changes = [&mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for op in changes.into_iter().flatten() {
                if named {
                    op.responses.responses.entry("409".to_string()).or_insert_with(|| {
                        error("The thing named is not in a state that allows it (e.g. already destroyed)").into()
                    });
                }
            }
            // Recording activity takes an empty body as {"kind": "api"}; an
            // approval needs no reason.
            if path.ends_with("/activity") || path.ends_with("/approve") {
                if let Some(utoipa::openapi::RefOr::T(body)) =
                    item.post.as_mut().and_then(|op| op.request_body.as_mut())
                {
                    body.required = Some(utoipa::openapi::Required::False);
                }
            }
            let ops = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for op in ops.into_iter().flatten() {
                let mut wanted = vec![
                    ("401", "No credentials, or a token or session that is not valid"),
                    ("403", "The caller's role or the token's scopes do not allow it"),
                    ("422", "A parameter or the body is not valid (`field` names it)"),
                    ("429", "Too many failed attempts from this address: wait a minute"),
                    ("500", "The portal failed; the request changed nothing"),
                ];
                if named {
                    wanted.push(("404", "Nothing by that name the caller may see"));
                }
                if op.request_body.is_some() {
                    wanted.push(("400", "The body is not JSON"));
                    wanted.push(("413", "The body is larger than 2 MB"));
                    wanted.push(("415", "The body is not application/json"));
                }
                for (status, description) in wanted {
                    op.responses.responses.entry(status.to_string()).or_insert_with(|| error(description).into());
                }
                // OpenAPI requires a description on every response.
                for (status, response) in op.responses.responses.iter_mut() {
                    if let utoipa::openapi::RefOr::T(r) = response {
                        if r.description.is_empty() {
                            r.description = match status.as_str() {
                                "401" => "No credentials, or a token or session that is not valid",
                                "403" => "The caller's role or the token's scopes do not allow it",
                                "404" => "Nothing by that name the caller may see",
                                "409" => "The thing named is not in a state that allows it",
                                "422" => "A parameter or the body is not valid (`field` names it)",
                                s if s.starts_with('2') => "Done",
                                _ => "See the error body",
                            }
                            .to_string();
                        }
                    }
                }
            }
        }
    }
}

async fn openapi() -> Json<serde_json::Value> {
    Json(openapi_document())
}

/// The document as served. A query string cannot carry `null`, so an
/// optional query parameter is documented as its plain type (utoipa
/// describes an `Option` as nullable).
pub(crate) fn openapi_document() -> serde_json::Value {
    let mut doc = serde_json::to_value(<ApiDoc as utoipa::OpenApi>::openapi()).unwrap_or_default();
    let params = doc["paths"].as_object_mut().into_iter().flat_map(|paths| paths.values_mut());
    let params = params.filter_map(|item| item.as_object_mut()).flat_map(|ops| ops.values_mut());
    let params = params.filter_map(|op| op.get_mut("parameters")?.as_array_mut()).flatten();
    for param in params.filter(|p| p["in"] == "query") {
        let schema = &mut param["schema"];
        if let Some(types) = schema.get_mut("type").and_then(|t| t.as_array_mut()) {
            types.retain(|t| t != "null");
            if types.len() == 1 {
                schema["type"] = types[0].clone();
            }
        }
        if let Some(one_of) = schema.get("oneOf").and_then(|o| o.as_array()) {
            let kept: Vec<_> = one_of.iter().filter(|s| s["type"] != "null").cloned().collect();
            if kept.len() == 1 {
                *schema = kept[0].clone();
            }
        }
    }
    doc
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

/// The largest body the API reads (axum's default limit).
const MAX_BODY: usize = 2 * 1024 * 1024;

/// PostgreSQL text cannot hold NUL, so a request under `/api/v1/` whose
/// path, query or JSON body carries one is refused with 422 before any
/// handler reads it — on both databases alike. Requests without
/// credentials pass on, to be answered 401 first.
pub async fn refuse_nul(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if !req.uri().path().starts_with("/api/v1/") {
        return next.run(req).await;
    }
    let credentials = req.headers().contains_key(header::AUTHORIZATION)
        || req.extensions().get::<RequestMeta>().is_some_and(|m| m.viewer.is_some());
    if !credentials {
        return next.run(req).await;
    }
    let nul = || ApiError(AppError::invalid("text", "text may not contain NUL characters")).into_response();
    if req.uri().to_string().contains("%00") {
        return nul();
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let message = "the body is larger than 2 MB".to_string();
            return ApiError(AppError::Unreadable { status: 413, message }).into_response();
        }
    };
    // Only bodies that spell an escaped NUL are parsed again.
    if bytes.windows(6).any(|w| w == b"\\u0000") {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            if holds_nul(&value) {
                return nul();
            }
        }
    }
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

fn holds_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(holds_nul),
        serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// Every error under `/api/v1/` has the documented shape: what answers
/// without it (an extractor's rejection, 405, 413, the CSRF check) is
/// rewritten, keeping its status and headers.
pub async fn errors_as_json(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let api = req.uri().path().starts_with("/api/v1/");
    let res = next.run(req).await;
    let json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !api || res.status().as_u16() < 400 || json {
        return res;
    }
    let status = res.status();
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_string() } else { text };
    let body = ErrorBody { error: ErrorDetail { status: status.as_u16(), message, field: None } };
    let mut out = (status, Json(body)).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    if status == StatusCode::UNAUTHORIZED && !out.headers().contains_key(header::WWW_AUTHENTICATE) {
        out.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    }
    out
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

/// The most environments one page of `GET /api/v1/environments` holds.
pub const MAX_PAGE: i64 = 500;
const DEFAULT_PAGE: i64 = 100;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct EnvironmentsQuery {
    /// Environments per page: 1–500, default 100.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// Where to continue: the `cursor` of the previous page's `next` link (opaque).
    cursor: Option<String>,
    /// A team slug.
    team: Option<String>,
    /// An app slug.
    app: Option<String>,
    /// A tier.
    #[param(inline)]
    tier: Option<TierName>,
    /// A state; without it, every live (not destroyed) environment.
    #[param(inline)]
    state: Option<StateName>,
    /// Part of a name or branch (case-insensitive).
    q: Option<String>,
}

/// A tier, as the API spells it.
#[derive(serde::Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum TierName {
    PreviewLightweight,
    PreviewFull,
    PreviewCompliance,
    Staging,
    Production,
}

/// A lifecycle state, as the API spells it.
#[derive(serde::Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum StateName {
    Pending,
    Ready,
    Active,
    Idle,
    Expiring,
    Destroyed,
    Failed,
}

/// One page of environments and the link to the next.
#[derive(Serialize, utoipa::ToSchema)]
struct EnvironmentPage {
    items: Vec<EnvironmentJson>,
    /// The next page (a path with its query, also sent as a `Link` header
    /// with `rel="next"`); null on the last page.
    next: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/environments", params(EnvironmentsQuery), responses(
    (status = 200, body = EnvironmentPage, description = "The caller's teams' environments (every team's for platform admins), newest first, one page at a time: follow `next` until it is null"),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "Token lacks environments:read"),
    (status = 422, body = ErrorBody, description = "A parameter is not valid")))]
async fn list_environments(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<EnvironmentsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    use app::domain::listing::{parse_key, ListQuery, Sort};
    caller.require_scope(&state, Scope::EnvironmentsRead).await?;
    let Query(raw) = query.map_err(|r| ApiError(AppError::invalid("query", r.body_text())))?;
    let limit = raw.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError(AppError::invalid("limit", format!("limit must be 1–{MAX_PAGE}"))));
    }
    if let Some(c) = &raw.cursor {
        if parse_key(Sort::Newest, c).is_none() {
            return Err(ApiError(AppError::invalid("cursor", "not a cursor this API gave out")));
        }
    }
    // The same filters as the page, read strictly: a bad value is an error here.
    let params = |k: &str| match k {
        "team" => raw.team.clone(),
        "app" => raw.app.clone(),
        "q" => raw.q.clone(),
        _ => None,
    };
    let mut q = ListQuery::from_params(params);
    q.tier = as_domain(raw.tier.as_ref(), "tier")?;
    q.state = as_domain(raw.state.as_ref(), "state")?;
    // A team or app the caller cannot see is an error, not an empty list.
    let catalog = state.db.catalog().await.map_err(app::ssr::internal("reading teams and apps"))?;
    let viewer = caller.meta.viewer.as_ref().ok_or(ApiError(AppError::Unauthorized))?;
    if let Some(team) = &q.team {
        if !catalog.teams.iter().any(|t| &t.slug == team && viewer.can_see_team(&t.id)) {
            return Err(ApiError(AppError::invalid("team", "no such team among yours")));
        }
    }
    if let Some(app) = &q.app {
        if !catalog.apps.iter().any(|a| &a.slug == app && viewer.can_see_team(&a.team_id)) {
            return Err(ApiError(AppError::invalid("app", "no such app among your teams'")));
        }
    }
    let q = q.with_cursor(raw.cursor.clone(), None);
    // Listing spans the caller's teams; the query scopes rows to them
    // (every team for platform admins).
    let viewer = caller.meta.viewer.clone().ok_or(ApiError(AppError::Unauthorized))?;
    let page = store::environments::list_page(state.db.pool(), &viewer, &q, limit, false)
        .await
        .map_err(app::ssr::internal("listing environments for the API"))?;
    let next = page.next.map(|key| {
        let mut pairs = vec![format!("limit={limit}"), format!("cursor={}", app::domain::listing::encode(&key))];
        for (k, v) in [("team", &q.team), ("app", &q.app), ("q", &q.search)] {
            if let Some(v) = v {
                pairs.push(format!("{k}={}", app::domain::listing::encode(v)));
            }
        }
        if let Some(t) = q.tier {
            pairs.push(format!("tier={}", t.as_str()));
        }
        if let Some(s) = q.state {
            pairs.push(format!("state={}", s.as_str()));
        }
        format!("/api/v1/environments?{}", pairs.join("&"))
    });
    let body = EnvironmentPage {
        items: page.rows.into_iter().map(|e| environment_json(&state, e)).collect(),
        next: next.clone(),
    };
    let mut res = Json(body).into_response();
    if let Some(link) = next.and_then(|n| header::HeaderValue::from_str(&format!("<{n}>; rel=\"next\"")).ok()) {
        res.headers_mut().insert(header::LINK, link);
    }
    Ok(res)
}

/// A unit enum variant's serde name (`preview-full`).
/// The domain value an API enum (`TierName`, `StateName`) spells.
fn as_domain<N: Serialize, T: std::str::FromStr>(name: Option<&N>, field: &str) -> Result<Option<T>, ApiError> {
    name.map(|n| serde_plain(n).parse().map_err(|_| ApiError(AppError::invalid(field, format!("unknown {field}")))))
        .transpose()
}

fn serde_plain<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
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
    serde_json::from_slice(raw).map_err(|e| {
        let message = format!("expected {expected}: {e}");
        ApiError(if e.is_syntax() || e.is_eof() {
            AppError::Unreadable { status: 400, message }
        } else {
            AppError::invalid("body", message)
        })
    })
}

/// A JSON body, or the error saying why it cannot be read: 400 (not JSON),
/// 413, 415, or 422 naming the field that is wrong.
pub(crate) fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    payload.map(|Json(v)| v).map_err(|rejection| ApiError(body_error(&rejection)))
}

fn body_error(rejection: &JsonRejection) -> AppError {
    let text = rejection.body_text();
    if rejection.status() != StatusCode::UNPROCESSABLE_ENTITY {
        return AppError::Unreadable { status: rejection.status().as_u16(), message: text };
    }
    // serde says where: "Failed to deserialize …: tier: unknown variant …".
    let detail = text.split_once("target type: ").map_or(text.as_str(), |(_, d)| d);
    match detail.split_once(": ") {
        Some((field, why))
            if !field.is_empty() && field.chars().all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c)) =>
        {
            AppError::invalid(field, why)
        }
        _ => AppError::invalid("body", detail),
    }
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
    /// An app's slug.
    #[schema(min_length = 1, max_length = 40)]
    app: String,
    /// The app's team, when several teams use the slug.
    team: Option<String>,
    /// A branch of the app's repository; give it or `pr_number`.
    #[schema(min_length = 1, max_length = 200)]
    branch: Option<String>,
    /// A pull request of the app's repository (instead of a branch).
    #[schema(minimum = 1, maximum = 2_147_483_647)]
    pr_number: Option<u64>,
    /// Default: preview-lightweight.
    #[schema(inline)]
    tier: Option<TierName>,
}

#[utoipa::path(post, path = "/api/v1/environments", request_body = CreateBody, params(
    ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 printable ASCII characters: the same key with the same body within a day answers as the first request did (the same environment and status, `Idempotent-Replayed: true`); with another body it is refused (422)")),
    responses(
    (status = 201, body = EnvironmentJson, description = "Created; provisioning has started (state pending)",
        headers(("Idempotent-Replayed" = String, description = "`true` when this answers an earlier request with the same Idempotency-Key"),
            ("Location" = String, description = "The environment: `/api/v1/environments/{id}`"))),
    (status = 200, body = EnvironmentJson, description = "The pull request's preview, which it already had (one per pull request, whatever tier was asked)",
        headers(("Idempotent-Replayed" = String, description = "`true` when this answers an earlier request with the same Idempotency-Key"),
            ("Location" = String, description = "The environment: `/api/v1/environments/{id}`"))),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_environment(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    payload: Result<Json<CreateBody>, JsonRejection>,
) -> Result<axum::response::Response, ApiError> {
    caller.require_scope(&state, Scope::EnvironmentsWrite).await?;
    let b = body(payload)?;
    let tier = match &b.tier {
        None => app::domain::tier::Tier::PreviewLightweight,
        Some(t) => serde_plain(t)
            .parse()
            .map_err(|e: app::domain::tier::UnknownTier| ApiError(AppError::invalid("tier", e.to_string())))?,
    };
    let key = idempotency_key(&headers, &b, tier)?;
    let new = app::ssr::environments::NewEnvironment {
        app: b.app,
        team: b.team,
        branch: b.branch,
        pr_number: b.pr_number,
        tier,
    };
    let created = app::ssr::environments::create_with_key(&state, &caller.meta, new, key.as_ref()).await?;
    let mut json = one(&state, &created.env.id).await?;
    json.budget_warning = created.budget_warning;
    let status = if created.existing { StatusCode::OK } else { StatusCode::CREATED };
    let mut res = axum::response::IntoResponse::into_response((status, Json(json)));
    // Where the environment lives, for a 201 and for the existing one (200).
    if let Ok(at) = axum::http::HeaderValue::from_str(&format!("/api/v1/environments/{}", created.env.id)) {
        res.headers_mut().insert(axum::http::header::LOCATION, at);
    }
    if created.replayed {
        res.headers_mut().insert("idempotent-replayed", axum::http::HeaderValue::from_static("true"));
    }
    Ok(res)
}

/// The request's `Idempotency-Key`, with what the body asked (the default
/// tier spelt out or not is the same request).
fn idempotency_key(
    headers: &axum::http::HeaderMap,
    b: &CreateBody,
    tier: app::domain::tier::Tier,
) -> Result<Option<app::ssr::environments::IdempotencyKey>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key = value
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|c| (0x20..=0x7e).contains(&c)))
        .ok_or_else(|| ApiError(AppError::invalid("Idempotency-Key", "give 1 to 255 printable ASCII characters")))?;
    let request = serde_json::json!({
        "app": b.app, "team": b.team, "branch": b.branch, "pr_number": b.pr_number,
        "tier": tier.as_str(),
    });
    Ok(Some(app::ssr::environments::IdempotencyKey { key: key.to_string(), request: request.to_string() }))
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
    /// From 0.01 (36 s) to 720 (30 days); the tier's policy may allow less.
    #[schema(minimum = 0.01, maximum = 720.0)]
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
    if !b.hours.is_finite() || b.hours < 0.01 || b.hours > 24.0 * 30.0 {
        return Err(ApiError(AppError::invalid("hours", "give a number of hours from 0.01 to 720")));
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
    /// What happened; default api.
    #[schema(inline)]
    kind: Option<ActivityName>,
}

/// A kind of activity, as the API spells it.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum ActivityName {
    Commit,
    Test,
    Deploy,
    Api,
}

#[utoipa::path(post, path = "/api/v1/environments/{id}/activity", params(("id" = String, Path)), request_body(content = ActivityBody, description = "Optional: an empty body means {\"kind\": \"api\"}", content_type = "application/json"), responses(
    (status = 200, body = EnvironmentJson, description = "Recorded; resets the TTL where the tier allows"),
    (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn record_activity(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    payload: axum::body::Bytes,
) -> Result<Json<EnvironmentJson>, ApiError> {
    caller.require_scope(&state, Scope::EnvironmentsWrite).await?;
    let b: ActivityBody = optional_body(&payload, "{\"kind\": \"commit\" | \"test\" | \"deploy\" | \"api\"}")?;
    let kind = match b.kind {
        None | Some(ActivityName::Api) => ActivityKind::Api,
        Some(ActivityName::Commit) => ActivityKind::Commit,
        Some(ActivityName::Test) => ActivityKind::TestRun,
        Some(ActivityName::Deploy) => ActivityKind::Deploy,
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
    /// The blueprint: driver (`local` or `script`), build, build_timeout_seconds, start, health_path, database {seed_file | seed, migrate}, env, resources; for the script driver create, status, destroy, snapshot, step_timeout_seconds.
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

/// The `team` parameter, or a 422 naming what is wrong with the query.
fn team_of(q: &Result<Query<TeamQuery>, axum::extract::rejection::QueryRejection>) -> Result<Option<&str>, ApiError> {
    match q {
        Ok(Query(q)) => Ok(q.team.as_deref()),
        Err(r) => Err(ApiError(AppError::invalid("query", r.body_text()))),
    }
}

/// Which team's app, when several teams use the slug.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct TeamQuery {
    team: Option<String>,
}

/// The body of `POST /api/v1/apps`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateAppBody {
    /// A team slug.
    #[schema(min_length = 1)]
    team: String,
    /// 1–40 lowercase letters, digits and dashes.
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 40)]
    slug: String,
    /// 1–80 characters.
    #[schema(min_length = 1, max_length = 80)]
    name: String,
    /// A local path, file://, https://, ssh:// or user@host:path.
    #[schema(min_length = 1)]
    repository: String,
    /// Default: main.
    default_branch: Option<String>,
    /// driver (`local`, or `script`: platform admins only), build, build_timeout_seconds, start, health_path, database {seed_file | seed, migrate}, env, secrets, resources; for the script driver create, status, destroy, snapshot, step_timeout_seconds.
    #[schema(value_type = Object)]
    blueprint: Option<serde_json::Value>,
}

/// The body of `PATCH /api/v1/apps/{slug}`: absent fields keep their value.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateAppBody {
    /// 1–80 characters.
    #[schema(min_length = 1, max_length = 80)]
    name: Option<String>,
    /// A local path, file://, https://, ssh:// or user@host:path.
    #[schema(min_length = 1)]
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
    q: Result<Query<TeamQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AppJson>, ApiError> {
    caller.require_scope(&state, Scope::AppsRead).await?;
    Ok(Json(app_json(app::ssr::apps::get(&state, &caller.meta, team_of(&q)?, &slug).await?)))
}

#[utoipa::path(patch, path = "/api/v1/apps/{slug}", params(("slug" = String, Path), TeamQuery), request_body = UpdateAppBody, responses(
    (status = 200, body = AppJson), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Managed by the configuration file"),
    (status = 422, body = ErrorBody)))]
async fn update_app(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    q: Result<Query<TeamQuery>, axum::extract::rejection::QueryRejection>,
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
    Ok(Json(app_json(app::ssr::apps::update(&state, &caller.meta, team_of(&q)?, &slug, patch).await?)))
}

#[utoipa::path(delete, path = "/api/v1/apps/{slug}", params(("slug" = String, Path), TeamQuery), responses(
    (status = 200, body = AppJson, description = "Archived: no new environments; running ones live out their TTL"),
    (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, body = ErrorBody, description = "Managed by the configuration file")))]
async fn archive_app(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    q: Result<Query<TeamQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AppJson>, ApiError> {
    caller.require_scope(&state, Scope::AppsWrite).await?;
    Ok(Json(app_json(app::ssr::apps::archive(&state, &caller.meta, team_of(&q)?, &slug).await?)))
}

#[utoipa::path(post, path = "/api/v1/apps/{slug}/template", params(("slug" = String, Path), TeamQuery), responses(
    (status = 200, body = AppJson, description = "The next environment builds a fresh template database"),
    (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rebuild_template(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    q: Result<Query<TeamQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AppJson>, ApiError> {
    caller.require_scope(&state, Scope::AppsWrite).await?;
    Ok(Json(app_json(app::ssr::apps::rebuild_template(&state, &caller.meta, team_of(&q)?, &slug).await?)))
}
