//! Drives environments toward their desired state. Requests only write rows
//! and enqueue jobs; this loop claims a job (a lease other replicas respect
//! until it lapses), asks the driver for the idempotent step, and records
//! the outcome through the one write path. Failures retry with backoff and
//! end in `failed` with the driver's reason.

use crate::drivers::{Driver, EnvSpec};
use app::domain::lifecycle::Event;
use app::ssr::clock::now_ms;
use app::ssr::store::{self, audit::AuditEvent, jobs::Job};
use app::ssr::{environments, Db, PortalSettings};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

const LEASE_MS: i64 = 30_000;

pub struct Reconciler {
    pub db: Db,
    pub settings: Arc<PortalSettings>,
    pub driver: Arc<dyn Driver>,
    pub worker_id: String,
    pub work: Arc<Notify>,
}

impl Reconciler {
    pub async fn run(self) {
        let mut last_sweep = 0;
        loop {
            match self.step().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(err) => tracing::error!(error = %err, "reconciler pass failed"),
            }
            if now_ms() - last_sweep > 60_000 {
                last_sweep = now_ms();
                if let Err(err) = self.sweep_orphans().await {
                    tracing::error!(error = %err, "orphan sweep failed");
                }
            }
            tokio::select! {
                _ = self.work.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }

    /// Claims and runs one job; false when none was runnable.
    pub async fn step(&self) -> Result<bool, String> {
        let now = now_ms();
        let pool = self.db.pool();
        let Some(job) = store::jobs::claim(pool, self.db.engine(), &self.worker_id, now, now + LEASE_MS)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(false);
        };
        // Heartbeat while the step runs so a slow provision keeps its lease.
        let beat = {
            let (db, id, worker) = (self.db.clone(), job.id.clone(), self.worker_id.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(LEASE_MS as u64 / 3)).await;
                    if !matches!(store::jobs::heartbeat(db.pool(), &id, &worker, now_ms() + LEASE_MS).await, Ok(true)) {
                        break;
                    }
                }
            })
        };
        let outcome = self.handle(&job).await;
        beat.abort();
        match outcome {
            Ok(()) => {
                store::jobs::finish(pool, &job.id, &self.worker_id, now_ms()).await.map_err(|e| e.to_string())?;
            }
            Err(reason) if job.attempts >= job.max_attempts => {
                tracing::warn!(job = %job.id, kind = %job.kind, %reason, "giving up");
                if let Some(env_id) = &job.environment_id {
                    let _ = environments::system_event(
                        &self.db,
                        &self.settings.tiers,
                        env_id,
                        Event::Failed { reason: reason.clone() },
                        "environment.failed",
                    )
                    .await;
                }
                store::jobs::finish(pool, &job.id, &self.worker_id, now_ms()).await.map_err(|e| e.to_string())?;
            }
            Err(reason) => {
                let backoff = 1_000 * (1_i64 << job.attempts.clamp(0, 6));
                tracing::info!(job = %job.id, kind = %job.kind, %reason, backoff_ms = backoff, "retrying later");
                store::jobs::retry_later(pool, &job.id, &self.worker_id, now_ms() + backoff, &reason)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(true)
    }

    async fn spec(&self, env_id: &str) -> Result<Option<(EnvSpec, String)>, String> {
        let pool = self.db.pool();
        let Some(v) = store::environments::find(pool, env_id).await.map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let app = store::apps::find(pool, &v.env.app_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the environment's app is gone")?;
        let blueprint = environments::blueprint_of(&app).map_err(|e| e.to_string())?;
        let spec = EnvSpec {
            id: v.env.id.clone(),
            name: v.env.name.clone(),
            tier: v.env.tier.clone(),
            template: blueprint.template.clone().unwrap_or_else(|| app.slug.clone()),
            command: blueprint.argv(),
            health_path: blueprint.health_path,
        };
        Ok(Some((spec, v.env.state)))
    }

    async fn handle(&self, job: &Job) -> Result<(), String> {
        let Some(env_id) = &job.environment_id else {
            return Ok(());
        };
        let Some((spec, state)) = self.spec(env_id).await? else {
            return Ok(());
        };
        let fail = |e: app::error::AppError| e.to_string();
        let tiers = &self.settings.tiers;
        match job.kind.as_str() {
            // `ready` too: a crash between the two transitions leaves it there.
            "provision" if state == "pending" || state == "ready" => {
                let detail = self.driver.provision(&spec).await.map_err(|e| e.to_string())?;
                store::resources::mark_created(self.db.pool(), env_id, now_ms(), &detail.to_string())
                    .await
                    .map_err(|e| e.to_string())?;
                if state == "pending" {
                    environments::system_event(&self.db, tiers, env_id, Event::Provisioned, "environment.provisioned")
                        .await
                        .map_err(fail)?;
                }
                environments::system_event(&self.db, tiers, env_id, Event::DeployHealthy, "environment.healthy")
                    .await
                    .map_err(fail)?;
            }
            "snapshot" if state == "expiring" => {
                let path = self.driver.snapshot(&spec).await.map_err(|e| e.to_string())?;
                tracing::info!(env = %spec.name, %path, "snapshot kept");
                environments::system_event(&self.db, tiers, env_id, Event::SnapshotTaken, "environment.snapshot")
                    .await
                    .map_err(fail)?;
            }
            "teardown" if state == "expiring" || state == "failed" => {
                self.driver.teardown(&spec.id).await.map_err(|e| e.to_string())?;
                environments::system_event(&self.db, tiers, env_id, Event::TornDown, "environment.destroyed")
                    .await
                    .map_err(fail)?;
            }
            // The environment moved on (or the job is stale): nothing to do.
            _ => {}
        }
        Ok(())
    }

    /// Removes resources on the host that no live environment owns.
    pub async fn sweep_orphans(&self) -> Result<usize, String> {
        let owned = self.driver.owned().await.map_err(|e| e.to_string())?;
        if owned.is_empty() {
            return Ok(0);
        }
        let live: std::collections::HashSet<String> =
            store::environments::live_ids(self.db.pool()).await.map_err(|e| e.to_string())?.into_iter().collect();
        let mut removed = 0;
        for id in owned.into_iter().filter(|id| !live.contains(id)) {
            self.driver.teardown(&id).await.map_err(|e| e.to_string())?;
            removed += 1;
            let event = AuditEvent::system("resource.orphan_removed", Some(id.clone()), None)
                .with_detail(serde_json::json!({ "environment_id": id }));
            let _ = store::audit::append(self.db.pool(), &event).await;
            tracing::info!(%id, "removed orphaned environment resources");
        }
        Ok(removed)
    }
}
