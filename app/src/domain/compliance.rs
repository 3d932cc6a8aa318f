//! Automated compliance checks (seed: maturity Level 3): rules over the
//! configuration and the live data, each with pass/fail and the evidence
//! (which settings, which environments). Pure: the server gathers the
//! facts and stores the results with when they were checked.

use super::approval::DestroyRule;
use super::tier::{AtTtl, Tier, TierPolicies};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Stable id (`preview-ttl`).
    pub id: String,
    pub title: String,
    pub passed: bool,
    /// What was looked at: on a pass, what holds; on a fail, what breaks it.
    pub evidence: Vec<String>,
}

fn result(id: &str, title: &str, failures: Vec<String>, holds: Vec<String>) -> CheckResult {
    let passed = failures.is_empty();
    CheckResult { id: id.into(), title: title.into(), passed, evidence: if passed { holds } else { failures } }
}

fn hours(ms: i64) -> String {
    super::time::short_duration(ms)
}

/// The checks that read the configuration alone.
pub fn config_checks(tiers: &TierPolicies) -> Vec<CheckResult> {
    let mut out = Vec::new();
    let (mut bad, mut good) = (vec![], vec![]);
    for tier in Tier::ALL.into_iter().filter(|t| t.is_preview()) {
        let p = tiers.get(tier);
        let line = match p.ttl_ms {
            Some(ttl) => format!("{tier}: TTL {}, at TTL {}", hours(ttl), p.at_ttl.describe()),
            None => format!("{tier}: no TTL"),
        };
        if p.ttl_ms.is_some() && p.at_ttl != AtTtl::Never {
            good.push(line);
        } else {
            bad.push(line);
        }
    }
    out.push(result("preview-ttl", "Every preview tier has a TTL and a hard or soft destroy", bad, good));

    let c = tiers.get(Tier::PreviewCompliance);
    let snapshots = matches!(c.at_ttl, AtTtl::SnapshotThenDestroy | AtTtl::SoftDestroy);
    let facts = vec![
        format!("preview-compliance: at TTL {}", c.at_ttl.describe()),
        format!(
            "preview-compliance: {}",
            if snapshots {
                "a snapshot is taken before every destroy it approves"
            } else {
                "no snapshot before destroy"
            }
        ),
        format!(
            "preview-compliance: extensions {}",
            if c.extension.needs_approval { "need approval" } else { "need no approval" }
        ),
    ];
    let (bad, good) = if snapshots && c.extension.needs_approval { (vec![], facts) } else { (facts, vec![]) };
    out.push(result(
        "compliance-evidence",
        "The compliance tier snapshots before destroy and requires approval to extend",
        bad,
        good,
    ));

    let (s, p) = (tiers.get(Tier::Staging).destroy, tiers.get(Tier::Production).destroy);
    let facts = vec![format!("staging: destroy by {}", s.as_str()), format!("production: destroy by {}", p.as_str())];
    let ok = s != DestroyRule::Member && p == DestroyRule::Approval;
    let (bad, good) = if ok { (vec![], facts) } else { (facts, vec![]) };
    out.push(result(
        "change-control",
        "Staging is destroyed only by a manager, production only through an approved request",
        bad,
        good,
    ));
    out
}

/// A live environment as the data checks see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveEnv {
    pub name: String,
    pub tier: Tier,
    pub state: String,
    /// When its lifetime started (the claim, for a pool member).
    pub created_at: i64,
    /// It has unfinished work (a job) or an open approval request.
    pub attended: bool,
}

