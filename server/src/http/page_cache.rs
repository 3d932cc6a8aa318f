//! The Environments page, rendered once and sent again while nothing it
//! shows can have changed. Rendering it (every row, the filters, the
//! New-preview choices and the data the browser hydrates from) was most of
//! a page view's CPU at 10,000 environments, and a team reloads the same
//! page often.
//!
//! "Nothing changed" means: the same person and the same URL, no audit
//! event appended since it was rendered (every state change appends one in
//! its transaction, on any replica: one indexed `MAX` per request checks
//! that), and at most `EOD_PAGE_CACHE_MS` old — which also bounds how old
//! its relative times ("12 min ago") and a transaction that commits after a
//! later one can be (plus up to a second while one request renders it
//! again and the others still get it). Every reply gets a fresh CSP nonce
//! of its own.

use app::ssr::{AppState, RequestMeta};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bytes of pages kept at most (an admin's page at 10,000 environments is
/// about 130 KB, a team member's 35 KB).
const MAX_BYTES: usize = 16 << 20;
/// A page larger than this is sent but not kept.
const MAX_PAGE: usize = 1 << 20;
/// How long past its age an unchanged page is still sent while one request
/// renders it again (so the others do not all render it at once).
const STALE_GRACE: Duration = Duration::from_secs(1);

/// The pages kept, by (user, URL).
pub struct PageCache {
    max_age: Duration,
    pages: Mutex<Pages>,
}

#[derive(Default)]
struct Pages {
    by_key: HashMap<(String, String), Arc<Page>>,
    bytes: usize,
}

struct Page {
    at: Instant,
    /// The newest audit event when it was rendered.
    seq: i64,
    headers: HeaderMap,
    body: Bytes,
    /// The nonce its scripts and its policy carry, replaced in each reply.
    nonce: String,
    /// A request is rendering it again (it is past its age).
    refreshing: AtomicBool,
}

impl PageCache {
    /// `max_age` zero: nothing is kept, every view renders.
    pub fn new(max_age: Duration) -> Arc<Self> {
        Arc::new(PageCache { max_age, pages: Mutex::new(Pages::default()) })
    }

    fn get(&self, key: &(String, String), seq: i64) -> Option<Arc<Page>> {
        let pages = self.pages.lock().ok()?;
        let page = pages.by_key.get(key)?;
        if page.seq != seq {
            return None;
        }
        let age = page.at.elapsed();
        // Past its age with nothing changed but the clock: the first request
        // renders it again, the others meanwhile get this one.
        let fresh =
            age < self.max_age || (age < self.max_age + STALE_GRACE && page.refreshing.swap(true, Ordering::AcqRel));
        fresh.then(|| page.clone())
    }

    fn put(&self, key: (String, String), page: Page) {
        let Ok(mut pages) = self.pages.lock() else { return };
        let size = page.body.len();
        if pages.bytes + size > MAX_BYTES {
            // Full: drop what is too old to be sent again, else everything.
            let max_age = self.max_age;
            pages.by_key.retain(|_, p| p.at.elapsed() < max_age);
            if pages.by_key.values().map(|p| p.body.len()).sum::<usize>() + size > MAX_BYTES {
                pages.by_key.clear();
            }
            pages.bytes = pages.by_key.values().map(|p| p.body.len()).sum();
        }
        pages.bytes += size;
        if let Some(old) = pages.by_key.insert(key, Arc::new(page)) {
            pages.bytes -= old.body.len();
        }
    }
}

/// The middleware: inside the layer that resolves the signed-in person.
pub async fn layer(State((state, cache)): State<(AppState, Arc<PageCache>)>, req: Request, next: Next) -> Response {
    if cache.max_age.is_zero() || req.method() != Method::GET || req.uri().path() != "/" {
        return next.run(req).await;
    }
    let Some(user) = req.extensions().get::<RequestMeta>().and_then(|m| m.viewer.as_ref()).map(|v| v.user_id.clone())
    else {
        return next.run(req).await;
    };
    let Ok(seq) = latest_change(&state.db).await else {
        return next.run(req).await;
    };
    let key = (user, req.uri().to_string());
    if let Some(page) = cache.get(&key, seq) {
        metrics::counter!("eod_page_cache_total", "result" => "hit").increment(1);
        return reply(&page);
    }
    metrics::counter!("eod_page_cache_total", "result" => "miss").increment(1);
    let res = next.run(req).await;
    let keep = res.status() == StatusCode::OK
        && !res.headers().contains_key(header::SET_COOKIE)
        && res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let Some(nonce) = keep.then(|| nonce_of(res.headers())).flatten() else {
        return res;
    };
    let (parts, body) = res.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(err) => {
            tracing::error!(error = %err, "rendering the Environments page");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    if body.len() <= MAX_PAGE {
        let page = Page {
            at: Instant::now(),
            seq,
            headers: parts.headers.clone(),
            body: body.clone(),
            nonce,
            refreshing: AtomicBool::new(false),
        };
        cache.put(key, page);
    }
    Response::from_parts(parts, Body::from(body))
}

/// The sequence number of the newest audit event.
async fn latest_change(db: &app::ssr::Db) -> sqlx::Result<i64> {
    let sql = format!("SELECT COALESCE(MAX({}), 0) FROM audit_events a", db.audit_seq());
    sqlx::query_scalar(&sql).fetch_one(db.pool()).await
}

/// The nonce of a page's Content-Security-Policy (`'nonce-…'`).
fn nonce_of(headers: &HeaderMap) -> Option<String> {
    let policy = headers.get(header::CONTENT_SECURITY_POLICY)?.to_str().ok()?;
    let start = policy.find("'nonce-")? + "'nonce-".len();
    let len = policy[start..].find('\'')?;
    let nonce = &policy[start..start + len];
    // Long enough that it cannot occur in the page by chance.
    (nonce.len() >= 16).then(|| nonce.to_string())
}

/// A kept page with a new nonce in its scripts and its policy.
fn reply(page: &Page) -> Response {
    let fresh = new_nonce();
    let body = String::from_utf8_lossy(&page.body).replace(&page.nonce, &fresh);
    let mut headers = page.headers.clone();
    if let Some(policy) = headers.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()) {
        if let Ok(v) = HeaderValue::from_str(&policy.replace(&page.nonce, &fresh)) {
            headers.insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    headers.remove(header::CONTENT_LENGTH);
    let mut res = Response::new(Body::from(body));
    *res.headers_mut() = headers;
    res
}

/// 128 random bits, as the nonces Leptos makes.
fn new_nonce() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pages_nonce_is_read_from_its_policy() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self' 'nonce-AbCdEfGhIjKlMnOpQrSt' 'wasm-unsafe-eval'",
            ),
        );
        assert_eq!(nonce_of(&h).as_deref(), Some("AbCdEfGhIjKlMnOpQrSt"));
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("script-src 'nonce-short'"));
        assert_eq!(nonce_of(&h), None, "too short to replace safely");
        h.remove(header::CONTENT_SECURITY_POLICY);
        assert_eq!(nonce_of(&h), None);
    }

    #[test]
    fn each_reply_gets_its_own_nonce() {
        let old = "AbCdEfGhIjKlMnOpQrSt";
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&format!("script-src 'nonce-{old}'")).unwrap(),
        );
        let page = Page {
            at: Instant::now(),
            seq: 1,
            headers,
            body: Bytes::from(format!("<script nonce=\"{old}\">a</script><script nonce=\"{old}\">b</script>")),
            nonce: old.into(),
            refreshing: AtomicBool::new(false),
        };
        let (a, b) = (reply(&page), reply(&page));
        let policy = |r: &Response| r.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
        assert_ne!(policy(&a), policy(&b));
        assert!(!policy(&a).contains(old));
    }

    #[test]
    fn the_kept_bytes_stay_bounded() {
        let cache = PageCache::new(Duration::from_secs(60));
        let page = |n: usize| Page {
            at: Instant::now(),
            seq: 1,
            headers: HeaderMap::new(),
            body: Bytes::from(vec![b'x'; n]),
            nonce: "n".repeat(16),
            refreshing: AtomicBool::new(false),
        };
        for i in 0..40 {
            cache.put((format!("user-{i}"), "/".into()), page(MAX_PAGE));
            let pages = cache.pages.lock().unwrap();
            assert!(pages.bytes <= MAX_BYTES);
            assert_eq!(pages.bytes, pages.by_key.values().map(|p| p.body.len()).sum::<usize>());
        }
        assert!(cache.get(&("user-39".into(), "/".into()), 1).is_some());
        assert!(cache.get(&("user-39".into(), "/".into()), 2).is_none(), "a newer change renders again");
    }

    #[test]
    fn past_its_age_one_request_renders_and_the_others_get_the_kept_page() {
        let cache = PageCache::new(Duration::from_millis(1));
        let key = ("user".to_string(), "/".to_string());
        let page = Page {
            at: Instant::now() - Duration::from_millis(5),
            seq: 7,
            headers: HeaderMap::new(),
            body: Bytes::from_static(b"page"),
            nonce: "n".repeat(16),
            refreshing: AtomicBool::new(false),
        };
        cache.put(key.clone(), page);
        assert!(cache.get(&key, 7).is_none(), "the first renders it again");
        assert!(cache.get(&key, 7).is_some(), "the next gets the kept one meanwhile");
        assert!(cache.get(&key, 8).is_none(), "unless something changed");
        if let Some(p) = cache.pages.lock().unwrap().by_key.get_mut(&key) {
            Arc::get_mut(p).unwrap().at = Instant::now() - STALE_GRACE - Duration::from_millis(5);
        }
        assert!(cache.get(&key, 7).is_none(), "never past the grace");
    }
}
