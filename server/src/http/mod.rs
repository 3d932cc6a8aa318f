//! The HTTP surface: one router per area, composed here.

pub mod api_v1;
pub mod approvals_api;
pub mod assets;
pub mod audit_csv;
pub mod auth;
pub mod costs_api;
pub mod csrf;
pub mod deployments_api;
pub mod events;
pub mod health;
pub mod insights_api;
pub mod metrics;
pub mod observe;
pub mod oidc;
pub mod page_cache;
pub mod preview_access_api;
pub mod proxy;
pub mod security_headers;
pub mod throttle;
pub mod webhooks;

use crate::config::Config;
use crate::sessions::DbSessionStore;
use app::ssr::AppState;
use axum::Router;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_sessions::cookie::time::Duration;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

pub fn router(
    state: AppState,
    sessions: DbSessionStore,
    identity: std::sync::Arc<oidc::Identity>,
    proxy: std::sync::Arc<proxy::Proxy>,
    config: &Config,
) -> Router {
    let routes = generate_route_list(app::App);
    let leptos_options = state.leptos_options.clone();
    let https = config.public_url.is_https();
    let session_layer = SessionManagerLayer::new(sessions)
        // The __Host- prefix pins the cookie to this origin, but browsers
        // accept it only with Secure, so it is used only behind HTTPS.
        .with_name(if https { "__Host-eod_session" } else { "eod_session" })
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(https)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(Duration::seconds(config.session_idle.as_secs() as i64)));

    let pages = Router::new()
        .leptos_routes(&state, routes, move || app::shell(leptos_options.clone()))
        .merge(auth::router())
        .merge(oidc::router(identity))
        .merge(api_v1::router())
        .merge(costs_api::router())
        .merge(insights_api::router())
        .merge(approvals_api::router())
        .merge(deployments_api::router())
        .merge(preview_access_api::router())
        .merge(audit_csv::router())
        .merge(events::router())
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(app::shell))
        .layer(axum::middleware::from_fn(api_v1::refuse_nul))
        .layer(axum::middleware::from_fn_with_state(
            (state.clone(), page_cache::PageCache::new(config.page_cache)),
            page_cache::layer,
        ))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::require_sign_in))
        .layer(axum::middleware::from_fn_with_state(state.clone(), csrf::check_origin))
        .layer(axum::middleware::from_fn(api_v1::errors_as_json))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::resolve_viewer))
        .layer(session_layer);

    // Webhooks authenticate by their signature, not a session or an origin.
    let mut open = Router::new().merge(health::router()).merge(webhooks::router(config.webhooks.clone()));
    if let Some(token) = &config.metrics.token {
        open = open.merge(metrics::router(token.clone()));
    }
    open.merge(assets::router(&state.leptos_options))
        .merge(pages)
        .layer(axum::middleware::from_fn(assets::cache_control))
        .layer(axum::middleware::from_fn_with_state(https, security_headers::add))
        .layer(axum::middleware::from_fn(observe::layer))
        // Outermost: preview hosts go straight to their environment.
        .layer(axum::middleware::from_fn_with_state((state.clone(), proxy), proxy::route))
        .with_state(state)
}
