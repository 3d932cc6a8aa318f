//! Chargeback: who pays for what in a UTC calendar month.
//!
//! Every priced resource interval of an environment is cut three ways: to
//! the month (and, for the month to date, to now), at the claim of a
//! warm-pool member (time before it is the pool's idle cost, not the
//! team's), and at the price book's rate changes. The pieces a team pays
//! directly are its direct cost; the rest goes to a shared-cost pool (warm
//! pools, the lightweight tier's shared database server, environments marked
//! shared), each allocated to the teams with usage that month by its rule.
//! Allocation is largest-remainder in integer micro-dollars, so the shares
//! sum to the pool exactly and what no team can take is an explicit
//! unallocated amount: Σ teams + unallocated = the month's total, always.

use super::cost::{interval_cost, Month};
use super::money::Micros;
use super::price::{PriceBook, SHARED_DATABASE_SERVER};
use super::tier::Tier;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A cost no single team caused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SharedPool {
    /// Warm-pool members' running time before their claim.
    WarmPools,
    /// The lightweight tier's shared database server, while any lightweight environment runs.
    SharedDatabase,
    /// Environments marked shared (a staging several teams use).
    SharedEnvironments,
}

impl SharedPool {
    pub const ALL: [SharedPool; 3] =
        [SharedPool::WarmPools, SharedPool::SharedDatabase, SharedPool::SharedEnvironments];

    pub const fn as_str(self) -> &'static str {
        match self {
            SharedPool::WarmPools => "warm-pools",
            SharedPool::SharedDatabase => "shared-database",
            SharedPool::SharedEnvironments => "shared-environments",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            SharedPool::WarmPools => "Warm pools (idle before claim)",
            SharedPool::SharedDatabase => "Shared database server (lightweight tier)",
            SharedPool::SharedEnvironments => "Shared environments",
        }
    }
}

/// How a shared-cost pool is split among the teams with usage in the month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Allocation {
    /// In proportion to each team's direct cost that month.
    Proportional,
    /// Equally across the teams with usage that month.
    Even,
}

impl Allocation {
    pub const fn as_str(self) -> &'static str {
        match self {
            Allocation::Proportional => "proportional",
            Allocation::Even => "even",
        }
    }
}

impl std::str::FromStr for Allocation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "proportional" => Ok(Allocation::Proportional),
            "even" => Ok(Allocation::Even),
            other => Err(format!("{other:?} is not an allocation rule (proportional or even)")),
        }
    }
}

/// The allocation rule of each shared-cost pool (`[costs]` in the config).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllocationRules {
    pub warm_pools: Allocation,
    pub shared_database: Allocation,
    pub shared_environments: Allocation,
}

impl Default for AllocationRules {
    fn default() -> Self {
        AllocationRules {
            warm_pools: Allocation::Proportional,
            shared_database: Allocation::Even,
            shared_environments: Allocation::Proportional,
        }
    }
}

impl AllocationRules {
    pub fn rule(&self, pool: SharedPool) -> Allocation {
        match pool {
            SharedPool::WarmPools => self.warm_pools,
            SharedPool::SharedDatabase => self.shared_database,
            SharedPool::SharedEnvironments => self.shared_environments,
        }
    }
}

/// One priced resource of one environment, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub env_id: String,
    pub env_name: String,
    /// Team slug.
    pub team: String,
    /// App slug.
    pub app: String,
    pub tier: Tier,
    pub kind: String,
    pub git_ref: Option<String>,
    pub pr_number: Option<i64>,
    /// The rate recorded on the resource: applies where the price book has
    /// no row for (tier, kind) — a blueprint's own resource.
    pub recorded_rate: Micros,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    /// For warm-pool members: time before this instant is the pool's idle
    /// cost (`i64::MAX` while never claimed). `None` for everything else.
    pub idle_until: Option<i64>,
    /// When the environment was marked shared across teams: [from, to)
    /// periods, sorted and disjoint (`i64::MAX` while still shared). Its
    /// cost in them is a shared cost; marking never reaches back in time.
    pub shared: Vec<(i64, i64)>,
    /// Where a running environment is expected to stop (its expiry);
    /// `None` runs on (long-lived tiers, pool members).
    pub expected_end: Option<i64>,
}

