//! Environment tiers and their lifecycle policies (seed §9, DESIGN §2 table):
//! the seed's defaults, and the operator's overrides validated on top.

pub use super::approval::{ApprovalPolicy, DestroyRule, OnSla};
pub use super::budget::BudgetGate;
use super::time::{HOUR_MS, MINUTE_MS, SECOND_MS};
use crate::domain::preview_access::PreviewAccess;
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
                limits: WorkloadLimits::DEFAULT,
                preview_access: PreviewAccess::Team,
                budget_gate: BudgetGate::Warn,
                destroy: DestroyRule::Member,
                approval: ApprovalPolicy { sla_ms: None, on_sla_extend: OnSla::Deny, on_sla_destroy: OnSla::Approve },
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
                limits: WorkloadLimits::DEFAULT,
                preview_access: PreviewAccess::Team,
                budget_gate: BudgetGate::Block,
                destroy: DestroyRule::Member,
                approval: ApprovalPolicy { sla_ms: None, on_sla_extend: OnSla::Deny, on_sla_destroy: OnSla::Approve },
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
                limits: WorkloadLimits::DEFAULT,
                preview_access: PreviewAccess::Team,
                budget_gate: BudgetGate::Block,
                destroy: DestroyRule::Approval,
                approval: ApprovalPolicy { sla_ms: None, on_sla_extend: OnSla::Deny, on_sla_destroy: OnSla::Approve },
            },
            Tier::Staging => TierPolicy {
                ttl_ms: None,
                ttl_reset: TtlReset::Never,
                idle_after_ms: None,
                warn_before_ms: None,
                at_ttl: AtTtl::Never,
                extension: NO_EXTENSION,
                strategy: DeploymentStrategy::Rolling,
                probe: ReadinessProbe { interval_ms: 60 * SECOND_MS, failure_threshold: 3 },
                limits: WorkloadLimits::DEFAULT,
                preview_access: PreviewAccess::Team,
                budget_gate: BudgetGate::Off,
                destroy: DestroyRule::Manager,
                approval: ApprovalPolicy { sla_ms: None, on_sla_extend: OnSla::Deny, on_sla_destroy: OnSla::Deny },
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
                limits: WorkloadLimits::DEFAULT,
                preview_access: PreviewAccess::Team,
                budget_gate: BudgetGate::Off,
                destroy: DestroyRule::Approval,
                approval: ApprovalPolicy {
                    sla_ms: Some(24 * HOUR_MS),
                    on_sla_extend: OnSla::Deny,
                    on_sla_destroy: OnSla::Deny,
                },
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
#[serde(rename_all = "kebab-case")]
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
#[serde(rename_all = "kebab-case")]
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

/// How a new commit replaces what runs (an environment is one process).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentStrategy {
    /// Stop, start, probe: the fastest, with a gap.
    Recreate,
    /// Start the new version beside the old, move traffic once it passes its
    /// readiness probe, stop the old: no gap; a version that never becomes
    /// ready leaves the old one serving.
    Rolling,
    /// Like rolling, but the old colour is kept for a rollback window: a
    /// rollback switches back at once, and the portal rolls back by itself
    /// when the new colour fails its probes within the window.
    BlueGreen,
}

impl DeploymentStrategy {
    pub const ALL: [DeploymentStrategy; 3] =
        [DeploymentStrategy::Recreate, DeploymentStrategy::Rolling, DeploymentStrategy::BlueGreen];

    pub const fn as_str(self) -> &'static str {
        match self {
            DeploymentStrategy::Recreate => "recreate",
            DeploymentStrategy::Rolling => "rolling",
            DeploymentStrategy::BlueGreen => "blue-green",
        }
    }
}

impl FromStr for DeploymentStrategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeploymentStrategy::ALL.into_iter().find(|d| d.as_str() == s).ok_or_else(|| format!("unknown strategy {s:?}"))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessProbe {
    pub interval_ms: i64,
    pub failure_threshold: u32,
}

/// Resource limits each process of an environment runs under (the local
/// driver's `setrlimit`): a runaway or hostile branch exhausts its own
/// allowance, not the host's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadLimits {
    /// Open file descriptors (RLIMIT_NOFILE).
    pub open_files: u64,
    /// Processes and threads of the environment's own user (RLIMIT_NPROC).
    pub processes: u64,
    /// Virtual memory per process, MiB (RLIMIT_AS).
    pub address_space_mb: u64,
}

