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
/// A branch whose slug had to be cut, or that lost characters to it (anything
/// not ASCII), keeps a short hash of its full name: two long branches with a
/// common prefix, or two branches in another script, get different stems.
pub fn environment_name(app_slug: &str, source: &Source<'_>, suffix: &str) -> String {
    let suffix = slug(suffix);
    let app = slug(app_slug);
    // Trim the middle part first: the app and the unique suffix must survive.
    let fixed = app.len() + suffix.len() + 2;
    let room = MAX_NAME_LEN.saturating_sub(fixed);
    let what = match source {
        Source::Branch(b) => branch_stem(b, room),
        Source::PullRequest(n) => format!("pr-{n}"),
    };
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

/// Hex digits of the branch hash kept in a cut or lossy stem.
const BRANCH_HASH_LEN: usize = 6;

/// The branch's part of a name, at most `room` characters.
fn branch_stem(branch: &str, room: usize) -> String {
    let full = slug(branch);
    let lossy = !branch.is_ascii();
    if full.len() <= room && !lossy {
        return full;
    }
    let hash = format!("{:016x}", stable_hash(branch));
    let hash = &hash[..BRANCH_HASH_LEN];
    let keep = room.saturating_sub(BRANCH_HASH_LEN + 1);
    let head: String = full.chars().take(keep).collect();
    let head = head.trim_matches('-');
    if head.is_empty() {
        hash.to_string()
    } else {
        format!("{head}-{hash}")
    }
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

    #[test]
    fn long_branches_with_a_common_prefix_get_different_stems() {
        let common = "feature/payments-refactor-of-the-checkout-flow-and-the-";
        let a = environment_name("search-ui", &Source::Branch(&format!("{common}invoices")), "zz01");
        let b = environment_name("search-ui", &Source::Branch(&format!("{common}receipts")), "zz01");
        assert_ne!(a, b);
        assert!(a.len() <= MAX_NAME_LEN && is_valid_name(&a) && is_valid_name(&b), "{a} {b}");
        assert_eq!(a, environment_name("search-ui", &Source::Branch(&format!("{common}invoices")), "zz01"), "stable");
        // A short ASCII branch reads as it is, with no hash.
        assert_eq!(environment_name("web", &Source::Branch("fix-login"), "ab12"), "web-fix-login-ab12");
    }

    #[test]
    fn non_ascii_branches_keep_a_stem_of_their_own() {
        let a = environment_name("web", &Source::Branch("функция-вход"), "ab12");
        let b = environment_name("web", &Source::Branch("機能-ログイン"), "ab12");
        assert_ne!(a, "web-ab12", "not collapsed to the app");
        assert_ne!(a, b);
        assert!(is_valid_name(&a) && is_valid_name(&b));
        let mixed = environment_name("web", &Source::Branch("fix/café"), "ab12");
        assert!(mixed.starts_with("web-fix-caf-"), "{mixed}");
        assert_ne!(mixed, environment_name("web", &Source::Branch("fix/cafè"), "ab12"));
    }

    proptest! {
        #[test]
        fn distinct_long_branches_get_distinct_names(prefix in "[a-z]{60,80}", a in "[a-z]{1,10}", b in "[a-z]{1,10}") {
            prop_assume!(a != b);
            let name = |x: &str| environment_name("app", &Source::Branch(&format!("{prefix}{x}")), "s1");
            prop_assert_ne!(name(&a), name(&b));
        }

        #[test]
        fn every_generated_name_is_a_dns_label(app in ".{0,80}", branch in ".{0,200}", pr in 0u64..u64::MAX, suffix in "[a-z0-9]{0,8}") {
            prop_assert!(is_valid_name(&environment_name(&app, &Source::Branch(&branch), &suffix)));
            prop_assert!(is_valid_name(&environment_name(&app, &Source::PullRequest(pr), &suffix)));
        }
    }
}
