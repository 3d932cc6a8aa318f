//! `eod sample-app`: a tiny runtime for the demo apps (and tests), so a
//! fresh install provisions something real without any toolchain. It serves
//! the checkout's built `index.html` — the branch's own page — filling in
//! `{{env_name}}`, `{{tier}}`, `{{commit}}`, `{{rows}}` and `{{items}}` from
//! its environment and its own database (the copy the local driver made),
//! plus `/healthz` for the readiness probe. `eod sample-app migrate` applies
//! the checkout's `migrations/*.sql` that the database has not seen yet.

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
    commit: String,
    /// The branch's page (the build's output), if the checkout has one.
    page: Option<String>,
    pool: AnyPool,
}

/// Applies `migrations/*.sql` of the current directory, in name order, each
/// once (recorded in `eod_sample_migrations`).
/// Applies one SQL file to `DATABASE_URL`: how the local driver seeds a
/// SQLite template, as the template's own unprivileged user, so a seed's
/// `ATTACH` or `VACUUM INTO` reaches nothing of the portal's.
pub async fn apply_sql(file: &std::path::Path) -> Result<(), String> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set".to_string())?;
    let sql = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new().max_connections(1).connect(&url).await.map_err(|e| format!("database: {e}"))?;
    sqlx::raw_sql(&sql).execute(&pool).await.map_err(|e| format!("{}: {e}", file.display()))?;
    pool.close().await;
    Ok(())
}

pub async fn migrate() -> Result<(), String> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set".to_string())?;
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new().max_connections(1).connect(&url).await.map_err(|e| format!("database: {e}"))?;
    sqlx::query("CREATE TABLE IF NOT EXISTS eod_sample_migrations (name TEXT PRIMARY KEY)")
        .execute(&pool)
        .await
        .map_err(|e| e.to_string())?;
    let mut files: Vec<std::path::PathBuf> = match std::fs::read_dir("migrations") {
        Ok(entries) => {
            entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "sql")).collect()
        }
        Err(_) => vec![],
    };
    files.sort();
    for file in files {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let seen: Option<String> = sqlx::query_scalar("SELECT name FROM eod_sample_migrations WHERE name = $1")
            .bind(&name)
            .fetch_optional(&pool)
            .await
            .map_err(|e| e.to_string())?;
        if seen.is_some() {
            continue;
        }
        let sql = std::fs::read_to_string(&file).map_err(|e| format!("{name}: {e}"))?;
        sqlx::raw_sql(&sql).execute(&pool).await.map_err(|e| format!("{name}: {e}"))?;
        sqlx::query("INSERT INTO eod_sample_migrations (name) VALUES ($1)")
            .bind(&name)
            .execute(&pool)
            .await
            .map_err(|e| e.to_string())?;
        println!("applied {name}");
    }
    pool.close().await;
    Ok(())
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
        commit: std::env::var("EOD_ENV_COMMIT").unwrap_or_default(),
        page: std::fs::read_to_string("index.html").ok(),
        pool,
    };
    let app = Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .route("/bytes/{n}", get(bytes))
        .route("/events", get(events))
        .route("/ws", get(echo))
        .route("/headers", get(|headers: HeaderMap| async move { headers_text(&headers) }))
        .with_state(state);
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await.map_err(|e| e.to_string())?;
    // Its output is the environment's log the portal shows.
    println!(
        "sample app {} ({}) listening on 127.0.0.1:{port}",
        state_name(),
        std::env::var("EOD_ENV_TIER").unwrap_or_default()
    );
    // On SIGTERM (a rolling deployment stopping the old version) it stops
    // taking connections and finishes the requests it has: none is cut off.
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    axum::serve(listener, app).with_graceful_shutdown(terminate).await.map_err(|e| e.to_string())
}

/// `n` bytes (at most 4 GiB) streamed in 64 KiB chunks: what a large
/// download through the portal's proxy looks like.
async fn bytes(axum::extract::Path(n): axum::extract::Path<u64>) -> axum::response::Response {
    use futures_util::StreamExt;
    let n = n.min(4 << 30);
    let chunk = axum::body::Bytes::from(vec![b'x'; 64 * 1024]);
    let chunks = n / chunk.len() as u64;
    let rest = axum::body::Bytes::from(vec![b'x'; (n % chunk.len() as u64) as usize]);
    let stream = futures_util::stream::iter((0..chunks).map(move |_| chunk.clone()))
        .chain(futures_util::stream::iter([rest]))
        .map(Ok::<_, std::convert::Infallible>);
    axum::response::Response::builder()
        .header(axum::http::header::CONTENT_LENGTH, n)
        .body(axum::body::Body::from_stream(stream))
        .expect("a response")
}

/// Server-sent events: one at once, then one every 500 ms (a dev server's
/// reload channel).
async fn events(
) -> axum::response::Sse<impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>>
{
    use futures_util::StreamExt;
    let ticks = futures_util::stream::unfold(0u64, |n| async move {
        if n > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        Some((Ok(axum::response::sse::Event::default().data(format!("tick {n}"))), n + 1))
    });
    axum::response::Sse::new(ticks.boxed())
}

/// A WebSocket that echoes every message (live reload's kind of channel).
async fn echo(ws: axum::extract::ws::WebSocketUpgrade) -> axum::response::Response {
    ws.on_upgrade(|mut socket| async move {
        while let Some(Ok(msg)) = socket.recv().await {
            if matches!(msg, axum::extract::ws::Message::Close(_)) || socket.send(msg).await.is_err() {
                break;
            }
        }
    })
}

/// The request headers as the workload received them, one per line.
fn headers_text(headers: &HeaderMap) -> String {
    headers.iter().map(|(k, v)| format!("{k}: {}\n", v.to_str().unwrap_or("?"))).collect()
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
    let Some(page) = &s.page else {
        return Html(format!(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{name}</title></head>\
             <body style=\"font-family:system-ui;max-width:40rem;margin:3rem auto\">\
             <h1>Sample app</h1><p>Environment <strong data-testid=\"env-name\">{name}</strong> \
             on tier <strong data-testid=\"env-tier\">{tier}</strong>.</p>\
             <p>Its database holds <strong data-testid=\"row-count\">{rows}</strong> rows.</p></body></html>",
            name = escape(&name),
            tier = escape(&s.tier),
        ));
    };
    let items: Vec<String> =
        sqlx::query_scalar("SELECT name FROM items ORDER BY id LIMIT 50").fetch_all(&s.pool).await.unwrap_or_default();
    let items = format!(
        "<ul data-testid=\"items\">{}</ul>",
        items.iter().map(|i| format!("<li>{}</li>", escape(i))).collect::<String>()
    );
    Html(
        page.replace("{{env_name}}", &escape(&name))
            .replace("{{tier}}", &escape(&s.tier))
            .replace("{{commit}}", &escape(&s.commit))
            .replace("{{rows}}", &escape(&rows))
            .replace("{{items}}", &items),
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
