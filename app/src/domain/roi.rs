//! The ROI dashboard's arithmetic, from the seed's §12 and §8: the
//! before/after table, the ROI calculation with payback period and annual
//! ROI, coding-vs-waiting efficiency, and the PR-volume forecast. Pure and
//! cheap, so every slider recomputes it in the browser with no round trip.
//!
//! Definitions (also on the page):
//! - benefit = developers × hours saved per developer-week × hourly rate;
//!   a month is 52/12 weeks;
//! - cost = measured infrastructure + tooling + maintenance FTE × loaded cost;
//! - annual ROI = (annual benefit − annual cost) ÷ annual cost;
//! - payback period = the months of benefit that pay for a year of cost
//!   (12 × annual cost ÷ annual benefit), so ROI 300 % ⇔ payback 3 months.

use super::measure::Measured;
use super::money::Micros;
use super::tier::Tier;
use super::time::{HOUR_MS, MINUTE_MS, SECOND_MS};
use serde::{Deserialize, Serialize};

/// "Before" as a platform admin entered it (defaults: the seed's table,
/// the middle of each range it gives).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Baseline {
    /// Seed: 1–2 days of manual setup.
    pub time_to_preview_ms: i64,
    /// Seed: 10–20 shared, contested environments.
    pub envs_per_month: u32,
    /// Seed: $500–1,000 a month per long-lived environment.
    pub cost_per_env: Micros,
    /// Seed: $5,000–10,000.
    pub monthly_cost: Micros,
    /// Seed: 3.2/5, in thousandths.
    pub satisfaction_milli: i64,
}

impl Default for Baseline {
    fn default() -> Self {
        Baseline {
            time_to_preview_ms: 36 * HOUR_MS,
            envs_per_month: 15,
            cost_per_env: Micros::from_dollars(750),
            monthly_cost: Micros::from_dollars(7_500),
            satisfaction_milli: 3_200,
        }
    }
}

/// Where the hours saved per developer-week come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HoursSaved {
    /// (baseline wait − measured median wait) × environments per developer-week.
    Derived,
    /// The figure entered.
    Entered,
}

/// The what-if inputs (defaults: the seed's figures).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Assumptions {
    /// Seed: 10 developers.
    pub developers: u32,
    pub hours: HoursSaved,
    /// Seed: 2 h per developer per week, in tenths of an hour.
    pub entered_hours_tenths: u32,
    /// What a developer waited per environment before (seed §8: 25 min).
    pub baseline_wait_ms: i64,
    /// Seed: $100 an hour.
    pub hourly_rate: Micros,
    /// Seed: $500–1,000 a month (IaC platform, monitoring).
    pub tooling_monthly: Micros,
    /// Seed: 0.2 FTE of automation upkeep, in hundredths.
    pub maintenance_fte_hundredths: u32,
    /// What one FTE costs a year, loaded.
    pub fte_yearly: Micros,
    /// Seed §8: 5 minutes of coding per change.
    pub coding_ms: i64,
    /// Pull requests a month for the forecast (seed: 60–90 before AI, 10–15 per developer-week after).
    pub prs_per_month: u32,
    /// Tier mix of those previews, in percent: lightweight, full, compliance.
    pub mix_pct: [u32; 3],
}

impl Default for Assumptions {
    fn default() -> Self {
        Assumptions {
            developers: 10,
            hours: HoursSaved::Entered,
            entered_hours_tenths: 20,
            baseline_wait_ms: 25 * MINUTE_MS,
            hourly_rate: Micros::from_dollars(100),
            tooling_monthly: Micros::from_dollars(750),
            maintenance_fte_hundredths: 20,
            fte_yearly: Micros::from_dollars(150_000),
            coding_ms: 5 * MINUTE_MS,
            prs_per_month: 300,
            mix_pct: [70, 25, 5],
        }
    }
}

/// The saved document: baseline and default assumptions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoiSettings {
    pub baseline: Baseline,
    pub assumptions: Assumptions,
}

