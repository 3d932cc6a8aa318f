//! Work queue for the workers. A job is enqueued in the same transaction as
//! the change that needs it; a worker claims it with a lease (other replicas
//! take it over once the lease lapses) and marks it finished or reschedules
//! it with backoff.

use super::Exec;
use crate::ssr::Engine;

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub environment_id: Option<String>,
    pub payload: String,
    pub run_at: i64,
    pub attempts: i64,
    pub max_attempts: i64,
    pub locked_by: Option<String>,
    pub lease_until: Option<i64>,
    pub last_error: Option<String>,
}

const COLUMNS: &str =
    "id, kind, environment_id, payload, run_at, attempts, max_attempts, locked_by, lease_until, last_error";

pub async fn enqueue<'c>(
    ex: impl Exec<'c>,
    id: &str,
    kind: &str,
    environment_id: Option<&str>,
    run_at: i64,
) -> sqlx::Result<()> {
    enqueue_with(ex, id, kind, environment_id, run_at, serde_json::Map::new()).await
}

/// [`enqueue`] with more in the payload (what a job without an
/// environment works on).
pub async fn enqueue_with<'c>(
    ex: impl Exec<'c>,
    id: &str,
    kind: &str,
    environment_id: Option<&str>,
    run_at: i64,
    mut payload: serde_json::Map<String, serde_json::Value>,
) -> sqlx::Result<()> {
    // The request that caused the job, so the worker logs under its id.
    if let Some(request_id) = crate::ssr::request_id::current() {
        payload.insert("request_id".into(), request_id.into());
    }
    let payload = serde_json::Value::Object(payload).to_string();
    sqlx::query(
        "INSERT INTO jobs (id, kind, environment_id, payload, run_at, attempts, max_attempts, created_at)
         VALUES ($1, $2, $3, $4, $5, 0, 5, $5)",
    )
    .bind(id)
    .bind(kind)
    .bind(environment_id)
    .bind(payload)
    .bind(run_at)
    .execute(ex)
    .await?;
    Ok(())
}

impl Job {
    /// The id of the request that enqueued this job, if one did.
    pub fn request_id(&self) -> Option<String> {
        let payload: serde_json::Value = serde_json::from_str(&self.payload).ok()?;
        payload.get("request_id")?.as_str().map(str::to_string)
    }
}

/// Claims the next runnable job for `worker` until `lease_until`. On
/// PostgreSQL concurrent claimers skip each other's rows (`SKIP LOCKED`);
/// SQLite has a single writer, so the plain sub-select is already exclusive.
pub async fn claim<'c>(
    ex: impl Exec<'c>,
    engine: Engine,
    worker: &str,
    now: i64,
    lease_until: i64,
) -> sqlx::Result<Option<Job>> {
    let lock = match engine {
        Engine::Postgres => "FOR UPDATE SKIP LOCKED",
        Engine::Sqlite => "",
    };
    let sql = format!(
        "UPDATE jobs SET locked_by = $1, lease_until = $2, attempts = attempts + 1
         WHERE id = (SELECT id FROM jobs
                     WHERE finished_at IS NULL AND run_at <= $3 AND (lease_until IS NULL OR lease_until < $3)
                     ORDER BY run_at, id LIMIT 1 {lock})
         RETURNING {COLUMNS}"
    );
    sqlx::query_as(&sql).bind(worker).bind(lease_until).bind(now).fetch_optional(ex).await
}

/// Claims up to `limit` runnable jobs for `worker` at once, at most one per
/// environment, and none of an environment whose job another worker holds:
/// an environment's jobs run one at a time, in order, wherever they run.
pub async fn claim_batch<'c>(
    ex: impl Exec<'c>,
    engine: Engine,
    worker: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> sqlx::Result<Vec<Job>> {
    let lock = match engine {
        Engine::Postgres => "FOR UPDATE SKIP LOCKED",
        Engine::Sqlite => "",
    };
    // The earliest runnable job of each environment (jobs without one are
    // their own group); SKIP LOCKED lets replicas claim side by side.
    let sql = format!(
        "UPDATE jobs SET locked_by = $1, lease_until = $2, attempts = attempts + 1
         WHERE id IN (SELECT j.id FROM jobs j
                      WHERE j.finished_at IS NULL AND j.run_at <= $3 AND (j.lease_until IS NULL OR j.lease_until < $3)
                        AND NOT EXISTS (SELECT 1 FROM jobs k
                                        WHERE k.environment_id = j.environment_id AND k.id <> j.id AND k.finished_at IS NULL
                                          AND ((k.lease_until IS NOT NULL AND k.lease_until >= $3)
                                               OR (k.run_at, k.id) < (j.run_at, j.id)))
                      ORDER BY j.run_at, j.id LIMIT {limit} {lock})
         RETURNING {COLUMNS}"
    );
    sqlx::query_as(&sql).bind(worker).bind(lease_until).bind(now).fetch_all(ex).await
}

/// Extends a held lease (heartbeat); false if another worker took the job.
pub async fn heartbeat<'c>(ex: impl Exec<'c>, id: &str, worker: &str, lease_until: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE jobs SET lease_until = $1 WHERE id = $2 AND locked_by = $3 AND finished_at IS NULL")
        .bind(lease_until)
        .bind(id)
        .bind(worker)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn finish<'c>(ex: impl Exec<'c>, id: &str, worker: &str, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET finished_at = $1, lease_until = NULL WHERE id = $2 AND locked_by = $3 AND finished_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .bind(worker)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives the job back to run again at `run_at`, recording why it failed.
pub async fn retry_later<'c>(ex: impl Exec<'c>, id: &str, worker: &str, run_at: i64, error: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE jobs SET run_at = $1, last_error = $2, lease_until = NULL, locked_by = NULL
         WHERE id = $3 AND locked_by = $4 AND finished_at IS NULL",
    )
    .bind(run_at)
    .bind(error)
    .bind(id)
    .bind(worker)
    .execute(ex)
    .await?;
    Ok(())
}
