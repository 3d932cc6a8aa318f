//! A team's outgoing notification channels (Slack, signed webhooks) and
//! their delivery log, for the team's managers and platform admins.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRow {
    pub id: String,
    /// `slack` or `webhook`.
    pub kind: String,
    /// Scheme and host only: the rest of a URL can be a token.
    pub target: String,
    pub disabled_reason: Option<String>,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct DeliveryRow {
    /// The `webhook-id`.
    pub id: String,
    pub channel_id: String,
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelsView {
    pub team: String,
    pub channels: Vec<ChannelRow>,
    /// The latest 100, newest first.
    pub deliveries: Vec<DeliveryRow>,
}

#[server(prefix = "/api/fn", endpoint = "team_channels")]
pub async fn team_channels(team: String) -> Result<ChannelsView, AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{channels, context::*};
            let (state, meta) = (app_state()?, request_meta());
            let channels = channels::list(&state, &meta, &team).await?;
            let deliveries = channels::deliveries(&state, &meta, &team).await?;
            Ok(ChannelsView { team, channels, deliveries })
        }
        .await,
    )
}

/// Adds a channel; a webhook's secret comes back once.
#[server(prefix = "/api/fn", endpoint = "add_channel")]
pub async fn add_channel(team: String, kind: String, url: String) -> Result<Option<String>, AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{channels, context::*};
            channels::add(&app_state()?, &request_meta(), &team, &kind, &url).await
        }
        .await,
    )
}

#[server(prefix = "/api/fn", endpoint = "remove_channel")]
pub async fn remove_channel(team: String, id: String) -> Result<(), AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{channels, context::*};
            channels::remove(&app_state()?, &request_meta(), &team, &id).await
        }
        .await,
    )
}

/// A new webhook secret (shown once); the old one signs too for a day.
#[server(prefix = "/api/fn", endpoint = "rotate_channel_secret")]
pub async fn rotate_channel_secret(team: String, id: String) -> Result<String, AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{channels, context::*};
            channels::rotate(&app_state()?, &request_meta(), &team, &id).await
        }
        .await,
    )
}

#[server(prefix = "/api/fn", endpoint = "enable_channel")]
pub async fn enable_channel(team: String, id: String) -> Result<(), AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{channels, context::*};
            channels::enable(&app_state()?, &request_meta(), &team, &id).await
        }
        .await,
    )
}

#[server(prefix = "/api/fn", endpoint = "resend_delivery")]
pub async fn resend_delivery(team: String, id: String) -> Result<(), AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{channels, context::*};
            channels::resend(&app_state()?, &request_meta(), &team, &id).await
        }
        .await,
    )
}
