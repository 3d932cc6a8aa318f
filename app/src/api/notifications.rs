//! The signed-in user's notifications (environment ready, failed, expiring
//! or destroyed; approval requests and decisions; budget alerts): an in-app
//! inbox with an unread count, read one by one or all at once.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRow {
    pub id: String,
    pub kind: String,
    pub message: String,
    pub environment_id: Option<String>,
    pub created_at: i64,
    pub read: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inbox {
    pub unread: i64,
    /// The latest ones, newest first.
    pub items: Vec<NotificationRow>,
}

/// A notification as stored: id, kind, message, environment, created, read at.
#[cfg(feature = "ssr")]
type StoredNotification = (String, String, String, Option<String>, i64, Option<i64>);

/// One e-mail as its recipient sees it in their settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct EmailRow {
    pub id: String,
    pub kind: String,
    pub message: String,
    /// pending | sent | failed
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
    pub created_at: i64,
}

/// How many notifications the inbox lists.
pub const INBOX_SIZE: i64 = 20;

#[server(prefix = "/api/fn", endpoint = "my_notifications")]
pub async fn my_notifications() -> Result<Inbox, AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{context::*, internal};
            let (state, viewer) = (app_state()?, require_viewer()?);
            let pool = state.db.pool();
            let unread: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL")
                    .bind(&viewer.user_id)
                    .fetch_one(pool)
                    .await
                    .map_err(internal("counting notifications"))?;
            let rows: Vec<StoredNotification> = sqlx::query_as(
                "SELECT id, kind, message, environment_id, created_at, read_at FROM notifications
                 WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
            )
            .bind(&viewer.user_id)
            .bind(INBOX_SIZE)
            .fetch_all(pool)
            .await
            .map_err(internal("listing notifications"))?;
            Ok(Inbox {
                unread,
                items: rows
                    .into_iter()
                    .map(|(id, kind, message, environment_id, created_at, read_at)| NotificationRow {
                        id,
                        kind,
                        message,
                        environment_id,
                        created_at,
                        read: read_at.is_some(),
                    })
                    .collect(),
            })
        }
        .await,
    )
}

/// Marks all of the signed-in user's notifications read (their own inbox only).
#[server(prefix = "/api/fn", endpoint = "mark_notifications_read")]
pub async fn mark_notifications_read() -> Result<(), AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{clock::now_ms, context::*, internal};
            let (state, viewer) = (app_state()?, require_viewer()?);
            sqlx::query("UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL")
                .bind(now_ms())
                .bind(&viewer.user_id)
                .execute(state.db.pool())
                .await
                .map_err(internal("marking notifications read"))?;
            Ok(())
        }
        .await,
    )
}

/// Marks one of the signed-in user's notifications read (another user's is 404).
#[server(prefix = "/api/fn", endpoint = "mark_notification_read")]
pub async fn mark_notification_read(id: String) -> Result<(), AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{clock::now_ms, context::*, internal};
            let (state, viewer) = (app_state()?, require_viewer()?);
            let done =
                sqlx::query("UPDATE notifications SET read_at = COALESCE(read_at, $1) WHERE id = $2 AND user_id = $3")
                    .bind(now_ms())
                    .bind(&id)
                    .bind(&viewer.user_id)
                    .execute(state.db.pool())
                    .await
                    .map_err(internal("marking a notification read"))?;
            if done.rows_affected() == 0 {
                return Err(AppError::NotFound);
            }
            Ok(())
        }
        .await,
    )
}

/// One kind of notification and where the user gets it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationPref {
    pub kind: String,
    pub label: String,
    /// Kept out of the inbox.
    pub muted: bool,
    /// Not e-mailed.
    pub email_muted: bool,
}

/// The signed-in user's notification settings page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSettings {
    /// Whether this portal sends e-mail at all (`EOD_SMTP_URL`).
    pub email_on: bool,
    /// Where the user's e-mail goes (from their identity provider).
    pub address: Option<String>,
    pub prefs: Vec<NotificationPref>,
    /// The latest e-mails to the user, newest first.
    pub emails: Vec<EmailRow>,
}