/// Which figure a report computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Basis {
    /// What has been spent up to `as_of`.
    Actual,
    /// Actual plus what running environments will cost until their own
    /// expiry or the month's end (long-lived ones at their current rates).
    Forecast,
}

/// Who pays for a piece of resource time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payer {
    /// The environment's team, directly.
    Team,
    Pool(SharedPool),
}

/// A stretch of one resource at one rate, paid by one payer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    pub start: i64,
    pub end: i64,
    pub rate: Micros,
    pub cost: Micros,
    pub payer: Payer,
}

/// The instants a month's report covers: [month start, month end), cut at
/// `as_of` for the actual figure.
pub fn window(month: Month, as_of: i64, basis: Basis) -> (i64, i64) {
    let start = month.start_ms();
    let end = month.next().start_ms();
    match basis {
        Basis::Actual => (start, end.min(as_of).max(start)),
        Basis::Forecast => (start, end),
    }
}

/// Where a resource's interval ends for `basis`.
pub fn usage_end(u: &Usage, as_of: i64, basis: Basis) -> i64 {
    match (u.ended_at, basis) {
        (Some(end), _) => end,
        (None, Basis::Actual) => as_of,
        (None, Basis::Forecast) => u.expected_end.map_or(i64::MAX, |e| e.max(as_of)),
    }
}

/// The pieces of `u` inside [from, to): split at the pool claim, at the
/// shared periods and at rate changes. Their costs telescope: any split of
/// the window sums exactly.
pub fn pieces(book: &PriceBook, u: &Usage, from: i64, to: i64, as_of: i64, basis: Basis) -> Vec<Piece> {
    let start = u.started_at.max(from);
    let end = usage_end(u, as_of, basis).min(to);
    let mut out = Vec::new();
    if end <= start {
        return out;
    }
    let mut segments = Vec::with_capacity(2);
    // Before a pool member's claim, its time is the pool's.
    let mut t = match u.idle_until {
        Some(claim) if claim > start => {
            segments.push((start, claim.min(end), Payer::Pool(SharedPool::WarmPools)));
            claim.min(end)
        }
        _ => start,
    };
    for &(a, b) in &u.shared {
        let (a, b) = (a.max(t), b.min(end));
        if b <= a {
            continue;
        }
        if a > t {
            segments.push((t, a, Payer::Team));
        }
        segments.push((a, b, Payer::Pool(SharedPool::SharedEnvironments)));
        t = b;
    }
    if t < end {
        segments.push((t, end, Payer::Team));
    }
    for (a, b, payer) in segments {
        for (p, q, rate) in book.periods(u.tier, &u.kind, u.recorded_rate, a, b) {
            out.push(Piece { start: p, end: q, rate, cost: interval_cost(rate.0, p, q), payer });
        }
    }
    out
}

