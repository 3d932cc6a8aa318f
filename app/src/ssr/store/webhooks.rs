//! Pull-request webhook deliveries (the log) and each pull request's
//! latest facts.

use super::Exec;

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Delivery {
    pub id: String,
    pub provider: String,
    /// The provider's id of the delivery (`X-GitHub-Delivery`, GitLab's
    /// `Idempotency-Key` or event UUID), as sent.
    pub delivery_id: Option<String>,
    /// `delivery_id` on the first good delivery, `None` on the others.
    pub dedup_key: Option<String>,
    pub event: Option<String>,
    pub action: Option<String>,
    pub repository: Option<String>,
    pub pr_number: Option<i64>,
    /// valid | invalid | missing | not-configured
    pub signature: String,
    /// The HTTP status answered.
    pub status: i64,
    /// What came of it, in words (updated when its job has run).
    pub outcome: String,
    pub app_id: Option<String>,
    pub environment_id: Option<String>,
    /// Kept only when the signature held (for Re-run).
    pub body: Option<String>,
    pub received_at: i64,
    pub processed_at: Option<i64>,
}

const COLUMNS: &str = "id, provider, delivery_id, dedup_key, event, action, repository, pr_number, signature, status, \
     outcome, app_id, environment_id, body, received_at, processed_at";

/// Logs a delivery. With a `dedup_key` another delivery already holds,
/// fails with a unique violation (a redelivery).
pub async fn insert<'c>(ex: impl Exec<'c>, d: &Delivery) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO webhook_deliveries ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
    ))
    .bind(&d.id)
    .bind(&d.provider)
    .bind(&d.delivery_id)
    .bind(&d.dedup_key)
    .bind(&d.event)
    .bind(&d.action)
    .bind(&d.repository)
    .bind(d.pr_number)
    .bind(&d.signature)
    .bind(d.status)
    .bind(&d.outcome)
    .bind(&d.app_id)
    .bind(&d.environment_id)
    .bind(&d.body)
    .bind(d.received_at)
    .bind(d.processed_at)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn find<'c>(ex: impl Exec<'c>, id: &str) -> sqlx::Result<Option<Delivery>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM webhook_deliveries WHERE id = $1")).bind(id).fetch_optional(ex).await
}

/// Records what processing the delivery came to.
pub async fn processed<'c>(
    ex: impl Exec<'c>,
    id: &str,
    outcome: &str,
    (app_id, environment_id): (Option<&str>, Option<&str>),
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET outcome = $1, app_id = COALESCE($2, app_id),
             environment_id = COALESCE($3, environment_id), processed_at = $4 WHERE id = $5",
    )
    .bind(outcome)
    .bind(app_id)
    .bind(environment_id)
    .bind(now)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(())
}

/// A delivery with the names of what it touched, for the Deliveries page.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Listed {
    #[sqlx(flatten)]
    pub delivery: Delivery,
    pub app_slug: Option<String>,
    pub app_team_id: Option<String>,
    pub environment_name: Option<String>,
}

/// The newest deliveries first; only those of `team_ids`' apps when given
/// (a manager's; deliveries no app took are for platform admins).
pub async fn list<'c>(ex: impl Exec<'c>, team_ids: Option<&[String]>, limit: i64) -> sqlx::Result<Vec<Listed>> {
    let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("d.{c}")).collect();
    let select = format!(
        "SELECT {}, a.slug AS app_slug, a.team_id AS app_team_id, e.name AS environment_name
         FROM webhook_deliveries d LEFT JOIN apps a ON a.id = d.app_id LEFT JOIN environments e ON e.id = d.environment_id",
        columns.join(", ")
    );
    in_teams(ex, &select, "ORDER BY d.received_at DESC, d.id DESC LIMIT $1", team_ids, limit).await
}

/// `select`'s newest `limit` rows (its apps aliased `a`), of `team_ids`'
/// apps only when given.
async fn in_teams<'c, T>(
    ex: impl Exec<'c>,
    select: &str,
    order: &str,
    team_ids: Option<&[String]>,
    limit: i64,
) -> sqlx::Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let sql = match team_ids {
        None => format!("{select} {order}"),
        Some([]) => return Ok(vec![]),
        Some(ids) => {
            let marks: Vec<String> = (2..ids.len() + 2).map(|i| format!("${i}")).collect();
            format!("{select} WHERE a.team_id IN ({}) {order}", marks.join(", "))
        }
    };
    let mut q = sqlx::query_as(&sql).bind(limit);
    for id in team_ids.unwrap_or_default() {
        q = q.bind(id);
    }
    q.fetch_all(ex).await
}

/// A pull request's stored facts (JSON of `domain::pull_request::PullRequest`).
pub async fn pull_request<'c>(ex: impl Exec<'c>, app_id: &str, number: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT facts FROM pull_requests WHERE app_id = $1 AND number = $2")
        .bind(app_id)
        .bind(number)
        .fetch_optional(ex)
        .await
}

/// A pull request's provider and stored facts.
pub async fn pull_request_with_provider<'c>(
    ex: impl Exec<'c>,
    app_id: &str,
    number: i64,
) -> sqlx::Result<Option<(String, String)>> {
    sqlx::query_as("SELECT provider, facts FROM pull_requests WHERE app_id = $1 AND number = $2")
        .bind(app_id)
        .bind(number)
        .fetch_optional(ex)
        .await
}

