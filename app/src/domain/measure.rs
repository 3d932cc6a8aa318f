//! What the portal measured about itself, summarised for the ROI and maturity
//! dashboards: click-to-ready waits, creations, cost per destroyed
//! environment, ratings. The server gathers the raw rows (`Facts`); these
//! pure functions summarise them for a window and per month, the same on the
//! server and in the browser. Every summary carries its count and how many
//! of those rows are the demo seed's, so no figure hides where it came from.

use super::cost::Month;
use super::money::Micros;
use super::tier::Tier;
use super::time::{DAY_MS, HOUR_MS};
use serde::{Deserialize, Serialize};

/// What asked for an environment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// A person in the browser (a server call from the New-preview form).
    #[default]
    Ui,
    /// `/api/v1` or the CLI (CI, a coding agent).
    Api,
    /// A pull-request webhook.
    Webhook,
}

impl Via {
    pub const fn as_str(self) -> &'static str {
        match self {
            Via::Ui => "ui",
            Via::Api => "api",
            Via::Webhook => "webhook",
        }
    }
}

impl std::str::FromStr for Via {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ui" => Ok(Via::Ui),
            "api" => Ok(Via::Api),
            "webhook" => Ok(Via::Webhook),
            other => Err(format!("unknown trigger {other:?}")),
        }
    }
}

/// How a requested environment became ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadyPath {
    /// Handed over from the warm pool.
    Pool,
    /// Provisioned for the request.
    Cold,
}

impl ReadyPath {
    pub const fn as_str(self) -> &'static str {
        match self {
            ReadyPath::Pool => "pool",
            ReadyPath::Cold => "cold",
        }
    }
}

impl std::str::FromStr for ReadyPath {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pool" => Ok(ReadyPath::Pool),
            "cold" => Ok(ReadyPath::Cold),
            other => Err(format!("unknown path {other:?}")),
        }
    }
}

/// A month as the dashboards average it: 365.25 / 12 days.
pub const AVERAGE_MONTH_MS: i64 = 2_629_800_000;
pub const WEEK_MS: i64 = 7 * DAY_MS;

/// One requester's wait, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitRow {
    pub requested_at: i64,
    pub wait_ms: i64,
    pub path: ReadyPath,
    pub via: Via,
    pub demo: bool,
}

/// One environment somebody asked for (pool fills are not requests).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    pub at: i64,
    pub owner: Option<String>,
    pub demo: bool,
}

/// A destroyed environment's whole direct cost (the team's part: a pool
/// member's wait before its claim was the platform's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestroyedCost {
    pub env_id: String,
    pub destroyed_at: i64,
    pub tier: Tier,
    pub cost: Micros,
    pub demo: bool,
}

/// A 1–5 satisfaction rating.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rating {
    pub at: i64,
    pub score: u8,
    pub demo: bool,
}

/// The raw rows of a span of time (the last twelve months).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    pub waits: Vec<WaitRow>,
    pub created: Vec<Created>,
    pub destroyed: Vec<DestroyedCost>,
    pub ratings: Vec<Rating>,
}

/// How many rows a figure stands on, and how many of them are demo seed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Basis {
    pub n: u32,
    pub demo: u32,
}

impl Basis {
    fn of<'a>(demo: impl Iterator<Item = &'a bool>) -> Basis {
        let mut b = Basis::default();
        for d in demo {
            b.n += 1;
            b.demo += u32::from(*d);
        }
        b
    }
}

/// Waits over a window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitSummary {
    pub basis: Basis,
    pub p50_ms: Option<i64>,
    pub p90_ms: Option<i64>,
    pub pool: Basis,
    pub pool_p50_ms: Option<i64>,
    pub cold: Basis,
    pub cold_p50_ms: Option<i64>,
    /// Requests by trigger: (ui, api, webhook).
    pub by_via: (u32, u32, u32),
}

/// Cost per destroyed environment over a window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostSummary {
    pub basis: Basis,
    pub mean: Option<Micros>,
    pub median: Option<Micros>,
    /// Per preview tier with destroyed environments: (tier, count, mean).
    pub by_tier: Vec<(Tier, u32, Micros)>,
}

/// Everything the ROI dashboard measured over one window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measured {
    /// [from, to) in epoch milliseconds.
    pub from: i64,
    pub to: i64,
    pub waits: WaitSummary,
    pub created: Basis,
    /// Distinct people who asked for environments in the window.
    pub developers: u32,
    pub destroyed: CostSummary,
    /// The chargeback total of the window (every team, shared and pool cost included).
    pub total_cost: Micros,
    pub ratings: Basis,
    /// Mean rating in thousandths (4500 = 4.5/5).
    pub rating_mean_milli: Option<i64>,
}