/// Merges intervals into their union (sorted, disjoint).
pub fn union(mut intervals: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    intervals.retain(|(a, b)| b > a);
    intervals.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(intervals.len());
    for (a, b) in intervals {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Splits `amount` among `teams` by `rule`, largest remainder first. Ties
/// (and the remainder of an even split) go to teams in slug order, so the
/// result is deterministic. `None` when no team can take it.
pub fn allocate(amount: Micros, rule: Allocation, direct: &BTreeMap<String, Micros>) -> Option<Vec<(String, Micros)>> {
    let teams: Vec<(&String, i64)> = direct.iter().map(|(t, c)| (t, c.0)).collect();
    if teams.is_empty() {
        return None;
    }
    let total = i128::from(amount.0);
    match rule {
        Allocation::Even => {
            let n = teams.len() as i128;
            let (base, rem) = (total.div_euclid(n), total.rem_euclid(n));
            Some(
                teams
                    .iter()
                    .enumerate()
                    .map(|(i, (t, _))| ((*t).clone(), Micros((base + i128::from((i as i128) < rem)) as i64)))
                    .collect(),
            )
        }
        Allocation::Proportional => {
            let weights: i128 = teams.iter().map(|(_, w)| i128::from((*w).max(0))).sum();
            if weights == 0 {
                return None;
            }
            let mut shares: Vec<(String, i128, i128)> = teams
                .iter()
                .map(|(t, w)| {
                    let num = total * i128::from((*w).max(0));
                    ((*t).clone(), num.div_euclid(weights), num.rem_euclid(weights))
                })
                .collect();
            let mut left = total - shares.iter().map(|s| s.1).sum::<i128>();
            let mut order: Vec<usize> = (0..shares.len()).collect();
            // Largest remainder first; equal remainders in slug order (stable sort).
            order.sort_by(|&a, &b| shares[b].2.cmp(&shares[a].2));
            for i in order {
                if left == 0 {
                    break;
                }
                shares[i].1 += 1;
                left -= 1;
            }
            Some(shares.into_iter().map(|(t, s, _)| (t, Micros(s as i64))).collect())
        }
    }
}

/// One environment's direct cost in the month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvCost {
    pub env_id: String,
    pub name: String,
    pub team: String,
    pub app: String,
    pub tier: Tier,
    pub git_ref: Option<String>,
    pub pr_number: Option<i64>,
    pub cost: Micros,
    /// Cost per resource kind.
    pub by_kind: Vec<(String, Micros)>,
}

/// A shared-cost pool's month: what it cost, where that came from, who took it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolCost {
    pub pool: SharedPool,
    pub rule: Allocation,
    pub cost: Micros,
    /// What the cost is made of (e.g. `checkout-web · preview-lightweight`), largest first.
    pub sources: Vec<(String, Micros)>,
    /// Each team's share, by slug.
    pub allocations: Vec<(String, Micros)>,
    /// What no team could take (no team had usage this month).
    pub unallocated: Micros,
}

/// A team's month: direct plus its shares of the shared pools.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamCost {
    pub team: String,
    pub direct: Micros,
    pub allocated: Micros,
    pub total: Micros,
}

/// Every team's cost in one month, computed from resource intervals and the price book.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthReport {
    pub month: String,
    pub basis: Basis,
    /// The instants covered: [from, to).
    pub from: i64,
    pub to: i64,
    /// Environments with direct cost this month, most expensive first.
    pub environments: Vec<EnvCost>,
    pub pools: Vec<PoolCost>,
    /// Teams with usage this month, by slug.
    pub teams: Vec<TeamCost>,
    pub unallocated: Micros,
    /// Σ teams + unallocated = Σ direct + Σ pools.
    pub total: Micros,
}

/// Builds a month's report one resource at a time, so exports can stream
/// any number of rows through it without holding them.
#[derive(Debug)]
pub struct Accumulator<'b> {
    book: &'b PriceBook,
    month: Month,
    as_of: i64,
    basis: Basis,
    from: i64,
    to: i64,
    /// Per-environment lines are kept only when asked (pages, not exports).
    keep_environments: bool,
    envs: BTreeMap<String, EnvCost>,
    direct: BTreeMap<String, Micros>,
    pool_sources: BTreeMap<SharedPool, BTreeMap<String, Micros>>,
    lightweight: Vec<(i64, i64)>,
}

impl<'b> Accumulator<'b> {
    pub fn new(book: &'b PriceBook, month: Month, as_of: i64, basis: Basis, keep_environments: bool) -> Self {
        let (from, to) = window(month, as_of, basis);
        Accumulator {
            book,
            month,
            as_of,
            basis,
            from,
            to,
            keep_environments,
            envs: BTreeMap::new(),
            direct: BTreeMap::new(),
            pool_sources: BTreeMap::new(),
            lightweight: Vec::new(),
        }
    }

    /// The pieces of `u` this month, as [`pieces`] cuts them.
    pub fn pieces(&self, u: &Usage) -> Vec<Piece> {
        pieces(self.book, u, self.from, self.to, self.as_of, self.basis)
    }

