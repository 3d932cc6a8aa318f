//! Where an app's code comes from, and which names of it a person may ask
//! for. A repository is fetched by `git` on the portal's host, so only
//! transports that move data (a local path, `file://`, `https://`,
//! `ssh://` and scp-like `user@host:path`) are accepted; git's `ext::` and
//! `fd::` run commands and are refused, as is anything unrecognised.
//! Branch names follow `git check-ref-format`, so a name can never be read
//! as an option or escape `refs/heads/`.

use serde::{Deserialize, Serialize};

/// The longest repository URL or branch name accepted.
pub const MAX_URL: usize = 500;
pub const MAX_BRANCH: usize = 200;

/// How a repository is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Transport {
    /// An absolute path on the portal's host, or `file://`.
    Local,
    Https,
    /// `ssh://…` or scp-like `user@host:path`.
    Ssh,
}

/// A validated repository location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoUrl {
    pub url: String,
    pub transport: Transport,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RepoUrlError(pub &'static str);

impl RepoUrl {
    pub fn parse(raw: &str) -> Result<RepoUrl, RepoUrlError> {
        let url = raw.trim();
        let bad = |why| Err(RepoUrlError(why));
        if url.is_empty() {
            return bad("give the repository's URL or path");
        }
        if url.len() > MAX_URL {
            return bad("at most 500 characters");
        }
        if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return bad("no spaces or control characters");
        }
        if url.starts_with('-') {
            return bad("must not start with -");
        }
        let lower = url.to_ascii_lowercase();
        let transport = if let Some(path) = lower.strip_prefix("file://") {
            if !path.starts_with('/') {
                return bad("a file:// URL needs an absolute path");
            }
            Transport::Local
        } else if let Some(rest) = lower.strip_prefix("https://") {
            if host_of(rest).is_none() {
                return bad("an https:// URL needs a host and a path");
            }
            Transport::Https
        } else if let Some(rest) = lower.strip_prefix("ssh://") {
            let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
            if host_of(rest).is_none() {
                return bad("an ssh:// URL needs a host and a path");
            }
            Transport::Ssh
        } else if url.starts_with('/') {
            Transport::Local
        } else if lower.contains("::") || lower.contains("://") {
            // ext::, fd::, git://, http://, ftp://… — refused.
            return bad("use a local path, file://, https://, ssh:// or user@host:path");
        } else if is_scp_like(url) {
            Transport::Ssh
        } else {
            return bad("use a local path (absolute), file://, https://, ssh:// or user@host:path");
        };
        Ok(RepoUrl { url: url.to_string(), transport })
    }
}

/// `host/path` with a plausible host (letters, digits, `.-_:[]` for ports and IPv6).
fn host_of(rest: &str) -> Option<&str> {
    let (host, path) = rest.split_once('/')?;
    let ok = !host.is_empty()
        && !path.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))
        && !host.starts_with('-');
    ok.then_some(host)
}

/// `user@host:path` (scp syntax): a host before the first colon, no slash in it.
fn is_scp_like(url: &str) -> bool {
    let Some((left, path)) = url.split_once(':') else { return false };
    let host = left.rsplit_once('@').map_or(left, |(_, h)| h);
    !host.is_empty()
        && !path.is_empty()
        && !left.contains('/')
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        && !host.starts_with('-')
}

/// Whether `name` is a branch name git accepts (`git check-ref-format
/// --branch`), without anything that could be read as an option.
pub fn is_valid_branch(name: &str) -> bool {
    if name.is_empty() || name.len() > MAX_BRANCH || name == "@" {
        return false;
    }
    if name.starts_with('-') || name.starts_with('/') || name.ends_with('/') || name.ends_with('.') {
        return false;
    }
    if name.contains("..") || name.contains("//") || name.contains("@{") {
        return false;
    }
    if name.bytes().any(|b| b < 0x20 || b == 0x7f || b" ~^:?*[\\".contains(&b)) {
        return false;
    }
    name.split('/').all(|part| !part.is_empty() && !part.starts_with('.') && !part.ends_with(".lock"))
}

/// What a person asks an environment to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wanted {
    Branch(String),
    /// A pull request (GitHub) or merge request (GitLab) by number.
    PullRequest(u64),
    /// One commit by its full id (a deployment of an exact commit).
    Commit(String),
}

impl Wanted {
    /// The refs to try, in order, to find the commit.
    pub fn refs(&self) -> Vec<String> {
        match self {
            Wanted::Branch(b) => vec![format!("refs/heads/{b}")],
            Wanted::PullRequest(n) => vec![format!("refs/pull/{n}/head"), format!("refs/merge-requests/{n}/head")],
            Wanted::Commit(sha) => vec![sha.clone()],
        }
    }

