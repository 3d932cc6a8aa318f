//! `/metrics`: Prometheus text format. Counters and histograms are recorded
//! where things happen (the `metrics` facade); what the database knows —
//! environments by state and tier, pools, the job queue, the reaper's lag —
//! is read when scraped, so every replica reports the shared truth and a
//! scrape costs a few aggregate queries.
//!
//! Served on the portal's address to a bearer token (`EOD_METRICS_TOKEN`),
//! on an address of its own (`EOD_METRICS_LISTEN`), or not at all.

use app::domain::lifecycle::EnvState;
use app::domain::tier::Tier;
use app::ssr::clock::now_ms;
use app::ssr::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Latency buckets (seconds): page renders are milliseconds, creates tens of ms.
const HTTP_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Click-to-ready buckets (seconds): a pool hand-over is instant, a cold start seconds to minutes.
const READY_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];

/// The process-wide recorder, installed once (tests start many portals in one process).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full("eod_http_request_duration_seconds".into()), HTTP_BUCKETS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full("eod_click_to_ready_seconds".into()), READY_BUCKETS))
            .expect("bucket lists are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics shows only what the database knows");
        }
        metrics::describe_counter!("eod_http_requests_total", "HTTP requests by method, route template and status.");
        metrics::describe_histogram!(
            "eod_http_request_duration_seconds",
            metrics::Unit::Seconds,
            "HTTP request latency by method and route template."
        );
        metrics::describe_histogram!(
            "eod_click_to_ready_seconds",
            metrics::Unit::Seconds,
            "From the request to a running environment, by path (pool or cold); measured, demo history excluded."
        );
        metrics::describe_counter!("eod_pool_claims_total", "Environments handed over from a warm pool, by tier.");
        metrics::describe_counter!("eod_pool_refills_total", "Warm-pool members started to refill pools.");
        metrics::describe_counter!(
            "eod_notification_deliveries_total",
            "Slack, webhook and e-mail delivery attempts by channel and outcome."
        );
        metrics::gauge!("eod_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        handle
    })
}

/// `/metrics` on the portal's own router, for `Authorization: Bearer <token>`.
pub fn router(token: String) -> Router<AppState> {
    Router::new().route(
        "/metrics",
        get(move |State(state): State<AppState>, headers: HeaderMap| {
            let token = token.clone();
            async move {
                let presented = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.split_once(' '))
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                    .map_or("", |(_, token)| token);
                let ok: bool = subtle::ConstantTimeEq::ct_eq(presented.trim().as_bytes(), token.as_bytes()).into();
                if !ok {
                    let mut res = (StatusCode::UNAUTHORIZED, "the metrics token is missing or wrong\n").into_response();
                    res.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
                    return res;
                }
                scrape(&state).await
            }
        }),
    )
}

/// A router serving only `/metrics`, for a separate (private) address.
pub fn standalone(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(|State(state): State<AppState>| async move { scrape(&state).await }))
        .with_state(state)
}

async fn scrape(state: &AppState) -> Response {
    if let Err(err) = record_database_gauges(state).await {
        tracing::warn!(error = %err, "reading metrics from the database");
        return (StatusCode::SERVICE_UNAVAILABLE, "the database did not answer\n").into_response();
    }
    let handle = handle();
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()).into_response()
}

async fn record_database_gauges(state: &AppState) -> sqlx::Result<()> {
    let pool = state.db.pool();
    let now = now_ms();
    // Environments by state and tier; every pair is written, zero included,
    // so a series that empties drops to 0 instead of keeping its last value.
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT state, tier, COUNT(*) FROM environments WHERE pooled = 0 AND state <> 'destroyed' GROUP BY state, tier",
    )
    .fetch_all(pool)
    .await?;
    for s in EnvState::ALL.iter().filter(|s| s.is_live()) {
        for t in Tier::ALL {
            let n = rows.iter().find(|(rs, rt, _)| rs == s.as_str() && rt == t.as_str()).map_or(0, |r| r.2);
            metrics::gauge!("eod_environments", "state" => s.as_str(), "tier" => t.as_str()).set(n as f64);
        }
    }
    // Warm pools: members by app, tier and whether they are ready, and the size asked for.
    let members: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT a.slug, e.tier, e.state, COUNT(*) FROM environments e JOIN apps a ON a.id = e.app_id
         WHERE e.pooled = 1 AND e.state <> 'destroyed' GROUP BY a.slug, e.tier, e.state",
    )
    .fetch_all(pool)
    .await?;
    for spec in &state.settings.pools {
        let labels = [("app", spec.app.clone()), ("tier", spec.tier.as_str().to_string())];
        metrics::gauge!("eod_pool_target", &labels).set(spec.size as f64);
        let of = |ready: bool| {
            members
                .iter()
                .filter(|(app, tier, st, _)| {
                    app == &spec.app && tier == spec.tier.as_str() && (st == "ready" || st == "active") == ready
                })
                .map(|m| m.3)
                .sum::<i64>()
        };
        metrics::gauge!("eod_pool_members", &[labels[0].clone(), labels[1].clone(), ("ready", "true".into())])
            .set(of(true) as f64);
        metrics::gauge!("eod_pool_members", &[labels[0].clone(), labels[1].clone(), ("ready", "false".into())])
            .set(of(false) as f64);
    }
    // The job queue: runnable jobs by kind and how long the oldest has waited.
    let jobs: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT kind, COUNT(*), MIN(run_at) FROM jobs WHERE finished_at IS NULL AND run_at <= $1 GROUP BY kind",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    for kind in ["provision", "restart", "deploy", "rollback", "snapshot", "teardown"] {
        let (n, oldest) = jobs.iter().find(|j| j.0 == kind).map_or((0, now), |j| (j.1, j.2));
        metrics::gauge!("eod_jobs_queued", "kind" => kind).set(n as f64);
        metrics::gauge!("eod_jobs_oldest_age_seconds", "kind" => kind).set((now - oldest).max(0) as f64 / 1000.0);
    }
    // The reaper's lag: how long the most overdue live environment has been past its expiry.
    let oldest_due: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(expires_at) FROM environments
         WHERE pooled = 0 AND state IN ('ready', 'active', 'idle', 'expiring') AND expires_at <= $1",
    )
    .bind(now)
    .fetch_one(pool)
    .await?;
    metrics::gauge!("eod_reaper_lag_seconds").set(oldest_due.map_or(0.0, |t| (now - t).max(0) as f64 / 1000.0));
    Ok(())
}
