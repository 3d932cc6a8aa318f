//! Versioned assets (seed §11.1): cargo-leptos puts a content hash in every
//! file name under /pkg, so those are cached for a year and never
//! invalidated; HTML is revalidated on every load so a deploy shows at once.

use axum::body::Body;
use axum::http::{header, HeaderValue, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use leptos::prelude::LeptosOptions;
use tower_http::services::ServeDir;

pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

pub fn router<S: Clone + Send + Sync + 'static>(options: &LeptosOptions) -> Router<S> {
    let pkg_dir = std::path::Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    let route = format!("/{}", options.site_pkg_dir.trim_matches('/'));
    Router::new().nest_service(&route, ServeDir::new(pkg_dir).precompressed_br().precompressed_gzip())
}

/// Sets Cache-Control by what is served: immutable for hashed assets,
/// `no-cache` for HTML.
pub async fn cache_control(req: Request<Body>, next: Next) -> Response {
    let is_asset = req.uri().path().starts_with("/pkg/");
    let mut res = next.run(req).await;
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_asset && res.status().is_success() {
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    } else if is_html {
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    res
}
