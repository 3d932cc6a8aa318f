//! Environment tiers and their lifecycle policies (seed §9, DESIGN §2 table).
//! These are the defaults; configuration may override them later.

use super::time::{HOUR_MS, MINUTE_MS, SECOND_MS};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    PreviewLightweight,
    PreviewFull,
    PreviewCompliance,
    Staging,
    Production,
}

impl Tier {
    pub const ALL: [Tier; 5] =
        [Tier::PreviewLightweight, Tier::PreviewFull, Tier::PreviewCompliance, Tier::Staging, Tier::Production];

    /// The stable identifier stored in the database and used in the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Tier::PreviewLightweight => "preview-lightweight",
            Tier::PreviewFull => "preview-full",
            Tier::PreviewCompliance => "preview-compliance",
            Tier::Staging => "staging",
            Tier::Production => "production",
        }
    }

    /// What people call it.
    pub const fn label(self) -> &'static str {
        match self {
            Tier::PreviewLightweight => "Lightweight preview",
            Tier::PreviewFull => "Full preview",
            Tier::PreviewCompliance => "Compliance preview",
            Tier::Staging => "Staging",
            Tier::Production => "Production",
        }
    }

    pub const fn is_preview(self) -> bool {
        matches!(self, Tier::PreviewLightweight | Tier::PreviewFull | Tier::PreviewCompliance)
    }

    /// The seed's default policy for this tier.
    pub fn default_policy(self) -> TierPolicy {
        match self {
            Tier::PreviewLightweight => TierPolicy {
                ttl_ms: Some(4 * HOUR_MS),
                ttl_reset: TtlReset::AnyActivity,
                idle_after_ms: Some(HOUR_MS),
                warn_before_ms: Some(30 * MINUTE_MS),
                at_ttl: AtTtl::HardDestroy,
                extension: Extension { step_ms: 2 * HOUR_MS, max_lifetime_ms: 12 * HOUR_MS, needs_approval: false },
                strategy: DeploymentStrategy::Recreate,
                probe: ReadinessProbe { interval_ms: 30 * SECOND_MS, failure_threshold: 3 },
            },
            Tier::PreviewFull => TierPolicy {
                ttl_ms: Some(24 * HOUR_MS),
                ttl_reset: TtlReset::AnyActivity,
                idle_after_ms: Some(12 * HOUR_MS),
                warn_before_ms: Some(2 * HOUR_MS),
                at_ttl: AtTtl::SnapshotThenDestroy,
                extension: Extension { step_ms: 12 * HOUR_MS, max_lifetime_ms: 72 * HOUR_MS, needs_approval: false },
                strategy: DeploymentStrategy::Recreate,
                probe: ReadinessProbe { interval_ms: 30 * SECOND_MS, failure_threshold: 3 },
            },
            Tier::PreviewCompliance => TierPolicy {
                ttl_ms: Some(48 * HOUR_MS),
                ttl_reset: TtlReset::ManualExtensionOnly,
                idle_after_ms: Some(12 * HOUR_MS),
                warn_before_ms: Some(4 * HOUR_MS),
                at_ttl: AtTtl::SoftDestroy,
                extension: Extension { step_ms: 24 * HOUR_MS, max_lifetime_ms: 7 * 24 * HOUR_MS, needs_approval: true },
                strategy: DeploymentStrategy::Recreate,
                probe: ReadinessProbe { interval_ms: 30 * SECOND_MS, failure_threshold: 3 },
            },
            Tier::Staging => TierPolicy {
                ttl_ms: None,
                ttl_reset: TtlReset::Never,
                idle_after_ms: None,
                warn_before_ms: None,
                at_ttl: AtTtl::Never,
                extension: NO_EXTENSION,
                strategy: DeploymentStrategy::Rolling { max_surge_pct: 25, max_unavailable_pct: 25 },
                probe: ReadinessProbe { interval_ms: 60 * SECOND_MS, failure_threshold: 3 },
            },
            Tier::Production => TierPolicy {
                ttl_ms: None,
                ttl_reset: TtlReset::Never,
                idle_after_ms: None,
                warn_before_ms: None,
                at_ttl: AtTtl::Never,
                extension: NO_EXTENSION,
                strategy: DeploymentStrategy::BlueGreen,
                probe: ReadinessProbe { interval_ms: 60 * SECOND_MS, failure_threshold: 3 },
            },
        }
    }
}