impl WorkloadLimits {
    /// Generous enough for a build (compilers reserve much address space).
    pub const DEFAULT: WorkloadLimits = WorkloadLimits { open_files: 4096, processes: 512, address_space_mb: 16384 };
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
    pub limits: WorkloadLimits,
    /// Who its previews answer to (an app may only make it stricter).
    pub preview_access: PreviewAccess,
    /// What creating an environment does when the team is at or over its budget.
    pub budget_gate: BudgetGate,
    /// Who may destroy one.
    pub destroy: DestroyRule,
    /// The SLA of approval requests and what it does.
    pub approval: ApprovalPolicy,
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

/// A policy the portal refuses to run with, naming the setting.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{tier}.{field}: {reason}")]
pub struct PolicyError {
    pub tier: Tier,
    pub field: &'static str,
    pub reason: &'static str,
}

impl TierPolicy {
    /// Checks the rules every part of the portal relies on: previews expire
    /// and long-lived tiers never do, the warning falls inside the TTL,
    /// extensions never shorten the lifetime.
    pub fn validate(&self, tier: Tier) -> Result<(), PolicyError> {
        let err = |field, reason| Err(PolicyError { tier, field, reason });
        match (tier.is_preview(), self.ttl_ms) {
            (true, None) => return err("ttl_minutes", "a preview tier needs a TTL"),
            (false, Some(_)) => return err("ttl_minutes", "staging and production never expire"),
            (true, Some(ttl)) if !(MINUTE_MS..=365 * 24 * HOUR_MS).contains(&ttl) => {
                return err("ttl_minutes", "must be between 1 minute and 365 days")
            }
            _ => {}
        }
        match (self.ttl_ms, self.at_ttl) {
            (Some(_), AtTtl::Never) => return err("at_ttl", "a tier with a TTL must do something at it"),
            (None, a) if a != AtTtl::Never => return err("at_ttl", "a tier without a TTL can only be never"),
            _ => {}
        }
        if self.ttl_ms.is_none() && self.ttl_reset != TtlReset::Never {
            return err("ttl_reset", "a tier without a TTL can only be never");
        }
        if let Some(warn) = self.warn_before_ms {
            if warn <= 0 || self.ttl_ms.is_none_or(|ttl| warn >= ttl) {
                return err("warn_minutes", "the warning must come after creation and before the TTL");
            }
        }
        if self.idle_after_ms.is_some_and(|idle| idle < MINUTE_MS) {
            return err("idle_minutes", "must be at least 1 minute (0 turns idle detection off)");
        }
        if let Some(ttl) = self.ttl_ms {
            if self.extension.step_ms < 0 {
                return err("extension_step_minutes", "must not be negative");
            }
            if self.extension.max_lifetime_ms < ttl {
                return err("max_lifetime_hours", "must be at least the TTL");
            }
        }
        if self.approval.sla_ms.is_some_and(|sla| !(MINUTE_MS..=30 * 24 * HOUR_MS).contains(&sla)) {
            return err("approval_sla_minutes", "must be between 1 minute and 30 days");
        }
        if self.probe.interval_ms < SECOND_MS || self.probe.failure_threshold == 0 {
            return err("probe", "probe every second or slower, failing after at least one miss");
        }
        let l = self.limits;
        if !(64..=1_048_576).contains(&l.open_files) {
            return err("max_open_files", "must be between 64 and 1048576");
        }
        if !(16..=65_536).contains(&l.processes) {
            return err("max_processes", "must be between 16 and 65536");
        }
        if !(256..=1_048_576).contains(&l.address_space_mb) {
            return err("max_address_space_mb", "must be between 256 MiB and 1 TiB");
        }
        Ok(())
    }
}

/// An operator's changes to one tier's policy (the `[tier.<id>]` table of
/// the configuration file). Absent fields keep the default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierOverride {
    pub ttl_minutes: Option<i64>,
    pub ttl_reset: Option<TtlReset>,
    /// 0 turns idle detection off.
    pub idle_minutes: Option<i64>,
    /// 0 turns the expiry warning off.
    pub warn_minutes: Option<i64>,
    pub at_ttl: Option<AtTtl>,
    pub extension_step_minutes: Option<i64>,
    pub max_lifetime_hours: Option<i64>,
    pub extension_needs_approval: Option<bool>,
    pub probe_interval_seconds: Option<i64>,
    pub probe_failure_threshold: Option<u32>,
    pub strategy: Option<DeploymentStrategy>,
    pub max_open_files: Option<u64>,
    pub max_processes: Option<u64>,
    pub max_address_space_mb: Option<u64>,
    pub preview_access: Option<PreviewAccess>,
    pub budget_gate: Option<BudgetGate>,
    pub destroy: Option<DestroyRule>,
    pub approval_sla_minutes: Option<i64>,
    pub on_sla: Option<OnSlaOverride>,
}

