//! Who is asking: the session → viewer middleware, the sign-in gate for
//! pages, and the demo sign-in (only with `EOD_DEMO=1`). Real identity
//! providers plug in beside the demo routes.

use app::domain::measure::Via;
use app::ssr::demo::DEMO_ISSUER;
use app::ssr::store::{self, audit::AuditEvent, audit::Outcome};
use app::ssr::{AppState, RequestMeta};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;
use std::net::SocketAddr;
use tower_sessions::Session;

/// Session key holding the signed-in user's id.
const USER_ID_KEY: &str = "uid";
/// Session key holding when the user signed in (epoch ms), for the absolute timeout.
const SIGNED_IN_AT_KEY: &str = "signed_in_at";
/// Session key holding when the session last refreshed its idle clock (epoch ms).
const SEEN_AT_KEY: &str = "seen_at";
/// Session key holding the page a signed-out visitor asked for, to return
/// to after signing in (e.g. a protected preview's `/preview-access`).
const RETURN_TO_KEY: &str = "return_to";

pub fn router() -> Router<AppState> {
    Router::new().route("/auth/demo", post(demo_sign_in)).route("/auth/logout", post(sign_out))
}

/// Resolves the session's user (if any) into a `RequestMeta` extension that
/// pages, server functions and handlers read.
pub async fn resolve_viewer(State(state): State<AppState>, session: Session, mut req: Request, next: Next) -> Response {
    let now = app::ssr::clock::now_ms();
    let signed_in_at = session.get::<i64>(SIGNED_IN_AT_KEY).await.ok().flatten().unwrap_or(0);
    let expired = now - signed_in_at > state.settings.session_absolute_ms;
    let user_id = match session.get::<String>(USER_ID_KEY).await {
        Ok(Some(_)) if expired => {
            // Past the absolute timeout: the session is deleted, not renewed.
            if let Err(err) = session.flush().await {
                tracing::error!(error = %err, "ending an expired session");
            }
            Ok(None)
        }
        other => other,
    };
    let viewer = match user_id {
        Ok(Some(user_id)) => match state.db.viewer(&user_id).await {
            Ok(None) => {
                // Disabled (or gone): the session ends now, not at its expiry.
                if let Err(err) = session.flush().await {
                    tracing::error!(error = %err, "ending a disabled user's session");
                }
                None
            }
            Ok(v) => v,
            Err(err) => {
                tracing::error!(error = %err, "loading the signed-in user");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        },
        Ok(None) => None,
        Err(err) => {
            tracing::warn!(error = %err, "unreadable session; treating as signed out");
            None
        }
    };
    if viewer.is_some() {
        // The idle expiry moves only when the session is saved; saving on a
        // schedule keeps an active session alive without a write per request.
        let seen_at = session.get::<i64>(SEEN_AT_KEY).await.ok().flatten().unwrap_or(0);
        if now - seen_at >= state.settings.session_refresh_ms {
            if let Err(err) = session.insert(SEEN_AT_KEY, now).await {
                tracing::warn!(error = %err, "refreshing the session");
            }
        }
    }
    let ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    let user_agent =
        req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|s| s.chars().take(256).collect());
    req.extensions_mut().insert(RequestMeta { viewer, ip, user_agent, received_at: Some(now), via: Via::Ui });
    next.run(req).await
}

/// Pages need a signed-in user; everyone else is sent to the sign-in page.
/// Server functions and APIs answer 401 themselves instead.
pub async fn require_sign_in(session: Session, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let public =
        path == "/login" || path.starts_with("/auth/") || path.starts_with("/api/") || path.starts_with("/pkg/");
    let signed_in = req.extensions().get::<RequestMeta>().is_some_and(|m| m.viewer.is_some());
    if public || signed_in || req.method() != axum::http::Method::GET {
        return next.run(req).await;
    }
    // Back here after signing in: only a page a browser navigated to (not a
    // live-update stream, an icon or a script's fetch).
    let navigation =
        req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if path != "/events" && navigation {
        let asked = req.uri().path_and_query().map_or("/", |p| p.as_str());
        if let Err(err) = session.insert(RETURN_TO_KEY, app::domain::preview_access::safe_next(asked)).await {
            tracing::warn!(error = %err, "remembering the page asked for");
        }
    }
    Redirect::to("/login").into_response()
}