/// Checks saved settings: every figure within what makes sense, so a typo
/// cannot turn the dashboard into nonsense. `Err((field, why))`.
pub fn validate(s: &RoiSettings) -> Result<(), (&'static str, String)> {
    use super::time::DAY_MS;
    fn within<T: PartialOrd + std::fmt::Display + Copy>(
        field: &'static str,
        v: T,
        lo: T,
        hi: T,
        what: &str,
    ) -> Result<(), (&'static str, String)> {
        if v < lo || v > hi {
            return Err((field, format!("{what} must be between {lo} and {hi}")));
        }
        Ok(())
    }
    let (b, a) = (&s.baseline, &s.assumptions);
    within("time_to_preview_ms", b.time_to_preview_ms, MINUTE_MS, 60 * DAY_MS, "the baseline time to preview (ms)")?;
    within("envs_per_month", b.envs_per_month, 1, 1_000_000, "the baseline environments a month")?;
    within(
        "cost_per_env",
        b.cost_per_env.0,
        0,
        Micros::from_dollars(1_000_000).0,
        "the baseline cost per environment (µ$)",
    )?;
    within("monthly_cost", b.monthly_cost.0, 0, Micros::from_dollars(100_000_000).0, "the baseline monthly cost (µ$)")?;
    within("satisfaction_milli", b.satisfaction_milli, 1_000, 5_000, "the baseline satisfaction (thousandths of 1–5)")?;
    within("developers", a.developers, 1, 1_000_000, "developers")?;
    within("entered_hours_tenths", a.entered_hours_tenths, 0, 400, "hours saved per developer-week (tenths)")?;
    within("baseline_wait_ms", a.baseline_wait_ms, 0, 30 * DAY_MS, "the baseline wait per environment (ms)")?;
    within("hourly_rate", a.hourly_rate.0, 0, Micros::from_dollars(10_000).0, "the hourly rate (µ$)")?;
    within("tooling_monthly", a.tooling_monthly.0, 0, Micros::from_dollars(10_000_000).0, "tooling a month (µ$)")?;
    within("maintenance_fte_hundredths", a.maintenance_fte_hundredths, 0, 100_000, "maintenance FTE (hundredths)")?;
    within("fte_yearly", a.fte_yearly.0, 0, Micros::from_dollars(10_000_000).0, "an FTE's yearly cost (µ$)")?;
    within("coding_ms", a.coding_ms, 0, DAY_MS, "coding time per change (ms)")?;
    within("prs_per_month", a.prs_per_month, 0, 10_000_000, "pull requests a month")?;
    for pct in a.mix_pct {
        within("mix_pct", pct, 0, 100, "each tier's share (%)")?;
    }
    if a.mix_pct.iter().sum::<u32>() == 0 {
        return Err(("mix_pct", "give at least one tier a share of the pull requests".into()));
    }
    Ok(())
}

/// The ROI calculation's figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roi {
    /// The hours saved per developer-week used, in tenths.
    pub hours_saved_tenths: u32,
    /// What the measurements give (`None` without a measured wait or developers).
    pub derived_hours_tenths: Option<u32>,
    pub weekly_benefit: Micros,
    pub monthly_benefit: Micros,
    /// The measured chargeback total per month.
    pub infra_monthly: Micros,
    pub tooling_monthly: Micros,
    pub maintenance_monthly: Micros,
    pub monthly_cost: Micros,
    pub annual_benefit: Micros,
    pub annual_cost: Micros,
    /// In tenths of a month; `None` when nothing is saved.
    pub payback_months_tenths: Option<i64>,
    /// `None` when nothing costs anything.
    pub annual_roi_pct: Option<i64>,
}

fn mul_div(a: i128, b: i128, c: i128) -> i64 {
    if c == 0 {
        return 0;
    }
    (a * b / c) as i64
}

/// Hours saved per developer-week from the measurements, in tenths.
pub fn derived_hours_tenths(a: &Assumptions, m: &Measured) -> Option<u32> {
    let median = m.waits.p50_ms?;
    if m.developers == 0 {
        return None;
    }
    let saved_per_env_ms = (a.baseline_wait_ms - median).max(0) as f64;
    let tenths = m.per_developer_week() * saved_per_env_ms * 10.0 / HOUR_MS as f64;
    Some(tenths.round().min(f64::from(u32::MAX)) as u32)
}

