//! Instants are UTC epoch milliseconds (`i64`) everywhere: the database stores
//! them as BIGINT and the browser gets them as numbers, so there is one unit.

pub const SECOND_MS: i64 = 1_000;
pub const MINUTE_MS: i64 = 60 * SECOND_MS;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// A short human duration for tables: `45s`, `12m`, `3h 05m`, `2d 4h`.
/// Negative durations are formatted by magnitude; callers say "ago"/"overdue".
pub fn short_duration(ms: i64) -> String {
    let ms = ms.unsigned_abs() as i64;
    if ms < MINUTE_MS {
        format!("{}s", ms / SECOND_MS)
    } else if ms < HOUR_MS {
        format!("{}m", ms / MINUTE_MS)
    } else if ms < DAY_MS {
        format!("{}h {:02}m", ms / HOUR_MS, (ms % HOUR_MS) / MINUTE_MS)
    } else {
        format!("{}d {}h", ms / DAY_MS, (ms % DAY_MS) / HOUR_MS)
    }
}

/// `YYYY-MM-DD HH:MM UTC` for an instant, for tooltips and exports.
pub fn utc_datetime(epoch_ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(epoch_ms) {
        Some(t) => t.format("%Y-%m-%d %H:%M UTC").to_string(),
        None => "—".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_duration_picks_the_largest_sensible_unit() {
        assert_eq!(short_duration(0), "0s");
        assert_eq!(short_duration(59 * SECOND_MS), "59s");
        assert_eq!(short_duration(12 * MINUTE_MS + 5 * SECOND_MS), "12m");
        assert_eq!(short_duration(3 * HOUR_MS + 5 * MINUTE_MS), "3h 05m");
        assert_eq!(short_duration(2 * DAY_MS + 4 * HOUR_MS + 7 * MINUTE_MS), "2d 4h");
    }

    #[test]
    fn short_duration_formats_negative_by_magnitude() {
        assert_eq!(short_duration(-90 * MINUTE_MS), short_duration(90 * MINUTE_MS));
    }

    #[test]
    fn utc_datetime_is_utc() {
        assert_eq!(utc_datetime(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_datetime(1_767_225_600_000), "2026-01-01 00:00 UTC");
    }
}
