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
