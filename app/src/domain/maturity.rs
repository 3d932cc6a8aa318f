//! The seed's Level 0–4 maturity model, assessed from what the portal
//! observed over a period on its three axes: provisioning time (the measured
//! median click-to-ready against the seed's bands), cost control and
//! governance (each practice counts only when it is configured *and* was
//! seen working in the period). The overall level is the lowest axis: a
//! platform is only as mature as its weakest answer to the seed's questions.

use super::measure::Basis;
use super::time::MINUTE_MS;
use serde::{Deserialize, Serialize};

/// The seed's level names.
pub const LEVELS: [&str; 5] =
    ["Level 0: Manual", "Level 1: Automated", "Level 2: GitOps", "Level 3: Optimized", "Level 4: Self-Service"];

/// A fact with the place that proves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub text: String,
    pub link: Option<String>,
    /// Whether it stands (partly) on demo seed rows.
    pub demo: bool,
}

fn ev(text: impl Into<String>, link: Option<String>, demo: bool) -> Evidence {
    Evidence { text: text.into(), link, demo }
}

/// Counted events of one kind in the period, with an example to link to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub basis: Basis,
    /// An environment (id) it happened to, for the evidence link.
    pub example: Option<String>,
}

impl Seen {
    fn any(&self) -> bool {
        self.basis.n > 0
    }
}

/// What was observed in the period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// The measured median click-to-ready and its basis.
    pub median_wait_ms: Option<i64>,
    pub waits: Basis,
    /// Preview tiers whose policy has a TTL.
    pub ttl_tiers: u32,
    /// Environments the scheduler destroyed (or started destroying) at their TTL.
    pub ttl_destroys: Seen,
    /// Environments people destroyed by hand.
    pub manual_destroys: Seen,
    /// Teams with a budget in force.
    pub budgets: u32,
    /// Budget alerts sent.
    pub alerts: Basis,
    /// Environments with direct cost charged to their team, and teams charged.
    pub charged_envs: u32,
    pub charged_demo: u32,
    pub charged_teams: u32,
    /// Shared cost allocated to teams, in micro-dollars.
    pub allocated_micros: i64,
    /// Approval requests a person decided.
    pub reviews: Seen,
    /// Rules in the admission policy in force.
    pub admission_rules: u32,
    /// Creations checked against the policy, and refusals.
    pub admitted: u32,
    pub refused: u32,
    /// Days the automated compliance checks ran.
    pub compliance_days: u32,
    /// Audit events appended.
    pub audit_events: u32,
    /// Health reports from the continuous probes (healthy, failed).
    pub health_reports: Seen,
}

/// One observed event: when, about which environment, demo or not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub at: i64,
    pub env: Option<String>,
    pub demo: bool,
}

/// The raw events of the last twelve months the assessment counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trail {
    pub ttl_destroys: Vec<Stamp>,
    pub manual_destroys: Vec<Stamp>,
    pub alerts: Vec<Stamp>,
    pub reviews: Vec<Stamp>,
    pub created: Vec<Stamp>,
    pub refused: Vec<Stamp>,
    pub health: Vec<Stamp>,
    /// The last run of the compliance checks on each day they ran.
    pub compliance_runs: Vec<i64>,
}

/// What is configured now (and since when, where it matters for history).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    pub ttl_tiers: u32,
    pub admission_rules: u32,
    /// When the admission policy was saved (`None`: from the configuration file, always in force).
    pub admission_since: Option<i64>,
    pub budgets: u32,
}

/// Per period figures computed elsewhere: the waits' median and basis, the
/// audit count and the chargeback of the period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodFigures {
    pub median_wait_ms: Option<i64>,
    pub waits: Basis,
    pub audit_events: u32,
    pub charged_envs: u32,
    /// Of those, demo seed rows.
    pub charged_demo: u32,
    pub charged_teams: u32,
    pub allocated_micros: i64,
}

