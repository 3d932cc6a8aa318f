//! The preview proxy: requests for `<env-name>.<preview domain>` go to that
//! environment's process, streamed both ways (hyper-util's client: no body
//! is held whole, a 1 GiB download passes through in constant memory), with
//! WebSocket and other HTTP/1 upgrades (dev servers' live reload) piped
//! through. The upstream address comes from the driver's own records, never
//! from anything a workload can write. The proxy sets `X-Forwarded-For`,
//! `-Proto` and `-Host` itself (a client's own are dropped) and never
//! passes the portal's cookies on. Each request counts as activity
//! (recorded at most every 30 s per environment, so traffic does not become
//! a write storm), and a long-lived connection (a WebSocket, a stream of
//! server-sent events) counts for as long as it is open.

use crate::drivers::Driver;
use app::domain::lifecycle::{ActivityKind, EnvState, Event};
use app::domain::preview_access::PreviewAccess;
use app::ssr::clock::now_ms;
use app::ssr::store::environments::Environment;
use app::ssr::{environments, preview_access, store, tokens, AppState};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ACTIVITY_DEBOUNCE_MS: i64 = 30_000;
/// An upstream that has not started its answer by then gets the client a 504.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);
/// Request bodies up to this size are held so the request can be sent once
/// more when a deployment switched versions under it; larger ones stream.
const REPLAYABLE_BODY: u64 = 256 * 1024;

pub struct Proxy {
    pub driver: Arc<dyn Driver>,
    pub preview_domain: String,
    /// `http` or `https`: how clients reach previews (the public URL's scheme).
    scheme: &'static str,
    /// Cookie names that are the portal's own and never reach a workload.
    portal_cookies: Vec<String>,
    client: Client<HttpConnector, Body>,
    last_activity: Mutex<HashMap<String, i64>>,
}

impl Proxy {
    /// `https`: whether clients reach previews over HTTPS (the public URL's scheme).
    pub fn new(driver: Arc<dyn Driver>, preview_domain: String, https: bool) -> Proxy {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(8)
            .build(connector);
        Proxy {
            driver,
            preview_domain,
            scheme: if https { "https" } else { "http" },
            portal_cookies: vec!["eod_session".into(), "__Host-eod_session".into(), preview_access::COOKIE.into()],
            client,
            last_activity: Mutex::new(HashMap::new()),
        }
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

    /// A redirect on the preview host that sets its access cookie (host-only:
    /// no Domain, so it never goes to the portal or another preview).
    fn with_cookie(&self, to: &str, value: &str) -> Response {
        let secure = if self.scheme == "https" { "; Secure" } else { "" };
        let cookie = format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            preview_access::COOKIE,
            preview_access::SESSION_TTL_MS / 1000
        );
        let mut res = axum::response::Redirect::to(&app::domain::preview_access::safe_next(to)).into_response();
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().insert(header::SET_COOKIE, v);
        }
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }

    /// Records traffic on an environment (debounced, off the request path).
    fn record_activity(&self, state: &AppState, name: &str, env_id: &str) {
        if !self.should_record(name, now_ms()) {
            return;
        }
        let (db, settings, id) = (state.db.clone(), state.settings.clone(), env_id.to_string());
        tokio::spawn(async move {
            let traffic = Event::Activity(ActivityKind::Traffic);
            if let Err(err) =
                environments::system_event(&db, &settings.tiers, &id, traffic, "environment.activity").await
            {
                tracing::debug!(error = %err, "recording traffic");
            }
        });
    }

    /// The request headers a workload gets: the client's, minus hop-by-hop
    /// headers, the portal's cookies and any forwarding headers the client
    /// made up, plus the proxy's own `X-Forwarded-*`.
    fn upstream_headers(&self, from: &HeaderMap, client: Option<SocketAddr>, host: &str) -> HeaderMap {
        let mut out = HeaderMap::with_capacity(from.len() + 3);
        for (k, v) in from {
            if hop_by_hop(k) || forwarding(k) || k == header::COOKIE {
                continue;
            }
            // The portal's API token is the portal's; an app's own credentials pass.
            if k == header::AUTHORIZATION && v.to_str().ok().and_then(portal_token).is_some() {
                continue;
            }
            out.append(k.clone(), v.clone());
        }
        let kept: Vec<&str> = from
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .map(str::trim)
            .filter(|c| {
                let name = c.split('=').next().unwrap_or("");
                !c.is_empty() && !self.portal_cookies.iter().any(|p| p == name)
            })
            .collect();
        if let Ok(v) = HeaderValue::from_str(&kept.join("; ")) {
            if !kept.is_empty() {
                out.insert(header::COOKIE, v);
            }
        }
        if let Some(ip) = client.and_then(|c| HeaderValue::from_str(&c.ip().to_string()).ok()) {
            out.insert("x-forwarded-for", ip);
        }
        out.insert("x-forwarded-proto", HeaderValue::from_static(self.scheme));
        if let Ok(h) = HeaderValue::from_str(host) {
            out.insert("x-forwarded-host", h);
        }
        out
    }
}

