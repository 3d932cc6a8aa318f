//! Budgets: a team's monthly limit, the alert levels that notify its
//! managers, and the admission gate that refuses new previews over budget.

use super::money::Micros;
use super::tier::Tier;
use serde::{Deserialize, Serialize};

/// Alert levels when none are given: half, most and all of the budget.
pub const DEFAULT_THRESHOLDS: [u32; 3] = [50, 80, 100];

/// A team's budget for a month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    pub amount: Micros,
    /// Percentages of `amount`, ascending, each once.
    pub thresholds: Vec<u32>,
    /// The month (`YYYY-MM`) this budget was set for; later months keep it until changed.
    pub since: String,
}

/// Parses alert levels like `50, 80, 100`: whole percentages from 1 to 1000,
/// each once; empty means the defaults.
pub fn parse_thresholds(text: &str) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let pct: u32 =
            part.trim_end_matches('%').trim().parse().map_err(|_| format!("{part:?} is not a whole percentage"))?;
        if !(1..=1000).contains(&pct) {
            return Err(format!("{pct}% is outside 1–1000%"));
        }
        if out.contains(&pct) {
            return Err(format!("{pct}% is given twice"));
        }
        out.push(pct);
    }
    if out.is_empty() {
        out = DEFAULT_THRESHOLDS.to_vec();
    }
    if out.len() > 10 {
        return Err("at most 10 alert levels".into());
    }
    out.sort_unstable();
    Ok(out)
}

pub fn format_thresholds(levels: &[u32]) -> String {
    levels.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// Parses a budget amount in dollars (`1500`, `1,500.25`, `$80`) to micros.
pub fn parse_dollars(text: &str) -> Result<Micros, String> {
    let t: String = text.trim().trim_start_matches('$').chars().filter(|c| *c != ',').collect();
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty() || !whole.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("{:?} is not an amount in dollars", text.trim()));
    }
    if frac.len() > 6 || whole.len() > 12 {
        return Err("at most 12 digits of dollars and 6 decimals".into());
    }
    let whole: i64 = whole.parse().map_err(|_| "not a number".to_string())?;
    let frac_micros: i64 = format!("{frac:0<6}").parse().unwrap_or(0);
    Ok(Micros(whole * 1_000_000 + frac_micros))
}

/// Whole percent of the budget spent (rounded down); `None` for a zero budget.
pub fn percent(spent: Micros, budget: Micros) -> Option<i64> {
    (budget.0 > 0).then(|| (i128::from(spent.0) * 100 / i128::from(budget.0)) as i64)
}

/// How much of a budget is used, for display: the percentage to colour by
/// (a $0 budget counts as 100 % once anything is spent) and its label
/// (`"82%"`, or `"over"` for a $0 budget with spend).
pub fn usage(spent: Micros, budget: Micros) -> (i64, String) {
    match percent(spent, budget) {
        Some(p) => (p, format!("{p}%")),
        None if spent.0 > 0 => (100, "over".to_string()),
        None => (0, "0%".to_string()),
    }
}

/// The alert levels `spent` has reached (spent ≥ level % of the budget).
pub fn reached(budget: &Budget, spent: Micros) -> Vec<u32> {
    budget
        .thresholds
        .iter()
        .copied()
        .filter(|pct| i128::from(spent.0) * 100 >= i128::from(budget.amount.0) * i128::from(*pct))
        .collect()
}

/// What a tier does when its team is at or over budget (`budget_gate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetGate {
    /// Refuse the new environment (409).
    Block,
    /// Create it and say the team is over budget.
    Warn,
    Off,
}

/// The gate's answer for one new environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GateOutcome {
    Pass,
    Warn(String),
    Block(String),
}