fn seen_in(stamps: &[Stamp], from: i64, to: i64) -> Seen {
    let inside: Vec<&Stamp> = stamps.iter().filter(|s| s.at >= from && s.at < to).collect();
    Seen {
        basis: Basis { n: inside.len() as u32, demo: inside.iter().filter(|s| s.demo).count() as u32 },
        example: inside.iter().rev().find_map(|s| s.env.clone()),
    }
}

/// What was observed in [from, to).
pub fn observed(trail: &Trail, standing: &Standing, figures: &PeriodFigures, from: i64, to: i64) -> Observed {
    let policy_in_force = standing.admission_since.is_none_or(|since| since < to);
    let created = seen_in(&trail.created, from, to);
    let refused = seen_in(&trail.refused, from, to);
    Observed {
        median_wait_ms: figures.median_wait_ms,
        waits: figures.waits,
        ttl_tiers: standing.ttl_tiers,
        ttl_destroys: seen_in(&trail.ttl_destroys, from, to),
        manual_destroys: seen_in(&trail.manual_destroys, from, to),
        budgets: standing.budgets,
        alerts: seen_in(&trail.alerts, from, to).basis,
        charged_envs: figures.charged_envs,
        charged_demo: figures.charged_demo,
        charged_teams: figures.charged_teams,
        allocated_micros: figures.allocated_micros,
        reviews: seen_in(&trail.reviews, from, to),
        admission_rules: if policy_in_force { standing.admission_rules } else { 0 },
        admitted: if policy_in_force { created.basis.n } else { 0 },
        refused: refused.basis.n,
        compliance_days: trail.compliance_runs.iter().filter(|&&at| at >= from && at < to).count() as u32,
        audit_events: figures.audit_events,
        health_reports: seen_in(&trail.health, from, to),
    }
}

/// One axis: its level, what proves it and the step to the next level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Axis {
    pub name: String,
    pub level: u8,
    pub evidence: Vec<Evidence>,
    /// `None` at Level 4.
    pub next_step: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    pub provisioning: Axis,
    pub cost_control: Axis,
    pub governance: Axis,
    /// The lowest axis.
    pub overall: u8,
}

/// The seed's provisioning bands: < 10 min → 4, 10–20 → 3, 20–30 → 2,
/// 30–60 → 1, over an hour → 0 (the seed's "0–1"; the portal says the lower,
/// since Level 1 already starts at an hour). Nothing measured is Level 0:
/// a level needs evidence.
pub fn provisioning_level(median_ms: Option<i64>) -> u8 {
    match median_ms {
        None => 0,
        Some(m) if m < 10 * MINUTE_MS => 4,
        Some(m) if m < 20 * MINUTE_MS => 3,
        Some(m) if m < 30 * MINUTE_MS => 2,
        Some(m) if m <= 60 * MINUTE_MS => 1,
        Some(_) => 0,
    }
}

fn env_link(seen: &Seen) -> Option<String> {
    seen.example.as_ref().map(|id| format!("/environments/{id}"))
}

fn demo_of(b: Basis) -> bool {
    b.demo > 0
}

fn count_text(b: Basis, one: &str, many: &str) -> String {
    let noun = if b.n == 1 { one } else { many };
    match b.demo {
        0 => format!("{} {noun}", b.n),
        d => format!("{} {noun} ({d} demo seed)", b.n),
    }
}

fn provisioning(o: &Observed) -> Axis {
    let level = provisioning_level(o.median_wait_ms);
    let evidence = match o.median_wait_ms {
        Some(m) => vec![ev(
            format!(
                "median click-to-ready {} over {}",
                super::roi::wait_text(m),
                count_text(o.waits, "creation", "creations")
            ),
            Some("/roi".into()),
            demo_of(o.waits),
        )],
        None => vec![ev("no creation was measured in the period", None, false)],
    };
    let next_step = match level {
        0 if o.median_wait_ms.is_none() => {
            Some("Create environments through the portal so their wait is measured.".into())
        }
        0 => Some(
            "Get the median click-to-ready under an hour: automate provisioning (IaC, a blueprint per app).".into(),
        ),
        1 => Some("Under 30 minutes: GitOps sync and an environment per pull request.".into()),
        2 => Some("Under 20 minutes: tiered environments — lightweight previews on a shared database.".into()),
        3 => Some("Under 10 minutes: warm pools for the busiest tiers, so a click is a hand-over.".into()),
        _ => None,
    };
    Axis { name: "Provisioning time".into(), level, evidence, next_step }
}