/// Hop-by-hop headers are not forwarded (RFC 9110 §7.6.1); an upgrade
/// request gets its `Connection: upgrade` and `Upgrade` back explicitly.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
    )
}

/// Forwarding headers only the proxy may set: a client's are lies.
fn forwarding(name: &HeaderName) -> bool {
    matches!(name.as_str(), "forwarded" | "x-forwarded-for" | "x-forwarded-proto" | "x-forwarded-host" | "x-real-ip")
}

/// What admission looks at: method, URI, headers and the client's address.
type Asked<'a> = (&'a axum::http::Method, &'a axum::http::Uri, &'a HeaderMap, Option<std::net::IpAddr>);

/// Why an environment gave no answer.
enum Upstream {
    Refused,
    TimedOut,
    Failed(String),
}

/// Whether a request asks to switch protocols (a WebSocket handshake).
fn upgrade_requested(headers: &HeaderMap) -> Option<HeaderValue> {
    let wants = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("upgrade")));
    wants.then(|| headers.get(header::UPGRADE).cloned()).flatten()
}

/// While alive, records activity on an environment every debounce period:
/// held by a WebSocket pipe or an event stream's body.
struct LiveActivity(tokio::task::JoinHandle<()>);

impl LiveActivity {
    fn start(state: AppState, proxy: Arc<Proxy>, name: String, env_id: String) -> LiveActivity {
        LiveActivity(tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(ACTIVITY_DEBOUNCE_MS as u64)).await;
                proxy.record_activity(&state, &name, &env_id);
            }
        }))
    }
}

