//! The lifecycle engine on real resources: the release `eod` binary runs as
//! its own process (on SQLite, then on PostgreSQL), an API token creates a
//! preview, the local driver starts the sample workload, the preview proxy
//! reaches it, extend and destroy do what the policy says, and nothing of
//! the environment is left on the host afterwards.

use openidconnect::reqwest;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Portal {
    child: Child,
    base: String,
    port: u16,
    data: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(database_url: Option<String>) -> Portal {
    start_with(database_url, &[])
}

fn start_with(database_url: Option<String>, extra: &[(&str, &str)]) -> Portal {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut env = vec![
        ("EOD_LISTEN".to_string(), format!("127.0.0.1:{port}")),
        ("EOD_DATA_DIR".to_string(), data.path().display().to_string()),
        ("EOD_DEMO".to_string(), "1".to_string()),
        ("EOD_LOG".to_string(), "warn".to_string()),
    ];
    if let Some(url) = database_url {
        env.push(("EOD_DATABASE_URL".to_string(), url));
    }
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let child = Command::new(env!("CARGO_BIN_EXE_eod")).envs(env.clone()).stdout(Stdio::null()).spawn().unwrap();
    Portal { child, base: format!("http://127.0.0.1:{port}"), port, data, env }
}

impl Portal {
    async fn wait_ready(&self, http: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = http.get(format!("{}/readyz", self.base)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("portal did not become ready");
    }

    fn token(&self, login: &str, scopes: &[&str]) -> String {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_eod"));
        cmd.envs(self.env.clone()).args(["token", "create", "--user", login]);
        for s in scopes {
            cmd.args(["--scope", s]);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_string());
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn wait_for_state(http: &reqwest::Client, p: &Portal, token: &str, id: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, env) =
            call(http, reqwest::Method::GET, format!("{}/api/v1/environments/{id}", p.base), token, None).await;
        assert_eq!(status, 200, "{env}");
        if env["state"] == want {
            return env;
        }
        assert!(Instant::now() < deadline, "still {} waiting for {want}", env["state"]);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn pid_alive(pid: i64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
}

async fn preview_lifecycle(database_url: Option<String>) {
    let p = start(database_url);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    p.wait_ready(&http).await;
    let token = p.token("alice", &["environments:read", "environments:write"]);
    let api = |path: &str| format!("{}/api/v1/environments{path}", p.base);

    // Bad input: a clear 4xx naming the field, nothing created.
    let (s, e) =
        call(&http, reqwest::Method::POST, api(""), &token, Some(json!({ "app": "nope", "branch": "x" }))).await;
    assert_eq!((s, e["error"]["field"].as_str()), (422, Some("app")), "{e}");
    let (s, e) = call(
        &http,
        reqwest::Method::POST,
        api(""),
        &token,
        Some(json!({ "app": "checkout-web", "branch": "x", "tier": "huge" })),
    )
    .await;
    assert_eq!((s, e["error"]["field"].as_str()), (422, Some("tier")), "{e}");
    let (s, _) =
        call(&http, reqwest::Method::POST, api(""), &token, Some(json!({ "app": "search-ui", "branch": "x" }))).await;
    assert_eq!(s, 422, "another team's app is not offered");
    let (s, _) = call(&http, reqwest::Method::POST, api(""), &token, Some(Value::String("{".into()))).await;
    assert_eq!(s, 422);

    // Create: returns at once, pending.
    let started = Instant::now();
    let (s, env) = call(
        &http,
        reqwest::Method::POST,
        api(""),
        &token,
        Some(json!({ "app": "checkout-web", "branch": "feature/lifecycle" })),
    )
    .await;
    assert_eq!(s, 201, "{env}");
    assert_eq!(env["state"], "pending");
    let id = env["id"].as_str().unwrap().to_string();
    let name = env["name"].as_str().unwrap().to_string();
    let env = wait_for_state(&http, &p, &token, &id, "active").await;
    eprintln!("click-to-ready (cold, local driver): {:?}", started.elapsed());
    let url = env["url"].as_str().unwrap();
    assert_eq!(url, format!("http://{name}.localhost:{}/", p.port));

    // The preview proxy reaches the sample workload and its own database.
    let res =
        http.get(format!("{}/", p.base)).header("host", format!("{name}.localhost:{}", p.port)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains(&name), "{page}");
    assert!(page.contains("preview-lightweight"));
    assert!(page.contains(">42<"), "row count from the environment's database: {page}");

    // Extend moves the expiry by the step the policy allows.
    let before = env["expires_at"].as_i64().unwrap();
    let (s, e) =
        call(&http, reqwest::Method::POST, api(&format!("/{id}/extend")), &token, Some(json!({ "hours": 2 }))).await;
    assert_eq!(s, 200, "{e}");
    assert!(e["expires_at"].as_i64().unwrap() >= before + 2 * 3_600_000 - 60_000);
    let (s, e) =
        call(&http, reqwest::Method::POST, api(&format!("/{id}/extend")), &token, Some(json!({ "hours": 3 }))).await;
    assert_eq!((s, e["error"]["field"].as_str()), (422, Some("hours")), "more than the 2 h step: {e}");

    // Activity through the API is accepted; other teams cannot see it.
    let (s, _) =
        call(&http, reqwest::Method::POST, api(&format!("/{id}/activity")), &token, Some(json!({ "kind": "commit" })))
            .await;
    assert_eq!(s, 200);
    let carol = p.token("carol", &["environments:read", "environments:write"]);
    let (s, _) = call(&http, reqwest::Method::GET, api(&format!("/{id}")), &carol, None).await;
    assert_eq!(s, 404);
    let (s, _) = call(&http, reqwest::Method::DELETE, api(&format!("/{id}")), &carol, None).await;
    assert_eq!(s, 404);

    // Destroy: nothing of it is left on the host.
    let dir = p.data.path().join("envs").join(&name);
    let pid: i64 = std::fs::read_to_string(dir.join("pid")).unwrap().trim().parse().unwrap();
    assert!(pid_alive(pid));
    let (s, e) = call(&http, reqwest::Method::DELETE, api(&format!("/{id}")), &token, None).await;
    assert_eq!(s, 202, "{e}");
    wait_for_state(&http, &p, &token, &id, "destroyed").await;
    assert!(!dir.exists(), "environment directory removed");
    assert!(!pid_alive(pid), "process stopped");
    let res =
        http.get(format!("{}/", p.base)).header("host", format!("{name}.localhost:{}", p.port)).send().await.unwrap();
    assert_eq!(res.status(), 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_lives_and_dies_on_sqlite() {
    preview_lifecycle(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_lives_and_dies_on_postgres() {
    let admin =
        std::env::var("EOD_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://eod:eod@127.0.0.1:5432/postgres".into());
    let name = format!("eod_life_{}", std::process::id());
    let psql = |sql: String| {
        let out = Command::new("psql").args(["-q", &admin, "-c", &sql]).output().expect("psql");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    psql(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    psql(format!("CREATE DATABASE {name}"));
    let base = admin.rsplit_once('/').unwrap().0;
    preview_lifecycle(Some(format!("{base}/{name}"))).await;
    psql(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
}

/// A fresh PostgreSQL database for one test; dropped by the returned guard.
struct PgDb {
    admin: String,
    name: String,
    url: String,
}

impl PgDb {
    fn new(tag: &str) -> PgDb {
        let admin = std::env::var("EOD_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://eod:eod@127.0.0.1:5432/postgres".into());
        let name = format!("eod_{tag}_{}", std::process::id());
        let db = PgDb { url: format!("{}/{name}", admin.rsplit_once('/').unwrap().0), admin, name };
        db.psql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", db.name));
        db.psql(&format!("CREATE DATABASE {}", db.name));
        db
    }

    fn psql(&self, sql: &str) {
        let out = Command::new("psql").args(["-q", &self.admin, "-c", sql]).output().expect("psql");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        self.psql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

/// Two replicas on one PostgreSQL database share the scheduler and the
/// reconciler: 1,000 environments expiring at once are each destroyed
/// exactly once, and both replicas do part of the work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_destroy_each_expired_environment_exactly_once() {
    sqlx::any::install_default_drivers();
    let pg = PgDb::new("replicas");
    let first = start(Some(pg.url.clone()));
    let http = reqwest::Client::new();
    first.wait_ready(&http).await;
    let second = start_with(Some(pg.url.clone()), &[("EOD_DEMO", "0")]);
    second.wait_ready(&http).await;

    let pool = sqlx::AnyPool::connect(&pg.url).await.unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let mut tx = pool.begin().await.unwrap();
    for i in 0..1000 {
        sqlx::query(
            "INSERT INTO environments (id, name, team_id, app_id, owner_id, tier, state, desired, pooled, created_at, last_activity_at, expires_at)
             VALUES ($1, $2, 'team-payments', 'app-checkout-web', 'user-alice', 'preview-lightweight', 'active', 'running', 0, $3, $3, $4)",
        )
        .bind(format!("expiring-{i:04}"))
        .bind(format!("checkout-web-expiring-{i:04}"))
        .bind(now - 3_600_000)
        .bind(now - 1_000)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let destroyed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM environments WHERE id LIKE 'expiring-%' AND state = 'destroyed'")
                .fetch_one(&pool)
                .await
                .unwrap();
        if destroyed == 1000 {
            break;
        }
        assert!(Instant::now() < deadline, "only {destroyed} of 1000 destroyed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let twice: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT target_id FROM audit_events WHERE action = 'environment.destroyed' AND target_id LIKE 'expiring-%'
         GROUP BY target_id HAVING COUNT(*) > 1) t",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let once: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT target_id) FROM audit_events WHERE action = 'environment.destroyed' AND target_id LIKE 'expiring-%'")
        .fetch_one(&pool)
        .await
        .unwrap();
    let teardowns: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'teardown' AND environment_id LIKE 'expiring-%'")
            .fetch_one(&pool)
            .await
            .unwrap();
    let workers: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT locked_by) FROM jobs WHERE kind = 'teardown' AND environment_id LIKE 'expiring-%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    eprintln!("1000 expired environments: destroyed once {once}, twice {twice}, teardown jobs {teardowns}, replicas working {workers}");
    assert_eq!((once, twice, teardowns), (1000, 0, 1000));
    assert_eq!(workers, 2, "both replicas claimed teardown jobs");
    pool.close().await;
    drop((first, second));
}

/// Benchmark, not a test (run with `--ignored`): click-to-ready over 50
/// creations through the API, cold, on the local driver. Results go to
/// BENCHMARKS.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_click_to_ready() {
    for (label, db) in [("SQLite", None), ("PostgreSQL", Some(PgDb::new("bench")))] {
        let p = start(db.as_ref().map(|d| d.url.clone()));
        let http = reqwest::Client::new();
        p.wait_ready(&http).await;
        let token = p.token("alice", &["environments:read", "environments:write"]);
        let mut samples = vec![];
        for i in 0..50 {
            let t = Instant::now();
            let (s, env) = call(
                &http,
                reqwest::Method::POST,
                format!("{}/api/v1/environments", p.base),
                &token,
                Some(json!({ "app": "checkout-web", "branch": format!("bench-{i}") })),
            )
            .await;
            assert_eq!(s, 201, "{env}");
            let created = t.elapsed();
            let id = env["id"].as_str().unwrap().to_string();
            loop {
                let (_, e) =
                    call(&http, reqwest::Method::GET, format!("{}/api/v1/environments/{id}", p.base), &token, None)
                        .await;
                if e["state"] == "active" {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            samples.push((created, t.elapsed()));
            // Leave nothing running when the portal stops after the loop.
            let _ = call(&http, reqwest::Method::DELETE, format!("{}/api/v1/environments/{id}", p.base), &token, None)
                .await;
            wait_for_state(&http, &p, &token, &id, "destroyed").await;
        }
        let pct = |v: &mut Vec<Duration>, q: f64| {
            v.sort();
            v[((v.len() as f64 - 1.0) * q).round() as usize]
        };
        let mut create: Vec<_> = samples.iter().map(|s| s.0).collect();
        let mut ready: Vec<_> = samples.iter().map(|s| s.1).collect();
        println!(
            "{label}: POST returns p50 {:?} p95 {:?}; click-to-ready p50 {:?} p95 {:?} (n=50, cold, local driver)",
            pct(&mut create, 0.5),
            pct(&mut create, 0.95),
            pct(&mut ready, 0.5),
            pct(&mut ready, 0.95)
        );
    }
}
