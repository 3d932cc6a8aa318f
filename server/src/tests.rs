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
    let (app, db, _) = crate::build(&config).await.unwrap();
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

    /// A token of `user_id` with the environments scopes.
    async fn env_token(&self, user_id: &str) -> String {
        use app::domain::token::Scope;
        let viewer = app::ssr::store::users::viewer(self.db.pool(), user_id).await.unwrap().unwrap();
        let meta = app::ssr::RequestMeta { viewer: Some(viewer.clone()), ..Default::default() };
        let new = app::ssr::tokens::NewToken {
            name: "test".into(),
            scopes: vec![Scope::EnvironmentsRead, Scope::EnvironmentsWrite],
            expires_in_days: 1,
        };
        app::ssr::tokens::create(&self.db, &meta, &viewer, new).await.unwrap().1
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

#[tokio::test]
async fn portal_pages_cannot_be_framed_and_scripts_need_the_page_nonce() {
    let p = portal(|_| {}).await;
    let res = p.send(Request::get("/login").body(Body::empty()).unwrap()).await;
    let csp = res.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(res.headers()[header::REFERRER_POLICY], "same-origin");
    assert!(res.headers().get(header::STRICT_TRANSPORT_SECURITY).is_none(), "HSTS only behind https");
    let nonce = csp.split("'nonce-").nth(1).and_then(|r| r.split('\'').next()).expect("a nonce").to_string();
    let html = String::from_utf8(axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap();
    // Every inline script the page carries has this response's nonce.
    let scripts = html.matches("<script").count();
    assert!(scripts > 0);
    assert_eq!(html.matches(&format!("nonce=\"{nonce}\"")).count(), scripts, "{html}");
    // A second page gets another nonce.
    let again = p.send(Request::get("/login").body(Body::empty()).unwrap()).await;
    assert!(!again.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains(&nonce));
    // JSON and errors are covered too.
    let api = p.send(Request::get("/api/v1/me").body(Body::empty()).unwrap()).await;
    assert_eq!(api.headers()[header::CONTENT_SECURITY_POLICY], crate::http::security_headers::DEFAULT_POLICY);
    let https = portal(|c| {
        c.public_url = crate::config::PublicUrl { scheme: "https".into(), host: "portal.example".into(), port: None }
    })
    .await;
    let res = https.send(Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(res.headers()[header::STRICT_TRANSPORT_SECURITY], "max-age=31536000");
}

/// Workloads under their own uids pass through every parent of the data
/// directory: a parent that does not let them is refused at startup, and
/// parents the portal makes itself let them.
#[tokio::test]
async fn a_data_dir_workloads_cannot_reach_is_refused_at_startup() {
    use std::os::unix::fs::PermissionsExt;
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: workloads are isolated only when the portal runs as root");
        return;
    }
    let config_for = |data: &std::path::Path| {
        let env: BTreeMap<String, String> =
            [("EOD_DATA_DIR".to_string(), data.display().to_string()), ("EOD_LOG".to_string(), "warn".to_string())]
                .into();
        Config::from_sources(None, &env).unwrap()
    };
    let closed = tempfile::tempdir().unwrap();
    std::fs::set_permissions(closed.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let err = crate::build(&config_for(&closed.path().join("data"))).await.expect_err("refused");
    assert!(err.to_string().contains("does not let other users pass through"), "{err}");
    let open = tempfile::tempdir().unwrap();
    std::fs::set_permissions(open.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = open.path().join("made/by/the/portal");
    assert!(crate::build(&config_for(&data)).await.is_ok());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&open.path().join("made")), 0o755);
    assert_eq!(mode(&data), 0o711);
    // Whatever made the portal's subdirectories, they are private after a start.
    std::fs::create_dir_all(data.join("mirrors")).unwrap();
    std::fs::set_permissions(data.join("mirrors"), std::fs::Permissions::from_mode(0o777)).unwrap();
    assert!(crate::build(&config_for(&data)).await.is_ok());
    assert_eq!(mode(&data.join("mirrors")), 0o700);
    // EOD_RUN_AS=portal: no switch of user at all.
    let portal = crate::drivers::local::Isolation::resolve(&crate::config::RunAs::Portal, &data);
    assert!(portal.unwrap().is_none());
    // Workloads never run as root.
    let root = crate::drivers::local::Isolation::resolve(&crate::config::RunAs::User("root".into()), &data);
    assert!(root.unwrap_err().contains("unprivileged"));
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
        ("POST", "/api/fn/deploy_environment", form, "id=someone-elses", [401, 404, 404, 404]),
        ("POST", "/api/fn/rollback_deployment", form, "id=someone-elses&deployment=d", [401, 404, 404, 404]),
        ("GET", "/api/v1/environments/someone-elses/deployments", "", "", [401, 404, 404, 404]),
        ("POST", "/api/v1/environments/someone-elses/deployments", json, r#"{"ref":"main"}"#, [401, 404, 404, 404]),
        ("POST", "/api/v1/environments/someone-elses/deployments/d/rollback", "", "", [401, 404, 404, 404]),
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
        ("POST", "/api/fn/list_deliveries", form, "", [401, 403, 200, 200]),
        ("POST", "/api/fn/rerun_delivery", form, "id=no-such-delivery", [401, 403, 404, 404]),
        // Before set_team_member below, which adds alice to team search.
        ("POST", "/api/fn/list_apps", form, "", [401, 200, 200, 200]),
        ("POST", "/api/fn/get_app", form, "team=search&slug=search-ui", [401, 404, 404, 200]),
        ("POST", "/api/fn/get_app", form, "team=payments&slug=checkout-web", [401, 200, 200, 200]),
        (
            "POST",
            "/api/fn/register_app",
            form,
            "team=payments&slug=matrix&name=M&repository=ext::sh&default_branch=main&blueprint=&secrets=",
            [401, 403, 422, 422],
        ),
        (
            "POST",
            "/api/fn/update_app",
            form,
            "team=search&slug=search-ui&name=X&repository=ext::sh&default_branch=main&blueprint=&secrets=",
            [401, 404, 404, 422],
        ),
        ("POST", "/api/fn/archive_app", form, "team=search&slug=search-ui&archived=false", [401, 404, 404, 200]),
        ("POST", "/api/fn/rebuild_app_template", form, "team=search&slug=search-ui", [401, 404, 404, 200]),
        ("POST", "/api/fn/try_app", form, "team=search&slug=no-such-app", [401, 404, 404, 404]),
        ("GET", "/api/v1/apps/search-ui", "", "", [401, 404, 404, 200]),
        ("POST", "/api/fn/costs_report", form, "team=payments", [401, 403, 200, 200]),
        ("POST", "/api/fn/costs_report", form, "team=search", [401, 404, 404, 200]),
        ("POST", "/api/fn/costs_report", form, "month=2026-13", [401, 422, 422, 422]),
        ("POST", "/api/fn/set_budget", form, "team=search&amount=abc&thresholds=", [401, 404, 404, 422]),
        ("POST", "/api/fn/set_budget", form, "team=payments&amount=100000&thresholds=", [401, 403, 200, 200]),
        ("POST", "/api/fn/budget_headlines", form, "", [401, 200, 200, 200]),
        ("POST", "/api/fn/price_book_rows", form, "", [401, 403, 403, 200]),
        ("POST", "/api/fn/add_price", form, "tier=staging&kind=compute&rate=x&effective_from=", [401, 403, 403, 422]),
        ("POST", "/api/fn/set_environment_shared", form, "id=someone-elses&shared=true", [401, 403, 403, 404]),
        ("POST", "/api/fn/withdraw_price", form, "tier=staging&kind=compute&effective_from=0", [401, 403, 403, 409]),
        ("GET", "/api/v1/costs", "", "", [401, 403, 200, 200]),
        ("GET", "/api/v1/costs/export.csv?team=search", "", "", [401, 404, 404, 200]),
        ("GET", "/api/v1/costs/focus.csv?month=2026-13", "", "", [401, 422, 422, 422]),
        ("PUT", "/api/v1/teams/payments/budget", json, r#"{"amount_micros":-1}"#, [401, 403, 422, 422]),
        ("POST", "/api/fn/approval_queue", form, "filter[state]=pending", [401, 200, 200, 200]),
        ("POST", "/api/fn/approval_queue", form, "filter[kind]=bogus", [401, 422, 422, 422]),
        ("POST", "/api/fn/decide_approval", form, "id=no-such&approve=true&reason=", [401, 403, 403, 404]),
        ("POST", "/api/fn/cancel_approval", form, "id=no-such", [401, 404, 404, 404]),
        ("GET", "/api/v1/approvals?state=pending", "", "", [401, 200, 200, 200]),
        ("GET", "/api/v1/approvals?state=bogus", "", "", [401, 422, 422, 422]),
        ("GET", "/api/v1/approvals/no-such", "", "", [401, 404, 404, 404]),
        ("POST", "/api/v1/approvals/no-such/approve", "", "", [401, 403, 403, 404]),
        ("POST", "/api/v1/approvals/no-such/deny", json, r#"{"reason":"no"}"#, [401, 403, 403, 404]),
        ("POST", "/api/v1/approvals/no-such/deny", json, r#"{"why":"no"}"#, [401, 422, 422, 422]),
        ("POST", "/api/v1/approvals/no-such/cancel", "", "", [401, 404, 404, 404]),
        ("POST", "/api/fn/team_channels", form, "team=payments", [401, 403, 200, 200]),
        ("POST", "/api/fn/team_channels", form, "team=search", [401, 404, 404, 200]),
        ("POST", "/api/fn/add_channel", form, "team=payments&kind=webhook&url=ftp%3A%2F%2Fx", [401, 403, 422, 422]),
        ("POST", "/api/fn/remove_channel", form, "team=payments&id=no-such", [401, 403, 404, 404]),
        ("POST", "/api/fn/rotate_channel_secret", form, "team=payments&id=no-such", [401, 403, 404, 404]),
        ("POST", "/api/fn/enable_channel", form, "team=payments&id=no-such", [401, 403, 404, 404]),
        ("POST", "/api/fn/resend_delivery", form, "team=payments&id=no-such", [401, 403, 404, 404]),
        ("POST", "/api/fn/policies_page", form, "", [401, 403, 403, 200]),
        ("POST", "/api/fn/save_admission_policy", form, "text=%5Btier.nope%5D", [401, 403, 403, 422]),
        ("POST", "/api/fn/compliance_results", form, "", [401, 403, 403, 200]),
        ("POST", "/api/fn/run_compliance_checks", form, "", [401, 403, 403, 200]),
        ("POST", "/api/fn/roi_view", form, "days=30", [401, 403, 200, 200]),
        ("POST", "/api/fn/roi_view", form, "days=12", [401, 403, 422, 422]),
        ("POST", "/api/fn/maturity_view", form, "", [401, 403, 200, 200]),
        (
            "POST",
            "/api/fn/save_roi_settings",
            json,
            r#"{"settings":{"assumptions":{"developers":0}}}"#,
            [401, 403, 403, 422],
        ),
        ("POST", "/api/fn/save_roi_settings", json, r#"{"settings":{}}"#, [401, 403, 403, 200]),
        ("GET", "/api/v1/insights/roi?days=90", "", "", [401, 403, 200, 200]),
        ("GET", "/api/v1/insights/roi?days=abc", "", "", [401, 403, 422, 422]),
        ("GET", "/api/v1/insights/maturity", "", "", [401, 403, 200, 200]),
        ("POST", "/api/fn/my_notifications", form, "", [401, 200, 200, 200]),
        ("POST", "/api/fn/mark_notifications_read", form, "", [401, 200, 200, 200]),
        ("POST", "/api/fn/mark_notification_read", form, "id=someone-elses", [401, 404, 404, 404]),
        ("POST", "/api/fn/my_notification_prefs", form, "", [401, 200, 200, 200]),
        ("POST", "/api/fn/set_notification_pref", form, "kind=nope&on=false&channel=inbox", [401, 422, 422, 422]),
        ("POST", "/api/fn/list_teams_admin", form, "", [401, 403, 403, 200]),
        ("POST", "/api/fn/create_team", form, "slug=matrix&name=Matrix", [401, 403, 403, 200]),
        (
            "POST",
            "/api/fn/set_team_member",
            form,
            "team_id=team-search&login=alice&role=developer",
            [401, 403, 403, 200],
        ),
        ("POST", "/api/fn/share_links", form, "env_id=someone-elses", [401, 404, 404, 404]),
        ("POST", "/api/fn/create_share_link", form, "env_id=someone-elses&hours=1&note=", [401, 404, 404, 404]),
        ("POST", "/api/fn/create_share_link", form, "env_id=someone-elses&hours=0&note=", [401, 422, 422, 422]),
        ("POST", "/api/fn/revoke_share_link", form, "env_id=someone-elses&link_id=x", [401, 404, 404, 404]),
        ("GET", "/api/v1/environments/someone-elses/share-links", "", "", [401, 404, 404, 404]),
        (
            "POST",
            "/api/v1/environments/someone-elses/share-links",
            json,
            r#"{"expires_in_hours":1}"#,
            [401, 404, 404, 404],
        ),
        (
            "POST",
            "/api/v1/environments/someone-elses/share-links",
            json,
            r#"{"expires_in_hours":0}"#,
            [401, 422, 422, 422],
        ),
        ("DELETE", "/api/v1/environments/someone-elses/share-links/x", "", "", [401, 404, 404, 404]),
        ("GET", "/preview-access?to=no-such-preview&next=/", "", "", [303, 404, 404, 404]),
        ("POST", "/api/fn/list_people", form, "", [401, 403, 403, 200]),
        ("POST", "/api/fn/set_user_disabled", form, "login=no-such-user&disabled=true", [401, 403, 403, 404]),
        ("GET", "/api/v1/me", "", "", [401, 200, 200, 200]),
        ("GET", "/api/v1/no-such-thing", "", "", [404, 404, 404, 404]),
        ("GET", "/api/v1/apps", "", "", [401, 200, 200, 200]),
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
            assert_eq!(res.status().as_u16(), *want, "{method} {path} {body} as {caller:?}");
        }
    }
    for (path, _) in leptos::server_fn::axum::server_fn_paths() {
        assert!(
            matrix.iter().any(|row| row.1 == path),
            "server function {path} has no row in the authorization matrix"
        );
    }
}

/// A platform admin disables a user: their session ends, their token gets
/// 401 on the next request and they cannot sign in again; enabling them
/// again restores the token. Nobody disables themselves.
#[tokio::test]
async fn a_disabled_users_sessions_and_tokens_stop_at_once() {
    let p = portal(|_| {}).await;
    let alice = p.sign_in("alice").await;
    let erin = p.sign_in("erin").await;
    let viewer = app::ssr::store::users::viewer(p.db.pool(), "user-alice").await.unwrap().unwrap();
    let meta = app::ssr::RequestMeta { viewer: Some(viewer.clone()), ..Default::default() };
    let new = app::ssr::tokens::NewToken {
        name: "ci".into(),
        scopes: vec![app::domain::token::Scope::EnvironmentsRead],
        expires_in_days: 1,
    };
    let db = p.db.clone();
    let (_, token) = app::ssr::tokens::create(&db, &meta, &viewer, new).await.unwrap();
    let with_token = || Request::get("/api/v1/me").header(header::AUTHORIZATION, format!("Bearer {token}"));
    assert_eq!(p.send(with_token().body(Body::empty()).unwrap()).await.status(), StatusCode::OK);
    assert_eq!(p.me(&alice).await, StatusCode::OK);

    let toggle = |cookie: String, login: &str, disabled: bool| {
        Request::post("/api/fn/set_user_disabled")
            .header(header::ORIGIN, ORIGIN)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("login={login}&disabled={disabled}")))
            .unwrap()
    };
    assert_eq!(p.send(toggle(erin.clone(), "erin", true)).await.status(), StatusCode::FORBIDDEN, "not oneself");
    assert_eq!(p.send(toggle(alice.clone(), "bob", true)).await.status(), StatusCode::FORBIDDEN, "admins only");
    assert_eq!(p.send(toggle(erin.clone(), "alice", true)).await.status(), StatusCode::OK);
    assert_eq!(p.send(with_token().body(Body::empty()).unwrap()).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(p.me(&alice).await, StatusCode::UNAUTHORIZED);
    let again = p
        .send(
            Request::post("/auth/demo")
                .header(header::ORIGIN, ORIGIN)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("login=alice"))
                .unwrap(),
        )
        .await;
    assert_eq!(again.status(), StatusCode::FORBIDDEN, "a disabled user cannot sign in");
    assert_eq!(p.audit_count("user.disable").await, 1);

    assert_eq!(p.send(toggle(erin, "alice", false)).await.status(), StatusCode::OK);
    assert_eq!(p.send(with_token().body(Body::empty()).unwrap()).await.status(), StatusCode::OK);
    assert_eq!(p.audit_count("user.enable").await, 1);
}

/// A signed-out visitor of a protected page comes back to it after signing in.
#[tokio::test]
async fn signing_in_returns_to_the_page_asked_for() {
    let p = portal(|_| {}).await;
    let page =
        |path: &str, accept: &str| Request::get(path).header(header::ACCEPT, accept).body(Body::empty()).unwrap();
    let res = p.send(page("/preview-access?to=shop&next=/cart", "text/html,*/*")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[header::LOCATION], "/login");
    let cookie = res.headers()[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();
    // The browser's icon request on the sign-in page is no page to return to.
    let mut icon = page("/favicon.ico", "image/avif,image/webp,*/*");
    icon.headers_mut().insert(header::COOKIE, cookie.parse().unwrap());
    assert_eq!(p.send(icon).await.status(), StatusCode::SEE_OTHER);
    let signed_in = p
        .send(
            Request::post("/auth/demo")
                .header(header::ORIGIN, ORIGIN)
                .header(header::COOKIE, cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("login=alice"))
                .unwrap(),
        )
        .await;
    assert_eq!(signed_in.headers()[header::LOCATION], "/preview-access?to=shop&next=/cart");
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
        "/api/v1/apps",
        "/api/v1/apps/{slug}",
        "/api/v1/apps/{slug}/template",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    assert!(doc["paths"]["/api/v1/environments"]["post"]["requestBody"].is_object());
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}

/// `/metrics`: absent unless configured; with `EOD_METRICS_TOKEN` only for
/// that bearer token; the separate address's router serves it without one.
#[tokio::test]
async fn metrics_are_served_only_where_configured() {
    let get = |auth: Option<&str>| {
        let mut req = Request::get("/metrics");
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        req.body(Body::empty()).unwrap()
    };
    let p = portal(|_| {}).await;
    // Unconfigured, /metrics is just a page nobody has: sign in first.
    let res = p.send(get(Some("Bearer whatever-token-1234"))).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(!body_text(res).await.contains("# TYPE"));

    let token = "scrape-me-please-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let env: BTreeMap<String, String> = [
        ("EOD_DEMO".to_string(), "1".to_string()),
        ("EOD_DATA_DIR".to_string(), dir.path().display().to_string()),
        ("EOD_METRICS_TOKEN".to_string(), token.to_string()),
    ]
    .into();
    let mut config = Config::from_sources(None, &env).unwrap();
    config.pools.clear();
    let (app, _db, standalone) = crate::build(&config).await.unwrap();
    let send = |req: Request<Body>| app.clone().oneshot(req);
    // Traffic to count: a page and an API call.
    assert_eq!(send(Request::get("/healthz").body(Body::empty()).unwrap()).await.unwrap().status(), 200);
    assert_eq!(send(get(None)).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let wrong = send(get(Some("Bearer scrape-me-please-0123456788"))).await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.headers()[header::WWW_AUTHENTICATE], "Bearer");
    let res = send(get(Some(&format!("Bearer {token}")))).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain"));
    let text = body_text(res).await;
    for series in [
        "eod_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}",
        "eod_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\"",
        // The demo's live environments wait for provisioning: pending.
        "eod_environments{state=\"pending\",tier=\"preview-lightweight\"}",
        "eod_jobs_queued{kind=\"provision\"}",
        "eod_reaper_lag_seconds",
        "eod_build_info{version=",
    ] {
        assert!(text.contains(series), "{series} in\n{text}");
    }
    let pending: f64 = text
        .lines()
        .find(|l| l.starts_with("eod_jobs_queued{kind=\"provision\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(pending >= 1.0, "the demo's provisioning jobs are queued: {pending}");
    // The separate address: no token needed (and nothing else served).
    let res = standalone.clone().oneshot(get(None)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = standalone.oneshot(Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// The Grafana dashboard shows only metrics the portal records: every
/// `eod_*` name in its queries (less the histogram suffixes) is a metric
/// name written somewhere in the portal's source.
#[test]
fn the_dashboard_shows_only_exported_metrics() {
    fn names_in(text: &str) -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        let bytes = text.as_bytes();
        let mut i = 0;
        while let Some(at) = text[i..].find("eod_") {
            let start = i + at;
            let end = start + bytes[start..].iter().take_while(|b| b.is_ascii_lowercase() || **b == b'_').count();
            out.insert(text[start..end].to_string());
            i = end.max(start + 1);
        }
        out
    }
    fn sources(dir: &std::path::Path, into: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, into);
            } else if path.extension().is_some_and(|e| e == "rs") {
                into.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut code = String::new();
    sources(&root.join("src/http"), &mut code);
    sources(&root.join("src/workers"), &mut code);
    sources(&root.join("../app/src/ssr"), &mut code);
    let recorded: std::collections::BTreeSet<String> =
        names_in(&code).into_iter().filter(|n| code.contains(&format!("\"{n}\""))).collect();
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("dashboards/eod-portal.json")).unwrap()).unwrap();
    let mut exprs = String::new();
    fn walk(v: &serde_json::Value, into: &mut String) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    if k == "expr" || k == "query" {
                        into.push_str(v.as_str().unwrap_or_default());
                        into.push('\n');
                    }
                    walk(v, into);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, into)),
            _ => {}
        }
    }
    walk(&dashboard, &mut exprs);
    let shown = names_in(&exprs);
    assert!(shown.len() >= 10, "{shown:?}");
    for name in shown {
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .fold(name.clone(), |n, s| n.strip_suffix(s).map(str::to_string).unwrap_or(n));
        assert!(recorded.contains(&base), "the dashboard queries {name}, which the portal does not record");
    }
}

/// What a schema-driven client relies on: 401 with `WWW-Authenticate` for
/// a request without credentials (even a POST without an Origin), every
/// error in the `{"error": …}` shape whatever produced it, enums and
/// bounds in the schema, and the error statuses documented.
#[tokio::test]
async fn the_api_keeps_its_documented_error_contract() {
    let p = portal(|_| {}).await;
    let req = |method: &str, path: &str, auth: Option<&str>, ct: Option<&str>, body: &str| {
        let mut r = Request::builder().method(method).uri(path);
        if let Some(a) = auth {
            r = r.header(header::AUTHORIZATION, a);
        }
        if let Some(c) = ct {
            r = r.header(header::CONTENT_TYPE, c);
        }
        r.body(Body::from(body.to_string())).unwrap()
    };
    let expect_error = |res: axum::response::Response, status: u16| async move {
        assert_eq!(res.status().as_u16(), status);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
        let auth = res.headers().get(header::WWW_AUTHENTICATE).cloned();
        let body: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
        assert_eq!(body["error"]["status"], status, "{body}");
        assert!(body["error"]["message"].is_string(), "{body}");
        (auth, body)
    };
    let (auth, _) =
        expect_error(p.send(req("POST", "/api/v1/environments", None, Some("application/json"), "{}")).await, 401)
            .await;
    assert_eq!(auth.unwrap(), "Bearer");
    expect_error(p.send(req("DELETE", "/api/v1/environments/x", None, None, "")).await, 401).await;

    let token = p.env_token("user-alice").await;
    let bearer = format!("Bearer {token}");
    let b = Some(bearer.as_str());
    // Malformed JSON, the wrong content type, a wrong method, a bad query: JSON errors.
    expect_error(p.send(req("POST", "/api/v1/environments", b, Some("application/json"), "{not json")).await, 400)
        .await;
    expect_error(p.send(req("POST", "/api/v1/environments/x/extend", b, Some("text/plain"), "{}")).await, 415).await;
    expect_error(p.send(req("PUT", "/api/v1/environments", b, None, "")).await, 405).await;
    expect_error(
        p.send(req("POST", "/api/v1/environments/x/activity", b, Some("application/json"), "{\"kind\":\"nap\"}")).await,
        422,
    )
    .await;
    let (_, body) = expect_error(p.send(req("GET", "/api/v1/environments?limit=0", b, None, "")).await, 422).await;
    assert_eq!(body["error"]["field"], "limit");
    expect_error(p.send(req("GET", "/api/v1/environments?tier=huge", b, None, "")).await, 422).await;
    expect_error(p.send(req("GET", "/api/v1/environments?cursor=nope", b, None, "")).await, 422).await;
    expect_error(p.send(req("GET", "/api/v1/environments?zzz=1", b, None, "")).await, 422).await;
    let (_, body) = expect_error(p.send(req("GET", "/api/v1/environments?team=nosuch", b, None, "")).await, 422).await;
    assert_eq!(body["error"]["field"], "team");
    expect_error(p.send(req("GET", "/api/v1/environments?app=nosuch", b, None, "")).await, 422).await;
    // NUL cannot be stored in PostgreSQL text: refused on both engines alike.
    let nul_body = r#"{"app": "checkout-web", "team": "pay\u0000ments"}"#;
    let (_, body) =
        expect_error(p.send(req("POST", "/api/v1/environments", b, Some("application/json"), nul_body)).await, 422)
            .await;
    assert_eq!(body["error"]["field"], "text");
    expect_error(p.send(req("GET", "/api/v1/environments?q=a%00b", b, None, "")).await, 422).await;

    let res = p.send(Request::get("/api/v1/openapi.json").body(Body::empty()).unwrap()).await;
    let doc: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
    let create = &doc["paths"]["/api/v1/environments"]["post"];
    for status in ["201", "400", "401", "403", "415", "422", "429"] {
        assert!(create["responses"][status].is_object(), "POST /environments documents {status}");
    }
    assert!(doc["paths"]["/api/v1/environments/{id}"]["get"]["responses"]["404"].is_object());
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                let described = response["description"].as_str().is_some_and(|d| !d.is_empty());
                assert!(described, "{method} {path} {status} has a description");
            }
        }
    }
    let schemas = &doc["components"]["schemas"];
    let tiers = &schemas["CreateBody"]["properties"]["tier"];
    assert!(tiers.to_string().contains("preview-compliance"), "tier is an enum: {tiers}");
    let kinds = &schemas["ActivityBody"]["properties"]["kind"];
    assert!(kinds.to_string().contains("commit"), "kind is an enum: {kinds}");
    let hours = &schemas["ExtendBody"]["properties"]["hours"];
    assert_eq!(hours["maximum"], 720.0, "{hours}");
}

