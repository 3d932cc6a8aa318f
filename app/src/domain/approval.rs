//! Approval requests (seed §9: compliance extensions and soft destroys, and
//! change control on production): what may be asked, who may decide, and
//! what the SLA does when nobody does. Pure rules; the service in
//! `ssr/approvals.rs` stores, audits and notifies.

use super::lifecycle::{EnvState, Event};
use super::tier::{AtTtl, TierPolicy};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalKind {
    /// Push the expiry back by the hours asked.
    Extend,
    /// Destroy the environment (snapshot first where the tier keeps one).
    Destroy,
}

impl ApprovalKind {
    pub const ALL: [ApprovalKind; 2] = [ApprovalKind::Extend, ApprovalKind::Destroy];

    pub const fn as_str(self) -> &'static str {
        match self {
            ApprovalKind::Extend => "extend",
            ApprovalKind::Destroy => "destroy",
        }
    }
}

impl fmt::Display for ApprovalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApprovalKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApprovalKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| format!("unknown approval kind {s:?}"))
    }
}

/// `pending → approved | denied | expired | cancelled`; only pending is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalState {
    Pending,
    Approved,
    Denied,
    /// The SLA ran out (after escalation) with nothing done.
    Expired,
    /// Withdrawn by the requester, or made moot (an approved extension calls
    /// off the destroy its TTL asked for).
    Cancelled,
}

impl ApprovalState {
    pub const ALL: [ApprovalState; 5] = [
        ApprovalState::Pending,
        ApprovalState::Approved,
        ApprovalState::Denied,
        ApprovalState::Expired,
        ApprovalState::Cancelled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Approved => "approved",
            ApprovalState::Denied => "denied",
            ApprovalState::Expired => "expired",
            ApprovalState::Cancelled => "cancelled",
        }
    }

    pub const fn is_open(self) -> bool {
        matches!(self, ApprovalState::Pending)
    }
}

impl fmt::Display for ApprovalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApprovalState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApprovalState::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown state {s:?}; expected pending, approved, denied, expired or cancelled"))
    }
}

/// What happens to a request nobody decided within its SLA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnSla {
    Approve,
    Deny,
    /// Re-notify the approvers once and wait one more SLA period; then the
    /// request expires with nothing done (a destroy the TTL asked for goes
    /// ahead: an environment past its TTL never waits for ever).
    Escalate,
}

impl OnSla {
    pub const fn as_str(self) -> &'static str {
        match self {
            OnSla::Approve => "approve",
            OnSla::Deny => "deny",
            OnSla::Escalate => "escalate",
        }
    }
}

/// Who may destroy an environment of a tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DestroyRule {
    /// Any member of the team.
    Member,
    /// The team's manager or a platform admin (seed: staging, "manual only").
    Manager,
    /// An approved request, whoever asks (seed: production, "change control").
    Approval,
}

impl DestroyRule {
    /// The rule in words, for the page before the click and for the refusal.
    pub fn describe(self, tier_label: &str) -> String {
        let tier = tier_label.to_lowercase();
        match self {
            DestroyRule::Member => format!("any member of the team can destroy a {tier} environment"),
            DestroyRule::Manager => format!("destroying a {tier} environment takes the team's manager or a platform admin"),
            DestroyRule::Approval => format!(
                "destroying a {tier} environment takes an approved request: a platform admin other than the one who asks approves it"
            ),
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            DestroyRule::Member => "member",
            DestroyRule::Manager => "manager",
            DestroyRule::Approval => "approval",
        }
    }
}

/// A tier's approval settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalPolicy {
    /// `None`: the tier's warning window, else four hours.
    pub sla_ms: Option<i64>,
    pub on_sla_extend: OnSla,
    pub on_sla_destroy: OnSla,
}

/// The fallback SLA of a tier with no warning window.
pub const DEFAULT_SLA_MS: i64 = 4 * super::time::HOUR_MS;

