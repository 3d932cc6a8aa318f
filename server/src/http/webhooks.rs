//! `POST /webhooks/github` and `POST /webhooks/gitlab`: the signature is
//! checked on the raw body before anything parses it; the service logs
//! every delivery (refused ones too) and queues the work, so the answer
//! comes at once, well inside GitHub's 10 seconds.

use crate::config::WebhookSecrets;
use crate::standard_webhooks;
use app::domain::pull_request::Provider;
use app::ssr::pull_requests::{self, Received, Signature, MAX_BODY};
use app::ssr::AppState;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;
use subtle::ConstantTimeEq;

pub fn router(secrets: WebhookSecrets) -> Router<AppState> {
    Router::new()
        .route("/webhooks/github", post(github))
        .route("/webhooks/gitlab", post(gitlab))
        .layer(Extension(Arc::new(secrets)))
        // The handlers read up to MAX_BODY themselves and log what is larger.
        .layer(DefaultBodyLimit::disable())
}

fn text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// The body, or `None` when it is over [`MAX_BODY`] (refused unread).
async fn read(headers: &HeaderMap, body: Body) -> Option<Vec<u8>> {
    let declared = text(headers, header::CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return None;
    }
    axum::body::to_bytes(body, MAX_BODY).await.ok().map(|b| b.to_vec())
}

/// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`.
pub fn github_signature(secret: &str, body: &[u8], header: Option<&str>) -> Signature {
    let Some(header) = header else { return Signature::Missing };
    // Present but not `sha256=…` (say, the old `sha1=`) does not match.
    let Some(presented) = header.strip_prefix("sha256=") else { return Signature::Invalid };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return Signature::Invalid };
    mac.update(body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let presented = presented.to_ascii_lowercase();
    if presented.len() == expected.len() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        Signature::Valid
    } else {
        Signature::Invalid
    }
}

/// GitLab's `X-Gitlab-Token` (the secret itself), or with a `whsec_`
/// secret the Standard Webhooks headers, within five minutes of now.
pub fn gitlab_signature(secret: &str, body: &[u8], headers: &HeaderMap, now_s: i64) -> Signature {
    if secret.starts_with(standard_webhooks::PREFIX) {
        let (Some(id), Some(ts), Some(sig)) =
            (text(headers, "webhook-id"), text(headers, "webhook-timestamp"), text(headers, "webhook-signature"))
        else {
            return Signature::Missing;
        };
        let Ok(ts) = ts.parse::<i64>() else { return Signature::Invalid };
        let fresh = (now_s - ts).abs() <= 300;
        return if fresh && standard_webhooks::verify(secret, &id, ts, body, &sig) {
            Signature::Valid
        } else {
            Signature::Invalid
        };
    }
    match text(headers, "x-gitlab-token") {
        None => Signature::Missing,
        Some(token) if token.len() == secret.len() && bool::from(token.as_bytes().ct_eq(secret.as_bytes())) => {
            Signature::Valid
        }
        Some(_) => Signature::Invalid,
    }
}

async fn github(
    State(state): State<AppState>,
    Extension(secrets): Extension<Arc<WebhookSecrets>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (body, signature) = match (read(&headers, body).await, &secrets.github) {
        (None, _) => (vec![], Signature::TooLarge),
        (Some(body), None) => (body, Signature::NotConfigured),
        (Some(body), Some(secret)) => {
            let signature = github_signature(secret, &body, text(&headers, "x-hub-signature-256").as_deref());
            (body, signature)
        }
    };
    let received = Received {
        provider: Provider::Github,
        delivery_id: text(&headers, "x-github-delivery"),
        event: text(&headers, "x-github-event"),
        signature,
        body,
    };
    answer(&state, received).await
}

async fn gitlab(
    State(state): State<AppState>,
    Extension(secrets): Extension<Arc<WebhookSecrets>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (body, signature) = match (read(&headers, body).await, &secrets.gitlab) {
        (None, _) => (vec![], Signature::TooLarge),
        (Some(body), None) => (body, Signature::NotConfigured),
        (Some(body), Some(secret)) => {
            let signature = gitlab_signature(secret, &body, &headers, app::ssr::clock::now_ms() / 1000);
            (body, signature)
        }
    };
    // GitLab's own de-duplication key first, then the event's UUID.
    let delivery_id = text(&headers, "idempotency-key")
        .or_else(|| text(&headers, "x-gitlab-event-uuid"))
        .or_else(|| text(&headers, "webhook-id"));
    let received =
        Received { provider: Provider::Gitlab, delivery_id, event: text(&headers, "x-gitlab-event"), signature, body };
    answer(&state, received).await
}

async fn answer(state: &AppState, received: Received) -> Response {
    match pull_requests::receive(state, received).await {
        Ok(a) if a.status == 204 => StatusCode::NO_CONTENT.into_response(),
        Ok(a) => {
            let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::OK);
            let body = if status.is_success() {
                serde_json::json!({ "delivery": a.delivery, "outcome": a.message })
            } else {
                serde_json::json!({ "error": { "message": a.message }, "delivery": a.delivery })
            };
            (status, Json(body)).into_response()
        }
        Err(err) => crate::http::api_v1::ApiError::from(err).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_signatures_match_githubs_published_test_vector() {
        // docs.github.com, "Validating webhook deliveries": this secret and
        // payload give exactly this signature.
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(github_signature("It's a Secret to Everybody", b"Hello, World!", Some(header)), Signature::Valid);
        assert_eq!(github_signature("It's a Secret to Everybody", b"Hello, World?", Some(header)), Signature::Invalid);
        assert_eq!(github_signature("another secret", b"Hello, World!", Some(header)), Signature::Invalid);
        assert_eq!(
            github_signature("It's a Secret to Everybody", b"Hello, World!", Some("sha1=757107")),
            Signature::Invalid
        );
        assert_eq!(github_signature("It's a Secret to Everybody", b"Hello, World!", None), Signature::Missing);
    }

    #[test]
    fn gitlab_takes_its_token_or_a_fresh_standard_webhooks_signature() {
        let mut h = HeaderMap::new();
        assert_eq!(gitlab_signature("a-token-of-16-chars", b"{}", &h, 0), Signature::Missing);
        h.insert("x-gitlab-token", "a-token-of-16-chars".parse().unwrap());
        assert_eq!(gitlab_signature("a-token-of-16-chars", b"{}", &h, 0), Signature::Valid);
        assert_eq!(gitlab_signature("b-token-of-16-chars", b"{}", &h, 0), Signature::Invalid);
        let secret = app::ssr::channels::new_secret();
        let sig = standard_webhooks::sign(&secret, "msg_1", 1_000, b"{}").unwrap();
        let mut s = HeaderMap::new();
        s.insert("webhook-id", "msg_1".parse().unwrap());
        s.insert("webhook-timestamp", "1000".parse().unwrap());
        s.insert("webhook-signature", sig.parse().unwrap());
        assert_eq!(gitlab_signature(&secret, b"{}", &s, 1_100), Signature::Valid);
        assert_eq!(gitlab_signature(&secret, b"{ }", &s, 1_100), Signature::Invalid);
        assert_eq!(gitlab_signature(&secret, b"{}", &s, 2_000), Signature::Invalid, "too old: a replay");
    }
}
