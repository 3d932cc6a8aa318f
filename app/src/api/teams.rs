use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamMember {
    pub login: String,
    pub display_name: String,
    pub role: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamAdmin {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub members: Vec<TeamMember>,
}

#[server(prefix = "/api/fn", endpoint = "list_teams_admin")]
pub async fn list_teams_admin() -> Result<Vec<TeamAdmin>, AppError> {
    crate::ssr::with_status(
        async {
            use crate::domain::authz::Action;
            use crate::ssr::{authz, context::*, internal, store};
            let (state, meta) = (app_state()?, request_meta());
            authz::require(&state, &meta, Action::ManageTeams, None).await?;
            let pool = state.db.pool();
            let teams = store::teams::list(pool).await.map_err(internal("listing teams"))?;
            let members = store::teams::all_members(pool).await.map_err(internal("listing members"))?;
            Ok(teams
                .into_iter()
                .map(|t| TeamAdmin {
                    members: members
                        .iter()
                        .filter(|m| m.0 == t.id)
                        .map(|m| TeamMember { login: m.1.clone(), display_name: m.2.clone(), role: m.3.clone() })
                        .collect(),
                    id: t.id,
                    slug: t.slug,
                    name: t.name,
                })
                .collect())
        }
        .await,
    )
}

#[server(prefix = "/api/fn", endpoint = "create_team")]
pub async fn create_team(slug: String, name: String) -> Result<(), AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{context::*, teams};
            teams::create_team(&app_state()?, &request_meta(), &slug, &name).await.map(|_| ())
        }
        .await,
    )
}

/// `role` is `developer`, `manager`, or empty to remove the member.
#[server(prefix = "/api/fn", endpoint = "set_team_member")]
pub async fn set_team_member(team_id: String, login: String, role: String) -> Result<(), AppError> {
    crate::ssr::with_status(
        async {
            use crate::domain::access::TeamRole;
            use crate::ssr::{context::*, teams};
            let role = match role.as_str() {
                "" => None,
                r => Some(r.parse::<TeamRole>().map_err(|e| AppError::invalid("role", e))?),
            };
            teams::set_member(&app_state()?, &request_meta(), &team_id, &login, role).await
        }
        .await,
    )
}

/// One person on the platform admins' People list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub login: String,
    pub display_name: String,
    pub platform_admin: bool,
    pub disabled: bool,
}

#[server(prefix = "/api/fn", endpoint = "list_people")]
pub async fn list_people() -> Result<Vec<Person>, AppError> {
    crate::ssr::with_status(
        async {
            use crate::domain::authz::Action;
            use crate::ssr::{authz, context::*, internal, store};
            let (state, meta) = (app_state()?, request_meta());
            authz::require(&state, &meta, Action::ManageTeams, None).await?;
            let rows = store::users::list_people(state.db.pool()).await.map_err(internal("listing people"))?;
            Ok(rows
                .into_iter()
                .map(|(login, display_name, admin, disabled_at)| Person {
                    login,
                    display_name,
                    platform_admin: admin != 0,
                    disabled: disabled_at.is_some(),
                })
                .collect())
        }
        .await,
    )
}

/// Disables (or enables again) a user: platform admins only.
#[server(prefix = "/api/fn", endpoint = "set_user_disabled")]
pub async fn set_user_disabled(login: String, disabled: bool) -> Result<(), AppError> {
    crate::ssr::with_status(
        async {
            use crate::ssr::{accounts, context::*};
            let (state, meta, viewer) = (app_state()?, request_meta(), require_viewer()?);
            accounts::set_disabled(&state.db, &meta, &viewer, &login, disabled).await
        }
        .await,
    )
}
