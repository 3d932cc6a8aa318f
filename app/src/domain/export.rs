//! Formatting for cost files: CSV cells safe to open in a spreadsheet,
//! dollars with six decimals, UTC instants as FOCUS writes them.

use super::cost::days_from_civil;
use super::money::Micros;
use super::time::{civil_from_days, DAY_MS};

/// One CSV cell: quoted when it must be, and neutralised when a spreadsheet
/// would read it as a formula (`=`, `+`, `-`, `@`, tab, CR first) — except
/// plain numbers, which stay numbers (a negative amount is still `-1.5`).
pub fn csv_cell(value: &str) -> String {
    let risky = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let text = if risky && !is_plain_number(value) { format!("'{value}") } else { value.to_string() };
    if text.contains([',', '"', '\n', '\r']) || text.starts_with(' ') || text.ends_with(' ') {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// `-12`, `3.5`, `+0.25`: digits with an optional sign and one decimal point.
fn is_plain_number(value: &str) -> bool {
    let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    !whole.is_empty() && whole.chars().all(|c| c.is_ascii_digit()) && frac.chars().all(|c| c.is_ascii_digit())
}

/// A CSV line (with its line end) from cells.
pub fn csv_line<S: AsRef<str>>(cells: &[S]) -> String {
    let mut line = cells.iter().map(|c| csv_cell(c.as_ref())).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// Dollars with exactly six decimals, no separators: `12.500000`, `-0.000001`.
pub fn dollars6(m: Micros) -> String {
    let sign = if m.0 < 0 { "-" } else { "" };
    let abs = m.0.unsigned_abs();
    format!("{sign}{}.{:06}", abs / 1_000_000, abs % 1_000_000)
}

/// Hours with six decimals from milliseconds.
pub fn hours6(ms: i64) -> String {
    // 1 h = 3,600,000 ms, so six decimals of an hour are 3.6 ms: round to nearest.
    let micro_hours = (i128::from(ms) * 1_000_000 + 1_800_000) / 3_600_000;
    format!("{}.{:06}", micro_hours / 1_000_000, micro_hours % 1_000_000)
}

/// `YYYY-MM-DDTHH:mm:ssZ`, the FOCUS date-time format (seconds precision).
pub fn iso_utc(epoch_ms: i64) -> String {
    let days = epoch_ms.div_euclid(DAY_MS);
    let (y, m, d) = civil_from_days(days);
    let secs = epoch_ms.rem_euclid(DAY_MS) / 1000;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Midnight (UTC) of the day holding `epoch_ms`.
pub fn day_start(epoch_ms: i64) -> i64 {
    epoch_ms.div_euclid(DAY_MS) * DAY_MS
}

/// Splits [start, end) at UTC midnights.
pub fn split_by_day(start: i64, end: i64) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut from = start;
    while from < end {
        let to = (day_start(from) + DAY_MS).min(end);
        out.push((from, to));
        from = to;
    }
    out
}

/// Parses `YYYY-MM` (a UTC calendar month).
pub fn parse_month(text: &str) -> Result<super::cost::Month, String> {
    let bad = || format!("{text:?} is not a month like 2026-11 (years 2000 to 2999)");
    let (y, m) = text.split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let year: i64 = y.parse().map_err(|_| bad())?;
    let month: u32 = m.parse().map_err(|_| bad())?;
    if !(1..=12).contains(&month) || !(2000..=2999).contains(&year) {
        return Err(bad());
    }
    debug_assert!(days_from_civil(year, month, 1) > 0);
    Ok(super::cost::Month { year, month })
}

/// A FOCUS version the export writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FocusVersion {
    V1_2,
    V1_3,
}

impl FocusVersion {
    pub fn parse(text: &str) -> Result<FocusVersion, String> {
        match text.trim() {
            "" | "1.3" => Ok(FocusVersion::V1_3),
            "1.2" => Ok(FocusVersion::V1_2),
            other => Err(format!("FOCUS version {other:?} is not supported (1.3 or 1.2)")),
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            FocusVersion::V1_2 => "1.2",
            FocusVersion::V1_3 => "1.3",
        }
    }

    /// The header: every Mandatory column of the version (alphabetical),
    /// the Conditional ones this portal fills, then extensions (`x_`).
    pub fn columns(self) -> Vec<&'static str> {
        let mut cols = vec![
            "BilledCost",
            "BillingAccountId",
            "BillingAccountName",
            "BillingCurrency",
            "BillingPeriodEnd",
            "BillingPeriodStart",
            "ChargeCategory",
            "ChargeClass",
            "ChargeDescription",
            "ChargeFrequency",
            "ChargePeriodEnd",
            "ChargePeriodStart",
            "ConsumedQuantity",
            "ConsumedUnit",
            "ContractedCost",
            "EffectiveCost",
        ];
        if self == FocusVersion::V1_3 {
            cols.push("HostProviderName");
        }
        cols.extend([
            "InvoiceIssuerName",
            "ListCost",
            "PricingQuantity",
            "PricingUnit",
            "ProviderName",
            "PublisherName",
            "ResourceId",
            "ResourceName",
            "ResourceType",
            "ServiceCategory",
            "ServiceName",
        ]);
        if self == FocusVersion::V1_3 {
            cols.push("ServiceProviderName");
        }
        cols.extend(["SubAccountId", "SubAccountName", "Tags"]);
        if self == FocusVersion::V1_3 {
            cols.extend([
                "AllocatedMethodDetails",
                "AllocatedMethodId",
                "AllocatedResourceId",
                "AllocatedResourceName",
                "AllocatedTags",
            ]);
        }
        cols.extend(["x_EnvironmentId", "x_SharedCostPool", "x_AllocationRule"]);
        cols
    }
}

/// The FOCUS ServiceCategory of a resource kind.
pub fn service_category(kind: &str) -> &'static str {
    match kind {
        "compute" | "warm-pools" | "shared-environments" => "Compute",
        k if k.contains("database") => "Databases",
        "cdn" => "Networking",
        "isolation" => "Security",
        _ => "Other",
    }
}