/// Cost control: 1 manual cleanup, 2 TTL-based destroy, 3 + budget alerts,
/// 4 + per-environment cost allocation and chargeback.
pub fn cost_control_level(o: &Observed) -> u8 {
    let ttl = o.ttl_tiers > 0 && o.ttl_destroys.any();
    let alerts = o.budgets > 0 && o.alerts.n > 0;
    let chargeback = o.charged_envs > 0 && o.charged_teams > 0;
    match (ttl, alerts, chargeback) {
        (true, true, true) => 4,
        (true, true, false) => 3,
        (true, false, _) => 2,
        _ if o.manual_destroys.any() || ttl => 1,
        _ => 0,
    }
}

fn cost_control(o: &Observed) -> Axis {
    let level = cost_control_level(o);
    let mut evidence = vec![
        ev(
            format!(
                "{} preview tier(s) with a TTL; {} at their TTL",
                o.ttl_tiers,
                count_text(o.ttl_destroys.basis, "environment destroyed", "environments destroyed")
            ),
            env_link(&o.ttl_destroys).or(Some("/admin/policies".into())),
            demo_of(o.ttl_destroys.basis),
        ),
        ev(
            count_text(o.manual_destroys.basis, "environment destroyed by hand", "environments destroyed by hand"),
            env_link(&o.manual_destroys),
            demo_of(o.manual_destroys.basis),
        ),
        ev(
            format!(
                "{} team budget(s) in force; {}",
                o.budgets,
                count_text(o.alerts, "budget alert sent", "budget alerts sent")
            ),
            Some("/costs".into()),
            demo_of(o.alerts),
        ),
    ];
    evidence.push(ev(
        format!(
            "{} charged to {} team(s); {} of shared cost allocated",
            count_text(Basis { n: o.charged_envs, demo: o.charged_demo }, "environment", "environments"),
            o.charged_teams,
            super::money::Micros(o.allocated_micros)
        ),
        Some("/costs".into()),
        o.charged_demo > 0,
    ));
    let next_step = match level {
        0 => Some("Destroy environments nobody needs (even by hand), then give previews a TTL.".into()),
        1 => Some("Give preview tiers a TTL so the scheduler destroys them (TTL-based destroy).".into()),
        2 => Some("Set team budgets with alert levels, so an alert fires before the money is gone.".into()),
        3 => Some("Charge each environment's cost to its team (resources priced by the price book).".into()),
        _ => None,
    };
    Axis { name: "Cost control".into(), level, evidence, next_step }
}

/// Governance: 1 manual review, 2 admission control, 3 + automated
/// compliance checks, 4 + audit trail and live monitoring.
pub fn governance_level(o: &Observed) -> u8 {
    let admission = o.admission_rules > 0 && o.admitted + o.refused > 0;
    let compliance = o.compliance_days > 0;
    let audit_and_live = o.audit_events > 0 && o.health_reports.any();
    match (admission, compliance, audit_and_live) {
        (true, true, true) => 4,
        (true, true, false) => 3,
        (true, false, _) => 2,
        _ if o.reviews.any() || admission => 1,
        _ => 0,
    }
}