impl ApprovalPolicy {
    pub fn on_sla(&self, kind: ApprovalKind) -> OnSla {
        match kind {
            ApprovalKind::Extend => self.on_sla_extend,
            ApprovalKind::Destroy => self.on_sla_destroy,
        }
    }
}

impl TierPolicy {
    /// How long approvers have before the SLA outcome applies.
    pub fn approval_sla_ms(&self) -> i64 {
        self.approval.sla_ms.or(self.warn_before_ms).unwrap_or(DEFAULT_SLA_MS)
    }
}

/// Why a request cannot be made or decided.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    #[error("cannot ask to {kind} an environment that is {state}")]
    NotNow { kind: ApprovalKind, state: EnvState },
    #[error("this request is already {0}")]
    Closed(ApprovalState),
    #[error("you asked for this yourself: another approver must decide it")]
    OwnRequest,
    #[error("say why it is denied")]
    ReasonNeeded,
    #[error("a reason is at most {MAX_REASON} characters")]
    ReasonTooLong,
    #[error("a reason is plain text: no control or direction-override characters")]
    ReasonUnprintable,
    #[error("the environment is past its TTL and must go: approve the destroy, or approve an extension to keep it")]
    TtlDestroyCannotBeDenied,
    #[error("only the person who asked can cancel it")]
    NotTheRequester,
    #[error("requests on the {0} tier are decided by a platform admin (change control)")]
    PlatformAdminsOnly(crate::domain::tier::Tier),
}

/// Who decides a request on `tier`: platform admins always; the configured
/// approver group (`EOD_APPROVERS`) on preview tiers only, because staging
/// and production are under change control (seed: "never — change control").
pub fn may_decide(
    tier: crate::domain::tier::Tier,
    platform_admin: bool,
    approver_group: bool,
) -> Result<(), ApprovalError> {
    if platform_admin || (approver_group && tier.is_preview()) {
        Ok(())
    } else {
        Err(ApprovalError::PlatformAdminsOnly(tier))
    }
}

/// Most characters a request or decision reason keeps.
pub const MAX_REASON: usize = 1_000;

/// Whether `kind` may be asked for an environment in `state` on a tier
/// with `policy`: a destroyed, failed or pending environment has nothing to
/// approve (a failed or pending one is torn down without asking).
pub fn may_request(kind: ApprovalKind, state: EnvState, policy: &TierPolicy) -> Result<(), ApprovalError> {
    use EnvState::*;
    let ok = match kind {
        // While a soft destroy waits, an extension is how the environment is kept.
        ApprovalKind::Extend => {
            matches!(state, Ready | Active | Idle) || (state == Expiring && policy.at_ttl == AtTtl::SoftDestroy)
        }
        // `expiring` on a soft-destroy tier is the TTL's own destroy request.
        ApprovalKind::Destroy => {
            matches!(state, Ready | Active | Idle) || (state == Expiring && policy.at_ttl == AtTtl::SoftDestroy)
        }
    };
    if ok {
        Ok(())
    } else {
        Err(ApprovalError::NotNow { kind, state })
    }
}

/// What a person's destroy does on a tier, from the environment's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DestroyPath {
    /// Apply `DestroyRequested` now (the caller's role permitting).
    Now,
    /// Open (or return) a destroy request for the approvers.
    Ask,
}

pub fn destroy_path(policy: &TierPolicy, state: EnvState) -> DestroyPath {
    match state {
        EnvState::Ready | EnvState::Active | EnvState::Idle if policy.destroy == DestroyRule::Approval => {
            DestroyPath::Ask
        }
        _ => DestroyPath::Now,
    }
}

/// The lifecycle event an approved request applies.
pub fn on_approval(kind: ApprovalKind, asked_ms: Option<i64>) -> Event {
    match kind {
        ApprovalKind::Extend => Event::Extend { by_ms: asked_ms.unwrap_or(0), approved: true },
        ApprovalKind::Destroy => Event::DestroyApproved,
    }
}