/// Who publishes the cost: this portal.
pub const PROVIDER: &str = "EoD Portal";

/// How a row's cost was split from a shared pool (FOCUS 1.3 `Allocated*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FocusAllocation {
    /// `proportional` or `even`.
    pub rule: String,
    /// The team that received the share; `None` for the unallocated remainder.
    pub team: Option<(String, String)>,
    /// This row's share of the pool's cost, as a decimal fraction.
    pub ratio: String,
}

/// One FOCUS row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FocusRow {
    pub team: Option<(String, String)>,
    pub billing_period: (i64, i64),
    pub charge_period: (i64, i64),
    pub cost: Micros,
    pub description: String,
    /// Hours consumed (as ms); `None` for allocated shares.
    pub quantity_ms: Option<i64>,
    pub kind: String,
    pub service_name: String,
    pub resource_id: String,
    pub resource_name: String,
    pub resource_type: String,
    /// A JSON object (FOCUS key-value format).
    pub tags: String,
    pub environment_id: Option<String>,
    pub pool: Option<String>,
    pub allocation: Option<FocusAllocation>,
}

/// A FOCUS CSV line for `row`, in `version`'s column order.
pub fn focus_line(version: FocusVersion, row: &FocusRow) -> String {
    let cost = dollars6(row.cost);
    // Usage rows need a pricing quantity: hours, or one allocated share.
    let (qty, unit) = match row.quantity_ms {
        Some(ms) => (hours6(ms), "Hours".to_string()),
        None => ("1".to_string(), "Allocations".to_string()),
    };
    let (consumed, consumed_unit) = match row.quantity_ms {
        Some(_) => (qty.clone(), unit.clone()),
        None => (String::new(), String::new()),
    };
    let (team_id, team_name) = row.team.clone().unwrap_or_default();
    let mut cells: Vec<String> = vec![
        cost.clone(),
        "eod".into(),
        PROVIDER.into(),
        "USD".into(),
        iso_utc(row.billing_period.1),
        iso_utc(row.billing_period.0),
        "Usage".into(),
        String::new(),
        row.description.clone(),
        "Usage-Based".into(),
        iso_utc(row.charge_period.1),
        iso_utc(row.charge_period.0),
        consumed,
        consumed_unit,
        cost.clone(),
        cost.clone(),
    ];
    if version == FocusVersion::V1_3 {
        cells.push(format!("{PROVIDER} (local host)"));
    }
    cells.extend([
        PROVIDER.to_string(),
        cost,
        qty,
        unit,
        PROVIDER.into(),
        PROVIDER.into(),
        row.resource_id.clone(),
        row.resource_name.clone(),
        row.resource_type.clone(),
        service_category(&row.kind).into(),
        row.service_name.clone(),
    ]);
    if version == FocusVersion::V1_3 {
        cells.push(PROVIDER.into());
    }
    cells.extend([team_id, team_name, row.tags.clone()]);
    if version == FocusVersion::V1_3 {
        match &row.allocation {
            Some(a) => {
                cells.push(format!("{{\"Elements\":[{{\"AllocatedRatio\":{}}}]}}", a.ratio));
                cells.push(format!("eod-{}", a.rule));
                match &a.team {
                    Some((slug, name)) => {
                        cells.push(format!("team:{slug}"));
                        cells.push(name.clone());
                        cells.push(serde_json::json!({ "allocated-to-team": slug }).to_string());
                    }
                    None => cells.extend([String::new(), String::new(), String::new()]),
                }
            }
            None => cells.extend([String::new(), String::new(), String::new(), String::new(), String::new()]),
        }
    }
    cells.extend([
        row.environment_id.clone().unwrap_or_default(),
        row.pool.clone().unwrap_or_default(),
        row.allocation.as_ref().map(|a| a.rule.clone()).unwrap_or_default(),
    ]);
    csv_line(&cells)
}

