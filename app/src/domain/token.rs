//! Personal access tokens for CI and coding agents: `eod_<id>_<secret>`.
//! The id is public (it names the token in lists and logs); only a hash of
//! the secret is stored.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

pub const PREFIX: &str = "eod_";
pub const ID_LEN: usize = 12;
pub const SECRET_LEN: usize = 40;
/// Longest a token may live.
pub const MAX_EXPIRY_DAYS: u32 = 365;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    EnvironmentsRead,
    EnvironmentsWrite,
    CostsRead,
    AuditRead,
    AppsRead,
    AppsWrite,
    BudgetsWrite,
    ApprovalsWrite,
}

impl Scope {
    pub const ALL: [Scope; 8] = [
        Scope::EnvironmentsRead,
        Scope::EnvironmentsWrite,
        Scope::CostsRead,
        Scope::AuditRead,
        Scope::AppsRead,
        Scope::AppsWrite,
        Scope::BudgetsWrite,
        Scope::ApprovalsWrite,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::EnvironmentsRead => "environments:read",
            Scope::EnvironmentsWrite => "environments:write",
            Scope::CostsRead => "costs:read",
            Scope::AuditRead => "audit:read",
            Scope::AppsRead => "apps:read",
            Scope::AppsWrite => "apps:write",
            Scope::BudgetsWrite => "budgets:write",
            Scope::ApprovalsWrite => "approvals:write",
        }
    }

    pub const fn describe(self) -> &'static str {
        match self {
            Scope::EnvironmentsRead => "list and read environments",
            Scope::EnvironmentsWrite => "create, extend and destroy environments",
            Scope::CostsRead => "read costs and chargeback",
            Scope::AuditRead => "read the audit trail",
            Scope::AppsRead => "list and read apps",
            Scope::AppsWrite => "register, edit and archive apps",
            Scope::BudgetsWrite => "set teams' budgets",
            Scope::ApprovalsWrite => "approve, deny and withdraw approval requests",
        }
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s).ok_or_else(|| {
            let known: Vec<_> = Scope::ALL.iter().map(|x| x.as_str()).collect();
            format!("unknown scope {s:?}; expected one of {}", known.join(", "))
        })
    }
}

/// Scopes as stored: space-separated, sorted, unique.
pub fn join_scopes(scopes: &[Scope]) -> String {
    let mut v = scopes.to_vec();
    v.sort();
    v.dedup();
    v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
}

pub fn parse_scopes(text: &str) -> Result<Vec<Scope>, String> {
    text.split_whitespace().map(str::parse).collect()
}

/// The two halves of a presented token.
#[derive(Debug, PartialEq, Eq)]
pub struct Presented<'a> {
    pub id: &'a str,
    pub secret: &'a str,
}

fn is_token_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Splits `eod_<id>_<secret>`; `None` if it is not shaped like a token.
pub fn parse(token: &str) -> Option<Presented<'_>> {
    let rest = token.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let ok = id.len() == ID_LEN
        && secret.len() == SECRET_LEN
        && id.bytes().all(is_token_char)
        && secret.bytes().all(is_token_char);
    ok.then_some(Presented { id, secret })
}

pub fn format(id: &str, secret: &str) -> String {
    format!("{PREFIX}{id}_{secret}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tokens_round_trip() {
        let id = "a".repeat(ID_LEN);
        let secret = "0".repeat(SECRET_LEN);
        let t = format(&id, &secret);
        assert_eq!(parse(&t), Some(Presented { id: &id, secret: &secret }));
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        assert_eq!(parse("eod_short_secret"), None);
        assert_eq!(parse(&format!("ghp_{}_{}", "a".repeat(ID_LEN), "b".repeat(SECRET_LEN))), None);
        assert_eq!(parse(&format!("eod_{}_{}", "A".repeat(ID_LEN), "b".repeat(SECRET_LEN))), None);
    }

    #[test]
    fn scopes_are_stored_sorted_and_unique() {
        let s = join_scopes(&[Scope::EnvironmentsWrite, Scope::EnvironmentsRead, Scope::EnvironmentsWrite]);
        assert_eq!(s, "environments:read environments:write");
        assert_eq!(parse_scopes(&s), Ok(vec![Scope::EnvironmentsRead, Scope::EnvironmentsWrite]));
        assert!(parse_scopes("environments:delete").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,120}") {
            let _ = parse(&s);
        }
    }
}
