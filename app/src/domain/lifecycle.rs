//! Environment lifecycle states (seed §9 plus `failed`, which users need).

use super::tier::{AtTtl, DestroyRule, TierPolicy, TtlReset};
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

/// The lifecycle facts of one environment: what the state machine reads and
/// writes. Instants are UTC epoch ms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lifecycle {
    pub state: EnvState,
    pub created_at: i64,
    pub last_activity_at: i64,
    /// `None` for tiers without a TTL.
    pub expires_at: Option<i64>,
    /// Set once the expiry warning went out; cleared when the expiry moves.
    pub warned_at: Option<i64>,
    /// Why the environment failed (set exactly while `Failed`).
    pub failure: Option<String>,
}

/// What counts as activity (seed §9: any commit, test or traffic).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActivityKind {
    Commit,
    TestRun,
    Traffic,
    Deploy,
    Api,
}

/// Something that happened to an environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The driver created every resource.
    Provisioned,
    /// Provisioning (or a later step) failed.
    Failed {
        reason: String,
    },
    /// The first deploy passed its readiness probe.
    DeployHealthy,
    Activity(ActivityKind),
    /// A scheduler pass at `now`: idle detection, warnings, expiry.
    Tick,
    /// Push the expiry back by `by_ms`; `approved` when a platform admin approved it.
    Extend {
        by_ms: i64,
        approved: bool,
    },
    /// Someone asked for the environment to go (refused on tiers whose
    /// destroy takes an approved request, while it runs).
    DestroyRequested,
    /// An approved destroy request (or the portal's own decision, e.g. a
    /// pool retiring a member): goes ahead on every tier.
    DestroyApproved,
    /// The snapshot the tier asks for is stored.
    SnapshotTaken,
    /// The driver removed every resource.
    TornDown,
    /// Try provisioning a failed environment again.
    Retry,
}

/// Work the transition asks for; the caller enqueues it with the write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    Provision,
    /// Tell the owner the environment expires at this instant.
    Warn {
        expires_at: i64,
    },
    Snapshot,
    /// Put a destroy in the platform team's approval queue.
    RequestApproval,
    Teardown,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("the environment is destroyed")]
    Final,
    #[error("cannot {event} while {state}")]
    NotNow { state: EnvState, event: &'static str },
    #[error("this tier has no TTL to extend")]
    NoTtl,
    #[error("an extension must be positive and at most {max_hours} h")]
    BadExtension { max_hours: i64 },
    #[error("extensions on this tier need platform approval")]
    NeedsApproval,
    #[error("already at the tier's maximum lifetime")]
    AtMaximumLifetime,
    #[error("this tier destroys at TTL with no exceptions")]
    NoExceptions,
    #[error("destroying it takes an approved request")]
    DestroyNeedsApproval,
}

impl Event {
    fn name(&self) -> &'static str {
        match self {
            Event::Provisioned => "finish provisioning",
            Event::Failed { .. } => "fail",
            Event::DeployHealthy => "become healthy",
            Event::Activity(_) => "record activity",
            Event::Tick => "check timers",
            Event::Extend { .. } => "extend",
            Event::DestroyRequested => "destroy",
            Event::DestroyApproved => "approve a destroy",
            Event::SnapshotTaken => "record a snapshot",
            Event::TornDown => "finish teardown",
            Event::Retry => "retry",
        }
    }
}

/// A new environment: `Pending`, with its TTL running from creation.
pub fn start(policy: &TierPolicy, now: i64) -> (Lifecycle, Vec<Effect>) {
    let lc = Lifecycle {
        state: EnvState::Pending,
        created_at: now,
        last_activity_at: now,
        expires_at: policy.ttl_ms.map(|ttl| now + ttl),
        warned_at: None,
        failure: None,
    };
    (lc, vec![Effect::Provision])
}

/// A warm-pool member handed to its user: it already runs, and its TTL and
/// maximum lifetime count from the claim, not from when the pool made it.
pub fn claimed(policy: &TierPolicy, now: i64) -> Lifecycle {
    Lifecycle {
        state: EnvState::Active,
        created_at: now,
        last_activity_at: now,
        expires_at: policy.ttl_ms.map(|ttl| now + ttl),
        warned_at: None,
        failure: None,
    }
}