impl Measured {
    pub fn span_ms(&self) -> i64 {
        (self.to - self.from).max(1)
    }

    /// `n` events over the window, per average month.
    pub fn per_month(&self, n: u32) -> f64 {
        f64::from(n) * AVERAGE_MONTH_MS as f64 / self.span_ms() as f64
    }

    /// The window's total cost per average month, in whole micro-dollars.
    pub fn monthly_cost(&self) -> Micros {
        Micros((i128::from(self.total_cost.0) * i128::from(AVERAGE_MONTH_MS) / i128::from(self.span_ms())) as i64)
    }

    /// Environments each developer asked for per week (0 without requests).
    pub fn per_developer_week(&self) -> f64 {
        if self.developers == 0 {
            return 0.0;
        }
        f64::from(self.created.n) * WEEK_MS as f64 / self.span_ms() as f64 / f64::from(self.developers)
    }
}

/// The nearest-rank percentile (`p` in 1–100) of sorted values: a value
/// that occurred, never an interpolation. `None` for no values.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let p = u64::from(p.clamp(1, 100));
    let rank = (p * sorted.len() as u64).div_ceil(100).max(1);
    Some(sorted[rank as usize - 1])
}

fn in_window(at: i64, from: i64, to: i64) -> bool {
    at >= from && at < to
}

fn sorted(values: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut v: Vec<i64> = values.collect();
    v.sort_unstable();
    v
}

/// Summarises the waits requested in [from, to).
pub fn waits(rows: &[WaitRow], from: i64, to: i64) -> WaitSummary {
    let inside: Vec<&WaitRow> = rows.iter().filter(|w| in_window(w.requested_at, from, to)).collect();
    let all = sorted(inside.iter().map(|w| w.wait_ms));
    let on = |path: ReadyPath| -> (Basis, Option<i64>) {
        let these: Vec<&&WaitRow> = inside.iter().filter(|w| w.path == path).collect();
        (Basis::of(these.iter().map(|w| &w.demo)), percentile(&sorted(these.iter().map(|w| w.wait_ms)), 50))
    };
    let (pool, pool_p50_ms) = on(ReadyPath::Pool);
    let (cold, cold_p50_ms) = on(ReadyPath::Cold);
    let count = |via: Via| inside.iter().filter(|w| w.via == via).count() as u32;
    WaitSummary {
        basis: Basis::of(inside.iter().map(|w| &w.demo)),
        p50_ms: percentile(&all, 50),
        p90_ms: percentile(&all, 90),
        pool,
        pool_p50_ms,
        cold,
        cold_p50_ms,
        by_via: (count(Via::Ui), count(Via::Api), count(Via::Webhook)),
    }
}

/// Summarises the costs of environments destroyed in [from, to).
pub fn destroyed_costs(rows: &[DestroyedCost], from: i64, to: i64) -> CostSummary {
    let inside: Vec<&DestroyedCost> = rows.iter().filter(|d| in_window(d.destroyed_at, from, to)).collect();
    let costs = sorted(inside.iter().map(|d| d.cost.0));
    let mean = |v: &[i64]| (!v.is_empty()).then(|| Micros(v.iter().sum::<i64>() / v.len() as i64));
    let by_tier = Tier::ALL
        .iter()
        .filter_map(|t| {
            let v: Vec<i64> = inside.iter().filter(|d| d.tier == *t).map(|d| d.cost.0).collect();
            Some((*t, v.len() as u32, mean(&v)?))
        })
        .collect();
    CostSummary {
        basis: Basis::of(inside.iter().map(|d| &d.demo)),
        mean: mean(&costs),
        median: percentile(&costs, 50).map(Micros),
        by_tier,
    }
}

/// Mean of the ratings given in [from, to), in thousandths, with its basis.
pub fn ratings(rows: &[Rating], from: i64, to: i64) -> (Basis, Option<i64>) {
    let inside: Vec<&Rating> = rows.iter().filter(|r| in_window(r.at, from, to)).collect();
    let basis = Basis::of(inside.iter().map(|r| &r.demo));
    let sum: i64 = inside.iter().map(|r| i64::from(r.score)).sum();
    (basis, (basis.n > 0).then(|| sum * 1000 / i64::from(basis.n)))
}

