//! The default price book: hourly rates per tier and resource kind, derived
//! from the seed's figures (§6: a 24 h full preview costs $10–25 — database
//! $6–12, CDN $2–5, compute $2–4; staging $400–800 a month).

use super::money::Micros;
use super::tier::Tier;

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

#[cfg(test)]
mod tests {
    use super::*;

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
