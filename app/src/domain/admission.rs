//! Admission control (seed: maturity Level 2): limits checked in the one
//! write path before an environment is created or claimed — live
//! environments per team and per user on a tier, and which tiers and apps
//! a team may use. Pure: the caller counts inside its transaction.

use super::tier::Tier;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Limits of one tier; `None` is unlimited.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierLimits {
    pub max_live_per_team: Option<u32>,
    pub max_live_per_user: Option<u32>,
}

/// What one team may use; `None` is everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamAllowance {
    pub tiers: Option<Vec<Tier>>,
    /// App slugs.
    pub apps: Option<Vec<String>>,
}

/// The whole admission policy (`[admission]` in the TOML, or the Policies page).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdmissionPolicy {
    /// Keyed by tier id (`preview-full`).
    #[serde(default)]
    pub tier: BTreeMap<Tier, TierLimits>,
    /// Keyed by team slug.
    #[serde(default)]
    pub team: BTreeMap<String, TeamAllowance>,
}

/// What a request would add, and what already counts against it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub team: &'a str,
    pub app: &'a str,
    pub tier: Tier,
    /// Live environments of the team on the tier now (before this one).
    pub team_live: u32,
    /// Live environments the user owns on the tier now.
    pub user_live: u32,
}

/// A refusal, naming the policy, the limit and the current value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("admission policy: team {team} may not use the {tier} tier (allowed: {allowed})")]
    TierNotAllowed { team: String, tier: Tier, allowed: String },
    #[error("admission policy: team {team} may not use app {app} (allowed: {allowed})")]
    AppNotAllowed { team: String, app: String, allowed: String },
    #[error("admission policy: team {team} has {current} live {tier} environments; the limit is {limit}")]
    TeamLimit { team: String, tier: Tier, limit: u32, current: u32 },
    #[error("admission policy: you have {current} live {tier} environments; the limit per user is {limit}")]
    UserLimit { tier: Tier, limit: u32, current: u32 },
}

impl Refusal {
    /// The policy's name, for the audit trail.
    pub const fn policy(&self) -> &'static str {
        match self {
            Refusal::TierNotAllowed { .. } => "tiers_allowed",
            Refusal::AppNotAllowed { .. } => "apps_allowed",
            Refusal::TeamLimit { .. } => "max_live_per_team",
            Refusal::UserLimit { .. } => "max_live_per_user",
        }
    }
}

impl AdmissionPolicy {
    /// Whether the request may go ahead.
    pub fn admit(&self, r: &Request<'_>) -> Result<(), Refusal> {
        if let Some(allow) = self.team.get(r.team) {
            if let Some(tiers) = &allow.tiers {
                if !tiers.contains(&r.tier) {
                    let allowed = tiers.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ");
                    return Err(Refusal::TierNotAllowed { team: r.team.into(), tier: r.tier, allowed });
                }
            }
            if let Some(apps) = &allow.apps {
                if !apps.iter().any(|a| a == r.app) {
                    return Err(Refusal::AppNotAllowed {
                        team: r.team.into(),
                        app: r.app.into(),
                        allowed: apps.join(", "),
                    });
                }
            }
        }
        if let Some(limits) = self.tier.get(&r.tier) {
            if let Some(limit) = limits.max_live_per_team.filter(|l| r.team_live >= *l) {
                return Err(Refusal::TeamLimit { team: r.team.into(), tier: r.tier, limit, current: r.team_live });
            }
            if let Some(limit) = limits.max_live_per_user.filter(|l| r.user_live >= *l) {
                return Err(Refusal::UserLimit { tier: r.tier, limit, current: r.user_live });
            }
        }
        Ok(())
    }

    /// Whether any count limit applies to `tier` (else counting is skipped).
    pub fn counts(&self, tier: Tier) -> bool {
        self.tier.get(&tier).is_some_and(|l| l.max_live_per_team.is_some() || l.max_live_per_user.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn req(team_live: u32, user_live: u32) -> Request<'static> {
        Request { team: "payments", app: "checkout-web", tier: Tier::PreviewFull, team_live, user_live }
    }

    #[test]
    fn no_policy_admits_everything() {
        assert_eq!(AdmissionPolicy::default().admit(&req(1_000, 1_000)), Ok(()));
    }

    #[test]
    fn refusals_name_the_policy_the_limit_and_the_current_value() {
        let mut p = AdmissionPolicy::default();
        p.tier.insert(Tier::PreviewFull, TierLimits { max_live_per_team: Some(5), max_live_per_user: Some(2) });
        assert_eq!(p.admit(&req(4, 1)), Ok(()));
        let team = p.admit(&req(5, 0)).unwrap_err();
        assert_eq!(team.policy(), "max_live_per_team");
        assert!(team.to_string().contains("has 5 live preview-full") && team.to_string().contains("limit is 5"));
        let user = p.admit(&req(0, 2)).unwrap_err();
        assert_eq!(user.policy(), "max_live_per_user");
        p.team.insert(
            "payments".into(),
            TeamAllowance { tiers: Some(vec![Tier::PreviewLightweight]), apps: Some(vec!["other".into()]) },
        );
        let tier = p.admit(&req(0, 0)).unwrap_err();
        assert!(tier.to_string().contains("allowed: preview-lightweight"), "{tier}");
        p.team.get_mut("payments").unwrap().tiers = None;
        assert_eq!(p.admit(&req(0, 0)).unwrap_err().policy(), "apps_allowed");
    }

    #[test]
    fn the_toml_shape_reads_and_rejects_unknown_keys() {
        let p: AdmissionPolicy = toml::from_str(
            r#"
            [tier.preview-full]
            max_live_per_team = 5
            [team.payments]
            tiers = ["preview-lightweight", "preview-full"]
            "#,
        )
        .unwrap();
        assert_eq!(p.tier[&Tier::PreviewFull].max_live_per_team, Some(5));
        assert!(toml::from_str::<AdmissionPolicy>("[tier.preview-full]\nmax_live = 5").is_err());
        assert!(toml::from_str::<AdmissionPolicy>("[tier.nope]\nmax_live_per_team = 5").is_err());
    }

    proptest! {
        // However many are already live, admitting one at a time never
        // goes past the limit.
        #[test]
        fn admitting_one_by_one_stops_at_the_limit(limit in 0u32..50, tries in 0u32..100) {
            let mut p = AdmissionPolicy::default();
            p.tier.insert(Tier::PreviewFull, TierLimits { max_live_per_team: Some(limit), max_live_per_user: None });
            let mut live = 0;
            for _ in 0..tries {
                if p.admit(&req(live, 0)).is_ok() {
                    live += 1;
                }
            }
            prop_assert_eq!(live, tries.min(limit));
        }
    }
}
