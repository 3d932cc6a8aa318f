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
    /// Set by [`Portal::crash`]: the environments' processes outlive it.
    crashed: bool,
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.crashed {
            // Environments run in their own process groups and survive the
            // portal by design; a finished test must not leave them behind.
            for (pid, _) in env_processes(&self.data_dir()) {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
    }
}

/// Processes the local driver started under `root`, as (pid, environment
/// id), found by the marker it puts in their environment.
fn env_processes(root: &Path) -> Vec<(i64, String)> {
    let marker = format!("EOD_ENV_ROOT={}", std::path::absolute(root).unwrap().display());
    let mut found = vec![];
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i64>().ok()) else { continue };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
        let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
        if vars.contains(&marker.as_bytes()) && pid_alive(pid) {
            if let Some(id) = vars.iter().find_map(|v| v.strip_prefix(b"EOD_ENV_ID=")) {
                found.push((pid, String::from_utf8_lossy(id).into_owned()));
            }
        }
    }
    found
}

/// A process's group id (0 once it is gone).
fn process_group(pid: i64) -> i64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit(')').next()?.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(0)
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The uid the local driver of the portal with data directory `data` runs
/// an environment's workload as (see `Isolation::uid_of`).
fn workload_uid(data: &Path, id: &str) -> u32 {
    use sha2::{Digest, Sha256};
    let hex = std::fs::read_to_string(data.join("runtime").join("uid-key")).unwrap();
    let key: Vec<u8> = (0..32).map(|i| u8::from_str_radix(&hex.trim()[2 * i..2 * i + 2], 16).unwrap()).collect();
    let digest = Sha256::new().chain_update(&key).chain_update(id.as_bytes()).finalize();
    (1 << 30) | (u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) & ((1 << 29) - 1))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(database_url: Option<String>) -> Portal {
    start_with(database_url, &[])
}

fn start_with(database_url: Option<String>, extra: &[(&str, &str)]) -> Portal {
    start_logging_to(database_url, extra, Stdio::inherit())
}

fn start_logging_to(database_url: Option<String>, extra: &[(&str, &str)], stderr: Stdio) -> Portal {
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
    let child =
        Command::new(env!("CARGO_BIN_EXE_eod")).envs(env.clone()).stdout(Stdio::null()).stderr(stderr).spawn().unwrap();
    Portal { child, base: format!("http://127.0.0.1:{port}"), port, data, env, crashed: false }
}

/// A TOML configuration file in `dir` (for `[[pool]]` and `[tier.*]`).
fn config_file(dir: &Path, text: &str) -> String {
    let path = dir.join("eod.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

impl Portal {
    /// The data directory in force (a test may point several portals at one).
    fn data_dir(&self) -> std::path::PathBuf {
        let dir = self.env.iter().rev().find(|(k, _)| k == "EOD_DATA_DIR").map(|(_, v)| v.clone()).unwrap();
        std::path::PathBuf::from(dir)
    }

    /// SIGKILL, as a crash would; the environments keep running.
    fn crash(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.crashed = true;
    }

    fn database_url(&self) -> String {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == "EOD_DATABASE_URL")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| format!("sqlite:{}", self.data_dir().join("eod.db").display()))
    }

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

    /// Registers an app through the API as a platform admin.
    async fn register_app(&self, http: &reqwest::Client, body: Value) {
        let admin = self.token("erin", &["apps:read", "apps:write"]);
        let url = format!("{}/api/v1/apps", self.base);
        let (s, app) = call(http, reqwest::Method::POST, url, &admin, Some(body)).await;
        assert_eq!(s, 201, "{app}");
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

/// Creates an environment through the API and waits until it is active:
/// (id, name).
async fn create_active(http: &reqwest::Client, p: &Portal, token: &str, body: Value) -> (String, String) {
    let (s, env) =
        call(http, reqwest::Method::POST, format!("{}/api/v1/environments", p.base), token, Some(body)).await;
    assert_eq!(s, 201, "{env}");
    let (id, name) = (env["id"].as_str().unwrap().to_string(), env["name"].as_str().unwrap().to_string());
    wait_for_state(http, p, token, &id, "active").await;
    (id, name)
}

async fn wait_for_state(http: &reqwest::Client, p: &Portal, token: &str, id: &str, want: &str) -> Value {
    wait_for(http, p, token, id, "state", want).await
}

/// Polls the environment's JSON until `field` reads `want`.
async fn wait_for(http: &reqwest::Client, p: &Portal, token: &str, id: &str, field: &str, want: &str) -> Value {
    // Generous: at demo start the reconciler provisions the demo's live
    // environments (checkout, build, migrate, start) before this one.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, env) =
            call(http, reqwest::Method::GET, format!("{}/api/v1/environments/{id}", p.base), token, None).await;
        assert_eq!(status, 200, "{env}");
        if env[field] == want {
            return env;
        }
        assert!(Instant::now() < deadline, "{field} still {} waiting for {want}", env[field]);
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
    let conf_dir = tempfile::tempdir().unwrap();
    let conf = config_file(
        conf_dir.path(),
        "[[pool]]\napp = \"checkout-web\"\ntier = \"preview-full\"\nsize = 1\n\n\
         [tier.preview-lightweight]\nextension_step_minutes = 120\n",
    );
    let p = start_with(database_url, &[("EOD_CONFIG", &conf)]);
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
        Some(json!({ "app": "checkout-web", "branch": "fix/cart-rounding" })),
    )
    .await;
    assert_eq!(s, 201, "{env}");
    assert_eq!(env["state"], "pending");
    let commit = env["commit_sha"].as_str().expect("the branch resolved to a commit").to_string();
    assert_eq!(commit.len(), 40, "{env}");
    let id = env["id"].as_str().unwrap().to_string();
    let name = env["name"].as_str().unwrap().to_string();
    let env = wait_for_state(&http, &p, &token, &id, "active").await;
    eprintln!("click-to-ready (cold, local driver): {:?}", started.elapsed());
    let url = env["url"].as_str().unwrap();
    assert_eq!(url, format!("http://{name}.localhost:{}/", p.port));

    // The preview proxy reaches the sample workload and its own database.
    let res = http
        .get(format!("{}/", p.base))
        .header("host", format!("{name}.localhost:{}", p.port))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains(&name), "{page}");
    assert!(page.contains("preview-lightweight"));
    assert!(page.contains(">42<"), "row count from the environment's database: {page}");
    assert!(page.contains("the fix/cart-rounding change"), "the branch's own page: {page}");
    assert!(page.contains(&commit), "the commit it runs: {page}");
    let (s, e) = call(
        &http,
        reqwest::Method::POST,
        api(""),
        &token,
        Some(json!({ "app": "checkout-web", "branch": "no/such-branch" })),
    )
    .await;
    assert_eq!((s, e["error"]["field"].as_str()), (422, Some("branch")), "{e}");
    let (s, e) =
        call(&http, reqwest::Method::POST, api(""), &token, Some(json!({ "app": "checkout-web", "pr_number": 999 })))
            .await;
    assert_eq!((s, e["error"]["field"].as_str()), (422, Some("pr_number")), "{e}");
    let (s, e) = call(
        &http,
        reqwest::Method::POST,
        api(""),
        &token,
        Some(json!({ "app": "checkout-web", "branch": "main", "pr_number": 7 })),
    )
    .await;
    assert_eq!((s, e["error"]["field"].as_str()), (422, Some("pr_number")), "both a branch and a PR: {e}");
    let (s, e) = call(
        &http,
        reqwest::Method::POST,
        api(""),
        &token,
        Some(json!({ "app": "checkout-web", "branch": "--upload-pack=touch /tmp/x" })),
    )
    .await;
    assert_eq!((s, e["error"]["field"].as_str()), (422, Some("branch")), "{e}");

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
    let dir = p.data.path().join("envs").join(&id);
    let records = p.data.path().join("runtime").join(&id);
    // The driver's `serving` record: "<pid> <port> <commit>".
    let serving = std::fs::read_to_string(records.join("serving")).unwrap();
    let pid: i64 = serving.split_whitespace().next().unwrap().parse().unwrap();
    assert!(pid_alive(pid));
    let (s, e) = call(&http, reqwest::Method::DELETE, api(&format!("/{id}")), &token, None).await;
    assert_eq!(s, 202, "{e}");
    wait_for_state(&http, &p, &token, &id, "destroyed").await;
    assert!(!dir.exists() && !records.exists(), "environment directory and records removed");
    assert!(!pid_alive(pid), "process stopped");
    // Gone: the same answer as a name that never existed.
    let res = http
        .get(format!("{}/", p.base))
        .header("host", format!("{name}.localhost:{}", p.port))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    warm_pool(&p, &http, &token).await;
}

