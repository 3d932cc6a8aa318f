//! Lifecycle timers and pools: every few seconds, environments whose next
//! check has come (expiry, warning or idle window, as the pure lifecycle
//! computed on their last write) get a `Tick`, and warm pools are topped up.

use app::domain::lifecycle::Event;
use app::ssr::clock::now_ms;
use app::ssr::context::RuntimeView;
use app::ssr::context::Sources;
use app::ssr::{approvals, compliance, costs, environments, pools, store, Db, PortalSettings};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How often teams' spend is checked against their budgets' alert levels.
const BUDGET_CHECK_EVERY: Duration = Duration::from_secs(60);
/// How often the compliance checks run.
const COMPLIANCE_EVERY: Duration = Duration::from_secs(60);

pub async fn run(
    db: Db,
    settings: Arc<PortalSettings>,
    sources: Option<Arc<dyn Sources>>,
    runtime: Option<Arc<dyn RuntimeView>>,
    work: Arc<Notify>,
    every: Duration,
) {
    let mut budgets_checked: Option<tokio::time::Instant> = None;
    let mut compliance_checked: Option<tokio::time::Instant> = None;
    loop {
        if let Err(err) = pass(&db, &settings).await {
            tracing::error!(error = %err, "scheduler pass failed");
        }
        // Budget alerts: once a minute is enough for money that accrues by the hour.
        if budgets_checked.is_none_or(|at| at.elapsed() >= BUDGET_CHECK_EVERY) {
            budgets_checked = Some(tokio::time::Instant::now());
            match costs::check_budgets(&db, &settings, now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(alerts = n, "budget alert levels reached"),
                Err(err) => tracing::error!(error = %err, "budget check failed"),
            }
        }
        if compliance_checked.is_none_or(|at| at.elapsed() >= COMPLIANCE_EVERY) {
            compliance_checked = Some(tokio::time::Instant::now());
            match compliance::run(&db, &settings, runtime.as_deref(), now_ms()).await {
                Ok(results) => {
                    let failed: Vec<&str> = results.iter().filter(|r| !r.passed).map(|r| r.id.as_str()).collect();
                    if !failed.is_empty() {
                        tracing::warn!(?failed, "compliance checks failing");
                    }
                }
                Err(err) => tracing::error!(error = %err, "compliance checks failed to run"),
            }
        }
        // Approval SLAs: a request nobody decided gets its tier's outcome.
        match approvals::enforce_sla(&db, &settings, now_ms()).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(requests = n, "approval SLA outcomes applied");
                work.notify_one();
            }
            Err(err) => tracing::error!(error = %err, "approval SLA pass failed"),
        }
        match pools::refill(&db, &settings, sources.as_deref()).await {
            Ok(0) => {}
            Ok(n) => {
                metrics::counter!("eod_pool_refills_total").increment(n as u64);
                work.notify_one()
            }
            Err(err) => tracing::error!(error = %err, "pool refill failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Environments read per query of a pass.
const TICK_BATCH: i64 = 500;
/// Ticks written at once: each is its own short transaction (PostgreSQL
/// runs them side by side; SQLite queues them for its one writer).
const TICKS_AT_ONCE: usize = 8;
/// Batches per pass at most (the next pass goes on).
const MAX_BATCHES: usize = 40;

/// One pass over everything due; returns how many environments were checked.
pub async fn pass(db: &Db, settings: &PortalSettings) -> Result<usize, String> {
    use futures_util::StreamExt;
    let tiers = &settings.tiers;
    let mut checked = 0;
    // Bounded: an environment whose timer stays due cannot keep a pass going.
    for _ in 0..MAX_BATCHES {
        // Each write stores when its timers next matter, so this reads only what is due.
        let due =
            store::environments::due_for_tick(db.pool(), now_ms(), TICK_BATCH).await.map_err(|e| e.to_string())?;
        let full = due.len() as i64 == TICK_BATCH;
        let ticked: Vec<bool> = futures_util::stream::iter(due)
            .map(|id| async move {
                match environments::system_event(db, tiers, &id, Event::Tick, "environment.timer").await {
                    Ok(_) => true,
                    Err(err) => {
                        tracing::warn!(env = %id, error = %err, "timer");
                        false
                    }
                }
            })
            .buffer_unordered(TICKS_AT_ONCE)
            .collect()
            .await;
        let done = ticked.iter().filter(|t| **t).count();
        checked += done;
        // A full batch means more may be due now; a batch that moved nothing
        // (every tick failed) waits for the next pass instead of spinning.
        if !full || done == 0 {
            break;
        }
    }
    Ok(checked)
}