/// The seed's ROI calculation over the measured figures.
pub fn roi(a: &Assumptions, m: &Measured) -> Roi {
    let derived = derived_hours_tenths(a, m);
    let hours_saved_tenths = match a.hours {
        HoursSaved::Derived => derived.unwrap_or(0),
        HoursSaved::Entered => a.entered_hours_tenths,
    };
    let weekly = mul_div(i128::from(a.developers) * i128::from(hours_saved_tenths), i128::from(a.hourly_rate.0), 10);
    let monthly_benefit = mul_div(i128::from(weekly), 52, 12);
    let infra = m.monthly_cost();
    let maintenance = mul_div(i128::from(a.fte_yearly.0), i128::from(a.maintenance_fte_hundredths), 1200);
    let monthly_cost = infra.0 + a.tooling_monthly.0 + maintenance;
    let (annual_benefit, annual_cost) = (monthly_benefit * 12, monthly_cost * 12);
    Roi {
        hours_saved_tenths,
        derived_hours_tenths: derived,
        weekly_benefit: Micros(weekly),
        monthly_benefit: Micros(monthly_benefit),
        infra_monthly: infra,
        tooling_monthly: a.tooling_monthly,
        maintenance_monthly: Micros(maintenance),
        monthly_cost: Micros(monthly_cost),
        annual_benefit: Micros(annual_benefit),
        annual_cost: Micros(annual_cost),
        payback_months_tenths: (monthly_benefit > 0)
            .then(|| mul_div(i128::from(annual_cost), 10, i128::from(monthly_benefit))),
        annual_roi_pct: (annual_cost > 0)
            .then(|| mul_div(i128::from(annual_benefit - annual_cost), 100, i128::from(annual_cost))),
    }
}

/// A wait for people: `420 ms`, `4.2 s`, `1m 21s`, `3h 05m`.
pub fn wait_text(ms: i64) -> String {
    if ms < SECOND_MS {
        format!("{ms} ms")
    } else if ms < MINUTE_MS {
        format!("{:.1} s", ms as f64 / SECOND_MS as f64)
    } else if ms < HOUR_MS {
        // Rounded to the second: a p90 of 80.8 s is not "1m".
        let s = (ms + SECOND_MS / 2) / SECOND_MS;
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        super::time::short_duration(ms)
    }
}

/// One row of the before/after table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    pub metric: String,
    pub before: String,
    /// `None` when nothing was measured.
    pub after: Option<String>,
    pub improvement: Option<String>,
}

fn pct_change(before: f64, after: f64) -> f64 {
    (after - before) * 100.0 / before
}

/// The seed's before/after table, "after" from the measurements.
pub fn comparison(b: &Baseline, m: &Measured) -> Vec<Comparison> {
    let rate = |f: f64, more: &str, less: &str| {
        if f >= 0.0 {
            format!("{:.0} % {more}", f)
        } else {
            format!("{:.0} % {less}", -f)
        }
    };
    let time = {
        let after = m
            .waits
            .p50_ms
            .map(|p50| format!("{} median, {} p90", wait_text(p50), wait_text(m.waits.p90_ms.unwrap_or(p50))));
        let improvement = m.waits.p50_ms.filter(|_| b.time_to_preview_ms > 0).map(|p50| {
            let faster = -pct_change(b.time_to_preview_ms as f64, p50 as f64);
            if faster >= 99.95 {
                format!("{:.2} % faster", faster.min(99.99))
            } else {
                rate(faster, "faster", "slower")
            }
        });
        Comparison { metric: "Time to preview".into(), before: wait_text(b.time_to_preview_ms), after, improvement }
    };
    let per_month = m.per_month(m.created.n);
    let envs = Comparison {
        metric: "Environments / month".into(),
        before: b.envs_per_month.to_string(),
        after: (m.created.n > 0).then(|| format!("{per_month:.0}")),
        improvement: (m.created.n > 0 && b.envs_per_month > 0)
            .then(|| format!("{:.1}× as many", per_month / f64::from(b.envs_per_month))),
    };
    let cost = Comparison {
        metric: "Cost / environment".into(),
        before: b.cost_per_env.to_string(),
        after: m.destroyed.mean.map(|mean| format!("{mean} mean, {} median", m.destroyed.median.unwrap_or(mean))),
        improvement: m
            .destroyed
            .mean
            .filter(|_| b.cost_per_env.0 > 0)
            .map(|mean| rate(-pct_change(b.cost_per_env.0 as f64, mean.0 as f64), "cheaper", "dearer")),
    };
    let monthly = m.monthly_cost();
    let total = Comparison {
        metric: "Total monthly cost".into(),
        before: b.monthly_cost.to_string(),
        after: Some(monthly.to_string()),
        improvement: (b.monthly_cost.0 > 0)
            .then(|| rate(-pct_change(b.monthly_cost.0 as f64, monthly.0 as f64), "lower", "higher")),
    };
    let satisfaction = Comparison {
        metric: "Developer satisfaction".into(),
        before: format!("{:.1}/5", b.satisfaction_milli as f64 / 1000.0),
        after: m.rating_mean_milli.map(|r| format!("{:.1}/5 ({} ratings)", r as f64 / 1000.0, m.ratings.n)),
        improvement: m.rating_mean_milli.filter(|_| b.satisfaction_milli > 0).map(|r| {
            let f = pct_change(b.satisfaction_milli as f64, r as f64);
            format!("{}{f:.0} %", if f >= 0.0 { "+" } else { "−" }).replace("−-", "−")
        }),
    };
    vec![time, envs, cost, total, satisfaction]
}