/// Waits until the warm pool holds `n` running members; returns their ids.
async fn pool_ready(db: &sqlx::AnyPool, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM environments WHERE pooled = 1 AND state = 'active' ORDER BY id")
                .fetch_all(db)
                .await
                .unwrap();
        if ids.len() >= n {
            return ids;
        }
        assert!(Instant::now() < deadline, "the pool has {} of {n} members running", ids.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A full preview comes from the warm pool: already running when the POST
/// returns, under the requested name, with its TTL from the claim; the pool
/// refills; its idle time is the platform's cost, not the team's.
async fn warm_pool(p: &Portal, http: &reqwest::Client, token: &str) {
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&p.database_url()).await.unwrap();
    let member = pool_ready(&db, 1).await.remove(0);
    // The default branch at the member's commit: handed over as it runs.
    let (s, env) = call(
        http,
        reqwest::Method::POST,
        format!("{}/api/v1/environments", p.base),
        token,
        Some(json!({ "app": "checkout-web", "branch": "main", "tier": "preview-full" })),
    )
    .await;
    assert_eq!(s, 201, "{env}");
    assert_eq!((env["id"].as_str(), env["state"].as_str()), (Some(member.as_str()), Some("active")), "{env}");
    let name = env["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("checkout-web-main-"), "{name}");
    let ttl = env["expires_at"].as_i64().unwrap() - env["created_at"].as_i64().unwrap();
    assert_eq!(ttl, 24 * 3_600_000, "the TTL runs from the claim");
    let res = http
        .get(format!("{}/", p.base))
        .header("host", format!("{name}.localhost:{}", p.port))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains(&name) && page.contains(">42<") && page.contains("what runs in production"), "{page}");
    let claimed_at: Option<i64> = sqlx::query_scalar("SELECT claimed_at FROM environments WHERE id = $1")
        .bind(&member)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(claimed_at.is_some());

    // The demo previews pull request #7 already (one environment per pull
    // request): destroy that one first; one on its way out is not answered.
    let demo_pr: String = sqlx::query_scalar(
        "SELECT e.id FROM environments e JOIN apps a ON a.id = e.app_id
         WHERE a.slug = 'checkout-web' AND e.pr_number = 7 AND e.state NOT IN ('destroyed', 'failed')",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let (s, gone) =
        call(http, reqwest::Method::DELETE, format!("{}/api/v1/environments/{demo_pr}", p.base), token, None).await;
    assert_eq!(s, 202, "{gone}");

    // Pull request #7 (another commit) from the refilled pool: the member's
    // checkout moves to it, rebuilds and migrates, and serves that branch.
    let second = pool_ready(&db, 1).await.into_iter().find(|id| *id != member).expect("refilled");
    let (s, env) = call(
        http,
        reqwest::Method::POST,
        format!("{}/api/v1/environments", p.base),
        token,
        Some(json!({ "app": "checkout-web", "pr_number": 7, "tier": "preview-full" })),
    )
    .await;
    assert_eq!(s, 201, "{env}");
    assert_eq!(env["id"].as_str(), Some(second.as_str()), "claimed from the pool: {env}");
    let pr_name = env["name"].as_str().unwrap().to_string();
    assert!(pr_name.starts_with("checkout-web-pr-7-"), "{pr_name}");
    // One environment per pull request: asking again answers it, with 200.
    let (s, again) = call(
        http,
        reqwest::Method::POST,
        format!("{}/api/v1/environments", p.base),
        token,
        Some(json!({ "app": "checkout-web", "pr_number": 7 })),
    )
    .await;
    assert_eq!((s, again["id"].as_str()), (200, Some(second.as_str())), "{again}");
    wait_for_state(http, p, token, &second, "active").await;
    let page = http
        .get(format!("{}/", p.base))
        .header("host", format!("{pr_name}.localhost:{}", p.port))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("the feature/login-flow change") && page.contains(">45<"),
        "PR #7's code and migration: {page}"
    );
    let (s, _) =
        call(http, reqwest::Method::DELETE, format!("{}/api/v1/environments/{second}", p.base), token, None).await;
    assert_eq!(s, 202);

    // The pool refills with a new member.
    let refilled = pool_ready(&db, 1).await;
    assert!(!refilled.contains(&member) && !refilled.contains(&second));
    // Full previews keep a snapshot when they go.
    let (s, _) =
        call(http, reqwest::Method::DELETE, format!("{}/api/v1/environments/{member}", p.base), token, None).await;
    assert_eq!(s, 202);
    wait_for_state(http, p, token, &member, "destroyed").await;
    assert!(p.data.path().join("snapshots").join(format!("{name}.db")).exists(), "snapshot kept");
    assert!(!p.data.path().join("envs").join(&member).exists());
    db.close().await;
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

/// `n` running (record-only) lightweight previews of alice's whose TTL ran
/// out a second ago, with ids `<prefix>-0000`…
async fn insert_expired(pool: &sqlx::AnyPool, prefix: &str, n: usize) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let mut tx = pool.begin().await.unwrap();
    for i in 0..n {
        sqlx::query(
            "INSERT INTO environments (id, name, team_id, app_id, owner_id, tier, state, pooled, created_at, last_activity_at, expires_at, next_check_at)
             VALUES ($1, $2, 'team-payments', 'app-checkout-web', 'user-alice', 'preview-lightweight', 'active', 0, $3, $3, $4, $4)",
        )
        .bind(format!("{prefix}-{i:04}"))
        .bind(format!("checkout-web-{prefix}-{i:04}"))
        .bind(now - 3_600_000)
        .bind(now - 1_000)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

/// `EOD_LOG_FORMAT=json`: every line the portal logs is a JSON object, and
/// the job a request enqueued logs under that request's id (given here in
/// `X-Request-Id`, which the response echoes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_a_requests_id_to_its_jobs() {
    let logs = tempfile::tempdir().unwrap();
    let log_path = logs.path().join("portal.log");
    let file = std::fs::File::create(&log_path).unwrap();
    let p = start_logging_to(None, &[("EOD_LOG_FORMAT", "json"), ("EOD_LOG", "info")], Stdio::from(file));
    let http = reqwest::Client::new();
    p.wait_ready(&http).await;
    let token = p.token("alice", &["environments:read", "environments:write"]);
    let res = http
        .post(format!("{}/api/v1/environments", p.base))
        .bearer_auth(&token)
        .header("x-request-id", "trace-me-0042")
        .header("content-type", "application/json")
        .body(json!({ "app": "checkout-web", "branch": "main" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["x-request-id"], "trace-me-0042");
    let env: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    let id = env["id"].as_str().unwrap();
    wait_for_state(&http, &p, &token, id, "active").await;
    // The provision job's line can follow the state change by a moment.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&log_path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
            .collect();
        assert!(!lines.is_empty());
        let traced = lines.iter().any(|l| {
            l["span"]["request_id"] == "trace-me-0042"
                && l["span"]["kind"] == "provision"
                && l["fields"]["message"] == "job finished"
                && l["fields"]["env"] == id
        });
        if traced {
            break;
        }
        assert!(Instant::now() < deadline, "no job line under the request id in:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
    two_replicas_reap(1000).await;
}

/// Benchmark (`--ignored`): the design's reaper bar, 10,000 at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_two_replicas_reap_10k() {
    two_replicas_reap(10_000).await;
}

async fn two_replicas_reap(n: usize) {
    sqlx::any::install_default_drivers();
    let pg = PgDb::new(&format!("reap{n}"));
    let first = start(Some(pg.url.clone()));
    let http = reqwest::Client::new();
    first.wait_ready(&http).await;
    let second = start_with(Some(pg.url.clone()), &[("EOD_DEMO", "0")]);
    second.wait_ready(&http).await;

    let pool = sqlx::AnyPool::connect(&pg.url).await.unwrap();
    insert_expired(&pool, "expiring", n).await;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(120 + n as u64 / 20);
    loop {
        let destroyed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM environments WHERE id LIKE 'expiring-%' AND state = 'destroyed'")
                .fetch_one(&pool)
                .await
                .unwrap();
        if destroyed == n as i64 {
            break;
        }
        assert!(Instant::now() < deadline, "only {destroyed} of {n} destroyed");
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
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{n} expired environments, two replicas: all destroyed in {secs:.1} s; destroyed once {once}, twice {twice}, teardown jobs {teardowns}, replicas working {workers}"
    );
    println!("BENCH | expiry, two replicas, {n} environments | PostgreSQL | {secs:.1} s | {:.0}/s |", n as f64 / secs);
    assert_eq!((once, twice, teardowns), (n as i64, 0, n as i64));
    assert_eq!(workers, 2, "both replicas claimed teardown jobs");
    pool.close().await;
    drop((first, second));
}

/// Benchmark, not a test (run with `--ignored --nocapture`): click-to-ready
/// over 50 creations through the API on the local driver, cold and from a
/// warm pool of 50. Results are recorded in the README.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_click_to_ready() {
    // (label, pool size, branch): cold; a pool claim of the pool's own
    // commit (main); a pool claim of another branch (checkout moved, rebuilt
    // and migrated incrementally).
    let modes = [
        ("cold", 0, "fix/cart-rounding"),
        ("warm pool, same commit", 50, "main"),
        ("warm pool, other branch", 50, "fix/cart-rounding"),
    ];
    for (label, db) in [("SQLite", None), ("PostgreSQL", Some(PgDb::new("bench")))] {
        for (mode, pool, branch) in modes {
            let conf_dir = tempfile::tempdir().unwrap();
            let conf = config_file(
                conf_dir.path(),
                &format!("[[pool]]\napp = \"checkout-web\"\ntier = \"preview-lightweight\"\nsize = {pool}\n"),
            );
            let p = start_with(db.as_ref().map(|d| d.url.clone()), &[("EOD_CONFIG", &conf)]);
            let http = reqwest::Client::new();
            p.wait_ready(&http).await;
            sqlx::any::install_default_drivers();
            let store = sqlx::AnyPool::connect(&p.database_url()).await.unwrap();
            if pool > 0 {
                pool_ready(&store, 50).await;
            }
            // The demo's own environments start first; measure on a quiet portal.
            let deadline = Instant::now() + Duration::from_secs(120);
            while sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM jobs WHERE finished_at IS NULL")
                .fetch_one(&store)
                .await
                .unwrap()
                > 0
            {
                assert!(Instant::now() < deadline, "demo start did not settle");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            store.close().await;
            let token = p.token("alice", &["environments:read", "environments:write"]);
            let samples = click_to_ready_samples(&p, &http, &token, pool == 0, branch).await;
            let pct = |v: &mut Vec<Duration>, q: f64| {
                v.sort();
                v[((v.len() as f64 - 1.0) * q).round() as usize]
            };
            let mut create: Vec<_> = samples.iter().map(|s| s.0).collect();
            let mut ready: Vec<_> = samples.iter().map(|s| s.1).collect();
            println!(
                "{label}, {mode}: POST returns p50 {:?} p95 {:?}; click-to-ready p50 {:?} p95 {:?} (n=50, local driver)",
                pct(&mut create, 0.5),
                pct(&mut create, 0.95),
                pct(&mut ready, 0.5),
                pct(&mut ready, 0.95)
            );
        }
    }
}

/// 50 creations, each timed to POST return and to `active`. Cold runs wait
/// for each teardown so the next creation does not share the machine with it.
async fn click_to_ready_samples(
    p: &Portal,
    http: &reqwest::Client,
    token: &str,
    wait_teardown: bool,
    branch: &str,
) -> Vec<(Duration, Duration)> {
    let mut samples = vec![];
    let mut created = vec![];
    for _ in 0..50 {
        let t = Instant::now();
        let (s, env) = call(
            http,
            reqwest::Method::POST,
            format!("{}/api/v1/environments", p.base),
            token,
            Some(json!({ "app": "checkout-web", "branch": branch })),
        )
        .await;
        assert_eq!(s, 201, "{env}");
        let returned = t.elapsed();
        let id = env["id"].as_str().unwrap().to_string();
        let mut state = env["state"].clone();
        while state != "active" {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let (_, e) =
                call(http, reqwest::Method::GET, format!("{}/api/v1/environments/{id}", p.base), token, None).await;
            state = e["state"].clone();
        }
        samples.push((returned, t.elapsed()));
        if wait_teardown {
            let _ =
                call(http, reqwest::Method::DELETE, format!("{}/api/v1/environments/{id}", p.base), token, None).await;
            wait_for_state(http, p, token, &id, "destroyed").await;
        } else {
            created.push(id);
        }
    }
    for id in created {
        let _ = call(http, reqwest::Method::DELETE, format!("{}/api/v1/environments/{id}", p.base), token, None).await;
        wait_for_state(http, p, token, &id, "destroyed").await;
    }
    samples
}

/// Benchmark: expiry throughput of one replica — 1,000 real environments
/// of the demo's checkout-web (a process and a directory each), made
/// through the API and running, then all past their TTL at once; timed
/// until every one is destroyed (process stopped, directory removed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_expiry_throughput() {
    sqlx::any::install_default_drivers();
    const N: usize = 1000;
    for (label, db) in [("SQLite", None), ("PostgreSQL", Some(PgDb::new("expiry")))] {
        let conf_dir = tempfile::tempdir().unwrap();
        let conf = config_file(conf_dir.path(), "pool = []\n");
        let p = start_with(db.as_ref().map(|d| d.url.clone()), &[("EOD_CONFIG", &conf)]);
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        p.wait_ready(&http).await;
        let token = p.token("alice", &["environments:read", "environments:write"]);
        let made = Instant::now();
        let mut ids = vec![];
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..N {
            if tasks.len() >= 16 {
                ids.push(tasks.join_next().await.unwrap().unwrap());
            }
            let (http, base, token) = (http.clone(), p.base.clone(), token.clone());
            tasks.spawn(async move {
                let body = json!({ "app": "checkout-web", "branch": "main" });
                let (s, env) =
                    call(&http, reqwest::Method::POST, format!("{base}/api/v1/environments"), &token, Some(body)).await;
                assert_eq!(s, 201, "{env}");
                env["id"].as_str().unwrap().to_string()
            });
        }
        while let Some(id) = tasks.join_next().await {
            ids.push(id.unwrap());
        }
        let pool = sqlx::AnyPool::connect(&p.database_url()).await.unwrap();
        let list = ids.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(",");
        let count = |state: &'static str| {
            let (pool, sql) =
                (pool.clone(), format!("SELECT COUNT(*) FROM environments WHERE id IN ({list}) AND state = '{state}'"));
            async move { sqlx::query_scalar::<_, i64>(&sql).fetch_one(&pool).await.unwrap() }
        };
        let deadline = Instant::now() + Duration::from_secs(900);
        while count("active").await < N as i64 {
            assert!(Instant::now() < deadline, "only {} of {N} running", count("active").await);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let running_after = made.elapsed().as_secs_f64();
        let dirs_before = std::fs::read_dir(p.data_dir().join("envs")).map(|d| d.count()).unwrap_or(0);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        sqlx::query(&format!("UPDATE environments SET expires_at = $1, next_check_at = $1 WHERE id IN ({list})"))
            .bind(now - 1_000)
            .execute(&pool)
            .await
            .unwrap();
        let t = Instant::now();
        while count("destroyed").await < N as i64 {
            assert!(t.elapsed() < Duration::from_secs(600), "only {} destroyed", count("destroyed").await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let secs = t.elapsed().as_secs_f64();
        let dirs_after = std::fs::read_dir(p.data_dir().join("envs")).map(|d| d.count()).unwrap_or(0);
        println!(
            "{label}: {N} running environments ({running_after:.0} s to make; {dirs_before} directories) destroyed in {secs:.1} s ({:.0}/s, one replica); {dirs_after} directories left",
            N as f64 / secs
        );
        println!(
            "BENCH | expiry, one replica, {N} real environments | {label} | {secs:.1} s | {:.0}/s |",
            N as f64 / secs
        );
        pool.close().await;
    }
}

/// Crash safety: the portal is SIGKILLed three times while 100 concurrent
/// creations and destroys are in flight, restarted on the same data and
/// database each time, and must converge: no environment lost or destroyed
/// twice, every running environment has exactly one process group and its
/// directory, nothing else of ours runs or lies on disk (a planted orphan is
/// swept and audited), and after destroying everything nothing is left.
async fn crash_convergence(database_url: Option<String>) {
    // Demo history rows (created earlier, no processes) are not this test's business.
    let test_start = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().display().to_string();
    let with_data = |url: &Option<String>| start_with(url.clone(), &[("EOD_DATA_DIR", data_dir.as_str())]);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let mut p = with_data(&database_url);
    p.wait_ready(&http).await;
    let token = p.token("alice", &["environments:read", "environments:write"]);
    let mut created: Vec<String> = vec![];
    let mut destroy_accepted: Vec<String> = vec![];
    for round in 0..3 {
        let mut tasks = vec![];
        // Creations the portal has acknowledged (201) in this round.
        let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for i in 0..100 {
            let (http, base, token, acked) = (http.clone(), p.base.clone(), token.clone(), acked.clone());
            tasks.push(tokio::spawn(async move {
                let branch = ["main", "fix/cart-rounding", "feature/login-flow"][i % 3];
                let body = json!({ "app": "checkout-web", "branch": branch }).to_string();
                let res = http
                    .post(format!("{base}/api/v1/environments"))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .ok()?;
                if res.status() != 201 {
                    return None;
                }
                let body: Value = serde_json::from_str(&res.text().await.ok()?).ok()?;
                let id = body["id"].as_str()?.to_string();
                acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                // Every other one is destroyed at once, racing its provisioning.
                let destroyed = if i % 2 == 0 {
                    let res =
                        http.delete(format!("{base}/api/v1/environments/{id}")).bearer_auth(&token).send().await.ok();
                    res.is_some_and(|r| r.status() == 202)
                } else {
                    false
                };
                Some((id, destroyed))
            }));
        }
        // Pull the plug mid-flight after a count of acknowledged creations
        // (never after a delay: a slow machine acknowledges fewer per second),
        // later in each round: during the requests, then during provisioning.
        let target = 10 + 20 * round;
        while acked.load(std::sync::atomic::Ordering::SeqCst) < target && !tasks.iter().all(|t| t.is_finished()) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        p.crash();
        for t in tasks {
            if let Ok(Some((id, destroyed))) = t.await {
                if destroyed {
                    destroy_accepted.push(id.clone());
                }
                created.push(id);
            }
        }
        p = with_data(&database_url);
        p.wait_ready(&http).await;
    }
    assert!(created.len() >= 60, "only {} creations got through", created.len());

    // An orphan from a "previous life": a directory and a process no
    // environment owns.
    // Anything there that is not an environment id is never touched.
    let ghost_id = "0190a5c2-0000-7000-8000-00000000dead";
    let ghost_dir = data.path().join("envs").join(ghost_id);
    std::fs::create_dir_all(&ghost_dir).unwrap();
    let stranger = data.path().join("envs").join("not-an-environment");
    std::fs::create_dir_all(&stranger).unwrap();
    let mut ghost = Command::new("sleep");
    ghost.arg("600").env("EOD_ENV_ROOT", std::path::absolute(data.path()).unwrap()).env("EOD_ENV_ID", ghost_id);
    if is_root() {
        // Isolated workloads are known by their uid too.
        std::os::unix::process::CommandExt::uid(&mut ghost, workload_uid(data.path(), ghost_id));
    }
    let mut ghost = ghost.spawn().unwrap();
    // Restart once more so the sweep runs with the orphan present.
    p.crash();
    p = with_data(&database_url);
    p.wait_ready(&http).await;

    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&p.database_url()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let unsettled: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM environments WHERE state IN ('pending', 'expiring', 'ready') AND created_at >= $1",
        )
        .bind(test_start)
        .fetch_one(&db)
        .await
        .unwrap();
        let open_jobs: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE finished_at IS NULL").fetch_one(&db).await.unwrap();
        let _ = ghost.try_wait();
        if unsettled == 0 && open_jobs == 0 && !ghost_dir.exists() && !pid_alive(ghost.id() as i64) {
            break;
        }
        assert!(Instant::now() < deadline, "not converged: {unsettled} unsettled, {open_jobs} open jobs");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let _ = ghost.wait();
    assert!(stranger.exists(), "the sweep acts on environment ids only");
    std::fs::remove_dir(&stranger).unwrap();

    // Nothing lost, nothing destroyed twice, every accepted destroy done.
    let states: std::collections::HashMap<String, String> =
        sqlx::query_as::<_, (String, String)>("SELECT id, state FROM environments WHERE created_at >= $1")
            .bind(test_start)
            .fetch_all(&db)
            .await
            .unwrap()
            .into_iter()
            .collect();
    for id in &created {
        assert!(states.contains_key(id), "environment {id} was lost");
    }
    for id in &destroy_accepted {
        assert_eq!(states[id], "destroyed", "{id}");
    }
    let twice: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT target_id FROM audit_events WHERE action = 'environment.destroyed'
         GROUP BY target_id HAVING COUNT(*) > 1) t",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(twice, 0, "an environment was destroyed twice");
    let failed: Vec<String> = states.iter().filter(|(_, s)| *s == "failed").map(|(id, _)| id.clone()).collect();
    assert!(failed.is_empty(), "failed after crashes: {failed:?}");
    let swept: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE action = 'resource.orphan_removed' AND target_id = $1",
    )
    .bind(ghost_id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(swept >= 1, "the orphan sweep audited what it removed");

    // Exactly one process group and one directory per running environment (the
    // demo's live environments run too).
    let running: std::collections::BTreeSet<String> =
        sqlx::query_scalar("SELECT id FROM environments WHERE state IN ('active', 'idle')")
            .fetch_all(&db)
            .await
            .unwrap()
            .into_iter()
            .collect();
    // A start command may be a shell and its child, so count process groups:
    // exactly one per running environment.
    let groups: std::collections::BTreeSet<(String, i64)> =
        env_processes(data.path()).into_iter().map(|(pid, id)| (id, process_group(pid))).collect();
    let mut group_ids: Vec<String> = groups.into_iter().map(|(id, _)| id).collect();
    group_ids.sort();
    assert_eq!(group_ids, running.iter().cloned().collect::<Vec<_>>(), "one process group per running environment");
    let dirs: std::collections::BTreeSet<String> = std::fs::read_dir(data.path().join("envs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(dirs, running, "one directory per running environment");
    eprintln!(
        "crash test: {} created, {} destroy requests accepted, {} running after convergence",
        created.len(),
        destroy_accepted.len(),
        running.len()
    );

    // Destroy every user environment — including those whose creation
    // committed but whose response the crash swallowed — and only the warm
    // pool's members remain.
    let mut users: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM environments WHERE created_at >= $1 AND pooled = 0 AND state <> 'destroyed'",
    )
    .bind(test_start)
    .fetch_all(&db)
    .await
    .unwrap();
    users.extend(created.iter().cloned());
    users.sort();
    users.dedup();
    for id in users.iter().filter(|id| states.get(*id).is_some_and(|s| s != "destroyed")) {
        let (s, e) =
            call(&http, reqwest::Method::DELETE, format!("{}/api/v1/environments/{id}", p.base), &token, None).await;
        assert_eq!(s, 202, "{e}");
    }
    for id in users.iter() {
        wait_for_state(&http, &p, &token, id, "destroyed").await;
    }
    let pooled: std::collections::BTreeSet<String> = sqlx::query_scalar(
        "SELECT id FROM environments WHERE (pooled = 1 OR created_at < $1) AND state <> 'destroyed'",
    )
    .bind(test_start)
    .fetch_all(&db)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let left: std::collections::BTreeSet<String> = env_processes(data.path()).into_iter().map(|(_, id)| id).collect();
    assert!(
        left.is_subset(&pooled),
        "processes left that are not pool or demo members: {:?}",
        left.difference(&pooled)
    );
    db.close().await;
    drop(p);
    // SIGKILL is delivered asynchronously: give the last ones a moment to go.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !env_processes(data.path()).is_empty() {
        assert!(Instant::now() < deadline, "processes left after the portal stopped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_during_concurrent_creates_and_destroys_converge_on_sqlite() {
    crash_convergence(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_during_concurrent_creates_and_destroys_converge_on_postgres() {
    let pg = PgDb::new("crash");
    crash_convergence(Some(pg.url.clone())).await;
}

/// With `EOD_ENV_DATABASE_URL` an environment's database is a PostgreSQL
/// database cloned from its app's template (`CREATE DATABASE … TEMPLATE`),
/// a full preview's snapshot is a `pg_dump` archive, and destroy drops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environments_get_postgres_databases_cloned_from_a_template() {
    sqlx::any::install_default_drivers();
    let admin =
        std::env::var("EOD_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://eod:eod@127.0.0.1:5432/postgres".into());
    let pg = PgDb::new("envdbs");
    let conf_dir = tempfile::tempdir().unwrap();
    let conf = config_file(conf_dir.path(), "pool = []\n");
    let p = start_with(Some(pg.url.clone()), &[("EOD_CONFIG", &conf), ("EOD_ENV_DATABASE_URL", &admin)]);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    p.wait_ready(&http).await;
    let token = p.token("alice", &["environments:read", "environments:write"]);
    let (s, env) = call(
        &http,
        reqwest::Method::POST,
        format!("{}/api/v1/environments", p.base),
        &token,
        Some(json!({ "app": "checkout-web", "branch": "fix/cart-rounding", "tier": "preview-full" })),
    )
    .await;
    assert_eq!(s, 201, "{env}");
    let id = env["id"].as_str().unwrap().to_string();
    let name = env["name"].as_str().unwrap().to_string();
    wait_for_state(&http, &p, &token, &id, "active").await;
    let page = http
        .get(format!("{}/", p.base))
        .header("host", format!("{name}.localhost:{}", p.port))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(">42<"), "rows from its PostgreSQL database: {page}");

    let server = sqlx::AnyPool::connect(&admin).await.unwrap();
    let suffix = format!("%\\_{}", id.replace('-', "\\_"));
    let env_dbs = |server: sqlx::AnyPool, suffix: String| async move {
        sqlx::query_scalar::<_, String>(
            "SELECT datname::text FROM pg_database WHERE datname LIKE 'eod\\_env\\_%' AND datname LIKE $1",
        )
        .bind(suffix)
        .fetch_all(&server)
        .await
        .unwrap()
    };
    let dbs = env_dbs(server.clone(), suffix.clone()).await;
    assert_eq!(dbs.len(), 1, "one database for the environment: {dbs:?}");
    let key = dbs[0].trim_start_matches("eod_env_").split('_').next().unwrap().to_string();

    let (s, _) =
        call(&http, reqwest::Method::DELETE, format!("{}/api/v1/environments/{id}", p.base), &token, None).await;
    assert_eq!(s, 202);
    wait_for_state(&http, &p, &token, &id, "destroyed").await;
    let dump = std::fs::read(p.data.path().join("snapshots").join(format!("{name}.dump"))).expect("pg_dump snapshot");
    assert!(dump.starts_with(b"PGDMP"), "a pg_dump custom-format archive");
    assert!(env_dbs(server.clone(), suffix).await.is_empty(), "the database is dropped");

    // This portal's template (and anything else under its key) goes with the test.
    drop(p);
    let leftovers: Vec<String> = sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE $1")
        .bind(format!("eod\\_%\\_{key}\\_%"))
        .fetch_all(&server)
        .await
        .unwrap();
    for db in leftovers {
        pg.psql(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"));
    }
    drop_roles_of(&pg, &server, &key).await;
    server.close().await;
}

/// Drops the roles a portal made on the environments' server (its template
/// roles; an environment's goes with it), found by the portal's key.
async fn drop_roles_of(pg: &PgDb, server: &sqlx::AnyPool, key: &str) {
    let roles: Vec<String> = sqlx::query_scalar("SELECT rolname::text FROM pg_roles WHERE rolname LIKE $1")
        .bind(format!("eod\\_%\\_{key}\\_%"))
        .fetch_all(server)
        .await
        .unwrap();
    for role in roles {
        pg.psql(&format!("DROP ROLE IF EXISTS \"{role}\""));
    }
}

/// Benchmark (run with `--ignored --nocapture`): the Environments page with
/// 10,000 environments across 100 teams, under 64 concurrent clients for
/// 10 s each, as a platform admin (sees every team: counts 10,000 rows,
/// renders a page of 50) and as a team member; compared with a bare axum
/// handler (`/healthz`) in the same run; the portal's RSS afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_environments_page_at_10k() {
    sqlx::any::install_default_drivers();
    for (label, db) in [("SQLite", None), ("PostgreSQL", Some(PgDb::new("page10k")))] {
        let conf_dir = tempfile::tempdir().unwrap();
        let conf = config_file(conf_dir.path(), "pool = []\n");
        let p = start_with(db.as_ref().map(|d| d.url.clone()), &[("EOD_CONFIG", &conf)]);
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        p.wait_ready(&http).await;
        let pool = sqlx::AnyPool::connect(&p.database_url()).await.unwrap();
        seed_10k(&pool).await;
        pool.close().await;
        for (who, login) in [("platform admin", "erin"), ("team member", "alice")] {
            let cookie = demo_cookie(&http, &p, login).await;
            let page = measure(&http, format!("{}/", p.base), Some(cookie.clone())).await;
            // A new URL every request: nothing is reused, every view renders.
            let rendered = measure(&http, format!("{}/?view={{n}}", p.base), Some(cookie)).await;
            let bare = measure(&http, format!("{}/healthz", p.base), None).await;
            println!(
                "{label}, {who}: Environments page p50 {:?} p99 {:?}, {:.0} req/s; rendered every view p99 {:?}, {:.0} req/s; bare handler p99 {:?}, {:.0} req/s; ratio {:.3} (64 clients, 10 s)",
                page.p50, page.p99, page.rps, rendered.p99, rendered.rps, bare.p99, bare.rps, page.rps / bare.rps
            );
            for (what, l) in [("", &page), (", rendered every view", &rendered)] {
                println!(
                    "BENCH | Environments page, {who}{what} | {label} | p50 {:.1} ms, p99 {:.1} ms | {:.0} req/s (bare {:.0}, ratio {:.3}) |",
                    l.p50.as_secs_f64() * 1e3,
                    l.p99.as_secs_f64() * 1e3,
                    l.rps,
                    bare.rps,
                    l.rps / bare.rps
                );
            }
        }
        let rss = std::fs::read_to_string(format!("/proc/{}/status", p.child.id()))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("VmRSS"))
            .map(|l| l.trim_start_matches("VmRSS:").trim().to_string())
            .unwrap_or_default();
        println!("{label}: portal RSS after the load {rss}");
        println!("BENCH | portal RSS after the page load | {label} | {rss} | |");
    }
}

struct Load {
    p50: Duration,
    p99: Duration,
    rps: f64,
}

/// 64 clients requesting `url` back to back for 10 s.
async fn measure(http: &reqwest::Client, url: String, cookie: Option<String>) -> Load {
    let until = Instant::now() + Duration::from_secs(10);
    let started = Instant::now();
    let mut tasks = vec![];
    for client in 0..64 {
        let (http, url, cookie) = (http.clone(), url.replace("{n}", &format!("{client}-{{n}}")), cookie.clone());
        tasks.push(tokio::spawn(async move {
            let mut samples = vec![];
            while Instant::now() < until {
                let t = Instant::now();
                let mut req = http.get(url.replace("{n}", &format!("{}", samples.len())));
                if let Some(c) = &cookie {
                    req = req.header("cookie", c);
                }
                let res = req.send().await.unwrap();
                assert_eq!(res.status(), 200);
                let _ = res.bytes().await.unwrap();
                samples.push(t.elapsed());
            }
            samples
        }));
    }
    let mut all = vec![];
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort();
    let at = |q: f64| all[((all.len() as f64 - 1.0) * q).round() as usize];
    Load { p50: at(0.5), p99: at(0.99), rps: all.len() as f64 / secs }
}

async fn demo_cookie(http: &reqwest::Client, p: &Portal, login: &str) -> String {
    let res = http
        .post(format!("{}/auth/demo", p.base))
        .header("origin", &p.base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("login={login}"))
        .send()
        .await
        .unwrap();
    let cookie = res.headers().get("set-cookie").expect("session cookie").to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

/// 100 teams with an app each and 10,000 environments (alice's team gets 100).
async fn seed_10k(pool: &sqlx::AnyPool) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let mut tx = pool.begin().await.unwrap();
    for t in 0..100 {
        sqlx::query("INSERT INTO teams (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(format!("team-bench-{t:03}"))
            .bind(format!("bench-{t:03}"))
            .bind(format!("Bench {t}"))
            .bind(now)
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("INSERT INTO apps (id, team_id, slug, name, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(format!("app-bench-{t:03}"))
            .bind(format!("team-bench-{t:03}"))
            .bind(format!("bench-app-{t:03}"))
            .bind(format!("Bench app {t}"))
            .bind(now)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    for i in 0..10_000 {
        let (team, app) = if i < 100 {
            ("team-payments".to_string(), "app-checkout-web".to_string())
        } else {
            (format!("team-bench-{:03}", i % 100), format!("app-bench-{:03}", i % 100))
        };
        let state = ["active", "idle", "ready", "destroyed"][i % 4];
        sqlx::query(
            "INSERT INTO environments (id, name, team_id, app_id, owner_id, tier, state, pooled, created_at, last_activity_at, expires_at)
             VALUES ($1, $2, $3, $4, 'user-alice', 'preview-lightweight', $5, 0, $6, $6, $7)",
        )
        .bind(format!("bench-{i:05}"))
        .bind(format!("bench-env-{i:05}"))
        .bind(team)
        .bind(app)
        .bind(state)
        .bind(now - (i as i64) * 60_000)
        .bind(now + 3_600_000)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    // As autovacuum would within a minute: planner statistics of the new rows.
    if pool.connect_options().database_url.scheme().starts_with("postgres") {
        sqlx::query("ANALYZE environments, teams, apps").execute(pool).await.unwrap();
    }
}

/// Runs git in a test's repository, as a committer of its own.
fn git_in(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@t.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A git repository made by the test: `main` serves its page; `feature/two`
/// serves another; `broken-build` fails its build; `broken-migration` ships
/// bad SQL; pull request #3's head is `feature/two`.
fn branchy_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| git_in(dir.path(), args);
    let write = |path: &str, text: &str| {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    };
    git(&["init", "--quiet", "--initial-branch=main"]);
    write("page.html", "<h1>{{rows}} rows on the main page</h1>");
    // The build sees the blueprint's variables and secrets, and nothing of the portal's environment.
    write(
        "build.sh",
        "cp page.html index.html\n[ \"$MODE\" = preview ] && [ \"$SHOP_SECRET\" = s3cr3t ] && echo given-ok\n\
         [ -z \"$EOD_DATA_DIR$EOD_DATABASE_URL$EOD_CONFIG\" ] && echo portal-env-hidden\n",
    );
    write(
        "seed.sql",
        "CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT NOT NULL);\nINSERT INTO items VALUES (1, 'a');\n",
    );
    git(&["add", "-A"]);
    git(&["commit", "--quiet", "-m", "main"]);
    git(&["checkout", "--quiet", "-b", "feature/two"]);
    write("page.html", "<h1>{{rows}} rows on the second page</h1>");
    write("migrations/001_more.sql", "INSERT INTO items VALUES (2, 'b');\n");
    git(&["add", "-A"]);
    git(&["commit", "--quiet", "-m", "two"]);
    git(&["update-ref", "refs/pull/3/head", "feature/two"]);
    git(&["checkout", "--quiet", "-b", "broken-build", "main"]);
    write("build.sh", "echo BUILD EXPLODED on purpose\necho \"leaked: $SHOP_SECRET\"\nexit 3\n");
    git(&["commit", "--quiet", "-am", "break the build"]);
    git(&["checkout", "--quiet", "-b", "broken-migration", "main"]);
    write("migrations/001_bad.sql", "THIS IS NOT SQL;\n");
    git(&["add", "-A"]);
    git(&["commit", "--quiet", "-m", "break the migration"]);
    git(&["checkout", "--quiet", "main"]);
    dir
}

/// An app registered through the API from a repository the test made: two
/// branches (and a pull request) render different pages from their own
/// migrated databases; a failing build and a failing migration end in
/// `failed` at once, with the step and its output, leaving nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environments_run_their_branch_and_failing_steps_fail_with_their_output() {
    let repo = branchy_repo();
    let conf_dir = tempfile::tempdir().unwrap();
    let conf = config_file(conf_dir.path(), "pool = []\n");
    let p = start_with(None, &[("EOD_CONFIG", &conf)]);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    p.wait_ready(&http).await;
    p.register_app(
        &http,
        json!({ "team": "payments", "slug": "branchy", "name": "Branchy", "repository": repo.path(),
            "blueprint": { "build": "sh build.sh", "start": "eod sample-app",
                           "env": { "MODE": "preview" }, "secrets": { "SHOP_SECRET": "s3cr3t" },
                           "database": { "seed_file": "seed.sql", "migrate": "eod sample-app migrate" } } }),
    )
    .await;
    let token = p.token("alice", &["environments:read", "environments:write"]);
    let create =
        |body: Value| call(&http, reqwest::Method::POST, format!("{}/api/v1/environments", p.base), &token, Some(body));
    let page_of = |name: String| {
        let http = http.clone();
        let url = format!("{}/", p.base);
        let host = format!("{name}.localhost:{}", p.port);
        let token = token.clone();
        async move { http.get(url).header("host", host).bearer_auth(token).send().await.unwrap().text().await.unwrap() }
    };

    let mut pages = vec![];
    for body in [json!({ "app": "branchy", "branch": "main" }), json!({ "app": "branchy", "pr_number": 3 })] {
        let (s, env) = create(body).await;
        assert_eq!(s, 201, "{env}");
        let id = env["id"].as_str().unwrap().to_string();
        wait_for_state(&http, &p, &token, &id, "active").await;
        pages.push(page_of(env["name"].as_str().unwrap().to_string()).await);
    }
    assert!(pages[0].contains("1 rows on the main page"), "{}", pages[0]);
    let (s, env) = call(&http, reqwest::Method::GET, format!("{}/api/v1/environments", p.base), &token, None).await;
    assert_eq!(s, 200);
    let main_id =
        env["items"].as_array().unwrap().iter().find(|e| e["app"] == "branchy" && e["git_ref"] == "main").unwrap()
            ["id"]
            .as_str()
            .unwrap()
            .to_string();
    let log = std::fs::read_to_string(p.data.path().join("runtime").join(&main_id).join("output.log")).unwrap();
    assert!(log.contains("given-ok") && log.contains("portal-env-hidden"), "{log}");
    assert!(!log.contains("s3cr3t"), "the secret's value is not in the output: {log}");
    assert!(pages[1].contains("2 rows on the second page"), "PR #3 runs feature/two, migrated: {}", pages[1]);

    for (branch, step, output) in [
        ("broken-build", "build failed", "BUILD EXPLODED on purpose"),
        ("broken-migration", "migrate failed", "001_bad.sql"),
    ] {
        let (s, env) = create(json!({ "app": "branchy", "branch": branch })).await;
        assert_eq!(s, 201, "{env}");
        let id = env["id"].as_str().unwrap().to_string();
        wait_for_state(&http, &p, &token, &id, "failed").await;
        sqlx::any::install_default_drivers();
        let db = sqlx::AnyPool::connect(&p.database_url()).await.unwrap();
        let reason: String = sqlx::query_scalar("SELECT failure_reason FROM environments WHERE id = $1")
            .bind(&id)
            .fetch_one(&db)
            .await
            .unwrap();
        let attempts: i64 =
            sqlx::query_scalar("SELECT MAX(attempts) FROM jobs WHERE environment_id = $1 AND kind = 'provision'")
                .bind(&id)
                .fetch_one(&db)
                .await
                .unwrap();
        db.close().await;
        assert!(reason.contains(step) && reason.contains(output), "{branch}: {reason}");
        assert!(!reason.contains("s3cr3t"), "{branch}: a secret the build printed is masked: {reason}");
        assert_eq!(attempts, 1, "{branch}: a failing step is not retried");
        let dir = p.data.path().join("envs").join(&id);
        assert!(!dir.join("src").exists() && !dir.join("data/app.db").exists(), "{branch}: nothing left behind");
        assert!(env_processes(p.data.path()).iter().all(|(_, env)| *env != id), "{branch}: no process left");
    }
}

/// The outbox under crashes: two replicas on one PostgreSQL database share
/// 300 deliveries to a slow receiver while one of them is killed (SIGKILL)
/// and restarted twice. Every delivery reaches the receiver at least once
/// (duplicates carry the same webhook-id) and is recorded delivered once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_deliver_every_notification_through_crashes() {
    use std::sync::{Arc, Mutex};
    sqlx::any::install_default_drivers();
    let pg = PgDb::new("outbox");
    let key = app::ssr::secrets::SecretKey::generate();
    let key_env = [("EOD_SECRET_KEY", key.to_hex())];
    let key_env: Vec<(&str, &str)> = key_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // No demo: no environments, so a killed replica leaves no processes.
    let replica = || start_with(Some(pg.url.clone()), &[key_env.as_slice(), &[("EOD_DEMO", "0")]].concat());
    let first = replica();
    let http = reqwest::Client::new();
    first.wait_ready(&http).await;

    // A receiver that takes 10 ms per request, counting webhook-ids.
    let seen: Arc<Mutex<Vec<String>>> = Default::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    {
        let seen = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = seen.clone();
                std::thread::spawn(move || {
                    use std::io::{BufRead, BufReader, Read, Write};
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let (mut id, mut length) = (String::new(), 0usize);
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let line = line.trim_end();
                        if line.is_empty() {
                            break;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("webhook-id:") {
                            id = line[line.len() - v.len()..].trim().to_string();
                        }
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    let _ = reader.read_exact(&mut body);
                    std::thread::sleep(Duration::from_millis(10));
                    seen.lock().unwrap().push(id);
                    let mut stream = stream;
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                });
            }
        });
    }

    // A webhook channel of payments and 300 queued deliveries.
    let pool = sqlx::AnyPool::connect(&pg.url).await.unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    sqlx::query("INSERT INTO teams (id, slug, name, created_at) VALUES ('team-payments', 'payments', 'Payments', $1)")
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO channels (id, team_id, kind, url_sealed, secret_sealed, created_at) VALUES ('ch-1', 'team-payments', 'webhook', $1, $2, $3)")
        .bind(key.seal("ch-1", &format!("http://{addr}/hook")))
        .bind(key.seal("ch-1/secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
    let n = 300;
    let message = json!({
        "kind": "Ready", "title": "t", "text": "x", "url": null, "fields": [], "environment_id": null,
        "team": "payments", "at": now,
    })
    .to_string();
    let mut tx = pool.begin().await.unwrap();
    for i in 0..n {
        sqlx::query("INSERT INTO deliveries (id, channel_id, event, message, state, attempts, next_attempt_at, created_at) VALUES ($1, 'ch-1', 'environment.ready', $2, 'pending', 0, $3, $3)")
            .bind(format!("msg_{i:04}"))
            .bind(&message)
            .bind(now)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let second = replica();
    second.wait_ready(&http).await;

    // Kill the first replica mid-stream, twice, restarting it each time.
    let delivered = |pool: sqlx::AnyPool| async move {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let mut first = Some(first);
    let deadline = Instant::now() + Duration::from_secs(180);
    for at in [40, 120] {
        while delivered(pool.clone()).await < at {
            assert!(Instant::now() < deadline, "stalled before {at}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        first.take().unwrap().crash();
        let again = replica();
        again.wait_ready(&http).await;
        first = Some(again);
    }
    while delivered(pool.clone()).await < n {
        assert!(Instant::now() < deadline, "not every delivery was recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = seen.lock().unwrap().clone();
    let distinct: std::collections::BTreeSet<&String> = seen.iter().collect();
    let workers: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE attempts > 1").fetch_one(&pool).await.unwrap();
    eprintln!(
        "{n} deliveries, 2 replicas, 2 crashes: {} sent, {} distinct, {workers} sent more than once",
        seen.len(),
        distinct.len()
    );
    assert_eq!(distinct.len(), n as usize, "every delivery reached the receiver");
    assert!(seen.len() >= n as usize);
    let states: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetch_all(&pool).await.unwrap();
    assert_eq!(states, [("delivered".to_string(), n)], "recorded delivered, once each");
    pool.close().await;
    drop((first, second));
}

/// The health monitor on real processes: a workload killed under a running
/// preview is seen (the tier's probe settings read from the file), shown
/// `unhealthy` with its lifecycle state kept, restarted by the driver, and
/// healthy again; each change is audited and the owner told.
async fn a_killed_workload_is_restarted(database_url: Option<String>) {
    let conf_dir = tempfile::tempdir().unwrap();
    let conf = config_file(
        conf_dir.path(),
        "[tier.preview-lightweight]\nprobe_interval_seconds = 1\nprobe_failure_threshold = 2\n",
    );
    let p = start_with(database_url, &[("EOD_CONFIG", &conf)]);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    p.wait_ready(&http).await;
    let token = p.token("alice", &["environments:read", "environments:write"]);
    let api = format!("{}/api/v1/environments", p.base);
    let (s, env) = call(
        &http,
        reqwest::Method::POST,
        api.clone(),
        &token,
        Some(json!({ "app": "checkout-web", "branch": "fix/cart-rounding" })),
    )
    .await;
    assert_eq!(s, 201, "{env}");
    let id = env["id"].as_str().unwrap().to_string();
    let env = wait_for_state(&http, &p, &token, &id, "active").await;
    assert_eq!(env["health"], "healthy", "{env}");
    let pids: Vec<i64> = env_processes(&p.data_dir()).into_iter().filter(|(_, e)| *e == id).map(|(p, _)| p).collect();
    assert!(!pids.is_empty(), "its process runs");
    for pid in &pids {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }

    // Seen, and shown unhealthy beside its lifecycle state.
    let seen = wait_for(&http, &p, &token, &id, "health", "unhealthy").await;
    assert_eq!(seen["state"], "active", "the lifecycle state stays: {seen}");
    // Restarted (a new process) and healthy again.
    let back = wait_for(&http, &p, &token, &id, "health", "healthy").await;
    assert_eq!(back["state"], "active");
    let now_running: Vec<i64> =
        env_processes(&p.data_dir()).into_iter().filter(|(_, e)| *e == id).map(|(p, _)| p).collect();
    assert!(!now_running.is_empty() && now_running.iter().all(|p| !pids.contains(p)), "a new process serves");
    let res = http
        .get(format!("{}/", p.base))
        .header("host", format!("{}.localhost:{}", back["name"].as_str().unwrap(), p.port))
        .bearer_auth(&token);
    assert_eq!(res.send().await.unwrap().status(), 200, "the preview answers again");

    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&p.database_url()).await.unwrap();
    let actions: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, detail FROM audit_events WHERE target_id = $1 AND action LIKE 'environment.%' ORDER BY at, id",
    )
    .bind(&id)
    .fetch_all(&db)
    .await
    .unwrap();
    let unhealthy = actions.iter().find(|(a, _)| a == "environment.unhealthy").expect("audited");
    assert!(unhealthy.1.contains("the process exited") || unhealthy.1.contains("failed"), "{unhealthy:?}");
    assert!(actions.iter().any(|(a, _)| a == "environment.recovered"), "{actions:?}");
    let told: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE environment_id = $1 AND kind = 'environment_unhealthy'",
    )
    .bind(&id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(told, 1, "the owner is told once");
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workload_is_restarted_on_sqlite() {
    a_killed_workload_is_restarted(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workload_is_restarted_on_postgres() {
    let pg = PgDb::new("health");
    a_killed_workload_is_restarted(Some(pg.url.clone())).await;
}

/// A repository whose versions deploy: `main` and `next` serve their own
/// page; `never-ready`'s start exits at once (it never passes its probe).
fn deployable_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| git_in(dir.path(), args);
    let write = |path: &str, text: &str| std::fs::write(dir.path().join(path), text).unwrap();
    git(&["init", "--quiet", "--initial-branch=main"]);
    write("page.html", "<h1>the main version</h1>");
    write("start.sh", "exec eod sample-app\n");
    git(&["add", "-A"]);
    git(&["commit", "--quiet", "-m", "main"]);
    git(&["checkout", "--quiet", "-b", "next"]);
    write("page.html", "<h1>the next version</h1>");
    git(&["commit", "--quiet", "-am", "next"]);
    git(&["checkout", "--quiet", "-b", "never-ready", "main"]);
    write("start.sh", "echo this version never starts\nexit 1\n");
    git(&["commit", "--quiet", "-am", "never ready"]);
    git(&["checkout", "--quiet", "main"]);
    dir
}

/// Requests through the preview proxy until `done` resolves (at most 20,000
/// requests or 120 s: bounded, loopback only): (requests, failures, the
/// longest run of failures in ms).
async fn request_loop<T>(
    http: &reqwest::Client,
    (url, host, token): (String, String, &str),
    done: impl std::future::Future<Output = T>,
) -> (u32, u32, u128) {
    tokio::pin!(done);
    let started = Instant::now();
    let (mut total, mut failed, mut longest) = (0u32, 0u32, 0u128);
    let mut failing_since: Option<Instant> = None;
    loop {
        tokio::select! {
            _ = &mut done => break,
            res = http.get(&url).header("host", &host).bearer_auth(token).send() => {
                total += 1;
                let ok = matches!(res, Ok(r) if r.status() == 200);
                match (ok, failing_since) {
                    (false, None) => { failed += 1; failing_since = Some(Instant::now()); }
                    (false, Some(_)) => failed += 1,
                    (true, Some(since)) => { longest = longest.max(since.elapsed().as_millis()); failing_since = None; }
                    (true, None) => {}
                }
            }
        }
        if total >= 20_000 || started.elapsed() > Duration::from_secs(120) {
            break;
        }
    }
    if let Some(since) = failing_since {
        longest = longest.max(since.elapsed().as_millis());
    }
    (total, failed, longest)
}

async fn wait_for_deployment(
    http: &reqwest::Client,
    p: &Portal,
    token: &str,
    env: &str,
    id: &str,
    want: &str,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let url = format!("{}/api/v1/environments/{env}/deployments/{id}", p.base);
        let (status, d) = call(http, reqwest::Method::GET, url, token, None).await;
        assert_eq!(status, 200, "{d}");
        if d["state"] == want {
            return d;
        }
        // Ended otherwise (a succeeded one can still be rolled back).
        let state = d["state"].as_str().unwrap_or("");
        let ended = matches!(state, "failed" | "rolled-back") || (state == "succeeded" && want != "rolled-back");
        assert!(!ended, "deployment ended {state} waiting for {want}: {d}");
        if Instant::now() >= deadline {
            sqlx::any::install_default_drivers();
            let db = sqlx::AnyPool::connect(&p.database_url()).await.unwrap();
            let trail: Vec<(String, String)> =
                sqlx::query_as("SELECT action, detail FROM audit_events WHERE target_id = $1 ORDER BY at, id")
                    .bind(env)
                    .fetch_all(&db)
                    .await
                    .unwrap();
            let jobs: Vec<(String, Option<i64>, Option<String>)> = sqlx::query_as(
                "SELECT kind, finished_at, last_error FROM jobs WHERE environment_id = $1 ORDER BY created_at",
            )
            .bind(env)
            .fetch_all(&db)
            .await
            .unwrap();
            panic!("deployment still {} waiting for {want}; trail {trail:#?}; jobs {jobs:#?}", d["state"]);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Deployments on real processes, one environment per strategy (set per tier
/// in the file): the new version serves after recreate, rolling and
/// blue-green; under rolling and blue-green no request fails during the
/// switch; a version that never becomes ready fails its deployment while the
/// old one keeps serving (recreate: the old one is restarted); a blue-green
/// deployment is rolled back by a person, and by the portal when the new
/// colour dies within its window.
async fn deployments_follow_the_tier_strategy(database_url: Option<String>) {
    let repo = deployable_repo();
    let conf_dir = tempfile::tempdir().unwrap();
    let conf = config_file(
        conf_dir.path(),
        "pool = []\n\n[tier.preview-lightweight]\nprobe_interval_seconds = 1\nprobe_failure_threshold = 1\n\n\
         [tier.preview-full]\nstrategy = \"rolling\"\n\n\
         [tier.preview-compliance]\nstrategy = \"blue-green\"\nprobe_interval_seconds = 1\nprobe_failure_threshold = 1\n",
    );
    let p = start_with(database_url, &[("EOD_CONFIG", &conf)]);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    p.wait_ready(&http).await;
    p.register_app(
        &http,
        json!({ "team": "payments", "slug": "deployable", "name": "Deployable", "repository": repo.path(),
            "blueprint": { "build": "cp page.html index.html", "start": "sh start.sh" } }),
    )
    .await;
    let token = p.token("alice", &["environments:read", "environments:write"]);
    let api = format!("{}/api/v1/environments", p.base);
    let page = |name: &str| {
        let (http, url, host) = (http.clone(), format!("{}/", p.base), format!("{name}.localhost:{}", p.port));
        let token = token.clone();
        async move {
            match http.get(url).header("host", host).bearer_auth(token).send().await {
                Ok(r) if r.status() == 200 => r.text().await.unwrap_or_default(),
                _ => String::new(),
            }
        }
    };

    for (tier, strategy) in
        [("preview-lightweight", "recreate"), ("preview-full", "rolling"), ("preview-compliance", "blue-green")]
    {
        let (s, env) = call(
            &http,
            reqwest::Method::POST,
            api.clone(),
            &token,
            Some(json!({ "app": "deployable", "branch": "main", "tier": tier })),
        )
        .await;
        assert_eq!(s, 201, "{env}");
        let id = env["id"].as_str().unwrap().to_string();
        let name = env["name"].as_str().unwrap().to_string();
        let main_commit = env["commit_sha"].as_str().unwrap().to_string();
        wait_for_state(&http, &p, &token, &id, "active").await;
        assert!(page(&name).await.contains("the main version"));
        let deployments = format!("{api}/{id}/deployments");

        // Bad input changes nothing.
        for (body, field) in [(json!({ "commit_sha": "nope" }), "commit_sha"), (json!({ "ref": "no/such" }), "ref")] {
            let (s, e) = call(&http, reqwest::Method::POST, deployments.clone(), &token, Some(body)).await;
            assert_eq!((s, e["error"]["field"].as_str()), (422, Some(field)), "{e}");
        }
        let (s, e) =
            call(&http, reqwest::Method::POST, deployments.clone(), &token, Some(json!({ "colour": "x" }))).await;
        assert_eq!(s, 422, "{e}");

        // The next commit, under a steady request loop.
        let (s, d) =
            call(&http, reqwest::Method::POST, deployments.clone(), &token, Some(json!({ "ref": "next" }))).await;
        assert_eq!(s, 202, "{d}");
        assert_eq!(d["strategy"], strategy, "the tier's strategy (from the file)");
        let (s, _) =
            call(&http, reqwest::Method::POST, deployments.clone(), &token, Some(json!({ "ref": "next" }))).await;
        assert_eq!(s, 409, "one deployment at a time");
        let dep = d["id"].as_str().unwrap().to_string();
        let (total, failed, gap) = request_loop(
            &http,
            (format!("{}/", p.base), format!("{name}.localhost:{}", p.port), &token),
            wait_for_deployment(&http, &p, &token, &id, &dep, "succeeded"),
        )
        .await;
        eprintln!("{strategy}: {failed} of {total} requests failed during the deployment; longest gap {gap} ms");
        if strategy != "recreate" {
            assert_eq!(failed, 0, "{strategy}: no request fails during the switch");
        }
        assert!(page(&name).await.contains("the next version"), "{strategy}: the new version serves");
        let (_, e) = call(&http, reqwest::Method::GET, format!("{api}/{id}"), &token, None).await;
        let next_commit = e["commit_sha"].as_str().unwrap().to_string();
        assert_ne!(next_commit, main_commit, "{e}");
        assert_eq!(e["health"], "healthy");

        // A version that never becomes ready.
        let (s, bad) =
            call(&http, reqwest::Method::POST, deployments.clone(), &token, Some(json!({ "ref": "never-ready" })))
                .await;
        assert_eq!(s, 202, "{bad}");
        let bad = wait_for_deployment(&http, &p, &token, &id, bad["id"].as_str().unwrap(), "failed").await;
        assert!(bad["reason"].as_str().unwrap().contains("readiness probe"), "{bad}");
        let (_, e) = call(&http, reqwest::Method::GET, format!("{api}/{id}"), &token, None).await;
        assert_eq!(e["commit_sha"], next_commit.as_str(), "what serves is still the last good commit");
        if strategy == "recreate" {
            // Nothing served after the failed recreate: the health monitor
            // restarts the last good commit.
            let deadline = Instant::now() + Duration::from_secs(90);
            while !page(&name).await.contains("the next version") {
                assert!(Instant::now() < deadline, "the last good version is back");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        } else {
            assert!(page(&name).await.contains("the next version"), "{strategy}: the old version kept serving");
        }

        if strategy == "blue-green" {
            // A person rolls back: the previous colour serves again at once.
            let url = format!("{deployments}/{dep}/rollback");
            let (s, r) = call(&http, reqwest::Method::POST, url.clone(), &token, None).await;
            assert_eq!(s, 202, "{r}");
            let (total, failed, _) = request_loop(
                &http,
                (format!("{}/", p.base), format!("{name}.localhost:{}", p.port), &token),
                wait_for_deployment(&http, &p, &token, &id, &dep, "rolled-back"),
            )
            .await;
            assert_eq!(failed, 0, "no request fails during the rollback ({total} sent)");
            assert!(page(&name).await.contains("the main version"));
            let (s, _) = call(&http, reqwest::Method::POST, url, &token, None).await;
            assert_eq!(s, 409, "rolled back once");

            // The new colour dies within its window: the portal rolls back by itself.
            let (_, again) =
                call(&http, reqwest::Method::POST, deployments.clone(), &token, Some(json!({ "ref": "next" }))).await;
            let again = again["id"].as_str().unwrap().to_string();
            wait_for_deployment(&http, &p, &token, &id, &again, "succeeded").await;
            let serving = std::fs::read_to_string(p.data_dir().join("runtime").join(&id).join("serving")).unwrap();
            let pid = serving.split_whitespace().next().unwrap().to_string();
            let killed = Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status().unwrap();
            assert!(killed.success());
            wait_for_deployment(&http, &p, &token, &id, &again, "rolled-back").await;
            assert!(page(&name).await.contains("the main version"), "the kept colour serves again");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployments_follow_the_tier_strategy_on_sqlite() {
    deployments_follow_the_tier_strategy(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployments_follow_the_tier_strategy_on_postgres() {
    let pg = PgDb::new("deploys");
    deployments_follow_the_tier_strategy(Some(pg.url.clone())).await;
}

/// A way out that fails ends somewhere: a full preview whose snapshot cannot
/// be written (the snapshot folder is a file) ends `failed` with the reason
/// after its attempts; Destroy then tears it down for good, and every
/// resource's cost clock stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_snapshot_ends_failed_and_destroy_then_finishes() {
    let conf_dir = tempfile::tempdir().unwrap();
    let conf = config_file(conf_dir.path(), "pool = []\n");
    let p = start_with(None, &[("EOD_CONFIG", &conf)]);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    p.wait_ready(&http).await;
    let token = p.token("alice", &["environments:read", "environments:write"]);
    let api = format!("{}/api/v1/environments", p.base);
    let body = json!({ "app": "checkout-web", "branch": "main", "tier": "preview-full" });
    let (s, env) = call(&http, reqwest::Method::POST, api.clone(), &token, Some(body)).await;
    assert_eq!(s, 201, "{env}");
    let id = env["id"].as_str().unwrap().to_string();
    wait_for_state(&http, &p, &token, &id, "active").await;
    // Break the snapshot: where its folder should be, a file.
    let snapshots = p.data_dir().join("snapshots");
    let _ = std::fs::remove_dir_all(&snapshots);
    std::fs::write(&snapshots, "not a folder").unwrap();

    let (s, _) = call(&http, reqwest::Method::DELETE, format!("{api}/{id}"), &token, None).await;
    assert_eq!(s, 202);
    // Five attempts with backoff (about 30 s), then `failed` with the reason.
    let deadline = Instant::now() + Duration::from_secs(120);
    let failed = loop {
        let (_, e) = call(&http, reqwest::Method::GET, format!("{api}/{id}"), &token, None).await;
        if e["state"] == "failed" {
            break e;
        }
        assert!(e["state"] == "expiring", "{e}");
        assert!(Instant::now() < deadline, "still {} waiting for failed", e["state"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(failed["health"], "unknown", "{failed}");
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&p.database_url()).await.unwrap();
    let reason: String = sqlx::query_scalar("SELECT failure_reason FROM environments WHERE id = $1")
        .bind(&id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(!reason.is_empty(), "the reason is kept");
    let told: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE environment_id = $1 AND kind = 'environment_failed'",
    )
    .bind(&id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(told, 1, "the owner is told");

    // Destroy on `failed` finishes the way out.
    let (s, _) = call(&http, reqwest::Method::DELETE, format!("{api}/{id}"), &token, None).await;
    assert_eq!(s, 202);
    wait_for_state(&http, &p, &token, &id, "destroyed").await;
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM resources WHERE environment_id = $1 AND ended_at IS NULL")
        .bind(&id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(open, 0, "every resource interval is closed");
    assert!(env_processes(&p.data_dir()).iter().all(|(_, e)| *e != id), "nothing of it runs");
    assert!(!p.data_dir().join("envs").join(&id).exists(), "nothing of it is left on the host");
    db.close().await;
}

/// A portal killed (SIGKILL) in the middle of a blue-green deployment: the
/// restarted portal takes the job over once its lease lapses and ends it;
/// afterwards exactly one colour serves through the proxy, the kept colour
/// is the only other process of the environment, and nothing is orphaned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_a_blue_green_switch_leaves_one_colour_serving() {
    let repo = deployable_repo();
    let conf_dir = tempfile::tempdir().unwrap();
    let conf = config_file(conf_dir.path(), "pool = []\n\n[tier.preview-lightweight]\nstrategy = \"blue-green\"\n");
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().display().to_string();
    let settings = [("EOD_CONFIG", conf.as_str()), ("EOD_DATA_DIR", data_dir.as_str())];
    let p = start_with(None, &settings);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    p.wait_ready(&http).await;
    p.register_app(
        &http,
        json!({ "team": "payments", "slug": "deployable", "name": "Deployable", "repository": repo.path(),
            "blueprint": { "build": "cp page.html index.html", "start": "sh start.sh" } }),
    )
    .await;
    let token = p.token("alice", &["environments:read", "environments:write"]);
    let api = format!("{}/api/v1/environments", p.base);
    let (s, env) =
        call(&http, reqwest::Method::POST, api.clone(), &token, Some(json!({ "app": "deployable", "branch": "main" })))
            .await;
    assert_eq!(s, 201, "{env}");
    let id = env["id"].as_str().unwrap().to_string();
    let name = env["name"].as_str().unwrap().to_string();
    wait_for_state(&http, &p, &token, &id, "active").await;
    let (s, d) =
        call(&http, reqwest::Method::POST, format!("{api}/{id}/deployments"), &token, Some(json!({ "ref": "next" })))
            .await;
    assert_eq!(s, 202, "{d}");
    let dep = d["id"].as_str().unwrap().to_string();
    // Kill the portal once the new colour's process exists (mid-switch).
    let deadline = Instant::now() + Duration::from_secs(60);
    let groups_of = |id: &str| -> std::collections::BTreeSet<i64> {
        env_processes(data.path()).into_iter().filter(|(_, e)| e == id).map(|(pid, _)| process_group(pid)).collect()
    };
    while groups_of(&id).len() < 2 {
        assert!(Instant::now() < deadline, "the new colour never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    p.crash();

    let p = start_with(None, &settings);
    p.wait_ready(&http).await;
    let d = wait_for_deployment(&http, &p, &token, &id, &dep, "succeeded").await;
    assert_eq!(d["state"], "succeeded");
    let page = http
        .get(format!("{}/", p.base))
        .header("host", format!("{name}.localhost:{}", p.port))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("the next version"), "the new colour serves: {page}");
    // Two colours at most: the one serving and the one kept for a rollback.
    let dir = data.path().join("envs").join(&id);
    let records = data.path().join("runtime").join(&id);
    let record = |file: &str| -> Option<i64> {
        std::fs::read_to_string(records.join(file)).ok()?.split_whitespace().next()?.parse().ok()
    };
    let serving = record("serving").expect("one serving record");
    let kept = record("kept").expect("the old colour is kept");
    assert_ne!(serving, kept);
    assert_eq!(groups_of(&id), [serving, kept].into_iter().collect(), "no orphaned process of the environment");
    assert!(!dir.join("next").exists(), "no half-made version left");
}

/// A branch that attacks: its start command tries, one by one, what a
/// workload must never reach, prints `ATTEMPT <what>: SUCCEEDED|BLOCKED`
/// for each, then serves like any app. `victim` is another team's running
/// environment (its id and pid, as an attacker could learn them);
/// `portal_db` the portal's PostgreSQL database, if it runs on one.
fn hostile_repo(data: &Path, victim: &str, victim_pid: i64, portal_db: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let data = std::path::absolute(data).unwrap();
    let mut script = format!(
        "DATA='{data}'; VICTIM='{victim}'; VICTIM_PID={victim_pid}\n\
         try() {{ what=$1; shift; if \"$@\" >/dev/null 2>&1; then echo \"ATTEMPT $what: SUCCEEDED\"; \
         else echo \"ATTEMPT $what: BLOCKED\"; fi; }}\n\
         awk -v uid=\"$(id -u)\" '/Max open files/ {{ f = $4 }} /Max processes/ {{ p = $3 }} /Max address space/ {{ a = $4 }} \
         END {{ print \"running as uid \" uid \", open files \" f \", processes \" p \", address space \" a \" bytes\" }}' /proc/self/limits\n\
         try portal-variables sh -c 'env | grep -Eq \"^EOD_(DATABASE_URL|ENV_DATABASE_URL|SECRET_KEY|DATA_DIR|CONFIG)=\"'\n\
         PORTAL=$PPID; [ \"$(cat /proc/$PORTAL/comm)\" = eod ] || PORTAL=$(cut -d' ' -f4 /proc/$PPID/stat)\n\
         echo \"portal pid $PORTAL\"\n\
         try portal-environ cat /proc/$PORTAL/environ\n\
         try data-dir-listing ls \"$DATA\"\n\
         try secret-key cat \"$DATA/secret.key\"\n\
         try portal-sqlite-read cat \"$DATA/eod.db\"\n\
         try portal-sqlite-write sh -c \"echo x >> '$DATA/eod.db'\"\n\
         try victim-source-write sh -c \"echo pwned > '$DATA/envs/$VICTIM/src/pwned'\"\n\
         try victim-database-file cat \"$DATA/envs/$VICTIM/data/app.db\"\n\
         try victim-record-write sh -c \"echo '1 1 x' > '$DATA/runtime/$VICTIM/serving'\"\n\
         try victim-log-read cat \"$DATA/runtime/$VICTIM/output.log\"\n\
         try victim-signal kill -0 $VICTIM_PID\n\
         try victim-environ cat /proc/$VICTIM_PID/environ\n",
        data = data.display()
    );
    if let Some(portal_db) = portal_db {
        script.push_str(&format!(
            "OWN_DB=${{DATABASE_URL##*/}}; PREFIX=$(echo \"$OWN_DB\" | cut -d_ -f1-3)\n\
             VICTIM_DB=\"${{PREFIX}}_$(echo \"$VICTIM\" | tr - _)\"\n\
             try victim-database psql -w \"${{DATABASE_URL%/*}}/$VICTIM_DB\" -c 'SELECT 1'\n\
             try portal-database psql -w \"${{DATABASE_URL%/*}}/{portal_db}\" -c 'SELECT count(*) FROM users'\n\
             try admin-without-password psql -w -h 127.0.0.1 -U eod -d postgres -c 'SELECT 1'\n\
             try superuser-without-password psql -w -h 127.0.0.1 -U postgres -d postgres -c 'SELECT 1'\n\
             try make-a-role psql -w \"$DATABASE_URL\" -c 'CREATE ROLE intruder'\n\
             psql -w \"$DATABASE_URL\" -c 'SELECT 1' >/dev/null 2>&1 && echo 'own database reachable'\n"
        ));
    }
    script.push_str("exec eod sample-app\n");
    std::fs::write(dir.path().join("hostile.sh"), script).unwrap();
    git_in(dir.path(), &["init", "--quiet", "--initial-branch=main"]);
    git_in(dir.path(), &["add", "-A"]);
    git_in(dir.path(), &["commit", "--quiet", "-m", "attack"]);
    dir
}

/// Workload isolation: while another team's preview runs, a hostile branch
/// tries to read the portal's variables, database and secret key, write the
/// other environment's files and the proxy's records, signal it, read its
/// database and (on PostgreSQL) connect to other databases or as other
/// roles. Every attempt fails, and the victim keeps serving untouched.
async fn a_hostile_workload_reaches_nothing(portal_pg: Option<PgDb>) {
    if !is_root() {
        eprintln!("skipped: workloads are isolated only when the portal runs as root (CI does)");
        return;
    }
    let conf_dir = tempfile::tempdir().unwrap();
    // The tier's limit is read: the workload sees exactly this.
    let conf = config_file(
        conf_dir.path(),
        "pool = []\n[tier.preview-lightweight]\nmax_open_files = 777\nmax_processes = 300\nmax_address_space_mb = 9000\n",
    );
    let admin =
        std::env::var("EOD_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://eod:eod@127.0.0.1:5432/postgres".into());
    let mut extra = vec![("EOD_CONFIG", conf.as_str())];
    if portal_pg.is_some() {
        extra.push(("EOD_ENV_DATABASE_URL", admin.as_str()));
    }
    let p = start_with(portal_pg.as_ref().map(|pg| pg.url.clone()), &extra);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    p.wait_ready(&http).await;
    let token = p.token("alice", &["environments:read", "environments:write"]);
    let victim = json!({ "app": "checkout-web", "branch": "main", "tier": "preview-lightweight" });
    let (victim_id, victim_name) = create_active(&http, &p, &token, victim).await;
    let victim_records = p.data_dir().join("runtime").join(&victim_id);
    let serving_before = std::fs::read_to_string(victim_records.join("serving")).unwrap();
    let victim_pid: i64 = serving_before.split_whitespace().next().unwrap().parse().unwrap();

    let repo = hostile_repo(&p.data_dir(), &victim_id, victim_pid, portal_pg.as_ref().map(|pg| pg.name.as_str()));
    p.register_app(
        &http,
        json!({ "team": "search", "slug": "hostile", "name": "Hostile", "repository": repo.path(),
                "blueprint": { "start": "sh hostile.sh" } }),
    )
    .await;
    let carol = p.token("carol", &["environments:read", "environments:write"]);
    let hostile = json!({ "app": "hostile", "branch": "main", "tier": "preview-lightweight" });
    let (hostile_id, _) = create_active(&http, &p, &carol, hostile).await;

    let log = std::fs::read_to_string(p.data_dir().join("runtime").join(&hostile_id).join("output.log")).unwrap();
    let mut attempts = vec![
        "portal-variables",
        "portal-environ",
        "data-dir-listing",
        "secret-key",
        "portal-sqlite-read",
        "portal-sqlite-write",
        "victim-source-write",
        "victim-database-file",
        "victim-record-write",
        "victim-log-read",
        "victim-signal",
        "victim-environ",
    ];
    if portal_pg.is_some() {
        attempts.extend([
            "victim-database",
            "portal-database",
            "admin-without-password",
            "superuser-without-password",
            "make-a-role",
        ]);
        assert!(log.contains("own database reachable"), "its own database works: {log}");
    }
    for what in attempts {
        assert!(log.contains(&format!("ATTEMPT {what}: BLOCKED")), "{what} must fail:\n{log}");
    }
    assert!(!log.contains("SUCCEEDED"), "{log}");
    // The attempt on the portal's process aimed at the portal itself.
    assert!(log.contains(&format!("portal pid {}", p.child.id())), "{log}");
    let uid = workload_uid(&p.data_dir(), &hostile_id);
    let limits = format!("running as uid {uid}, open files 777, processes 300, address space {} bytes", 9000u64 << 20);
    assert!(log.contains(&limits), "{log}");

    // The victim is untouched and still serves.
    assert_eq!(std::fs::read_to_string(victim_records.join("serving")).unwrap(), serving_before);
    assert!(!p.data_dir().join("envs").join(&victim_id).join("src/pwned").exists());
    assert!(pid_alive(victim_pid));
    let res = http
        .get(format!("{}/", p.base))
        .header("host", format!("{victim_name}.localhost:{}", p.port))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // And the portal's own files are private.
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&p.data_dir()), 0o711);
    assert_eq!(mode(&p.data_dir().join("secret.key")), 0o600);
    assert_eq!(mode(&victim_records), 0o700);
    if portal_pg.is_none() {
        assert_eq!(mode(&p.data_dir().join("eod.db")), 0o600);
    }
    // The databases and roles this portal made on the server go with the test.
    if let Some(pg) = &portal_pg {
        sqlx::any::install_default_drivers();
        let server = sqlx::AnyPool::connect(&admin).await.unwrap();
        let victim_db: String = sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE $1")
            .bind(format!("eod\\_env\\_%\\_{}", victim_id.replace('-', "\\_")))
            .fetch_one(&server)
            .await
            .unwrap();
        let key = victim_db.trim_start_matches("eod_env_").split('_').next().unwrap().to_string();
        drop(p);
        let dbs: Vec<String> = sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE $1")
            .bind(format!("eod\\_%\\_{key}\\_%"))
            .fetch_all(&server)
            .await
            .unwrap();
        for db in dbs {
            pg.psql(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"));
        }
        drop_roles_of(pg, &server, &key).await;
        server.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_workload_reaches_nothing_on_sqlite() {
    a_hostile_workload_reaches_nothing(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_workload_reaches_nothing_on_postgres() {
    a_hostile_workload_reaches_nothing(Some(PgDb::new("hostile"))).await;
}

/// The portal's resident memory (kB), from `/proc`.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Preview access protection and the streaming proxy on a real preview: it
/// answers only to its team (a token, or a browser through the portal's
/// one-time code), a share link works until revoked, an unknown name
/// answers like a protected one, anonymous traffic is no activity; the
/// proxy sets its own forwarding headers, keeps the portal's cookies,
/// streams server-sent events and 1 GiB without holding it, and pipes a
/// WebSocket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previews_answer_only_to_whom_they_may_through_a_streaming_proxy() {
    let conf_dir = tempfile::tempdir().unwrap();
    let conf = config_file(conf_dir.path(), "pool = []\n[tier.preview-full]\npreview_access = \"public\"\n");
    let p = start_with(None, &[("EOD_CONFIG", &conf)]);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    p.wait_ready(&http).await;
    let token = p.token("alice", &["environments:read", "environments:write"]);
    let carol = p.token("carol", &["environments:read"]);

    // The tier's rule is read (full previews public here); an app's own
    // stricter rule wins over it.
    let repo = deployable_repo();
    p.register_app(
        &http,
        json!({ "team": "payments", "slug": "closed", "name": "Closed", "repository": repo.path(),
                "blueprint": { "preview_access": "team" } }),
    )
    .await;
    for (app, anonymous) in [("checkout-web", 200), ("closed", 401)] {
        let (_, name) =
            create_active(&http, &p, &token, json!({ "app": app, "branch": "main", "tier": "preview-full" })).await;
        let host = format!("{name}.localhost:{}", p.port);
        let res = http.get(format!("{}/", p.base)).header("host", host).send().await.unwrap();
        assert_eq!(res.status(), anonymous, "{app} on a public tier");
    }
    let preview = json!({ "app": "checkout-web", "branch": "main", "tier": "preview-lightweight" });
    let (id, name) = create_active(&http, &p, &token, preview).await;
    let host = format!("{name}.localhost:{}", p.port);
    let get = |host: &str, path: &str| http.get(format!("{}{path}", p.base)).header("host", host.to_string());
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&p.database_url()).await.unwrap();
    let activity = || async {
        sqlx::query_scalar::<_, Option<i64>>("SELECT last_activity_at FROM environments WHERE id = $1")
            .bind(&id)
            .fetch_one(&db)
            .await
            .unwrap()
    };
    let quiet = activity().await;

    // No credentials: an API client is refused, a browser sent to sign in
    // through the portal; a name that does not exist answers the same way.
    let unknown = format!("no-such-preview.localhost:{}", p.port);
    for h in [&host, &unknown] {
        let res = get(h, "/").send().await.unwrap();
        assert_eq!(res.status(), 401);
        let res = get(h, "/cart?x=1").header("accept", "text/html").send().await.unwrap();
        assert_eq!(res.status(), 303);
        let label = h.split('.').next().unwrap();
        let to = format!("{}/preview-access?to={label}&next=%2Fcart%3Fx%3D1", p.base);
        assert_eq!(res.headers()["location"], to.as_str());
    }
    assert_eq!(activity().await, quiet, "refused traffic is no activity");

    // Tokens: the team's passes; another team's and an unknown name are one 404.
    assert_eq!(get(&host, "/").bearer_auth(&token).send().await.unwrap().status(), 200);
    assert_eq!(get(&host, "/").bearer_auth(&carol).send().await.unwrap().status(), 404);
    assert_eq!(get(&unknown, "/").bearer_auth(&token).send().await.unwrap().status(), 404);
    // A token that does not work at all is refused as the API refuses it;
    // the portal's own answers on a preview host carry its headers.
    let bogus = get(&host, "/").bearer_auth("eod_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb").send().await.unwrap();
    assert_eq!(bogus.status(), 401);
    assert_eq!(bogus.headers()["x-content-type-options"], "nosniff");
    assert!(bogus.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));

    // A signed-in browser: the portal hands a one-time code to the preview
    // host, which sets its own cookie; the code works once.
    let alice = demo_cookie(&http, &p, "alice").await;
    let res = http
        .get(format!("{}/preview-access?to={name}&next=/cart", p.base))
        .header("cookie", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let code_url = res.headers()["location"].to_str().unwrap().to_string();
    let prefix = format!("http://{host}/.eod/auth?code=");
    assert!(code_url.starts_with(&prefix), "{code_url}");
    let code_path = code_url.strip_prefix(&format!("http://{host}")).unwrap().to_string();
    let res = get(&host, &code_path).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/cart");
    let set = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set.starts_with("eod_preview=") && set.contains("HttpOnly") && !set.contains("Domain"), "{set}");
    let cookie = set.split(';').next().unwrap().to_string();
    let res = get(&host, "/").header("cookie", &cookie).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains(&name));
    assert_eq!(get(&host, &code_path).send().await.unwrap().status(), 403, "a code works once");
    let carol_browser = demo_cookie(&http, &p, "carol").await;
    let res = http
        .get(format!("{}/preview-access?to={name}&next=/", p.base))
        .header("cookie", &carol_browser)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "another team's member gets no code");
    assert!(activity().await > quiet, "admitted traffic is activity");

    // A share link: works for someone without an account until revoked.
    let (s, link) = call(
        &http,
        reqwest::Method::POST,
        format!("{}/api/v1/environments/{id}/share-links", p.base),
        &token,
        Some(json!({ "expires_in_hours": 1, "note": "design review" })),
    )
    .await;
    assert_eq!(s, 201, "{link}");
    let url = link["url"].as_str().unwrap();
    let share_path = url.strip_prefix(&format!("http://{host}")).unwrap().to_string();
    let res = get(&host, &share_path).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let guest = res.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    assert_eq!(get(&host, "/").header("cookie", &guest).send().await.unwrap().status(), 200);
    let (s, _) = call(
        &http,
        reqwest::Method::DELETE,
        format!("{}/api/v1/environments/{id}/share-links/{}", p.base, link["id"].as_str().unwrap()),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(get(&host, "/").header("cookie", &guest).send().await.unwrap().status(), 401, "revoked at once");
    assert_eq!(get(&host, &share_path).send().await.unwrap().status(), 403);

    // The workload sees the proxy's forwarding headers, never the client's
    // made-up ones, the portal's cookies or the portal's token.
    let seen = get(&host, "/headers")
        .header("cookie", format!("{cookie}; theme=dark"))
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-for", "6.6.6.6")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(seen.contains(&format!("x-forwarded-host: {host}")), "{seen}");
    assert!(seen.contains("x-forwarded-for: 127.0.0.1") && seen.contains("x-forwarded-proto: http"), "{seen}");
    assert!(seen.contains("cookie: theme=dark") && !seen.contains("eod_preview") && !seen.contains("evil"), "{seen}");
    let seen = get(&host, "/headers").bearer_auth(&token).send().await.unwrap().text().await.unwrap();
    assert!(!seen.contains("authorization"), "the portal's token stays with the portal: {seen}");

    // Server-sent events arrive as they are sent.
    let started = Instant::now();
    let mut events = get(&host, "/events").bearer_auth(&token).send().await.unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let first = events.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("tick 0"));
    let first_event = started.elapsed();
    assert!(first_event < Duration::from_secs(2), "first event after {first_event:?}");
    drop(events);

    // A WebSocket (a dev server's live reload) is piped both ways.
    {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
        let mut request = format!("ws://127.0.0.1:{}/ws", p.port).into_client_request().unwrap();
        request.headers_mut().insert("host", host.parse().unwrap());
        request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        ws.send(Message::Text("hello through the proxy".into())).await.unwrap();
        let echoed = ws.next().await.unwrap().unwrap();
        assert_eq!(echoed.into_text().unwrap().as_str(), "hello through the proxy");
        ws.close(None).await.unwrap();
    }

    // 1 GiB streams through in bounded memory.
    let before = rss_kb(p.child.id());
    let mut download = get(&host, "/bytes/1073741824").bearer_auth(&token).send().await.unwrap();
    assert_eq!(download.status(), 200);
    let (mut total, mut peak) = (0u64, before);
    while let Some(chunk) = download.chunk().await.unwrap() {
        total += chunk.len() as u64;
        if total % (64 << 20) < chunk.len() as u64 {
            peak = peak.max(rss_kb(p.child.id()));
        }
    }
    assert_eq!(total, 1 << 30);
    let growth_mib = peak.saturating_sub(before) / 1024;
    eprintln!("1 GiB through the proxy: portal RSS {before} kB before, peak {peak} kB (+{growth_mib} MiB)");
    assert!(growth_mib < 64, "the proxy held the body: +{growth_mib} MiB");
}

/// A long-lived connection is activity while it is open: with a one-minute
/// idle window, a preview holding an open WebSocket stays active while one
/// without traffic goes idle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_websocket_keeps_a_preview_out_of_idle() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
    let conf_dir = tempfile::tempdir().unwrap();
    let conf = config_file(conf_dir.path(), "pool = []\n[tier.preview-lightweight]\nidle_minutes = 1\n");
    let p = start_with(None, &[("EOD_CONFIG", &conf)]);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    p.wait_ready(&http).await;
    let token = p.token("alice", &["environments:read", "environments:write"]);
    let mut envs = vec![];
    for branch in ["main", "fix/cart-rounding"] {
        let body = json!({ "app": "checkout-web", "branch": branch, "tier": "preview-lightweight" });
        envs.push(create_active(&http, &p, &token, body).await);
    }
    let (held, quiet) = (&envs[0], &envs[1]);
    let mut request = format!("ws://127.0.0.1:{}/ws", p.port).into_client_request().unwrap();
    request.headers_mut().insert("host", format!("{}.localhost:{}", held.1, p.port).parse().unwrap());
    request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    // The quiet one goes idle after its minute (the scheduler's tick after it).
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        let (_, env) =
            call(&http, reqwest::Method::GET, format!("{}/api/v1/environments/{}", p.base, quiet.0), &token, None)
                .await;
        if env["state"] == "idle" {
            break;
        }
        assert!(Instant::now() < deadline, "the quiet preview never went idle: {env}");
        // The socket stays in use meanwhile (an echo every few seconds).
        ws.send(Message::Text("still here".into())).await.unwrap();
        assert!(ws.next().await.unwrap().is_ok());
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let (_, env) =
        call(&http, reqwest::Method::GET, format!("{}/api/v1/environments/{}", p.base, held.0), &token, None).await;
    assert_eq!(env["state"], "active", "the preview with an open WebSocket is not idle: {env}");
    ws.close(None).await.unwrap();
}

/// A GitHub `pull_request` delivery for `acme/branchy`'s pull request #3,
/// signed with `secret` as GitHub signs it.
fn pull_request_delivery(
    secret: &str,
    action: &str,
    head: &str,
    updated_at: &str,
    labels: &[&str],
    head_repo: &str,
) -> (Vec<u8>, String) {
    use hmac::{Hmac, Mac};
    let labels: Vec<Value> = labels.iter().map(|l| json!({ "name": l })).collect();
    let body = json!({
        "action": action,
        "pull_request": {
            "number": 3, "state": if action == "closed" { "closed" } else { "open" }, "draft": false,
            "title": "Second page", "html_url": "https://github.com/acme/branchy/pull/3", "updated_at": updated_at,
            "head": { "sha": head, "ref": "feature/two", "repo": { "full_name": head_repo } },
            "labels": labels,
        },
        "repository": { "full_name": "acme/branchy" },
    })
    .to_string()
    .into_bytes();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&body);
    let signature: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    (body, format!("sha256={signature}"))
}

/// The API calls a fake provider saw: (method, path, JSON body).
type Calls = std::sync::Arc<std::sync::Mutex<Vec<(String, String, Value)>>>;

/// Waits until a call matching `pred` was seen.
async fn wait_heard(calls: &Calls, pred: impl Fn(&(String, String, Value)) -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !calls.lock().unwrap().iter().any(&pred) {
        assert!(Instant::now() < deadline, "{what} not reported: {:#?}", calls.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A stand-in for GitHub's REST API: records each call (method, path,
/// body); answers the first commit status with 502 (the portal retries)
/// and a new comment with id 42; refuses another token.
async fn fake_github() -> (String, Calls) {
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    let calls: Calls = Default::default();
    let recorded = calls.clone();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: String| {
        let calls = recorded.clone();
        async move {
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer fake-github-token") {
                return (StatusCode::UNAUTHORIZED, "{}".to_string());
            }
            let mut calls = calls.lock().unwrap();
            let path = uri.path().to_string();
            let first_status = path.contains("/statuses/") && !calls.iter().any(|(_, p, _)| p.contains("/statuses/"));
            calls.push((method.to_string(), path.clone(), serde_json::from_str(&body).unwrap_or(Value::Null)));
            match (method.as_str(), path.ends_with("/comments")) {
                _ if first_status => (StatusCode::BAD_GATEWAY, "{}".into()),
                ("POST", true) => (StatusCode::CREATED, json!({ "id": 42 }).to_string()),
                _ => (StatusCode::OK, "{}".into()),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls)
}

fn rev_parse(dir: &Path, rev: &str) -> String {
    let out = Command::new("git").arg("-C").arg(dir).args(["rev-parse", rev]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Pull-request webhooks on real processes: opened makes the PR's preview
/// (with the app's secrets), a push redeploys the new head, a `quick-fix`
/// label moves it to the lightweight tier, closing destroys it; a fork's
/// pull request (allowed by this app) runs without the app's secrets. The
/// pull request hears each step (a fake GitHub API records the calls).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_request_drives_its_preview_from_open_to_close() {
    const SECRET: &str = "lifecycle-webhook-secret";
    let repo = branchy_repo();
    let (github, calls) = fake_github().await;
    let p = start_with(
        None,
        &[
            ("EOD_GITHUB_WEBHOOK_SECRET", SECRET),
            ("EOD_GITHUB_API_URL", &github),
            ("EOD_GITHUB_TOKEN", "fake-github-token"),
        ],
    );
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    p.wait_ready(&http).await;
    p.register_app(
        &http,
        json!({ "team": "payments", "slug": "branchy", "name": "Branchy", "repository": repo.path(),
            "blueprint": { "build": "sh build.sh", "start": "eod sample-app",
                           "env": { "MODE": "preview" }, "secrets": { "SHOP_SECRET": "s3cr3t" },
                           "database": { "seed_file": "seed.sql", "migrate": "eod sample-app migrate" },
                           "pull_requests": { "repository": "acme/branchy", "forks": true } } }),
    )
    .await;
    let token = p.token("alice", &["environments:read", "environments:write"]);
    let deliver = |action: &str, head: &str, at: &str, labels: &[&str], head_repo: &str| {
        let (body, signature) = pull_request_delivery(SECRET, action, head, at, labels, head_repo);
        let req = http
            .post(format!("{}/webhooks/github", p.base))
            .header("content-type", "application/json")
            .header("x-github-event", "pull_request")
            .header("x-github-delivery", format!("{action}-{at}"))
            .header("x-hub-signature-256", signature)
            .body(body);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    // The PR's live preview once the webhook made it: (id, tier).
    let preview = |tier: &'static str| {
        let (http, url, token) = (http.clone(), format!("{}/api/v1/environments?app=branchy", p.base), token.clone());
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let (_, list) = call(&http, reqwest::Method::GET, url.clone(), &token, None).await;
                let found = list["items"].as_array().unwrap().iter().find(|e| {
                    e["pr_number"] == 3
                        && e["tier"] == tier
                        && !matches!(e["state"].as_str(), Some("expiring" | "destroyed"))
                });
                if let Some(e) = found {
                    return e["id"].as_str().unwrap().to_string();
                }
                assert!(Instant::now() < deadline, "no {tier} preview of PR #3: {list}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let log_of = |id: &str| {
        std::fs::read_to_string(p.data.path().join("runtime").join(id).join("output.log")).unwrap_or_default()
    };

    let first_head = rev_parse(repo.path(), "feature/two");
    assert_eq!(deliver("opened", &first_head, "2026-12-07T10:00:00Z", &[], "acme/branchy").await, 202);
    let full = preview("preview-full").await;
    wait_for_state(&http, &p, &token, &full, "active").await;
    assert!(log_of(&full).contains("given-ok"), "the app's own pull request gets its secrets");
    // The pull request hears it is ready (its first status call is answered
    // 502 and retried): the comment is posted.
    let full_page = format!("/environments/{full}");
    wait_heard(
        &calls,
        |(m, p, b)| {
            m == "POST"
                && p.ends_with("/issues/3/comments")
                && b["body"].as_str().is_some_and(|t| t.contains(&full_page))
        },
        "the first preview's comment",
    )
    .await;

    // A push: the new head is deployed to the same preview.
    git_in(repo.path(), &["checkout", "--quiet", "feature/two"]);
    std::fs::write(repo.path().join("page.html"), "<h1>{{rows}} rows on the pushed page</h1>").unwrap();
    git_in(repo.path(), &["commit", "--quiet", "-am", "push"]);
    git_in(repo.path(), &["update-ref", "refs/pull/3/head", "feature/two"]);
    git_in(repo.path(), &["checkout", "--quiet", "main"]);
    let pushed = rev_parse(repo.path(), "feature/two");
    assert_eq!(deliver("synchronize", &pushed, "2026-12-07T10:01:00Z", &[], "acme/branchy").await, 202);
    let deadline = Instant::now() + Duration::from_secs(120);
    let deployment = loop {
        let url = format!("{}/api/v1/environments/{full}/deployments", p.base);
        let (_, list) = call(&http, reqwest::Method::GET, url, &token, None).await;
        if let Some(d) = list.as_array().and_then(|l| l.iter().find(|d| d["commit_sha"] == pushed.as_str())) {
            break d["id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no deployment of the pushed head: {list}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    wait_for_deployment(&http, &p, &token, &full, &deployment, "succeeded").await;
    // The pull request hears the pushed head serves (before anything newer
    // replaces that report).
    let pushed_status = format!("/statuses/{pushed}");
    let pushed_ready = |(_, p, b): &(String, String, Value)| {
        p.ends_with(&pushed_status)
            && b["state"] == "success"
            && b["description"].as_str().is_some_and(|d| d.ends_with("is ready"))
    };
    wait_heard(&calls, pushed_ready, "the pushed head's status").await;

    // Labeled quick-fix: the lightweight tier replaces the full preview.
    assert_eq!(deliver("labeled", &pushed, "2026-12-07T10:02:00Z", &["quick-fix"], "acme/branchy").await, 202);
    let light = preview("preview-lightweight").await;
    wait_for_state(&http, &p, &token, &full, "destroyed").await;
    wait_for_state(&http, &p, &token, &light, "active").await;

    // Closed: destroyed. A late, older delivery does not bring it back.
    assert_eq!(deliver("closed", &pushed, "2026-12-07T10:03:00Z", &[], "acme/branchy").await, 202);
    wait_for_state(&http, &p, &token, &light, "destroyed").await;
    assert_eq!(deliver("unlabeled", &pushed, "2026-12-07T10:02:30Z", &[], "acme/branchy").await, 202);

    // Reopened from a fork (this app allows forks): it runs, without secrets.
    assert_eq!(deliver("reopened", &pushed, "2026-12-07T10:04:00Z", &[], "mallory/branchy").await, 202);
    let fork = preview("preview-full").await;
    wait_for_state(&http, &p, &token, &fork, "active").await;
    let log = log_of(&fork);
    assert!(
        log.contains("portal-env-hidden") && !log.contains("given-ok"),
        "a fork gets none of the app's secrets: {log}"
    );
    let count = |query: &'static str| {
        let (http, url, token) =
            (http.clone(), format!("{}/api/v1/environments?app=branchy{query}", p.base), token.clone());
        async move {
            let (_, list) = call(&http, reqwest::Method::GET, url, &token, None).await;
            list["items"].as_array().unwrap().iter().filter(|e| e["pr_number"] == 3).count()
        }
    };
    // Full and lightweight destroyed, the fork's live: the late delivery made none.
    assert_eq!((count("&state=destroyed").await, count("").await), (2, 1));

    // Then every change edits that one comment; the pushed head got its status.
    let fork_page = format!("/environments/{fork}");
    wait_heard(
        &calls,
        |(m, p, b)| {
            m == "PATCH"
                && p == "/repos/acme/branchy/issues/comments/42"
                && b["body"].as_str().is_some_and(|t| t.contains("**Ready**") && t.contains(&fork_page))
        },
        "the fork's preview, ready, in the comment",
    )
    .await;
    let calls = calls.lock().unwrap().clone();
    let statuses: Vec<(&str, &str)> = calls
        .iter()
        .filter(|(_, p, _)| p.contains("/statuses/"))
        .map(|(_, p, b)| (p.rsplit('/').next().unwrap(), b["state"].as_str().unwrap_or("")))
        .collect();
    // The first head's first status was answered 502 and sent again.
    assert!(statuses[0].0 == first_head && statuses[1] == (first_head.as_str(), "success"), "{statuses:?}");
    assert!(statuses.contains(&(pushed.as_str(), "success")), "ready on the pushed head: {statuses:?}");
    let posted = calls.iter().filter(|(m, p, _)| m == "POST" && p.ends_with("/issues/3/comments")).count();
    assert_eq!(posted, 1, "one comment, then edits: {calls:#?}");
    let status = calls.iter().find(|c| pushed_ready(c)).unwrap();
    assert_eq!(status.2["context"], "eod/preview");
    assert!(status.2["target_url"].as_str().unwrap().contains(".localhost:"), "links the preview: {}", status.2);
}

/// The `p`-th percentile (0–100) of `samples` (sorted here), nearest rank.
fn percentile_ms(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * samples.len() as f64).ceil().max(1.0) as usize;
    samples[rank.min(samples.len()) - 1]
}

/// Benchmark (`--ignored`, printed): pull-request webhooks at the seed's
/// agentic-coding volume, one portal on SQLite. 20 pull requests opened at
/// once with a warm pool of 20 full previews; a burst of 100 opened at once
/// labelled `quick-fix` (lightweight: no pool, cold builds); then 500
/// deliveries over a minute for the open ones. Each delivery's response
/// time, and delivery-to-ready of every preview (from the stored waits).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_pull_request_webhooks() {
    const SECRET: &str = "bench-webhook-secret-1";
    let repo = branchy_repo();
    for n in 1..=120 {
        git_in(repo.path(), &["update-ref", &format!("refs/pull/{n}/head"), "feature/two"]);
    }
    let head = rev_parse(repo.path(), "feature/two");
    let conf_dir = tempfile::tempdir().unwrap();
    let conf = config_file(conf_dir.path(), "[[pool]]\napp = \"branchy\"\ntier = \"preview-full\"\nsize = 20\n");
    let p = start_with(None, &[("EOD_GITHUB_WEBHOOK_SECRET", SECRET), ("EOD_CONFIG", &conf)]);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    p.wait_ready(&http).await;
    p.register_app(
        &http,
        json!({ "team": "payments", "slug": "branchy", "name": "Branchy", "repository": repo.path(),
            "blueprint": { "build": "cp page.html index.html", "start": "eod sample-app",
                           "database": { "seed_file": "seed.sql", "migrate": "eod sample-app migrate" },
                           "pull_requests": { "repository": "acme/branchy" } } }),
    )
    .await;
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&p.database_url()).await.unwrap();
    // One signed delivery; its response time (ms). Every one must be 202.
    let deliver = |n: u64, action: &'static str, at: i64, labels: &'static [&'static str], id: String| {
        let (http, base, head) = (http.clone(), p.base.clone(), head.clone());
        async move {
            let labels: Vec<Value> = labels.iter().map(|l| json!({ "name": l })).collect();
            let updated = format!("2026-12-07T{:02}:{:02}:{:02}Z", at / 3600 % 24, at / 60 % 60, at % 60);
            let body = json!({
                "action": action,
                "pull_request": { "number": n, "state": "open", "draft": false, "title": format!("PR {n}"),
                    "html_url": format!("https://github.com/acme/branchy/pull/{n}"), "updated_at": updated,
                    "head": { "sha": head, "ref": "feature/two", "repo": { "full_name": "acme/branchy" } },
                    "labels": labels },
                "repository": { "full_name": "acme/branchy" },
            })
            .to_string();
            use hmac::{Hmac, Mac};
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
            mac.update(body.as_bytes());
            let sig: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
            let started = Instant::now();
            let res = http
                .post(format!("{base}/webhooks/github"))
                .header("content-type", "application/json")
                .header("x-github-event", "pull_request")
                .header("x-github-delivery", id)
                .header("x-hub-signature-256", format!("sha256={sig}"))
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 202);
            started.elapsed().as_secs_f64() * 1000.0
        }
    };
    // Delivery-to-ready (ms) of the previews of PRs `from..=to`, once all are ready.
    let ready_waits = |from: i64, to: i64| {
        let db = db.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(900);
            loop {
                let waits: Vec<(i64, Option<i64>)> = sqlx::query_as(
                    "SELECT m.requested_at, m.ready_at FROM provision_waits m JOIN environments e ON e.id = m.environment_id
                     WHERE m.via = 'webhook' AND e.pr_number BETWEEN $1 AND $2",
                )
                .bind(from)
                .bind(to)
                .fetch_all(&db)
                .await
                .unwrap();
                let want = (to - from + 1) as usize;
                if waits.len() == want && waits.iter().all(|(_, r)| r.is_some()) {
                    return waits.into_iter().map(|(q, r)| (r.unwrap() - q) as f64).collect::<Vec<f64>>();
                }
                let ready = waits.iter().filter(|(_, r)| r.is_some()).count();
                assert!(Instant::now() < deadline, "{ready} of {want} ready");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    };
    let mut rows = vec![];
    let mut report = |label: &str, responses: &mut Vec<f64>, waits: Option<&mut Vec<f64>>| {
        let mut r = |p| percentile_ms(responses, p);
        let (r50, r99, rmax) = (r(50.0), r(99.0), r(100.0));
        let ready = waits.map(|w| {
            let mut s = |p| percentile_ms(w, p) / 1e3;
            format!("{:.1} / {:.1} / {:.1} s", s(50.0), s(99.0), s(100.0))
        });
        let n = responses.len();
        rows.push(format!("| {label} | {n} | {r50:.1} / {r99:.1} / {rmax:.1} ms | {} |", ready.unwrap_or("—".into())));
    };
    let burst = |from: u64, to: u64, labels: &'static [&'static str], at: i64| {
        let handles: Vec<_> =
            (from..=to).map(|n| tokio::spawn(deliver(n, "opened", at, labels, format!("open-{n}")))).collect();
        async move {
            let mut responses = vec![];
            for h in handles {
                responses.push(h.await.unwrap());
            }
            responses
        }
    };

    // 1. A warm pool of 20 full previews; 20 pull requests opened at once.
    pool_ready(&db, 20).await;
    let mut responses = burst(101, 120, &[], 1).await;
    let mut warm = ready_waits(101, 120).await;
    report("20 opened at once, warm pool of 20", &mut responses, Some(&mut warm));

    // 2. A burst of 100 opened at once, lightweight (no pool): cold builds.
    let mut responses = burst(1, 100, &["quick-fix"], 2).await;
    let mut cold = ready_waits(1, 100).await;
    report("100 opened at once, cold", &mut responses, Some(&mut cold));

    // 3. 500 deliveries in a minute (edits of the open pull requests).
    let started = Instant::now();
    let mut handles = vec![];
    for i in 0..500_u64 {
        let due = Duration::from_millis(i * 120);
        tokio::time::sleep(due.saturating_sub(started.elapsed())).await;
        let n = 1 + i % 100;
        handles.push(tokio::spawn(deliver(n, "edited", 3 + i as i64, &["quick-fix"], format!("edit-{i}"))));
    }
    let mut responses = vec![];
    for h in handles {
        responses.push(h.await.unwrap());
    }
    report("500 in a minute (edits)", &mut responses, None);
    let processed: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE processed_at IS NOT NULL AND status = 202")
            .fetch_one(&db)
            .await
            .unwrap();
    println!("\n| deliveries | n | response p50 / p99 / max | delivery → ready p50 / p99 / max |\n|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    println!("({processed} of 620 processed at the end)");
}

/// The script driver on a real portal: a platform admin's blueprint names a
/// fake Terraform (state kept in a directory). The portal is killed while
/// `create` hangs; the restarted one runs it again and converges on one
/// environment, priced at the rates `create` reported; a `destroy` that
/// fails once is retried until nothing is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_blueprint_converges_through_a_crash_and_is_destroyed_on_retry() {
    let (repo, state, data) = (branchy_repo(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let data_dir = data.path().display().to_string();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let p = start_with(None, &[("EOD_DATA_DIR", data_dir.as_str())]);
    p.wait_ready(&http).await;
    let create = r#"n=$(cat "$STATE/$EOD_ENV_ID.creates" 2>/dev/null || echo 0)
echo $((n+1)) > "$STATE/$EOD_ENV_ID.creates"
if [ "$n" = 0 ]; then echo $$ > "$STATE/hung.pid"; exec sleep 120; fi
echo "$EOD_ENV_APP $EOD_ENV_TEAM $EOD_ENV_REF $TF_TOKEN" > "$STATE/$EOD_ENV_ID"
echo "applying $EOD_ENV_NAME" >&2
echo '{"resources": [{"kind": "vm", "hourly_rate_micros": 42000}, {"kind": "bucket", "hourly_rate_micros": 1000}]}'"#;
    let destroy = r#"if [ ! -f "$STATE/$EOD_ENV_ID.destroy-tried" ]; then touch "$STATE/$EOD_ENV_ID.destroy-tried"; echo "state locked" >&2; exit 1; fi
rm "$STATE/$EOD_ENV_ID""#;
    p.register_app(
        &http,
        json!({ "team": "payments", "slug": "infra", "name": "Infra", "repository": repo.path(),
            "blueprint": { "driver": "script", "create": create, "destroy": destroy,
                           "status": r#"test -f "$STATE/$EOD_ENV_ID" && echo '{"ready": true}'"#,
                           "env": { "STATE": state.path() }, "secrets": { "TF_TOKEN": "tok-s3cr3t" } } }),
    )
    .await;
    let token = p.token("alice", &["environments:read", "environments:write"]);
    let (s, env) = call(
        &http,
        reqwest::Method::POST,
        format!("{}/api/v1/environments", p.base),
        &token,
        Some(json!({ "app": "infra", "branch": "main" })),
    )
    .await;
    assert_eq!(s, 201, "{env}");
    let id = env["id"].as_str().unwrap().to_string();

    // Killed while `create` hangs: the step dies with the portal.
    let hung = state.path().join("hung.pid");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !hung.exists() {
        assert!(Instant::now() < deadline, "create never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid: i64 = loop {
        if let Ok(pid) = std::fs::read_to_string(&hung).unwrap_or_default().trim().parse() {
            break pid;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    p.crash();
    let deadline = Instant::now() + Duration::from_secs(30);
    while pid_alive(pid) {
        assert!(Instant::now() < deadline, "the hung step outlived the portal");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The restarted portal converges: one environment, made once more.
    let p = start_with(None, &[("EOD_DATA_DIR", data_dir.as_str())]);
    p.wait_ready(&http).await;
    wait_for_state(&http, &p, &token, &id, "active").await;
    assert_eq!(std::fs::read_to_string(state.path().join(format!("{id}.creates"))).unwrap().trim(), "2");
    assert_eq!(std::fs::read_to_string(state.path().join(&id)).unwrap().trim(), "infra payments main tok-s3cr3t");
    let log = std::fs::read_to_string(data.path().join("script").join(&id).join("output.log")).unwrap();
    assert!(log.contains("applying "), "{log}");
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&p.database_url()).await.unwrap();
    let priced: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT kind, driver, state, hourly_rate_micros FROM resources WHERE environment_id = $1 ORDER BY kind",
    )
    .bind(&id)
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(
        priced,
        vec![
            ("bucket".into(), "script".into(), "created".into(), 1000),
            ("vm".into(), "script".into(), "created".into(), 42000)
        ]
    );

    // Destroy: the first `destroy` fails ("state locked"), the retry removes it.
    let (s, e) =
        call(&http, reqwest::Method::DELETE, format!("{}/api/v1/environments/{id}", p.base), &token, None).await;
    assert!(s == 200 || s == 202, "{s} {e}");
    wait_for_state(&http, &p, &token, &id, "destroyed").await;
    assert!(state.path().join(format!("{id}.destroy-tried")).exists());
    assert!(!state.path().join(&id).exists(), "the fake cloud still holds it");
    assert!(!data.path().join("script").join(&id).exists(), "the portal still keeps its record");
}

/// A stand-in for GitLab's REST API: records each call (method, path,
/// body) made with the portal's `PRIVATE-TOKEN`; a new note gets id 77.
async fn fake_gitlab() -> (String, Calls) {
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    let calls: Calls = Default::default();
    let recorded = calls.clone();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: String| {
        let calls = recorded.clone();
        async move {
            if headers.get("private-token").and_then(|v| v.to_str().ok()) != Some("fake-gitlab-token") {
                return (StatusCode::UNAUTHORIZED, "{}".to_string());
            }
            let path = uri.path().to_string();
            let answer = match (method.as_str(), path.ends_with("/notes")) {
                ("POST", true) => (StatusCode::CREATED, json!({ "id": 77 }).to_string()),
                _ => (StatusCode::OK, "{}".to_string()),
            };
            calls.lock().unwrap().push((method.to_string(), path, serde_json::from_str(&body).unwrap_or(Value::Null)));
            answer
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, calls)
}

/// GitLab: a merge request hook (`X-Gitlab-Token`) makes the merge
/// request's preview from `refs/merge-requests/N/head`; the merge request
/// hears it is ready (a commit status on its head and one note, through a
/// fake GitLab API); the merge destroys it and the same note says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gitlab_merge_request_gets_a_preview_and_hears_about_it() {
    const SECRET: &str = "lifecycle-gitlab-secret";
    let repo = branchy_repo();
    git_in(repo.path(), &["update-ref", "refs/merge-requests/3/head", "feature/two"]);
    let head = rev_parse(repo.path(), "feature/two");
    let (gitlab, calls) = fake_gitlab().await;
    let p = start_with(
        None,
        &[
            ("EOD_GITLAB_WEBHOOK_SECRET", SECRET),
            ("EOD_GITLAB_API_URL", &gitlab),
            ("EOD_GITLAB_TOKEN", "fake-gitlab-token"),
        ],
    );
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    p.wait_ready(&http).await;
    p.register_app(
        &http,
        json!({ "team": "payments", "slug": "branchy", "name": "Branchy", "repository": repo.path(),
            "blueprint": { "build": "sh build.sh", "start": "eod sample-app",
                           "pull_requests": { "repository": "acme/branchy" } } }),
    )
    .await;
    let deliver = |action: &str, state: &str, at: &str| {
        let body = json!({
            "object_kind": "merge_request",
            "project": { "path_with_namespace": "acme/branchy" },
            "object_attributes": {
                "iid": 3, "state": state, "action": action, "draft": false, "title": "Second page",
                "url": "https://gitlab.example/acme/branchy/-/merge_requests/3", "updated_at": at,
                "source_branch": "feature/two", "source_project_id": 9, "target_project_id": 9,
                "last_commit": { "id": head },
            },
            "labels": [],
        });
        let req = http
            .post(format!("{}/webhooks/gitlab", p.base))
            .header("content-type", "application/json")
            .header("x-gitlab-event", "Merge Request Hook")
            .header("x-gitlab-event-uuid", format!("mr-3-{action}"))
            .header("x-gitlab-token", SECRET)
            .body(body.to_string());
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(deliver("open", "opened", "2026-12-08 10:00:00 UTC").await, 202);
    let status_path = format!("/projects/acme%2Fbranchy/statuses/{head}");
    wait_heard(
        &calls,
        |(m, path, b)| {
            m == "POST" && path.ends_with(&status_path) && b["state"] == "success" && b["name"] == "eod/preview"
        },
        "the ready commit status",
    )
    .await;
    wait_heard(
        &calls,
        |(m, path, b)| {
            let note = (m == "POST" && path.ends_with("/projects/acme%2Fbranchy/merge_requests/3/notes"))
                || (m == "PUT" && path.ends_with("/projects/acme%2Fbranchy/merge_requests/3/notes/77"));
            note && b["body"].as_str().is_some_and(|t| t.contains("**Ready**"))
        },
        "the note saying it is ready",
    )
    .await;
    // Merged: the preview goes, and the one note is edited to say so.
    assert_eq!(deliver("merge", "merged", "2026-12-08 10:05:00 UTC").await, 202);
    wait_heard(
        &calls,
        |(m, path, b)| {
            m == "PUT"
                && path.ends_with("/merge_requests/3/notes/77")
                && b["body"].as_str().is_some_and(|t| t.contains("**Destroyed**"))
        },
        "the note kept up to date",
    )
    .await;
    let notes = calls.lock().unwrap().iter().filter(|(m, path, _)| m == "POST" && path.ends_with("/notes")).count();
    assert_eq!(notes, 1, "one note, kept up to date");
}
