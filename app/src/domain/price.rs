//! The price book: hourly rates per tier and resource kind, effective-dated.
//! The defaults derive from the seed's figures (§6: a 24 h full preview costs
//! $10–25 — database $6–12, CDN $2–5, compute $2–4; staging $400–800 a
//! month); the database holds the rates in force, seeded from them.

use super::cost::interval_cost;
use super::money::Micros;
use super::tier::Tier;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The price-book kind of the lightweight tier's shared database server: a
/// shared cost, priced per hour while any lightweight environment runs.
pub const SHARED_DATABASE_SERVER: &str = "shared-database-server";
/// Its default rate: $0.40 an hour, about $290 a month.
pub const SHARED_DATABASE_SERVER_RATE: Micros = Micros(400_000);

/// A priced resource an environment holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PricedResource {
    pub kind: &'static str,
    pub hourly_rate: Micros,
}

const fn r(kind: &'static str, micros_per_hour: i64) -> PricedResource {
    PricedResource { kind, hourly_rate: Micros(micros_per_hour) }
}

/// The resources a tier's environment is made of, with default hourly rates.
pub fn default_resources(tier: Tier) -> &'static [PricedResource] {
    match tier {
        Tier::PreviewLightweight => LIGHTWEIGHT,
        Tier::PreviewFull => FULL,
        Tier::PreviewCompliance => COMPLIANCE,
        Tier::Staging => STAGING,
        Tier::Production => PRODUCTION,
    }
}

/// Namespace + a schema on the shared database server: $0.60 for 4 h.
const LIGHTWEIGHT: &[PricedResource] = &[r("compute", 100_000), r("shared-database", 50_000)];
/// $3 compute + $9 database + $3.50 CDN = $15.50 per 24 h.
const FULL: &[PricedResource] = &[r("compute", 125_000), r("database", 375_000), r("cdn", 145_834)];
/// Full plus stronger isolation.
const COMPLIANCE: &[PricedResource] =
    &[r("compute", 150_000), r("database", 450_000), r("cdn", 145_834), r("isolation", 100_000)];
/// About $600 a month (730 h).
const STAGING: &[PricedResource] = &[r("compute", 400_000), r("database", 350_000), r("cdn", 72_000)];
const PRODUCTION: &[PricedResource] = &[r("compute", 1_200_000), r("database", 900_000), r("cdn", 300_000)];

/// Sum of a tier's default hourly rates.
pub fn default_hourly_rate(tier: Tier) -> Micros {
    default_resources(tier).iter().map(|r| r.hourly_rate).sum()
}

/// One row of the price book: `tier`'s `kind` costs `hourly_rate` from
/// `effective_from` (epoch ms, inclusive) until the next row of the same
/// (tier, kind).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateEntry {
    pub tier: Tier,
    pub kind: String,
    pub effective_from: i64,
    pub hourly_rate: Micros,
}

/// Every rate in force over time, by tier, then kind (looked up by `&str`:
/// reports price tens of thousands of intervals per request).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PriceBook {
    /// Sorted by `effective_from`, one entry per instant.
    schedules: BTreeMap<Tier, BTreeMap<String, Vec<(i64, Micros)>>>,
}

impl PriceBook {
    pub fn new(entries: impl IntoIterator<Item = RateEntry>) -> PriceBook {
        let mut schedules: BTreeMap<Tier, BTreeMap<String, Vec<(i64, Micros)>>> = BTreeMap::new();
        for e in entries {
            schedules.entry(e.tier).or_default().entry(e.kind).or_default().push((e.effective_from, e.hourly_rate));
        }
        for s in schedules.values_mut().flat_map(|kinds| kinds.values_mut()) {
            s.sort_by_key(|(from, _)| *from);
            s.dedup_by_key(|(from, _)| *from);
        }
        PriceBook { schedules }
    }

    /// The seeded book: every tier's default resources and the shared
    /// database server, in force since the epoch.
    pub fn defaults() -> PriceBook {
        PriceBook::new(default_entries())
    }

    /// Splits [start, end) into the pieces each rate applies to. Before the
    /// first entry, or for a kind the book does not list (a blueprint's own
    /// resource), `fallback` (the rate recorded on the resource) applies.
    pub fn periods(&self, tier: Tier, kind: &str, fallback: Micros, start: i64, end: i64) -> Vec<(i64, i64, Micros)> {
        let mut out = Vec::new();
        if end <= start {
            return out;
        }
        let Some(schedule) = self.schedules.get(&tier).and_then(|kinds| kinds.get(kind)) else {
            out.push((start, end, fallback));
            return out;
        };
        let mut from = start;
        let mut rate = fallback;
        for &(at, r) in schedule {
            if at <= from {
                rate = r;
                continue;
            }
            if at >= end {
                break;
            }
            out.push((from, at, rate));
            from = at;
            rate = r;
        }
        out.push((from, end, rate));
        out
    }

