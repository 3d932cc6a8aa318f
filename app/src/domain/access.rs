//! Roles. Team roles are per team; platform admin is global.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TeamRole {
    Developer,
    Manager,
}

impl TeamRole {
    pub const fn as_str(self) -> &'static str {
        match self {
            TeamRole::Developer => "developer",
            TeamRole::Manager => "manager",
        }
    }
}

impl FromStr for TeamRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "developer" => Ok(TeamRole::Developer),
            "manager" => Ok(TeamRole::Manager),
            other => Err(format!("unknown team role {other:?}; expected developer or manager")),
        }
    }
}

/// One team the viewer belongs to, with their role in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub team_id: String,
    pub team_slug: String,
    pub team_name: String,
    pub role: TeamRole,
}

/// Who is signed in, as the UI and every authorization check sees them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub user_id: String,
    pub login: String,
    pub display_name: String,
    pub is_platform_admin: bool,
    /// A member of the approver team (`EOD_APPROVERS`): decides approval
    /// requests on preview tiers besides platform admins.
    #[serde(default)]
    pub approver_group: bool,
    pub memberships: Vec<Membership>,
}

impl Viewer {
    /// Whether the viewer decides approval requests (on some tier at least).
    pub fn is_approver(&self) -> bool {
        self.is_platform_admin || self.approver_group
    }

    /// Whether the viewer may see a team's environments.
    pub fn can_see_team(&self, team_id: &str) -> bool {
        self.is_platform_admin || self.memberships.iter().any(|m| m.team_id == team_id)
    }

    /// A one-line description for the header: "manager · payments".
    pub fn roles_summary(&self) -> String {
        let mut parts: Vec<String> =
            self.memberships.iter().map(|m| format!("{} · {}", m.role.as_str(), m.team_slug)).collect();
        if self.is_platform_admin {
            parts.insert(0, "platform admin".to_string());
        }
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(admin: bool, teams: &[&str]) -> Viewer {
        Viewer {
            user_id: "u".into(),
            login: "u".into(),
            display_name: "U".into(),
            is_platform_admin: admin,
            approver_group: false,
            memberships: teams
                .iter()
                .map(|t| Membership {
                    team_id: t.to_string(),
                    team_slug: t.to_string(),
                    team_name: t.to_string(),
                    role: TeamRole::Developer,
                })
                .collect(),
        }
    }

    #[test]
    fn members_see_only_their_teams() {
        let v = viewer(false, &["payments"]);
        assert!(v.can_see_team("payments"));
        assert!(!v.can_see_team("search"));
    }

    #[test]
    fn platform_admins_see_every_team() {
        assert!(viewer(true, &[]).can_see_team("search"));
    }

    #[test]
    fn roles_parse_from_their_ids() {
        assert_eq!("manager".parse::<TeamRole>(), Ok(TeamRole::Manager));
        assert!("owner".parse::<TeamRole>().is_err());
    }
}