/// `part / whole` as a decimal with nine places (FOCUS numbers: no exponent, no `+`).
pub fn ratio(part: Micros, whole: Micros) -> String {
    if whole.0 == 0 {
        return "0".into();
    }
    let scaled = i128::from(part.0) * 1_000_000_000 / i128::from(whole.0);
    format!("{}.{:09}", scaled / 1_000_000_000, scaled % 1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formulas_are_neutralised_and_numbers_kept() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+cmd"), "'+cmd");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("-1.500000"), "-1.500000");
        assert_eq!(csv_cell("-x"), "'-x");
        assert_eq!(csv_cell("fix/cart"), "fix/cart");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
    }

    #[test]
    fn money_and_time_format_as_files_expect() {
        assert_eq!(dollars6(Micros(12_500_000)), "12.500000");
        assert_eq!(dollars6(Micros(-1)), "-0.000001");
        assert_eq!(hours6(5_400_000), "1.500000");
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(days_from_civil(2026, 11, 30) * DAY_MS + 3_723_000), "2026-11-30T01:02:03Z");
    }

    #[test]
    fn focus_rows_have_one_cell_per_column_in_both_versions() {
        let row = FocusRow {
            team: Some(("web".into(), "Web, Inc".into())),
            billing_period: (0, DAY_MS),
            charge_period: (0, DAY_MS),
            cost: Micros(1_500_000),
            description: "compute of pr-7".into(),
            quantity_ms: Some(3_600_000),
            kind: "compute".into(),
            service_name: "Preview environments".into(),
            resource_id: "env-1/compute".into(),
            resource_name: "pr-7-compute".into(),
            resource_type: "compute".into(),
            tags: serde_json::json!({"team": "web", "pr": 7}).to_string(),
            environment_id: Some("env-1".into()),
            pool: None,
            allocation: Some(FocusAllocation { rule: "even".into(), team: None, ratio: ratio(Micros(1), Micros(3)) }),
        };
        for v in [FocusVersion::V1_2, FocusVersion::V1_3] {
            let header = csv_line(&v.columns());
            let line = focus_line(v, &row);
            let count = |l: &str| {
                let (mut n, mut quoted) = (1, false);
                for c in l.chars() {
                    match c {
                        '"' => quoted = !quoted,
                        ',' if !quoted => n += 1,
                        _ => {}
                    }
                }
                n
            };
            assert_eq!(count(&header), count(&line), "{}", v.as_str());
            assert!(line.starts_with("1.500000,eod,EoD Portal,USD,1970-01-02T00:00:00Z,1970-01-01T00:00:00Z,Usage,,"));
        }
        assert_eq!(ratio(Micros(1), Micros(3)), "0.333333333");
        assert!(FocusVersion::parse("2.0").is_err());
    }

    #[test]
    fn months_parse_strictly() {
        assert_eq!(parse_month("2026-11").unwrap().label(), "2026-11");
        for bad in ["2026-13", "2026-00", "26-11", "2026-1", "x", "2026-11-01"] {
            assert!(parse_month(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn no_cell_opens_as_a_formula(s in ".{0,12}") {
            let c = csv_cell(&s);
            let inner = c.strip_prefix('"').unwrap_or(&c);
            prop_assert!(!inner.starts_with(['=', '+', '@', '\t', '\r']) || is_plain_number(&s));
            if inner.starts_with('-') { prop_assert!(is_plain_number(&s)); }
        }

        #[test]
        fn days_cover_the_interval(start in 0i64..4_000_000_000_000, len in 0i64..40 * DAY_MS) {
            let parts = split_by_day(start, start + len);
            prop_assert_eq!(parts.iter().map(|(a, b)| b - a).sum::<i64>(), len);
            prop_assert!(parts.iter().all(|(a, b)| day_start(*a) == day_start(b - 1)));
        }
    }
}
