//! The assembled portal in-process (router, sessions, CSRF, audit) against a
//! temp-dir SQLite database: behaviour that needs the whole HTTP stack.

use crate::config::Config;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use std::collections::BTreeMap;
use std::time::Duration;
use tower::ServiceExt;

const ORIGIN: &str = "http://127.0.0.1:3000";

struct Portal {
    app: Router,
    db: app::ssr::Db,
    _dir: tempfile::TempDir,
}

async fn portal(tweak: impl FnOnce(&mut Config)) -> Portal {
    let dir = tempfile::tempdir().unwrap();
    let env: BTreeMap<String, String> = [
        ("EOD_DEMO".to_string(), "1".to_string()),
        ("EOD_DATA_DIR".to_string(), dir.path().display().to_string()),
        ("EOD_LOG".to_string(), "warn".to_string()),
    ]
    .into();
    let mut config = Config::from_sources(None, &env).unwrap();
    // No warm pools here: the driver would start processes from the test binary.
    config.pools.clear();
    tweak(&mut config);
    let (app, db) = crate::build(&config).await.unwrap();
    Portal { app, db, _dir: dir }
}

impl Portal {
    async fn send(&self, req: Request<Body>) -> axum::response::Response {
        self.app.clone().oneshot(req).await.unwrap()
    }

    /// Signs in through the demo sign-in and returns the session cookie.
    async fn sign_in(&self, login: &str) -> String {
        let res = self
            .send(
                Request::post("/auth/demo")
                    .header(header::ORIGIN, ORIGIN)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(format!("login={login}")))
                    .unwrap(),
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let cookie = res.headers().get(header::SET_COOKIE).expect("session cookie").to_str().unwrap();
        cookie.split(';').next().unwrap().to_string()
    }

    async fn me(&self, cookie: &str) -> StatusCode {
        self.send(Request::get("/api/v1/me").header(header::COOKIE, cookie).body(Body::empty()).unwrap()).await.status()
    }

    async fn audit_count(&self, action: &str) -> i64 {
        app::ssr::store::audit::count_by_action(self.db.pool(), action).await.unwrap()
    }
}

