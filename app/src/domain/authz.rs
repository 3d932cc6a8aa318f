//! Who may do what. One pure function decides every check on the server
//! (server functions, `/api/v1`, handlers); the matrix test below pins the
//! whole policy and fails when an action is added without its rows.
//!
//! Object scoping: a team-scoped action on a team the viewer does not belong
//! to is `NotFound`, so other teams' objects are indistinguishable from
//! missing ones. A permitted object with a role that lacks the action is
//! `Forbidden`.

use super::access::{TeamRole, Viewer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// List and read environments (team-scoped).
    ViewEnvironments,
    /// New preview, extend, destroy, report activity (team-scoped).
    OperateEnvironments,
    /// Read costs and chargeback (team-scoped).
    ViewCosts,
    /// Set budgets and alert levels (team-scoped).
    ManageBudgets,
    /// Read the audit trail of a team (team-scoped).
    ViewTeamAudit,
    /// Read the whole audit trail.
    ViewAllAudit,
    /// Approve or deny compliance extensions and soft destroys.
    Approve,
    /// Create teams and manage members.
    ManageTeams,
    /// Edit tier policies, the price book and warm pools.
    ManagePolicies,
    /// Create and revoke one's own API tokens.
    ManageOwnTokens,
    /// See a team's apps and their blueprints (team-scoped).
    ViewApps,
    /// Register, edit and archive a team's apps (team-scoped; platform
    /// admins only where `EOD_APP_ADMINS=platform`).
    ManageApps,
    /// Read the ROI and maturity dashboards (platform-wide figures):
    /// platform admins and the managers of any team.
    ViewInsights,
}

impl Action {
    pub const ALL: [Action; 13] = [
        Action::ViewEnvironments,
        Action::OperateEnvironments,
        Action::ViewCosts,
        Action::ManageBudgets,
        Action::ViewTeamAudit,
        Action::ViewAllAudit,
        Action::Approve,
        Action::ManageTeams,
        Action::ManagePolicies,
        Action::ManageOwnTokens,
        Action::ViewApps,
        Action::ManageApps,
        Action::ViewInsights,
    ];

    /// Whether the action is about one team's objects.
    pub const fn is_team_scoped(self) -> bool {
        matches!(
            self,
            Action::ViewEnvironments
                | Action::OperateEnvironments
                | Action::ViewCosts
                | Action::ManageBudgets
                | Action::ViewTeamAudit
                | Action::ViewApps
                | Action::ManageApps
        )
    }

