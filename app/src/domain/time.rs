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
/// Hand-rolled (not chrono) to keep the date library out of the wasm bundle.
pub fn utc_datetime(epoch_ms: i64) -> String {
    let secs = epoch_ms.div_euclid(SECOND_MS);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, (rem % 3600) / 60)
}

/// (year, month 1–12, day 1–31) of a day count since 1970-01-01, in the
/// proleptic Gregorian calendar (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's
/// `days_from_civil`, the inverse of [`civil_from_days`]).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Epoch milliseconds of a timestamp as providers send them: RFC 3339
/// (`2026-12-07T16:05:09Z`, `…+01:00`, fractions ignored) or GitLab's
/// `2026-12-07 16:05:09 UTC`. `None` for anything else.
pub fn parse_utc(text: &str) -> Option<i64> {
    let text = text.trim();
    let num = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    let (date, rest) = (text.get(..10)?, text.get(10..)?);
    let sep = rest.chars().next()?;
    if !matches!(sep, 'T' | 't' | ' ') || date.as_bytes()[4] != b'-' || date.as_bytes()[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(&date[..4])?, num(&date[5..7])?, num(&date[8..10])?);
    let time = rest.get(1..9)?;
    if time.as_bytes()[2] != b':' || time.as_bytes()[5] != b':' {
        return None;
    }
    let (hh, mm, ss) = (num(&time[..2])?, num(&time[3..5])?, num(&time[6..8])?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut zone = &rest[9..];
    if let Some(frac) = zone.strip_prefix('.') {
        zone = frac.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset_s = match zone.trim() {
        "Z" | "z" | "UTC" => 0,
        z if (z.starts_with('+') || z.starts_with('-')) && z.len() == 6 && z.as_bytes()[3] == b':' => {
            let s = num(&z[1..3])? * 3600 + num(&z[4..6])? * 60;
            if z.starts_with('-') {
                -s
            } else {
                s
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, m as u32, d as u32) * 86_400 + hh * 3600 + mm * 60 + ss - offset_s;
    Some(secs * SECOND_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_timestamps_parse_to_utc_milliseconds() {
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_utc("2026-12-07T16:05:09Z"), Some(1_796_659_509_000));
        assert_eq!(parse_utc("2026-12-07 16:05:09 UTC"), Some(1_796_659_509_000));
        assert_eq!(parse_utc("2026-12-07T17:05:09.123+01:00"), Some(1_796_659_509_000));
        assert_eq!(parse_utc("2026-12-07T11:05:09-05:00"), Some(1_796_659_509_000));
        for bad in [
            "",
            "yesterday",
            "2026-13-07T16:05:09Z",
            "2026-12-07T16:05:09",
            "2026-12-07T16:05Z",
            "2026-12-07T16:05:09+1",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

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
        assert_eq!(utc_datetime(951_827_696_000), "2000-02-29 12:34 UTC");
        assert_eq!(utc_datetime(-1), "1969-12-31 23:59 UTC");
    }

    proptest::proptest! {
        #[test]
        fn civil_dates_match_chrono(ms in -4_000_000_000_000i64..8_000_000_000_000) {
            let ours = utc_datetime(ms);
            let theirs = chrono::DateTime::from_timestamp_millis(ms).unwrap().format("%Y-%m-%d %H:%M UTC").to_string();
            proptest::prop_assert_eq!(ours, theirs);
        }
    }
}
