//! Reading the audit trail: platform admins see everything, managers their
//! teams' events, everyone else nothing. Shared by the page and the CSV export.

use super::store::{self, audit::Search};
use super::{authz, internal, AppState, RequestMeta};
use crate::api::audit::{AuditPage, AuditQuery, AuditRow};
use crate::domain::authz::{teams_for, Action};
use crate::error::AppError;

pub async fn page(state: &AppState, meta: &RequestMeta, query: &AuditQuery, limit: i64) -> Result<AuditPage, AppError> {
    let viewer = meta.viewer.clone().ok_or(AppError::Unauthorized)?;
    let teams = if viewer.is_platform_admin {
        authz::require(state, meta, Action::ViewAllAudit, None).await?;
        None
    } else {
        let managed = teams_for(&viewer, Action::ViewTeamAudit).unwrap_or_default();
        if managed.is_empty() {
            authz::audit_denial(state, meta, Action::ViewTeamAudit, None, "manages no team").await;
            return Err(AppError::Forbidden);
        }
        Some(managed)
    };
    if !matches!(query.outcome.as_str(), "" | "success" | "denied" | "failure") {
        return Err(AppError::invalid("outcome", "expected success, denied or failure"));
    }
    let search = Search {
        teams: teams.as_deref(),
        action_prefix: query.action.trim(),
        actor_label: query.actor.trim(),
        outcome: &query.outcome,
        before_id: query.before.trim(),
    };
    // One extra row tells whether an older page exists.
    let mut events = store::audit::search(state.db.pool(), &search, limit + 1)
        .await
        .map_err(internal("searching the audit trail"))?;
    let next_before = (events.len() as i64 > limit).then(|| {
        events.truncate(limit as usize);
        events.last().map(|e| e.id.clone()).unwrap_or_default()
    });
    let scope = match &teams {
        None => "all teams".to_string(),
        Some(ids) => viewer
            .memberships
            .iter()
            .filter(|m| ids.contains(&m.team_id))
            .map(|m| m.team_slug.clone())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let rows = events
        .into_iter()
        .map(|e| AuditRow {
            target: match &e.target_id {
                Some(id) => format!("{} {id}", e.target_kind),
                None => e.target_kind.clone(),
            },
            id: e.id,
            at: e.at,
            actor: e.actor_label,
            action: e.action,
            team_id: e.team_id,
            ip: e.ip,
            outcome: e.outcome,
            detail: e.detail,
        })
        .collect();
    Ok(AuditPage { rows, next_before, scope })
}
