//! Lifecycle timers and pools: every few seconds, environments whose next
//! check has come (expiry, warning or idle window, as the pure lifecycle
//! computed on their last write) get a `Tick`, and warm pools are topped up.

use app::domain::lifecycle::Event;
use app::ssr::clock::now_ms;
use app::ssr::context::Sources;
use app::ssr::{environments, pools, store, Db, PortalSettings};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub async fn run(
    db: Db,
    settings: Arc<PortalSettings>,
    sources: Option<Arc<dyn Sources>>,
    work: Arc<Notify>,
    every: Duration,
) {
    loop {
        if let Err(err) = pass(&db, &settings).await {
            tracing::error!(error = %err, "scheduler pass failed");
        }
        match pools::refill(&db, &settings, sources.as_deref()).await {
            Ok(0) => {}
            Ok(_) => work.notify_one(),
            Err(err) => tracing::error!(error = %err, "pool refill failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// One pass; returns how many environments were checked.
pub async fn pass(db: &Db, settings: &PortalSettings) -> Result<usize, String> {
    let tiers = &settings.tiers;
    // Each write stores when its timers next matter, so this reads only what is due.
    let due = store::environments::due_for_tick(db.pool(), now_ms(), 500).await.map_err(|e| e.to_string())?;
    let mut checked = 0;
    for id in due {
        match environments::system_event(db, tiers, &id, Event::Tick, "environment.timer").await {
            Ok(_) => checked += 1,
            Err(err) => tracing::warn!(env = %id, error = %err, "timer"),
        }
    }
    Ok(checked)
}