fn governance(o: &Observed) -> Axis {
    let level = governance_level(o);
    let evidence = vec![
        ev(
            count_text(o.reviews.basis, "request decided by a person", "requests decided by a person"),
            Some("/approvals".into()),
            demo_of(o.reviews.basis),
        ),
        ev(
            format!(
                "{} admission rule(s) in force; {} creation(s) checked, {} refused",
                o.admission_rules, o.admitted, o.refused
            ),
            Some("/admin/policies".into()),
            false,
        ),
        ev(
            format!("automated compliance checks ran on {} day(s)", o.compliance_days),
            Some("/admin/compliance".into()),
            false,
        ),
        ev(
            format!("{} audit event(s) appended (append-only, enforced by the database)", o.audit_events),
            Some("/audit".into()),
            false,
        ),
        ev(
            format!(
                "{} from the continuous health probes; live state streamed to open pages",
                count_text(o.health_reports.basis, "health report", "health reports")
            ),
            env_link(&o.health_reports),
            demo_of(o.health_reports.basis),
        ),
    ];
    let next_step = match level {
        0 => Some("Review risky requests by hand (compliance previews ask the approvers).".into()),
        1 => Some("Write an admission policy (quotas, allowed tiers) so every creation is checked.".into()),
        2 => Some("Run the automated compliance checks (they run every minute; see Compliance).".into()),
        3 => {
            Some("Keep the audit trail and the live health monitoring working: both must be seen in the period.".into())
        }
        _ => None,
    };
    Axis { name: "Governance".into(), level, evidence, next_step }
}