/// The facts of a request the rules read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub kind: ApprovalKind,
    pub state: ApprovalState,
    /// `None`: the portal asked (a soft destroy at TTL).
    pub requested_by: Option<String>,
    pub sla_deadline: i64,
    pub escalated: bool,
}

/// A person's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Approve { reason: Option<String> },
    Deny { reason: String },
}

fn check_reason(reason: &str) -> Result<(), ApprovalError> {
    if reason.chars().count() > MAX_REASON {
        return Err(ApprovalError::ReasonTooLong);
    }
    // Control and bidirectional-override characters would mislead whoever reads it.
    if reason.chars().any(|c| {
        (c.is_control() && c != '\n')
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    }) {
        return Err(ApprovalError::ReasonUnprintable);
    }
    Ok(())
}

/// The state a decision by `decider` moves the request to.
pub fn decide(req: &Request, decider: &str, decision: &Decision) -> Result<ApprovalState, ApprovalError> {
    if !req.state.is_open() {
        return Err(ApprovalError::Closed(req.state));
    }
    if req.requested_by.as_deref() == Some(decider) {
        return Err(ApprovalError::OwnRequest);
    }
    match decision {
        Decision::Approve { reason } => {
            check_reason(reason.as_deref().unwrap_or(""))?;
            Ok(ApprovalState::Approved)
        }
        Decision::Deny { reason } => {
            if reason.trim().is_empty() {
                return Err(ApprovalError::ReasonNeeded);
            }
            check_reason(reason)?;
            if req.kind == ApprovalKind::Destroy && req.requested_by.is_none() {
                return Err(ApprovalError::TtlDestroyCannotBeDenied);
            }
            Ok(ApprovalState::Denied)
        }
    }
}

/// The requester withdraws their request.
pub fn cancel(req: &Request, by: &str) -> Result<ApprovalState, ApprovalError> {
    if !req.state.is_open() {
        return Err(ApprovalError::Closed(req.state));
    }
    if req.requested_by.as_deref() != Some(by) {
        return Err(ApprovalError::NotTheRequester);
    }
    Ok(ApprovalState::Cancelled)
}

/// What the SLA does to an open request at `now`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlaOutcome {
    /// Still within its SLA.
    Wait,
    Approve,
    Deny,
    /// Re-notify the approvers; the new deadline.
    Escalate {
        deadline: i64,
    },
    /// Closed with nothing done.
    Expire,
}

