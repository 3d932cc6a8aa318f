//! Outgoing notification channels per team (a Slack-compatible incoming
//! webhook, a generic signed webhook) and the transactional outbox that
//! feeds them: `announce` writes one delivery per enabled channel in the
//! transaction of the event it tells about; the server's outbox worker
//! sends them. URLs and secrets are sealed with the portal's secret key, so
//! a database dump alone does not reveal them; a webhook secret is shown
//! once, when made.

use super::clock::new_id;
use super::store::audit::{AuditEvent, Outcome};
use super::{authz, internal, AppState, RequestMeta};
use crate::api::channels::{ChannelRow, DeliveryRow};
use crate::domain::authz::Action;
use crate::domain::notification::Message;
use crate::error::AppError;

/// Writes one pending delivery per enabled channel of `team_id`, inside
/// the caller's transaction (the outbox).
pub(crate) async fn announce(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    team_id: &str,
    mut message: Message,
    now: i64,
) -> Result<(), AppError> {
    let team: Option<(String, i64)> = sqlx::query_as(
        "SELECT t.slug, COUNT(c.id) FROM teams t LEFT JOIN channels c ON c.team_id = t.id AND c.disabled_at IS NULL
         WHERE t.id = $1 GROUP BY t.slug",
    )
    .bind(team_id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(internal("finding a team's channels"))?;
    let Some((slug, channels)) = team else { return Ok(()) };
    if channels == 0 {
        return Ok(());
    }
    message.team = slug;
    let body = serde_json::to_string(&message).map_err(|_| AppError::Internal)?;
    sqlx::query(
        "INSERT INTO deliveries (id, channel_id, event, message, state, attempts, next_attempt_at, created_at)
         SELECT 'msg_' || $1 || '_' || c.id, c.id, $2, $3, 'pending', 0, $4, $4
         FROM channels c WHERE c.team_id = $5 AND c.disabled_at IS NULL",
    )
    .bind(new_id().replace('-', ""))
    .bind(message.kind.as_str())
    .bind(body)
    .bind(now)
    .bind(team_id)
    .execute(&mut **tx)
    .await
    .map_err(internal("queueing deliveries"))?;
    Ok(())
}

/// A new webhook secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn target_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}", rest.split('/').next().unwrap_or_default()),
        None => "?".into(),
    }
}

async fn team_for(state: &AppState, meta: &RequestMeta, slug: &str) -> Result<super::store::teams::Team, AppError> {
    let team = super::store::teams::find_by_slug(state.db.pool(), slug).await.map_err(internal("finding a team"))?;
    let team = team.ok_or(AppError::NotFound)?;
    authz::require(state, meta, Action::ManageBudgets, Some(&team.id)).await?;
    Ok(team)
}

/// A team's channels (its managers and platform admins).
pub async fn list(state: &AppState, meta: &RequestMeta, team: &str) -> Result<Vec<ChannelRow>, AppError> {
    let team = team_for(state, meta, team).await?;
    let rows: Vec<(String, String, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT id, kind, url_sealed, disabled_reason, created_at FROM channels WHERE team_id = $1 ORDER BY created_at",
    )
    .bind(&team.id)
    .fetch_all(state.db.pool())
    .await
    .map_err(internal("listing channels"))?;
    let mut out = Vec::new();
    for (id, kind, sealed, disabled_reason, created_at) in rows {
        let url = state.settings.secret_key.open(&id, &sealed).unwrap_or_default();
        out.push(ChannelRow { id, kind, target: target_of(&url), disabled_reason, created_at });
    }
    Ok(out)
}

