//! Environment names double as DNS labels (`<name>.localhost`) and as the
//! stem of every resource name, so they are lowercase `[a-z0-9-]`, at most 63
//! characters, and never start or end with `-`.

/// Where an environment's code comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source<'a> {
    Branch(&'a str),
    PullRequest(u64),
}

pub const MAX_NAME_LEN: usize = 63;

/// `checkout-web-pr-123`, `checkout-web-feature-login` — readable, unique
/// enough with `suffix` (a short random or sequence tag supplied by the caller).
pub fn environment_name(app_slug: &str, source: &Source<'_>, suffix: &str) -> String {
    let what = match source {
        Source::Branch(b) => slug(b),
        Source::PullRequest(n) => format!("pr-{n}"),
    };
    let suffix = slug(suffix);
    let app = slug(app_slug);
    // Trim the middle part first: the app and the unique suffix must survive.
    let fixed = app.len() + suffix.len() + 2;
    let room = MAX_NAME_LEN.saturating_sub(fixed);
    let what: String = what.chars().take(room).collect();
    let parts: Vec<&str> =
        [app.as_str(), what.trim_matches('-'), suffix.as_str()].into_iter().filter(|p| !p.is_empty()).collect();
    let mut name: String = parts.join("-").chars().take(MAX_NAME_LEN).collect();
    while name.ends_with('-') {
        name.pop();
    }
    if name.is_empty() {
        name.push_str("env");
    }
    name
}

/// Lowercase, `[a-z0-9-]` only, runs of other characters collapsed to one `-`.
pub fn slug(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for ch in input.chars() {
        let c = ch.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// A stable 64-bit hash (FNV-1a) for deriving names and lock keys that must
/// be the same on every replica and across restarts (unlike `std`'s hasher).
pub fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Whether `name` is a valid environment name (and so a DNS label).
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with('-')
        && !name.ends_with('-')
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_hash_is_fnv1a() {
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(stable_hash("pool/a"), stable_hash("pool/b"));
    }
    use proptest::prelude::*;

    #[test]
    fn names_read_like_their_source() {
        assert_eq!(environment_name("checkout-web", &Source::PullRequest(123), "a1b2"), "checkout-web-pr-123-a1b2");
        assert_eq!(
            environment_name("checkout-web", &Source::Branch("feature/Login_Flow"), "x9"),
            "checkout-web-feature-login-flow-x9"
        );
    }

    #[test]
    fn long_branches_are_trimmed_but_keep_the_suffix() {
        let n = environment_name("search-ui", &Source::Branch(&"very-long-branch-".repeat(10)), "zz01");
        assert!(n.len() <= MAX_NAME_LEN);
        assert!(n.starts_with("search-ui-"));
        assert!(n.ends_with("-zz01"));
        assert!(is_valid_name(&n));
    }

    proptest! {
        #[test]
        fn every_generated_name_is_a_dns_label(app in ".{0,80}", branch in ".{0,200}", pr in 0u64..u64::MAX, suffix in "[a-z0-9]{0,8}") {
            prop_assert!(is_valid_name(&environment_name(&app, &Source::Branch(&branch), &suffix)));
            prop_assert!(is_valid_name(&environment_name(&app, &Source::PullRequest(pr), &suffix)));
        }
    }
}