/// `GET /api/v1/environments` pages with a cursor: following `next` (also
/// in the `Link` header) sees each environment once while others are
/// created and destroyed between pages, and the last page says so.
#[tokio::test]
async fn the_api_lists_every_environment_once_by_cursor() {
    let p = portal(|_| {}).await;
    let token = p.env_token("user-erin").await;
    let get = |url: String| {
        let token = token.clone();
        let app = p.app.clone();
        async move {
            let res = app
                .oneshot(
                    Request::get(url)
                        .header(header::AUTHORIZATION, format!("Bearer {token}"))
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let link = res.headers().get(header::LINK).map(|v| v.to_str().unwrap().to_string());
            let body: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
            (body, link)
        }
    };
    let (all, _) = get("/api/v1/environments?limit=500".into()).await;
    let before: Vec<String> =
        all["items"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    assert!(before.len() > 12, "the demo has enough live environments: {}", before.len());
    let mut seen: Vec<String> = vec![];
    let mut destroyed = vec![];
    let mut url = "/api/v1/environments?limit=5".to_string();
    for round in 0.. {
        let (page, link) = get(url.clone()).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 5);
        seen.extend(items.iter().map(|e| e["id"].as_str().unwrap().to_string()));
        // Between pages: one made (newest, so before the cursor) and one not yet seen destroyed.
        sqlx::query(
            "INSERT INTO environments (id, name, team_id, app_id, tier, state, pooled, created_at)
             VALUES ($1, $1, 'team-payments', 'app-checkout-web', 'preview-lightweight', 'active', 0, $2)",
        )
        .bind(format!("made-between-{round}"))
        .bind(app::ssr::clock::now_ms() + 1000 * round)
        .execute(p.db.pool())
        .await
        .unwrap();
        if let Some(victim) = before.iter().rev().find(|id| !seen.contains(id) && !destroyed.contains(*id)) {
            sqlx::query("UPDATE environments SET state = 'destroyed' WHERE id = $1")
                .bind(victim)
                .execute(p.db.pool())
                .await
                .unwrap();
            destroyed.push(victim.clone());
        }
        match page["next"].as_str() {
            Some(next) => {
                assert_eq!(link.unwrap(), format!("<{next}>; rel=\"next\""));
                url = next.to_string();
            }
            None => {
                assert!(link.is_none());
                break;
            }
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "none twice");
    for id in before.iter().filter(|id| !destroyed.contains(*id)) {
        assert!(seen.contains(id), "{id} listed");
    }
    assert!(!destroyed.is_empty());
}

/// A git repository made by the test: `main` and `feature/x`, each with a page.
fn test_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(dir.path())
            .args(["-c", "user.name=t", "-c", "user.email=t@t.invalid", "-c", "commit.gpgsign=false"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    git(&["init", "--quiet", "--initial-branch=main"]);
    std::fs::write(dir.path().join("index.html"), "main").unwrap();
    git(&["add", "-A"]);
    git(&["commit", "--quiet", "-m", "one"]);
    git(&["checkout", "--quiet", "-b", "feature/x"]);
    std::fs::write(dir.path().join("index.html"), "feature").unwrap();
    git(&["commit", "--quiet", "-am", "two"]);
    git(&["checkout", "--quiet", "main"]);
    dir
}

impl Portal {
    async fn json(&self, method: &str, path: &str, cookie: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let res = self
            .send(
                Request::builder()
                    .method(method)
                    .uri(path)
                    .header(header::ORIGIN, ORIGIN)
                    .header(header::COOKIE, cookie)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await;
        let status = res.status().as_u16();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }
}

/// `Idempotency-Key` on API creates: a retry answers the environment the
/// first request made (201, `Idempotent-Replayed: true`); the key with
/// another body, or a malformed key, is a 422 that makes nothing.
#[tokio::test]
async fn a_retried_create_with_its_idempotency_key_makes_one_environment() {
    let repo = test_repo();
    let p = portal(|_| {}).await;
    let (alice, bob) = (p.sign_in("alice").await, p.sign_in("bob").await);
    let shop = serde_json::json!({ "team": "payments", "slug": "shop", "name": "Shop",
        "repository": repo.path().display().to_string() });
    let (s, made) = p.json("POST", "/api/v1/apps", &bob, shop).await;
    assert_eq!(s, 201, "{made}");
    let create = |key: &str, branch: &str| {
        Request::post("/api/v1/environments")
            .header(header::ORIGIN, ORIGIN)
            .header(header::COOKIE, &alice)
            .header(header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", key)
            .body(Body::from(serde_json::json!({ "app": "shop", "branch": branch }).to_string()))
            .unwrap()
    };
    let count = || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM environments e JOIN apps a ON a.id = e.app_id WHERE a.slug = 'shop'",
        )
        .fetch_one(p.db.pool())
        .await
        .unwrap();
        n
    };
    let first = p.send(create("retry-me-1", "main")).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let location = first.headers().get(header::LOCATION).map(|v| v.to_str().unwrap().to_string());
    let first: serde_json::Value =
        serde_json::from_slice(&axum::body::to_bytes(first.into_body(), 1 << 20).await.unwrap()).unwrap();
    assert_eq!(location, Some(format!("/api/v1/environments/{}", first["id"].as_str().unwrap())));
    let again = p.send(create("retry-me-1", "main")).await;
    assert_eq!(
        (again.status().as_u16(), again.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap())),
        (201, Some("true"))
    );
    let again: serde_json::Value =
        serde_json::from_slice(&axum::body::to_bytes(again.into_body(), 1 << 20).await.unwrap()).unwrap();
    assert_eq!(again["id"], first["id"], "the same environment");
    assert_eq!(count().await, 1);
    for (key, branch, why) in
        [("retry-me-1", "feature/x", "another body"), ("", "main", "empty"), ("tab\there", "main", "control character")]
    {
        let res = p.send(create(key, branch)).await;
        assert_eq!(res.status(), 422, "{why}");
        let e: serde_json::Value =
            serde_json::from_slice(&axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap()).unwrap();
        assert_eq!(e["error"]["field"], "Idempotency-Key", "{why}: {e}");
    }
    assert_eq!(count().await, 1, "refusals make nothing");
    let other = p.send(create("retry-me-2", "main")).await;
    assert_eq!(other.status(), 201, "another key is another create");
    assert_eq!(count().await, 2);
}

#[tokio::test]
async fn apps_are_registered_edited_and_archived_with_every_field_checked() {
    let repo = test_repo();
    let repo_path = repo.path().display().to_string();
    let configured = app::ssr::apps::AppInput {
        team: "search".into(),
        slug: "from-config".into(),
        name: "From config".into(),
        repository: repo_path.clone(),
        default_branch: None,
        blueprint: Some(serde_json::json!({ "start": "./serve", "secrets": { "TOKEN": "configured-secret" } })),
    };
    let p = portal(|c| c.apps = vec![configured.clone()]).await;
    let (alice, bob, erin) = (p.sign_in("alice").await, p.sign_in("bob").await, p.sign_in("erin").await);
    let app = |over: serde_json::Value| {
        let mut body = serde_json::json!({ "team": "payments", "slug": "shop", "name": "Shop", "repository": repo_path,
            "blueprint": { "build": "true", "start": "eod sample-app", "env": { "MODE": "preview" },
                           "secrets": { "STRIPE_KEY": "sk_test_hunter2" } } });
        for (k, v) in over.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    // Bad input: 422 naming the field, nothing written, no secret echoed.
    for (over, field) in [
        (serde_json::json!({ "repository": "ext::sh -c touch% /tmp/pwned" }), "repository"),
        (serde_json::json!({ "repository": "/no/such/repository" }), "repository"),
        (serde_json::json!({ "default_branch": "no-such-branch" }), "default_branch"),
        (serde_json::json!({ "default_branch": "--upload-pack=x" }), "default_branch"),
        (serde_json::json!({ "slug": "Bad Slug" }), "slug"),
        (serde_json::json!({ "blueprint": { "env": { "PORT": "1" } } }), "blueprint.env"),
        (serde_json::json!({ "blueprint": { "secrets": { "PORT": "sk_test_hunter2" } } }), "blueprint.secrets"),
        (
            serde_json::json!({ "blueprint": { "database": { "seed_file": "../../etc/passwd" } } }),
            "blueprint.database.seed_file",
        ),
        (serde_json::json!({ "blueprint": { "driver": "k8s" } }), "blueprint.driver"),
        (serde_json::json!({ "blueprint": { "driver": "script", "create": "terraform apply" } }), "blueprint.status"),
        // A valid kubernetes blueprint, but this portal has no cluster (EOD_KUBERNETES is off).
        (serde_json::json!({ "blueprint": { "driver": "kubernetes", "image": "shop:{commit}" } }), "blueprint.driver"),
        // A valid script blueprint, but its commands would run on the portal's host: platform admins only.
        (
            serde_json::json!({ "blueprint": { "driver": "script", "create": "terraform apply", "status": "true",
                                               "destroy": "terraform destroy" } }),
            "blueprint.driver",
        ),
    ] {
        let (s, e) = p.json("POST", "/api/v1/apps", &bob, app(over.clone())).await;
        assert_eq!((s, e["error"]["field"].as_str()), (422, Some(field)), "{over}: {e}");
        assert!(!e.to_string().contains("hunter2"), "a secret was echoed: {e}");
    }
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM apps WHERE slug = 'shop'").fetch_one(p.db.pool()).await.unwrap();
    assert_eq!(count, 0, "refusals change nothing");

    // A developer may not register; the team's manager may.
    let (s, _) = p.json("POST", "/api/v1/apps", &alice, app(serde_json::json!({}))).await;
    assert_eq!(s, 403);
    let (s, made) = p.json("POST", "/api/v1/apps", &bob, app(serde_json::json!({}))).await;
    assert_eq!(s, 201, "{made}");
    assert_eq!(made["secrets"], serde_json::json!(["STRIPE_KEY"]));
    assert!(!made.to_string().contains("hunter2"), "secrets are never shown again: {made}");
    let stored: String =
        sqlx::query_scalar("SELECT secrets FROM apps WHERE slug = 'shop'").fetch_one(p.db.pool()).await.unwrap();
    assert!(!stored.contains("hunter2"), "secrets are encrypted at rest");
    let (s, _) = p.json("POST", "/api/v1/apps", &bob, app(serde_json::json!({}))).await;
    assert_eq!(s, 409, "one slug per team");
    // A platform admin may choose the script driver.
    let script = serde_json::json!({ "slug": "infra", "blueprint": { "driver": "script", "create": "terraform apply",
        "status": "terraform output -json", "destroy": "terraform destroy", "step_timeout_seconds": 1800 } });
    let (s, made) = p.json("POST", "/api/v1/apps", &erin, app(script)).await;
    assert_eq!((s, made["blueprint"]["driver"].as_str()), (201, Some("script")), "{made}");
    // Its team's manager can neither swap its blueprint nor rename nor archive it.
    for (method, body) in [
        ("PATCH", serde_json::json!({ "blueprint": { "driver": "local" } })),
        ("PATCH", serde_json::json!({ "name": "Renamed" })),
    ] {
        let (s, e) = p.json(method, "/api/v1/apps/infra?team=payments", &bob, body).await;
        assert_eq!((s, e["error"]["field"].as_str()), (422, Some("blueprint.driver")), "{e}");
    }
    let (s, _) =
        p.json("PATCH", "/api/v1/apps/infra?team=payments", &erin, serde_json::json!({ "name": "Infra" })).await;
    assert_eq!(s, 200, "a platform admin may");

    // Environments of it resolve their branch to a commit.
    let (s, env) = p
        .json("POST", "/api/v1/environments", &alice, serde_json::json!({ "app": "shop", "branch": "feature/x" }))
        .await;
    assert_eq!(s, 201, "{env}");
    assert_eq!(env["commit_sha"].as_str().map(str::len), Some(40), "{env}");
    let (s, e) =
        p.json("POST", "/api/v1/environments", &alice, serde_json::json!({ "app": "shop", "branch": "nope" })).await;
    assert_eq!((s, e["error"]["field"].as_str()), (422, Some("branch")), "{e}");

    // Edit, archive (no new environments), restore.
    let (s, e) = p.json("PATCH", "/api/v1/apps/shop", &bob, serde_json::json!({ "name": "Shop v2" })).await;
    assert_eq!((s, e["name"].as_str()), (200, Some("Shop v2")), "{e}");
    let (s, e) = p.json("PATCH", "/api/v1/apps/shop", &bob, serde_json::json!({ "default_branch": "gone" })).await;
    assert_eq!((s, e["error"]["field"].as_str()), (422, Some("default_branch")), "{e}");
    let (s, e) = p.json("DELETE", "/api/v1/apps/shop", &bob, serde_json::json!({})).await;
    assert_eq!((s, e["archived"].as_bool()), (200, Some(true)), "{e}");
    let (s, e) =
        p.json("POST", "/api/v1/environments", &alice, serde_json::json!({ "app": "shop", "branch": "main" })).await;
    assert_eq!((s, e["error"]["field"].as_str()), (422, Some("app")), "{e}");
    let (s, _) = p.json("PATCH", "/api/v1/apps/shop", &bob, serde_json::json!({ "archived": false })).await;
    assert_eq!(s, 200);

    // Configuration-as-code: applied at startup, read-only elsewhere, secrets sealed.
    let (s, e) = p.json("GET", "/api/v1/apps/from-config", &erin, serde_json::json!({})).await;
    assert_eq!((s, e["managed_by_config"].as_bool()), (200, Some(true)), "{e}");
    assert_eq!(e["secrets"], serde_json::json!(["TOKEN"]));
    let (s, _) = p.json("PATCH", "/api/v1/apps/from-config", &erin, serde_json::json!({ "name": "x" })).await;
    assert_eq!(s, 409);
    let key =
        app::ssr::secrets::SecretKey::from_hex(&std::fs::read_to_string(p._dir.path().join("secret.key")).unwrap())
            .unwrap();
    assert_eq!(app::ssr::apps::apply_config(&p.db, &key, &[configured]).await.unwrap(), 0, "idempotent");
}

#[tokio::test]
async fn app_admins_platform_leaves_registration_to_platform_admins() {
    let repo = test_repo();
    let p = portal(|c| c.app_admins = app::ssr::context::AppAdmins::Platform).await;
    let body = serde_json::json!({ "team": "payments", "slug": "shop", "name": "Shop", "repository": repo.path().display().to_string() });
    let (s, _) = p.json("POST", "/api/v1/apps", &p.sign_in("bob").await, body.clone()).await;
    assert_eq!(s, 403, "a manager may not under EOD_APP_ADMINS=platform");
    let (s, e) = p.json("POST", "/api/v1/apps", &p.sign_in("erin").await, body).await;
    assert_eq!(s, 201, "{e}");
}

/// A fresh PostgreSQL database for an in-process portal (dropped by the caller).
fn postgres_database(tag: &str) -> (String, impl Fn()) {
    let admin =
        std::env::var("EOD_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://eod:eod@127.0.0.1:5432/postgres".into());
    let name = format!("eod_{tag}_{}", std::process::id());
    let psql = {
        let admin = admin.clone();
        move |sql: String| {
            let out = std::process::Command::new("psql").args(["-q", &admin, "-c", &sql]).output().expect("psql");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
    };
    psql(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    psql(format!("CREATE DATABASE {name}"));
    let base = admin.rsplit_once('/').unwrap().0.to_string();
    (format!("{base}/{name}"), move || psql(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
}

async fn body_text(res: axum::response::Response) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Sums a CSV column of dollars with six decimals into micro-dollars.
fn csv_column_micros(text: &str, column: &str) -> i64 {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let at = reader.headers().unwrap().iter().position(|h| h == column).unwrap_or_else(|| panic!("no {column}"));
    reader
        .records()
        .map(|r| {
            let cell = r.unwrap()[at].to_string();
            let (whole, frac) = cell.split_once('.').unwrap_or((&cell, "0"));
            let negative = whole.starts_with('-');
            let v = whole.trim_start_matches('-').parse::<i64>().unwrap() * 1_000_000
                + format!("{frac:0<6}")[..6].parse::<i64>().unwrap();
            if negative {
                -v
            } else {
                v
            }
        })
        .sum()
}

/// The JSON total, the CSV's `cost_usd` and the FOCUS files' `BilledCost`
/// agree to the micro-dollar for every team and for all teams, in closed
/// months that hold pool idle time, a shared staging and a rate change.
async fn files_sum_to_the_json_total(database_url: Option<String>) {
    let p = portal(|c| {
        if let Some(url) = database_url {
            c.database_url = url;
        }
    })
    .await;
    let erin = p.sign_in("erin").await;
    let bob = p.sign_in("bob").await;
    let get = |path: String, cookie: String| {
        let req = Request::get(path).header(header::COOKIE, cookie).body(Body::empty()).unwrap();
        p.send(req)
    };
    let now = app::ssr::clock::now_ms();
    let mut month = app::domain::cost::Month::containing(now - 150 * 86_400_000);
    let current = app::domain::cost::Month::containing(now);
    let mut saw = (false, false, false);
    while month < current {
        for (team, cookie) in [("all", &erin), ("payments", &erin), ("search", &erin), ("payments", &bob)] {
            let q = format!("month={}&team={team}", month.label());
            let res = get(format!("/api/v1/costs?{q}"), cookie.clone()).await;
            assert_eq!(res.status(), StatusCode::OK, "{q}");
            let json: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
            let total = json["total_micros"].as_i64().unwrap();
            assert!(json["reconciliation"]["balanced"].as_bool().unwrap(), "{q}");
            let csv = body_text(get(format!("/api/v1/costs/export.csv?{q}"), cookie.clone()).await).await;
            assert_eq!(csv_column_micros(&csv, "cost_usd"), total, "CSV {q}");
            for version in ["1.3", "1.2"] {
                let focus =
                    body_text(get(format!("/api/v1/costs/focus.csv?{q}&version={version}"), cookie.clone()).await)
                        .await;
                assert_eq!(csv_column_micros(&focus, "BilledCost"), total, "FOCUS {version} {q}");
                assert_eq!(focus.contains("AllocatedMethodId"), version == "1.3");
            }
            if team == "all" {
                let pools = json["shared"].as_array().unwrap();
                saw.0 |= pools.iter().any(|p| p["pool"] == "warm-pools");
                saw.1 |= pools.iter().any(|p| p["pool"] == "shared-environments");
                saw.2 |= pools.iter().any(|p| p["pool"] == "shared-database");
            }
        }
        month = month.next();
    }
    assert_eq!(saw, (true, true, true), "the demo year has every kind of shared cost");
    // Bad input is a 4xx with the API's error shape, and a developer may not read costs.
    let alice = p.sign_in("alice").await;
    for (path, want) in [
        ("/api/v1/costs?month=2026-13", StatusCode::UNPROCESSABLE_ENTITY),
        ("/api/v1/costs/export.csv?team=nope", StatusCode::NOT_FOUND),
        ("/api/v1/costs/focus.csv?version=2.0", StatusCode::UNPROCESSABLE_ENTITY),
        ("/api/v1/costs?colour=red", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let res = get(path.to_string(), bob.clone()).await;
        assert_eq!(res.status(), want, "{path}");
        let json: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
        assert!(json["error"]["message"].is_string(), "{path}");
    }
    assert_eq!(get("/api/v1/costs?team=payments".into(), alice).await.status(), StatusCode::FORBIDDEN);
    p.db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_files_sum_to_the_json_total_on_sqlite() {
    files_sum_to_the_json_total(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_files_sum_to_the_json_total_on_postgres() {
    let (url, drop_db) = postgres_database("costs");
    files_sum_to_the_json_total(Some(url)).await;
    drop_db();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_exports_neutralise_formulas_and_budgets_take_the_api() {
    let p = portal(|_| {}).await;
    // A branch name a spreadsheet would run as a formula.
    sqlx::query("UPDATE environments SET git_ref = '=HYPERLINK(\"http://evil\")' WHERE tier = 'staging'")
        .execute(p.db.pool())
        .await
        .unwrap();
    let bob = p.sign_in("bob").await;
    let csv = body_text(
        p.send(
            Request::get("/api/v1/costs/export.csv?team=payments")
                .header(header::COOKIE, &bob)
                .body(Body::empty())
                .unwrap(),
        )
        .await,
    )
    .await;
    assert!(csv.contains("'=HYPERLINK"), "{}", &csv[..csv.len().min(400)]);
    assert!(!csv.lines().any(|l| l.split(',').any(|c| c.starts_with('=') || c.starts_with("\"="))));
    let put = |body: &'static str| {
        Request::put("/api/v1/teams/payments/budget")
            .header(header::ORIGIN, ORIGIN)
            .header(header::COOKIE, &bob)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    assert_eq!(
        p.send(put(r#"{"amount_micros": 5, "thresholds": []}"#)).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(p.send(put(r#"{"amount": 5}"#)).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = p.send(put(r#"{"amount_micros": 250000000, "thresholds": [90, 50]}"#)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&body_text(res).await).unwrap();
    assert_eq!(json["thresholds"], serde_json::json!([50, 90]));
    let view = body_text(
        p.send(Request::get("/api/v1/costs?team=payments").header(header::COOKIE, &bob).body(Body::empty()).unwrap())
            .await,
    )
    .await;
    let view: serde_json::Value = serde_json::from_str(&view).unwrap();
    assert_eq!(view["budget"]["amount_micros"], 250_000_000);
    assert_eq!(p.audit_count("budget.set").await, 1);
}

/// Resident memory of this process (kB), from /proc.
fn rss_kb() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// `n` destroyed environments of the demo apps with three resources each,
/// started uniformly in [from, to), living 1–72 h; every fifth a pool claim.
async fn insert_history(db: &app::ssr::Db, prefix: &str, n: usize, from: i64, to: i64) {
    let apps = [
        ("team-payments", "app-checkout-web"),
        ("team-payments", "app-payments-api"),
        ("team-search", "app-search-ui"),
        ("team-search", "app-indexer"),
    ];
    let tiers = ["preview-lightweight", "preview-full", "preview-compliance", "preview-full"];
    let mut x: u64 = 0x5EED;
    let mut next = |n: u64| {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    let mut tx = db.begin_write().await.unwrap();
    for i in 0..n {
        let (team, app) = apps[next(4) as usize];
        let tier = tiers[next(4) as usize];
        let start = from + next((to - from) as u64) as i64;
        let end = start + 3_600_000 + next(71 * 3_600_000) as i64;
        let claimed = (i % 5 == 0).then_some(start + 1_800_000);
        let id = format!("{prefix}-{i:05}");
        sqlx::query(
            "INSERT INTO environments (id, name, team_id, app_id, tier, state, created_at, destroyed_at, claimed_at, git_ref)
             VALUES ($1, $1, $2, $3, $4, 'destroyed', $5, $6, $7, 'main')",
        )
        .bind(&id)
        .bind(team)
        .bind(app)
        .bind(tier)
        .bind(claimed.unwrap_or(start))
        .bind(end)
        .bind(claimed)
        .execute(&mut *tx)
        .await
        .unwrap();
        for (kind, rate) in [("compute", 125_000), ("database", 375_000), ("cdn", 145_834)] {
            sqlx::query(
                "INSERT INTO resources (id, environment_id, kind, name, driver, state, hourly_rate_micros, started_at, ended_at)
                 VALUES ($1, $2, $3, $1, 'local', 'deleted', $4, $5, $6)",
            )
            .bind(format!("{id}-{kind}"))
            .bind(&id)
            .bind(kind)
            .bind(rate)
            .bind(start)
            .bind(end)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
    }
    tx.commit().await.unwrap();
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

/// Benchmark (not a timed test; run with `--ignored --nocapture`): the
/// team-month report (JSON API and the page's server function) over a year
/// of 5,000 environments, and the FOCUS export of a month of 5,000
/// environments (rows/s, and resident memory while streaming compared with a
/// month a tenth the size).
async fn bench_costs(database_url: Option<String>, label: &str) {
    let p = portal(|c| {
        if let Some(url) = database_url {
            c.database_url = url;
        }
    })
    .await;
    let now = app::ssr::clock::now_ms();
    let day = 86_400_000;
    let this_month = app::domain::cost::Month::containing(now);
    let last = this_month.prev();
    let small = last.prev();
    insert_history(&p.db, "year", 5_000, now - 365 * day, now - 2 * day).await;
    let bob = p.sign_in("bob").await;
    let time = |req: Request<Body>| async {
        let t = std::time::Instant::now();
        let res = p.send(req).await;
        assert_eq!(res.status(), StatusCode::OK);
        let _ = body_text(res).await;
        t.elapsed().as_secs_f64() * 1000.0
    };
    let mut json = Vec::new();
    let mut page = Vec::new();
    for _ in 0..60 {
        json.push(
            time(Request::get("/api/v1/costs?team=payments").header(header::COOKIE, &bob).body(Body::empty()).unwrap())
                .await,
        );
        page.push(
            time(
                Request::post("/api/fn/costs_report")
                    .header(header::ORIGIN, ORIGIN)
                    .header(header::COOKIE, &bob)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from("team=payments"))
                    .unwrap(),
            )
            .await,
        );
    }
    // The first request computes the eleven closed months of the trend; later ones reuse them.
    let cold = json[0];
    let (json, page) = (&mut json[10..], &mut page[10..]);
    println!(
        "{label}: team-month report over a year of 5,000 environments: first request {cold:.1} ms; then JSON p50 {:.1} ms p95 {:.1} ms; server function p50 {:.1} ms p95 {:.1} ms",
        percentile(json, 0.5), percentile(json, 0.95), percentile(page, 0.5), percentile(page, 0.95)
    );

    // A month of 5,000 environments (and one of 500) for the export.
    insert_history(&p.db, "big", 5_000, last.start_ms(), last.next().start_ms() - 3 * day).await;
    insert_history(&p.db, "small", 500, small.start_ms(), small.next().start_ms() - 3 * day).await;
    let erin = p.sign_in("erin").await;
    for month in [small, last] {
        let base = rss_kb();
        let t = std::time::Instant::now();
        let res = p
            .send(
                Request::get(format!("/api/v1/costs/focus.csv?team=all&month={}", month.label()))
                    .header(header::COOKIE, &erin)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let mut body = res.into_body().into_data_stream();
        let (mut rows, mut bytes, mut peak) = (0usize, 0usize, base);
        use futures_util::StreamExt;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.unwrap();
            rows += chunk.iter().filter(|b| **b == b'\n').count();
            bytes += chunk.len();
            peak = peak.max(rss_kb());
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{label}: FOCUS 1.3 export of {}: {} rows, {:.1} MB in {:.2} s = {:.0} rows/s; RSS {} MB before, peak {} MB while streaming (+{} MB)",
            month.label(), rows - 1, bytes as f64 / 1e6, secs, (rows - 1) as f64 / secs, base / 1024, peak / 1024, (peak - base) / 1024
        );
    }
    p.db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn bench_costs_sqlite() {
    bench_costs(None, "SQLite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn bench_costs_postgres() {
    let (url, drop_db) = postgres_database("costbench");
    bench_costs(Some(url), "PostgreSQL").await;
    drop_db();
}

/// What the test receiver saw: path, headers, body.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, axum::http::HeaderMap, Vec<u8>)>>>;

/// A local HTTP receiver: `/ok` and `/slack` answer 200, `/flaky` 503 with
/// `Retry-After: 1` the first time then 200, `/gone` 410.
async fn receiver() -> (String, Received) {
    use axum::extract::{Path, State};
    use axum::response::IntoResponse;
    let seen: Received = Default::default();
    let app = axum::Router::new()
        .route(
            "/{path}",
            axum::routing::post(
                |State(seen): State<Received>,
                 Path(path): Path<String>,
                 headers: axum::http::HeaderMap,
                 body: axum::body::Bytes| async move {
                    let earlier = {
                        let mut seen = seen.lock().unwrap();
                        let n = seen.iter().filter(|(p, _, _)| *p == path).count();
                        seen.push((path.clone(), headers, body.to_vec()));
                        n
                    };
                    match (path.as_str(), earlier) {
                        ("gone", _) => StatusCode::GONE.into_response(),
                        ("flaky", 0) => (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "1")]).into_response(),
                        _ => StatusCode::OK.into_response(),
                    }
                },
            ),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

/// The outbox end to end: a team's channels get each event, the webhook
/// signed (checked against the secret shown once), Slack as Block Kit; a
/// 503 with Retry-After is retried, a 410 turns the channel off; each
/// delivery is recorded delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_channels_receive_signed_webhooks_and_slack_messages() {
    let (base, seen) = receiver().await;
    let p = portal(|_| {}).await;
    let bob = p.sign_in("bob").await;
    let add = |kind: &str, path: &str| {
        Request::post("/api/fn/add_channel")
            .header(header::ORIGIN, ORIGIN)
            .header(header::COOKIE, &bob)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("team=payments&kind={kind}&url={base}/{path}")))
            .unwrap()
    };
    let res = p.send(add("webhook", "ok")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let secret: Option<String> = serde_json::from_str(&body_text(res).await).unwrap();
    let secret = secret.expect("the secret, once");
    for (kind, path) in [("slack", "slack"), ("webhook", "flaky"), ("webhook", "gone")] {
        assert_eq!(p.send(add(kind, path)).await.status(), StatusCode::OK);
    }
    // An event: a budget the team is already over alerts at every level.
    let res = p
        .send(
            Request::put("/api/v1/teams/payments/budget")
                .header(header::ORIGIN, ORIGIN)
                .header(header::COOKIE, &bob)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"amount_micros": 1, "thresholds": [100]}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let budget: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE event = 'budget.threshold'")
        .fetch_one(p.db.pool())
        .await
        .unwrap();
    assert!(budget >= 4, "one delivery per channel per alert level: {budget}");

    // Wait for the outcomes (the worker runs every half second).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'")
            .fetch_one(p.db.pool())
            .await
            .unwrap();
        if open == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{open} deliveries still pending");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Per receiving path: (deliveries, delivered, attempts in all); the demo's
    // own events (environments getting ready) count too.
    let rows: Vec<(String, String, i64)> = sqlx::query_as("SELECT d.channel_id, d.state, d.attempts FROM deliveries d")
        .fetch_all(p.db.pool())
        .await
        .unwrap();
    let channel_of = |path: &str| {
        let key = p.db.clone();
        let path = path.to_string();
        async move {
            let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM channels ORDER BY created_at, id")
                .fetch_all(key.pool())
                .await
                .unwrap();
            let order = ["ok", "slack", "flaky", "gone"];
            ids[order.iter().position(|p| *p == path).unwrap()].clone()
        }
    };
    let seen = seen.lock().unwrap().clone();
    let sent_to = |path: &str| seen.iter().filter(|(p, _, _)| p == path).count();
    let ok_channel = channel_of("ok").await;
    let ok_rows: Vec<_> = rows.iter().filter(|r| r.0 == ok_channel).collect();
    assert!(ok_rows.iter().all(|r| r.1 == "delivered" && r.2 == 1), "{ok_rows:?}");
    assert_eq!(sent_to("ok"), ok_rows.len(), "each delivered once, recorded once");
    let mut ids = std::collections::BTreeSet::new();
    for (path, headers, body) in &seen {
        if path != "ok" {
            continue;
        }
        let h = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_string();
        let ts: i64 = h("webhook-timestamp").parse().unwrap();
        assert!(crate::standard_webhooks::verify(&secret, &h("webhook-id"), ts, body, &h("webhook-signature")));
        assert!(ids.insert(h("webhook-id")), "a distinct webhook-id per delivery");
        let json: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert!(json["type"].as_str().unwrap().parse::<app::domain::notification::EventKind>().is_ok(), "{json}");
        assert_eq!(json["data"]["team"], "payments");
    }
    assert!(seen.iter().any(|(p, _, b)| p == "ok" && String::from_utf8_lossy(b).contains("budget.threshold")));
    let slack: serde_json::Value =
        serde_json::from_slice(&seen.iter().find(|(p, _, _)| p == "slack").unwrap().2).unwrap();
    assert!(slack["text"].is_string());
    assert_eq!(slack["blocks"][0]["type"], "header");
    assert!(seen.iter().filter(|(p, _, _)| p == "slack").all(|(_, h, _)| h.get("webhook-signature").is_none()));
    // The flaky one: the first answer was 503 with Retry-After, retried, then delivered.
    let flaky_channel = channel_of("flaky").await;
    let flaky: Vec<_> = rows.iter().filter(|r| r.0 == flaky_channel).collect();
    assert!(flaky.iter().all(|r| r.1 == "delivered"), "{flaky:?}");
    assert_eq!(flaky.iter().filter(|r| r.2 == 2).count(), 1, "one retry");
    assert_eq!(sent_to("flaky"), flaky.len() + 1);
    // 410: the channel is off, nothing more is sent to it.
    let gone_channel = channel_of("gone").await;
    assert_eq!(sent_to("gone"), 1);
    assert!(rows.iter().filter(|r| r.0 == gone_channel).all(|r| r.1 == "failed"));
    let reason: Option<String> = sqlx::query_scalar("SELECT disabled_reason FROM channels WHERE id = $1")
        .bind(&gone_channel)
        .fetch_one(p.db.pool())
        .await
        .unwrap();
    assert!(reason.unwrap().contains("410"));
    p.db.close().await;
}

/// What the test SMTP server received: (MAIL FROM, RCPT TO, the message).
type Mails = std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<String>, String)>>>;

/// A minimal SMTP server on 127.0.0.1 (RFC 5321's happy path: EHLO, MAIL,
/// RCPT, DATA, QUIT), enough for the mailer's plain-SMTP transport. With
/// `refuse_first`, the first message's RCPT gets a transient 451.
async fn smtp_server(refuse_first: bool) -> (u16, Mails) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let mails: Mails = Default::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = mails.clone();
    let refused = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(!refuse_first));
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else { return };
            let (seen, refused) = (seen.clone(), refused.clone());
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 test ESMTP\r\n").await;
                let (mut from, mut to, mut data, mut in_data) = (String::new(), Vec::new(), String::new(), false);
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            // Long lines may come quoted-printable: undo its soft breaks.
                            let text = std::mem::take(&mut data).replace("=\n", "").replace("=3D", "=");
                            seen.lock().unwrap().push((from.clone(), std::mem::take(&mut to), text));
                            let _ = write.write_all(b"250 queued\r\n").await;
                        } else {
                            data.push_str(line.strip_prefix('.').unwrap_or(&line));
                            data.push('\n');
                        }
                        continue;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                        b"250-test\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        from = line[10..].trim().to_string();
                        b"250 ok\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        if !refused.swap(true, std::sync::atomic::Ordering::SeqCst) {
                            b"451 try again later\r\n"
                        } else {
                            to.push(line[8..].trim().to_string());
                            b"250 ok\r\n"
                        }
                    } else if upper == "DATA" {
                        in_data = true;
                        b"354 go on\r\n"
                    } else if upper == "QUIT" {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    let _ = write.write_all(reply).await;
                }
            });
        }
    });
    (port, mails)
}

/// E-mail end to end: a budget alert reaches the team's manager by e-mail
/// (From, To, subject, a link to the portal); a transient refusal is
/// retried; a person who turned e-mail off for the kind gets none while
/// their inbox still does; each e-mail is recorded sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_get_their_notifications_by_email_as_they_chose() {
    let (port, mails) = smtp_server(true).await;
    let p = portal(|c| {
        c.smtp = Some(crate::config::Smtp {
            url: format!("smtp://127.0.0.1:{port}"),
            from: "EoD Portal <eod@example.test>".parse().unwrap(),
        });
    })
    .await;
    let bob = p.sign_in("bob").await;
    let dan = p.sign_in("dan").await;
    let form = |cookie: &str, path: &str, body: &str| {
        Request::post(path)
            .header(header::ORIGIN, ORIGIN)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    // Dan keeps budget alerts in his inbox but not in his mail.
    let res = p.send(form(&dan, "/api/fn/set_notification_pref", "kind=budget_alert&on=false&channel=email")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = p.send(form(&dan, "/api/fn/set_notification_pref", "kind=budget_alert&on=false&channel=fax")).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "an unknown channel is refused");
    // The demo's own budget alerts may have gone out at startup, before
    // Dan's choice: only what is written after it counts.
    let chosen_at = app::ssr::clock::now_ms();
    // A level neither team reached before, so each alerts anew.
    let budget = |cookie: &str, team: &str| {
        Request::put(format!("/api/v1/teams/{team}/budget"))
            .header(header::ORIGIN, ORIGIN)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"amount_micros": 1, "thresholds": [37]}"#))
            .unwrap()
    };
    assert_eq!(p.send(budget(&bob, "payments")).await.status(), StatusCode::OK);
    assert_eq!(p.send(budget(&dan, "search")).await.status(), StatusCode::OK);

    let count = |sql: &'static str| {
        let db = p.db.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(db.pool()).await.unwrap() }
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while count("SELECT COUNT(*) FROM emails WHERE state = 'pending'").await > 0 {
        assert!(std::time::Instant::now() < deadline, "e-mails still pending");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(count("SELECT COUNT(*) FROM emails WHERE state = 'failed'").await, 0);
    let mails = mails.lock().unwrap().clone();
    let to_bob: Vec<_> =
        mails.iter().filter(|(_, to, _)| to.iter().any(|t| t.contains("bob@demo.eod.invalid"))).collect();
    let alert = to_bob.iter().find(|(_, _, m)| m.contains("37%")).expect("bob's budget alert by e-mail");
    assert!(alert.0.contains("eod@example.test"), "From: {}", alert.0);
    assert!(alert.2.contains("Subject: [EoD]"), "{}", alert.2);
    assert!(alert.2.contains(&format!("{ORIGIN}/costs")), "a link to the portal: {}", alert.2);
    assert!(alert.2.contains(&format!("{ORIGIN}/settings/notifications")));
    let after = |sql: &'static str| {
        let db = p.db.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).bind(chosen_at).fetch_one(db.pool()).await.unwrap() }
    };
    let dan_inbox = after(
        "SELECT COUNT(*) FROM notifications WHERE user_id = 'user-dan' AND kind = 'budget_alert' AND created_at >= $1",
    )
    .await;
    assert!(dan_inbox > 0, "his inbox still has the new alert");
    let dan_mail =
        after("SELECT COUNT(*) FROM emails WHERE user_id = 'user-dan' AND kind = 'budget_alert' AND created_at >= $1")
            .await;
    assert_eq!(dan_mail, 0, "dan turned budget e-mails off");
    assert!(!mails.iter().any(|(_, to, m)| to.iter().any(|t| t.contains("dan@")) && m.contains("37%")));
    // Each e-mail recorded sent once; the refused one took a second attempt.
    let sent = count("SELECT COUNT(*) FROM emails WHERE state = 'sent'").await;
    assert_eq!(sent as usize, mails.len(), "one message per e-mail recorded sent");
    assert_eq!(count("SELECT COUNT(*) FROM emails WHERE attempts = 2").await, 1, "the 451 was retried");
    p.db.close().await;
}

/// Without SMTP, nothing is queued for e-mail (nothing would send it), and
/// what an earlier, e-mailing portal left waiting ends as failed with why.
#[tokio::test]
async fn without_smtp_no_email_is_queued_and_leftovers_end() {
    let p = portal(|_| {}).await;
    let bob = p.sign_in("bob").await;
    let res = p
        .send(
            Request::put("/api/v1/teams/payments/budget")
                .header(header::ORIGIN, ORIGIN)
                .header(header::COOKIE, &bob)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"amount_micros": 1, "thresholds": [100]}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM emails").fetch_one(p.db.pool()).await.unwrap();
    assert_eq!(queued, 0);
    let inbox: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE kind = 'budget_alert'")
        .fetch_one(p.db.pool())
        .await
        .unwrap();
    assert!(inbox > 0);
    sqlx::query(
        "INSERT INTO emails (id, user_id, kind, message, state, attempts, next_attempt_at, created_at)
         VALUES ('left', 'user-bob', 'budget_alert', 'x', 'pending', 0, 0, 0)",
    )
    .execute(p.db.pool())
    .await
    .unwrap();
    app::ssr::notify::configure(&p.db, false, None, 1).await.unwrap();
    let (state, error): (String, Option<String>) =
        sqlx::query_as("SELECT state, last_error FROM emails WHERE id = 'left'").fetch_one(p.db.pool()).await.unwrap();
    assert_eq!(state, "failed");
    assert!(error.unwrap().contains("EOD_SMTP_URL"));
    p.db.close().await;
}

/// The chargeback API with personal access tokens: `costs:read` is needed,
/// a manager's token reads their team, another team is 404 and a
/// developer's token 403 whatever its scopes; and the budget gate refuses a
/// full preview over budget through `/api/v1` with a 409 naming the budget.
#[tokio::test]
async fn cost_tokens_need_costs_read_and_the_budget_gate_answers_409() {
    use app::domain::token::Scope;
    let p = portal(|_| {}).await;
    let token = |login: &'static str, scopes: Vec<Scope>| {
        let db = p.db.clone();
        async move {
            let viewer = app::ssr::store::users::find_by_login(db.pool(), login).await.unwrap().unwrap();
            let viewer = app::ssr::store::users::viewer(db.pool(), &viewer.id).await.unwrap().unwrap();
            let meta = app::ssr::RequestMeta { viewer: Some(viewer.clone()), ..Default::default() };
            let new = app::ssr::tokens::NewToken { name: "t".into(), scopes, expires_in_days: 1 };
            app::ssr::tokens::create(&db, &meta, &viewer, new).await.unwrap().1
        }
    };
    let get = |path: &str, token: &str| {
        Request::get(path).header(header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty()).unwrap()
    };
    let bob_costs = token("bob", vec![Scope::CostsRead]).await;
    let bob_envs = token("bob", vec![Scope::EnvironmentsRead]).await;
    let alice_costs = token("alice", vec![Scope::CostsRead]).await;
    let month = app::domain::cost::Month::containing(app::ssr::clock::now_ms()).label();
    for (path, token, want) in [
        (format!("/api/v1/costs?month={month}&team=payments"), &bob_costs, 200),
        (format!("/api/v1/costs/export.csv?month={month}&team=payments"), &bob_costs, 200),
        (format!("/api/v1/costs/focus.csv?month={month}&team=payments"), &bob_costs, 200),
        (format!("/api/v1/costs?month={month}&team=payments"), &bob_envs, 403),
        (format!("/api/v1/costs?month={month}&team=search"), &bob_costs, 404),
        (format!("/api/v1/costs?month={month}&team=payments"), &alice_costs, 403),
    ] {
        let res = p.send(get(path.as_str(), token.as_str())).await;
        let status = res.status().as_u16();
        let text = body_text(res).await;
        assert_eq!(status, want, "{path}: {text}");
        if want == 200 && path.contains("costs?") {
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert!(json["total_micros"].is_i64(), "{json}");
        } else if want != 200 {
            assert!(
                serde_json::from_str::<serde_json::Value>(&text).unwrap()["error"]["message"].is_string(),
                "{text}"
            );
        }
    }

    // Over budget: a full preview (budget_gate = block) is refused, naming it.
    let bob = p.sign_in("bob").await;
    let res = p
        .send(
            Request::put("/api/v1/teams/payments/budget")
                .header(header::ORIGIN, ORIGIN)
                .header(header::COOKIE, &bob)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"amount_micros": 1, "thresholds": [100]}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM environments").fetch_one(p.db.pool()).await.unwrap();
    let alice = p.sign_in("alice").await;
    let res = p
        .send(
            Request::post("/api/v1/environments")
                .header(header::ORIGIN, ORIGIN)
                .header(header::COOKIE, &alice)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"app": "checkout-web", "branch": "main", "tier": "preview-full"}"#))
                .unwrap(),
        )
        .await;
    let status = res.status();
    let text = body_text(res).await;
    assert_eq!(status, StatusCode::CONFLICT, "{text}");
    assert!(text.contains("budget"), "{text}");
    let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM environments").fetch_one(p.db.pool()).await.unwrap();
    assert_eq!(before, after, "nothing was created");
    p.db.close().await;
}

