//! The preview proxy: requests for `<env-name>.<preview domain>` go to that
//! environment's process. Each request counts as activity (recorded at most
//! every 30 s per environment, so traffic does not become a write storm).

use crate::drivers::Driver;
use app::domain::lifecycle::{ActivityKind, EnvState, Event};
use app::ssr::clock::now_ms;
use app::ssr::{environments, store, AppState};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const ACTIVITY_DEBOUNCE_MS: i64 = 30_000;
const MAX_BODY: usize = 16 * 1024 * 1024;

pub struct Proxy {
    pub driver: Arc<dyn Driver>,
    pub preview_domain: String,
    http: openidconnect::reqwest::Client,
    last_activity: Mutex<HashMap<String, i64>>,
}

impl Proxy {
    pub fn new(driver: Arc<dyn Driver>, preview_domain: String) -> Proxy {
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        Proxy { driver, preview_domain, http, last_activity: Mutex::new(HashMap::new()) }
    }

    /// The environment name a Host header addresses, if any.
    pub fn env_name<'a>(&self, host: &'a str) -> Option<&'a str> {
        let host =
            host.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(h, _)| h);
        let name = host.strip_suffix(&self.preview_domain)?.strip_suffix('.')?;
        app::domain::naming::is_valid_name(name).then_some(name)
    }

    fn should_record(&self, name: &str, now: i64) -> bool {
        let mut map = self.last_activity.lock().expect("activity map");
        match map.get(name) {
            Some(at) if now - at < ACTIVITY_DEBOUNCE_MS => false,
            _ => {
                map.insert(name.to_string(), now);
                true
            }
        }
    }
}

/// Hop-by-hop headers are not forwarded (RFC 9110 §7.6.1).
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
    )
}

pub async fn route(State((state, proxy)): State<(AppState, Arc<Proxy>)>, req: Request, next: Next) -> Response {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let Some(name) = proxy.env_name(&host).map(str::to_string) else {
        return next.run(req).await;
    };
    let env = match store::environments::find_by_name(state.db.pool(), &name).await {
        Ok(Some(v)) => v.env,
        Ok(None) => return (StatusCode::NOT_FOUND, format!("There is no environment named {name}.")).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "proxy lookup");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    if env.pooled {
        return (StatusCode::NOT_FOUND, format!("{name} is a warm-pool member, not yet anyone's environment."))
            .into_response();
    }
    let reachable = env.state.parse::<EnvState>().is_ok_and(|s| s.is_reachable());
    let Some(addr) = (if reachable { proxy.driver.endpoint(&env.id).await } else { None }) else {
        return (StatusCode::SERVICE_UNAVAILABLE, format!("{name} is {} and not serving.", env.state)).into_response();
    };
    let now = now_ms();
    if proxy.should_record(&name, now) {
        let (db, settings, id) = (state.db.clone(), state.settings.clone(), env.id.clone());
        tokio::spawn(async move {
            let traffic = Event::Activity(ActivityKind::Traffic);
            if let Err(err) =
                environments::system_event(&db, &settings.tiers, &id, traffic, "environment.activity").await
            {
                tracing::debug!(error = %err, "recording traffic");
            }
        });
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "Request body too large for the preview proxy.").into_response();
    };
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let send = |addr: std::net::SocketAddr| {
        let mut upstream = proxy.http.request(parts.method.clone(), format!("http://{addr}{path}"));
        for (k, v) in parts.headers.iter().filter(|(k, _)| !hop_by_hop(k)) {
            upstream = upstream.header(k, v);
        }
        upstream.header("x-forwarded-host", host.as_str()).body(bytes.clone()).send()
    };
    let mut sent = send(addr).await;
    // A deployment or rollback switched versions between the lookup and the
    // connect (the old one stopped listening): the request never reached
    // it, so it goes once more to whatever serves now.
    if matches!(&sent, Err(e) if e.is_connect()) {
        if let Some(now_serving) = proxy.driver.endpoint(&env.id).await.filter(|a| *a != addr) {
            sent = send(now_serving).await;
        }
    }
    match sent {
        Ok(res) => {
            let mut out = Response::builder().status(res.status().as_u16());
            for (k, v) in res.headers().iter().filter(|(k, _)| !hop_by_hop(k)) {
                out = out.header(k, v);
            }
            let body = res.bytes().await.unwrap_or_default();
            out.body(Body::from(body)).unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
        }
        Err(err) => (StatusCode::BAD_GATEWAY, format!("{name} did not answer: {err}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoDriver;
    #[async_trait::async_trait]
    impl Driver for NoDriver {
        async fn provision(
            &self,
            _: &crate::drivers::EnvSpec,
        ) -> Result<serde_json::Value, crate::drivers::DriverError> {
            unreachable!()
        }
        async fn snapshot(&self, _: &crate::drivers::EnvSpec) -> Result<String, crate::drivers::DriverError> {
            unreachable!()
        }
        async fn teardown(&self, _: &str) -> Result<(), crate::drivers::DriverError> {
            unreachable!()
        }
        async fn owned(&self) -> Result<Vec<String>, crate::drivers::DriverError> {
            Ok(vec![])
        }
        async fn log_tail(&self, _: &str, _: u64) -> Option<String> {
            None
        }
        async fn snapshots(&self, _: &str) -> Vec<String> {
            vec![]
        }
        async fn endpoint(&self, _: &str) -> Option<std::net::SocketAddr> {
            None
        }
        async fn deploy(
            &self,
            _: &crate::drivers::EnvSpec,
            _: app::domain::tier::DeploymentStrategy,
            _: bool,
        ) -> Result<serde_json::Value, crate::drivers::DriverError> {
            unreachable!()
        }
        async fn roll_back(&self, _: &str) -> Result<serde_json::Value, crate::drivers::DriverError> {
            unreachable!()
        }
        async fn retire(&self, _: &str) -> Result<(), crate::drivers::DriverError> {
            unreachable!()
        }
        async fn serving_commit(&self, _: &str) -> Option<String> {
            None
        }
        async fn probe(&self, _: &str, _: &str) -> app::domain::health::Probe {
            app::domain::health::Probe::Gone
        }
    }

    #[test]
    fn host_names_map_to_environments() {
        let p = Proxy::new(Arc::new(NoDriver), "localhost".into());
        assert_eq!(p.env_name("checkout-web-pr-1.localhost:3000"), Some("checkout-web-pr-1"));
        assert_eq!(p.env_name("checkout-web-pr-1.localhost"), Some("checkout-web-pr-1"));
        assert_eq!(p.env_name("127.0.0.1:3000"), None);
        assert_eq!(p.env_name("localhost:3000"), None);
        assert_eq!(p.env_name("a.b.localhost"), None);
        assert_eq!(p.env_name("evil.example"), None);
    }

    #[test]
    fn activity_is_recorded_at_most_every_30_seconds() {
        let p = Proxy::new(Arc::new(NoDriver), "localhost".into());
        assert!(p.should_record("a", 0));
        assert!(!p.should_record("a", 29_999));
        assert!(p.should_record("b", 1));
        assert!(p.should_record("a", 30_000));
    }
}