/// The earliest instant a `Tick` could change this environment (its expiry,
/// its warning, going idle), so the scheduler looks at each environment only
/// when something is due. `None` when no timer can fire: pending, expiring,
/// failed or destroyed, or a tier with neither TTL nor idle window.
pub fn next_check(lc: &Lifecycle, policy: &TierPolicy) -> Option<i64> {
    if !matches!(lc.state, EnvState::Ready | EnvState::Active | EnvState::Idle) {
        return None;
    }
    let expiry = lc.expires_at;
    let warning = match (lc.expires_at, policy.warn_before_ms, lc.warned_at) {
        (Some(exp), Some(warn), None) => Some(exp - warn),
        _ => None,
    };
    let idle = match (lc.state, policy.idle_after_ms) {
        (EnvState::Active, Some(idle)) => Some(lc.last_activity_at.saturating_add(idle)),
        _ => None,
    };
    [expiry, warning, idle].into_iter().flatten().min()
}

/// The latest instant the tier lets this environment live to.
fn lifetime_limit(lc: &Lifecycle, policy: &TierPolicy) -> i64 {
    lc.created_at.saturating_add(policy.extension.max_lifetime_ms)
}

/// Moves the expiry to `at` (never past the maximum lifetime), clearing the warning.
fn set_expiry(lc: &mut Lifecycle, policy: &TierPolicy, at: i64) {
    let at = at.min(lifetime_limit(lc, policy));
    if lc.expires_at != Some(at) {
        lc.expires_at = Some(at);
        lc.warned_at = None;
    }
}

/// Activity keeps the environment for a TTL from now, but never takes away
/// time it already has: an extension granted earlier stays (the expiry is
/// max(current, now + TTL), capped by the maximum lifetime), so a warning is
/// never re-armed earlier either.
fn keep_alive_after_activity(lc: &mut Lifecycle, policy: &TierPolicy, now: i64) {
    if policy.ttl_reset != TtlReset::AnyActivity {
        return;
    }
    let Some(ttl) = policy.ttl_ms else { return };
    let at = now.saturating_add(ttl).min(lifetime_limit(lc, policy));
    if lc.expires_at.is_none_or(|current| at > current) {
        set_expiry(lc, policy, at);
    }
}

/// What the tier does once an environment must go.
fn on_the_way_out(policy: &TierPolicy) -> Effect {
    match policy.at_ttl {
        AtTtl::SoftDestroy => Effect::RequestApproval,
        _ => approved_way_out(policy),
    }
}

/// What an approved destroy does: a tier that keeps evidence (snapshot or
/// soft destroy) snapshots first.
fn approved_way_out(policy: &TierPolicy) -> Effect {
    match policy.at_ttl {
        AtTtl::SnapshotThenDestroy | AtTtl::SoftDestroy => Effect::Snapshot,
        AtTtl::HardDestroy | AtTtl::Never => Effect::Teardown,
    }
}

