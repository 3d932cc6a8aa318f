//! What the Environments list is asked for: filters, search, sort and page,
//! read from the page's query string (so a filtered view is a link) and
//! validated before any SQL sees them.

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
    /// 0-based.
    pub page: i64,
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
            page: text("page").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0).clamp(0, 100_000),
        }
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
        if self.page > 0 {
            add("page", &self.page.to_string());
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

    pub fn with_page(&self, page: i64) -> ListQuery {
        ListQuery { page: page.max(0), ..self.clone() }
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
        let q = ListQuery::from_params(params(&[("tier", "huge"), ("state", "x"), ("page", "-3"), ("sort", "?")]));
        assert_eq!(q, ListQuery::default());
        let q = ListQuery::from_params(params(&[("state", "failed"), ("team", "Payments"), ("page", "2")]));
        assert_eq!((q.state, q.team.as_deref(), q.page), (Some(EnvState::Failed), Some("payments"), 2));
    }

    #[test]
    fn search_patterns_escape_wildcards() {
        let q = ListQuery { search: Some("50%_Off\\".into()), ..Default::default() };
        assert_eq!(q.like_pattern().unwrap(), "%50\\%\\_off\\\\%");
    }

    proptest! {
        #[test]
        fn query_strings_round_trip(search in "[ -~]{0,20}", page in 0i64..500, sort in 0usize..4, state in 0usize..7) {
            let q = ListQuery {
                team: Some("payments".into()),
                app: None,
                tier: Some(Tier::PreviewFull),
                state: Some(EnvState::ALL[state]),
                search: Some(search.trim().to_string()).filter(|s| !s.is_empty()),
                sort: Sort::ALL[sort],
                page,
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