/// The kinds of notification, with what people call them.
pub const KINDS: [(&str, &str); 10] = [
    ("environment_ready", "Your environment is ready"),
    ("environment_failed", "Your environment failed"),
    ("environment_unhealthy", "Your environment became unhealthy (it is being restarted)"),
    ("environment_recovered", "Your environment is healthy again"),
    ("expiry_warning", "Your environment is about to expire"),
    ("environment_destroyed", "Your environment was destroyed"),
    ("approval_requested", "An approval is requested (approvers)"),
    ("approval_escalated", "An approval request was escalated (approvers)"),
    ("approval_decided", "Your approval request was decided"),
    ("budget_alert", "Your team reached a budget level (managers)"),
];

/// How many of the user's e-mails the settings page lists.
pub const EMAILS_LISTED: i64 = 20;

#[server(prefix = "/api/fn", endpoint = "my_notification_prefs")]
pub async fn my_notification_prefs() -> Result<NotificationSettings, AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{context::*, internal, store};
            let (state, viewer) = (app_state()?, require_viewer()?);
            let pool = state.db.pool();
            let set: Vec<(String, i64, i64)> =
                sqlx::query_as("SELECT kind, muted, email_muted FROM notification_prefs WHERE user_id = $1")
                    .bind(&viewer.user_id)
                    .fetch_all(pool)
                    .await
                    .map_err(internal("reading notification settings"))?;
            let email_on = store::meta::get(pool, crate::ssr::notify::EMAIL_META_KEY)
                .await
                .map_err(internal("reading the e-mail setting"))?
                .is_some_and(|v| v == "on");
            let address = store::users::find_by_id(pool, &viewer.user_id)
                .await
                .map_err(internal("loading a user"))?
                .and_then(|u| u.email)
                .filter(|e| !e.trim().is_empty());
            let emails = crate::ssr::mail::recent_for(&state.db, &viewer.user_id, EMAILS_LISTED).await?;
            let prefs = KINDS
                .iter()
                .map(|(kind, label)| {
                    let row = set.iter().find(|(k, _, _)| k == kind);
                    NotificationPref {
                        kind: kind.to_string(),
                        label: label.to_string(),
                        muted: row.is_some_and(|r| r.1 == 1),
                        email_muted: row.is_some_and(|r| r.2 == 1),
                    }
                })
                .collect();
            Ok(NotificationSettings { email_on, address, prefs, emails })
        }
        .await,
    )
}

/// Turns one kind on or off for the signed-in user, on one channel:
/// `inbox` (the bell) or `email`.
#[server(prefix = "/api/fn", endpoint = "set_notification_pref")]
pub async fn set_notification_pref(kind: String, on: bool, channel: String) -> Result<(), AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{context::*, internal};
            let (state, viewer) = (app_state()?, require_viewer()?);
            if !KINDS.iter().any(|(k, _)| *k == kind) {
                return Err(AppError::invalid("kind", format!("unknown notification kind {kind:?}")));
            }
            let column = match channel.as_str() {
                "inbox" => "muted",
                "email" => "email_muted",
                other => return Err(AppError::invalid("channel", format!("inbox or email, not {other:?}"))),
            };
            sqlx::query(
                "INSERT INTO notification_prefs (user_id, kind, muted, email_muted) VALUES ($1, $2, 0, 0)
                 ON CONFLICT (user_id, kind) DO NOTHING",
            )
            .bind(&viewer.user_id)
            .bind(&kind)
            .execute(state.db.pool())
            .await
            .map_err(internal("saving a notification setting"))?;
            sqlx::query(&format!("UPDATE notification_prefs SET {column} = $1 WHERE user_id = $2 AND kind = $3"))
                .bind(if on { 0_i64 } else { 1 })
                .bind(&viewer.user_id)
                .bind(&kind)
                .execute(state.db.pool())
                .await
                .map_err(internal("saving a notification setting"))?;
            Ok(())
        }
        .await,
    )
}