/// GitHub's `X-Hub-Signature-256` of `body` under `secret`.
fn github_signature(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// A `pull_request` `opened` delivery for the demo's acme/checkout-web.
fn opened_pull_request(number: u64) -> String {
    serde_json::json!({
        "action": "opened",
        "pull_request": { "number": number, "state": "open", "draft": false, "title": "t",
            "html_url": format!("https://github.com/acme/checkout-web/pull/{number}"),
            "updated_at": "2026-12-07T10:00:00Z", "labels": [],
            "head": { "sha": "0123456789abcdef0123456789abcdef01234567", "ref": "x", "repo": { "full_name": "acme/checkout-web" } } },
        "repository": { "full_name": "acme/checkout-web" },
    })
    .to_string()
}

/// `/webhooks/*` at the HTTP edge: every refusal gets its status and the
/// documented body, is logged, and queues nothing; only a signed delivery
/// for an app queues work, once per delivery id.
#[tokio::test]
async fn webhook_deliveries_are_refused_at_the_edge_before_anything_is_read() {
    const SECRET: &str = "edge-test-github-secret";
    let p = portal(|c| c.webhooks.github = Some(SECRET.into())).await;
    let sign = |body: &[u8]| github_signature(SECRET, body);
    let opened = opened_pull_request(7);
    let post = |path: &str, headers: &[(&str, String)], body: Body| {
        let mut req = Request::post(path).header(header::CONTENT_TYPE, "application/json");
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        req.body(body).unwrap()
    };
    let github = |id: &str, event: &str, signature: Option<String>, body: &str| {
        let mut headers = vec![("x-github-delivery", id.to_string()), ("x-github-event", event.to_string())];
        if let Some(s) = signature {
            headers.push(("x-hub-signature-256", s));
        }
        post("/webhooks/github", &headers, Body::from(body.to_string()))
    };
    // Jobs a delivery queued (a converge that waits for a starting preview
    // queues its own follow-ups, with `waits` above 0).
    let queued = || async {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'pull_request'
                 AND (payload LIKE '%\"waits\":0,%' OR payload LIKE '%\"waits\":0}%')",
        )
        .fetch_one(p.db.pool())
        .await
        .unwrap();
        n
    };
    let big = vec![b' '; app::ssr::pull_requests::MAX_BODY + 1];
    let cases: Vec<(Request<Body>, u16, &str)> = vec![
        (github("d1", "pull_request", None, &opened), 401, "X-Hub-Signature-256 is missing"),
        (github("d2", "pull_request", Some(sign(b"another body")), &opened), 401, "X-Hub-Signature-256 does not match"),
        (github("d3", "pull_request", Some("sha256=zz".into()), &opened), 401, "X-Hub-Signature-256 does not match"),
        (github("d3b", "pull_request", Some("hello".into()), &opened), 401, "X-Hub-Signature-256 does not match"),
        (github("d4", "pull_request", Some(sign(b"{")), "{"), 400, "Content-Type application/json"),
        (github("d5", "pull_request", Some(sign(b"{\"action\":1}")), "{\"action\":1}"), 400, "not valid JSON"),
        (
            post(
                "/webhooks/github",
                &[("x-github-event", "pull_request".into()), ("x-hub-signature-256", sign(opened.as_bytes()))],
                Body::from(opened.clone()),
            ),
            400,
            "X-GitHub-Delivery is missing",
        ),
        (
            post(
                "/webhooks/github",
                &[("x-github-delivery", "d7".into()), ("x-hub-signature-256", sign(b"big"))],
                Body::from(big),
            ),
            413,
            "over 25 MB",
        ),
        (
            post(
                "/webhooks/gitlab",
                &[("x-gitlab-event", "Merge Request Hook".into()), ("x-gitlab-token", "whatever-token-123".into())],
                Body::from("{}"),
            ),
            401,
            "EOD_GITLAB_WEBHOOK_SECRET is not set",
        ),
    ];
    for (req, status, says) in cases {
        let res = p.send(req).await;
        assert_eq!(res.status().as_u16(), status, "{says}");
        let body: serde_json::Value =
            serde_json::from_slice(&axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap()).unwrap();
        assert!(body["error"]["message"].as_str().unwrap().contains(says), "{says}: {body}");
    }
    assert_eq!(queued().await, 0, "refusals queue nothing");
    let push = p.send(github("d8", "push", Some(sign(b"{}")), "{}")).await;
    assert_eq!(push.status(), StatusCode::NO_CONTENT);
    assert_eq!(queued().await, 0);
    // The demo apps preview acme/<slug>: this one is taken, once.
    let first = p.send(github("d9", "pull_request", Some(sign(opened.as_bytes())), &opened)).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let again = p.send(github("d9", "pull_request", Some(sign(opened.as_bytes())), &opened)).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(queued().await, 1, "a redelivery queues nothing");
    let logged: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries").fetch_one(p.db.pool()).await.unwrap();
    assert_eq!(logged, 12, "every delivery is in the log");
    let secrets: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE outcome LIKE $1")
        .bind(format!("%{SECRET}%"))
        .fetch_one(p.db.pool())
        .await
        .unwrap();
    assert_eq!(secrets, 0);
    p.db.close().await;
}