    /// The lowest team role that may perform a team-scoped action.
    const fn minimum_role(self) -> Option<TeamRole> {
        match self {
            Action::ViewEnvironments | Action::OperateEnvironments | Action::ViewApps => Some(TeamRole::Developer),
            Action::ViewCosts | Action::ManageBudgets | Action::ViewTeamAudit | Action::ManageApps => {
                Some(TeamRole::Manager)
            }
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Forbidden,
    NotFound,
}

/// Decides whether `viewer` may perform `action`, on `team_id` for
/// team-scoped actions (ignored otherwise).
pub fn decide(viewer: &Viewer, action: Action, team_id: Option<&str>) -> Decision {
    if viewer.is_platform_admin {
        return Decision::Allow;
    }
    if action == Action::ManageOwnTokens {
        return Decision::Allow;
    }
    // The approver group decides requests; which tiers' is
    // `approval::may_decide`.
    if action == Action::Approve && viewer.approver_group {
        return Decision::Allow;
    }
    if action == Action::ViewInsights && viewer.memberships.iter().any(|m| m.role == TeamRole::Manager) {
        return Decision::Allow;
    }
    if !action.is_team_scoped() {
        return Decision::Forbidden;
    }
    let Some(team_id) = team_id else {
        return Decision::NotFound;
    };
    let Some(membership) = viewer.memberships.iter().find(|m| m.team_id == team_id) else {
        return Decision::NotFound;
    };
    match action.minimum_role() {
        Some(TeamRole::Manager) if membership.role != TeamRole::Manager => Decision::Forbidden,
        Some(_) => Decision::Allow,
        None => Decision::Forbidden,
    }
}

/// Teams on which the viewer may perform a team-scoped action (platform
/// admins: `None`, meaning every team).
pub fn teams_for(viewer: &Viewer, action: Action) -> Option<Vec<String>> {
    if viewer.is_platform_admin {
        return None;
    }
    Some(
        viewer
            .memberships
            .iter()
            .filter(|m| decide(viewer, action, Some(&m.team_id)) == Decision::Allow)
            .map(|m| m.team_id.clone())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::Membership;
    use Decision::{Allow as A, Forbidden as F, NotFound as N};

    #[derive(Clone, Copy, Debug)]
    enum Who {
        Developer,
        Manager,
        PlatformAdmin,
        /// A developer of "own" in the approver team.
        Approver,
    }

    fn viewer(who: Who) -> Viewer {
        let role = match who {
            Who::Manager => TeamRole::Manager,
            _ => TeamRole::Developer,
        };
        Viewer {
            user_id: "u".into(),
            login: "u".into(),
            display_name: "U".into(),
            is_platform_admin: matches!(who, Who::PlatformAdmin),
            approver_group: matches!(who, Who::Approver),
            memberships: match who {
                Who::PlatformAdmin => vec![],
                _ => vec![Membership { team_id: "own".into(), team_slug: "own".into(), team_name: "Own".into(), role }],
            },
        }
    }

    /// (action, [developer own, developer other, manager own, manager other, admin own, admin other,
    ///  approver-group developer own, approver-group developer other])
    const MATRIX: &[(Action, [Decision; 8])] = &[
        (Action::ViewEnvironments, [A, N, A, N, A, A, A, N]),
        (Action::OperateEnvironments, [A, N, A, N, A, A, A, N]),
        (Action::ViewCosts, [F, N, A, N, A, A, F, N]),
        (Action::ManageBudgets, [F, N, A, N, A, A, F, N]),
        (Action::ViewTeamAudit, [F, N, A, N, A, A, F, N]),
        (Action::ViewAllAudit, [F, F, F, F, A, A, F, F]),
        (Action::Approve, [F, F, F, F, A, A, A, A]),
        (Action::ManageTeams, [F, F, F, F, A, A, F, F]),
        (Action::ManagePolicies, [F, F, F, F, A, A, F, F]),
        (Action::ManageOwnTokens, [A, A, A, A, A, A, A, A]),
        (Action::ViewApps, [A, N, A, N, A, A, A, N]),
        (Action::ManageApps, [F, N, A, N, A, A, F, N]),
        (Action::ViewInsights, [F, F, A, A, A, A, F, F]),
    ];

    #[test]
    fn every_action_has_a_row_in_the_matrix() {
        for action in Action::ALL {
            assert_eq!(MATRIX.iter().filter(|(a, _)| *a == action).count(), 1, "{action:?} needs exactly one row");
        }
    }

    #[test]
    fn role_by_action_by_ownership_matrix() {
        for (action, expected) in MATRIX {
            let cases = [
                (Who::Developer, "own"),
                (Who::Developer, "other"),
                (Who::Manager, "own"),
                (Who::Manager, "other"),
                (Who::PlatformAdmin, "own"),
                (Who::PlatformAdmin, "other"),
                (Who::Approver, "own"),
                (Who::Approver, "other"),
            ];
            for ((who, team), want) in cases.into_iter().zip(expected) {
                let got = decide(&viewer(who), *action, Some(team));
                assert_eq!(got, *want, "{who:?} × {action:?} × {team} team");
            }
        }
    }

    #[test]
    fn team_scoped_actions_without_a_team_are_not_found() {
        assert_eq!(decide(&viewer(Who::Manager), Action::ViewCosts, None), N);
    }

    #[test]
    fn teams_for_lists_where_the_role_suffices() {
        assert_eq!(teams_for(&viewer(Who::Developer), Action::ViewCosts), Some(vec![]));
        assert_eq!(teams_for(&viewer(Who::Manager), Action::ViewCosts), Some(vec!["own".to_string()]));
        assert_eq!(teams_for(&viewer(Who::PlatformAdmin), Action::ViewCosts), None);
    }
}