#[tokio::test]
async fn sessions_end_at_the_absolute_timeout_however_active() {
    let p = portal(|c| c.session_absolute = Duration::from_millis(1500)).await;
    let cookie = p.sign_in("alice").await;
    assert_eq!(p.me(&cookie).await, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(p.me(&cookie).await, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(p.me(&cookie).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sessions_end_after_the_idle_timeout_but_not_while_used() {
    let p = portal(|c| c.session_idle = Duration::from_secs(2)).await;
    let cookie = p.sign_in("alice").await;
    // Used every ~0.7 s for 3 s: longer than the idle timeout, still alive.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(p.me(&cookie).await, StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert_eq!(p.me(&cookie).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sign_in_cycles_the_session_id_and_sign_out_deletes_it() {
    let p = portal(|_| {}).await;
    let first = p.sign_in("alice").await;
    let second = p.sign_in("bob").await;
    assert_ne!(first, second);
    let res = p
        .send(
            Request::post("/auth/logout")
                .header(header::ORIGIN, ORIGIN)
                .header(header::COOKIE, &second)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(p.me(&second).await, StatusCode::UNAUTHORIZED);
    assert_eq!(p.audit_count("auth.sign_out").await, 1);
}

#[tokio::test]
async fn state_changes_without_the_portal_origin_are_refused_and_audited() {
    let p = portal(|_| {}).await;
    let res = p
        .send(
            Request::post("/auth/demo")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("login=erin"))
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get(header::SET_COOKIE).is_none(), "no session was started");
    let cookie = p.sign_in("alice").await;
    let res = p
        .send(
            Request::post("/api/fn/revoke_token")
                .header(header::ORIGIN, "https://evil.example")
                .header(header::COOKIE, &cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("id=x"))
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(p.audit_count("csrf.reject").await, 2);
}

#[tokio::test]
async fn unknown_demo_users_get_a_clear_400_and_an_audit_row() {
    let p = portal(|_| {}).await;
    let res = p
        .send(
            Request::post("/auth/demo")
                .header(header::ORIGIN, ORIGIN)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("login=mallory"))
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(p.audit_count("auth.sign_in").await, 1);
}

#[tokio::test]
async fn readiness_follows_the_database() {
    let p = portal(|_| {}).await;
    let ready = || Request::get("/readyz").body(Body::empty()).unwrap();
    assert_eq!(p.send(ready()).await.status(), StatusCode::OK);
    p.db.close().await;
    assert_eq!(p.send(ready()).await.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn hashed_assets_are_immutable_and_html_is_revalidated() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("pkg")).unwrap();
    std::fs::write(dir.path().join("pkg/eod.abc123.css"), "body{}").unwrap();
    let root = dir.path().to_path_buf();
    let p = portal(move |c| c.site_root = root).await;
    let res = p.send(Request::get("/pkg/eod.abc123.css").body(Body::empty()).unwrap()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], crate::http::assets::IMMUTABLE);
    let res = p.send(Request::get("/login").body(Body::empty()).unwrap()).await;
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-cache");
}

/// The audit trail is append-only: no statement anywhere updates or
/// deletes its rows.
#[test]
fn no_code_path_updates_or_deletes_audit_events() {
    fn scan(dir: &std::path::Path, hits: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                scan(&path, hits);
            } else if path.extension().is_some_and(|e| e == "rs" || e == "sql") {
                let text = std::fs::read_to_string(&path)
                    .unwrap()
                    .to_uppercase()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ");
                for needle in ["UPDATE AUDIT_EVENTS", "DELETE FROM AUDIT_EVENTS", "TRUNCATE AUDIT_EVENTS"] {
                    if text.contains(needle) && !path.ends_with("tests.rs") {
                        hits.push(format!("{}: {needle}", path.display()));
                    }
                }
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut hits = vec![];
    for dir in ["app/src", "server/src", "migrations"] {
        scan(&root.join(dir), &mut hits);
    }
    assert!(hits.is_empty(), "{hits:?}");
}

/// Coder-style authorization matrix over every server function and API
/// route: each caller × endpoint has an expected status, and a server
/// function registered without a row fails the test.
#[tokio::test]
async fn every_server_function_and_api_route_authorizes_by_role() {
    let p = portal(|_| {}).await;
    let callers = [None, Some(p.sign_in("alice").await), Some(p.sign_in("bob").await), Some(p.sign_in("erin").await)];
    let form = "application/x-www-form-urlencoded";
    let json = "application/json";
    // (method, path, content type, body, [anonymous, developer, manager, platform admin])
    let matrix: &[(&str, &str, &str, &str, [u16; 4])] = &[
        ("POST", "/api/fn/whoami", form, "", [200, 200, 200, 200]),
        ("POST", "/api/fn/sign_in_options", form, "", [200, 200, 200, 200]),
        ("POST", "/api/fn/list_environments", form, "query[page]=0", [401, 200, 200, 200]),
        ("POST", "/api/fn/preview_options", form, "", [401, 200, 200, 200]),
        ("POST", "/api/fn/new_preview", form, "app=no-such-app", [401, 422, 422, 422]),
        ("POST", "/api/fn/environment_detail", form, "id=someone-elses", [401, 404, 404, 404]),
        ("POST", "/api/fn/extend_environment", form, "id=someone-elses&hours=1", [401, 404, 404, 404]),
        ("POST", "/api/fn/destroy_environment", form, "id=someone-elses", [401, 404, 404, 404]),
        ("POST", "/api/fn/rate_environment", form, "id=someone-elses&score=3", [401, 404, 404, 404]),
        ("POST", "/api/fn/list_my_tokens", form, "", [401, 200, 200, 200]),
        (
            "POST",
            "/api/fn/create_token",
            json,
            r#"{"name":"t","scopes":["environments:read"],"expires_in_days":1}"#,
            [401, 200, 200, 200],
        ),
        ("POST", "/api/fn/revoke_token", form, "id=someone-elses", [401, 404, 404, 404]),
        ("POST", "/api/fn/list_audit", form, "query[action]=auth.", [401, 403, 200, 200]),
        ("POST", "/api/fn/list_teams_admin", form, "", [401, 403, 403, 200]),
        ("POST", "/api/fn/create_team", form, "slug=matrix&name=Matrix", [401, 403, 403, 200]),
        (
            "POST",
            "/api/fn/set_team_member",
            form,
            "team_id=team-search&login=alice&role=developer",
            [401, 403, 403, 200],
        ),
        ("GET", "/api/v1/me", "", "", [401, 200, 200, 200]),
        ("GET", "/api/v1/environments", "", "", [401, 200, 200, 200]),
        ("GET", "/audit.csv", "", "", [303, 403, 200, 200]),
        ("GET", "/events", "", "", [303, 200, 200, 200]),
    ];
    for (method, path, content_type, body, expected) in matrix {
        for (caller, want) in callers.iter().zip(expected) {
            let mut req = Request::builder().method(*method).uri(*path).header(header::ORIGIN, ORIGIN);
            if !content_type.is_empty() {
                req = req.header(header::CONTENT_TYPE, *content_type);
            }
            if let Some(cookie) = caller {
                req = req.header(header::COOKIE, cookie);
            }
            let res = p.send(req.body(Body::from(body.to_string())).unwrap()).await;
            assert_eq!(res.status().as_u16(), *want, "{method} {path} as {caller:?}");
        }
    }
    for (path, _) in leptos::server_fn::axum::server_fn_paths() {
        assert!(
            matrix.iter().any(|row| row.1 == path),
            "server function {path} has no row in the authorization matrix"
        );
    }
}

#[tokio::test]
async fn the_api_publishes_its_openapi_document() {
    let p = portal(|_| {}).await;
    let res = p.send(Request::get("/api/v1/openapi.json").body(Body::empty()).unwrap()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/me",
        "/api/v1/environments",
        "/api/v1/environments/{id}",
        "/api/v1/environments/{id}/extend",
        "/api/v1/environments/{id}/activity",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    assert!(doc["paths"]["/api/v1/environments"]["post"]["requestBody"].is_object());
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}
