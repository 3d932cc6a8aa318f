//! The Deliveries page's server functions: pull-request webhook deliveries
//! as received, and Re-run.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One delivery as the log shows it (never its body).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRow {
    pub id: String,
    pub provider: String,
    /// The provider's id of it (`X-GitHub-Delivery`, …).
    pub delivery_id: Option<String>,
    pub event: Option<String>,
    pub action: Option<String>,
    pub repository: Option<String>,
    pub pr_number: Option<i64>,
    /// valid | invalid | missing | not-configured | unchecked
    pub signature: String,
    /// The HTTP status it was answered with.
    pub status: i64,
    pub outcome: String,
    pub app: Option<String>,
    pub environment_id: Option<String>,
    pub environment_name: Option<String>,
    pub received_at: i64,
    pub processed_at: Option<i64>,
    /// Its body was kept (the signature held) and an app took it.
    pub can_rerun: bool,
}

/// What a pull request was told of its preview, and how sending it went.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRow {
    pub repository: String,
    pub pr_number: i64,
    /// pending | ready | failed | destroyed
    pub state: String,
    pub environment_id: String,
    pub environment_name: String,
    /// The newest report was sent (else it waits, or was given up: see `last_error`).
    pub sent: bool,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
    pub next_attempt_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveriesPage {
    pub rows: Vec<DeliveryRow>,
    /// Reports to the pull requests, newest first.
    pub reports: Vec<ReportRow>,
    /// "all apps" or the teams whose apps' deliveries these are.
    pub scope: String,
}

/// How many of the newest deliveries the page shows.
pub const DELIVERIES_SHOWN: i64 = 200;

#[server(prefix = "/api/fn", endpoint = "list_deliveries")]
pub async fn list_deliveries() -> Result<DeliveriesPage, AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::context::*;
            let (state, meta) = (app_state()?, request_meta());
            crate::ssr::pull_requests::deliveries(&state, &meta, DELIVERIES_SHOWN).await
        }
        .await,
    )
}

/// Runs the portal's handling of a delivery again on its stored body.
#[server(prefix = "/api/fn", endpoint = "rerun_delivery")]
pub async fn rerun_delivery(id: String) -> Result<(), AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::context::*;
            let (state, meta) = (app_state()?, request_meta());
            crate::ssr::pull_requests::rerun(&state, &meta, &id).await
        }
        .await,
    )
}
