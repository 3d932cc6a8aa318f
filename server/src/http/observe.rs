//! What operators watch: a request id on every request (taken from a sane
//! incoming `X-Request-Id`, else made here), carried in the log span, the
//! response header and the jobs the request enqueues; and the HTTP metrics
//! (count and latency by route).

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID: &str = "x-request-id";

/// An incoming id is kept only if it is short and plain (it goes into logs).
fn incoming_id(req: &Request) -> Option<String> {
    let v = req.headers().get(REQUEST_ID)?.to_str().ok()?;
    let ok = !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| v.to_string())
}

pub async fn layer(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = incoming_id(&req).unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    // The route template, not the path: ids in paths would make a series each.
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let method = req.method().clone();
    let span = tracing::info_span!("request", request_id = %id, method = %method, path = %req.uri().path());
    let mut res = app::ssr::request_id::scope(id.clone(), next.run(req).instrument(span.clone())).await;
    let status = res.status().as_u16();
    let route = route.unwrap_or_else(|| if status == 404 { "unmatched".into() } else { "page".into() });
    let elapsed = started.elapsed().as_secs_f64();
    span.in_scope(|| tracing::debug!(status, ms = elapsed * 1000.0, "served"));
    let labels = [("method", method.as_str().to_string()), ("route", route)];
    metrics::counter!(
        "eod_http_requests_total",
        &[labels[0].clone(), labels[1].clone(), ("status", status.to_string())]
    )
    .increment(1);
    metrics::histogram!("eod_http_request_duration_seconds", &labels).record(elapsed);
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    res
}
