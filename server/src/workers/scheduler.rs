//! Lifecycle timers: every few seconds, environments whose expiry, warning
//! or idle window may have come get a `Tick`; the pure state machine decides
//! what, if anything, happens.

use app::domain::lifecycle::Event;
use app::domain::time::HOUR_MS;
use app::ssr::clock::now_ms;
use app::ssr::{environments, store, Db};
use std::time::Duration;

/// The longest warning any default tier gives (compliance: 4 h).
const WARN_HORIZON_MS: i64 = 4 * HOUR_MS;
/// The shortest idle window of any default tier (lightweight: 1 h).
const SHORTEST_IDLE_MS: i64 = HOUR_MS;

pub async fn run(db: Db, every: Duration) {
    loop {
        if let Err(err) = pass(&db).await {
            tracing::error!(error = %err, "scheduler pass failed");
        }
        tokio::time::sleep(every).await;
    }
}

/// One pass; returns how many environments were checked.
pub async fn pass(db: &Db) -> Result<usize, String> {
    let now = now_ms();
    let due = store::environments::due_for_tick(db.pool(), now + WARN_HORIZON_MS, now - SHORTEST_IDLE_MS, 500)
        .await
        .map_err(|e| e.to_string())?;
    let mut checked = 0;
    for id in due {
        match environments::system_event(db, &id, Event::Tick, "environment.timer").await {
            Ok(_) => checked += 1,
            Err(err) => tracing::warn!(env = %id, error = %err, "timer"),
        }
    }
    Ok(checked)
}