    /// The exact cost of holding `kind` on `tier` over [start, end): the sum
    /// over (interval ∩ rate period). A split anywhere telescopes exactly.
    pub fn cost(&self, tier: Tier, kind: &str, fallback: Micros, start: i64, end: i64) -> Micros {
        self.periods(tier, kind, fallback, start, end).into_iter().map(|(a, b, r)| interval_cost(r.0, a, b)).sum()
    }

    /// The rate in force at `at`.
    pub fn rate_at(&self, tier: Tier, kind: &str, fallback: Micros, at: i64) -> Micros {
        self.periods(tier, kind, fallback, at, at + 1).first().map_or(fallback, |p| p.2)
    }

    /// Every entry, by tier, kind and time.
    pub fn entries(&self) -> Vec<RateEntry> {
        self.schedules
            .iter()
            .flat_map(|(tier, kinds)| kinds.iter().map(move |(kind, s)| (*tier, kind, s)))
            .flat_map(|(tier, kind, s)| {
                s.iter().map(move |&(effective_from, hourly_rate)| RateEntry {
                    tier,
                    kind: kind.clone(),
                    effective_from,
                    hourly_rate,
                })
            })
            .collect()
    }
}

/// The rows the price book is seeded with (effective from the epoch).
pub fn default_entries() -> Vec<RateEntry> {
    let mut out: Vec<RateEntry> = Tier::ALL
        .iter()
        .flat_map(|&tier| {
            default_resources(tier).iter().map(move |r| RateEntry {
                tier,
                kind: r.kind.to_string(),
                effective_from: 0,
                hourly_rate: r.hourly_rate,
            })
        })
        .collect();
    out.push(RateEntry {
        tier: Tier::PreviewLightweight,
        kind: SHARED_DATABASE_SERVER.into(),
        effective_from: 0,
        hourly_rate: SHARED_DATABASE_SERVER_RATE,
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn book(changes: &[(i64, i64)]) -> PriceBook {
        PriceBook::new(changes.iter().map(|&(from, rate)| RateEntry {
            tier: Tier::PreviewFull,
            kind: "compute".into(),
            effective_from: from,
            hourly_rate: Micros(rate),
        }))
    }

    #[test]
    fn a_rate_change_applies_from_its_instant_on() {
        let h = crate::domain::time::HOUR_MS;
        let b = book(&[(0, 1_000_000), (10 * h, 2_000_000)]);
        assert_eq!(b.cost(Tier::PreviewFull, "compute", Micros(7), 8 * h, 12 * h), Micros(6_000_000));
        assert_eq!(b.rate_at(Tier::PreviewFull, "compute", Micros(7), 10 * h), Micros(2_000_000));
        assert_eq!(b.rate_at(Tier::PreviewFull, "compute", Micros(7), 10 * h - 1), Micros(1_000_000));
        // A kind the book does not list keeps the resource's own rate.
        assert_eq!(b.cost(Tier::PreviewFull, "gpu", Micros(1_000_000), 0, 2 * h), Micros(2_000_000));
    }

    #[test]
    fn the_default_book_prices_like_the_tier_defaults() {
        let b = PriceBook::defaults();
        for tier in Tier::ALL {
            for r in default_resources(tier) {
                assert_eq!(b.rate_at(tier, r.kind, Micros(0), 1_000), r.hourly_rate);
            }
        }
    }

    proptest! {
        #[test]
        fn splitting_an_interval_anywhere_costs_the_same(
            changes in proptest::collection::vec((0i64..1_000_000_000, 0i64..5_000_000), 0..6),
            start in 0i64..1_000_000_000, len in 0i64..1_000_000_000, cut in 0i64..1_000_000_000,
        ) {
            let b = book(&changes);
            let end = start + len;
            let mid = start + cut.min(len);
            let whole = b.cost(Tier::PreviewFull, "compute", Micros(3), start, end);
            let parts = b.cost(Tier::PreviewFull, "compute", Micros(3), start, mid) + b.cost(Tier::PreviewFull, "compute", Micros(3), mid, end);
            prop_assert_eq!(whole, parts);
            let periods = b.periods(Tier::PreviewFull, "compute", Micros(3), start, end);
            let covered: i64 = periods.iter().map(|(a, z, _)| z - a).sum();
            prop_assert_eq!(covered, len);
        }
    }

    #[test]
    fn full_preview_for_a_day_costs_what_the_seed_says() {
        let day = default_hourly_rate(Tier::PreviewFull).0 * 24;
        assert!((10_000_000..=25_000_000).contains(&day), "{day}");
    }

    #[test]
    fn staging_month_is_within_the_seed_range() {
        let month = default_hourly_rate(Tier::Staging).0 * 730;
        assert!((400_000_000..=800_000_000).contains(&month), "{month}");
    }

    #[test]
    fn lightweight_is_the_cheapest_preview() {
        let lw = default_hourly_rate(Tier::PreviewLightweight);
        assert!(lw < default_hourly_rate(Tier::PreviewFull));
        assert!(lw < default_hourly_rate(Tier::PreviewCompliance));
    }
}