/// A delivery whose job keeps failing inside the portal does not stay
/// "queued" for ever: the reconciler gives up, the log says so, and Re-run
/// takes it to the end once the portal works again.
#[tokio::test]
async fn a_delivery_the_portal_gives_up_on_says_so_and_can_be_rerun() {
    const SECRET: &str = "give-up-test-github-secret";
    let p = portal(|c| c.webhooks.github = Some(SECRET.into())).await;
    let body = opened_pull_request(9);
    let signature = github_signature(SECRET, body.as_bytes());
    // Every attempt fails inside the portal: its pull-request table is gone.
    let pool = p.db.pool();
    sqlx::query("ALTER TABLE pull_requests RENAME TO pull_requests_away").execute(pool).await.unwrap();
    let res = p
        .send(
            Request::post("/webhooks/github")
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-github-delivery", "give-up-1")
                .header("x-github-event", "pull_request")
                .header("x-hub-signature-256", signature)
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    // Two attempts at most (the second after a 1 s backoff), whichever the
    // reconciler claimed before this lowered the limit.
    sqlx::query("UPDATE jobs SET max_attempts = 1").execute(pool).await.unwrap();
    let outcome = || async {
        let o: String = sqlx::query_scalar("SELECT outcome FROM webhook_deliveries WHERE delivery_id = 'give-up-1'")
            .fetch_one(pool)
            .await
            .unwrap();
        o
    };
    let mut seen = outcome().await;
    for _ in 0..600 {
        if seen.starts_with("failed:") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        seen = outcome().await;
    }
    assert!(seen.starts_with("failed: the portal gave up"), "{seen}");
    assert!(seen.contains("Re-run"), "{seen}");
    // Working again, a platform admin re-runs it to an outcome.
    sqlx::query("ALTER TABLE pull_requests_away RENAME TO pull_requests").execute(pool).await.unwrap();
    let id: String = sqlx::query_scalar("SELECT id FROM webhook_deliveries WHERE delivery_id = 'give-up-1'")
        .fetch_one(pool)
        .await
        .unwrap();
    let admin = p.sign_in("erin").await;
    let rerun = p
        .send(
            Request::post("/api/fn/rerun_delivery")
                .header(header::ORIGIN, ORIGIN)
                .header(header::COOKIE, &admin)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("id={id}")))
                .unwrap(),
        )
        .await;
    assert_eq!(rerun.status(), StatusCode::OK);
    let before: String = sqlx::query_scalar("SELECT detail FROM audit_events WHERE action = 'pull_request.rerun'")
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(before.contains("failed: the portal gave up"), "the trail keeps the outcome the re-run replaces: {before}");
    for _ in 0..600 {
        seen = outcome().await;
        if !seen.starts_with("failed:") && seen != "re-run queued" && seen != "queued" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen.starts_with("checkout-web: "), "re-run reaches an outcome: {seen}");
    p.db.close().await;
}