/// Where a fresh sign-in goes: the page asked for before, else home.
pub async fn after_sign_in(session: &Session) -> Redirect {
    let back = session.remove::<String>(RETURN_TO_KEY).await.ok().flatten();
    Redirect::to(&app::domain::preview_access::safe_next(back.as_deref().unwrap_or("/")))
}

#[derive(Deserialize)]
pub struct DemoSignIn {
    login: String,
}

async fn demo_sign_in(
    State(state): State<AppState>,
    session: Session,
    axum::Extension(meta): axum::Extension<RequestMeta>,
    Form(form): Form<DemoSignIn>,
) -> Response {
    if !state.settings.demo {
        return (StatusCode::NOT_FOUND, "Demo sign-in is disabled (EOD_DEMO is not set).").into_response();
    }
    let pool = state.db.pool();
    let user = match store::users::find_by_identity(pool, DEMO_ISSUER, form.login.trim()).await {
        Ok(user) => user,
        Err(err) => {
            tracing::error!(error = %err, "demo sign-in lookup");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let Some(user) = user else {
        if !super::throttle::FAILURES.allow_failure_from(meta.ip.as_deref()) {
            return super::throttle::too_many();
        }
        let event = AuditEvent::from_request(&meta, "auth.sign_in", "user", None, Outcome::Failure)
            .with_detail(serde_json::json!({ "provider": "demo", "reason": "unknown demo user" }));
        if let Err(err) = store::audit::append(pool, &event).await {
            tracing::error!(error = %err, "auditing a failed sign-in");
        }
        return error_page(StatusCode::BAD_REQUEST, "There is no demo user with that login.");
    };
    match store::users::is_disabled(pool, &user.id).await {
        Ok(false) => {}
        Ok(true) => return error_page(StatusCode::FORBIDDEN, app::ssr::accounts::DISABLED),
        Err(err) => {
            tracing::error!(error = %err, "demo sign-in lookup");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    }
    if let Err(err) = start_session(&session, &user.id).await {
        tracing::error!(error = %err, "writing the session");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let signed_in = RequestMeta { viewer: store::users::viewer(pool, &user.id).await.ok().flatten(), ..meta };
    let event = AuditEvent::from_request(&signed_in, "auth.sign_in", "user", Some(user.id.clone()), Outcome::Success)
        .with_detail(serde_json::json!({ "provider": "demo" }));
    if let Err(err) = store::audit::append(pool, &event).await {
        tracing::error!(error = %err, "auditing a sign-in");
    }
    after_sign_in(&session).await.into_response()
}

/// Signs `user_id` in on this session under a fresh id (defeats session
/// fixation), starting the absolute-timeout clock.
pub async fn start_session(session: &Session, user_id: &str) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session.insert(USER_ID_KEY, user_id).await?;
    session.insert(SIGNED_IN_AT_KEY, app::ssr::clock::now_ms()).await?;
    Ok(())
}

async fn sign_out(
    State(state): State<AppState>,
    session: Session,
    axum::Extension(meta): axum::Extension<RequestMeta>,
) -> Response {
    // flush() deletes the record from the store, not only the cookie.
    if let Err(err) = session.flush().await {
        tracing::error!(error = %err, "deleting the session");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    if meta.viewer.is_some() {
        let event = AuditEvent::from_request(
            &meta,
            "auth.sign_out",
            "user",
            meta.viewer.as_ref().map(|v| v.user_id.clone()),
            Outcome::Success,
        );
        if let Err(err) = store::audit::append(state.db.pool(), &event).await {
            tracing::error!(error = %err, "auditing a sign-out");
        }
    }
    Redirect::to("/login").into_response()
}

pub fn error_page(status: StatusCode, message: &str) -> Response {
    notice_page(status, "Sign-in failed", message, ("/login", "Back to sign-in"))
}

/// A plain page with a title, a message and one way on.
pub fn notice_page(status: StatusCode, title: &str, message: &str, (href, link): (&str, &str)) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · EoD Portal</title></head>\
         <body style=\"font-family:system-ui;max-width:32rem;margin:4rem auto\"><h1>{title}</h1><p>{}</p>\
         <p><a href=\"{href}\">{link}</a></p></body></html>",
        html_escape(message),
        title = html_escape(title),
        href = html_escape(href),
        link = html_escape(link),
    );
    (status, Html(body)).into_response()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
