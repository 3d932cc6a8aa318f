//! In-app notifications, written in the transaction of the event they tell
//! about (the header's bell reads them).

use super::clock::new_id;
use super::internal;
use crate::error::AppError;

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
    sqlx::query(
        "INSERT INTO notifications (id, user_id, environment_id, kind, message, created_at)
         SELECT $1, $2, $3, $4, $5, $6
         WHERE NOT EXISTS (SELECT 1 FROM notification_prefs p WHERE p.user_id = $2 AND p.kind = $4 AND p.muted = 1)",
    )
    .bind(new_id())
    .bind(user_id)
    .bind(environment_id)
    .bind(kind)
    .bind(message)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(internal("recording a notification"))?;
    Ok(())
}

/// The same notification to every approver (platform admins) but `except`
/// (the requester, who knows).
pub(crate) async fn to_approvers(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    except: Option<&str>,
    environment_id: &str,
    kind: &str,
    message: &str,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query(
        "INSERT INTO notifications (id, user_id, environment_id, kind, message, created_at)
         SELECT $1 || u.id, u.id, $2, $3, $4, $5 FROM users u
         WHERE u.is_platform_admin = 1 AND ($6 IS NULL OR u.id <> $6)
           AND NOT EXISTS (SELECT 1 FROM notification_prefs p WHERE p.user_id = u.id AND p.kind = $3 AND p.muted = 1)",
    )
    .bind(new_id())
    .bind(environment_id)
    .bind(kind)
    .bind(message)
    .bind(now)
    .bind(except)
    .execute(&mut **tx)
    .await
    .map_err(internal("notifying approvers"))?;
    Ok(())
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
            (Some(pr), _) => fields.push(("Pull request".into(), format!("#{pr}"))),
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