pub fn at_sla(req: &Request, policy: &TierPolicy, now: i64) -> SlaOutcome {
    if !req.state.is_open() || now < req.sla_deadline {
        return SlaOutcome::Wait;
    }
    // The TTL's own destroy must end in a destroy: nothing else releases it.
    let must_go = req.kind == ApprovalKind::Destroy && req.requested_by.is_none();
    match policy.approval.on_sla(req.kind) {
        OnSla::Approve => SlaOutcome::Approve,
        OnSla::Deny if must_go => SlaOutcome::Approve,
        OnSla::Deny => SlaOutcome::Deny,
        OnSla::Escalate if !req.escalated => {
            SlaOutcome::Escalate { deadline: now.saturating_add(policy.approval_sla_ms()) }
        }
        OnSla::Escalate if must_go => SlaOutcome::Approve,
        OnSla::Escalate => SlaOutcome::Expire,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_approver_group_decides_previews_and_only_platform_admins_decide_long_lived_tiers() {
        use crate::domain::tier::Tier;
        for tier in Tier::ALL {
            assert!(super::may_decide(tier, true, false).is_ok(), "{tier:?}: platform admins decide everything");
            assert_eq!(super::may_decide(tier, false, true).is_ok(), tier.is_preview(), "{tier:?}: the group");
            assert!(super::may_decide(tier, false, false).is_err(), "{tier:?}: nobody else");
        }
    }

    use super::*;
    use crate::domain::tier::Tier;
    use proptest::prelude::*;

    fn req(kind: ApprovalKind, by: Option<&str>) -> Request {
        Request {
            kind,
            state: ApprovalState::Pending,
            requested_by: by.map(str::to_string),
            sla_deadline: 1_000,
            escalated: false,
        }
    }

    #[test]
    fn nobody_approves_their_own_request_and_a_deny_needs_a_reason() {
        let r = req(ApprovalKind::Extend, Some("alice"));
        assert_eq!(decide(&r, "alice", &Decision::Approve { reason: None }), Err(ApprovalError::OwnRequest));
        assert_eq!(decide(&r, "erin", &Decision::Approve { reason: None }), Ok(ApprovalState::Approved));
        assert_eq!(decide(&r, "erin", &Decision::Deny { reason: "  ".into() }), Err(ApprovalError::ReasonNeeded));
        assert_eq!(decide(&r, "erin", &Decision::Deny { reason: "no".into() }), Ok(ApprovalState::Denied));
        let sneaky = Decision::Deny { reason: "ok\u{202e}evil".into() };
        assert_eq!(decide(&r, "erin", &sneaky), Err(ApprovalError::ReasonUnprintable));
        let long = "x".repeat(MAX_REASON + 1);
        assert_eq!(decide(&r, "erin", &Decision::Deny { reason: long }), Err(ApprovalError::ReasonTooLong));
    }

    #[test]
    fn closed_requests_take_no_decision_and_only_the_requester_cancels() {
        let mut r = req(ApprovalKind::Destroy, Some("alice"));
        assert_eq!(cancel(&r, "bob"), Err(ApprovalError::NotTheRequester));
        assert_eq!(cancel(&r, "alice"), Ok(ApprovalState::Cancelled));
        for closed in ApprovalState::ALL.into_iter().filter(|s| !s.is_open()) {
            r.state = closed;
            assert_eq!(decide(&r, "erin", &Decision::Approve { reason: None }), Err(ApprovalError::Closed(closed)));
            assert_eq!(cancel(&r, "alice"), Err(ApprovalError::Closed(closed)));
            assert_eq!(at_sla(&r, &Tier::PreviewCompliance.default_policy(), i64::MAX), SlaOutcome::Wait);
        }
    }

    #[test]
    fn the_ttls_destroy_cannot_be_denied_or_cancelled() {
        let r = req(ApprovalKind::Destroy, None);
        assert_eq!(
            decide(&r, "erin", &Decision::Deny { reason: "keep".into() }),
            Err(ApprovalError::TtlDestroyCannotBeDenied)
        );
        assert_eq!(cancel(&r, "erin"), Err(ApprovalError::NotTheRequester));
    }

    #[test]
    fn sla_defaults_follow_the_seed() {
        let p = Tier::PreviewCompliance.default_policy();
        assert_eq!(p.approval_sla_ms(), 4 * crate::domain::time::HOUR_MS, "the warning window");
        assert_eq!(at_sla(&req(ApprovalKind::Extend, Some("a")), &p, 999), SlaOutcome::Wait);
        assert_eq!(at_sla(&req(ApprovalKind::Extend, Some("a")), &p, 1_000), SlaOutcome::Deny);
        assert_eq!(at_sla(&req(ApprovalKind::Destroy, Some("a")), &p, 1_000), SlaOutcome::Approve);
        // Production never goes by timeout.
        let prod = Tier::Production.default_policy();
        assert_eq!(at_sla(&req(ApprovalKind::Destroy, Some("a")), &prod, 1_000), SlaOutcome::Deny);
    }

    #[test]
    fn escalation_re_notifies_once_then_expires() {
        let mut p = Tier::PreviewCompliance.default_policy();
        p.approval.on_sla_extend = OnSla::Escalate;
        p.approval.on_sla_destroy = OnSla::Escalate;
        let mut r = req(ApprovalKind::Extend, Some("a"));
        let SlaOutcome::Escalate { deadline } = at_sla(&r, &p, 1_000) else { panic!("escalates first") };
        assert_eq!(deadline, 1_000 + p.approval_sla_ms());
        r.escalated = true;
        r.sla_deadline = deadline;
        assert_eq!(at_sla(&r, &p, deadline - 1), SlaOutcome::Wait);
        assert_eq!(at_sla(&r, &p, deadline), SlaOutcome::Expire);
        let ttl = Request { escalated: true, ..req(ApprovalKind::Destroy, None) };
        assert_eq!(at_sla(&ttl, &p, 1_000), SlaOutcome::Approve, "the TTL's destroy still ends");
    }

    #[test]
    fn requests_only_where_the_action_makes_sense() {
        let p = Tier::PreviewCompliance.default_policy();
        for kind in ApprovalKind::ALL {
            for state in [EnvState::Destroyed, EnvState::Failed, EnvState::Pending] {
                assert_eq!(may_request(kind, state, &p), Err(ApprovalError::NotNow { kind, state }));
            }
            assert_eq!(may_request(kind, EnvState::Active, &p), Ok(()));
            assert_eq!(may_request(kind, EnvState::Expiring, &p), Ok(()), "soft destroy waits");
        }
        let full = Tier::PreviewFull.default_policy();
        assert!(may_request(ApprovalKind::Extend, EnvState::Expiring, &full).is_err());
    }

    fn any_state() -> impl Strategy<Value = ApprovalState> {
        prop::sample::select(ApprovalState::ALL.to_vec())
    }

    proptest! {
        // Whatever the policy and the clock, the SLA never leaves an open
        // request past its deadline open for good: every outcome closes it,
        // except one escalation, which moves the deadline forward.
        #[test]
        fn the_sla_always_ends_a_request(
            extend in prop::sample::select(vec![OnSla::Approve, OnSla::Deny, OnSla::Escalate]),
            destroy in prop::sample::select(vec![OnSla::Approve, OnSla::Deny, OnSla::Escalate]),
            sla in prop::option::of(60_000i64..30 * 86_400_000),
            kind in prop::sample::select(ApprovalKind::ALL.to_vec()),
            portal in any::<bool>(),
            late in 0i64..1_000_000_000,
        ) {
            let mut p = Tier::PreviewCompliance.default_policy();
            p.approval = ApprovalPolicy { sla_ms: sla, on_sla_extend: extend, on_sla_destroy: destroy };
            let mut r = req(kind, (!portal).then_some("alice"));
            let now = r.sla_deadline + late;
            match at_sla(&r, &p, now) {
                SlaOutcome::Escalate { deadline } => {
                    prop_assert!(deadline > now);
                    r.escalated = true;
                    r.sla_deadline = deadline;
                    let after = at_sla(&r, &p, deadline);
                    prop_assert!(matches!(after, SlaOutcome::Approve | SlaOutcome::Expire), "{after:?}");
                }
                SlaOutcome::Wait => prop_assert!(false, "past the deadline"),
                _ => {}
            }
            if kind == ApprovalKind::Destroy && portal {
                // The TTL's destroy ends in a destroy, whatever the setting.
                let mut r2 = r.clone();
                r2.escalated = true;
                prop_assert_eq!(at_sla(&r2, &p, i64::MAX), SlaOutcome::Approve);
            }
        }

        #[test]
        fn a_decision_only_ever_closes_an_open_request(state in any_state(), approve in any::<bool>()) {
            let r = Request { state, ..req(ApprovalKind::Extend, Some("alice")) };
            let d = if approve { Decision::Approve { reason: None } } else { Decision::Deny { reason: "x".into() } };
            match decide(&r, "erin", &d) {
                Ok(next) => { prop_assert!(state.is_open()); prop_assert!(!next.is_open()); }
                Err(_) => prop_assert!(!state.is_open()),
            }
        }
    }
}

/// The no-dead-end proof: a model of the portal's moves (jobs succeeding or
/// giving up, timers, a person's destroy/extend/retry, decisions, the SLA)
/// over the real lifecycle and approval rules, explored exhaustively for
/// every tier and every combination of the settings that decide the way
/// out. From every state reached, `destroyed` is reachable, and an
/// `expiring` environment always has a job or an open request working on it.
#[cfg(test)]
mod no_dead_ends {
    use super::*;
    use crate::domain::lifecycle::{apply, Effect, Lifecycle};
    use crate::domain::tier::Tier;
    use crate::domain::time::{HOUR_MS, MINUTE_MS};
    use std::collections::{BTreeSet, HashMap, VecDeque};

    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
    enum Job {
        Provision,
        Snapshot,
        Teardown,
    }

    #[derive(Clone, Debug)]
    struct World {
        lc: Lifecycle,
        jobs: BTreeSet<Job>,
        requests: Vec<Request>,
        asked_ms: i64,
        now: i64,
    }

    type Key = (EnvState, BTreeSet<Job>, Vec<(ApprovalKind, bool, bool)>, bool, bool);

    impl World {
        fn key(&self, policy: &TierPolicy) -> Key {
            let mut reqs: Vec<_> =
                self.requests.iter().map(|r| (r.kind, r.requested_by.is_none(), r.escalated)).collect();
            reqs.sort_by_key(|r| (r.0.as_str(), r.1, r.2));
            let extendable =
                apply(&self.lc, &on_approval(ApprovalKind::Extend, Some(self.asked_ms)), policy, self.now).is_ok();
            (self.lc.state, self.jobs.clone(), reqs, self.lc.warned_at.is_some(), extendable)
        }

        /// Applies an event as the one write path does: transition, then
        /// record its effects as jobs and requests. Refusals change nothing.
        fn event(&mut self, policy: &TierPolicy, event: &Event) -> bool {
            let Ok((next, effects)) = apply(&self.lc, event, policy, self.now) else { return false };
            self.lc = next;
            for effect in effects {
                match effect {
                    Effect::Provision => drop(self.jobs.insert(Job::Provision)),
                    Effect::Snapshot => drop(self.jobs.insert(Job::Snapshot)),
                    Effect::Teardown => drop(self.jobs.insert(Job::Teardown)),
                    Effect::RequestApproval => self.open(policy, ApprovalKind::Destroy, None),
                    Effect::Warn { .. } => {}
                }
            }
            if self.lc.state == EnvState::Destroyed {
                self.requests.clear(); // cancelled: the environment is gone
            }
            true
        }

        /// [`World::event`] where a refusal is simply no move.
        fn try_event(&mut self, policy: &TierPolicy, event: &Event) {
            self.event(policy, event);
        }

        fn open(&mut self, policy: &TierPolicy, kind: ApprovalKind, by: Option<&str>) {
            if by.is_none() {
                // The TTL's own request supersedes a person's open one.
                self.requests.retain(|r| !(r.kind == kind && r.requested_by.is_some()));
            }
            if self.requests.iter().any(|r| r.kind == kind) {
                return; // idempotent: the open one stands
            }
            self.requests.push(Request {
                kind,
                state: ApprovalState::Pending,
                requested_by: by.map(str::to_string),
                sla_deadline: self.now + policy.approval_sla_ms(),
                escalated: false,
            });
        }

        /// Closes request `i`; an approval applies its event first (one
        /// that cannot apply leaves a person's approval pending, and closes
        /// an SLA approval as expired).
        fn close(&mut self, policy: &TierPolicy, i: usize, approve: bool, by_sla: bool) {
            let req = self.requests[i].clone();
            if approve {
                let applied = self.event(policy, &on_approval(req.kind, Some(self.asked_ms)));
                if !applied && !by_sla {
                    return;
                }
                if applied && req.kind == ApprovalKind::Extend {
                    // The extension keeps it: the TTL's destroy is moot.
                    self.requests.retain(|r| !(r.kind == ApprovalKind::Destroy && r.requested_by.is_none()));
                }
            }
            self.requests.retain(|r| r.kind != req.kind);
        }
    }

    fn moves(w: &World, policy: &TierPolicy) -> Vec<World> {
        let mut out = Vec::new();
        let mut push = |mut f: Box<dyn FnMut(&mut World)>| {
            let mut next = w.clone();
            f(&mut next);
            out.push(next);
        };
        for job in w.jobs.clone() {
            // The job succeeds (stale jobs find nothing to do) ...
            push(Box::new(move |n: &mut World| {
                n.jobs.remove(&job);
                match job {
                    Job::Provision => {
                        if n.lc.state == EnvState::Pending {
                            n.event(policy, &Event::Provisioned);
                        }
                        if n.lc.state == EnvState::Ready {
                            n.event(policy, &Event::DeployHealthy);
                        }
                    }
                    Job::Snapshot if n.lc.state == EnvState::Expiring => n.try_event(policy, &Event::SnapshotTaken),
                    Job::Teardown if matches!(n.lc.state, EnvState::Expiring | EnvState::Failed) => {
                        n.try_event(policy, &Event::TornDown)
                    }
                    _ => {}
                }
            }));
            // ... or gives up after its attempts.
            push(Box::new(move |n: &mut World| {
                n.jobs.remove(&job);
                n.event(policy, &Event::Failed { reason: "gave up".into() });
            }));
        }
        // Timers: a minute on, and past the expiry.
        push(Box::new(|n: &mut World| {
            n.now += MINUTE_MS;
            n.event(policy, &Event::Tick);
        }));
        push(Box::new(|n: &mut World| {
            n.now = n.lc.expires_at.map_or(n.now + 400 * 24 * HOUR_MS, |e| e.max(n.now) + 1);
            n.event(policy, &Event::Tick);
        }));
        // A person: destroy, extend, retry, activity.
        push(Box::new(|n: &mut World| match destroy_path(policy, n.lc.state) {
            DestroyPath::Now => n.try_event(policy, &Event::DestroyRequested),
            DestroyPath::Ask => {
                if may_request(ApprovalKind::Destroy, n.lc.state, policy).is_ok() {
                    n.open(policy, ApprovalKind::Destroy, Some("alice"));
                }
            }
        }));
        push(Box::new(|n: &mut World| {
            if policy.extension.needs_approval {
                if may_request(ApprovalKind::Extend, n.lc.state, policy).is_ok() {
                    n.open(policy, ApprovalKind::Extend, Some("alice"));
                }
            } else {
                n.event(policy, &Event::Extend { by_ms: n.asked_ms, approved: false });
            }
        }));
        push(Box::new(|n: &mut World| n.try_event(policy, &Event::Retry)));
        push(Box::new(|n: &mut World| {
            n.try_event(policy, &Event::Activity(super::super::lifecycle::ActivityKind::Commit))
        }));
        // Decisions and the SLA on each open request.
        for (i, req) in w.requests.iter().enumerate() {
            push(Box::new(move |n: &mut World| n.close(policy, i, true, false)));
            if decide(req, "erin", &Decision::Deny { reason: "no".into() }).is_ok() {
                push(Box::new(move |n: &mut World| n.close(policy, i, false, false)));
            }
            if cancel(req, "alice").is_ok() {
                push(Box::new(move |n: &mut World| n.close(policy, i, false, false)));
            }
            push(Box::new(move |n: &mut World| {
                let r = n.requests[i].clone();
                n.now = n.now.max(r.sla_deadline);
                match at_sla(&r, policy, n.now) {
                    SlaOutcome::Approve => n.close(policy, i, true, true),
                    SlaOutcome::Deny | SlaOutcome::Expire => n.close(policy, i, false, true),
                    SlaOutcome::Escalate { deadline } => {
                        n.requests[i].escalated = true;
                        n.requests[i].sla_deadline = deadline;
                    }
                    SlaOutcome::Wait => unreachable!("at the deadline"),
                }
            }));
        }
        out
    }

    fn policies() -> Vec<(String, TierPolicy)> {
        let mut all: Vec<(String, TierPolicy)> =
            Tier::ALL.iter().map(|t| (t.as_str().to_string(), t.default_policy())).collect();
        let slas = [OnSla::Approve, OnSla::Deny, OnSla::Escalate];
        for at_ttl in [AtTtl::HardDestroy, AtTtl::SnapshotThenDestroy, AtTtl::SoftDestroy] {
            for destroy in [DestroyRule::Member, DestroyRule::Manager, DestroyRule::Approval] {
                for (extend_sla, destroy_sla) in slas.iter().flat_map(|a| slas.iter().map(move |b| (*a, *b))) {
                    for needs_approval in [false, true] {
                        let mut p = Tier::PreviewCompliance.default_policy();
                        p.at_ttl = at_ttl;
                        p.destroy = destroy;
                        p.extension.needs_approval = needs_approval;
                        p.approval.on_sla_extend = extend_sla;
                        p.approval.on_sla_destroy = destroy_sla;
                        all.push((format!("{p:?}"), p));
                    }
                }
            }
        }
        for mut p in [Tier::Production.default_policy(), Tier::Staging.default_policy()] {
            for destroy_sla in slas {
                p.approval.on_sla_destroy = destroy_sla;
                all.push((format!("{p:?}"), p));
            }
        }
        all
    }

    #[test]
    fn every_state_of_every_tier_policy_can_reach_destroyed() {
        const T0: i64 = 1_800_000_000_000;
        for (name, policy) in policies() {
            let (lc, effects) = crate::domain::lifecycle::start(&policy, T0);
            let mut first = World {
                lc,
                jobs: BTreeSet::new(),
                requests: vec![],
                asked_ms: policy.extension.step_ms.max(1),
                now: T0,
            };
            assert!(effects == vec![Effect::Provision]);
            first.jobs.insert(Job::Provision);
            let mut seen: HashMap<Key, usize> = HashMap::new();
            let mut worlds: Vec<World> = vec![];
            let mut edges: Vec<Vec<usize>> = vec![];
            let mut queue = VecDeque::new();
            seen.insert(first.key(&policy), 0);
            worlds.push(first);
            edges.push(vec![]);
            queue.push_back(0);
            while let Some(i) = queue.pop_front() {
                for next in moves(&worlds[i].clone(), &policy) {
                    let k = next.key(&policy);
                    let j = *seen.entry(k).or_insert_with(|| {
                        worlds.push(next);
                        edges.push(vec![]);
                        queue.push_back(worlds.len() - 1);
                        worlds.len() - 1
                    });
                    edges[i].push(j);
                }
                assert!(worlds.len() < 50_000, "{name}: the model should be small");
            }
            // Backwards from every destroyed world.
            let mut reaches = vec![false; worlds.len()];
            for (i, w) in worlds.iter().enumerate() {
                reaches[i] = w.lc.state == EnvState::Destroyed;
            }
            loop {
                let mut changed = false;
                for i in 0..worlds.len() {
                    if !reaches[i] && edges[i].iter().any(|&j| reaches[j]) {
                        reaches[i] = true;
                        changed = true;
                    }
                }
                if !changed {
                    break;
                }
            }
            for (i, w) in worlds.iter().enumerate() {
                assert!(
                    reaches[i],
                    "{name}: stuck at {:?} with jobs {:?} and requests {:?}",
                    w.lc.state, w.jobs, w.requests
                );
                if w.lc.state == EnvState::Expiring {
                    assert!(
                        !w.jobs.is_empty() || w.requests.iter().any(|r| r.kind == ApprovalKind::Destroy),
                        "{name}: expiring with nothing working on it: {w:?}"
                    );
                }
                if w.lc.state == EnvState::Failed {
                    assert!(w.lc.failure.is_some(), "{name}: failed without its reason");
                }
            }
            assert!(worlds.iter().any(|w| w.lc.state == EnvState::Destroyed), "{name}");
        }
    }
}