impl Drop for LiveActivity {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub async fn route(State((state, proxy)): State<(AppState, Arc<Proxy>)>, req: Request, next: Next) -> Response {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let Some(name) = proxy.env_name(&host).map(str::to_string) else {
        return next.run(req).await;
    };
    let client = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let asked = (req.method(), req.uri(), req.headers(), client);
    match guard(&state, &proxy, asked, &name).await {
        Ok((env_id, addr)) => forward(state, proxy, req, (name, env_id), host, addr).await,
        Err(mut reply) => {
            // The portal's own words on a preview host carry its headers.
            super::security_headers::on_portal_reply(&mut reply);
            reply
        }
    }
}

/// Everything before forwarding: the environment, its access rule, the
/// request's admission, where it runs. `Err`: the portal answers itself.
async fn guard(
    state: &AppState,
    proxy: &Proxy,
    asked: Asked<'_>,
    name: &str,
) -> Result<(String, SocketAddr), Response> {
    let env = match store::environments::find_by_name(state.db.pool(), name).await {
        Ok(found) => found.map(|v| v.env).filter(|e| !e.pooled && e.destroyed_at.is_none()),
        Err(err) => {
            tracing::error!(error = %err, "proxy lookup");
            return Err(StatusCode::SERVICE_UNAVAILABLE.into_response());
        }
    };
    // Unknown, pooled and destroyed names are guarded like a team preview,
    // so someone who may not see a preview cannot tell whether it exists.
    let rule = match &env {
        Some(e) => match preview_access::rule_for(&state.db, &state.settings, e).await {
            Ok(rule) => rule,
            Err(_) => return Err(StatusCode::SERVICE_UNAVAILABLE.into_response()),
        },
        None => PreviewAccess::Team,
    };
    if rule != PreviewAccess::Public {
        admit(state, proxy, asked, env.as_ref(), name, rule).await?;
    }
    let Some(env) = env else {
        return Err((StatusCode::NOT_FOUND, format!("There is no environment named {name}.")).into_response());
    };
    let reachable = env.state.parse::<EnvState>().is_ok_and(|s| s.is_reachable());
    let Some(addr) = (if reachable { proxy.driver.endpoint(&env.id).await } else { None }) else {
        let why = format!("{name} is {} and not serving.", env.state);
        return Err((StatusCode::SERVICE_UNAVAILABLE, why).into_response());
    };
    // Only admitted traffic keeps an environment alive.
    proxy.record_activity(state, name, &env.id);
    Ok((env.id, addr))
}

/// Lets a request through to a protected preview, or answers it: the
/// code exchange and share-link paths set the host's cookie; a valid
/// cookie or API token passes; a browser is sent to sign in through the
/// portal; anything else is refused. Ok means "forward it".
async fn admit(
    state: &AppState,
    proxy: &Proxy,
    (method, uri, headers, client): Asked<'_>,
    env: Option<&Environment>,
    name: &str,
    rule: PreviewAccess,
) -> Result<(), Response> {
    let query = uri.query().unwrap_or("");
    let param = |key: &str| {
        query.split('&').find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('='))).map(str::to_string)
    };
    let unavailable = |_| StatusCode::SERVICE_UNAVAILABLE.into_response();
    match uri.path() {
        "/.eod/auth" => {
            let redeemed = match (env, param("code")) {
                (Some(env), Some(code)) => {
                    preview_access::redeem_code(&state.db, &code, &env.id).await.map_err(unavailable)?
                }
                _ => None,
            };
            return Err(match redeemed {
                Some((cookie, next)) => proxy.with_cookie(&next, &cookie),
                None => refusal(
                    StatusCode::FORBIDDEN,
                    "This sign-in link was used already or has expired. Open the preview's address again.",
                ),
            });
        }
        "/.eod/share" => {
            let redeemed = match (env, param("token")) {
                (Some(env), Some(token)) => {
                    preview_access::redeem_share_link(&state.db, &token, env).await.map_err(unavailable)?
                }
                _ => None,
            };
            return Err(match redeemed {
                Some(cookie) => proxy.with_cookie("/", &cookie),
                None => {
                    refusal(StatusCode::FORBIDDEN, "This share link has expired or was revoked. Ask for a new one.")
                }
            });
        }
        _ => {}
    }
    // Every value counts (a workload could set a junk one for the whole preview domain).
    if let Some(env) = env {
        for cookie in cookie_values(headers, preview_access::COOKIE).take(4) {
            if preview_access::cookie_admits(&state.db, cookie, &env.id).await.map_err(unavailable)? {
                return Ok(());
            }
        }
    }
    let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(portal_token);
    if let Some(presented) = bearer {
        let admitted = match tokens::authenticate(&state.db, presented).await.map_err(unavailable)? {
            Ok(auth) => env.is_some_and(|e| {
                auth.scopes.contains(&app::domain::token::Scope::EnvironmentsRead)
                    && rule.admits(&auth.viewer, &e.team_id)
            }),
            // Not a working token at all: refused like the API refuses it,
            // within the same budget of failures per address.
            Err(_) => {
                if !super::throttle::FAILURES.allow_failure(client) {
                    return Err(super::throttle::too_many());
                }
                let mut res =
                    refusal(StatusCode::UNAUTHORIZED, "This token is not valid (unknown, expired or revoked).");
                res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return Err(res);
            }
        };
        return if admitted {
            Ok(())
        } else {
            Err(refusal(StatusCode::NOT_FOUND, &format!("There is no preview named {name} that this token may open.")))
        };
    }
    let browser = matches!(*method, axum::http::Method::GET | axum::http::Method::HEAD)
        && headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    if browser {
        let next = uri.path_and_query().map_or("/", |p| p.as_str());
        let to = format!(
            "{}/preview-access?to={name}&next={}",
            state.settings.public_origin,
            openidconnect::url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        );
        return Err(axum::response::Redirect::to(&to).into_response());
    }
    let mut res = refusal(
        StatusCode::UNAUTHORIZED,
        "This preview is protected: open it in a browser signed in to the portal, or send an API token (Authorization: Bearer eod_…).",
    );
    res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    Err(res)
}