/// The checks that read the live data at `now`.
pub fn data_checks(
    tiers: &TierPolicies,
    live: &[LiveEnv],
    orphans: &[String],
    overdue_approvals: &[String],
    pending_approvals: usize,
    now: i64,
) -> Vec<CheckResult> {
    let too_old: Vec<String> = live
        .iter()
        .filter(|e| {
            let p = tiers.get(e.tier);
            p.ttl_ms.is_some()
                && e.state != "expiring"
                && now > e.created_at.saturating_add(p.extension.max_lifetime_ms)
        })
        .map(|e| {
            format!(
                "{} ({}) is older than its tier's {} maximum",
                e.name,
                e.tier,
                hours(tiers.get(e.tier).extension.max_lifetime_ms)
            )
        })
        .collect();
    let counted = vec![format!("{} live environments within their tiers' maximum lifetime", live.len())];
    let stuck: Vec<String> = live
        .iter()
        .filter(|e| e.state == "expiring" && !e.attended)
        .map(|e| format!("{} ({}) is expiring with no job or open request", e.name, e.tier))
        .collect();
    let expiring = live.iter().filter(|e| e.state == "expiring").count();
    vec![
        result("lifetime", "No environment is older than its tier's maximum lifetime", too_old, counted),
        result(
            "no-orphans",
            "No process or directory runs without a live environment",
            orphans.iter().map(|id| format!("host resources of {id} belong to no live environment")).collect(),
            vec!["every resource on the host belongs to a live environment".into()],
        ),
        result(
            "no-dead-ends",
            "Every expiring environment has a job or an open request working on it",
            stuck,
            vec![format!("{expiring} expiring, each attended")],
        ),
        result(
            "approval-sla",
            "No approval request is left past its SLA",
            overdue_approvals.iter().map(|a| format!("{a} is past its SLA deadline")).collect(),
            vec![format!("{pending_approvals} pending, each within its SLA")],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tier::TierOverride;
    use crate::domain::time::HOUR_MS;

    #[test]
    fn the_seed_defaults_pass_the_config_checks() {
        let all = config_checks(&TierPolicies::default());
        assert_eq!(all.len(), 3);
        assert!(all.iter().all(|c| c.passed), "{all:?}");
    }

    #[test]
    fn a_weakened_policy_fails_with_its_evidence() {
        let ov = TierOverride {
            extension_needs_approval: Some(false),
            at_ttl: Some(AtTtl::HardDestroy),
            ..Default::default()
        };
        let tiers = TierPolicies::default().with_override(Tier::PreviewCompliance, &ov).unwrap();
        let tiers = tiers
            .with_override(Tier::Production, &TierOverride { destroy: Some(DestroyRule::Member), ..Default::default() })
            .unwrap();
        let all = config_checks(&tiers);
        let failed: Vec<&str> = all.iter().filter(|c| !c.passed).map(|c| c.id.as_str()).collect();
        assert_eq!(failed, ["compliance-evidence", "change-control"]);
        assert!(all[1].evidence.iter().any(|e| e.contains("need no approval")));
    }

    #[test]
    fn data_checks_name_the_environments() {
        let tiers = TierPolicies::default();
        let env = |name: &str, state: &str, created_at: i64, attended: bool| LiveEnv {
            name: name.into(),
            tier: Tier::PreviewLightweight,
            state: state.into(),
            created_at,
            attended,
        };
        let now = 100 * HOUR_MS;
        let live = [
            env("fresh", "active", now - HOUR_MS, false),
            env("ancient", "active", 0, false),
            env("stuck", "expiring", now, false),
        ];
        let all = data_checks(&tiers, &live, &["env-x".into()], &[], 0, now);
        let by = |id: &str| all.iter().find(|c| c.id == id).unwrap().clone();
        assert!(!by("lifetime").passed && by("lifetime").evidence[0].starts_with("ancient"));
        assert!(!by("no-dead-ends").passed && by("no-dead-ends").evidence[0].starts_with("stuck"));
        assert!(!by("no-orphans").passed);
        assert!(by("approval-sla").passed);
        let fine = data_checks(&tiers, &live[..1], &[], &[], 2, now);
        assert_eq!(fine.last().unwrap().evidence, ["2 pending, each within its SLA"]);
        assert!(fine.iter().all(|c| c.passed), "{fine:?}");
    }
}
