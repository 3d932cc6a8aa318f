//! The health monitor: probes every running environment on its tier's
//! interval (`probe_interval_seconds`), folds the results with the tier's
//! `probe_failure_threshold` (`domain::health::observe`) and records each
//! change through `environments::record_health`, which queues the restart
//! of an unhealthy one. It also compares the commit that serves with the one
//! recorded (desired vs observed) and restarts at the recorded one on a
//! drift (a crash between a switch and its record). Probe streaks live in memory: a restarted portal
//! starts counting again, which only delays a verdict by a few probes.

use crate::drivers::Driver;
use app::domain::blueprint::Blueprint;
use app::domain::health::{observe, Health, Probe, Streak};
use app::domain::repository::is_commit_sha;
use app::domain::tier::Tier;
use app::ssr::clock::now_ms;
use app::ssr::{environments, store, Db, PortalSettings};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Probes in flight at once: loopback requests with a 2 s timeout, so a
/// few hung environments cannot hold back everyone else's probe.
const PARALLEL_PROBES: usize = 32;

pub struct HealthMonitor {
    pub db: Db,
    pub settings: Arc<PortalSettings>,
    pub driver: Arc<dyn Driver>,
    /// Per environment: the failures in a row and when it is next due.
    memory: HashMap<String, (Streak, i64)>,
}

impl HealthMonitor {
    pub fn new(db: Db, settings: Arc<PortalSettings>, driver: Arc<dyn Driver>) -> HealthMonitor {
        HealthMonitor { db, settings, driver, memory: HashMap::new() }
    }

    pub async fn run(mut self, every: Duration) {
        loop {
            if let Err(err) = self.pass().await {
                tracing::error!(error = %err, "health pass failed");
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Probes the environments that are due; returns how many changed health.
    pub async fn pass(&mut self) -> Result<usize, String> {
        let pool = self.db.pool();
        let rows = store::environments::to_probe(pool).await.map_err(|e| e.to_string())?;
        let paths: HashMap<String, String> = store::apps::list(pool)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter_map(|a| Blueprint::parse(&a.blueprint).ok().map(|b| (a.id, b.health_path)))
            .collect();
        let now = now_ms();
        let mut due = Vec::new();
        for row in &rows {
            let (Ok(tier), Ok(health)) = (row.tier.parse::<Tier>(), row.health.parse::<Health>()) else { continue };
            let Some(path) = paths.get(&row.app_id) else { continue };
            let probe = self.settings.tiers.get(tier).probe;
            let entry = self.memory.entry(row.id.clone()).or_insert((Streak::default(), now));
            if entry.1 <= now {
                entry.1 = now + probe.interval_ms;
                due.push((row.id.clone(), health, probe, path.clone(), row.commit_sha.clone()));
            }
        }
        // Forget what no longer runs.
        let running: std::collections::HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        self.memory.retain(|id, _| running.contains(id.as_str()));

        let driver = &self.driver;
        let probed: Vec<_> = futures_util::stream::iter(due)
            .map(|(id, health, policy, path, recorded)| async move {
                let probe = driver.probe(&id, &path).await;
                // Desired vs observed: the commit that serves against the one recorded.
                let drift = match (&probe, recorded) {
                    (Probe::Passed, Some(want)) if is_commit_sha(&want) => {
                        driver.serving_commit(&id).await.filter(|found| *found != want)
                    }
                    _ => None,
                };
                (id, health, policy, probe, drift)
            })
            .buffer_unordered(PARALLEL_PROBES)
            .collect()
            .await;
        let mut changed = 0;
        for (id, health, policy, probe, drift) in probed {
            if let Some(found) = drift {
                match environments::correct_drift(&self.db, &id, &found).await {
                    Ok(true) => changed += 1,
                    Ok(false) => {}
                    Err(err) => tracing::warn!(env = %id, error = %err, "correcting a drift"),
                }
            }
            let Some(entry) = self.memory.get_mut(&id) else { continue };
            let (streak, change) = observe(health, entry.0, &probe, &policy);
            entry.0 = streak;
            if let Some(change) = change {
                tracing::info!(env = %id, to = %change.to, reason = %change.reason, "health changed");
                match environments::record_health(&self.db, &id, &change).await {
                    Ok(true) => changed += 1,
                    Ok(false) => {}
                    Err(err) => tracing::warn!(env = %id, error = %err, "recording a health change"),
                }
            }
        }
        Ok(changed)
    }
}
