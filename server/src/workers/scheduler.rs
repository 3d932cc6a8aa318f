//! Lifecycle timers and pools: every few seconds, environments whose expiry,
//! warning or idle window may have come get a `Tick` (the pure state
//! machine decides what, if anything, happens), and warm pools are topped up.

use app::domain::lifecycle::Event;
use app::ssr::clock::now_ms;
use app::ssr::{environments, pools, store, Db, PortalSettings};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

pub async fn run(db: Db, settings: Arc<PortalSettings>, work: Arc<Notify>, every: Duration) {
    loop {
        if let Err(err) = pass(&db, &settings).await {
            tracing::error!(error = %err, "scheduler pass failed");
        }
        match pools::refill(&db, &settings).await {
            Ok(0) => {}
            Ok(_) => work.notify_one(),
            Err(err) => tracing::error!(error = %err, "pool refill failed"),
        }
        tokio::time::sleep(every).await;
    }
}

/// One pass; returns how many environments were checked.
pub async fn pass(db: &Db, settings: &PortalSettings) -> Result<usize, String> {
    let now = now_ms();
    let tiers = &settings.tiers;
    // Look as far ahead as the longest warning, as far back as the shortest idle window.
    let horizon = now + tiers.longest_warning_ms();
    let idle_before = tiers.shortest_idle_ms().map_or(i64::MIN, |idle| now - idle);
    let due =
        store::environments::due_for_tick(db.pool(), horizon, idle_before, 500).await.map_err(|e| e.to_string())?;
    let mut checked = 0;
    for id in due {
        match environments::system_event(db, tiers, &id, Event::Tick, "environment.timer").await {
            Ok(_) => checked += 1,
            Err(err) => tracing::warn!(env = %id, error = %err, "timer"),
        }
    }
    Ok(checked)
}
