//! What the Environments list is asked for: filters, search, sort and page,
//! read from the page's query string (so a filtered view is a link) and
//! validated before any SQL sees them.
//!
//! Pages are keyset pages: a page link names the row it continues after (or
//! before) by its sort key, so it shows the same rows however many
//! environments are created meanwhile — an offset would shift under them.

use super::lifecycle::EnvState;
use super::naming::slug;
use super::tier::Tier;
use serde::{Deserialize, Serialize};

/// Rows per page: small enough to render at once, big enough to scan.
pub const PAGE_SIZE: i64 = 50;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sort {
    #[default]
    Newest,
    Oldest,
    /// Soonest expiry first (no TTL last).
    Expiry,
    Name,
}

impl Sort {
    pub const ALL: [Sort; 4] = [Sort::Newest, Sort::Oldest, Sort::Expiry, Sort::Name];

    pub const fn as_str(self) -> &'static str {
        match self {
            Sort::Newest => "newest",
            Sort::Oldest => "oldest",
            Sort::Expiry => "expiry",
            Sort::Name => "name",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            Sort::Newest => "Newest first",
            Sort::Oldest => "Oldest first",
            Sort::Expiry => "Expiring soonest",
            Sort::Name => "Name",
        }
    }
}

/// A validated list request. `None` filters mean "any"; without a state
/// filter only live (not destroyed) environments are listed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    pub team: Option<String>,
    pub app: Option<String>,
    pub tier: Option<Tier>,
    pub state: Option<EnvState>,
    /// Matched against names and branches (case-insensitive substring).
    pub search: Option<String>,
    pub sort: Sort,
    /// The page after the row with this key (see [`row_key`]).
    pub after: Option<String>,
    /// The page before the row with this key; ignored when `after` is set.
    pub before: Option<String>,
}

/// A sort key's value: what the query's sort orders by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyValue {
    Int(i64),
    Text(String),
    /// No expiry (sorted last by `Sort::Expiry`).
    Null,
}

/// Where a page starts: just after, or just before, the row with this key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyset {
    pub before: bool,
    pub value: KeyValue,
    /// The tiebreaker: ids are unique, so every key names one position.
    pub id: String,
}

/// The key of a row under `sort`, as page links carry it: `<value>~<id>`.
pub fn row_key(sort: Sort, id: &str, name: &str, created_at: i64, expires_at: Option<i64>) -> String {
    let value = match sort {
        Sort::Newest | Sort::Oldest => created_at.to_string(),
        Sort::Expiry => expires_at.map(|e| e.to_string()).unwrap_or_default(),
        Sort::Name => name.to_string(),
    };
    format!("{value}~{id}")
}

/// Reads a key made by [`row_key`] for `sort`; `None` if it is not one.
pub fn parse_key(sort: Sort, key: &str) -> Option<(KeyValue, String)> {
    let (value, id) = key.rsplit_once('~')?;
    let id_ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !id_ok {
        return None;
    }
    let value = match sort {
        Sort::Newest | Sort::Oldest => KeyValue::Int(value.parse().ok()?),
        Sort::Expiry if value.is_empty() => KeyValue::Null,
        Sort::Expiry => KeyValue::Int(value.parse().ok()?),
        Sort::Name if value.is_empty() || value.len() > 200 => return None,
        Sort::Name => KeyValue::Text(value.to_string()),
    };
    Some((value, id.to_string()))
}

impl ListQuery {
    /// Reads query-string values leniently: unknown or empty values mean
    /// "any" (a stale bookmark still shows something), never an error.
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> ListQuery {
        let text = |k: &str| get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        ListQuery {
            team: text("team").map(|v| slug(&v)).filter(|v| !v.is_empty()),
            app: text("app").map(|v| slug(&v)).filter(|v| !v.is_empty()),
            tier: text("tier").and_then(|v| v.parse().ok()),
            state: text("state").and_then(|v| v.parse().ok()),
            search: text("q").map(|v| v.chars().take(100).collect()),
            sort: text("sort").and_then(|v| Sort::ALL.into_iter().find(|s| s.as_str() == v)).unwrap_or_default(),
            after: None,
            before: None,
        }
        .with_cursor(text("after"), text("before"))
    }

    /// This query from a page boundary on; keys that are not keys of this
    /// sort are dropped (a stale link shows the first page).
    pub fn with_cursor(self, after: Option<String>, before: Option<String>) -> ListQuery {
        let valid = |k: Option<String>| k.filter(|k| parse_key(self.sort, k).is_some());
        let after = valid(after);
        let before = if after.is_some() { None } else { valid(before) };
        ListQuery { after, before, ..self }
    }

    /// The first page of this query.
    pub fn first_page(&self) -> ListQuery {
        ListQuery { after: None, before: None, ..self.clone() }
    }