/// A plain-text refusal.
fn refusal(status: StatusCode, message: &str) -> Response {
    (status, message.to_string()).into_response()
}

/// A cookie's values from the request's Cookie headers.
fn cookie_values<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |c| c.trim().strip_prefix(name)?.strip_prefix('='))
}

/// The portal's own API token in an `Authorization` header, if that is what
/// it carries (the scheme is case-insensitive).
fn portal_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && token.starts_with(app::domain::token::PREFIX)).then_some(token)
}

/// Sends the request to the environment at `addr` and streams the answer
/// back (or pipes an upgraded connection both ways).
async fn forward(
    state: AppState,
    proxy: Arc<Proxy>,
    req: Request,
    (name, env_id): (String, String),
    host: String,
    addr: SocketAddr,
) -> Response {
    let client_addr = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let (mut parts, body) = req.into_parts();
    let upgrade = upgrade_requested(&parts.headers);
    let client_upgrade = upgrade.as_ref().and_then(|_| parts.extensions.remove::<hyper::upgrade::OnUpgrade>());
    let mut headers = proxy.upstream_headers(&parts.headers, client_addr, &host);
    if let Some(protocol) = &upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, protocol.clone());
    }
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string();
    // Small bodies are held so the request can go once more after a switch.
    let small = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let replayable = match small {
        Some(n) if n <= REPLAYABLE_BODY => match axum::body::to_bytes(body, n as usize).await {
            Ok(bytes) => Ok(bytes),
            Err(_) => return (StatusCode::BAD_REQUEST, "The request body ended early.").into_response(),
        },
        None if parts.method == axum::http::Method::GET || parts.method == axum::http::Method::HEAD => {
            Ok(axum::body::Bytes::new())
        }
        _ => Err(body),
    };
    let build = |addr: SocketAddr, body: Body| {
        let mut upstream =
            axum::http::Request::builder().method(parts.method.clone()).uri(format!("http://{addr}{path}"));
        if let Some(h) = upstream.headers_mut() {
            *h = headers.clone();
        }
        upstream.body(body)
    };
    let send = |addr: SocketAddr, body: Body| {
        let request = build(addr, body);
        let client = proxy.client.clone();
        async move {
            let request = request.map_err(|e| Upstream::Failed(e.to_string()))?;
            match tokio::time::timeout(UPSTREAM_TIMEOUT, client.request(request)).await {
                Ok(Ok(res)) => Ok(res),
                Ok(Err(e)) if e.is_connect() => Err(Upstream::Refused),
                Ok(Err(e)) => Err(Upstream::Failed(e.to_string())),
                Err(_) => Err(Upstream::TimedOut),
            }
        }
    };
    let sent = match replayable {
        // A deployment or rollback switched versions between the lookup and
        // the connect (the old one stopped listening): the request never
        // reached it, so it goes once more to what serves now.
        Ok(bytes) => match send(addr, Body::from(bytes.clone())).await {
            Err(Upstream::Refused) => match proxy.driver.endpoint(&env_id).await.filter(|a| *a != addr) {
                Some(now_serving) => send(now_serving, Body::from(bytes)).await,
                None => Err(Upstream::Refused),
            },
            other => other,
        },
        Err(body) => send(addr, body).await,
    };
    let mut res = match sent {
        Ok(res) => res,
        Err(Upstream::TimedOut) => {
            let why = format!("{name} did not answer within {} s.", UPSTREAM_TIMEOUT.as_secs());
            return (StatusCode::GATEWAY_TIMEOUT, why).into_response();
        }
        Err(Upstream::Refused) => {
            return (StatusCode::BAD_GATEWAY, format!("{name} refused the connection.")).into_response()
        }
        Err(Upstream::Failed(e)) => {
            return (StatusCode::BAD_GATEWAY, format!("{name} did not answer: {e}")).into_response()
        }
    };
    if res.status() == StatusCode::SWITCHING_PROTOCOLS {
        let (Some(client_upgrade), Some(_)) = (client_upgrade, upgrade) else {
            return (StatusCode::BAD_GATEWAY, format!("{name} switched protocols unasked.")).into_response();
        };
        let upstream_upgrade = hyper::upgrade::on(&mut res);
        let live = LiveActivity::start(state, proxy.clone(), name.clone(), env_id);
        tokio::spawn(async move {
            let _live = live;
            match tokio::join!(client_upgrade, upstream_upgrade) {
                (Ok(client), Ok(upstream)) => {
                    let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                }
                (c, u) => tracing::debug!(client = ?c.err(), upstream = ?u.err(), "upgrade failed"),
            }
        });
        let mut out = Response::builder().status(StatusCode::SWITCHING_PROTOCOLS);
        for (k, v) in res.headers() {
            out = out.header(k, v);
        }
        return out.body(Body::empty()).unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response());
    }
    let (res_parts, incoming) = res.into_parts();
    let streaming = res_parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let mut out = Response::builder().status(res_parts.status);
    for (k, v) in res_parts.headers.iter().filter(|(k, _)| !hop_by_hop(k)) {
        out = out.header(k, v);
    }
    let body = if streaming {
        // An event stream stays open: it is activity until it closes.
        use futures_util::StreamExt;
        let live = LiveActivity::start(state, proxy.clone(), name, env_id);
        Body::from_stream(Body::new(incoming).into_data_stream().map(move |chunk| {
            let _ = &live;
            chunk
        }))
    } else {
        Body::new(incoming)
    };
    out.body(body).unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
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
        let p = Proxy::new(Arc::new(NoDriver), "localhost".into(), false);
        assert_eq!(p.env_name("checkout-web-pr-1.localhost:3000"), Some("checkout-web-pr-1"));
        assert_eq!(p.env_name("checkout-web-pr-1.localhost"), Some("checkout-web-pr-1"));
        assert_eq!(p.env_name("127.0.0.1:3000"), None);
        assert_eq!(p.env_name("localhost:3000"), None);
        assert_eq!(p.env_name("a.b.localhost"), None);
        assert_eq!(p.env_name("evil.example"), None);
    }

    #[test]
    fn workloads_get_the_proxys_forwarding_headers_and_none_of_the_portals_cookies() {
        let p = Proxy::new(Arc::new(NoDriver), "localhost".into(), true);
        let mut from = HeaderMap::new();
        from.insert(header::COOKIE, "eod_session=secret; theme=dark; __Host-eod_session=x".parse().unwrap());
        from.insert("x-forwarded-host", "evil.example".parse().unwrap());
        from.insert("x-forwarded-for", "6.6.6.6".parse().unwrap());
        from.insert("forwarded", "for=6.6.6.6".parse().unwrap());
        from.insert(header::CONNECTION, "keep-alive".parse().unwrap());
        from.insert("x-app", "kept".parse().unwrap());
        let client = Some(SocketAddr::from(([10, 1, 2, 3], 5555)));
        let out = p.upstream_headers(&from, client, "shop-pr-1.localhost");
        assert_eq!(out[header::COOKIE], "theme=dark");
        assert_eq!(out["x-forwarded-host"], "shop-pr-1.localhost");
        assert_eq!(out["x-forwarded-for"], "10.1.2.3");
        assert_eq!(out["x-forwarded-proto"], "https");
        assert_eq!(out["x-app"], "kept");
        assert!(out.get("forwarded").is_none() && out.get(header::CONNECTION).is_none());
        // Only portal cookies: no Cookie header at all.
        let mut only = HeaderMap::new();
        only.insert(header::COOKIE, "eod_session=secret".parse().unwrap());
        assert!(p.upstream_headers(&only, None, "h").get(header::COOKIE).is_none());
    }

    #[test]
    fn activity_is_recorded_at_most_every_30_seconds() {
        let p = Proxy::new(Arc::new(NoDriver), "localhost".into(), false);
        assert!(p.should_record("a", 0));
        assert!(!p.should_record("a", 29_999));
        assert!(p.should_record("b", 1));
        assert!(p.should_record("a", 30_000));
    }
}