/// The assessment of one period.
pub fn assess(o: &Observed) -> Assessment {
    let (p, c, g) = (provisioning(o), cost_control(o), governance(o));
    let overall = p.level.min(c.level).min(g.level);
    Assessment { provisioning: p, cost_control: c, governance: g, overall }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seen(n: u32) -> Seen {
        Seen { basis: Basis { n, demo: 0 }, example: (n > 0).then(|| "env-1".into()) }
    }

    fn everything() -> Observed {
        Observed {
            median_wait_ms: Some(2_000),
            waits: Basis { n: 5, demo: 0 },
            ttl_tiers: 3,
            ttl_destroys: seen(2),
            manual_destroys: seen(1),
            budgets: 2,
            alerts: Basis { n: 1, demo: 0 },
            charged_envs: 4,
            charged_demo: 0,
            charged_teams: 2,
            allocated_micros: 1,
            reviews: seen(1),
            admission_rules: 2,
            admitted: 5,
            refused: 1,
            compliance_days: 30,
            audit_events: 100,
            health_reports: seen(3),
        }
    }

    #[test]
    fn seed_provisioning_bands() {
        assert_eq!(provisioning_level(None), 0);
        assert_eq!(provisioning_level(Some(36 * 60 * MINUTE_MS)), 0);
        assert_eq!(provisioning_level(Some(61 * MINUTE_MS)), 0);
        assert_eq!(provisioning_level(Some(45 * MINUTE_MS)), 1);
        assert_eq!(provisioning_level(Some(25 * MINUTE_MS)), 2);
        assert_eq!(provisioning_level(Some(15 * MINUTE_MS)), 3);
        assert_eq!(provisioning_level(Some(9 * MINUTE_MS)), 4);
        assert_eq!(provisioning_level(Some(300)), 4);
    }

    #[test]
    fn cost_control_needs_each_practice_seen_working() {
        let all = everything();
        assert_eq!(cost_control_level(&all), 4);
        assert_eq!(cost_control_level(&Observed { charged_envs: 0, ..all.clone() }), 3);
        assert_eq!(cost_control_level(&Observed { alerts: Basis::default(), ..all.clone() }), 2);
        // A TTL configured but never seen destroying anything is not TTL-based destroy.
        assert_eq!(cost_control_level(&Observed { ttl_destroys: seen(0), ..all.clone() }), 1);
        assert_eq!(cost_control_level(&Observed { ttl_destroys: seen(0), manual_destroys: seen(0), ..all.clone() }), 0);
        assert_eq!(cost_control_level(&Observed { ttl_tiers: 0, manual_destroys: seen(0), ..all }), 0);
    }

    #[test]
    fn governance_needs_each_practice_seen_working() {
        let all = everything();
        assert_eq!(governance_level(&all), 4);
        assert_eq!(governance_level(&Observed { health_reports: seen(0), ..all.clone() }), 3);
        assert_eq!(governance_level(&Observed { compliance_days: 0, ..all.clone() }), 2);
        // Rules nobody was checked against are not observed working.
        assert_eq!(governance_level(&Observed { admitted: 0, refused: 0, ..all.clone() }), 1);
        assert_eq!(governance_level(&Observed { admission_rules: 0, reviews: seen(0), ..all }), 0);
    }

    #[test]
    fn overall_is_the_lowest_axis_and_level_four_has_no_next_step() {
        let a = assess(&everything());
        assert_eq!((a.provisioning.level, a.cost_control.level, a.governance.level, a.overall), (4, 4, 4, 4));
        assert!(a.provisioning.next_step.is_none() && a.governance.next_step.is_none());
        let slow = assess(&Observed { median_wait_ms: Some(25 * MINUTE_MS), ..everything() });
        assert_eq!(slow.overall, 2);
        assert!(slow.provisioning.next_step.unwrap().contains("20 minutes"));
    }

    #[test]
    fn charged_demo_environments_are_flagged() {
        let o = Observed { charged_envs: 4, charged_demo: 3, ..everything() };
        let charged = assess(&o).cost_control.evidence.into_iter().find(|e| e.text.contains("charged")).unwrap();
        assert!(charged.demo && charged.text.contains("4 environments (3 demo seed) charged"), "{charged:?}");
        let measured = assess(&everything()).cost_control.evidence.into_iter().find(|e| e.text.contains("charged"));
        assert!(!measured.unwrap().demo);
    }

    #[test]
    fn demo_rows_are_flagged_in_the_evidence() {
        let o = Observed { waits: Basis { n: 5, demo: 5 }, ..everything() };
        let a = assess(&o);
        assert!(a.provisioning.evidence[0].demo);
        assert!(a.provisioning.evidence[0].text.contains("5 demo seed"));
        assert!(!assess(&everything()).provisioning.evidence[0].demo);
    }

    #[test]
    fn observed_counts_only_the_period_and_a_later_policy_is_not_in_force() {
        let st = |at, demo| Stamp { at, env: Some(format!("env-{at}")), demo };
        let trail = Trail {
            ttl_destroys: vec![st(5, true), st(15, false)],
            created: vec![st(6, false), st(7, false)],
            compliance_runs: vec![1, 9, 12],
            ..Trail::default()
        };
        let standing = Standing { ttl_tiers: 2, admission_rules: 3, admission_since: Some(8), budgets: 1 };
        let o = observed(&trail, &standing, &PeriodFigures::default(), 0, 10);
        assert_eq!(o.ttl_destroys.basis, Basis { n: 1, demo: 1 });
        assert_eq!(o.ttl_destroys.example.as_deref(), Some("env-5"));
        assert_eq!(o.compliance_days, 2);
        assert_eq!((o.admission_rules, o.admitted), (3, 2));
        // Before the policy was saved it was not in force.
        let before = observed(&trail, &standing, &PeriodFigures::default(), 0, 8);
        assert_eq!((before.admission_rules, before.admitted), (0, 0));
    }

    proptest! {
        #[test]
        fn slower_is_never_a_higher_level(a in 0i64..200 * MINUTE_MS, b in 0i64..200 * MINUTE_MS) {
            let (fast, slow) = (a.min(b), a.max(b));
            prop_assert!(provisioning_level(Some(fast)) >= provisioning_level(Some(slow)));
        }

        #[test]
        fn seeing_more_never_lowers_a_level(extra in 0u32..5, which in 0usize..4) {
            let base = Observed { ttl_tiers: 1, budgets: 1, admission_rules: 1, audit_events: 1, ..Observed::default() };
            let mut more = base.clone();
            match which {
                0 => more.ttl_destroys = seen(extra),
                1 => more.alerts = Basis { n: extra, demo: 0 },
                2 => more.admitted = extra,
                _ => more.compliance_days = extra,
            }
            prop_assert!(cost_control_level(&more) >= cost_control_level(&base));
            prop_assert!(governance_level(&more) >= governance_level(&base));
            let a = assess(&more);
            prop_assert_eq!(a.overall, a.provisioning.level.min(a.cost_control.level).min(a.governance.level));
        }
    }
}
