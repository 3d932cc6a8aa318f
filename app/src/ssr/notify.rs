//! Notifications to people, written in the transaction of the event they
//! tell about: the in-app inbox (the header's bell reads it) and, when the
//! portal sends e-mail (`EOD_SMTP_URL`), one e-mail row per person for the
//! mailer worker. Each person chooses per kind which of the two they get.

use super::clock::new_id;
use super::internal;
use crate::error::AppError;

/// `meta` key saying whether the portal sends e-mail (`on` / `off`), set
/// at startup from the configuration, so the write path needs no settings.
pub const EMAIL_META_KEY: &str = "email";
/// `meta` key naming the approver team (`EOD_APPROVERS`), set at startup.
pub const APPROVER_TEAM_META_KEY: &str = "approver_team";

/// Who approves: platform admins, and with the group the approver team's
/// members (`EOD_APPROVERS`, recorded in `meta`). `u` is the user.
const ADMINS: &str = "u.is_platform_admin = 1";
const ADMINS_AND_GROUP: &str = "(u.is_platform_admin = 1 OR u.id IN (
        SELECT m.user_id FROM memberships m JOIN teams t ON t.id = m.team_id
        JOIN meta g ON g.key = 'approver_team' AND g.value = t.slug))";

/// Writes one notification to each user `who` selects (an SQL condition
/// on `u` that may read `$6` = `param`): an inbox row unless they muted the
/// kind there, and an e-mail row when the portal sends e-mail, they have an
/// address and did not turn e-mail off for the kind. The two are chosen
/// separately, so one can be off and the other on.
async fn fan_out(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    who: &str,
    param: Option<&str>,
    environment_id: Option<&str>,
    kind: &str,
    message: &str,
    now: i64,
) -> Result<(), AppError> {
    let id = new_id();
    let inbox = format!(
        "INSERT INTO notifications (id, user_id, environment_id, kind, message, created_at)
         SELECT $1 || u.id, u.id, $2, $3, $4, $5 FROM users u
         WHERE {who}
           AND NOT EXISTS (SELECT 1 FROM notification_prefs p WHERE p.user_id = u.id AND p.kind = $3 AND p.muted = 1)"
    );
    let email = format!(
        "INSERT INTO emails (id, user_id, kind, environment_id, message, state, attempts, next_attempt_at, created_at)
         SELECT 'mail_' || $1 || u.id, u.id, $3, $2, $4, 'pending', 0, $5, $5 FROM users u
         WHERE {who} AND u.email IS NOT NULL AND u.email <> ''
           AND EXISTS (SELECT 1 FROM meta WHERE key = 'email' AND value = 'on')
           AND NOT EXISTS (SELECT 1 FROM notification_prefs p WHERE p.user_id = u.id AND p.kind = $3 AND p.email_muted = 1)"
    );
    for sql in [inbox, email] {
        sqlx::query(&sql)
            .bind(&id)
            .bind(environment_id)
            .bind(kind)
            .bind(message)
            .bind(now)
            .bind(param)
            .execute(&mut **tx)
            .await
            .map_err(internal("recording a notification"))?;
    }
    Ok(())
}

/// One notification to one user (`None`: nobody to tell, nothing written).
pub(crate) async fn to_user(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: Option<&str>,
    environment_id: Option<&str>,
    kind: &str,
    message: &str,
    now: i64,
) -> Result<(), AppError> {
    let Some(user_id) = user_id else { return Ok(()) };
    fan_out(tx, "u.id = $6", Some(user_id), environment_id, kind, message, now).await
}

/// The same notification to every approver of the environment's requests
/// but `except` (the requester, who knows): platform admins, and with
/// `group` the approver team's members (`EOD_APPROVERS`; preview tiers only,
/// see `domain::approval::may_decide`).
pub(crate) async fn to_approvers(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    except: Option<&str>,
    group: bool,
    environment_id: &str,
    kind: &str,
    message: &str,
    now: i64,
) -> Result<(), AppError> {
    let approvers = if group { ADMINS_AND_GROUP } else { ADMINS };
    let who = format!("{approvers} AND ($6 IS NULL OR u.id <> $6)");
    fan_out(tx, &who, except, Some(environment_id), kind, message, now).await
}

