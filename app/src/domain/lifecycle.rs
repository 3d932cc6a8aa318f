//! Environment lifecycle states (seed §9 plus `failed`, which users need).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnvState {
    /// Provisioning.
    Pending,
    /// Provisioned, not yet deployed healthy.
    Ready,
    /// First deploy healthy and recently used.
    Active,
    /// No activity for the tier's idle window.
    Idle,
    /// TTL reached: warning sent, snapshot or approval under way.
    Expiring,
    /// Gone; final.
    Destroyed,
    /// Provisioning or a later step failed; carries a reason and can be retried.
    Failed,
}

impl EnvState {
    pub const ALL: [EnvState; 7] = [
        EnvState::Pending,
        EnvState::Ready,
        EnvState::Active,
        EnvState::Idle,
        EnvState::Expiring,
        EnvState::Destroyed,
        EnvState::Failed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            EnvState::Pending => "pending",
            EnvState::Ready => "ready",
            EnvState::Active => "active",
            EnvState::Idle => "idle",
            EnvState::Expiring => "expiring",
            EnvState::Destroyed => "destroyed",
            EnvState::Failed => "failed",
        }
    }

    /// Whether the environment still holds (or is acquiring) resources.
    pub const fn is_live(self) -> bool {
        !matches!(self, EnvState::Destroyed)
    }

    /// Whether it can be reached over its URL.
    pub const fn is_reachable(self) -> bool {
        matches!(self, EnvState::Ready | EnvState::Active | EnvState::Idle | EnvState::Expiring)
    }
}

impl fmt::Display for EnvState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown environment state {0:?}")]
pub struct UnknownState(pub String);

impl FromStr for EnvState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EnvState::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| UnknownState(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_ids_round_trip() {
        for s in EnvState::ALL {
            assert_eq!(s.as_str().parse::<EnvState>(), Ok(s));
        }
        assert!("running".parse::<EnvState>().is_err());
    }

    #[test]
    fn only_destroyed_is_not_live() {
        let dead: Vec<_> = EnvState::ALL.into_iter().filter(|s| !s.is_live()).collect();
        assert_eq!(dead, vec![EnvState::Destroyed]);
    }
}
