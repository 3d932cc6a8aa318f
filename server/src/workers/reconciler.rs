//! Drives environments toward their desired state. Requests only write rows
//! and enqueue jobs; this loop claims a job (a lease other replicas respect
//! until it lapses), asks the driver for the idempotent step, and records
//! the outcome through the one write path. Failures retry with backoff and
//! end in `failed` with the driver's reason.

use crate::drivers::git::Git;
use crate::drivers::kubernetes::KubeSpec;
use crate::drivers::script::ScriptSteps;
use crate::drivers::{Driver, DriverError, EnvSpec, Identity, Secrets, Seed, SourceSpec, TemplateSpec};
use app::domain::blueprint::Blueprint;
use app::domain::health::{Change, Health};
use app::domain::lifecycle::Event;
use app::domain::repository::Wanted;
use app::domain::tier::DeploymentStrategy;
use app::ssr::clock::now_ms;
use app::ssr::store::{self, audit::AuditEvent, jobs::Job};
use app::ssr::{deployments, environments, Db, PortalSettings};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tracing::Instrument;

const LEASE_MS: i64 = 30_000;
/// Jobs one replica runs at once. Builds, process starts and teardowns wait
/// on the system more than on the CPU, so several overlap; bounded by the
/// database connections (16 by default): a job holds one at a time.
const JOBS_AT_ONCE: usize = 16;

/// How a job step went wrong.
enum Step {
    /// Try again later (with backoff), until the job's attempts run out.
    Retry(String),
    /// Retrying cannot help: fail the environment now.
    Permanent(String),
}

impl Step {
    /// Whether the failure ends the job now: permanent, or the last attempt.
    fn ends(&self, job: &Job) -> bool {
        matches!(self, Step::Permanent(_)) || job.attempts >= job.max_attempts
    }

    fn reason(self) -> String {
        match self {
            Step::Retry(r) | Step::Permanent(r) => r,
        }
    }
}

/// A template database's name part: a hash of what it is built from.
fn template_key(what: &str) -> String {
    format!("{:016x}", app::domain::naming::stable_hash(what))
}

/// The webhook delivery a pull-request job works on.
fn delivery_of(job: &Job) -> Option<String> {
    if job.kind != app::ssr::pull_requests::JOB_KIND {
        return None;
    }
    let payload: serde_json::Value = serde_json::from_str(&job.payload).ok()?;
    payload.get("delivery")?.as_str().map(str::to_string)
}

pub struct Reconciler {
    pub db: Db,
    pub settings: Arc<PortalSettings>,
    pub driver: Arc<dyn Driver>,
    pub git: Arc<Git>,
    pub worker_id: String,
    pub work: Arc<Notify>,
    /// For work that goes through the services as a person would (webhooks).
    pub state: app::ssr::AppState,
}

