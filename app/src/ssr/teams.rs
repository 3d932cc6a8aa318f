//! Team administration by platform admins: create teams, add, change and
//! remove members. Each change authorizes, writes and audits in one
//! transaction.

use super::clock::{new_id, now_ms};
use super::store::{self, audit::AuditEvent, audit::Outcome, teams::Team};
use super::{authz, internal, AppState, RequestMeta};
use crate::domain::access::TeamRole;
use crate::domain::authz::Action;
use crate::domain::naming::slug;
use crate::error::AppError;

pub async fn create_team(state: &AppState, meta: &RequestMeta, team_slug: &str, name: &str) -> Result<Team, AppError> {
    authz::require(state, meta, Action::ManageTeams, None).await?;
    let wanted = team_slug.trim();
    if wanted.is_empty() || slug(wanted) != wanted || wanted.len() > 40 {
        return Err(AppError::invalid("slug", "use 1–40 lowercase letters, digits and dashes"));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(AppError::invalid("name", "give the team a name of 1 to 80 characters"));
    }
    let mut tx = state.db.pool().begin().await.map_err(internal("starting a transaction"))?;
    if store::teams::find_by_slug(&mut *tx, wanted).await.map_err(internal("checking a team"))?.is_some() {
        return Err(AppError::Conflict(format!("a team with slug {wanted:?} already exists")));
    }
    let team = Team { id: new_id(), slug: wanted.to_string(), name: name.to_string(), created_at: now_ms() };
    store::teams::insert(&mut *tx, &team).await.map_err(internal("creating a team"))?;
    let mut event = AuditEvent::from_request(meta, "team.create", "team", Some(team.id.clone()), Outcome::Success)
        .with_detail(serde_json::json!({ "slug": team.slug, "name": team.name }));
    event.team_id = Some(team.id.clone());
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a team"))?;
    tx.commit().await.map_err(internal("committing a team"))?;
    state.db.forget_catalog();
    Ok(team)
}

/// Sets a member's role, or removes them with `None`.
pub async fn set_member(
    state: &AppState,
    meta: &RequestMeta,
    team_id: &str,
    login: &str,
    role: Option<TeamRole>,
) -> Result<(), AppError> {
    authz::require(state, meta, Action::ManageTeams, None).await?;
    let mut tx = state.db.pool().begin().await.map_err(internal("starting a transaction"))?;
    let team =
        store::teams::find(&mut *tx, team_id).await.map_err(internal("finding a team"))?.ok_or(AppError::NotFound)?;
    let user = store::users::find_by_login(&mut *tx, login.trim())
        .await
        .map_err(internal("finding a user"))?
        .ok_or_else(|| AppError::invalid("login", format!("no user with login {:?}", login.trim())))?;
    store::users::set_membership(&mut tx, &team.id, &user.id, role, now_ms())
        .await
        .map_err(internal("setting a membership"))?;
    let mut event = AuditEvent::from_request(meta, "team.member", "user", Some(user.id.clone()), Outcome::Success)
        .with_detail(serde_json::json!({ "team": team.slug, "login": user.login, "role": role.map(|r| r.as_str()) }));
    event.team_id = Some(team.id.clone());
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a membership"))?;
    tx.commit().await.map_err(internal("committing a membership"))?;
    state.db.forget_catalog();
    state.db.forget_viewers();
    Ok(())
}