/// The Environments page is sent again while nothing changed, with a new
/// nonce each time, and rendered anew after any audited change;
/// `EOD_PAGE_CACHE_MS=0` renders every view.
#[tokio::test]
async fn the_environments_page_is_reused_only_until_something_changes() {
    for (ms, reused) in [(60_000, true), (0, false)] {
        let p = portal(|c| c.page_cache = Duration::from_millis(ms)).await;
        let pool = p.db.pool();
        // The demo's environments start in the background: wait until no job is left.
        for _ in 0..1200 {
            let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE finished_at IS NULL")
                .fetch_one(pool)
                .await
                .unwrap();
            if open == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let cookie = p.sign_in("erin").await;
        let get = || async {
            let res = p
                .send(
                    Request::get("/")
                        .header(header::COOKIE, &cookie)
                        .header(header::ACCEPT, "text/html")
                        .body(Body::empty())
                        .unwrap(),
                )
                .await;
            assert_eq!(res.status(), StatusCode::OK);
            let policy = res.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_string();
            (policy, body_text(res).await)
        };
        let (policy, first) = get().await;
        // An environment the page shows (names are unique among the live ones).
        let names: Vec<String> =
            sqlx::query_scalar("SELECT name FROM environments ORDER BY created_at DESC").fetch_all(pool).await.unwrap();
        let name =
            names.into_iter().find(|n| first.contains(&format!(">{n}<"))).expect("the page shows an environment");
        // Behind the portal's back: no audit event says anything changed.
        sqlx::query("UPDATE environments SET name = 'renamed-behind-its-back' WHERE name = $1")
            .bind(&name)
            .execute(pool)
            .await
            .unwrap();
        let (again, second) = get().await;
        assert_ne!(policy, again, "every reply has its own nonce");
        let nonce = |p: &str| p.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap().to_string();
        assert!(second.contains(&format!("nonce=\"{}\"", nonce(&again))), "the page's scripts carry the reply's nonce");
        assert!(!second.contains(&nonce(&policy)), "and never the first reply's");
        assert_eq!(second.contains("renamed-behind-its-back"), !reused, "page cache {ms} ms");
        // Any audited change renders it anew.
        let event = app::ssr::store::audit::AuditEvent::from_request(
            &app::ssr::RequestMeta::default(),
            "test.change",
            "environment",
            None,
            app::ssr::store::audit::Outcome::Success,
        );
        app::ssr::store::audit::append(pool, &event).await.unwrap();
        let (_, third) = get().await;
        assert!(third.contains("renamed-behind-its-back"));
        p.db.close().await;
    }
}

/// `eod config` shows every key's effective value, secrets as set or unset only.
#[test]
fn eod_config_shows_every_key_without_secrets() {
    let env: BTreeMap<String, String> = [
        ("EOD_GITHUB_WEBHOOK_SECRET", "a-github-webhook-secret"),
        ("EOD_GITHUB_TOKEN", "ghp_secret_token_value"),
        ("EOD_GITLAB_API_URL", "https://gitlab.example/api/v4"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = Config::from_sources(None, &env).unwrap();
    for key in crate::config::KEYS {
        let shown = crate::effective(&config, key.env);
        assert_ne!(shown, "(not shown)", "{} has no line in eod config", key.env);
        assert!(!shown.contains("secret") || key.env.ends_with("_URL"), "{}: {shown}", key.env);
    }
    assert_eq!(crate::effective(&config, "EOD_GITHUB_WEBHOOK_SECRET"), "(set, hidden)");
    assert_eq!(crate::effective(&config, "EOD_GITLAB_TOKEN"), "(unset)");
    assert_eq!(crate::effective(&config, "EOD_GITLAB_API_URL"), "https://gitlab.example/api/v4");
}
