//! Approval requests for the queue page, the environment page and
//! `/api/v1/approvals`: one item shape for all three.

use crate::domain::money::Micros;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the approver saw when deciding (recorded with the decision).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub cost_so_far_micros: i64,
    pub hourly_micros: i64,
    pub adds_micros: i64,
    pub budget_headroom_micros: Option<i64>,
    pub expires_at: Option<i64>,
    pub new_expires_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalItem {
    pub id: String,
    /// `extend` or `destroy`.
    pub kind: String,
    /// `pending`, `approved`, `denied`, `expired` or `cancelled`.
    pub state: String,
    pub environment_id: String,
    pub environment_name: String,
    pub environment_state: String,
    pub tier: String,
    pub team: String,
    /// The requester's login; `None` when the portal asked (TTL reached).
    pub requested_by: Option<String>,
    pub requested_at: i64,
    /// The extension asked for (extend only).
    pub asked_ms: Option<i64>,
    pub reason: Option<String>,
    pub sla_deadline: i64,
    pub escalated_at: Option<i64>,
    /// The decider's login; `None` with a decision means the SLA (or the portal) closed it.
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
    pub decided_at: Option<i64>,
    pub seen: Option<Seen>,
    /// What an approver sees before deciding (pending requests, approvers
    /// only): the same facts the decision records.
    pub preview: Option<Seen>,
    /// What the environment cost from the request to its decision (or now).
    pub cost_while_waiting: Micros,
    /// What the environment costs per hour now.
    pub hourly: Micros,
    /// The viewer may approve or deny it (an approver, not the requester).
    pub may_decide: bool,
    /// The viewer may withdraw it (the requester).
    pub may_cancel: bool,
}

/// The queue page: pending requests first, then the filtered history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalsView {
    pub now: i64,
    /// The viewer decides requests (platform admins); others see their own.
    pub approver: bool,
    pub pending: Vec<ApprovalItem>,
    pub history: Vec<ApprovalItem>,
}

/// Filters of the history (empty strings: any).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryFilter {
    pub state: String,
    pub kind: String,
    pub team: String,
}

#[server(prefix = "/api/fn", endpoint = "approval_queue")]
pub async fn approval_queue(filter: HistoryFilter) -> Result<ApprovalsView, AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{approvals, clock::now_ms, context::*};
            let state = app_state()?;
            let meta = request_meta();
            let now = now_ms();
            let pending =
                approvals::list(&state, &meta, &HistoryFilter { state: "pending".into(), ..filter.clone() }, now)
                    .await?;
            let mut history = approvals::list(&state, &meta, &filter, now).await?;
            history.retain(|a| a.state != "pending");
            let approver = meta.viewer.as_ref().is_some_and(|v| v.is_approver());
            Ok(ApprovalsView { now, approver, pending, history })
        }
        .await,
    )
}

#[server(prefix = "/api/fn", endpoint = "decide_approval")]
pub async fn decide_approval(id: String, approve: bool, reason: String) -> Result<ApprovalItem, AppError> {
    crate::ssr::with_status(
        async {
            use crate::domain::approval::Decision;
            use crate::ssr::{approvals, clock::now_ms, context::*};
            let state = app_state()?;
            let meta = request_meta();
            let reason = reason.trim().to_string();
            let decision = if approve {
                Decision::Approve { reason: (!reason.is_empty()).then_some(reason) }
            } else {
                Decision::Deny { reason }
            };
            let a = approvals::decide(&state, &meta, &id, decision).await?;
            approvals::item(&state, &meta, &a.id, now_ms()).await
        }
        .await,
    )
}

#[server(prefix = "/api/fn", endpoint = "cancel_approval")]
pub async fn cancel_approval(id: String) -> Result<(), AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{approvals, context::*};
            approvals::cancel(&app_state()?, &request_meta(), &id).await.map(|_| ())
        }
        .await,
    )
}