/// `on_sla = { extend = "deny", destroy = "approve" }`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnSlaOverride {
    pub extend: Option<OnSla>,
    pub destroy: Option<OnSla>,
}

/// Minutes (or hours, seconds) to ms without overflow: absurd values become
/// `i64::MAX` and fail validation instead of wrapping.
fn ms(n: i64, unit: i64) -> i64 {
    n.saturating_mul(unit)
}

impl TierOverride {
    pub fn apply(&self, tier: Tier, base: &TierPolicy) -> Result<TierPolicy, PolicyError> {
        let mut p = *base;
        if let Some(m) = self.ttl_minutes {
            p.ttl_ms = Some(ms(m, MINUTE_MS));
        }
        if let Some(r) = self.ttl_reset {
            p.ttl_reset = r;
        }
        if let Some(m) = self.idle_minutes {
            p.idle_after_ms = (m != 0).then(|| ms(m, MINUTE_MS));
        }
        if let Some(m) = self.warn_minutes {
            p.warn_before_ms = (m != 0).then(|| ms(m, MINUTE_MS));
        }
        if let Some(a) = self.at_ttl {
            p.at_ttl = a;
        }
        if let Some(m) = self.extension_step_minutes {
            p.extension.step_ms = ms(m, MINUTE_MS);
        }
        if let Some(h) = self.max_lifetime_hours {
            p.extension.max_lifetime_ms = ms(h, HOUR_MS);
        }
        if let Some(b) = self.extension_needs_approval {
            p.extension.needs_approval = b;
        }
        if let Some(s) = self.probe_interval_seconds {
            p.probe.interval_ms = ms(s, SECOND_MS);
        }
        if let Some(n) = self.probe_failure_threshold {
            p.probe.failure_threshold = n;
        }
        if let Some(d) = self.strategy {
            p.strategy = d;
        }
        p.limits.open_files = self.max_open_files.unwrap_or(p.limits.open_files);
        p.limits.processes = self.max_processes.unwrap_or(p.limits.processes);
        p.limits.address_space_mb = self.max_address_space_mb.unwrap_or(p.limits.address_space_mb);
        p.preview_access = self.preview_access.unwrap_or(p.preview_access);
        if let Some(g) = self.budget_gate {
            p.budget_gate = g;
        }
        if let Some(d) = self.destroy {
            p.destroy = d;
        }
        if let Some(m) = self.approval_sla_minutes {
            p.approval.sla_ms = Some(ms(m, MINUTE_MS));
        }
        if let Some(on) = &self.on_sla {
            p.approval.on_sla_extend = on.extend.unwrap_or(p.approval.on_sla_extend);
            p.approval.on_sla_destroy = on.destroy.unwrap_or(p.approval.on_sla_destroy);
        }
        p.validate(tier)?;
        Ok(p)
    }
}

/// The policy of every tier in force: defaults plus validated overrides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierPolicies {
    policies: [TierPolicy; 5],
}

impl Default for TierPolicies {
    fn default() -> Self {
        TierPolicies { policies: Tier::ALL.map(Tier::default_policy) }
    }
}

impl TierPolicies {
    pub fn get(&self, tier: Tier) -> &TierPolicy {
        &self.policies[tier as usize]
    }

