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
