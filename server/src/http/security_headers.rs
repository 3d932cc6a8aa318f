//! Security headers on every portal response (preview hosts are the
//! environments' own business and pass through the proxy untouched).
//! Pages carry a nonce-based Content-Security-Policy set while rendering
//! (`app::ssr::security`); anything else gets a policy that allows nothing
//! but its own styles, so no response of the portal can be framed.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// For responses that are not rendered pages (JSON, redirects, errors).
/// (The portal's few plain pages — sign-in errors — style themselves inline.)
pub const DEFAULT_POLICY: &str = "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Adds the headers that need no configuration to a response the portal
/// itself makes on a preview host (a refusal, a redirect through sign-in):
/// those are the portal's words, not the workload's.
pub fn on_portal_reply(res: &mut Response) {
    let headers = res.headers_mut();
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(DEFAULT_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
}

/// `https`: whether the portal is served over HTTPS (its public URL), so
/// browsers are told to keep to it (HSTS).
pub async fn add(State(https): State<bool>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(DEFAULT_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Share links and tokens never leave in a Referer to another origin.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    if https {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    res
}
