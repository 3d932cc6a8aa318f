//! `eod sample-app`: the built-in demo workload, so a fresh install
//! provisions something real. It serves its environment's name and tier and
//! a row count from its own database (the per-environment copy the local
//! driver made), plus `/healthz` for the readiness probe.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use std::net::SocketAddr;

#[derive(Clone)]
struct Sample {
    name: String,
    tier: String,
    pool: AnyPool,
}

/// Runs until killed. Reads `PORT`, `DATABASE_URL`, `EOD_ENV_NAME`, `EOD_ENV_TIER`.
pub async fn run() -> Result<(), String> {
    let port: u16 = std::env::var("PORT")
        .map_err(|_| "PORT is not set".to_string())?
        .parse()
        .map_err(|_| "PORT is not a port number")?;
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set".to_string())?;
    // Its own database: a SQLite file or a PostgreSQL database, whichever the driver made.
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new().max_connections(2).connect(&url).await.map_err(|e| format!("database: {e}"))?;
    let state = Sample {
        name: std::env::var("EOD_ENV_NAME").unwrap_or_else(|_| "unnamed".into()),
        tier: std::env::var("EOD_ENV_TIER").unwrap_or_default(),
        pool,
    };
    let app = Router::new().route("/", get(index)).route("/healthz", get(|| async { "ok" })).with_state(state);
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await.map_err(|e| e.to_string())?;
    // Its output is the environment's log the portal shows.
    println!(
        "sample app {} ({}) listening on 127.0.0.1:{port}",
        state_name(),
        std::env::var("EOD_ENV_TIER").unwrap_or_default()
    );
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

/// The name the environment is reached by: the first label of the host the
/// portal's proxy forwarded (a warm-pool member is renamed when claimed),
/// else the name it was started with.
fn reached_as(headers: &HeaderMap, started_as: &str) -> String {
    headers
        .get("x-forwarded-host")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split('.').next())
        .filter(|label| app::domain::naming::is_valid_name(label))
        .unwrap_or(started_as)
        .to_string()
}

fn state_name() -> String {
    std::env::var("EOD_ENV_NAME").unwrap_or_else(|_| "unnamed".into())
}

async fn index(State(s): State<Sample>, headers: HeaderMap) -> Html<String> {
    let name = reached_as(&headers, &s.name);
    println!("GET / as {name}");
    let rows: Result<i64, _> = sqlx::query_scalar("SELECT COUNT(*) FROM items").fetch_one(&s.pool).await;
    let rows = rows.map(|n| n.to_string()).unwrap_or_else(|e| format!("unavailable ({e})"));
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{name}</title></head>\
         <body style=\"font-family:system-ui;max-width:40rem;margin:3rem auto\">\
         <h1>Sample app</h1><p>Environment <strong data-testid=\"env-name\">{name}</strong> \
         on tier <strong data-testid=\"env-tier\">{tier}</strong>.</p>\
         <p>Its database holds <strong data-testid=\"row-count\">{rows}</strong> rows.</p></body></html>",
        name = escape(&name),
        tier = escape(&s.tier),
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Fills the sample app's template database (a table with a few rows)
/// that each environment's database is copied or cloned from. `url` is a
/// `sqlite:` file (created if missing) or a PostgreSQL database.
pub async fn create_template(url: &str) -> Result<(), sqlx::Error> {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new().max_connections(1).connect(url).await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS items (id BIGINT PRIMARY KEY, name TEXT NOT NULL)").execute(&pool).await?;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM items").fetch_one(&pool).await?;
    if n == 0 {
        for i in 1..=42_i64 {
            sqlx::query("INSERT INTO items (id, name) VALUES ($1, $2)")
                .bind(i)
                .bind(format!("item {i}"))
                .execute(&pool)
                .await?;
        }
    }
    pool.close().await;
    Ok(())
}