/// The same notification to every manager of a team.
pub(crate) async fn to_managers(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    team_id: &str,
    kind: &str,
    message: &str,
    now: i64,
) -> Result<(), AppError> {
    let who = "u.id IN (SELECT m.user_id FROM memberships m WHERE m.team_id = $6 AND m.role = 'manager')";
    fan_out(tx, who, Some(team_id), None, kind, message, now).await
}

/// The same event to the team's outgoing channels (Slack, webhooks), as
/// outbox rows in the caller's transaction. `env` adds its facts and link.
pub(crate) async fn to_team(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    team_id: &str,
    kind: crate::domain::notification::EventKind,
    env: Option<&super::store::environments::Environment>,
    title: &str,
    text: &str,
    now: i64,
) -> Result<(), AppError> {
    let mut fields = Vec::new();
    if let Some(e) = env {
        fields.push(("Tier".to_string(), e.tier.clone()));
        match (e.pr_number, &e.git_ref) {
            // What its webhook told of it: the title and where it is.
            (Some(pr), _) => match pull_request_of(tx, &e.app_id, pr).await? {
                Some(facts) => {
                    fields.push(("Pull request".into(), format!("#{pr} {}", facts.title)));
                    if !facts.url.is_empty() {
                        fields.push(("Pull request URL".into(), facts.url));
                    }
                }
                None => fields.push(("Pull request".into(), format!("#{pr}"))),
            },
            (None, Some(r)) => fields.push(("Branch".into(), r.clone())),
            _ => {}
        }
        if let Some(at) = e.expires_at {
            fields.push(("Expires".into(), crate::domain::time::utc_datetime(at)));
        }
    }
    let message = crate::domain::notification::Message {
        kind,
        title: title.to_string(),
        text: text.to_string(),
        // Relative: the sender prefixes the portal's public URL.
        url: env.map(|e| format!("/environments/{}", e.id)),
        fields,
        environment_id: env.map(|e| e.id.clone()),
        team: String::new(),
        at: now,
    };
    super::channels::announce(tx, team_id, message, now).await
}

/// A pull request's facts as its last webhook delivery told them, if one did.
async fn pull_request_of(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    app_id: &str,
    number: i64,
) -> Result<Option<crate::domain::pull_request::PullRequest>, AppError> {
    let facts = super::store::webhooks::pull_request(&mut **tx, app_id, number)
        .await
        .map_err(internal("reading a pull request"))?;
    Ok(facts.and_then(|f| serde_json::from_str(&f).ok()))
}

/// Records at startup what the write path reads from `meta`: whether the
/// portal sends e-mail, and the approver team. E-mails left waiting by a
/// portal that no longer sends e-mail end as failed (nothing would send
/// them). Returns whether the named approver team exists (a team made
/// later takes effect then).
pub async fn configure(db: &super::Db, email: bool, approver_team: Option<&str>, now: i64) -> Result<bool, AppError> {
    let pool = db.pool();
    super::store::meta::set(pool, EMAIL_META_KEY, if email { "on" } else { "off" })
        .await
        .map_err(internal("recording the e-mail setting"))?;
    if !email {
        super::mail::fail_pending(db, now).await?;
    }
    match approver_team {
        Some(slug) => {
            super::store::meta::set(pool, APPROVER_TEAM_META_KEY, slug)
                .await
                .map_err(internal("recording the approver team"))?;
            let team = super::store::teams::find_by_slug(pool, slug).await.map_err(internal("finding a team"))?;
            Ok(team.is_some())
        }
        None => {
            sqlx::query("DELETE FROM meta WHERE key = $1")
                .bind(APPROVER_TEAM_META_KEY)
                .execute(pool)
                .await
                .map_err(internal("clearing the approver team"))?;
            Ok(true)
        }
    }
}
