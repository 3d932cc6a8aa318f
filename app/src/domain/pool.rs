//! Pre-warmed pools: per app and tier, environments provisioned ahead so a
//! New-preview request takes one that already runs. A claimed member takes
//! its user's name, owner and TTL; the pool then refills. Refills run under
//! a lock (one replica at a time), so the pool never over-fills.

use super::naming::slug;
use super::tier::Tier;
use serde::{Deserialize, Serialize};

/// One configured pool (`[[pool]]` in the configuration file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    /// The app's slug.
    pub app: String,
    /// The team owning the app, when several teams have an app with that slug.
    #[serde(default)]
    pub team: Option<String>,
    pub tier: Tier,
    /// How many members to keep ready.
    pub size: u32,
}

/// Most members one pool may hold: each is a running process.
pub const MAX_POOL_SIZE: u32 = 50;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("pool for {0:?}: size must be between 0 and {MAX_POOL_SIZE}")]
    Size(String),
    #[error(
        "pool for {0:?}: only lightweight and full previews are pooled (compliance previews are isolated per request)"
    )]
    Tier(String),
    #[error("pool for {0:?} appears twice")]
    Duplicate(String),
}

pub fn validate(pools: &[PoolSpec]) -> Result<(), PoolError> {
    for (i, p) in pools.iter().enumerate() {
        if p.size > MAX_POOL_SIZE {
            return Err(PoolError::Size(p.app.clone()));
        }
        if !matches!(p.tier, Tier::PreviewLightweight | Tier::PreviewFull) {
            return Err(PoolError::Tier(p.app.clone()));
        }
        if pools[..i].iter().any(|q| q.app == p.app && q.team == p.team && q.tier == p.tier) {
            return Err(PoolError::Duplicate(p.app.clone()));
        }
    }
    Ok(())
}

/// A member's name: recognisably a pool member until it is claimed.
pub fn member_name(app_slug: &str, tier: Tier, suffix: &str) -> String {
    let short = match tier {
        Tier::PreviewLightweight => "lw",
        Tier::PreviewFull => "full",
        Tier::PreviewCompliance => "comp",
        Tier::Staging => "stg",
        Tier::Production => "prod",
    };
    let app: String = slug(app_slug).chars().take(40).collect();
    format!("pool-{}-{short}-{}", app.trim_end_matches('-'), slug(suffix))
}

/// What a refill does: start this many members, or retire this many
/// (when the configured size shrank).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refill {
    Start(u32),
    Retire(u32),
    Nothing,
}

/// `live` counts members that are provisioning or ready (not failed or going).
pub fn refill(size: u32, live: u32) -> Refill {
    match live.cmp(&size) {
        std::cmp::Ordering::Less => Refill::Start(size - live),
        std::cmp::Ordering::Greater => Refill::Retire(live - size),
        std::cmp::Ordering::Equal => Refill::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::naming::is_valid_name;

    #[test]
    fn member_names_are_valid_environment_names() {
        let long = "a".repeat(80);
        for tier in Tier::ALL {
            assert!(is_valid_name(&member_name("checkout-web", tier, "x7k2")));
            assert!(is_valid_name(&member_name(&long, tier, "0a1b")));
        }
    }

    #[test]
    fn refill_tops_up_or_retires() {
        assert_eq!(refill(3, 1), Refill::Start(2));
        assert_eq!(refill(1, 3), Refill::Retire(2));
        assert_eq!(refill(2, 2), Refill::Nothing);
        assert_eq!(refill(0, 0), Refill::Nothing);
    }

    #[test]
    fn pools_are_validated() {
        let p = |tier, size| PoolSpec { app: "web".into(), team: None, tier, size };
        assert_eq!(validate(&[p(Tier::PreviewLightweight, 2), p(Tier::PreviewFull, 1)]), Ok(()));
        assert!(matches!(validate(&[p(Tier::PreviewLightweight, 51)]), Err(PoolError::Size(_))));
        assert!(matches!(validate(&[p(Tier::Staging, 1)]), Err(PoolError::Tier(_))));
        assert!(matches!(validate(&[p(Tier::PreviewCompliance, 1)]), Err(PoolError::Tier(_))));
        assert!(matches!(validate(&[p(Tier::PreviewFull, 1), p(Tier::PreviewFull, 2)]), Err(PoolError::Duplicate(_))));
    }
}
