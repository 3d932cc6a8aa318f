//! E-mail to people: the rows `notify` queues in the event's transaction
//! (when the portal sends e-mail), claimed by the server's mailer worker
//! under a lease and recorded once, like the team channels' deliveries.
//! The words of a message are pure (`domain::notification::email_text`).

use super::{internal, Db, Engine};
use crate::api::notifications::EmailRow;
use crate::error::AppError;

/// An e-mail the mailer claimed: to whom and what.
#[derive(Clone, Debug)]
pub struct DueEmail {
    pub id: String,
    pub to_address: String,
    pub to_name: String,
    pub kind: String,
    pub environment_id: Option<String>,
    pub message: String,
    pub attempts: i64,
}

/// Claims the next due e-mail under a lease: other replicas skip it until
/// the lease lapses, so a mailer killed mid-send leaves it to be sent again.
pub async fn claim_due(db: &Db, worker: &str, now: i64, lease_until: i64) -> Result<Option<DueEmail>, AppError> {
    let lock = match db.engine() {
        Engine::Postgres => "FOR UPDATE SKIP LOCKED",
        Engine::Sqlite => "",
    };
    let claimed: Option<(String, String, String, Option<String>, String, i64)> = sqlx::query_as(&format!(
        "UPDATE emails SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
         WHERE id = (SELECT id FROM emails
                     WHERE state = 'pending' AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until < $3)
                     ORDER BY next_attempt_at, id LIMIT 1 {lock})
         RETURNING id, user_id, kind, environment_id, message, attempts"
    ))
    .bind(worker)
    .bind(lease_until)
    .bind(now)
    .fetch_optional(db.pool())
    .await
    .map_err(internal("claiming an e-mail"))?;
    let Some((id, user_id, kind, environment_id, message, attempts)) = claimed else { return Ok(None) };
    let to: Option<(Option<String>, String)> = sqlx::query_as("SELECT email, display_name FROM users WHERE id = $1")
        .bind(&user_id)
        .fetch_optional(db.pool())
        .await
        .map_err(internal("loading an e-mail's recipient"))?;
    let (to_address, to_name) = match to {
        Some((Some(address), name)) if !address.trim().is_empty() => (address, name),
        // The address went away after the e-mail was queued: there is no
        // one to send it to, and that is its end.
        _ => (String::new(), String::new()),
    };
    Ok(Some(DueEmail { id, to_address, to_name, kind, environment_id, message, attempts }))
}

/// How a send went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    Sent,
    /// Try again at `at`, or give up (`None`).
    Retry {
        error: String,
        at: Option<i64>,
    },
    /// A permanent refusal (SMTP 5xx, a bad address): retrying cannot help.
    Refused {
        error: String,
    },
}

/// Records the outcome, only while this worker still holds the lease: an
/// e-mail is recorded sent once, however many times it was sent.
pub async fn record(db: &Db, id: &str, worker: &str, sent: &Sent, now: i64) -> Result<bool, AppError> {
    let (state, error, next) = match sent {
        Sent::Sent => ("sent", None, now),
        Sent::Retry { error, at: Some(at) } => ("pending", Some(error.as_str()), *at),
        Sent::Retry { error, at: None } => ("failed", Some(error.as_str()), now),
        Sent::Refused { error } => ("failed", Some(error.as_str()), now),
    };
    let done = sqlx::query(
        "UPDATE emails SET state = $1, last_error = $2, next_attempt_at = $3,
             sent_at = CASE WHEN $1 = 'sent' THEN $4 ELSE sent_at END, lease_owner = NULL, lease_until = NULL
         WHERE id = $5 AND lease_owner = $6 AND state = 'pending'",
    )
    .bind(state)
    .bind(error)
    .bind(next)
    .bind(now)
    .bind(id)
    .bind(worker)
    .execute(db.pool())
    .await
    .map_err(internal("recording an e-mail"))?;
    Ok(done.rows_affected() == 1)
}

/// E-mails still waiting when the portal no longer sends e-mail end as
/// failed, saying so: nothing would ever send them.
pub async fn fail_pending(db: &Db, now: i64) -> Result<u64, AppError> {
    let done = sqlx::query(
        "UPDATE emails SET state = 'failed', last_error = 'the portal no longer sends e-mail (EOD_SMTP_URL is unset)',
             next_attempt_at = $1, lease_owner = NULL, lease_until = NULL
         WHERE state = 'pending'",
    )
    .bind(now)
    .execute(db.pool())
    .await
    .map_err(internal("ending waiting e-mails"))?;
    Ok(done.rows_affected())
}

/// The latest e-mails to one user, newest first.
pub async fn recent_for(db: &Db, user_id: &str, limit: i64) -> Result<Vec<EmailRow>, AppError> {
    sqlx::query_as(
        "SELECT id, kind, message, state, attempts, last_error, sent_at, created_at FROM emails
         WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(db.pool())
    .await
    .map_err(internal("listing e-mails"))
}