impl Reconciler {
    /// Runs jobs until the process ends: up to `JOBS_AT_ONCE` at a time,
    /// claimed in batches (one query for many), a free slot refilled as soon
    /// as a job ends.
    pub async fn run(self) {
        let me = Arc::new(self);
        let mut running = tokio::task::JoinSet::new();
        let mut last_sweep = 0;
        let mut last_housekeeping = 0;
        loop {
            let free = JOBS_AT_ONCE.saturating_sub(running.len());
            if free > 0 {
                match me.claim(free as i64).await {
                    Ok(jobs) => {
                        for job in jobs {
                            let me = me.clone();
                            running.spawn(async move { me.run_job(job).await });
                        }
                    }
                    Err(err) => tracing::error!(error = %err, "claiming jobs failed"),
                }
            }
            if now_ms() - last_housekeeping > 500 {
                last_housekeeping = now_ms();
                if let Err(err) = me.retire_closed_windows().await {
                    tracing::error!(error = %err, "retiring kept colours failed");
                }
            }
            if now_ms() - last_sweep > 60_000 {
                last_sweep = now_ms();
                if let Err(err) = me.sweep_orphans().await {
                    tracing::error!(error = %err, "orphan sweep failed");
                }
            }
            tokio::select! {
                // A job ended: its slot is free.
                Some(ended) = running.join_next(), if !running.is_empty() => {
                    if let Ok(Err(err)) = ended {
                        tracing::error!(error = %err, "reconciler job failed");
                    }
                }
                _ = me.work.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }

    async fn claim(&self, limit: i64) -> Result<Vec<Job>, String> {
        let now = now_ms();
        store::jobs::claim_batch(self.db.pool(), self.db.engine(), &self.worker_id, now, now + LEASE_MS, limit)
            .await
            .map_err(|e| e.to_string())
    }

    async fn run_job(&self, job: Job) -> Result<bool, String> {
        // Logged under the id of the request that enqueued it, if any.
        let span = tracing::info_span!("job", job = %job.id, kind = %job.kind, request_id = %job.request_id().unwrap_or_default());
        self.run_claimed(job).instrument(span).await
    }

    /// Runs a claimed job to its outcome: finished, given up, or retried later.
    async fn run_claimed(&self, job: Job) -> Result<bool, String> {
        let pool = self.db.pool();
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
        let started = now_ms();
        let outcome = self.handle(&job).await;
        beat.abort();
        match outcome {
            Ok(()) => {
                store::jobs::finish(pool, &job.id, &self.worker_id, now_ms()).await.map_err(|e| e.to_string())?;
                tracing::info!(
                    env = job.environment_id.as_deref().unwrap_or(""),
                    ms = now_ms() - started,
                    "job finished"
                );
            }
            Err(step) if step.ends(&job) => {
                let reason = step.reason();
                tracing::warn!(job = %job.id, kind = %job.kind, %reason, "giving up");
                if let Some(env_id) = &job.environment_id {
                    // A stale job (the environment moved on) has nothing to fail.
                    if let Err(err) = environments::system_event(
                        &self.db,
                        &self.settings.tiers,
                        env_id,
                        Event::Failed { reason: reason.clone() },
                        "environment.failed",
                    )
                    .await
                    {
                        tracing::warn!(env = %env_id, error = %err, "recording a failure");
                    }
                } else if let Some(delivery) = delivery_of(&job) {
                    if let Err(err) = app::ssr::pull_requests::gave_up(&self.state, &delivery, &reason).await {
                        tracing::warn!(%delivery, error = %err, "recording a delivery's failure");
                    }
                }
                store::jobs::finish(pool, &job.id, &self.worker_id, now_ms()).await.map_err(|e| e.to_string())?;
            }
            Err(step) => {
                let reason = step.reason();
                let backoff = 1_000 * (1_i64 << job.attempts.clamp(0, 6));
                tracing::info!(job = %job.id, kind = %job.kind, %reason, backoff_ms = backoff, "retrying later");
                store::jobs::retry_later(pool, &job.id, &self.worker_id, now_ms() + backoff, &reason)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(true)
    }

    /// A webhook delivery's work: converge its pull request's preview.
    async fn pull_request(&self, job: &Job) -> Result<(), Step> {
        let Some(delivery) = delivery_of(job) else {
            return Err(Step::Permanent("the job names no delivery".into()));
        };
        let payload: serde_json::Value = serde_json::from_str(&job.payload).unwrap_or_default();
        let waits = payload.get("waits").and_then(|w| w.as_i64()).unwrap_or(0);
        app::ssr::pull_requests::process(&self.state, &delivery, waits).await.map_err(|e| Step::Retry(e.to_string()))
    }

    async fn spec(&self, env_id: &str) -> Result<Option<(EnvSpec, String, store::apps::App)>, String> {
        let pool = self.db.pool();
        let Some(v) = store::environments::find(pool, env_id).await.map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let app = store::apps::find(pool, &v.env.app_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the environment's app is gone")?;
        let blueprint = environments::blueprint_of(&app).map_err(|e| e.to_string())?;
        let source = match (&app.repo_url, &v.env.commit_sha) {
            (Some(_), Some(sha)) if app::domain::repository::is_commit_sha(sha) => {
                Some(SourceSpec { app_id: app.id.clone(), commit: sha.clone() })
            }
            _ => None,
        };
        let kube = match blueprint.driver.as_str() {
            "kubernetes" => Some(self.kube_spec(&v.env, &blueprint).await?),
            _ => None,
        };
        let spec = EnvSpec {
            kube,
            id: v.env.id.clone(),
            name: v.env.name.clone(),
            tier: v.env.tier.clone(),
            source,
            build: blueprint.build.clone(),
            build_timeout: Duration::from_secs(u64::from(blueprint.build_timeout_seconds)),
            start: blueprint.start.clone(),
            health_path: blueprint.health_path.clone(),
            template: TemplateSpec { key: "empty".into(), seed: Seed::Empty },
            migrate: blueprint.database.migrate.clone(),
            env: blueprint.env.clone(),
            secrets: Secrets::default(),
            limits: match v.env.tier.parse::<app::domain::tier::Tier>() {
                Ok(tier) => self.settings.tiers.get(tier).limits,
                Err(_) => app::domain::tier::WorkloadLimits::DEFAULT,
            },
            script: (blueprint.driver == "script").then(|| ScriptSteps {
                create: blueprint.create.clone().unwrap_or_default(),
                status: blueprint.status.clone().unwrap_or_default(),
                destroy: blueprint.destroy.clone().unwrap_or_default(),
                snapshot: blueprint.snapshot.clone(),
                timeout_secs: u64::from(blueprint.step_timeout_seconds()),
            }),
            identity: Identity {
                team: store::teams::find(pool, &app.team_id)
                    .await
                    .map_err(|e| e.to_string())?
                    .map(|t| t.slug)
                    .unwrap_or_default(),
                app: app.slug.clone(),
                git_ref: v.env.git_ref.clone(),
                commit: v.env.commit_sha.clone(),
                pr: v.env.pr_number,
            },
        };
        Ok(Some((spec, v.env.state, app)))
    }

    /// A kubernetes blueprint's image, port and requests, with the tier's
    /// strategy and readiness probe and the owner the namespace is labelled with.
    async fn kube_spec(
        &self,
        env: &store::environments::Environment,
        blueprint: &Blueprint,
    ) -> Result<KubeSpec, String> {
        use app::domain::tier::{ReadinessProbe, Tier};
        let policy = env.tier.parse::<Tier>().ok().map(|t| *self.settings.tiers.get(t));
        let owner = match &env.owner_id {
            Some(id) => store::users::find_by_id(self.db.pool(), id)
                .await
                .map_err(|e| e.to_string())?
                .map(|u| u.login)
                .unwrap_or_default(),
            None => "pool".into(),
        };
        let probe = policy.map_or(ReadinessProbe { interval_ms: 30_000, failure_threshold: 3 }, |p| p.probe);
        let requests = blueprint.requests.clone().unwrap_or_default();
        Ok(KubeSpec {
            image: blueprint.image.clone().unwrap_or_default(),
            port: blueprint.port.unwrap_or(8080),
            cpu: requests.cpu,
            memory: requests.memory,
            strategy: policy.map_or(DeploymentStrategy::Recreate, |p| p.strategy),
            probe_period_seconds: i32::try_from(probe.interval_ms / 1000).unwrap_or(30).max(1),
            failure_threshold: i32::try_from(probe.failure_threshold).unwrap_or(3).max(1),
            compliance: env.tier == Tier::PreviewCompliance.as_str(),
            owner,
            created_at_ms: env.created_at,
            expires_at_ms: env.expires_at,
        })
    }

    /// What provisioning needs beyond the basics: the opened secrets and
    /// the template database, keyed by what it is built from (the seed
    /// file's content on the default branch, or the seed command and that
    /// branch's commit) and the app's template generation, so a changed
    /// seed or "Rebuild template" makes a new one.
    async fn complete_for_provision(&self, spec: &mut EnvSpec, app: &store::apps::App) -> Result<(), Step> {
        let permanent = |m: String| Step::Permanent(m);
        self.open_secrets(spec, app).await?;
        let blueprint = Blueprint::parse(&app.blueprint).map_err(|e| permanent(e.to_string()))?;
        let db = &blueprint.database;
        let Some(repo) = app.repo_url.as_deref().filter(|_| db.seed_file.is_some() || db.seed.is_some()) else {
            return Ok(());
        };
        let branch = Wanted::Branch(app.default_branch.clone());
        // The environment's creation (or the pool refill) fetched just now.
        let commit = self.git.recent_commit(&app.id, repo, &branch).await.map_err(|e| match e {
            app::ssr::context::SourceError::UnknownRef => {
                permanent(format!("the default branch {:?} is gone; the template cannot be built", app.default_branch))
            }
            other => Step::Retry(other.to_string()),
        })?;
        let generation = app.template_generation;
        spec.template = if let Some(path) = &db.seed_file {
            let missing =
                || permanent(format!("database.seed_file: {path} is not on the default branch {}", app.default_branch));
            let blob = self.git.blob_id(&app.id, &commit, path).await.ok_or_else(missing)?;
            let sql = self.git.show(&app.id, &commit, path).await.ok_or_else(missing)?;
            let sql = String::from_utf8(sql)
                .map_err(|_| permanent(format!("database.seed_file: {path} is not UTF-8 text")))?;
            TemplateSpec { key: template_key(&format!("{}/{generation}/file/{blob}", app.id)), seed: Seed::Sql(sql) }
        } else {
            let command = db.seed.clone().unwrap_or_default();
            TemplateSpec {
                key: template_key(&format!("{}/{generation}/command/{command}/{commit}", app.id)),
                seed: Seed::Command { app_id: app.id.clone(), commit, command },
            }
        };
        Ok(())
    }

    /// The app's secrets, opened for the environment's steps — none for a
    /// fork's pull request (someone else's code).
    async fn open_secrets(&self, spec: &mut EnvSpec, app: &store::apps::App) -> Result<(), Step> {
        let from_fork = store::webhooks::env_is_from_fork(self.db.pool(), &spec.id)
            .await
            .map_err(|e| Step::Retry(e.to_string()))?;
        if !from_fork {
            spec.secrets =
                Secrets(self.settings.secret_key.open_all(&app.secrets).map_err(|e| Step::Permanent(e.to_string()))?);
        }
        Ok(())
    }

    async fn handle(&self, job: &Job) -> Result<(), Step> {
        if job.kind == app::ssr::pull_requests::JOB_KIND {
            return self.pull_request(job).await;
        }
        let Some(env_id) = &job.environment_id else {
            return Ok(());
        };
        let Some((mut spec, state, app)) = self.spec(env_id).await.map_err(Step::Retry)? else {
            return Ok(());
        };
        let fail = |e: app::error::AppError| Step::Retry(e.to_string());
        let driver_err = |e: DriverError| match e {
            DriverError::Permanent(m) => Step::Permanent(m),
            other => Step::Retry(other.to_string()),
        };
        let tiers = &self.settings.tiers;
        match job.kind.as_str() {
            // `ready` too: a crash between the two transitions leaves it there.
            "provision" if state == "pending" || state == "ready" => {
                self.complete_for_provision(&mut spec, &app).await?;
                let detail = self.driver.provision(&spec).await.map_err(driver_err)?;
                self.mark_created(&spec, &detail).await.map_err(|e| Step::Retry(e.to_string()))?;
                if state == "pending" {
                    environments::system_event(&self.db, tiers, env_id, Event::Provisioned, "environment.provisioned")
                        .await
                        .map_err(fail)?;
                }
                environments::system_event(&self.db, tiers, env_id, Event::DeployHealthy, "environment.healthy")
                    .await
                    .map_err(fail)?;
            }
            // The health monitor found it unhealthy: start it again (the
            // driver keeps a process that serves again by now). Running out
            // of attempts fails the environment with the reason, like any job.
            "restart" if matches!(state.as_str(), "active" | "idle" | "expiring") => {
                self.complete_for_provision(&mut spec, &app).await?;
                let detail = self.driver.provision(&spec).await.map_err(driver_err)?;
                store::resources::record_detail(self.db.pool(), env_id, &detail.to_string())
                    .await
                    .map_err(|e| Step::Retry(e.to_string()))?;
                let back = Change { to: Health::Healthy, reason: "restarted".into() };
                environments::record_health(&self.db, env_id, &back).await.map_err(fail)?;
            }
            // A deployment ends as a record (succeeded or failed); it never
            // fails the environment, whatever the driver says.
            "deploy" => {
                let Some(d) = deployments::start(&self.db, env_id).await.map_err(fail)? else {
                    return Ok(());
                };
                let last = job.attempts >= job.max_attempts;
                let outcome = self.deploy(&mut spec, &app, &d, job.attempts > 1).await;
                match outcome {
                    Ok(detail) => {
                        store::resources::record_detail(self.db.pool(), env_id, &detail.to_string())
                            .await
                            .map_err(|e| Step::Retry(e.to_string()))?;
                        let kept = detail["kept"].as_bool().unwrap_or(false);
                        deployments::finish(&self.db, &d, Ok(kept)).await.map_err(fail)?;
                    }
                    Err(Step::Retry(reason)) if !last => return Err(Step::Retry(reason)),
                    Err(step) => {
                        deployments::finish(&self.db, &d, Err(step.reason())).await.map_err(fail)?;
                        // A failed recreate left nothing running: say so now and
                        // restart the last good commit (not at the next probe).
                        if d.strategy == DeploymentStrategy::Recreate.as_str() {
                            let down = Change {
                                to: Health::Unhealthy,
                                reason: "its deployment failed and nothing runs".into(),
                            };
                            environments::record_health(&self.db, env_id, &down).await.map_err(fail)?;
                        }
                    }
                }
            }
            "rollback" => match self.driver.roll_back(env_id).await {
                Ok(detail) => {
                    store::resources::record_detail(self.db.pool(), env_id, &detail.to_string())
                        .await
                        .map_err(|e| Step::Retry(e.to_string()))?;
                    deployments::rolled_back(&self.db, env_id).await.map_err(fail)?;
                }
                Err(DriverError::Permanent(reason)) => {
                    deployments::rollback_impossible(&self.db, env_id, &reason).await.map_err(fail)?;
                }
                Err(other) => return Err(Step::Retry(other.to_string())),
            },
            "snapshot" if state == "expiring" => {
                let path = self.driver.snapshot(&spec).await.map_err(driver_err)?;
                tracing::info!(env = %spec.name, %path, "snapshot kept");
                environments::system_event(&self.db, tiers, env_id, Event::SnapshotTaken, "environment.snapshot")
                    .await
                    .map_err(fail)?;
            }
            "teardown" if state == "expiring" || state == "failed" => {
                self.open_secrets(&mut spec, &app).await?;
                self.driver.destroy(&spec).await.map_err(driver_err)?;
                environments::system_event(&self.db, tiers, env_id, Event::TornDown, "environment.destroyed")
                    .await
                    .map_err(fail)?;
            }
            // The environment moved on (or the job is stale): nothing to do.
            _ => {}
        }
        Ok(())
    }

    /// Marks the planned resources made, with the driver's facts. A driver
    /// that reports what it made and at what rate (a script's `resources`)
    /// replaces the blueprint's plan, in the same transaction.
    async fn mark_created(&self, spec: &EnvSpec, detail: &serde_json::Value) -> sqlx::Result<()> {
        let reported: Option<Vec<(String, i64)>> = detail.get("resources").and_then(|r| r.as_array()).map(|list| {
            list.iter()
                .filter_map(|r| Some((r["kind"].as_str()?.to_string(), r["hourly_rate_micros"].as_i64()?)))
                .collect()
        });
        let mut tx = self.db.pool().begin().await?;
        if let Some(reported) = reported.filter(|r| !r.is_empty()) {
            let driver = detail["driver"].as_str().unwrap_or("script");
            store::resources::replace_planned(&mut tx, &spec.id, &spec.name, driver, &reported).await?;
        }
        store::resources::mark_created(&mut *tx, &spec.id, now_ms(), &detail.to_string()).await?;
        tx.commit().await
    }

    /// Carries out a deployment: the commit's spec, then the driver by the
    /// deployment's strategy.
    async fn deploy(
        &self,
        spec: &mut EnvSpec,
        app: &store::apps::App,
        d: &store::deployments::Deployment,
        resume: bool,
    ) -> Result<serde_json::Value, Step> {
        spec.source = Some(SourceSpec { app_id: app.id.clone(), commit: d.commit_sha.clone() });
        self.complete_for_provision(spec, app).await?;
        let strategy: DeploymentStrategy =
            d.strategy.parse().map_err(|e: String| Step::Permanent(format!("the deployment's strategy: {e}")))?;
        self.driver.deploy(spec, strategy, resume).await.map_err(|e| match e {
            DriverError::Permanent(m) => Step::Permanent(m),
            other => Step::Retry(other.to_string()),
        })
    }

    /// Stops the kept colour of blue-green deployments whose window closed.
    pub async fn retire_closed_windows(&self) -> Result<usize, String> {
        let closed = store::deployments::windows_closed(self.db.pool(), now_ms()).await.map_err(|e| e.to_string())?;
        for d in &closed {
            self.driver.retire(&d.environment_id).await.map_err(|e| e.to_string())?;
            deployments::window_closed(&self.db, d).await.map_err(|e| e.to_string())?;
        }
        Ok(closed.len())
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
            // One that cannot be removed now does not stop the others.
            if let Err(err) = self.driver.teardown(&id).await {
                tracing::warn!(%id, error = %err, "removing orphaned resources; retried at the next sweep");
                continue;
            }
            removed += 1;
            let event = AuditEvent::system("resource.orphan_removed", Some(id.clone()), None)
                .with_detail(serde_json::json!({ "environment_id": id }));
            let _ = store::audit::append(self.db.pool(), &event).await;
            tracing::info!(%id, "removed orphaned environment resources");
        }
        Ok(removed)
    }
}