    /// Where this page starts, if not at the beginning.
    pub fn keyset(&self) -> Option<Keyset> {
        let (before, key) = match (&self.after, &self.before) {
            (Some(k), _) => (false, k),
            (None, Some(k)) => (true, k),
            (None, None) => return None,
        };
        let (value, id) = parse_key(self.sort, key)?;
        Some(Keyset { before, value, id })
    }

    /// The query string for this request (empty values left out).
    pub fn to_query_string(&self) -> String {
        let mut parts = vec![];
        let mut add = |k: &str, v: &str| parts.push(format!("{k}={}", encode(v)));
        if let Some(t) = &self.team {
            add("team", t);
        }
        if let Some(a) = &self.app {
            add("app", a);
        }
        if let Some(t) = self.tier {
            add("tier", t.as_str());
        }
        if let Some(s) = self.state {
            add("state", s.as_str());
        }
        if let Some(q) = &self.search {
            add("q", q);
        }
        if self.sort != Sort::Newest {
            add("sort", self.sort.as_str());
        }
        if let Some(k) = &self.after {
            add("after", k);
        } else if let Some(k) = &self.before {
            add("before", k);
        }
        parts.join("&")
    }

    /// The search as a SQL LIKE pattern with `%`, `_` and `\` escaped (`ESCAPE '\'`).
    pub fn like_pattern(&self) -> Option<String> {
        self.search.as_ref().map(|q| {
            let escaped: String = q
                .to_lowercase()
                .chars()
                .flat_map(|c| match c {
                    '%' | '_' | '\\' => vec!['\\', c],
                    c => vec![c],
                })
                .collect();
            format!("%{escaped}%")
        })
    }
}

/// Percent-encodes a query value: everything outside the unreserved set (RFC 3986).
pub fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn params<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(key, _)| *key == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn bad_values_mean_any_and_pages_are_bounded() {
        let q = ListQuery::from_params(params(&[("tier", "huge"), ("state", "x"), ("after", "-3"), ("sort", "?")]));
        assert_eq!(q, ListQuery::default());
        let q = ListQuery::from_params(params(&[("state", "failed"), ("team", "Payments"), ("after", "17~ab-1")]));
        assert_eq!(
            (q.state, q.team.as_deref(), q.after.as_deref()),
            (Some(EnvState::Failed), Some("payments"), Some("17~ab-1"))
        );
    }

    #[test]
    fn keys_belong_to_their_sort() {
        let key = row_key(Sort::Newest, "id-1", "shop-main-ab12", 1_700, None);
        assert_eq!(key, "1700~id-1");
        assert_eq!(parse_key(Sort::Newest, &key), Some((KeyValue::Int(1_700), "id-1".into())));
        // A name is not a time: a link made under another sort is dropped.
        let q = ListQuery::from_params(params(&[("after", "shop-main~id-1")]));
        assert_eq!(q.after, None);
        let q = ListQuery::from_params(params(&[("sort", "name"), ("after", "shop~main~id-1")]));
        assert_eq!(
            q.keyset(),
            Some(Keyset { before: false, value: KeyValue::Text("shop~main".into()), id: "id-1".into() })
        );
        assert_eq!(parse_key(Sort::Expiry, "~id-2"), Some((KeyValue::Null, "id-2".into())));
        assert_eq!(parse_key(Sort::Name, "~id-2"), None);
        assert_eq!(parse_key(Sort::Newest, "5~"), None);
        assert_eq!(parse_key(Sort::Newest, "5~a'b"), None);
        // `after` wins over `before`.
        let q = ListQuery::from_params(params(&[("after", "1~a"), ("before", "2~b")]));
        assert_eq!((q.after.as_deref(), q.before), (Some("1~a"), None));
    }

    #[test]
    fn search_patterns_escape_wildcards() {
        let q = ListQuery { search: Some("50%_Off\\".into()), ..Default::default() };
        assert_eq!(q.like_pattern().unwrap(), "%50\\%\\_off\\\\%");
    }

    proptest! {
        #[test]
        fn query_strings_round_trip(search in "[ -~]{0,20}", at in 0i64..5_000_000, before: bool, sort in 0usize..4, state in 0usize..7) {
            let key = row_key(Sort::ALL[sort], "0190-ab", "shop-pr-1", at, Some(at + 1));
            let q = ListQuery {
                team: Some("payments".into()),
                app: None,
                tier: Some(Tier::PreviewFull),
                state: Some(EnvState::ALL[state]),
                search: Some(search.trim().to_string()).filter(|s| !s.is_empty()),
                sort: Sort::ALL[sort],
                after: (!before).then(|| key.clone()),
                before: before.then(|| key.clone()),
            };
            let qs = q.to_query_string();
            let pairs: Vec<(String, String)> = qs.split('&').filter(|p| !p.is_empty()).map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (k.to_string(), decode(v))
            }).collect();
            let back = ListQuery::from_params(|k| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()));
            prop_assert_eq!(back, q);
        }
    }

    fn decode(v: &str) -> String {
        let bytes = v.as_bytes();
        let mut out = vec![];
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }
}
