//! Cost is the exact integral of an hourly rate over recorded time — no
//! sampling. To make totals reconcile exactly however an interval is split
//! (by month, by team, by report), the cost of [start, end) is
//! `F(end) − F(start)` with `F(t) = ⌊rate · t / 1 h⌋`: the pieces of a split
//! telescope to the cost of the whole, to the micro-dollar.

use super::money::Micros;
use super::time::{civil_from_days, DAY_MS, HOUR_MS};

fn cumulative(rate_per_hour: i64, t: i64) -> i128 {
    (rate_per_hour as i128 * t as i128).div_euclid(HOUR_MS as i128)
}

/// Cost of running at `rate_per_hour` (µ$/h) from `start` to `end` (epoch ms).
/// Empty or reversed intervals cost nothing.
pub fn interval_cost(rate_per_hour: i64, start: i64, end: i64) -> Micros {
    if end <= start {
        return Micros::ZERO;
    }
    Micros((cumulative(rate_per_hour, end) - cumulative(rate_per_hour, start)) as i64)
}

/// Day count since 1970-01-01 of a civil date (inverse of `civil_from_days`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A calendar month in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i64,
    pub month: u32,
}

impl Month {
    pub fn containing(epoch_ms: i64) -> Month {
        let (year, month, _) = civil_from_days(epoch_ms.div_euclid(DAY_MS));
        Month { year, month }
    }

    pub fn start_ms(self) -> i64 {
        days_from_civil(self.year, self.month, 1) * DAY_MS
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month { year: self.year + 1, month: 1 }
        } else {
            Month { year: self.year, month: self.month + 1 }
        }
    }

    pub fn prev(self) -> Month {
        if self.month == 1 {
            Month { year: self.year - 1, month: 12 }
        } else {
            Month { year: self.year, month: self.month - 1 }
        }
    }

    /// `YYYY-MM`, as budgets and exports name months.
    pub fn label(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

/// Splits [start, end) at UTC month boundaries.
pub fn split_by_month(start: i64, end: i64) -> Vec<(Month, i64, i64)> {
    let mut out = Vec::new();
    let mut from = start;
    while from < end {
        let month = Month::containing(from);
        let to = month.next().start_ms().min(end);
        out.push((month, from, to));
        from = to;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_day_of_full_preview_costs_its_rate_times_24() {
        assert_eq!(interval_cost(645_834, 0, 24 * HOUR_MS), Micros(15_500_016));
        assert_eq!(interval_cost(100_000, 0, 30 * 60_000), Micros(50_000));
        assert_eq!(interval_cost(100_000, 10, 5), Micros::ZERO);
    }

    #[test]
    fn months_split_at_utc_midnight_on_the_first() {
        let jan31 = days_from_civil(2026, 1, 31) * DAY_MS + 20 * HOUR_MS;
        let feb1 = days_from_civil(2026, 2, 1) * DAY_MS;
        let parts = split_by_month(jan31, feb1 + 3 * HOUR_MS);
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[0].0.label(), parts[0].2), ("2026-01".to_string(), feb1));
        assert_eq!((parts[1].0.label(), parts[1].1), ("2026-02".to_string(), feb1));
        assert_eq!(Month { year: 2026, month: 12 }.next().label(), "2027-01");
        assert_eq!(Month { year: 2027, month: 1 }.prev().label(), "2026-12");
    }

    proptest! {
        #[test]
        fn days_round_trip_through_the_calendar(days in -100_000i64..200_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn split_costs_reconcile_exactly(rate in 0i64..10_000_000, start in 0i64..4_000_000_000_000, len in 0i64..400 * DAY_MS) {
            let end = start + len;
            let whole = interval_cost(rate, start, end);
            let parts: Micros = split_by_month(start, end).into_iter().map(|(_, a, b)| interval_cost(rate, a, b)).sum();
            prop_assert_eq!(whole, parts);
        }

        #[test]
        fn cost_is_within_a_micro_dollar_of_the_real_integral(rate in 0i64..10_000_000, start in 0i64..4_000_000_000_000, len in 0i64..100 * DAY_MS) {
            let exact = rate as f64 * len as f64 / HOUR_MS as f64;
            let got = interval_cost(rate, start, start + len).0 as f64;
            prop_assert!((got - exact).abs() <= 1.0 + exact * 1e-12);
        }
    }
}