/// Long-lived tiers have no TTL to extend.
const NO_EXTENSION: Extension = Extension { step_ms: 0, max_lifetime_ms: i64::MAX, needs_approval: false };

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown tier {0:?}; expected one of preview-lightweight, preview-full, preview-compliance, staging, production"
)]
pub struct UnknownTier(pub String);

impl FromStr for Tier {
    type Err = UnknownTier;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tier::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| UnknownTier(s.to_string()))
    }
}

/// What restarts the TTL clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TtlReset {
    /// Any commit, test run or traffic.
    AnyActivity,
    /// Only an extension approved by the platform team.
    ManualExtensionOnly,
    /// The tier has no TTL.
    Never,
}

/// What happens when the TTL is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AtTtl {
    HardDestroy,
    SnapshotThenDestroy,
    /// Stays `expiring` until a platform admin approves the destroy.
    SoftDestroy,
    Never,
}

impl AtTtl {
    pub const fn describe(self) -> &'static str {
        match self {
            AtTtl::HardDestroy => "destroyed, no exceptions",
            AtTtl::SnapshotThenDestroy => "snapshot, then destroyed",
            AtTtl::SoftDestroy => "held for platform approval, then destroyed",
            AtTtl::Never => "kept (manual destroy only)",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeploymentStrategy {
    Recreate,
    Rolling { max_surge_pct: u8, max_unavailable_pct: u8 },
    BlueGreen,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessProbe {
    pub interval_ms: i64,
    pub failure_threshold: u32,
}

/// A tier's lifecycle rules. `None` durations mean "not applicable".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierPolicy {
    pub ttl_ms: Option<i64>,
    pub ttl_reset: TtlReset,
    pub idle_after_ms: Option<i64>,
    pub warn_before_ms: Option<i64>,
    pub at_ttl: AtTtl,
    pub extension: Extension,
    pub strategy: DeploymentStrategy,
    pub probe: ReadinessProbe,
}

/// How an environment's expiry may be pushed back by hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extension {
    /// Most one extension adds (ms).
    pub step_ms: i64,
    /// Expiry never goes past creation + this (ms), whatever resets or extends it.
    pub max_lifetime_ms: i64,
    /// Whether a platform admin must approve each extension.
    pub needs_approval: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_ids_round_trip() {
        for tier in Tier::ALL {
            assert_eq!(tier.as_str().parse::<Tier>(), Ok(tier));
        }
        assert!("preview".parse::<Tier>().is_err());
    }

    #[test]
    fn seed_ttls_and_warnings_are_the_defaults() {
        let lw = Tier::PreviewLightweight.default_policy();
        assert_eq!((lw.ttl_ms, lw.warn_before_ms), (Some(4 * HOUR_MS), Some(30 * MINUTE_MS)));
        assert_eq!(lw.at_ttl, AtTtl::HardDestroy);
        let full = Tier::PreviewFull.default_policy();
        assert_eq!((full.ttl_ms, full.warn_before_ms), (Some(24 * HOUR_MS), Some(2 * HOUR_MS)));
        assert_eq!(full.at_ttl, AtTtl::SnapshotThenDestroy);
        let comp = Tier::PreviewCompliance.default_policy();
        assert_eq!((comp.ttl_ms, comp.warn_before_ms), (Some(48 * HOUR_MS), Some(4 * HOUR_MS)));
        assert_eq!(comp.ttl_reset, TtlReset::ManualExtensionOnly);
        assert_eq!(comp.at_ttl, AtTtl::SoftDestroy);
    }

    #[test]
    fn long_lived_tiers_never_expire() {
        for tier in [Tier::Staging, Tier::Production] {
            let p = tier.default_policy();
            assert_eq!((p.ttl_ms, p.at_ttl), (None, AtTtl::Never));
        }
        assert_eq!(Tier::Production.default_policy().strategy, DeploymentStrategy::BlueGreen);
    }

    #[test]
    fn extensions_stay_within_a_maximum_lifetime_longer_than_the_ttl() {
        for tier in Tier::ALL.into_iter().filter(|t| t.is_preview()) {
            let p = tier.default_policy();
            assert!(p.extension.step_ms > 0);
            assert!(p.extension.max_lifetime_ms > p.ttl_ms.unwrap(), "{tier}");
        }
        assert!(Tier::PreviewCompliance.default_policy().extension.needs_approval);
    }

    #[test]
    fn warnings_come_before_the_ttl() {
        for tier in Tier::ALL {
            let p = tier.default_policy();
            if let (Some(ttl), Some(warn)) = (p.ttl_ms, p.warn_before_ms) {
                assert!(warn < ttl, "{tier}: warning must fall inside the TTL");
            }
        }
    }
}