/// The one lifecycle transition function: (state, event, policy, now) → the
/// next state and the work to enqueue, or why the event is refused. Events
/// that mean nothing in the current state (traffic to a pending
/// environment, a tick on a failed one) return the state unchanged.
pub fn apply(
    lc: &Lifecycle,
    event: &Event,
    policy: &TierPolicy,
    now: i64,
) -> Result<(Lifecycle, Vec<Effect>), Rejected> {
    use EnvState::*;
    if lc.state == Destroyed {
        return Err(Rejected::Final);
    }
    let not_now = || Rejected::NotNow { state: lc.state, event: event.name() };
    let mut next = lc.clone();
    let mut effects = Vec::new();
    match event {
        Event::Provisioned => match lc.state {
            Pending => next.state = Ready,
            _ => return Err(not_now()),
        },
        // On the way out too: a snapshot or teardown that gave up ends in
        // `failed` with its reason, from where a destroy or retry goes on.
        Event::Failed { reason } => match lc.state {
            Pending | Ready | Active | Idle | Expiring => {
                next.state = Failed;
                next.failure = Some(reason.clone());
            }
            _ => return Err(not_now()),
        },
        Event::DeployHealthy => match lc.state {
            Ready => {
                next.state = Active;
                next.last_activity_at = now.max(lc.last_activity_at);
                keep_alive_after_activity(&mut next, policy, now);
            }
            _ => return Err(not_now()),
        },
        Event::Activity(_) => match lc.state {
            Ready | Active | Idle => {
                if lc.state == Idle {
                    next.state = Active;
                }
                next.last_activity_at = now.max(lc.last_activity_at);
                keep_alive_after_activity(&mut next, policy, now);
            }
            // Expiring is past rescue by traffic; the rest have nothing to reset.
            Pending | Expiring | Failed | Destroyed => {}
        },
        Event::Tick => match lc.state {
            Ready | Active | Idle => {
                if let Some(expires) = lc.expires_at {
                    if now >= expires {
                        next.state = Expiring;
                        effects.push(on_the_way_out(policy));
                        return Ok((next, effects));
                    }
                    if let Some(warn) = policy.warn_before_ms {
                        if now >= expires - warn && lc.warned_at.is_none() {
                            next.warned_at = Some(now);
                            effects.push(Effect::Warn { expires_at: expires });
                        }
                    }
                }
                if let (Active, Some(idle)) = (lc.state, policy.idle_after_ms) {
                    if now - lc.last_activity_at >= idle {
                        next.state = Idle;
                    }
                }
            }
            Pending | Expiring | Failed | Destroyed => {}
        },
        Event::Extend { by_ms, approved } => {
            let Some(expires) = lc.expires_at else {
                return Err(Rejected::NoTtl);
            };
            match lc.state {
                Ready | Active | Idle => {}
                // Only a soft destroy is still waiting and can be called off.
                Expiring if policy.at_ttl == AtTtl::SoftDestroy => {}
                Expiring => return Err(Rejected::NoExceptions),
                _ => return Err(not_now()),
            }
            if *by_ms <= 0 || *by_ms > policy.extension.step_ms {
                return Err(Rejected::BadExtension { max_hours: policy.extension.step_ms / 3_600_000 });
            }
            if policy.extension.needs_approval && !approved {
                return Err(Rejected::NeedsApproval);
            }
            let wanted = expires.max(now) + by_ms;
            if wanted.min(lifetime_limit(lc, policy)) <= expires.max(now) {
                return Err(Rejected::AtMaximumLifetime);
            }
            set_expiry(&mut next, policy, wanted);
            if lc.state == Expiring {
                next.state = Active;
            }
        }
        Event::DestroyRequested => match lc.state {
            Ready | Active | Idle if policy.destroy == DestroyRule::Approval => {
                return Err(Rejected::DestroyNeedsApproval);
            }
            Ready | Active | Idle => {
                next.state = Expiring;
                effects.push(on_the_way_out(policy));
            }
            // Nothing running yet, or already broken: tear down what exists.
            Pending | Failed => {
                next.state = Expiring;
                next.failure = None;
                effects.push(Effect::Teardown);
            }
            Expiring | Destroyed => {}
        },
        Event::DestroyApproved => match lc.state {
            Ready | Active | Idle => {
                next.state = Expiring;
                effects.push(approved_way_out(policy));
            }
            Expiring if policy.at_ttl == AtTtl::SoftDestroy => effects.push(approved_way_out(policy)),
            Pending | Failed => {
                next.state = Expiring;
                next.failure = None;
                effects.push(Effect::Teardown);
            }
            _ => return Err(not_now()),
        },
        Event::SnapshotTaken => match lc.state {
            Expiring => effects.push(Effect::Teardown),
            _ => return Err(not_now()),
        },
        Event::TornDown => match lc.state {
            Expiring | Failed => {
                next.state = Destroyed;
                next.failure = None;
            }
            _ => return Err(not_now()),
        },
        Event::Retry => match lc.state {
            Failed => {
                next.state = Pending;
                next.failure = None;
                effects.push(Effect::Provision);
            }
            _ => return Err(not_now()),
        },
    }
    Ok((next, effects))
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

    use crate::domain::tier::Tier;
    use crate::domain::time::{HOUR_MS, MINUTE_MS};
    use proptest::prelude::*;

    const T0: i64 = 1_800_000_000_000;

    fn at(state: EnvState, tier: Tier) -> (Lifecycle, TierPolicy) {
        let policy = tier.default_policy();
        let (mut lc, _) = start(&policy, T0);
        lc.state = state;
        if state == EnvState::Failed {
            lc.failure = Some("probe failed".into());
        }
        (lc, policy)
    }

    fn go(lc: &Lifecycle, policy: &TierPolicy, event: Event, now: i64) -> (Lifecycle, Vec<Effect>) {
        apply(lc, &event, policy, now).unwrap_or_else(|e| panic!("{event:?} from {:?}: {e}", lc.state))
    }

    #[test]
    fn a_claimed_pool_member_gets_a_fresh_ttl_and_lifetime() {
        let policy = Tier::PreviewLightweight.default_policy();
        let lc = claimed(&policy, T0 + 5 * HOUR_MS);
        assert_eq!((lc.state, lc.expires_at), (EnvState::Active, Some(T0 + 9 * HOUR_MS)));
        let (extended, _) = go(&lc, &policy, Event::Extend { by_ms: 2 * HOUR_MS, approved: false }, T0 + 6 * HOUR_MS);
        assert_eq!(extended.expires_at, Some(T0 + 11 * HOUR_MS), "the pool's wait does not eat the lifetime");
    }

    #[test]
    fn a_preview_goes_pending_ready_active_idle_expiring_destroyed() {
        let policy = Tier::PreviewLightweight.default_policy();
        let (lc, effects) = start(&policy, T0);
        assert_eq!((lc.state, effects), (EnvState::Pending, vec![Effect::Provision]));
        let (lc, _) = go(&lc, &policy, Event::Provisioned, T0 + 1_000);
        assert_eq!(lc.state, EnvState::Ready);
        let (lc, _) = go(&lc, &policy, Event::DeployHealthy, T0 + 2_000);
        assert_eq!((lc.state, lc.expires_at), (EnvState::Active, Some(T0 + 2_000 + 4 * HOUR_MS)));
        let (lc, _) = go(&lc, &policy, Event::Tick, T0 + 2_000 + HOUR_MS);
        assert_eq!(lc.state, EnvState::Idle, "an hour without activity");
        let (lc, effects) = go(&lc, &policy, Event::Tick, T0 + 2_000 + 3 * HOUR_MS + 31 * MINUTE_MS);
        assert_eq!(effects, vec![Effect::Warn { expires_at: T0 + 2_000 + 4 * HOUR_MS }], "30 min warning");
        let (lc, effects) = go(&lc, &policy, Event::Tick, T0 + 2_000 + 3 * HOUR_MS + 40 * MINUTE_MS);
        assert!(effects.is_empty(), "warned once");
        let (lc, effects) = go(&lc, &policy, Event::Tick, T0 + 2_000 + 4 * HOUR_MS);
        assert_eq!((lc.state, effects), (EnvState::Expiring, vec![Effect::Teardown]), "hard destroy");
        let (lc, _) = go(&lc, &policy, Event::TornDown, T0 + 5 * HOUR_MS);
        assert_eq!(lc.state, EnvState::Destroyed);
    }

    #[test]
    fn activity_wakes_an_idle_environment_and_resets_its_ttl() {
        let (lc, policy) = at(EnvState::Idle, Tier::PreviewFull);
        let (lc, effects) = go(&lc, &policy, Event::Activity(ActivityKind::Commit), T0 + 10 * HOUR_MS);
        assert_eq!(lc.state, EnvState::Active);
        assert_eq!(lc.expires_at, Some(T0 + 34 * HOUR_MS));
        assert!(effects.is_empty());
    }

    #[test]
    fn compliance_ttl_is_not_reset_by_activity() {
        let (lc, policy) = at(EnvState::Active, Tier::PreviewCompliance);
        let (next, _) = go(&lc, &policy, Event::Activity(ActivityKind::Traffic), T0 + 10 * HOUR_MS);
        assert_eq!(next.expires_at, lc.expires_at);
        assert_eq!(next.last_activity_at, T0 + 10 * HOUR_MS);
    }

    #[test]
    fn full_previews_snapshot_before_teardown() {
        let (lc, policy) = at(EnvState::Active, Tier::PreviewFull);
        let (lc, effects) = go(&lc, &policy, Event::Tick, T0 + 24 * HOUR_MS);
        assert_eq!((lc.state, effects), (EnvState::Expiring, vec![Effect::Snapshot]));
        let (lc, effects) = go(&lc, &policy, Event::SnapshotTaken, T0 + 24 * HOUR_MS + 1);
        assert_eq!((lc.state, effects), (EnvState::Expiring, vec![Effect::Teardown]));
    }

    #[test]
    fn compliance_previews_wait_for_approval_and_can_still_be_extended() {
        let (lc, policy) = at(EnvState::Active, Tier::PreviewCompliance);
        let (expiring, effects) = go(&lc, &policy, Event::Tick, T0 + 48 * HOUR_MS);
        assert_eq!((expiring.state, effects), (EnvState::Expiring, vec![Effect::RequestApproval]));
        assert_eq!(
            apply(&expiring, &Event::TornDown, &policy, T0 + 49 * HOUR_MS).unwrap().0.state,
            EnvState::Destroyed
        );
        let (_, effects) = go(&expiring, &policy, Event::DestroyApproved, T0 + 49 * HOUR_MS);
        assert_eq!(effects, vec![Effect::Snapshot], "approved: snapshot, then teardown");
        let refused = apply(&expiring, &Event::Extend { by_ms: HOUR_MS, approved: false }, &policy, T0 + 49 * HOUR_MS);
        assert_eq!(refused, Err(Rejected::NeedsApproval));
        let (back, _) =
            go(&expiring, &policy, Event::Extend { by_ms: 24 * HOUR_MS, approved: true }, T0 + 49 * HOUR_MS);
        assert_eq!((back.state, back.expires_at), (EnvState::Active, Some(T0 + 73 * HOUR_MS)));
    }

    #[test]
    fn lightweight_expiry_has_no_exceptions() {
        let (lc, policy) = at(EnvState::Expiring, Tier::PreviewLightweight);
        assert_eq!(
            apply(&lc, &Event::Extend { by_ms: HOUR_MS, approved: true }, &policy, T0),
            Err(Rejected::NoExceptions)
        );
    }

    #[test]
    fn extensions_are_bounded_by_step_and_maximum_lifetime() {
        let (lc, policy) = at(EnvState::Active, Tier::PreviewLightweight);
        let ext = |by_ms| Event::Extend { by_ms, approved: false };
        assert_eq!(apply(&lc, &ext(3 * HOUR_MS), &policy, T0), Err(Rejected::BadExtension { max_hours: 2 }));
        assert_eq!(apply(&lc, &ext(0), &policy, T0), Err(Rejected::BadExtension { max_hours: 2 }));
        let (mut cur, _) = go(&lc, &policy, ext(2 * HOUR_MS), T0);
        assert_eq!(cur.expires_at, Some(T0 + 6 * HOUR_MS));
        for _ in 0..3 {
            cur = go(&cur, &policy, ext(2 * HOUR_MS), T0).0;
        }
        assert_eq!(cur.expires_at, Some(T0 + 12 * HOUR_MS), "capped at the 12 h maximum lifetime");
        assert_eq!(apply(&cur, &ext(HOUR_MS), &policy, T0), Err(Rejected::AtMaximumLifetime));
    }

    #[test]
    fn long_lived_tiers_never_expire_and_cannot_be_extended() {
        for tier in [Tier::Staging, Tier::Production] {
            let (lc, policy) = at(EnvState::Active, tier);
            assert_eq!(lc.expires_at, None);
            let (next, effects) = go(&lc, &policy, Event::Tick, T0 + 365 * 24 * HOUR_MS);
            assert_eq!((next.state, effects), (EnvState::Active, vec![]));
            assert_eq!(
                apply(&lc, &Event::Extend { by_ms: HOUR_MS, approved: true }, &policy, T0),
                Err(Rejected::NoTtl)
            );
            let (gone, effects) = go(&lc, &policy, Event::DestroyApproved, T0);
            assert_eq!((gone.state, effects), (EnvState::Expiring, vec![Effect::Teardown]));
        }
        // Staging goes when asked (who may ask is the service's rule);
        // production only through an approved request.
        let (lc, policy) = at(EnvState::Active, Tier::Staging);
        assert_eq!(go(&lc, &policy, Event::DestroyRequested, T0).0.state, EnvState::Expiring);
        let (lc, policy) = at(EnvState::Active, Tier::Production);
        assert_eq!(apply(&lc, &Event::DestroyRequested, &policy, T0), Err(Rejected::DestroyNeedsApproval));
        let (lc, policy) = at(EnvState::Failed, Tier::Production);
        assert_eq!(go(&lc, &policy, Event::DestroyRequested, T0).0.state, EnvState::Expiring, "nothing serves");
    }

    #[test]
    fn failures_carry_a_reason_and_can_be_retried_or_cleaned_up() {
        let (lc, policy) = at(EnvState::Pending, Tier::PreviewLightweight);
        let (failed, _) = go(&lc, &policy, Event::Failed { reason: "probe failed 3 times".into() }, T0);
        assert_eq!((failed.state, failed.failure.as_deref()), (EnvState::Failed, Some("probe failed 3 times")));
        let (retry, effects) = go(&failed, &policy, Event::Retry, T0);
        assert_eq!((retry.state, retry.failure, effects), (EnvState::Pending, None, vec![Effect::Provision]));
        assert_eq!(go(&failed, &policy, Event::TornDown, T0).0.state, EnvState::Destroyed);
    }

    /// Every (state, event) pair: the expected next state, or a refusal.
    #[test]
    fn transition_table_is_exhaustive() {
        use EnvState::*;
        let events = [
            Event::Provisioned,
            Event::Failed { reason: "x".into() },
            Event::DeployHealthy,
            Event::Activity(ActivityKind::Traffic),
            Event::Tick,
            Event::Extend { by_ms: HOUR_MS, approved: true },
            Event::DestroyRequested,
            Event::DestroyApproved,
            Event::SnapshotTaken,
            Event::TornDown,
            Event::Retry,
        ];
        // Rows are states, columns follow `events`; None = refused. Lightweight tier, just after start.
        let table: [(EnvState, [Option<EnvState>; 11]); 7] = [
            (
                Pending,
                [
                    Some(Ready),
                    Some(Failed),
                    None,
                    Some(Pending),
                    Some(Pending),
                    None,
                    Some(Expiring),
                    Some(Expiring),
                    None,
                    None,
                    None,
                ],
            ),
            (
                Ready,
                [
                    None,
                    Some(Failed),
                    Some(Active),
                    Some(Ready),
                    Some(Ready),
                    Some(Ready),
                    Some(Expiring),
                    Some(Expiring),
                    None,
                    None,
                    None,
                ],
            ),
            (
                Active,
                [
                    None,
                    Some(Failed),
                    None,
                    Some(Active),
                    Some(Active),
                    Some(Active),
                    Some(Expiring),
                    Some(Expiring),
                    None,
                    None,
                    None,
                ],
            ),
            (
                Idle,
                [
                    None,
                    Some(Failed),
                    None,
                    Some(Active),
                    Some(Idle),
                    Some(Idle),
                    Some(Expiring),
                    Some(Expiring),
                    None,
                    None,
                    None,
                ],
            ),
            (
                Expiring,
                [
                    None,
                    Some(Failed),
                    None,
                    Some(Expiring),
                    Some(Expiring),
                    None,
                    Some(Expiring),
                    None,
                    Some(Expiring),
                    Some(Destroyed),
                    None,
                ],
            ),
            (Destroyed, [None, None, None, None, None, None, None, None, None, None, None]),
            (
                Failed,
                [
                    None,
                    None,
                    None,
                    Some(Failed),
                    Some(Failed),
                    None,
                    Some(Expiring),
                    Some(Expiring),
                    None,
                    Some(Destroyed),
                    Some(Pending),
                ],
            ),
        ];
        assert_eq!(table.len(), EnvState::ALL.len());
        for (state, row) in table {
            let (lc, policy) = at(state, Tier::PreviewLightweight);
            for (event, want) in events.iter().zip(row) {
                let got = apply(&lc, event, &policy, T0 + MINUTE_MS).ok().map(|(n, _)| n.state);
                assert_eq!(got, want, "{state:?} + {event:?}");
            }
        }
    }

    fn any_event() -> impl Strategy<Value = Event> {
        prop_oneof![
            Just(Event::Provisioned),
            Just(Event::Failed { reason: "boom".into() }),
            Just(Event::DeployHealthy),
            Just(Event::Activity(ActivityKind::Commit)),
            Just(Event::Tick),
            (1i64..=30 * HOUR_MS, any::<bool>()).prop_map(|(by_ms, approved)| Event::Extend { by_ms, approved }),
            Just(Event::DestroyRequested),
            Just(Event::DestroyApproved),
            Just(Event::SnapshotTaken),
            Just(Event::TornDown),
            Just(Event::Retry),
        ]
    }

    proptest! {
        #[test]
        fn no_event_sequence_breaks_the_invariants(
            tier in proptest::sample::select(Tier::ALL.to_vec()),
            steps in proptest::collection::vec((any_event(), 0i64..6 * HOUR_MS), 0..60),
        ) {
            let policy = tier.default_policy();
            let (mut lc, _) = start(&policy, T0);
            let mut now = T0;
            let mut destroyed = false;
            for (event, dt) in steps {
                now += dt;
                match apply(&lc, &event, &policy, now) {
                    Ok((next, effects)) => {
                        prop_assert!(!destroyed, "destroyed is final");
                        // TTL never grows past the tier's maximum lifetime.
                        if let Some(exp) = next.expires_at {
                            prop_assert!(exp <= next.created_at + policy.extension.max_lifetime_ms);
                        }
                        prop_assert_eq!(next.expires_at.is_some(), policy.ttl_ms.is_some());
                        // A failure reason exactly while failed.
                        prop_assert_eq!(next.failure.is_some(), next.state == EnvState::Failed);
                        // Teardown only on the way out.
                        if effects.contains(&Effect::Teardown) {
                            prop_assert_eq!(next.state, EnvState::Expiring);
                        }
                        prop_assert!(next.last_activity_at >= lc.last_activity_at);
                        destroyed = next.state == EnvState::Destroyed;
                        lc = next;
                    }
                    Err(Rejected::Final) => prop_assert!(destroyed),
                    Err(_) => prop_assert!(!destroyed),
                }
            }
        }
    }

    proptest! {
        // The scheduler only ticks environments whose next check has come:
        // a Tick before it changes nothing, a Tick at it changes something.
        #[test]
        fn ticks_before_the_next_check_are_no_ops(
            tier in proptest::sample::select(Tier::ALL.to_vec()),
            steps in proptest::collection::vec((any_event(), 0i64..6 * HOUR_MS), 0..30),
            early in 1i64..6 * HOUR_MS,
        ) {
            let policy = tier.default_policy();
            let (mut lc, _) = start(&policy, T0);
            let mut now = T0;
            for (event, dt) in steps {
                now += dt;
                if let Ok((next, _)) = apply(&lc, &event, &policy, now) {
                    lc = next;
                }
            }
            match next_check(&lc, &policy) {
                None => {
                    let quiet = apply(&lc, &Event::Tick, &policy, now + 400 * 24 * HOUR_MS);
                    prop_assert!(matches!(&quiet, Ok((same, fx)) if *same == lc && fx.is_empty()) || matches!(quiet, Err(Rejected::Final)));
                }
                Some(due) => {
                    if due - early > now {
                        let (same, fx) = apply(&lc, &Event::Tick, &policy, due - early).unwrap();
                        prop_assert!(same == lc && fx.is_empty(), "tick before {due} changed something");
                    }
                    let (changed, fx) = apply(&lc, &Event::Tick, &policy, due.max(now)).unwrap();
                    prop_assert!(changed != lc || !fx.is_empty(), "tick at {due} changed nothing");
                }
            }
        }
    }

    proptest! {
        // Activity (and a deploy turning healthy) never takes time away: the
        // expiry never moves earlier and the warning instant never comes
        // sooner, whatever came before (extensions included).
        #[test]
        fn activity_never_moves_the_expiry_or_the_warning_earlier(
            tier in proptest::sample::select(Tier::ALL.to_vec()),
            steps in proptest::collection::vec((any_event(), 0i64..6 * HOUR_MS), 0..60),
        ) {
            let policy = tier.default_policy();
            let (mut lc, _) = start(&policy, T0);
            let mut now = T0;
            for (event, dt) in steps {
                now += dt;
                let Ok((next, _)) = apply(&lc, &event, &policy, now) else { continue };
                if matches!(event, Event::Activity(_) | Event::DeployHealthy) {
                    prop_assert!(next.expires_at >= lc.expires_at, "{:?} -> {:?}", lc.expires_at, next.expires_at);
                    let warning = |l: &Lifecycle| match (l.expires_at, policy.warn_before_ms, l.warned_at) {
                        (Some(exp), Some(w), None) => Some(exp - w),
                        _ => None,
                    };
                    if let (Some(before), Some(after)) = (warning(&lc), warning(&next)) {
                        prop_assert!(after >= before, "warning re-armed earlier");
                    }
                    if lc.warned_at.is_some() && next.warned_at.is_none() {
                        prop_assert!(next.expires_at > lc.expires_at, "a warning is cleared only by a later expiry");
                    }
                    prop_assert!(next.last_activity_at >= lc.last_activity_at);
                }
                lc = next;
            }
        }
    }

    #[test]
    fn an_extension_survives_the_next_activity() {
        let (lc, policy) = at(EnvState::Active, Tier::PreviewFull);
        let (extended, _) = go(&lc, &policy, Event::Extend { by_ms: 12 * HOUR_MS, approved: false }, T0 + HOUR_MS);
        assert_eq!(extended.expires_at, Some(T0 + 36 * HOUR_MS));
        let (touched, _) = go(&extended, &policy, Event::Activity(ActivityKind::Traffic), T0 + 2 * HOUR_MS);
        assert_eq!(touched.expires_at, Some(T0 + 36 * HOUR_MS), "not reset to now + 24 h");
        let (later, _) = go(&touched, &policy, Event::Activity(ActivityKind::Commit), T0 + 20 * HOUR_MS);
        assert_eq!(later.expires_at, Some(T0 + 44 * HOUR_MS), "a TTL from now once that is later");
    }

    #[test]
    fn every_state_of_every_tier_can_reach_destroyed() {
        // The portal's own events and a person's destroy: from any state some
        // sequence ends in `destroyed` (an approval counts as an event here).
        let events = [
            Event::Provisioned,
            Event::DeployHealthy,
            Event::Failed { reason: "x".into() },
            Event::Retry,
            Event::DestroyRequested,
            Event::DestroyApproved,
            Event::SnapshotTaken,
            Event::TornDown,
            Event::Tick,
        ];
        for tier in Tier::ALL {
            for state in EnvState::ALL {
                let (lc, policy) = at(state, tier);
                let mut frontier = vec![(lc, T0)];
                let mut seen = vec![];
                let mut reached = state == EnvState::Destroyed;
                while let Some((lc, now)) = frontier.pop() {
                    if lc.state == EnvState::Destroyed {
                        reached = true;
                        break;
                    }
                    if seen.contains(&lc.state) {
                        continue;
                    }
                    seen.push(lc.state);
                    for e in &events {
                        if let Ok((next, _)) = apply(&lc, e, &policy, now + 400 * 24 * HOUR_MS) {
                            frontier.push((next, now + 400 * 24 * HOUR_MS));
                        }
                    }
                }
                assert!(reached, "{tier:?}: {state:?} never reaches destroyed");
            }
        }
    }

    #[test]
    fn only_destroyed_is_not_live() {
        let dead: Vec<_> = EnvState::ALL.into_iter().filter(|s| !s.is_live()).collect();
        assert_eq!(dead, vec![EnvState::Destroyed]);
    }
}
