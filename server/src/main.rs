#![recursion_limit = "256"]
//! `eod`: the EoD Portal server. Composition only: configuration → database
//! → router → serve.

mod config;
mod demo_repos;
mod drivers;
mod http;
mod identity;
mod sample_app;
mod sessions;
mod standard_webhooks;
#[cfg(test)]
mod tests;
mod workers;

use app::domain::preview_url::PreviewUrlBase;
use app::ssr::{AppState, Db, PortalSettings};
use clap::{Parser, Subcommand};
use config::{Config, KEYS};
use leptos::prelude::LeptosOptions;
use std::path::PathBuf;
use std::sync::Arc;
use tower_sessions::ExpiredDeletion;

#[derive(Parser)]
#[command(name = "eod", version, about = "EoD Portal: preview environments on demand, with lifecycle and chargeback")]
struct Cli {
    /// Optional TOML configuration file; `EOD_*` environment variables override it.
    #[arg(long, env = "EOD_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the portal (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print every configuration key with its effective value and meaning.
    Config,
    /// Run the built-in sample workload (what the demo apps start); `migrate` applies its migrations.
    SampleApp {
        /// `serve` (the default) or `migrate` (apply ./migrations/*.sql to DATABASE_URL).
        #[arg(default_value = "serve", value_parser = ["serve", "migrate"])]
        action: String,
    },
    /// Apply an SQL file to DATABASE_URL (the local driver seeds SQLite templates with it).
    #[command(hide = true)]
    SeedSql { file: PathBuf },
    /// Manage API tokens (bootstrap and automation).
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Mint a personal access token for a user and print it (shown once).
    Create {
        /// The user's login.
        #[arg(long)]
        user: String,
        /// A scope to grant; repeat for several (environments:read, environments:write, costs:read,
        /// budgets:write, approvals:write, audit:read, apps:read, apps:write).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Days until the token expires (1–365).
        #[arg(long, default_value_t = 30)]
        expires: u32,
        /// A name to recognise the token by.
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

/// See the dependency's note in Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Everything the portal creates (database, keys, records, checkouts
    // before they are handed over) is private to it by default.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let cli = Cli::parse();
    if let Some(Command::SampleApp { action }) = &cli.command {
        // Configured by its own environment (PORT, DATABASE_URL…), not EOD_*.
        let outcome = if action == "migrate" { sample_app::migrate().await } else { sample_app::run().await };
        return match outcome {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("eod sample-app: {err}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::SeedSql { file }) = &cli.command {
        return match sample_app::apply_sql(file).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("eod seed-sql: {err}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(err) => {
            eprintln!("eod: configuration error: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    // Logs go to stderr: stdout carries command output (`eod token create` prints the token).
    let logs = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&config.log))
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, never in a file or a CI log.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if config.log_json {
        // One object per line; span fields (request_id, job) ride along.
        logs.json().with_current_span(true).with_span_list(false).init();
    } else {
        logs.init();
    }
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => migrate(&config).await,
        Command::Config => {
            print_config(&config);
            Ok(())
        }
        Command::SampleApp { .. } => unreachable!("handled before configuration"),
        Command::SeedSql { .. } => unreachable!("handled before configuration"),
        Command::Token(TokenCommand::Create { user, scopes, expires, name }) => {
            create_token(&config, &user, &scopes, expires, name).await
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            eprintln!("eod: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error("cannot prepare the data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error(transparent)]
    Db(#[from] app::ssr::db::DbError),
    #[error("cannot prepare the session store: {0}")]
    Sessions(sqlx::Error),
    #[error("cannot seed demo data: {0}")]
    Demo(sqlx::Error),
    #[error("cannot make the demo apps' repositories: {0}")]
    DemoRepos(String),
    #[error("{0}")]
    ConfigApp(app::ssr::apps::ConfigAppError),
    #[error("cannot read or make the secret key file {0}: {1}")]
    SecretKey(String, String),
    #[error("cannot listen on {0}: {1}")]
    Listen(std::net::SocketAddr, std::io::Error),
    #[error("server error: {0}")]
    Serve(std::io::Error),
    #[error("{0}")]
    Refused(String),
    #[error("cannot build the HTTP client for sign-in: {0}")]
    Http(openidconnect::reqwest::Error),
}

async fn open_db(config: &Config) -> Result<Db, StartError> {
    make_data_dir(config).map_err(|e| StartError::DataDir(config.data_dir.display().to_string(), e))?;
    protect_data_dir(config).map_err(|e| StartError::DataDir(config.data_dir.display().to_string(), e))?;
    tracing::info!(database = %config.database_url_redacted(), "opening database");
    Ok(Db::open(&config.database_url, config.db_max_connections).await?)
}

/// Creates the data directory; parents it had to make are 0755 (the
/// portal's umask would make them 0700, and workloads pass through them).
fn make_data_dir(config: &Config) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::path::absolute(&config.data_dir)?;
    let missing: Vec<PathBuf> = dir.ancestors().skip(1).filter(|a| !a.exists()).map(PathBuf::from).collect();
    std::fs::create_dir_all(&dir)?;
    for parent in missing {
        std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// The data directory is the portal's: 0700, or 0711 when workloads run
/// under their own uids (they pass through to their directory beneath it,
/// never list it); the database, its journal and the secret key are 0600
/// (also when an earlier version made them with laxer modes).
fn protect_data_dir(config: &Config) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let isolated = nix::unistd::geteuid().is_root() && config.run_as != config::RunAs::Portal;
    let mode = if isolated { 0o711 } else { 0o700 };
    std::fs::set_permissions(&config.data_dir, std::fs::Permissions::from_mode(mode))?;
    if isolated {
        // Workloads under their own uids reach their directories through
        // every parent: each must let others pass (o+x).
        let dir = std::path::absolute(&config.data_dir)?;
        for parent in dir.ancestors().skip(1) {
            let parent_mode = std::fs::metadata(parent)?.permissions().mode();
            if parent_mode & 0o001 == 0 {
                return Err(std::io::Error::other(format!(
                    "{} (mode {:o}) does not let other users pass through, so environments running under \
                     their own uids could not reach their directories: allow it (chmod o+x), choose another \
                     EOD_DATA_DIR, or set EOD_RUN_AS=portal",
                    parent.display(),
                    parent_mode & 0o777
                )));
            }
        }
    }
    for file in ["eod.db", "eod.db-wal", "eod.db-shm", "secret.key"] {
        let path = config.data_dir.join(file);
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    // The portal's own subdirectories, whatever made them: private, but
    // `envs/` (workloads pass through it to their own directory).
    let envs_mode = if isolated { 0o711 } else { 0o700 };
    for (dir, mode) in [
        ("mirrors", 0o700),
        ("templates", 0o700),
        ("snapshots", 0o700),
        ("runtime", 0o700),
        ("demo-repos", 0o700),
        ("seeds", envs_mode),
        ("envs", envs_mode),
    ] {
        let path = config.data_dir.join(dir);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}

async fn migrate(config: &Config) -> Result<(), StartError> {
    open_db(config).await?;
    tracing::info!("migrations applied");
    Ok(())
}

async fn create_token(
    config: &Config,
    login: &str,
    scopes: &[String],
    expires: u32,
    name: String,
) -> Result<(), StartError> {
    use app::domain::token::Scope;
    let scopes =
        scopes.iter().map(|s| s.parse::<Scope>()).collect::<Result<Vec<_>, _>>().map_err(StartError::Refused)?;
    let db = open_db(config).await?;
    let pool = db.pool();
    let refused = |e: app::error::AppError| StartError::Refused(e.to_string());
    let user = app::ssr::store::users::find_by_login(pool, login)
        .await
        .map_err(|e| StartError::Refused(format!("looking up {login}: {e}")))?
        .ok_or_else(|| StartError::Refused(format!("no user with login {login:?}")))?;
    let viewer = app::ssr::store::users::viewer(pool, &user.id)
        .await
        .map_err(|e| StartError::Refused(format!("loading {login}: {e}")))?
        .ok_or_else(|| StartError::Refused(format!("no user with login {login:?}")))?;
    let meta = app::ssr::RequestMeta {
        viewer: Some(viewer.clone()),
        user_agent: Some("eod-cli".into()),
        via: app::domain::measure::Via::Api,
        ..Default::default()
    };
    let new = app::ssr::tokens::NewToken { name, scopes, expires_in_days: expires };
    let (_, secret) = app::ssr::tokens::create(&db, &meta, &viewer, new).await.map_err(refused)?;
    println!("{secret}");
    Ok(())
}

/// Everything a running portal needs, ready to serve: the router and the
/// database it uses.
/// The portal's router, its database, and the router of the separate
/// metrics address (served only with `EOD_METRICS_LISTEN`).
async fn build(config: &Config) -> Result<(axum::Router, Db, axum::Router), StartError> {
    // Installed before anything records.
    http::metrics::handle();
    let db = open_db(config).await?;
    if config.demo {
        let apps: Vec<(&str, &str)> = app::ssr::demo::DEMO_APPS.iter().map(|(_, slug, name)| (*slug, *name)).collect();
        let repos = demo_repos::ensure(&config.data_dir, &apps).map_err(StartError::DemoRepos)?;
        let now = app::ssr::clock::now_ms();
        if app::ssr::demo::seed_with(&db, now, &repos, demo_repos::DEMO_BLUEPRINT).await.map_err(StartError::Demo)? {
            tracing::info!("demo data seeded");
        }
    }
    let secret_key = secret_key(config)?;
    match app::ssr::apps::apply_config(&db, &secret_key, &config.apps).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(changed = n, "apps from the configuration applied"),
        Err(err) => return Err(StartError::ConfigApp(err)),
    }
    let now = app::ssr::clock::now_ms();
    match app::ssr::notify::configure(&db, config.smtp.is_some(), config.approvers.as_deref(), now).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            team = config.approvers.as_deref().unwrap_or_default(),
            "EOD_APPROVERS names a team that does not exist (yet): only platform admins approve until it does"
        ),
        Err(err) => return Err(StartError::Refused(format!("recording the notification settings: {err}"))),
    }
    let sessions = sessions::DbSessionStore::open(&config.database_url).await.map_err(StartError::Sessions)?;
    tokio::spawn(sessions.clone().continuously_delete_expired(tokio::time::Duration::from_secs(300)));

    // cargo leptos writes hash.txt (the hashed asset names) beside the binary;
    // without it (a plain `cargo build`, tests) assets keep their plain names
    // instead of every page failing.
    let hashed =
        std::env::current_exe().ok().and_then(|p| p.parent().map(|d| d.join("hash.txt").exists())).unwrap_or(false);
    if !hashed {
        tracing::warn!("no hash.txt beside the binary: serving unhashed asset names (build with cargo leptos)");
    }
    let leptos_options = LeptosOptions::builder()
        .output_name("eod")
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .hash_files(hashed)
        .build();
    let settings = PortalSettings {
        demo: config.demo,
        preview_urls: PreviewUrlBase {
            scheme: config.public_url.scheme.clone(),
            domain: config.preview_domain.clone(),
            port: config.public_url.port,
        },
        public_origin: config.public_url.origin(),
        session_absolute_ms: config.session_absolute.as_millis() as i64,
        session_refresh_ms: (config.session_idle.as_millis() as i64 / 4).min(60_000),
        sign_in_providers: config.providers.iter().map(|p| (p.id.clone(), p.label.clone())).collect(),
        tiers: config.tiers.clone(),
        pools: config.pools.clone(),
        secret_key,
        app_admins: config.app_admins,
        cost_rules: config.cost_rules,
        admission: config.admission.clone(),
        kubernetes: config.kubernetes.is_some(),
    };
    let identity =
        http::oidc::Identity::new(config.providers.clone(), config.public_url.origin()).map_err(StartError::Http)?;
    let work = Arc::new(tokio::sync::Notify::new());
    let settings = Arc::new(settings);
    let git = Arc::new(drivers::git::Git::new(&config.data_dir));
    let isolation =
        drivers::local::Isolation::resolve(&config.run_as, &config.data_dir).map_err(StartError::Refused)?;
    let kube_driver = match &config.kubernetes {
        Some(k) => {
            let client = kube::Client::try_default().await.map_err(|e| {
                StartError::Refused(format!(
                    "EOD_KUBERNETES=kubeconfig, but no cluster configuration could be read (KUBECONFIG, ~/.kube/config or the pod's service account): {e}"
                ))
            })?;
            let settings = drivers::kubernetes::KubeSettings {
                preview_domain: config.preview_domain.clone(),
                ingress_namespace: k.ingress_namespace.clone(),
                ingress_class: k.ingress_class.clone(),
                ready_timeout: std::time::Duration::from_secs(600),
                poll: std::time::Duration::from_millis(500),
            };
            let driver = Arc::new(drivers::kubernetes::KubeDriver::new(client, settings));
            // Learn which environments the cluster holds, so calls that know only an id route there.
            let warm = driver.clone();
            tokio::spawn(async move {
                if let Err(err) = drivers::Driver::owned(warm.as_ref()).await {
                    tracing::warn!(error = %err, "listing the cluster's environment namespaces");
                }
            });
            Some(driver)
        }
        None => None,
    };
    let driver: Arc<dyn drivers::Driver> = Arc::new(drivers::Drivers {
        local: Arc::new(drivers::local::LocalDriver::new(
            &config.data_dir,
            config.env_database_url.as_deref(),
            git.clone(),
            isolation,
        )),
        script: Arc::new(drivers::script::ScriptDriver::new(&config.data_dir)),
        kube: kube_driver.clone(),
    });
    let sources: Arc<dyn app::ssr::context::Sources> = git.clone();
    let changes = app::ssr::live::Changes::default();
    tokio::spawn(changes.clone().run(db.clone(), std::time::Duration::from_millis(300)));
    let state = AppState {
        leptos_options,
        db: db.clone(),
        settings: settings.clone(),
        work: work.clone(),
        runtime: Some(Arc::new(drivers::RuntimeOf(driver.clone()))),
        changes,
        sources: Some(sources.clone()),
    };
    let worker_suffix = format!("{}-{}", std::process::id(), &app::ssr::clock::new_id()[24..]);
    let worker_id = worker_suffix.clone();
    let reconciler = workers::reconciler::Reconciler {
        db: db.clone(),
        settings: settings.clone(),
        driver: driver.clone(),
        git,
        worker_id,
        work: work.clone(),
        state: state.clone(),
    };
    tokio::spawn(reconciler.run());
    let outbox = workers::outbox::Outbox::new(db.clone(), settings.clone(), format!("outbox-{worker_suffix}"));
    tokio::spawn(outbox.run(std::time::Duration::from_millis(500)));
    if let Some(smtp) = &config.smtp {
        let mailer =
            workers::mailer::Mailer::new(db.clone(), settings.clone(), format!("mailer-{worker_suffix}"), smtp)
                .map_err(StartError::Refused)?;
        tokio::spawn(mailer.run(std::time::Duration::from_millis(500)));
    }
    let reporter = workers::pr_reports::Reporter::new(
        db.clone(),
        settings.clone(),
        config.forges.clone(),
        format!("reports-{worker_suffix}"),
    );
    tokio::spawn(reporter.run(std::time::Duration::from_millis(500)));
    let monitor = workers::health::HealthMonitor::new(db.clone(), settings.clone(), driver.clone());
    tokio::spawn(monitor.run(std::time::Duration::from_secs(1)));
    let runtime: Arc<dyn app::ssr::context::RuntimeView> = Arc::new(drivers::RuntimeOf(driver.clone()));
    tokio::spawn(workers::scheduler::run(
        db.clone(),
        settings,
        Some(sources),
        Some(runtime),
        work,
        std::time::Duration::from_secs(5),
    ));
    let proxy = Arc::new(http::proxy::Proxy::new(driver, config.preview_domain.clone(), config.public_url.is_https()));
    let metrics = http::metrics::standalone(state.clone());
    Ok((http::router(state, sessions, Arc::new(identity), proxy, config), db, metrics))
}

/// `EOD_SECRET_KEY`, or the data directory's key file (made once, owner-only).
fn secret_key(config: &Config) -> Result<app::ssr::secrets::SecretKey, StartError> {
    use app::ssr::secrets::SecretKey;
    if let Some(key) = &config.secret_key {
        return Ok(key.clone());
    }
    let path = config.data_dir.join("secret.key");
    let fail = |e: String| StartError::SecretKey(path.display().to_string(), e);
    match std::fs::read_to_string(&path) {
        Ok(text) => SecretKey::from_hex(&text).map_err(|e| fail(e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let key = SecretKey::generate();
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| fail(e.to_string()))?;
            file.write_all(key.to_hex().as_bytes()).map_err(|e| fail(e.to_string()))?;
            tracing::info!(path = %path.display(), "made a new secret key for apps' secrets (set EOD_SECRET_KEY in production)");
            Ok(key)
        }
        Err(e) => Err(fail(e.to_string())),
    }
}

async fn serve(config: Config) -> Result<(), StartError> {
    let (app, db, metrics) = build(&config).await?;
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.map_err(|e| StartError::Listen(config.listen, e))?;
    if let Some(addr) = config.metrics.listen {
        let metrics_listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| StartError::Listen(addr, e))?;
        tracing::info!(listen = %addr, "serving /metrics");
        tokio::spawn(async move {
            if let Err(err) = axum::serve(metrics_listener, metrics).await {
                tracing::error!(error = %err, "the metrics listener stopped");
            }
        });
    } else if config.metrics.token.is_none() {
        tracing::info!("no metrics served (set EOD_METRICS_TOKEN or EOD_METRICS_LISTEN)");
    }
    tracing::info!(url = %config.public_url.origin(), listen = %config.listen, demo = config.demo, "EoD Portal is up");
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(StartError::Serve)?;
    db.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutting down");
}

/// A secret's presence, never its value.
fn hidden(set: bool) -> String {
    if set { "(set, hidden)" } else { "(unset)" }.to_string()
}

/// A key's effective value as `eod config` shows it (secrets hidden).
fn effective(config: &Config, env: &str) -> String {
    match env {
        "EOD_LISTEN" => config.listen.to_string(),
        "EOD_DATA_DIR" => config.data_dir.display().to_string(),
        "EOD_DATABASE_URL" => config.database_url_redacted(),
        "EOD_PUBLIC_URL" => config.public_url.origin(),
        "EOD_PREVIEW_DOMAIN" => config.preview_domain.clone(),
        "EOD_DEMO" => if config.demo { "1" } else { "0" }.to_string(),
        "EOD_SITE_ROOT" => config.site_root.display().to_string(),
        "EOD_SESSION_IDLE_MINUTES" => (config.session_idle.as_secs() / 60).to_string(),
        "EOD_SESSION_ABSOLUTE_HOURS" => (config.session_absolute.as_secs() / 3600).to_string(),
        "EOD_DB_MAX_CONNECTIONS" => config.db_max_connections.to_string(),
        "EOD_PAGE_CACHE_MS" => config.page_cache.as_millis().to_string(),
        "EOD_KUBERNETES" => if config.kubernetes.is_some() { "kubeconfig" } else { "off" }.to_string(),
        "EOD_KUBERNETES_INGRESS_NAMESPACE" => {
            config.kubernetes.as_ref().map_or("(off)".into(), |k| k.ingress_namespace.clone())
        }
        "EOD_KUBERNETES_INGRESS_CLASS" => config
            .kubernetes
            .as_ref()
            .map_or("(off)".into(), |k| k.ingress_class.clone().unwrap_or_else(|| "(unset)".into())),
        "EOD_ENV_DATABASE_URL" => config.env_database_url_redacted(),
        "EOD_LOG" => config.log.clone(),
        "EOD_LOG_FORMAT" => if config.log_json { "json" } else { "text" }.to_string(),
        "EOD_METRICS_TOKEN" => if config.metrics.token.is_some() { "(set, hidden)" } else { "(unset)" }.to_string(),
        "EOD_METRICS_LISTEN" => config.metrics.listen.map_or("(unset)".into(), |a| a.to_string()),
        "EOD_RUN_AS" => match &config.run_as {
            config::RunAs::User(name) => name.clone(),
            config::RunAs::Portal => "portal".into(),
        },
        "EOD_SECRET_KEY" => if config.secret_key.is_some() { "(set, hidden)" } else { "(unset)" }.to_string(),
        "EOD_APP_ADMINS" => match config.app_admins {
            app::ssr::context::AppAdmins::Managers => "managers".into(),
            app::ssr::context::AppAdmins::Platform => "platform".into(),
        },
        "EOD_APPROVERS" => config.approvers.clone().unwrap_or_else(|| "(unset)".into()),
        "EOD_SMTP_URL" => config.smtp.as_ref().map_or("(unset)".into(), |s| config::redact_password(&s.url)),
        "EOD_SMTP_FROM" => config.smtp.as_ref().map_or("(unset)".into(), |s| s.from.to_string()),
        "EOD_GITHUB_WEBHOOK_SECRET" => hidden(config.webhooks.github.is_some()),
        "EOD_GITLAB_WEBHOOK_SECRET" => hidden(config.webhooks.gitlab.is_some()),
        "EOD_GITHUB_TOKEN" => hidden(config.forges.github_token.is_some()),
        "EOD_GITLAB_TOKEN" => hidden(config.forges.gitlab_token.is_some()),
        "EOD_GITHUB_API_URL" => config.forges.github_api.clone(),
        "EOD_GITLAB_API_URL" => config.forges.gitlab_api.clone(),
        // A key added to KEYS without a line here shows this, and a test fails.
        _ => "(not shown)".into(),
    }
}

fn print_config(config: &Config) {
    for key in KEYS {
        println!(
            "{} = {}\n    file key: {}; default: {}\n    {}",
            key.env,
            effective(config, key.env),
            key.file,
            key.default,
            key.doc
        );
    }
}