/// Whether a team that has spent `spent` of `budget` this month may start
/// an environment of `tier`. Platform admins are not gated (the caller
/// passes `exempt`).
pub fn gate(
    setting: BudgetGate,
    tier: Tier,
    team: &str,
    month: &str,
    budget: Option<&Budget>,
    spent: Micros,
    exempt: bool,
) -> GateOutcome {
    let Some(budget) = budget else { return GateOutcome::Pass };
    if setting == BudgetGate::Off || exempt || spent < budget.amount {
        return GateOutcome::Pass;
    }
    let pct = percent(spent, budget.amount).map_or("over".to_string(), |p| format!("{p}%"));
    let why = format!("team {team} has spent {spent} of its {month} budget of {} ({pct})", budget.amount);
    match setting {
        BudgetGate::Block => GateOutcome::Block(format!(
            "{why}; new {} environments are blocked until the budget is raised or the month ends",
            tier.as_str()
        )),
        BudgetGate::Warn => GateOutcome::Warn(format!("{why}; the environment was created anyway")),
        BudgetGate::Off => GateOutcome::Pass,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn budget(dollars: i64) -> Budget {
        Budget {
            amount: Micros::from_dollars(dollars),
            thresholds: DEFAULT_THRESHOLDS.to_vec(),
            since: "2026-11".into(),
        }
    }

    #[test]
    fn thresholds_parse_sorted_and_default_when_empty() {
        assert_eq!(parse_thresholds(" 100, 50%,80 ").unwrap(), vec![50, 80, 100]);
        assert_eq!(parse_thresholds("").unwrap(), vec![50, 80, 100]);
        assert!(parse_thresholds("50,50").is_err());
        assert!(parse_thresholds("0").is_err());
        assert!(parse_thresholds("abc").is_err());
    }

    #[test]
    fn dollars_parse_to_micros_exactly() {
        assert_eq!(parse_dollars("1,500.25").unwrap(), Micros(1_500_250_000));
        assert_eq!(parse_dollars("$80").unwrap(), Micros(80_000_000));
        assert_eq!(parse_dollars("0.000001").unwrap(), Micros(1));
        for bad in ["", "-5", "1.2.3", "abc", "1.0000001", "1e5"] {
            assert!(parse_dollars(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn usage_reads_over_for_a_zero_budget_with_spend() {
        assert_eq!(usage(Micros(82), Micros(100)), (82, "82%".to_string()));
        assert_eq!(usage(Micros(1), Micros(0)), (100, "over".to_string()));
        assert_eq!(usage(Micros(0), Micros(0)), (0, "0%".to_string()));
    }

    #[test]
    fn levels_are_reached_at_their_exact_amount() {
        let b = budget(100);
        assert_eq!(reached(&b, Micros(49_999_999)), Vec::<u32>::new());
        assert_eq!(reached(&b, Micros(50_000_000)), vec![50]);
        assert_eq!(reached(&b, Micros(100_000_000)), vec![50, 80, 100]);
    }

    #[test]
    fn the_gate_blocks_at_the_budget_warns_or_lets_admins_through() {
        let b = budget(100);
        let over = Micros::from_dollars(120);
        let t = Tier::PreviewFull;
        assert!(
            matches!(gate(BudgetGate::Block, t, "web", "2026-11", Some(&b), over, false), GateOutcome::Block(m) if m.contains("$120.00") && m.contains("$100.00") && m.contains("120%"))
        );
        assert!(matches!(gate(BudgetGate::Warn, t, "web", "2026-11", Some(&b), over, false), GateOutcome::Warn(_)));
        assert_eq!(gate(BudgetGate::Block, t, "web", "2026-11", Some(&b), over, true), GateOutcome::Pass);
        assert_eq!(gate(BudgetGate::Off, t, "web", "2026-11", Some(&b), over, false), GateOutcome::Pass);
        assert_eq!(
            gate(BudgetGate::Block, t, "web", "2026-11", Some(&b), Micros::from_dollars(99), false),
            GateOutcome::Pass
        );
        assert_eq!(gate(BudgetGate::Block, t, "web", "2026-11", None, over, false), GateOutcome::Pass);
    }

    proptest! {
        #[test]
        fn reached_levels_grow_with_spend(a in 0i64..1_000_000_000, b in 0i64..1_000_000_000, amount in 1i64..1_000_000_000) {
            let bud = Budget { amount: Micros(amount), thresholds: vec![10, 50, 80, 100, 150], since: "2026-11".into() };
            let (lo, hi) = (a.min(b), a.max(b));
            let r_lo = reached(&bud, Micros(lo));
            let r_hi = reached(&bud, Micros(hi));
            prop_assert!(r_lo.iter().all(|l| r_hi.contains(l)));
        }
    }
}