/// Stores a pull request's facts (the caller decided they supersede).
pub async fn save_pull_request<'c>(
    ex: impl Exec<'c>,
    (app_id, number): (&str, i64),
    provider: &str,
    facts: &str,
    (fork, updated_at, url): (bool, i64, Option<&str>),
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO pull_requests (app_id, number, provider, facts, fork, updated_at, url) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (app_id, number) DO UPDATE SET provider = excluded.provider, facts = excluded.facts,
             fork = excluded.fork, updated_at = excluded.updated_at, url = excluded.url",
    )
    .bind(app_id)
    .bind(number)
    .bind(provider)
    .bind(facts)
    .bind(i64::from(fork))
    .bind(updated_at)
    .bind(url)
    .execute(ex)
    .await?;
    Ok(())
}

/// Whether the pull request's head is in a fork (untrusted: no secrets).
pub async fn is_fork<'c>(ex: impl Exec<'c>, app_id: &str, number: i64) -> sqlx::Result<bool> {
    let fork: Option<i64> = sqlx::query_scalar("SELECT fork FROM pull_requests WHERE app_id = $1 AND number = $2")
        .bind(app_id)
        .bind(number)
        .fetch_optional(ex)
        .await?;
    Ok(fork == Some(1))
}

/// Whether the environment previews a pull request from a fork (untrusted:
/// it never gets the app's secrets).
pub async fn env_is_from_fork<'c>(ex: impl Exec<'c>, environment_id: &str) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM environments e JOIN pull_requests p ON p.app_id = e.app_id AND p.number = e.pr_number
         WHERE e.id = $1 AND p.fork = 1",
    )
    .bind(environment_id)
    .fetch_one(ex)
    .await?;
    Ok(n > 0)
}

/// A report due to a pull request, as claimed by a sender.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct DueReport {
    pub app_id: String,
    pub number: i64,
    pub provider: String,
    pub repository: String,
    pub report: String,
    pub version: i64,
    pub comment_id: Option<String>,
    pub attempts: i64,
}

/// Sets the report a pull request should see now (a newer one replaces
/// one not sent yet).
pub async fn want_report<'c>(
    ex: impl Exec<'c>,
    (app_id, number): (&str, i64),
    (provider, repository): (&str, &str),
    report: &str,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO pull_request_reports (app_id, number, provider, repository, report, version, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5, 1, $6)
         ON CONFLICT (app_id, number) DO UPDATE SET provider = excluded.provider, repository = excluded.repository,
             report = excluded.report, version = pull_request_reports.version + 1, attempts = 0,
             next_attempt_at = excluded.next_attempt_at",
    )
    .bind(app_id)
    .bind(number)
    .bind(provider)
    .bind(repository)
    .bind(report)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// Claims the next report due, under a lease until `lease_until`.
pub async fn claim_report<'c>(
    ex: impl Exec<'c>,
    worker: &str,
    now: i64,
    lease_until: i64,
) -> sqlx::Result<Option<DueReport>> {
    // One statement: on PostgreSQL the row lock of the UPDATE makes a second
    // claimer re-check the lease; SQLite has one writer.
    sqlx::query_as(
        "UPDATE pull_request_reports SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
         WHERE (app_id, number) IN (SELECT app_id, number FROM pull_request_reports
                     WHERE sent_version < version AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until < $3)
                     ORDER BY next_attempt_at LIMIT 1)
           AND (lease_until IS NULL OR lease_until < $3)
         RETURNING app_id, number, provider, repository, report, version, comment_id, attempts",
    )
    .bind(worker)
    .bind(lease_until)
    .bind(now)
    .fetch_optional(ex)
    .await
}

/// Records a sent report (`version` as claimed: a newer one stays due).
pub async fn report_sent<'c>(
    ex: impl Exec<'c>,
    r: &DueReport,
    worker: &str,
    comment_id: Option<&str>,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE pull_request_reports SET sent_version = $1, comment_id = COALESCE($2, comment_id), last_error = NULL,
             sent_at = $3, lease_owner = NULL, lease_until = NULL, attempts = 0
         WHERE app_id = $4 AND number = $5 AND lease_owner = $6",
    )
    .bind(r.version)
    .bind(comment_id)
    .bind(now)
    .bind(&r.app_id)
    .bind(r.number)
    .bind(worker)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a failed send: tried again at `retry_at`, or given up (`None`:
/// this version is not sent; a newer report is).
pub async fn report_failed<'c>(
    ex: impl Exec<'c>,
    r: &DueReport,
    worker: &str,
    error: &str,
    retry_at: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE pull_request_reports SET last_error = $1, lease_owner = NULL, lease_until = NULL,
             next_attempt_at = COALESCE($2, next_attempt_at),
             sent_version = CASE WHEN $2 IS NULL THEN $3 ELSE sent_version END
         WHERE app_id = $4 AND number = $5 AND lease_owner = $6",
    )
    .bind(error)
    .bind(retry_at)
    .bind(r.version)
    .bind(&r.app_id)
    .bind(r.number)
    .bind(worker)
    .execute(ex)
    .await?;
    Ok(())
}

/// Reports and how their sending went, newest first (the Deliveries page).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ReportRow {
    pub app_id: String,
    pub app_team_id: String,
    pub number: i64,
    pub repository: String,
    pub report: String,
    pub version: i64,
    pub sent_version: i64,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
    pub next_attempt_at: i64,
}

pub async fn reports<'c>(ex: impl Exec<'c>, team_ids: Option<&[String]>, limit: i64) -> sqlx::Result<Vec<ReportRow>> {
    let select = "SELECT r.app_id, a.team_id AS app_team_id, r.number, r.repository, r.report, r.version,
                r.sent_version, r.attempts, r.last_error, r.sent_at, r.next_attempt_at
         FROM pull_request_reports r JOIN apps a ON a.id = r.app_id";
    in_teams(ex, select, "ORDER BY r.next_attempt_at DESC LIMIT $1", team_ids, limit).await
}