    /// The field a refusal names.
    pub fn field(&self) -> &'static str {
        match self {
            Wanted::Branch(_) => "branch",
            Wanted::PullRequest(_) => "pr_number",
            Wanted::Commit(_) => "commit_sha",
        }
    }
}

/// What a deployment's `ref` names: `refs/pull/<n>/head` (as environments of
/// pull requests record it) or a branch; `None` when git would refuse it.
pub fn parse_ref(r: &str) -> Option<Wanted> {
    if let Some(n) = r.strip_prefix("refs/pull/").and_then(|rest| rest.strip_suffix("/head")) {
        return n.parse::<u64>().ok().filter(|n| (1..=i32::MAX as u64).contains(n)).map(Wanted::PullRequest);
    }
    let branch = r.strip_prefix("refs/heads/").unwrap_or(r);
    is_valid_branch(branch).then(|| Wanted::Branch(branch.to_string()))
}

/// Whether `sha` is a full hexadecimal commit id (SHA-1 or SHA-256).
pub fn is_commit_sha(sha: &str) -> bool {
    (sha.len() == 40 || sha.len() == 64) && sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepted_transports() {
        for (url, t) in [
            ("/srv/git/shop.git", Transport::Local),
            ("file:///srv/git/shop.git", Transport::Local),
            ("https://github.com/acme/shop.git", Transport::Https),
            ("ssh://git@github.com/acme/shop.git", Transport::Ssh),
            ("ssh://git@host:2222/acme/shop", Transport::Ssh),
            ("git@github.com:acme/shop.git", Transport::Ssh),
        ] {
            assert_eq!(RepoUrl::parse(url).map(|r| r.transport), Ok(t), "{url}");
        }
    }

    #[test]
    fn command_running_and_unknown_transports_are_refused() {
        for url in [
            "ext::sh -c touch% /tmp/pwned",
            "ext::ssh",
            "fd::17",
            "git://github.com/acme/shop",
            "http://github.com/acme/shop",
            "ftp://host/repo",
            "relative/path",
            "-uhelp",
            "--upload-pack=touch /tmp/x",
            "file://relative",
            "https://",
            "https://host",
            "",
            "/path with space",
            "transport::address",
        ] {
            assert!(RepoUrl::parse(url).is_err(), "{url} must be refused");
        }
    }

    #[test]
    fn branch_names_follow_check_ref_format() {
        for ok in ["main", "feature/login", "fix-1.2", "release/2026.11", "a_b"] {
            assert!(is_valid_branch(ok), "{ok}");
        }
        for bad in [
            "",
            "-x",
            "--upload-pack=x",
            "/a",
            "a/",
            "a..b",
            "a//b",
            "a b",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[",
            "a\\b",
            ".hidden",
            "a/.b",
            "x.lock",
            "a.",
            "@",
            "a@{1}",
        ] {
            assert!(!is_valid_branch(bad), "{bad:?} must be refused");
        }
    }

    #[test]
    fn pull_requests_resolve_through_github_then_gitlab_refs() {
        assert_eq!(Wanted::PullRequest(7).refs(), ["refs/pull/7/head", "refs/merge-requests/7/head"]);
        assert_eq!(Wanted::Branch("feature/x".into()).refs(), ["refs/heads/feature/x"]);
        assert_eq!(Wanted::PullRequest(7).field(), "pr_number");
        assert_eq!(parse_ref("refs/pull/7/head"), Some(Wanted::PullRequest(7)));
        assert_eq!(parse_ref("refs/pull/0/head"), None);
        assert_eq!(parse_ref("feature/login"), Some(Wanted::Branch("feature/login".into())));
        assert_eq!(parse_ref("refs/heads/main"), Some(Wanted::Branch("main".into())));
        assert_eq!(parse_ref("bad..ref"), None);
        assert_eq!(parse_ref("-x"), None);
    }

    #[test]
    fn commit_ids_are_full_lowercase_hex() {
        assert!(is_commit_sha(&"a".repeat(40)));
        assert!(!is_commit_sha(&"A".repeat(40)));
        assert!(!is_commit_sha("abc123"));
    }

    proptest! {
        #[test]
        fn accepted_urls_never_start_an_option_or_name_a_command_transport(s in ".{0,80}") {
            if let Ok(r) = RepoUrl::parse(&s) {
                prop_assert!(!r.url.starts_with('-'));
                prop_assert!(!r.url.to_ascii_lowercase().contains("ext::"));
                prop_assert!(!r.url.to_ascii_lowercase().starts_with("fd::"));
            }
        }

        #[test]
        fn accepted_branches_never_start_an_option_or_climb(s in "[-a-z./@~^: ]{0,20}") {
            if is_valid_branch(&s) {
                prop_assert!(!s.starts_with('-') && !s.contains(".."));
            }
        }
    }
}