/// The window's summary; `total_cost` is the chargeback total of the
/// window, computed by the caller from the price book.
pub fn summarize(facts: &Facts, from: i64, to: i64, total_cost: Micros) -> Measured {
    let created: Vec<&Created> = facts.created.iter().filter(|c| in_window(c.at, from, to)).collect();
    let mut owners: Vec<&str> = created.iter().filter_map(|c| c.owner.as_deref()).collect();
    owners.sort_unstable();
    owners.dedup();
    let (ratings_basis, rating_mean_milli) = ratings(&facts.ratings, from, to);
    Measured {
        from,
        to,
        waits: waits(&facts.waits, from, to),
        created: Basis::of(created.iter().map(|c| &c.demo)),
        developers: owners.len() as u32,
        destroyed: destroyed_costs(&facts.destroyed, from, to),
        total_cost,
        ratings: ratings_basis,
        rating_mean_milli,
    }
}

/// One month of the measured series.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthPoint {
    /// `2026-11`.
    pub month: String,
    pub waits: Basis,
    pub wait_p50_ms: Option<i64>,
    pub wait_p90_ms: Option<i64>,
    pub created: Basis,
    pub destroyed: Basis,
    pub cost_per_env_mean: Option<Micros>,
    pub total_cost: Micros,
    pub ratings: Basis,
    pub rating_mean_milli: Option<i64>,
}

/// The series per month, oldest first; `month_costs` gives each month's
/// chargeback total.
pub fn monthly(facts: &Facts, months: &[(Month, Micros)], as_of: i64) -> Vec<MonthPoint> {
    months
        .iter()
        .map(|(m, total_cost)| {
            let (from, to) = (m.start_ms(), m.next().start_ms().min(as_of.max(m.start_ms() + 1)));
            let w = waits(&facts.waits, from, to);
            let d = destroyed_costs(&facts.destroyed, from, to);
            let (ratings, rating_mean_milli) = ratings(&facts.ratings, from, to);
            MonthPoint {
                month: m.label(),
                waits: w.basis,
                wait_p50_ms: w.p50_ms,
                wait_p90_ms: w.p90_ms,
                created: Basis::of(facts.created.iter().filter(|c| in_window(c.at, from, to)).map(|c| &c.demo)),
                destroyed: d.basis,
                cost_per_env_mean: d.mean,
                total_cost: *total_cost,
                ratings,
                rating_mean_milli,
            }
        })
        .collect()
}