    /// Applies one tier's override; the result is valid or an error names the field.
    pub fn with_override(mut self, tier: Tier, ov: &TierOverride) -> Result<TierPolicies, PolicyError> {
        self.policies[tier as usize] = ov.apply(tier, self.get(tier))?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_defaults_are_valid_and_indexed_by_tier() {
        let all = TierPolicies::default();
        for tier in Tier::ALL {
            assert_eq!(all.get(tier), &tier.default_policy());
            assert_eq!(tier.default_policy().validate(tier), Ok(()), "{tier}");
        }
    }

    #[test]
    fn overrides_change_only_what_they_name() {
        let ov = TierOverride { ttl_minutes: Some(90), warn_minutes: Some(10), ..Default::default() };
        let all = TierPolicies::default().with_override(Tier::PreviewLightweight, &ov).unwrap();
        let p = all.get(Tier::PreviewLightweight);
        assert_eq!((p.ttl_ms, p.warn_before_ms), (Some(90 * MINUTE_MS), Some(10 * MINUTE_MS)));
        assert_eq!(p.at_ttl, AtTtl::HardDestroy);
        assert_eq!(all.get(Tier::PreviewFull), &Tier::PreviewFull.default_policy());
    }

    #[test]
    fn invalid_overrides_name_the_field() {
        let cases = [
            (Tier::PreviewLightweight, TierOverride { warn_minutes: Some(300), ..Default::default() }, "warn_minutes"),
            (Tier::PreviewFull, TierOverride { ttl_minutes: Some(0), ..Default::default() }, "ttl_minutes"),
            (Tier::PreviewFull, TierOverride { at_ttl: Some(AtTtl::Never), ..Default::default() }, "at_ttl"),
            (Tier::Staging, TierOverride { ttl_minutes: Some(60), ..Default::default() }, "ttl_minutes"),
            (
                Tier::PreviewFull,
                TierOverride { max_lifetime_hours: Some(1), ..Default::default() },
                "max_lifetime_hours",
            ),
            (Tier::PreviewFull, TierOverride { idle_minutes: Some(-5), ..Default::default() }, "idle_minutes"),
            (Tier::PreviewFull, TierOverride { ttl_minutes: Some(i64::MAX), ..Default::default() }, "ttl_minutes"),
        ];
        for (tier, ov, field) in cases {
            let err = TierPolicies::default().with_override(tier, &ov).unwrap_err();
            assert_eq!((err.tier, err.field), (tier, field), "{ov:?}");
        }
    }

    #[test]
    fn override_tables_reject_unknown_keys() {
        let ok: TierOverride =
            serde_json::from_str(r#"{"at_ttl":"snapshot-then-destroy","ttl_reset":"never"}"#).unwrap();
        assert_eq!(ok.at_ttl, Some(AtTtl::SnapshotThenDestroy));
        assert!(serde_json::from_str::<TierOverride>(r#"{"ttl":"4h"}"#).is_err());
    }

    proptest! {
        // Whatever an operator writes, an accepted policy keeps the
        // invariants the lifecycle relies on.
        #[test]
        fn accepted_overrides_keep_the_invariants(
            tier in prop::sample::select(Tier::ALL.to_vec()),
            ttl in prop::option::of(-10i64..20_000),
            warn in prop::option::of(-10i64..20_000),
            idle in prop::option::of(-10i64..20_000),
            max_h in prop::option::of(-10i64..500),
            step in prop::option::of(-10i64..5_000),
        ) {
            let ov = TierOverride { ttl_minutes: ttl, warn_minutes: warn, idle_minutes: idle,
                max_lifetime_hours: max_h, extension_step_minutes: step, ..Default::default() };
            if let Ok(all) = TierPolicies::default().with_override(tier, &ov) {
                let p = all.get(tier);
                prop_assert_eq!(p.ttl_ms.is_some(), tier.is_preview());
                if let Some(ttl) = p.ttl_ms {
                    prop_assert!(p.extension.max_lifetime_ms >= ttl);
                    prop_assert!(p.extension.step_ms >= 0);
                    prop_assert!(p.warn_before_ms.is_none_or(|w| 0 < w && w < ttl));
                }
                prop_assert!(p.idle_after_ms.is_none_or(|i| i >= MINUTE_MS));
            }
        }
    }

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

    #[test]
    fn workload_limits_are_configurable_and_validated() {
        let ov = TierOverride { max_open_files: Some(777), max_processes: Some(64), ..TierOverride::default() };
        let p = ov.apply(Tier::PreviewLightweight, &Tier::PreviewLightweight.default_policy()).unwrap();
        assert_eq!(p.limits, WorkloadLimits { open_files: 777, processes: 64, address_space_mb: 16384 });
        let bad = TierOverride { max_open_files: Some(3), ..TierOverride::default() };
        let err = bad.apply(Tier::PreviewLightweight, &Tier::PreviewLightweight.default_policy()).unwrap_err();
        assert_eq!(err.field, "max_open_files");
        let bad = TierOverride { max_address_space_mb: Some(1), ..TierOverride::default() };
        assert_eq!(
            bad.apply(Tier::Staging, &Tier::Staging.default_policy()).unwrap_err().field,
            "max_address_space_mb"
        );
    }
}