/// Coding time's share of coding plus waiting, in tenths of a percent
/// (seed §8: 5 min coding + 25 min waiting = 16.7 %).
pub fn efficiency_tenths(coding_ms: i64, wait_ms: i64) -> i64 {
    let total = coding_ms.max(0) + wait_ms.max(0);
    if total == 0 {
        return 1000;
    }
    // Rounded to the nearest tenth: 5 of 30 minutes is 16.7 %, not 16.6 %.
    ((coding_ms.max(0) as i128 * 1000 + total as i128 / 2) / total as i128) as i64
}

/// Hours a month in which pull requests arrive: 22 working days of 8 h.
pub const WORKING_HOURS_PER_MONTH: f64 = 176.0;

/// One preview tier of the forecast.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TierForecast {
    pub tier: Tier,
    pub envs: f64,
    pub cost_per_env: Micros,
    /// Whether that cost was measured on this tier (else the all-tier mean).
    pub measured_for_tier: bool,
    pub monthly_cost: Micros,
    pub pool_size: u32,
    /// Requests per working hour.
    pub arrivals_per_hour: f64,
    /// Members being rebuilt at a time on average (arrivals × provisioning time).
    pub in_refill: f64,
    /// The chance a request finds the pool empty and waits a cold start.
    pub p_empty: f64,
    pub expected_wait_ms: Option<i64>,
    /// The smallest pool that keeps that chance under 5 %.
    pub suggested_pool: u32,
}

/// The PR-volume forecast.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    pub tiers: Vec<TierForecast>,
    pub monthly_cost: Micros,
    /// The measured cold provisioning time it assumes.
    pub provisioning_ms: Option<i64>,
    pub expected_wait_ms: Option<i64>,
}

pub const PREVIEW_TIERS: [Tier; 3] = [Tier::PreviewLightweight, Tier::PreviewFull, Tier::PreviewCompliance];

/// P(X ≥ k) for X ~ Poisson(mean).
pub fn poisson_at_least(mean: f64, k: u32) -> f64 {
    if k == 0 || mean.is_nan() {
        return 1.0;
    }
    if mean <= 0.0 {
        return 0.0;
    }
    if mean > 500.0 {
        // Normal approximation with continuity correction; exp(-mean) underflows here.
        let z = (f64::from(k) - 0.5 - mean) / mean.sqrt();
        return 0.5 * erfc(z / std::f64::consts::SQRT_2);
    }
    let mut term = (-mean).exp();
    let mut below = 0.0;
    for i in 0..k {
        below += term;
        term *= mean / f64::from(i + 1);
    }
    (1.0 - below).clamp(0.0, 1.0)
}

/// Complementary error function (Abramowitz–Stegun 7.1.26; |error| < 1.5e-7).
fn erfc(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly =
        t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let e = poly * (-x * x).exp();
    if x >= 0.0 {
        e
    } else {
        2.0 - e
    }
}

