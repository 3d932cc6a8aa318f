//! Runtime health, beside the lifecycle state: what the tier's probes say of
//! a running environment, and when a broken one is restarted. The lifecycle
//! says where an environment is in its life (active, idle, expiring); health
//! says whether what should serve actually does.

use super::tier::ReadinessProbe;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    /// The last probe passed.
    Healthy,
    /// The tier's failure threshold was reached, or the process is gone: it
    /// is being restarted.
    Unhealthy,
    /// Not probed yet (provisioning) or not running (failed, destroyed).
    Unknown,
}

impl Health {
    pub const ALL: [Health; 3] = [Health::Healthy, Health::Unhealthy, Health::Unknown];

    pub const fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
            Health::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown health {0:?}")]
pub struct UnknownHealth(pub String);

impl FromStr for Health {
    type Err = UnknownHealth;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Health::ALL.into_iter().find(|h| h.as_str() == s).ok_or_else(|| UnknownHealth(s.to_string()))
    }
}

/// One look at a running environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The health path answered 2xx.
    Passed,
    /// The process runs but the health path did not answer 2xx in time.
    Failed(String),
    /// No process serves it any more: it exited or was killed.
    Gone,
}

/// What the monitor remembers between probes of one environment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Streak {
    /// Consecutive failed probes.
    pub failures: u32,
}

/// A change of health to write (with its audit event, notification and,
/// for `Unhealthy`, the restart job).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub to: Health,
    pub reason: String,
}

/// Folds one probe into the streak; returns the change to record, if any.
/// A process that is gone is unhealthy at once (waiting for more misses
/// only delays the restart); a serving one after `failure_threshold`
/// consecutive misses.
pub fn observe(current: Health, streak: Streak, probe: &Probe, policy: &ReadinessProbe) -> (Streak, Option<Change>) {
    match probe {
        Probe::Passed => {
            let change = (current != Health::Healthy)
                .then(|| Change { to: Health::Healthy, reason: "the health probe passes".into() });
            (Streak::default(), change)
        }
        Probe::Failed(why) => {
            let failures = streak.failures.saturating_add(1);
            let change =
                (failures >= policy.failure_threshold.max(1) && current != Health::Unhealthy).then(|| Change {
                    to: Health::Unhealthy,
                    reason: format!("the health probe failed {failures} times in a row: {why}"),
                });
            (Streak { failures }, change)
        }
        Probe::Gone => {
            let change = (current != Health::Unhealthy)
                .then(|| Change { to: Health::Unhealthy, reason: "the process exited".into() });
            (Streak { failures: streak.failures.saturating_add(1) }, change)
        }
    }
}

/// The first restart waits 2 s, each further one twice as long, at most
/// 5 minutes: a crash loop does not hog the host, a one-off crash is back
/// at once.
pub fn restart_backoff_ms(restarts: i64) -> i64 {
    const FIRST_MS: i64 = 2_000;
    const MAX_MS: i64 = 5 * 60_000;
    FIRST_MS.saturating_mul(1_i64 << restarts.clamp(0, 20)).min(MAX_MS)
}

/// How long an environment must stay healthy after a restart before its
/// restart count (and so its backoff) starts again from zero.
pub const STABLE_AFTER_MS: i64 = 10 * 60_000;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TIER: ReadinessProbe = ReadinessProbe { interval_ms: 30_000, failure_threshold: 3 };

    #[test]
    fn ids_round_trip() {
        for h in Health::ALL {
            assert_eq!(h.as_str().parse::<Health>(), Ok(h));
        }
        assert!("sick".parse::<Health>().is_err());
    }

    #[test]
    fn unhealthy_after_the_threshold_and_healthy_after_one_pass() {
        let miss = Probe::Failed("503".into());
        let (s, c) = observe(Health::Healthy, Streak::default(), &miss, &TIER);
        assert_eq!((s.failures, c), (1, None));
        let (s, c) = observe(Health::Healthy, s, &miss, &TIER);
        assert_eq!((s.failures, c), (2, None));
        let (s, c) = observe(Health::Healthy, s, &miss, &TIER);
        assert_eq!(c.map(|c| c.to), Some(Health::Unhealthy));
        // Already unhealthy: no second change (one restart, one alert).
        let (s, c) = observe(Health::Unhealthy, s, &miss, &TIER);
        assert_eq!((s.failures, c), (4, None));
        let (s, c) = observe(Health::Unhealthy, s, &Probe::Passed, &TIER);
        assert_eq!((s.failures, c.map(|c| c.to)), (0, Some(Health::Healthy)));
    }

    #[test]
    fn a_gone_process_is_unhealthy_at_once() {
        let (_, c) = observe(Health::Healthy, Streak::default(), &Probe::Gone, &TIER);
        assert_eq!(c, Some(Change { to: Health::Unhealthy, reason: "the process exited".into() }));
    }

    #[test]
    fn the_threshold_is_read() {
        let strict = ReadinessProbe { interval_ms: 1_000, failure_threshold: 1 };
        let (_, c) = observe(Health::Healthy, Streak::default(), &Probe::Failed("timeout".into()), &strict);
        assert!(c.is_some(), "one miss is enough at threshold 1");
        let (_, c) = observe(Health::Healthy, Streak::default(), &Probe::Failed("timeout".into()), &TIER);
        assert!(c.is_none(), "not at threshold 3");
    }

    #[test]
    fn backoff_doubles_to_a_cap() {
        assert_eq!(restart_backoff_ms(0), 2_000);
        assert_eq!(restart_backoff_ms(1), 4_000);
        assert_eq!(restart_backoff_ms(3), 16_000);
        assert_eq!(restart_backoff_ms(50), 300_000);
        assert_eq!(restart_backoff_ms(-1), 2_000);
    }

    fn any_probe() -> impl Strategy<Value = Probe> {
        prop_oneof![Just(Probe::Passed), Just(Probe::Failed("x".into())), Just(Probe::Gone)]
    }

    proptest! {
        // Each change really changes the health; unhealthy only after the
        // threshold of misses in a row (or a gone process); healthy only
        // right after a pass.
        #[test]
        fn changes_follow_the_probes(probes in proptest::collection::vec(any_probe(), 0..50), threshold in 1u32..6) {
            let tier = ReadinessProbe { interval_ms: 1_000, failure_threshold: threshold };
            let (mut health, mut streak) = (Health::Unknown, Streak::default());
            for probe in probes {
                let (next, change) = observe(health, streak, &probe, &tier);
                if let Some(c) = change {
                    prop_assert_ne!(c.to, health);
                    match c.to {
                        Health::Healthy => prop_assert_eq!(&probe, &Probe::Passed),
                        Health::Unhealthy => prop_assert!(probe == Probe::Gone || next.failures >= threshold),
                        Health::Unknown => prop_assert!(false, "the monitor never concludes unknown"),
                    }
                    health = c.to;
                }
                prop_assert!(backoff_is_monotonic(next.failures as i64));
                streak = next;
            }
        }
    }

    fn backoff_is_monotonic(n: i64) -> bool {
        restart_backoff_ms(n) <= restart_backoff_ms(n + 1)
    }
}
