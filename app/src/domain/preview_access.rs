//! Who a preview answers to (what Vercel calls deployment protection). An
//! environment runs a team's unreleased branch: by default only that team's
//! members and platform admins may open it. A tier and an app can each set
//! `preview_access`; the stricter of the two applies, so an app cannot open
//! what its tier keeps closed.

use crate::domain::access::Viewer;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PreviewAccess {
    /// Anyone who has the URL (a public demo).
    Public,
    /// Anyone signed in to the portal.
    SignedIn,
    /// Members of the environment's team and platform admins.
    #[default]
    Team,
}

impl PreviewAccess {
    pub const ALL: [PreviewAccess; 3] = [PreviewAccess::Team, PreviewAccess::SignedIn, PreviewAccess::Public];

    pub fn as_str(self) -> &'static str {
        match self {
            PreviewAccess::Public => "public",
            PreviewAccess::SignedIn => "signed-in",
            PreviewAccess::Team => "team",
        }
    }

    /// The rule in force for a tier's rule and an app's (if it sets one).
    pub fn effective(tier: PreviewAccess, app: Option<PreviewAccess>) -> PreviewAccess {
        app.map_or(tier, |a| a.max(tier))
    }

    /// Whether `viewer` (signed in to the portal) may open a preview of
    /// `team_id`'s under this rule.
    pub fn admits(self, viewer: &Viewer, team_id: &str) -> bool {
        match self {
            PreviewAccess::Public | PreviewAccess::SignedIn => true,
            PreviewAccess::Team => viewer.is_platform_admin || viewer.memberships.iter().any(|m| m.team_id == team_id),
        }
    }
}

impl std::str::FromStr for PreviewAccess {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PreviewAccess::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown preview access {s:?} (team, signed-in or public)"))
    }
}

/// Where a browser may be sent back to on a preview after signing in: a
/// path on that host, never another site (`//evil.example`, `/\evil`).
pub fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 2000
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if ok {
        next.to_string()
    } else {
        "/".to_string()
    }
}

/// Share links last at least an hour and at most 30 days.
pub const SHARE_LINK_MAX_HOURS: i64 = 30 * 24;

pub fn check_share_hours(hours: i64) -> Result<i64, &'static str> {
    if (1..=SHARE_LINK_MAX_HOURS).contains(&hours) {
        Ok(hours)
    } else {
        Err("must be between 1 hour and 720 hours (30 days)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::{Membership, TeamRole};
    use proptest::prelude::*;

    fn viewer(teams: &[&str], admin: bool) -> Viewer {
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
    fn team_previews_admit_members_and_platform_admins_only() {
        assert!(PreviewAccess::Team.admits(&viewer(&["t1"], false), "t1"));
        assert!(!PreviewAccess::Team.admits(&viewer(&["t2"], false), "t1"));
        assert!(PreviewAccess::Team.admits(&viewer(&[], true), "t1"));
        assert!(PreviewAccess::SignedIn.admits(&viewer(&[], false), "t1"));
    }

    #[test]
    fn the_stricter_rule_of_tier_and_app_applies() {
        use PreviewAccess::*;
        assert_eq!(PreviewAccess::effective(Team, Some(Public)), Team);
        assert_eq!(PreviewAccess::effective(Public, Some(SignedIn)), SignedIn);
        assert_eq!(PreviewAccess::effective(SignedIn, None), SignedIn);
        assert_eq!("signed-in".parse::<PreviewAccess>(), Ok(SignedIn));
        assert!("everyone".parse::<PreviewAccess>().is_err());
    }

    #[test]
    fn next_paths_stay_on_the_preview() {
        assert_eq!(safe_next("/cart?x=1"), "/cart?x=1");
        for bad in ["//evil.example/", "https://evil.example/", "/\\evil.example", "", "cart", "/a\nb"] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn effective_is_never_looser_than_either(t in 0usize..3, a in proptest::option::of(0usize..3)) {
            let tier = PreviewAccess::ALL[t];
            let app = a.map(|i| PreviewAccess::ALL[i]);
            let e = PreviewAccess::effective(tier, app);
            prop_assert!(e >= tier);
            if let Some(app) = app { prop_assert!(e >= app); }
        }

        #[test]
        fn safe_next_never_leaves_the_host(s in ".{0,40}") {
            let n = safe_next(&s);
            prop_assert!(n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'));
        }
    }
}