/// "measured: 42 over 30 days (12 demo)", the provenance line of a figure.
pub fn provenance(basis: Basis, span_ms: i64) -> String {
    let days = (span_ms + DAY_MS / 2) / DAY_MS;
    let span = if span_ms < DAY_MS { format!("{} h", (span_ms / HOUR_MS).max(1)) } else { format!("{days} days") };
    match basis {
        Basis { n: 0, .. } => format!("measured: nothing in the last {span}"),
        Basis { n, demo: 0 } => format!("measured: {n} over the last {span}"),
        Basis { n, demo } if demo == n => format!("demo seed: {n} invented rows over the last {span}, not measured"),
        Basis { n, demo } => format!("measured: {n} over the last {span}, {demo} of them demo seed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn wait(at: i64, ms: i64, path: ReadyPath, demo: bool) -> WaitRow {
        WaitRow { requested_at: at, wait_ms: ms, path, via: Via::Ui, demo }
    }

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 50), Some(7));
        assert_eq!(percentile(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 90), Some(4));
        assert_eq!(percentile(&(1..=10).collect::<Vec<_>>(), 90), Some(9));
        assert_eq!(percentile(&(1..=100).collect::<Vec<_>>(), 50), Some(50));
    }

    #[test]
    fn waits_split_by_path_and_count_demo_rows() {
        let rows = vec![
            wait(10, 5, ReadyPath::Pool, false),
            wait(11, 7, ReadyPath::Pool, false),
            wait(12, 40_000, ReadyPath::Cold, true),
            wait(99, 1, ReadyPath::Pool, false), // outside [0, 50)
        ];
        let s = waits(&rows, 0, 50);
        assert_eq!(s.basis, Basis { n: 3, demo: 1 });
        assert_eq!(s.pool, Basis { n: 2, demo: 0 });
        assert_eq!(s.pool_p50_ms, Some(5));
        assert_eq!(s.cold_p50_ms, Some(40_000));
        assert_eq!(s.p50_ms, Some(7));
        assert_eq!(s.p90_ms, Some(40_000));
        assert_eq!(s.by_via, (3, 0, 0));
    }

    #[test]
    fn costs_mean_and_median_per_destroyed_environment() {
        let d = |at, tier, dollars| DestroyedCost {
            env_id: format!("e{at}"),
            destroyed_at: at,
            tier,
            cost: Micros::from_dollars(dollars),
            demo: false,
        };
        let rows = vec![d(1, Tier::PreviewFull, 20), d(2, Tier::PreviewFull, 10), d(3, Tier::PreviewLightweight, 3)];
        let s = destroyed_costs(&rows, 0, 10);
        assert_eq!(s.mean, Some(Micros::from_dollars(11)));
        assert_eq!(s.median, Some(Micros::from_dollars(10)));
        assert_eq!(
            s.by_tier,
            vec![
                (Tier::PreviewLightweight, 1, Micros::from_dollars(3)),
                (Tier::PreviewFull, 2, Micros::from_dollars(15))
            ]
        );
    }

    #[test]
    fn summary_counts_developers_once_and_scales_to_a_month() {
        let c = |at, who: &str| Created { at, owner: Some(who.into()), demo: false };
        let facts = Facts { created: vec![c(0, "a"), c(1, "a"), c(2, "b")], ..Facts::default() };
        let m = summarize(&facts, 0, AVERAGE_MONTH_MS, Micros::from_dollars(300));
        assert_eq!(m.developers, 2);
        assert_eq!(m.created.n, 3);
        assert!((m.per_month(3) - 3.0).abs() < 1e-9);
        assert_eq!(m.monthly_cost(), Micros::from_dollars(300));
        let half = Measured { to: AVERAGE_MONTH_MS / 2, ..m.clone() };
        assert_eq!(half.monthly_cost(), Micros::from_dollars(600));
    }

    #[test]
    fn ratings_mean_in_thousandths() {
        let r = |score| Rating { at: 1, score, demo: false };
        assert_eq!(ratings(&[r(4), r(5)], 0, 2), (Basis { n: 2, demo: 0 }, Some(4500)));
        assert_eq!(ratings(&[], 0, 2), (Basis::default(), None));
    }

    #[test]
    fn provenance_never_calls_demo_rows_measured() {
        assert_eq!(
            provenance(Basis { n: 4, demo: 4 }, 30 * DAY_MS),
            "demo seed: 4 invented rows over the last 30 days, not measured"
        );
        assert!(provenance(Basis { n: 4, demo: 1 }, 30 * DAY_MS).contains("1 of them demo seed"));
        assert_eq!(provenance(Basis { n: 4, demo: 0 }, 30 * DAY_MS), "measured: 4 over the last 30 days");
    }

    #[test]
    fn months_split_the_facts_without_overlap() {
        let m0 = Month::containing(0);
        let facts = Facts {
            waits: vec![wait(0, 3, ReadyPath::Cold, false), wait(m0.next().start_ms(), 9, ReadyPath::Cold, false)],
            ..Facts::default()
        };
        let points = monthly(&facts, &[(m0, Micros::ZERO), (m0.next(), Micros::ZERO)], i64::MAX);
        assert_eq!(points[0].wait_p50_ms, Some(3));
        assert_eq!(points[1].wait_p50_ms, Some(9));
    }

    proptest! {
        #[test]
        fn percentiles_are_observed_values_in_order(mut v in proptest::collection::vec(0i64..1_000_000, 1..200), p in 1u32..=100) {
            v.sort_unstable();
            let x = percentile(&v, p).unwrap();
            prop_assert!(v.contains(&x));
            prop_assert!(percentile(&v, 50).unwrap() <= percentile(&v, 90).unwrap());
            // At least p % of the values are at or below it.
            let at_or_below = v.iter().filter(|&&y| y <= x).count() as u64;
            prop_assert!(at_or_below * 100 >= u64::from(p) * v.len() as u64);
        }

        #[test]
        fn any_split_of_a_window_counts_every_wait_once(
            ats in proptest::collection::vec(0i64..1000, 0..50), cut in 0i64..1000,
        ) {
            let rows: Vec<WaitRow> = ats.iter().map(|&a| wait(a, 1, ReadyPath::Pool, a % 2 == 0)).collect();
            let (a, b, all) = (waits(&rows, 0, cut), waits(&rows, cut, 1000), waits(&rows, 0, 1000));
            prop_assert_eq!(a.basis.n + b.basis.n, all.basis.n);
            prop_assert_eq!(a.basis.demo + b.basis.demo, all.basis.demo);
        }
    }
}
