//! Cross-site request forgery defence: a state-changing request (anything
//! but GET, HEAD, OPTIONS) from a browser must come from the portal's own
//! origin. Leptos server functions have no CSRF protection of their own, and
//! SameSite=Lax cookies still ride along on same-site subdomains (previews
//! live on `*.localhost`), so the Origin check is what stops forgery.
//! Requests authenticated with a bearer token carry no ambient credentials
//! and are exempt.

use app::ssr::store::{self, audit::AuditEvent, audit::Outcome};
use app::ssr::{AppState, RequestMeta};
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The decision, separate from IO so it can be tested directly.
pub fn is_allowed(
    method: &Method,
    origin: Option<&str>,
    fetch_site: Option<&str>,
    bearer: bool,
    own_origin: &str,
) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) || bearer {
        return true;
    }
    match (origin, fetch_site) {
        (Some(origin), _) => origin.eq_ignore_ascii_case(own_origin),
        // Browsers that omit Origin still send Fetch Metadata.
        (None, Some(site)) => site == "same-origin" || site == "none",
        (None, None) => false,
    }
}

pub async fn check_origin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let text = |name: &header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let bearer = text(&header::AUTHORIZATION).is_some_and(|v| v.starts_with("Bearer "));
    let origin = text(&header::ORIGIN);
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let meta = req.extensions().get::<RequestMeta>().cloned().unwrap_or_default();
    // An API call without a session carries no ambient credentials to forge
    // with: the API answers it (401) rather than this check (403).
    let anonymous_api = meta.viewer.is_none() && req.uri().path().starts_with("/api/v1/");
    if anonymous_api || is_allowed(req.method(), origin, fetch_site, bearer, &state.settings.public_origin) {
        return next.run(req).await;
    }
    if !super::throttle::FAILURES.allow_failure_from(meta.ip.as_deref()) {
        return super::throttle::too_many();
    }
    let event = AuditEvent::from_request(&meta, "csrf.reject", "request", None, Outcome::Denied).with_detail(
        serde_json::json!({ "path": req.uri().path(), "method": req.method().as_str(), "origin": origin.unwrap_or("") }),
    );
    if let Err(err) = store::audit::append(state.db.pool(), &event).await {
        tracing::error!(error = %err, "auditing a rejected cross-origin request");
    }
    (StatusCode::FORBIDDEN, "Cross-origin request refused: state-changing requests must come from the portal itself.")
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "http://127.0.0.1:3000";

    #[test]
    fn safe_methods_pass_from_anywhere() {
        assert!(is_allowed(&Method::GET, Some("https://evil.example"), None, false, OWN));
    }

    #[test]
    fn posts_need_the_portal_origin() {
        assert!(is_allowed(&Method::POST, Some(OWN), None, false, OWN));
        assert!(!is_allowed(&Method::POST, Some("https://evil.example"), None, false, OWN));
        // A preview's own origin is another origin.
        assert!(!is_allowed(&Method::POST, Some("http://x.localhost:3000"), Some("same-site"), false, OWN));
    }

    #[test]
    fn without_origin_fetch_metadata_decides() {
        assert!(is_allowed(&Method::POST, None, Some("same-origin"), false, OWN));
        assert!(!is_allowed(&Method::POST, None, Some("cross-site"), false, OWN));
        assert!(!is_allowed(&Method::DELETE, None, None, false, OWN));
    }

    #[test]
    fn bearer_token_calls_are_exempt() {
        assert!(is_allowed(&Method::POST, None, None, true, OWN));
    }
}
