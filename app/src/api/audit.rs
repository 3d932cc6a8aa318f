use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Filters of the audit page and its CSV export. Empty strings mean "any".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    /// Action prefix, e.g. `auth.` or `environment.create`.
    pub action: String,
    /// Actor login (exact).
    pub actor: String,
    /// `success`, `denied` or `failure`.
    pub outcome: String,
    /// Events strictly older than this id (paging, newest first).
    pub before: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: String,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub team_id: Option<String>,
    pub ip: Option<String>,
    pub outcome: String,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub rows: Vec<AuditRow>,
    /// Set when older events exist: pass it as `before` for the next page.
    pub next_before: Option<String>,
    /// "all teams" or the team slugs the viewer manages.
    pub scope: String,
}

pub const AUDIT_PAGE_SIZE: i64 = 100;

#[server(prefix = "/api/fn", endpoint = "list_audit")]
pub async fn list_audit(query: AuditQuery) -> Result<AuditPage, AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{audit_view, context::*};
            let (state, meta) = (app_state()?, request_meta());
            audit_view::page(&state, &meta, &query, AUDIT_PAGE_SIZE).await
        }
        .await,
    )
}
