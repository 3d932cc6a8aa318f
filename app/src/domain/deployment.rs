//! Deployments: a new commit replacing what an environment runs, by its
//! tier's strategy (`tier::DeploymentStrategy`). A deployment is a record
//! (who, commit, strategy, when it started, was ready, ended, and how) with
//! its own small state machine; the environment's `commit_sha` is what
//! serves now.

use super::lifecycle::EnvState;
use super::tier::DeploymentStrategy;
use super::time::MINUTE_MS;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How long a blue-green deployment keeps the old colour running, ready to
/// switch back to.
pub const ROLLBACK_WINDOW_MS: i64 = 15 * MINUTE_MS;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeployState {
    /// Asked for; its job has not started.
    Queued,
    /// The new version is being built and started.
    Deploying,
    /// The new version serves.
    Succeeded,
    /// The new version never became ready (what ran before still serves,
    /// except under recreate, where the environment is restarted).
    Failed,
    /// It served, then traffic went back to the version before it.
    RolledBack,
}

impl DeployState {
    pub const ALL: [DeployState; 5] = [
        DeployState::Queued,
        DeployState::Deploying,
        DeployState::Succeeded,
        DeployState::Failed,
        DeployState::RolledBack,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            DeployState::Queued => "queued",
            DeployState::Deploying => "deploying",
            DeployState::Succeeded => "succeeded",
            DeployState::Failed => "failed",
            DeployState::RolledBack => "rolled-back",
        }
    }

    /// Whether its job is done with it (a succeeded blue-green deployment
    /// can still be rolled back within its window, by a person or the portal).
    pub const fn is_finished(self) -> bool {
        !matches!(self, DeployState::Queued | DeployState::Deploying)
    }

    /// The states a deployment may go to from this one.
    pub const fn next(self) -> &'static [DeployState] {
        match self {
            DeployState::Queued => &[DeployState::Deploying, DeployState::Failed],
            DeployState::Deploying => &[DeployState::Succeeded, DeployState::Failed],
            DeployState::Succeeded => &[DeployState::RolledBack],
            DeployState::Failed | DeployState::RolledBack => &[],
        }
    }
}

impl fmt::Display for DeployState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeployState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeployState::ALL.into_iter().find(|d| d.as_str() == s).ok_or_else(|| format!("unknown deployment state {s:?}"))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("only a running (active or idle) environment takes a deployment; this one is {0}")]
    NotRunning(EnvState),
    #[error("a deployment is already under way; wait for it to finish")]
    Busy,
    #[error("only a blue-green deployment can be rolled back")]
    NotBlueGreen,
    #[error("only the deployment that serves now can be rolled back")]
    NotServing,
    #[error("its rollback window has closed (the old version is gone)")]
    WindowClosed,
}

/// Whether an environment in `state`, with `busy` telling whether a
/// deployment is under way, may take a new one.
pub fn may_deploy(state: EnvState, busy: bool) -> Result<(), Refused> {
    if !matches!(state, EnvState::Active | EnvState::Idle) {
        return Err(Refused::NotRunning(state));
    }
    if busy {
        return Err(Refused::Busy);
    }
    Ok(())
}

/// What is known of a deployment when someone asks to roll it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RollbackCheck {
    pub strategy: DeploymentStrategy,
    pub state: DeployState,
    /// Whether it is the environment's latest succeeded deployment.
    pub serving: bool,
    pub rollback_until: Option<i64>,
}

pub fn may_roll_back(d: &RollbackCheck, now: i64) -> Result<(), Refused> {
    if d.strategy != DeploymentStrategy::BlueGreen {
        return Err(Refused::NotBlueGreen);
    }
    if d.state != DeployState::Succeeded || !d.serving {
        return Err(Refused::NotServing);
    }
    match d.rollback_until {
        Some(until) if now < until => Ok(()),
        _ => Err(Refused::WindowClosed),
    }
}

/// When a deployment that became ready at `ready_at` stops offering a
/// rollback (`None`: its strategy keeps nothing to go back to).
pub fn rollback_until(strategy: DeploymentStrategy, ready_at: i64) -> Option<i64> {
    (strategy == DeploymentStrategy::BlueGreen).then(|| ready_at + ROLLBACK_WINDOW_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_round_trip() {
        for s in DeployState::ALL {
            assert_eq!(s.as_str().parse::<DeployState>(), Ok(s));
        }
        for s in DeploymentStrategy::ALL {
            assert_eq!(s.as_str().parse::<DeploymentStrategy>(), Ok(s));
        }
        assert!("done".parse::<DeployState>().is_err());
    }

    #[test]
    fn every_state_reaches_an_end() {
        // No dead ends: from each state some path leads to one with no way on.
        for start in DeployState::ALL {
            let mut seen = vec![start];
            let mut frontier = vec![start];
            let mut ends = false;
            while let Some(s) = frontier.pop() {
                if s.next().is_empty() {
                    ends = true;
                }
                for n in s.next() {
                    if !seen.contains(n) {
                        seen.push(*n);
                        frontier.push(*n);
                    }
                }
            }
            assert!(ends, "{start:?} never ends");
            assert!(start.is_finished() || !start.next().is_empty(), "{start:?} waits on nothing");
        }
    }

    #[test]
    fn only_running_idle_environments_deploy_one_at_a_time() {
        assert_eq!(may_deploy(EnvState::Active, false), Ok(()));
        assert_eq!(may_deploy(EnvState::Idle, false), Ok(()));
        assert_eq!(may_deploy(EnvState::Active, true), Err(Refused::Busy));
        for s in [EnvState::Pending, EnvState::Ready, EnvState::Expiring, EnvState::Failed, EnvState::Destroyed] {
            assert_eq!(may_deploy(s, false), Err(Refused::NotRunning(s)));
        }
    }

    #[test]
    fn only_a_serving_blue_green_deployment_rolls_back_within_its_window() {
        let ok = RollbackCheck {
            strategy: DeploymentStrategy::BlueGreen,
            state: DeployState::Succeeded,
            serving: true,
            rollback_until: rollback_until(DeploymentStrategy::BlueGreen, 1_000),
        };
        assert_eq!(may_roll_back(&ok, 1_000 + ROLLBACK_WINDOW_MS - 1), Ok(()));
        assert_eq!(may_roll_back(&ok, 1_000 + ROLLBACK_WINDOW_MS), Err(Refused::WindowClosed));
        let rolling = RollbackCheck { strategy: DeploymentStrategy::Rolling, rollback_until: None, ..ok.clone() };
        assert_eq!(may_roll_back(&rolling, 1_000), Err(Refused::NotBlueGreen));
        let older = RollbackCheck { serving: false, ..ok.clone() };
        assert_eq!(may_roll_back(&older, 1_000), Err(Refused::NotServing));
        let failed = RollbackCheck { state: DeployState::Failed, ..ok };
        assert_eq!(may_roll_back(&failed, 1_000), Err(Refused::NotServing));
        assert_eq!(rollback_until(DeploymentStrategy::Recreate, 5), None);
    }

    proptest! {
        #[test]
        fn a_rollback_is_possible_only_before_its_window_ends(ready in 0i64..1_000_000_000, dt in 0i64..2 * ROLLBACK_WINDOW_MS) {
            let d = RollbackCheck {
                strategy: DeploymentStrategy::BlueGreen,
                state: DeployState::Succeeded,
                serving: true,
                rollback_until: rollback_until(DeploymentStrategy::BlueGreen, ready),
            };
            prop_assert_eq!(may_roll_back(&d, ready + dt).is_ok(), dt < ROLLBACK_WINDOW_MS);
        }
    }
}
