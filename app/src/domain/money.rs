//! Money is integer micro-dollars end to end (1 USD = 1,000,000 µ$); only the
//! UI rounds. Integers make every total reconcile exactly.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign};

/// An amount of US dollars in micro-dollars.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Micros(pub i64);

pub const MICROS_PER_DOLLAR: i64 = 1_000_000;

impl Micros {
    pub const ZERO: Micros = Micros(0);

    pub const fn from_dollars(dollars: i64) -> Self {
        Micros(dollars * MICROS_PER_DOLLAR)
    }

    /// Cents, rounded half away from zero: what the UI shows.
    pub fn round_to_cents(self) -> i64 {
        let v = self.0 as i128;
        let q = if v >= 0 { (v + 5_000) / 10_000 } else { (v - 5_000) / 10_000 };
        q as i64
    }
}

impl Add for Micros {
    type Output = Micros;
    fn add(self, rhs: Micros) -> Micros {
        Micros(self.0 + rhs.0)
    }
}

impl AddAssign for Micros {
    fn add_assign(&mut self, rhs: Micros) {
        self.0 += rhs.0;
    }
}

impl std::iter::Sum for Micros {
    fn sum<I: Iterator<Item = Micros>>(iter: I) -> Micros {
        Micros(iter.map(|m| m.0).sum())
    }
}

/// `$1,234.57` — rounded to cents for display only.
impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cents = self.round_to_cents();
        let sign = if cents < 0 { "-" } else { "" };
        let cents = cents.unsigned_abs();
        let dollars = (cents / 100).to_string();
        let mut grouped = String::new();
        for (i, ch) in dollars.chars().enumerate() {
            if i > 0 && (dollars.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        write!(f, "{sign}${grouped}.{:02}", cents % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn display_rounds_to_cents_and_groups_thousands() {
        assert_eq!(Micros(0).to_string(), "$0.00");
        assert_eq!(Micros(1_234_567_891).to_string(), "$1,234.57");
        assert_eq!(Micros(4_999).to_string(), "$0.00");
        assert_eq!(Micros(5_000).to_string(), "$0.01");
        assert_eq!(Micros(-1_500_000).to_string(), "-$1.50");
    }

    proptest! {
        #[test]
        fn sum_is_exact_integer_addition(parts in proptest::collection::vec(0i64..1_000_000_000, 0..100)) {
            let total: Micros = parts.iter().copied().map(Micros).sum();
            prop_assert_eq!(total.0, parts.iter().sum::<i64>());
        }

        #[test]
        fn rounding_is_within_half_a_cent(v in -1_000_000_000_000i64..1_000_000_000_000) {
            let cents = Micros(v).round_to_cents();
            prop_assert!((cents as i128 * 10_000 - v as i128).abs() <= 5_000);
        }
    }
}