/// At N pull requests a month and a tier mix: the monthly cost at the
/// measured cost per environment, and what the requests do to the warm
/// pools. A pool member is rebuilt in the measured cold provisioning time
/// after each claim, all at once (the pool keeper starts every missing
/// member), so the members out for rebuilding at a time are Poisson with
/// mean arrivals × provisioning time, and a request finds its tier's pool
/// empty when that many reach the pool's size. One pool per tier is assumed
/// (the configured sizes summed over apps).
pub fn forecast(a: &Assumptions, m: &Measured, pools: &[(Tier, u32)]) -> Forecast {
    let mix_total: u32 = a.mix_pct.iter().sum();
    let provisioning = m.waits.cold_p50_ms;
    let pool_wait = m.waits.pool_p50_ms.unwrap_or(0);
    let mut tiers = Vec::new();
    let mut total_cost = 0i64;
    let mut wait_sum = 0.0;
    for (i, tier) in PREVIEW_TIERS.iter().enumerate() {
        let share = if mix_total == 0 { 0.0 } else { f64::from(a.mix_pct[i]) / f64::from(mix_total) };
        let envs = f64::from(a.prs_per_month) * share;
        let own = m.destroyed.by_tier.iter().find(|(t, _, _)| t == tier).map(|(_, _, mean)| *mean);
        let cost_per_env = own.or(m.destroyed.mean).unwrap_or_default();
        let monthly_cost = Micros((envs * cost_per_env.0 as f64).round() as i64);
        let pool_size: u32 = pools.iter().filter(|(t, _)| t == tier).map(|(_, n)| n).sum();
        let arrivals_per_hour = envs / WORKING_HOURS_PER_MONTH;
        let in_refill = provisioning.map_or(0.0, |s| arrivals_per_hour * s as f64 / HOUR_MS as f64);
        let p_empty =
            if provisioning.is_none() && pool_size > 0 { 0.0 } else { poisson_at_least(in_refill, pool_size) };
        let expected_wait_ms =
            provisioning.map(|s| (p_empty * s as f64 + (1.0 - p_empty) * pool_wait as f64).round() as i64);
        let suggested_pool = (0..=10_000).find(|k| poisson_at_least(in_refill, *k) < 0.05).unwrap_or(10_000);
        if let Some(w) = expected_wait_ms {
            wait_sum += share * w as f64;
        }
        total_cost += monthly_cost.0;
        tiers.push(TierForecast {
            tier: *tier,
            envs,
            cost_per_env,
            measured_for_tier: own.is_some(),
            monthly_cost,
            pool_size,
            arrivals_per_hour,
            in_refill,
            p_empty,
            expected_wait_ms,
            suggested_pool,
        });
    }
    Forecast {
        tiers,
        monthly_cost: Micros(total_cost),
        provisioning_ms: provisioning,
        expected_wait_ms: provisioning.map(|_| wait_sum.round() as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::measure::{Basis, CostSummary, WaitSummary, AVERAGE_MONTH_MS};
    use proptest::prelude::*;

    /// A month of measurements costing `infra` dollars.
    fn month_costing(infra: i64) -> Measured {
        Measured { from: 0, to: AVERAGE_MONTH_MS, total_cost: Micros::from_dollars(infra), ..Measured::default() }
    }

    /// The seed's assumptions; infrastructure is measured, so it goes into `month_costing`.
    fn seed(developers: u32, tooling: i64) -> Assumptions {
        Assumptions { developers, tooling_monthly: Micros::from_dollars(tooling), ..Assumptions::default() }
    }

    #[test]
    fn seed_worked_example_ten_developers_save_two_thousand_dollars_a_week() {
        // 10 devs × 2 h/week × $100/h = $2,000/week.
        let r = roi(&seed(10, 750), &month_costing(4_000));
        assert_eq!(r.weekly_benefit, Micros::from_dollars(2_000));
        assert_eq!(r.monthly_benefit, Micros(8_666_666_666));
        // 0.2 FTE at $150,000 a year loaded.
        assert_eq!(r.maintenance_monthly, Micros::from_dollars(2_500));
        assert_eq!(r.monthly_cost, Micros::from_dollars(4_000 + 750 + 2_500));
    }

    #[test]
    fn seed_roi_and_payback_hold_for_its_thirty_five_person_team() {
        // The seed's 200–400 % and 2–3 months are its ~35-person team's
        // figures; at the middle of its cost ranges (infrastructure $4,000,
        // tooling $750, 0.2 FTE) they hold.
        let r = roi(&seed(35, 750), &month_costing(4_000));
        let pct = r.annual_roi_pct.unwrap();
        assert!((200..=400).contains(&pct), "ROI {pct} %");
        let payback = r.payback_months_tenths.unwrap();
        assert!((20..=30).contains(&payback), "payback {payback} tenths of a month");
        assert_eq!(pct, 318);
        assert_eq!(payback, 28);
    }

    #[test]
    fn seed_ten_developers_alone_do_not_pay_for_its_cost_ranges() {
        // Said plainly rather than hidden: $8,667 a month of saved time
        // against $7,250 of cost is a 19 % ROI with a ten-month payback.
        let r = roi(&seed(10, 750), &month_costing(4_000));
        assert_eq!(r.annual_roi_pct, Some(19));
        assert_eq!(r.payback_months_tenths, Some(100));
    }

    #[test]
    fn derived_hours_come_from_the_measured_wait_and_request_rate() {
        // 2 developers, 8 environments a week between them, waiting 1 min
        // instead of 25: 4 × 24 min = 1.6 h per developer-week.
        let m = Measured {
            from: 0,
            to: crate::domain::measure::WEEK_MS,
            created: Basis { n: 8, demo: 0 },
            developers: 2,
            waits: WaitSummary { p50_ms: Some(MINUTE_MS), ..WaitSummary::default() },
            ..Measured::default()
        };
        let a = Assumptions { hours: HoursSaved::Derived, ..Assumptions::default() };
        assert_eq!(derived_hours_tenths(&a, &m), Some(16));
        assert_eq!(roi(&a, &m).hours_saved_tenths, 16);
        // Waiting longer than the baseline saves nothing (never negative).
        let slow = Measured { waits: WaitSummary { p50_ms: Some(HOUR_MS), ..WaitSummary::default() }, ..m.clone() };
        assert_eq!(derived_hours_tenths(&a, &slow), Some(0));
        // Nothing measured: nothing derived.
        assert_eq!(derived_hours_tenths(&a, &Measured::default()), None);
    }

    #[test]
    fn waits_read_to_the_second_under_an_hour() {
        assert_eq!(wait_text(420), "420 ms");
        assert_eq!(wait_text(46_200), "46.2 s");
        assert_eq!(wait_text(80_800), "1m 21s");
        assert_eq!(wait_text(36 * HOUR_MS), "1d 12h");
    }

    #[test]
    fn seed_efficiency_five_minutes_coding_twenty_five_waiting_is_seventeen_percent() {
        assert_eq!(efficiency_tenths(5 * MINUTE_MS, 25 * MINUTE_MS), 167);
        assert_eq!(efficiency_tenths(9_936, 64), 994, "rounded, not cut");
        assert_eq!(efficiency_tenths(5 * MINUTE_MS, 0), 1000);
        assert_eq!(efficiency_tenths(0, 0), 1000);
    }

    #[test]
    fn comparison_table_against_the_seed_baseline() {
        let m = Measured {
            from: 0,
            to: AVERAGE_MONTH_MS,
            created: Basis { n: 300, demo: 0 },
            waits: WaitSummary { p50_ms: Some(900), p90_ms: Some(2_000), ..WaitSummary::default() },
            destroyed: CostSummary {
                basis: Basis { n: 10, demo: 0 },
                mean: Some(Micros::from_dollars(75)),
                median: Some(Micros::from_dollars(50)),
                by_tier: vec![],
            },
            total_cost: Micros::from_dollars(3_750),
            ratings: Basis { n: 4, demo: 0 },
            rating_mean_milli: Some(4_480),
            ..Measured::default()
        };
        let rows = comparison(&Baseline::default(), &m);
        let get = |metric: &str| rows.iter().find(|r| r.metric == metric).unwrap().clone();
        assert_eq!(get("Time to preview").after.as_deref(), Some("900 ms median, 2.0 s p90"));
        assert_eq!(get("Time to preview").improvement.as_deref(), Some("99.99 % faster"));
        assert_eq!(get("Environments / month").improvement.as_deref(), Some("20.0× as many"));
        assert_eq!(get("Cost / environment").improvement.as_deref(), Some("90 % cheaper"));
        assert_eq!(get("Total monthly cost").improvement.as_deref(), Some("50 % lower"));
        assert_eq!(get("Developer satisfaction").improvement.as_deref(), Some("+40 %"));
        // Nothing measured: no invented "after".
        let empty = comparison(&Baseline::default(), &Measured { to: AVERAGE_MONTH_MS, ..Measured::default() });
        assert!(empty.iter().filter(|r| r.metric != "Total monthly cost").all(|r| r.after.is_none()));
    }

    #[test]
    fn settings_outside_sense_are_refused_with_their_field() {
        assert_eq!(validate(&RoiSettings::default()), Ok(()));
        let mut s = RoiSettings::default();
        s.baseline.satisfaction_milli = 6_000;
        assert_eq!(validate(&s).unwrap_err().0, "satisfaction_milli");
        let mut s = RoiSettings::default();
        s.assumptions.mix_pct = [0, 0, 0];
        assert_eq!(validate(&s).unwrap_err().0, "mix_pct");
        let mut s = RoiSettings::default();
        s.assumptions.developers = 0;
        assert_eq!(validate(&s).unwrap_err().0, "developers");
    }

    #[test]
    fn poisson_tail_matches_known_values() {
        assert!((poisson_at_least(1.0, 1) - (1.0 - (-1.0f64).exp())).abs() < 1e-12);
        assert_eq!(poisson_at_least(3.0, 0), 1.0);
        assert_eq!(poisson_at_least(0.0, 2), 0.0);
        // Large means use the normal approximation: the median is near the mean.
        let p = poisson_at_least(1_000.0, 1_000);
        assert!((p - 0.5).abs() < 0.02, "{p}");
    }

    #[test]
    fn forecast_costs_the_mix_and_sizes_the_pool() {
        let m = Measured {
            waits: WaitSummary { cold_p50_ms: Some(HOUR_MS), pool_p50_ms: Some(10), ..WaitSummary::default() },
            destroyed: CostSummary {
                mean: Some(Micros::from_dollars(10)),
                by_tier: vec![(Tier::PreviewFull, 3, Micros::from_dollars(20))],
                ..CostSummary::default()
            },
            ..month_costing(0)
        };
        let a = Assumptions { prs_per_month: 176, mix_pct: [50, 50, 0], ..Assumptions::default() };
        let f = forecast(&a, &m, &[(Tier::PreviewLightweight, 2)]);
        let lw = &f.tiers[0];
        // 88 a month over 176 working hours: 0.5 an hour, half a rebuild out at a time.
        assert!((lw.arrivals_per_hour - 0.5).abs() < 1e-9);
        assert!((lw.in_refill - 0.5).abs() < 1e-9);
        assert!(!lw.measured_for_tier);
        assert_eq!(lw.monthly_cost, Micros::from_dollars(880));
        assert_eq!(f.tiers[1].monthly_cost, Micros::from_dollars(1_760));
        assert_eq!(f.monthly_cost, Micros::from_dollars(2_640));
        // Without a pool every full preview waits a cold start.
        assert_eq!(f.tiers[1].p_empty, 1.0);
        assert_eq!(f.tiers[1].expected_wait_ms, Some(HOUR_MS));
        assert!(lw.p_empty < 0.1 && lw.suggested_pool <= 3);
    }

    proptest! {
        #[test]
        fn roi_and_payback_agree(devs in 1u32..200, hours in 1u32..100, infra in 0i64..50_000, tooling in 0i64..5_000) {
            let a = Assumptions { developers: devs, entered_hours_tenths: hours, tooling_monthly: Micros::from_dollars(tooling), ..Assumptions::default() };
            let r = roi(&a, &month_costing(infra));
            let (pct, payback) = (r.annual_roi_pct.unwrap(), r.payback_months_tenths.unwrap());
            // Positive ROI exactly when a year's cost is paid back within the year.
            if pct >= 1 { prop_assert!(payback < 120, "{pct} % but payback {payback}"); }
            if pct < 0 { prop_assert!(payback >= 120, "{pct} % but payback {payback}"); }
            // More developers never lower the ROI.
            let more = roi(&Assumptions { developers: devs + 1, ..a.clone() }, &month_costing(infra));
            prop_assert!(more.annual_roi_pct.unwrap() >= pct);
        }

        #[test]
        fn a_bigger_pool_never_empties_more_often(mean in 0.0f64..50.0, k in 0u32..60) {
            prop_assert!(poisson_at_least(mean, k + 1) <= poisson_at_least(mean, k) + 1e-12);
        }

        #[test]
        fn efficiency_is_a_share(coding in 0i64..10_000_000, wait in 0i64..10_000_000) {
            let e = efficiency_tenths(coding, wait);
            prop_assert!((0..=1000).contains(&e));
        }
    }
}
