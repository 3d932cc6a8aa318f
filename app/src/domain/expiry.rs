//! How long an environment has left, as the UI states it.

use super::time::short_duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TtlLeft {
    /// The tier has no TTL (staging, production) or the environment is gone.
    None,
    Left(i64),
    Overdue(i64),
}

pub fn ttl_left(expires_at: Option<i64>, now: i64) -> TtlLeft {
    match expires_at {
        None => TtlLeft::None,
        Some(at) if at > now => TtlLeft::Left(at - now),
        Some(at) => TtlLeft::Overdue(now - at),
    }
}

impl TtlLeft {
    /// `3h 05m`, `overdue 12m` or `—`.
    pub fn label(self) -> String {
        match self {
            TtlLeft::None => "—".to_string(),
            TtlLeft::Left(ms) => short_duration(ms),
            TtlLeft::Overdue(ms) => format!("overdue {}", short_duration(ms)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::{HOUR_MS, MINUTE_MS};

    #[test]
    fn ttl_counts_down_then_reports_overdue() {
        let now = 10 * HOUR_MS;
        assert_eq!(ttl_left(Some(now + HOUR_MS), now), TtlLeft::Left(HOUR_MS));
        assert_eq!(ttl_left(Some(now), now), TtlLeft::Overdue(0));
        assert_eq!(ttl_left(Some(now - 12 * MINUTE_MS), now).label(), "overdue 12m");
        assert_eq!(ttl_left(None, now).label(), "—");
    }
}
