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
    let order = "ORDER BY d.received_at DESC, d.id DESC LIMIT $1";
    match team_ids {
        None => sqlx::query_as(&format!("{select} {order}")).bind(limit).fetch_all(ex).await,
        Some([]) => Ok(vec![]),
        Some(ids) => {
            let marks: Vec<String> = (2..ids.len() + 2).map(|i| format!("${i}")).collect();
            let sql = format!("{select} WHERE a.team_id IN ({}) {order}", marks.join(", "));
            let mut q = sqlx::query_as(&sql).bind(limit);
            for id in ids {
                q = q.bind(id);
            }
            q.fetch_all(ex).await
        }
    }
}

/// A pull request's stored facts (JSON of `domain::pull_request::PullRequest`).
pub async fn pull_request<'c>(ex: impl Exec<'c>, app_id: &str, number: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT facts FROM pull_requests WHERE app_id = $1 AND number = $2")
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