    pub fn add(&mut self, u: &Usage) {
        let parts = self.pieces(u);
        if parts.is_empty() {
            return;
        }
        if u.tier == Tier::PreviewLightweight {
            self.lightweight.push((parts[0].start, parts[parts.len() - 1].end));
        }
        for p in parts {
            match p.payer {
                Payer::Team => {
                    *self.direct.entry(u.team.clone()).or_default() += p.cost;
                    if !self.keep_environments {
                        continue;
                    }
                    let e = self.envs.entry(u.env_id.clone()).or_insert_with(|| EnvCost {
                        env_id: u.env_id.clone(),
                        name: u.env_name.clone(),
                        team: u.team.clone(),
                        app: u.app.clone(),
                        tier: u.tier,
                        git_ref: u.git_ref.clone(),
                        pr_number: u.pr_number,
                        cost: Micros::ZERO,
                        by_kind: Vec::new(),
                    });
                    e.cost += p.cost;
                    match e.by_kind.iter_mut().find(|(k, _)| *k == u.kind) {
                        Some((_, c)) => *c += p.cost,
                        None => e.by_kind.push((u.kind.clone(), p.cost)),
                    }
                }
                Payer::Pool(pool) => {
                    let source = match pool {
                        SharedPool::WarmPools => format!("{} · {}", u.app, u.tier.as_str()),
                        _ => u.env_name.clone(),
                    };
                    *self.pool_sources.entry(pool).or_default().entry(source).or_default() += p.cost;
                }
            }
        }
    }

    pub fn finish(self, rules: &AllocationRules) -> MonthReport {
        let Accumulator { book, month, basis, from, to, envs, direct, mut pool_sources, lightweight, .. } = self;
        // The shared database server runs while any lightweight environment does.
        let server: Micros = union(lightweight)
            .into_iter()
            .map(|(a, b)| book.cost(Tier::PreviewLightweight, SHARED_DATABASE_SERVER, Micros::ZERO, a, b))
            .sum();
        if server != Micros::ZERO {
            pool_sources.entry(SharedPool::SharedDatabase).or_default().insert("server hours".into(), server);
        }
        let mut allocated: BTreeMap<String, Micros> = BTreeMap::new();
        let mut pools = Vec::new();
        let mut unallocated = Micros::ZERO;
        for (pool, sources) in pool_sources {
            let cost: Micros = sources.values().copied().sum();
            let rule = rules.rule(pool);
            let (allocations, rest) = match allocate(cost, rule, &direct) {
                Some(s) => (s, Micros::ZERO),
                None => (Vec::new(), cost),
            };
            for (team, share) in &allocations {
                *allocated.entry(team.clone()).or_default() += *share;
            }
            unallocated += rest;
            let mut sources: Vec<(String, Micros)> = sources.into_iter().collect();
            sources.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            pools.push(PoolCost { pool, rule, cost, sources, allocations, unallocated: rest });
        }
        let teams: Vec<TeamCost> = direct
            .iter()
            .map(|(team, d)| {
                let a = allocated.get(team).copied().unwrap_or_default();
                TeamCost { team: team.clone(), direct: *d, allocated: a, total: *d + a }
            })
            .collect();
        let total = teams.iter().map(|t| t.total).sum::<Micros>() + unallocated;
        let mut environments: Vec<EnvCost> = envs.into_values().collect();
        // The same report whatever order the rows came in.
        for e in &mut environments {
            e.by_kind.sort();
        }
        environments.sort_by(|a, b| b.cost.cmp(&a.cost).then_with(|| a.name.cmp(&b.name)));
        MonthReport { month: month.label(), basis, from, to, environments, pools, teams, unallocated, total }
    }
}

/// A month's team totals and pools without per-environment lines (trend
/// months, forecasts).
pub fn month_totals(
    book: &PriceBook,
    rules: &AllocationRules,
    usages: &[Usage],
    month: Month,
    as_of: i64,
    basis: Basis,
) -> MonthReport {
    let mut acc = Accumulator::new(book, month, as_of, basis, false);
    for u in usages {
        acc.add(u);
    }
    acc.finish(rules)
}

/// Computes a month's report. `usages` may hold anything; only what
/// overlaps the month counts.
pub fn month_report(
    book: &PriceBook,
    rules: &AllocationRules,
    usages: &[Usage],
    month: Month,
    as_of: i64,
    basis: Basis,
) -> MonthReport {
    let mut acc = Accumulator::new(book, month, as_of, basis, true);
    for u in usages {
        acc.add(u);
    }
    acc.finish(rules)
}

