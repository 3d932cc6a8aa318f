//! Server-side authorization: the pure decision from `domain::authz`, with
//! every denial appended to the audit trail.

use super::store::{self, audit::AuditEvent, audit::Outcome};
use super::{AppState, RequestMeta};
use crate::domain::access::Viewer;
use crate::domain::authz::{decide, Action, Decision};
use crate::error::AppError;

/// Allows or fails with `Unauthorized`, `Forbidden` or `NotFound`, auditing
/// the failure. Returns the viewer for convenience.
pub async fn require(
    state: &AppState,
    meta: &RequestMeta,
    action: Action,
    team_id: Option<&str>,
) -> Result<Viewer, AppError> {
    let Some(viewer) = meta.viewer.clone() else {
        audit_denial(state, meta, action, team_id, "not signed in").await;
        return Err(AppError::Unauthorized);
    };
    match decide(&viewer, action, team_id) {
        Decision::Allow => Ok(viewer),
        Decision::Forbidden => {
            audit_denial(state, meta, action, team_id, "role lacks the action").await;
            Err(AppError::Forbidden)
        }
        Decision::NotFound => {
            audit_denial(state, meta, action, team_id, "object outside the viewer's teams").await;
            Err(AppError::NotFound)
        }
    }
}

pub async fn audit_denial(state: &AppState, meta: &RequestMeta, action: Action, team_id: Option<&str>, reason: &str) {
    let mut event = AuditEvent::from_request(meta, "authz.deny", "action", None, Outcome::Denied)
        .with_detail(serde_json::json!({ "action": format!("{action:?}"), "reason": reason }));
    event.team_id = team_id.map(str::to_string);
    if let Err(err) = store::audit::append(state.db.pool(), &event).await {
        tracing::error!(error = %err, "auditing a denial");
    }
}