/// Adds a channel; for a webhook, returns its new secret (shown once).
pub async fn add(
    state: &AppState,
    meta: &RequestMeta,
    team: &str,
    kind: &str,
    url: &str,
) -> Result<Option<String>, AppError> {
    let team = team_for(state, meta, team).await?;
    if !matches!(kind, "slack" | "webhook") {
        return Err(AppError::invalid("kind", "slack or webhook"));
    }
    let url = url.trim();
    let valid = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2_000
        && !url.chars().any(char::is_whitespace)
        && url.split_once("://").is_some_and(|(_, rest)| !rest.is_empty() && !rest.starts_with('/'));
    if !valid {
        return Err(AppError::invalid("url", "an http(s) URL with a host, at most 2,000 characters"));
    }
    let host = url.split_once("://").map(|(_, r)| r).unwrap_or_default();
    let host = host.split(['/', '?', '#']).next().unwrap_or_default().rsplit('@').next().unwrap_or_default();
    let host = host.trim_start_matches('[').split(']').next().unwrap_or_default();
    let host = host
        .rsplit_once(':')
        .filter(|(h, p)| !h.contains(':') && p.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(h, _)| h);
    if host.starts_with("169.254.")
        || host.eq_ignore_ascii_case("metadata.google.internal")
        || host.to_ascii_lowercase().starts_with("fe80:")
    {
        return Err(AppError::invalid("url", "link-local and cloud metadata addresses are refused"));
    }
    let id = new_id();
    let secret = (kind == "webhook").then(new_secret);
    let key = &state.settings.secret_key;
    let now = super::clock::now_ms();
    let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
    sqlx::query(
        "INSERT INTO channels (id, team_id, kind, url_sealed, secret_sealed, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(&team.id)
    .bind(kind)
    .bind(key.seal(&id, url))
    .bind(secret.as_ref().map(|s| key.seal(&format!("{id}/secret"), s)))
    .bind(meta.viewer.as_ref().map(|v| v.user_id.clone()))
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(internal("adding a channel"))?;
    let mut event = AuditEvent::from_request(meta, "channel.add", "team", Some(team.id.clone()), Outcome::Success)
        .with_detail(serde_json::json!({ "channel_id": id, "kind": kind, "target": target_of(url) }));
    event.team_id = Some(team.id.clone());
    super::store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a channel"))?;
    tx.commit().await.map_err(internal("committing a channel"))?;
    Ok(secret)
}

/// Removes a channel (its delivery log goes with it).
pub async fn remove(state: &AppState, meta: &RequestMeta, team: &str, id: &str) -> Result<(), AppError> {
    let team = team_for(state, meta, team).await?;
    let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
    sqlx::query(
        "DELETE FROM deliveries WHERE channel_id = $1 AND channel_id IN (SELECT id FROM channels WHERE team_id = $2)",
    )
    .bind(id)
    .bind(&team.id)
    .execute(&mut *tx)
    .await
    .map_err(internal("removing deliveries"))?;
    let done = sqlx::query("DELETE FROM channels WHERE id = $1 AND team_id = $2")
        .bind(id)
        .bind(&team.id)
        .execute(&mut *tx)
        .await
        .map_err(internal("removing a channel"))?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    let mut event = AuditEvent::from_request(meta, "channel.remove", "team", Some(team.id.clone()), Outcome::Success)
        .with_detail(serde_json::json!({ "channel_id": id }));
    event.team_id = Some(team.id.clone());
    super::store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a channel"))?;
    tx.commit().await.map_err(internal("committing a channel"))?;
    Ok(())
}

/// A new secret for a webhook channel (shown once); the previous one keeps
/// signing alongside it for a day, so receivers can switch over.
pub async fn rotate(state: &AppState, meta: &RequestMeta, team: &str, id: &str) -> Result<String, AppError> {
    let team = team_for(state, meta, team).await?;
    let now = super::clock::now_ms();
    let key = &state.settings.secret_key;
    let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
    let current: Option<Option<String>> =
        sqlx::query_scalar("SELECT secret_sealed FROM channels WHERE id = $1 AND team_id = $2")
            .bind(id)
            .bind(&team.id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(internal("loading a channel"))?;
    let current = match current {
        None => return Err(AppError::NotFound),
        Some(None) => return Err(AppError::Conflict("a Slack channel has no signing secret".into())),
        Some(Some(s)) => s,
    };
    let previous = key.open(&format!("{id}/secret"), &current).map_err(|_| AppError::Internal)?;
    let secret = new_secret();
    sqlx::query(
        "UPDATE channels SET secret_sealed = $1, previous_secret_sealed = $2, previous_until = $3 WHERE id = $4",
    )
    .bind(key.seal(&format!("{id}/secret"), &secret))
    .bind(key.seal(&format!("{id}/previous"), &previous))
    .bind(now + 24 * 3_600_000)
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(internal("rotating a secret"))?;
    let mut event = AuditEvent::from_request(meta, "channel.rotate", "team", Some(team.id.clone()), Outcome::Success)
        .with_detail(serde_json::json!({ "channel_id": id }));
    event.team_id = Some(team.id.clone());
    super::store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a channel"))?;
    tx.commit().await.map_err(internal("committing a rotation"))?;
    Ok(secret)
}

/// Turns a channel the receiver disabled (410 Gone) back on.
pub async fn enable(state: &AppState, meta: &RequestMeta, team: &str, id: &str) -> Result<(), AppError> {
    let team = team_for(state, meta, team).await?;
    let done =
        sqlx::query("UPDATE channels SET disabled_at = NULL, disabled_reason = NULL WHERE id = $1 AND team_id = $2")
            .bind(id)
            .bind(&team.id)
            .execute(state.db.pool())
            .await
            .map_err(internal("enabling a channel"))?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// The latest deliveries of a team's channels.
pub async fn deliveries(state: &AppState, meta: &RequestMeta, team: &str) -> Result<Vec<DeliveryRow>, AppError> {
    let team = team_for(state, meta, team).await?;
    sqlx::query_as(
        "SELECT d.id, d.channel_id, d.event, d.state, d.attempts, d.last_status, d.last_error, d.next_attempt_at,
                d.delivered_at, d.created_at
         FROM deliveries d JOIN channels c ON c.id = d.channel_id
         WHERE c.team_id = $1 ORDER BY d.created_at DESC, d.id DESC LIMIT 100",
    )
    .bind(&team.id)
    .fetch_all(state.db.pool())
    .await
    .map_err(internal("listing deliveries"))
}

/// Sends a delivery again (same webhook-id: receivers de-duplicate).
pub async fn resend(state: &AppState, meta: &RequestMeta, team: &str, id: &str) -> Result<(), AppError> {
    let team = team_for(state, meta, team).await?;
    let now = super::clock::now_ms();
    let found: Option<(String, Option<i64>)> = sqlx::query_as(
        "SELECT d.state, c.disabled_at FROM deliveries d JOIN channels c ON c.id = d.channel_id WHERE d.id = $1 AND c.team_id = $2",
    )
    .bind(id)
    .bind(&team.id)
    .fetch_optional(state.db.pool())
    .await
    .map_err(internal("loading a delivery"))?;
    match found {
        None => return Err(AppError::NotFound),
        Some((_, Some(_))) => return Err(AppError::Conflict("the channel is off: turn it on first".into())),
        Some((s, None)) if s == "pending" => return Err(AppError::Conflict("it is already waiting to be sent".into())),
        Some(_) => {}
    }
    let done = sqlx::query(
        "UPDATE deliveries SET state = 'pending', next_attempt_at = $1, attempts = 0, lease_owner = NULL, lease_until = NULL
         WHERE id = $2 AND state <> 'pending'",
    )
    .bind(now)
    .bind(id)
    .execute(state.db.pool())
    .await
    .map_err(internal("resending a delivery"))?;
    if done.rows_affected() == 0 {
        return Err(AppError::Conflict("it is already waiting to be sent".into()));
    }
    Ok(())
}

/// A delivery the worker claimed: where and how to send it.
#[derive(Clone, Debug)]
pub struct Due {
    pub id: String,
    pub channel_id: String,
    pub kind: String,
    pub url: String,
    /// Secrets in force (webhook): the current one, then the previous during rotation.
    pub secrets: Vec<String>,
    pub message: Message,
    pub attempts: i64,
}

/// Claims the next due delivery under a lease (other replicas skip it until
/// the lease lapses: a worker killed mid-send leaves it to be sent again).
pub async fn claim_due(
    db: &super::Db,
    key: &super::secrets::SecretKey,
    worker: &str,
    now: i64,
    lease_until: i64,
) -> Result<Option<Due>, AppError> {
    let lock = match db.engine() {
        super::Engine::Postgres => "FOR UPDATE SKIP LOCKED",
        super::Engine::Sqlite => "",
    };
    let claimed: Option<(String, String, String, i64)> = sqlx::query_as(&format!(
        "UPDATE deliveries SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
         WHERE id = (SELECT id FROM deliveries
                     WHERE state = 'pending' AND next_attempt_at <= $3 AND (lease_until IS NULL OR lease_until < $3)
                     ORDER BY next_attempt_at, id LIMIT 1 {lock})
         RETURNING id, channel_id, message, attempts"
    ))
    .bind(worker)
    .bind(lease_until)
    .bind(now)
    .fetch_optional(db.pool())
    .await
    .map_err(internal("claiming a delivery"))?;
    let Some((id, channel_id, message, attempts)) = claimed else { return Ok(None) };
    let channel: (String, String, Option<String>, Option<String>, Option<i64>) = sqlx::query_as(
        "SELECT kind, url_sealed, secret_sealed, previous_secret_sealed, previous_until FROM channels WHERE id = $1",
    )
    .bind(&channel_id)
    .fetch_one(db.pool())
    .await
    .map_err(internal("loading a channel"))?;
    let (kind, url, secret, previous, previous_until) = channel;
    let open = |name: String, sealed: &str| key.open(&name, sealed).map_err(|_| AppError::Internal);
    let mut secrets = Vec::new();
    if let Some(s) = &secret {
        secrets.push(open(format!("{channel_id}/secret"), s)?);
    }
    if let (Some(p), Some(until)) = (&previous, previous_until) {
        if until > now {
            secrets.push(open(format!("{channel_id}/previous"), p)?);
        }
    }
    Ok(Some(Due {
        url: open(channel_id.clone(), &url)?,
        message: serde_json::from_str(&message).map_err(|_| AppError::Internal)?,
        id,
        channel_id,
        kind,
        secrets,
        attempts,
    }))
}

/// How a send went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    Delivered {
        status: u16,
    },
    /// Try again at `at`, or give up (`None`).
    Retry {
        status: Option<u16>,
        error: String,
        at: Option<i64>,
    },
    /// 410 Gone: the receiver wants no more; the channel is disabled.
    Gone,
    /// Another 4xx: retrying cannot help.
    Refused {
        status: u16,
        error: String,
    },
}

/// Records the outcome, only while this worker still holds the lease: a
/// delivery is recorded delivered once, however many times it was sent.
pub async fn record(db: &super::Db, due: &Due, worker: &str, sent: &Sent, now: i64) -> Result<bool, AppError> {
    let (state, status, error, next): (&str, Option<i64>, Option<String>, i64) = match sent {
        Sent::Delivered { status } => ("delivered", Some(i64::from(*status)), None, now),
        Sent::Retry { status, error, at: Some(at) } => ("pending", status.map(i64::from), Some(error.clone()), *at),
        Sent::Retry { status, error, at: None } => ("failed", status.map(i64::from), Some(error.clone()), now),
        Sent::Gone => ("failed", Some(410), Some("410 Gone: the channel is disabled".into()), now),
        Sent::Refused { status, error } => ("failed", Some(i64::from(*status)), Some(error.clone()), now),
    };
    let mut tx = db.begin_write().await.map_err(internal("starting a transaction"))?;
    let done = sqlx::query(
        "UPDATE deliveries SET state = $1, last_status = $2, last_error = $3, next_attempt_at = $4,
             delivered_at = CASE WHEN $1 = 'delivered' THEN $5 ELSE delivered_at END, lease_owner = NULL, lease_until = NULL
         WHERE id = $6 AND lease_owner = $7 AND state = 'pending'",
    )
    .bind(state)
    .bind(status)
    .bind(&error)
    .bind(next)
    .bind(now)
    .bind(&due.id)
    .bind(worker)
    .execute(&mut *tx)
    .await
    .map_err(internal("recording a delivery"))?;
    if done.rows_affected() == 1 && *sent == Sent::Gone {
        sqlx::query("UPDATE channels SET disabled_at = $1, disabled_reason = $2 WHERE id = $3")
            .bind(now)
            .bind("the receiver answered 410 Gone")
            .bind(&due.channel_id)
            .execute(&mut *tx)
            .await
            .map_err(internal("disabling a channel"))?;
        // What was still queued for it is not sent (Resend, once turned on).
        sqlx::query(
            "UPDATE deliveries SET state = 'failed', last_error = 'the channel is off (410 Gone)', lease_owner = NULL, lease_until = NULL
             WHERE channel_id = $1 AND state = 'pending'",
        )
        .bind(&due.channel_id)
        .execute(&mut *tx)
        .await
        .map_err(internal("stopping a channel's deliveries"))?;
    }
    tx.commit().await.map_err(internal("committing a delivery"))?;
    Ok(done.rows_affected() == 1)
}