/// Sums of direct cost by a key (tier, app, resource kind), largest first.
pub fn breakdown<'a>(
    envs: impl Iterator<Item = &'a EnvCost>,
    key: impl Fn(&'a EnvCost) -> Vec<(String, Micros)>,
) -> Vec<(String, Micros)> {
    let mut sums: BTreeMap<String, Micros> = BTreeMap::new();
    for e in envs {
        for (k, c) in key(e) {
            *sums.entry(k).or_default() += c;
        }
    }
    let mut out: Vec<(String, Micros)> = sums.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

impl MonthReport {
    /// The team's line (zero when it had no usage).
    pub fn team(&self, team: &str) -> TeamCost {
        self.teams.iter().find(|t| t.team == team).cloned().unwrap_or(TeamCost {
            team: team.to_string(),
            direct: Micros::ZERO,
            allocated: Micros::ZERO,
            total: Micros::ZERO,
        })
    }

    /// The teams that had usage this month.
    pub fn teams_with_usage(&self) -> BTreeSet<&str> {
        self.teams.iter().map(|t| t.team.as_str()).collect()
    }
}

/// What a span of time cost, for the dashboards: the chargeback total
/// (every payer), and who was charged.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanCost {
    /// Σ of every piece: teams' direct cost, shared and pool cost.
    pub total: Micros,
    /// Environments with direct cost to their team.
    pub charged_envs: u32,
    /// Teams with direct cost.
    pub charged_teams: u32,
    /// Shared and warm-pool cost, which the reports allocate to teams.
    pub shared: Micros,
    /// The environments with direct cost (ids), so a caller can tell how
    /// many are demo rows.
    pub charged_ids: Vec<String>,
}

/// The actual cost of [from, to) (cut at `as_of`), computed exactly as a
/// month's report is but over any span: the dashboards' windows.
pub fn span_cost(
    book: &PriceBook,
    rules: &AllocationRules,
    usages: &[Usage],
    from: i64,
    to: i64,
    as_of: i64,
) -> SpanCost {
    let mut acc = Accumulator::new(book, Month::containing(from), as_of, Basis::Actual, true);
    acc.from = from;
    acc.to = to.min(as_of).max(from);
    for u in usages {
        acc.add(u);
    }
    let report = acc.finish(rules);
    SpanCost {
        total: report.total,
        charged_envs: report.environments.iter().filter(|e| e.cost.0 > 0).count() as u32,
        charged_teams: report.teams.iter().filter(|t| t.direct.0 > 0).count() as u32,
        shared: report.pools.iter().map(|p| p.cost).sum(),
        charged_ids: report.environments.iter().filter(|e| e.cost.0 > 0).map(|e| e.env_id.clone()).collect(),
    }
}

/// An environment's whole cost to its team (from its claim, for a pool member).
pub fn lifetime_cost<'a>(book: &PriceBook, usages: impl Iterator<Item = &'a Usage>, as_of: i64) -> Micros {
    usages
        .flat_map(|u| pieces(book, u, i64::MIN, i64::MAX, as_of, Basis::Actual))
        .filter(|p| p.payer != Payer::Pool(SharedPool::WarmPools))
        .map(|p| p.cost)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cost::days_from_civil;
    use crate::domain::price::RateEntry;
    use crate::domain::time::{DAY_MS, HOUR_MS};
    use proptest::prelude::*;

    fn usage(team: &str, env: &str, tier: Tier, kind: &str, start: i64, end: Option<i64>) -> Usage {
        Usage {
            env_id: env.into(),
            env_name: env.into(),
            team: team.into(),
            app: "web".into(),
            tier,
            kind: kind.into(),
            git_ref: None,
            pr_number: None,
            recorded_rate: Micros(1_000_000),
            started_at: start,
            ended_at: end,
            idle_until: None,
            shared: vec![],
            expected_end: None,
        }
    }

    fn flat_book(rate: i64) -> PriceBook {
        PriceBook::new(Tier::ALL.iter().flat_map(|&tier| {
            ["compute", SHARED_DATABASE_SERVER].map(|kind| RateEntry {
                tier,
                kind: kind.into(),
                effective_from: 0,
                hourly_rate: Micros(rate),
            })
        }))
    }

    fn nov() -> Month {
        Month { year: 2026, month: 11 }
    }

    fn at(day: u32, hour: i64) -> i64 {
        days_from_civil(2026, 11, day) * DAY_MS + hour * HOUR_MS
    }

    #[test]
    fn a_span_over_a_whole_month_is_the_months_report_and_spans_add_up() {
        let book = flat_book(1_000_000);
        let rules = AllocationRules::default();
        let us = vec![
            usage("a", "e1", Tier::PreviewLightweight, "compute", at(2, 0), Some(at(3, 0))),
            usage("b", "e2", Tier::PreviewFull, "database", at(10, 0), Some(at(12, 5))),
        ];
        let m = nov();
        let (from, to) = (m.start_ms(), m.next().start_ms());
        let span = span_cost(&book, &rules, &us, from, to, i64::MAX);
        let report = month_report(&book, &rules, &us, m, i64::MAX, Basis::Actual);
        assert_eq!(span.total, report.total);
        assert_eq!((span.charged_envs, span.charged_teams), (2, 2));
        // The shared database server ran while e1 did.
        assert!(span.shared.0 > 0);
        let cut = at(11, 0);
        let halves = span_cost(&book, &rules, &us, from, cut, i64::MAX).total.0
            + span_cost(&book, &rules, &us, cut, to, i64::MAX).total.0;
        assert_eq!(halves, span.total.0);
        assert_eq!(lifetime_cost(&book, us.iter().filter(|u| u.env_id == "e1"), i64::MAX), Micros(24_000_000));
    }

    #[test]
    fn a_pool_members_time_before_its_claim_is_shared() {
        let mut u = usage("a", "e1", Tier::PreviewFull, "compute", at(2, 0), Some(at(2, 10)));
        u.idle_until = Some(at(2, 4));
        let r = month_report(&flat_book(1_000_000), &AllocationRules::default(), &[u], nov(), at(30, 0), Basis::Actual);
        assert_eq!(r.environments[0].cost, Micros(6_000_000));
        assert_eq!(r.pools[0].pool, SharedPool::WarmPools);
        assert_eq!(r.pools[0].cost, Micros(4_000_000));
        assert_eq!(r.team("a").total, Micros(10_000_000));
        assert_eq!(r.total, Micros(10_000_000));
    }

    #[test]
    fn intervals_are_cut_at_the_month_and_now() {
        let u = usage("a", "e1", Tier::Staging, "compute", at(1, 0) - 5 * HOUR_MS, None);
        let r = month_report(
            &flat_book(1_000_000),
            &AllocationRules::default(),
            std::slice::from_ref(&u),
            nov(),
            at(1, 3),
            Basis::Actual,
        );
        assert_eq!(r.total, Micros(3_000_000));
        // Forecast: a long-lived environment runs to the month's end.
        let f =
            month_report(&flat_book(1_000_000), &AllocationRules::default(), &[u], nov(), at(1, 3), Basis::Forecast);
        assert_eq!(f.total, Micros(30 * 24 * 1_000_000));
    }

    #[test]
    fn the_forecast_stops_a_preview_at_its_expiry() {
        let mut u = usage("a", "e1", Tier::PreviewFull, "compute", at(3, 0), None);
        u.expected_end = Some(at(3, 24));
        let f =
            month_report(&flat_book(1_000_000), &AllocationRules::default(), &[u], nov(), at(3, 6), Basis::Forecast);
        assert_eq!(f.total, Micros(24_000_000));
    }

    #[test]
    fn the_shared_database_server_runs_while_any_lightweight_environment_does() {
        let a = usage("a", "e1", Tier::PreviewLightweight, "compute", at(2, 0), Some(at(2, 4)));
        let b = usage("b", "e2", Tier::PreviewLightweight, "compute", at(2, 2), Some(at(2, 6)));
        let r =
            month_report(&flat_book(1_000_000), &AllocationRules::default(), &[a, b], nov(), at(30, 0), Basis::Actual);
        let db = r.pools.iter().find(|p| p.pool == SharedPool::SharedDatabase).unwrap();
        assert_eq!(db.cost, Micros(6_000_000));
        assert_eq!(db.rule, Allocation::Even);
        assert_eq!(db.allocations, vec![("a".into(), Micros(3_000_000)), ("b".into(), Micros(3_000_000))]);
    }

    #[test]
    fn a_shared_environment_with_no_team_usage_is_unallocated() {
        let mut u = usage("a", "staging", Tier::Staging, "compute", at(2, 0), Some(at(2, 5)));
        u.shared = vec![(at(2, 0), i64::MAX)];
        let r = month_report(&flat_book(1_000_000), &AllocationRules::default(), &[u], nov(), at(30, 0), Basis::Actual);
        assert!(r.teams.is_empty());
        assert_eq!(r.unallocated, Micros(5_000_000));
        assert_eq!(r.total, Micros(5_000_000));
    }

    #[test]
    fn an_environment_is_shared_only_from_its_marking_on() {
        let mut u = usage("a", "staging", Tier::Staging, "compute", at(2, 0), Some(at(2, 10)));
        u.shared = vec![(at(2, 4), at(2, 6))];
        let r = month_report(&flat_book(1_000_000), &AllocationRules::default(), &[u], nov(), at(30, 0), Basis::Actual);
        assert_eq!(r.environments[0].cost, Micros(8_000_000));
        let shared = r.pools.iter().find(|p| p.pool == SharedPool::SharedEnvironments).unwrap();
        assert_eq!(shared.cost, Micros(2_000_000));
        assert_eq!(shared.allocations, vec![("a".into(), Micros(2_000_000))]);
    }

    #[test]
    fn remainders_go_to_the_largest_fraction_then_by_slug() {
        let direct: BTreeMap<String, Micros> =
            [("a".to_string(), Micros(1)), ("b".to_string(), Micros(1)), ("c".to_string(), Micros(1))].into();
        assert_eq!(
            allocate(Micros(10), Allocation::Proportional, &direct).unwrap(),
            vec![("a".into(), Micros(4)), ("b".into(), Micros(3)), ("c".into(), Micros(3))]
        );
        assert_eq!(
            allocate(Micros(11), Allocation::Even, &direct).unwrap(),
            vec![("a".into(), Micros(4)), ("b".into(), Micros(4)), ("c".into(), Micros(3))]
        );
        let skewed: BTreeMap<String, Micros> = [("a".to_string(), Micros(1)), ("b".to_string(), Micros(2))].into();
        // 10·1/3 = 3.33, 10·2/3 = 6.67: b has the larger remainder.
        assert_eq!(
            allocate(Micros(10), Allocation::Proportional, &skewed).unwrap(),
            vec![("a".into(), Micros(3)), ("b".into(), Micros(7))]
        );
        assert_eq!(allocate(Micros(10), Allocation::Proportional, &BTreeMap::new()), None);
    }

    fn arb_usage() -> impl Strategy<Value = Usage> {
        let h = HOUR_MS;
        (
            0usize..4,
            0usize..12,
            0usize..5,
            prop_oneof![Just("compute"), Just("database"), Just("gpu")],
            -40 * 24 * h..70 * 24 * h,
            prop::option::of(0i64..50 * 24 * h),
            prop::option::of(0i64..30 * 24 * h),
            prop::option::of((-10 * 24 * h..40 * 24 * h, prop::option::of(0i64..20 * 24 * h))),
            prop::option::of(0i64..60 * 24 * h),
        )
            .prop_map(move |(team, env, tier, kind, start, len, claim, shared, exp)| {
                let base = Month { year: 2026, month: 10 }.start_ms();
                let mut u = usage(
                    ["alpha", "beta", "gamma", "delta"][team],
                    &format!("env-{env}"),
                    Tier::ALL[tier],
                    kind,
                    base + start,
                    len.map(|l| base + start + l),
                );
                u.idle_until = claim.map(|c| base + start + c);
                // Shared from some instant, for a while or still.
                u.shared = match shared {
                    Some((from, len)) if env % 3 == 0 => {
                        let a = base + start + from;
                        vec![(a, len.map_or(i64::MAX, |l| a + l))]
                    }
                    _ => vec![],
                };
                u.expected_end = exp.map(|e| base + start + e);
                u
            })
    }

    fn arb_book() -> impl Strategy<Value = PriceBook> {
        let month = Month { year: 2026, month: 10 }.start_ms();
        proptest::collection::vec((0usize..5, 0usize..3, -10 * DAY_MS..80 * DAY_MS, 0i64..3_000_000), 0..12).prop_map(
            move |rows| {
                PriceBook::new(rows.into_iter().map(|(tier, kind, from, rate)| RateEntry {
                    tier: Tier::ALL[tier],
                    kind: ["compute", "database", SHARED_DATABASE_SERVER][kind].into(),
                    effective_from: month + from,
                    hourly_rate: Micros(rate),
                }))
            },
        )
    }

    fn arb_rules() -> impl Strategy<Value = AllocationRules> {
        let rule = || prop_oneof![Just(Allocation::Proportional), Just(Allocation::Even)];
        (rule(), rule(), rule()).prop_map(|(warm_pools, shared_database, shared_environments)| AllocationRules {
            warm_pools,
            shared_database,
            shared_environments,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn every_figure_reconciles(
            usages in proptest::collection::vec(arb_usage(), 0..30),
            book in arb_book(),
            rules in arb_rules(),
            now_day in 0i64..95,
        ) {
            let base = Month { year: 2026, month: 10 };
            let as_of = base.start_ms() + now_day * DAY_MS + 7 * HOUR_MS;
            for month in [Month { year: 2026, month: 9 }, base, base.next(), base.next().next()] {
                for basis in [Basis::Actual, Basis::Forecast] {
                    let r = month_report(&book, &rules, &usages, month, as_of, basis);
                    // Σ environments = Σ direct; Σ team totals + unallocated = total.
                    let env_sum: Micros = r.environments.iter().map(|e| e.cost).sum();
                    let direct: Micros = r.teams.iter().map(|t| t.direct).sum();
                    prop_assert_eq!(env_sum, direct);
                    let pools: Micros = r.pools.iter().map(|p| p.cost).sum();
                    prop_assert_eq!(r.total, direct + pools);
                    let teams: Micros = r.teams.iter().map(|t| t.total).sum();
                    prop_assert_eq!(teams + r.unallocated, r.total);
                    for p in &r.pools {
                        let shares: Micros = p.allocations.iter().map(|a| a.1).sum();
                        prop_assert_eq!(shares + p.unallocated, p.cost);
                        prop_assert!(p.allocations.iter().all(|a| a.1 >= Micros::ZERO));
                    }
                    for e in &r.environments {
                        prop_assert_eq!(e.by_kind.iter().map(|k| k.1).sum::<Micros>(), e.cost);
                    }
                }
            }
        }

        #[test]
        fn months_of_a_resource_sum_to_its_lifetime(u in arb_usage(), book in arb_book()) {
            let as_of = Month { year: 2027, month: 6 }.start_ms();
            let end = usage_end(&u, as_of, Basis::Actual);
            let whole: Micros = pieces(&book, &u, i64::MIN, i64::MAX, as_of, Basis::Actual).iter().map(|p| p.cost).sum();
            let by_month: Micros = crate::domain::cost::split_by_month(u.started_at, end)
                .into_iter()
                .flat_map(|(m, _, _)| {
                    let (a, b) = window(m, as_of, Basis::Actual);
                    pieces(&book, &u, a, b, as_of, Basis::Actual)
                })
                .map(|p| p.cost)
                .sum();
            prop_assert_eq!(whole, by_month);
        }

        #[test]
        fn shares_never_lose_a_micro(amount in 0i64..10_000_000_000, weights in proptest::collection::vec(0i64..1_000_000_000, 1..8), even in any::<bool>()) {
            let direct: BTreeMap<String, Micros> = weights.iter().enumerate().map(|(i, w)| (format!("t{i}"), Micros(*w))).collect();
            let rule = if even { Allocation::Even } else { Allocation::Proportional };
            if let Some(shares) = allocate(Micros(amount), rule, &direct) {
                prop_assert_eq!(shares.iter().map(|s| s.1).sum::<Micros>(), Micros(amount));
                let again = allocate(Micros(amount), rule, &direct).unwrap();
                prop_assert_eq!(shares, again);
            } else {
                prop_assert!(!even && weights.iter().all(|w| *w == 0));
            }
        }
    }
}
