//! Pull requests as previews: what a provider's webhook says about a pull
//! request (GitHub `pull_request`, GitLab merge request hooks), normalised,
//! and the pure decision of what its preview should be. Events are hints:
//! the portal keeps each pull request's latest facts and converges its
//! preview on them (level-triggered), so the order deliveries arrive in
//! does not change where a pull request ends.

use super::tier::Tier;
use super::time::parse_utc;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a delivery came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Github,
    Gitlab,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Github => "github",
            Provider::Gitlab => "gitlab",
        }
    }
}

/// What a draft pull request gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Drafts {
    /// A preview from the first push: it is ready when the code is.
    #[default]
    Start,
    /// Only a warm pool member, if one is free (no cold build for drafts).
    PoolOnly,
    /// None until it is ready for review.
    Skip,
}

/// An app's `pull_requests` blueprint section: which repository's pull
/// requests it previews, and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullRequestPolicy {
    /// GitHub's `owner/name` or GitLab's `group/project` path (compared
    /// without regard to case).
    pub repository: String,
    #[serde(default)]
    pub drafts: Drafts,
    /// Whether pull requests from forks get a preview; theirs never get the
    /// app's secrets.
    #[serde(default)]
    pub forks: bool,
    /// Label → tier. When several of a pull request's labels are here, the
    /// lightest of their tiers applies.
    #[serde(default = "default_labels")]
    pub labels: BTreeMap<String, Tier>,
    /// The tier without a matching label.
    #[serde(default = "full")]
    pub tier: Tier,
}

fn default_labels() -> BTreeMap<String, Tier> {
    [("quick-fix".to_string(), Tier::PreviewLightweight)].into()
}

fn full() -> Tier {
    Tier::PreviewFull
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("repository: give owner/name (GitHub) or group/project (GitLab), without .git")]
    Repository,
    #[error("labels: a label is 1 to 50 characters")]
    Label,
    #[error("{0}: {1} is not a preview tier")]
    NotPreview(String, &'static str),
}

impl PullRequestPolicy {
    pub fn validate(&self) -> Result<(), PolicyError> {
        let parts: Vec<&str> = self.repository.split('/').collect();
        let part_ok = |p: &&str| {
            !p.is_empty() && p.len() <= 100 && p.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        if parts.len() < 2
            || !parts.iter().all(part_ok)
            || self.repository.len() > 255
            || self.repository.ends_with(".git")
        {
            return Err(PolicyError::Repository);
        }
        for (label, tier) in &self.labels {
            if label.trim().is_empty() || label.chars().count() > 50 {
                return Err(PolicyError::Label);
            }
            if !tier.is_preview() {
                return Err(PolicyError::NotPreview(format!("labels.{label}"), tier.as_str()));
            }
        }
        if !self.tier.is_preview() {
            return Err(PolicyError::NotPreview("tier".into(), self.tier.as_str()));
        }
        Ok(())
    }

    pub fn is_for(&self, repository: &str) -> bool {
        self.repository.eq_ignore_ascii_case(repository)
    }

    /// The tier a pull request with `labels` gets.
    pub fn tier_for(&self, labels: &[String]) -> Tier {
        labels.iter().filter_map(|l| self.labels.get(l)).copied().min_by_key(|t| weight(*t)).unwrap_or(self.tier)
    }
}

/// Lighter tiers first.
fn weight(tier: Tier) -> usize {
    Tier::ALL.iter().position(|t| *t == tier).unwrap_or(usize::MAX)
}

/// A pull request's facts as of its provider's `updated_at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    pub open: bool,
    pub draft: bool,
    pub head_sha: String,
    pub head_ref: String,
    pub labels: Vec<String>,
    /// Its head lives in another repository: untrusted code.
    pub fork: bool,
    pub title: String,
    pub url: String,
    pub updated_at_ms: i64,
}

/// One pull-request delivery, normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullRequestEvent {
    pub action: String,
    /// The base repository: `owner/name` or `group/project`.
    pub repository: String,
    pub pull_request: PullRequest,
}

/// What a delivery is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// The provider checking the hook (GitHub `ping`).
    Ping,
    /// An event we do not act on: answered 204.
    Ignored,
    PullRequest(PullRequestEvent),
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the body is not valid JSON of this event: {0}")]
    Malformed(String),
}

fn malformed(e: impl std::fmt::Display) -> ParseError {
    ParseError::Malformed(e.to_string())
}

/// A commit id as providers send it (40 or 64 hexadecimal digits).
fn check_sha(sha: &str) -> Result<String, ParseError> {
    let sha = sha.to_ascii_lowercase();
    if super::repository::is_commit_sha(&sha) {
        Ok(sha)
    } else {
        Err(malformed("the head is not a commit id"))
    }
}

fn timestamp(text: &str) -> Result<i64, ParseError> {
    parse_utc(text).ok_or_else(|| malformed(format!("{text:?} is not a timestamp")))
}

fn check_number(n: u64) -> Result<u64, ParseError> {
    if (1..=i32::MAX as u64).contains(&n) {
        Ok(n)
    } else {
        Err(malformed("the pull request number is out of range"))
    }
}

/// A GitHub delivery (`X-GitHub-Event` and the body).
pub fn parse_github(event: &str, body: &[u8]) -> Result<Parsed, ParseError> {
    #[derive(Deserialize)]
    struct Payload {
        action: String,
        pull_request: Pr,
        repository: Repo,
    }
    #[derive(Deserialize)]
    struct Pr {
        number: u64,
        state: String,
        #[serde(default)]
        draft: bool,
        #[serde(default)]
        title: String,
        #[serde(default)]
        html_url: String,
        updated_at: String,
        head: Head,
        #[serde(default)]
        labels: Vec<Label>,
    }
    #[derive(Deserialize)]
    struct Head {
        sha: String,
        #[serde(rename = "ref")]
        git_ref: String,
        /// `null` when the fork was deleted.
        repo: Option<Repo>,
    }
    #[derive(Deserialize)]
    struct Repo {
        full_name: String,
    }
    #[derive(Deserialize)]
    struct Label {
        name: String,
    }
    match event {
        "ping" => return Ok(Parsed::Ping),
        "pull_request" => {}
        _ => return Ok(Parsed::Ignored),
    }
    let p: Payload = serde_json::from_slice(body).map_err(malformed)?;
    let fork =
        p.pull_request.head.repo.as_ref().is_none_or(|r| !r.full_name.eq_ignore_ascii_case(&p.repository.full_name));
    Ok(Parsed::PullRequest(PullRequestEvent {
        action: p.action,
        repository: p.repository.full_name,
        pull_request: PullRequest {
            number: check_number(p.pull_request.number)?,
            open: p.pull_request.state == "open",
            draft: p.pull_request.draft,
            head_sha: check_sha(&p.pull_request.head.sha)?,
            head_ref: p.pull_request.head.git_ref,
            labels: p.pull_request.labels.into_iter().map(|l| l.name).collect(),
            fork,
            title: p.pull_request.title,
            url: p.pull_request.html_url,
            updated_at_ms: timestamp(&p.pull_request.updated_at)?,
        },
    }))
}

/// A GitLab delivery (`X-Gitlab-Event` and the body): merge request hooks.
pub fn parse_gitlab(event: &str, body: &[u8]) -> Result<Parsed, ParseError> {
    #[derive(Deserialize)]
    struct Payload {
        project: Project,
        object_attributes: Attributes,
        #[serde(default)]
        labels: Vec<Label>,
    }
    #[derive(Deserialize)]
    struct Project {
        path_with_namespace: String,
    }
    #[derive(Deserialize)]
    struct Attributes {
        iid: u64,
        state: String,
        #[serde(default)]
        action: Option<String>,
        #[serde(default)]
        draft: bool,
        #[serde(default)]
        work_in_progress: bool,
        #[serde(default)]
        title: String,
        #[serde(default)]
        url: String,
        updated_at: String,
        source_branch: String,
        source_project_id: i64,
        target_project_id: i64,
        last_commit: Commit,
    }
    #[derive(Deserialize)]
    struct Commit {
        id: String,
    }
    #[derive(Deserialize)]
    struct Label {
        title: String,
    }
    match event {
        "Merge Request Hook" => {}
        _ => return Ok(Parsed::Ignored),
    }
    let p: Payload = serde_json::from_slice(body).map_err(malformed)?;
    let a = p.object_attributes;
    Ok(Parsed::PullRequest(PullRequestEvent {
        action: a.action.unwrap_or_default(),
        repository: p.project.path_with_namespace,
        pull_request: PullRequest {
            number: check_number(a.iid)?,
            // merged, closed and locked all end the preview
            open: a.state == "opened",
            draft: a.draft || a.work_in_progress,
            head_sha: check_sha(&a.last_commit.id)?,
            head_ref: a.source_branch,
            labels: p.labels.into_iter().map(|l| l.title).collect(),
            fork: a.source_project_id != a.target_project_id,
            title: a.title,
            url: a.url,
            updated_at_ms: timestamp(&a.updated_at)?,
        },
    }))
}

/// Whether `incoming` is at least as new as what is known (`known`): an
/// older delivery arriving late does not roll a pull request back. On a
/// tie the later delivery wins, except that it cannot reopen a closed one
/// (GitHub stamps a `closed` and a label added in the same second alike).
pub fn supersedes(known: Option<&PullRequest>, incoming: &PullRequest) -> bool {
    match known {
        None => true,
        Some(k) if incoming.updated_at_ms != k.updated_at_ms => incoming.updated_at_ms > k.updated_at_ms,
        Some(k) => k.open || !incoming.open,
    }
}

/// What the pull request's preview should be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Desired {
    None,
    Preview { tier: Tier, pool_only: bool },
}

/// Why a pull request has no preview (for the delivery log).
pub fn desired(pr: &PullRequest, policy: &PullRequestPolicy) -> (Desired, &'static str) {
    if !pr.open {
        return (Desired::None, "the pull request is closed");
    }
    if pr.fork && !policy.forks {
        return (Desired::None, "pull requests from forks get no preview for this app");
    }
    let tier = policy.tier_for(&pr.labels);
    match (pr.draft, policy.drafts) {
        (true, Drafts::Skip) => (Desired::None, "drafts get no preview for this app"),
        (true, Drafts::PoolOnly) => (Desired::Preview { tier, pool_only: true }, "a draft: from the warm pool only"),
        _ => (Desired::Preview { tier, pool_only: false }, "the pull request is open"),
    }
}

/// The preview a pull request has now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Current {
    pub tier: Tier,
    pub commit_sha: Option<String>,
    /// It serves (ready, active or idle): it can take a deployment.
    pub running: bool,
    /// The webhook made it (else a person did, from New preview or the
    /// API: a label never replaces theirs; pushes and closing still apply).
    pub ours: bool,
}

/// The one step towards the desired state; converging repeats it until
/// [`Step::Nothing`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Nothing,
    Create {
        tier: Tier,
        pool_only: bool,
    },
    /// Another tier: destroy this one (the next step creates the new one).
    Replace,
    Deploy {
        commit_sha: String,
    },
    Destroy,
    /// Still starting with an older head: deploy once it runs.
    WaitUntilRunning,
}

pub fn step(desired: Desired, current: Option<&Current>, head_sha: &str) -> Step {
    match (desired, current) {
        (Desired::None, None) => Step::Nothing,
        (Desired::None, Some(_)) => Step::Destroy,
        (Desired::Preview { tier, pool_only }, None) => Step::Create { tier, pool_only },
        (Desired::Preview { tier, .. }, Some(c)) if c.tier != tier && c.ours => Step::Replace,
        (Desired::Preview { .. }, Some(c)) if c.commit_sha.as_deref().is_none_or(|s| s == head_sha) => Step::Nothing,
        (Desired::Preview { .. }, Some(c)) if !c.running => Step::WaitUntilRunning,
        (Desired::Preview { .. }, Some(_)) => Step::Deploy { commit_sha: head_sha.to_string() },
    }
}

/// What a pull request is told about its preview: one commit status on
/// its head and one comment, both kept up to date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub state: ReportState,
    pub env_name: String,
    /// The preview's own address while it serves.
    pub preview_url: Option<String>,
    /// Its page in the portal.
    pub portal_url: String,
    pub head_sha: String,
    /// Why it failed, or went.
    pub reason: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportState {
    Pending,
    Ready,
    Failed,
    Destroyed,
}

/// The commit-status context (GitHub) and name (GitLab) of our statuses.
pub const STATUS_CONTEXT: &str = "eod/preview";
/// Marks our comment, so a person reading it knows it is kept up to date.
const COMMENT_MARK: &str = "<!-- eod-portal:preview -->";

impl Report {
    fn description(&self) -> String {
        match self.state {
            ReportState::Pending => format!("{} is being prepared", self.env_name),
            ReportState::Ready => format!("{} is ready", self.env_name),
            ReportState::Failed => format!("{} failed", self.env_name),
            ReportState::Destroyed => format!("{} was destroyed", self.env_name),
        }
    }

    /// Where the status links: the preview while it serves, else its page.
    fn target(&self) -> &str {
        self.preview_url.as_deref().filter(|_| self.state == ReportState::Ready).unwrap_or(&self.portal_url)
    }

    /// GitHub's `POST /repos/{repo}/statuses/{sha}` body.
    pub fn github_status(&self) -> serde_json::Value {
        let state = match self.state {
            ReportState::Pending => "pending",
            ReportState::Ready | ReportState::Destroyed => "success",
            ReportState::Failed => "failure",
        };
        serde_json::json!({
            "state": state, "target_url": self.target(), "description": clip(&self.description(), 140),
            "context": STATUS_CONTEXT,
        })
    }

    /// GitLab's commit-status state (`POST /projects/:id/statuses/:sha`).
    pub fn gitlab_state(&self) -> &'static str {
        match self.state {
            ReportState::Pending => "running",
            ReportState::Ready | ReportState::Destroyed => "success",
            ReportState::Failed => "failed",
        }
    }

    pub fn status_description(&self) -> String {
        clip(&self.description(), 140)
    }

    pub fn status_target(&self) -> &str {
        self.target()
    }

    /// The one comment (Markdown), replaced at each change.
    pub fn comment(&self) -> String {
        let short = self.head_sha.get(..12).unwrap_or(&self.head_sha);
        let line = match (self.state, &self.preview_url) {
            (ReportState::Ready, Some(url)) => format!("**Ready** at {url} (commit `{short}`)"),
            (ReportState::Ready, None) => format!("**Ready** (commit `{short}`)"),
            (ReportState::Pending, _) => format!("**Being prepared** (commit `{short}`)"),
            (ReportState::Failed, _) => format!("**Failed**: {}", self.reason.as_deref().unwrap_or("no reason given")),
            (ReportState::Destroyed, _) => {
                format!("**Destroyed**: {}", self.reason.as_deref().unwrap_or("the pull request was closed"))
            }
        };
        format!(
            "{COMMENT_MARK}\n### Preview environment `{}`\n\n{line}\n\nIts page, log and cost: {}\n",
            self.env_name, self.portal_url
        )
    }
}

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
    const SHA2: &str = "89abcdef0123456789abcdef0123456789abcdef";

    fn policy() -> PullRequestPolicy {
        serde_json::from_str(r#"{"repository": "acme/shop"}"#).unwrap()
    }

    fn github(action: &str, state: &str, labels: &[&str], head_repo: &str) -> Vec<u8> {
        let labels: Vec<_> = labels.iter().map(|l| serde_json::json!({ "name": l })).collect();
        serde_json::json!({
            "action": action,
            "number": 7,
            "pull_request": {
                "number": 7, "state": state, "draft": false, "title": "Faster checkout",
                "html_url": "https://github.com/acme/shop/pull/7", "updated_at": "2026-12-07T16:05:09Z",
                "head": { "sha": SHA, "ref": "faster-checkout", "repo": { "full_name": head_repo } },
                "labels": labels,
            },
            "repository": { "full_name": "acme/shop" },
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_github_pull_request_event_reads_as_its_facts() {
        let Parsed::PullRequest(e) =
            parse_github("pull_request", &github("labeled", "open", &["quick-fix"], "acme/shop")).unwrap()
        else {
            panic!("a pull request event")
        };
        assert_eq!((e.action.as_str(), e.repository.as_str()), ("labeled", "acme/shop"));
        let pr = e.pull_request;
        assert_eq!((pr.number, pr.open, pr.draft, pr.fork), (7, true, false, false));
        assert_eq!((pr.head_sha.as_str(), pr.head_ref.as_str()), (SHA, "faster-checkout"));
        assert_eq!(pr.labels, vec!["quick-fix".to_string()]);
        assert_eq!(pr.updated_at_ms, 1_796_659_509_000);
        let fork = parse_github("pull_request", &github("opened", "open", &[], "mallory/shop")).unwrap();
        assert!(matches!(fork, Parsed::PullRequest(e) if e.pull_request.fork));
    }

    #[test]
    fn other_github_events_are_ignored_and_bad_bodies_refused() {
        assert_eq!(parse_github("ping", b"{}"), Ok(Parsed::Ping));
        assert_eq!(parse_github("push", b"not even json"), Ok(Parsed::Ignored));
        assert!(parse_github("pull_request", b"{").is_err());
        assert!(parse_github("pull_request", b"{\"action\": \"opened\"}").is_err());
        let bad_sha = String::from_utf8(github("opened", "open", &[], "acme/shop")).unwrap().replace(SHA, "HEAD");
        assert!(parse_github("pull_request", bad_sha.as_bytes()).is_err());
        let zero = String::from_utf8(github("opened", "open", &[], "acme/shop"))
            .unwrap()
            .replace("\"number\":7", "\"number\":0");
        assert!(parse_github("pull_request", zero.as_bytes()).is_err());
    }

    #[test]
    fn a_gitlab_merge_request_hook_reads_the_same_way() {
        let body = serde_json::json!({
            "object_kind": "merge_request",
            "project": { "path_with_namespace": "acme/web/shop" },
            "object_attributes": {
                "iid": 12, "state": "merged", "action": "merge", "draft": false, "title": "Pay",
                "url": "https://gitlab.example/acme/web/shop/-/merge_requests/12",
                "updated_at": "2026-12-07 16:05:09 UTC", "source_branch": "pay",
                "source_project_id": 5, "target_project_id": 5, "last_commit": { "id": SHA },
            },
            "labels": [{ "title": "quick-fix" }],
        });
        let Parsed::PullRequest(e) = parse_gitlab("Merge Request Hook", body.to_string().as_bytes()).unwrap() else {
            panic!("a merge request")
        };
        assert_eq!((e.repository.as_str(), e.pull_request.number, e.pull_request.open), ("acme/web/shop", 12, false));
        assert_eq!(e.pull_request.updated_at_ms, 1_796_659_509_000);
        assert_eq!(parse_gitlab("Push Hook", b"{}"), Ok(Parsed::Ignored));
        assert!(parse_gitlab("Merge Request Hook", b"[]").is_err());
    }

    #[test]
    fn labels_pick_the_tier_and_the_lightest_wins() {
        let mut p = policy();
        assert_eq!(p.tier_for(&[]), Tier::PreviewFull);
        assert_eq!(p.tier_for(&["quick-fix".into(), "docs".into()]), Tier::PreviewLightweight);
        p.labels.insert("audit".into(), Tier::PreviewCompliance);
        assert_eq!(p.tier_for(&["audit".into()]), Tier::PreviewCompliance);
        assert_eq!(p.tier_for(&["audit".into(), "quick-fix".into()]), Tier::PreviewLightweight);
        p.labels.insert("prod".into(), Tier::Production);
        assert_eq!(p.validate(), Err(PolicyError::NotPreview("labels.prod".into(), "production")));
        assert_eq!(p.validate().unwrap_err().to_string(), "labels.prod: production is not a preview tier");
        let staging = PullRequestPolicy { tier: Tier::Staging, ..policy() };
        assert_eq!(staging.validate(), Err(PolicyError::NotPreview("tier".into(), "staging")));
        let mut empty = policy();
        empty.labels.insert(" ".into(), Tier::PreviewFull);
        assert_eq!(empty.validate(), Err(PolicyError::Label));
        for bad in ["shop", "/shop", "acme/", "acme/sh op", "acme//shop", "acme/shop.git"] {
            let p = PullRequestPolicy { repository: bad.into(), ..policy() };
            assert_eq!(p.validate(), Err(PolicyError::Repository), "{bad}");
        }
        assert!(policy().is_for("ACME/Shop"));
    }

    fn pr(open: bool, draft: bool, fork: bool) -> PullRequest {
        PullRequest {
            number: 7,
            open,
            draft,
            head_sha: SHA.into(),
            head_ref: "x".into(),
            labels: vec![],
            fork,
            title: String::new(),
            url: String::new(),
            updated_at_ms: 0,
        }
    }

    #[test]
    fn drafts_forks_and_closed_pull_requests_follow_the_policy() {
        let full = Desired::Preview { tier: Tier::PreviewFull, pool_only: false };
        assert_eq!(desired(&pr(true, false, false), &policy()).0, full);
        assert_eq!(desired(&pr(false, false, false), &policy()).0, Desired::None);
        assert_eq!(desired(&pr(true, false, true), &policy()).0, Desired::None);
        assert_eq!(desired(&pr(true, false, true), &PullRequestPolicy { forks: true, ..policy() }).0, full);
        assert_eq!(desired(&pr(true, true, false), &policy()).0, full, "drafts start by default");
        let pool = PullRequestPolicy { drafts: Drafts::PoolOnly, ..policy() };
        assert_eq!(
            desired(&pr(true, true, false), &pool).0,
            Desired::Preview { tier: Tier::PreviewFull, pool_only: true }
        );
        let skip = PullRequestPolicy { drafts: Drafts::Skip, ..policy() };
        assert_eq!(desired(&pr(true, true, false), &skip).0, Desired::None);
        assert_eq!(desired(&pr(true, false, false), &skip).0, full, "ready for review");
    }

    #[test]
    fn a_late_older_delivery_does_not_roll_a_pull_request_back() {
        let closed = PullRequest { updated_at_ms: 2_000, ..pr(false, false, false) };
        let labeled_before =
            PullRequest { updated_at_ms: 1_000, labels: vec!["quick-fix".into()], ..pr(true, false, false) };
        assert!(!supersedes(Some(&closed), &labeled_before));
        assert!(supersedes(Some(&labeled_before), &closed));
        let same_second = PullRequest { updated_at_ms: 2_000, ..pr(true, false, false) };
        assert!(!supersedes(Some(&closed), &same_second), "a tie does not reopen");
        assert!(supersedes(Some(&same_second), &closed));
        assert!(supersedes(None, &closed));
    }

    #[test]
    fn steps_create_replace_deploy_and_destroy() {
        let full = Desired::Preview { tier: Tier::PreviewFull, pool_only: false };
        let running = Current { tier: Tier::PreviewFull, commit_sha: Some(SHA.into()), running: true, ours: true };
        assert_eq!(step(full, None, SHA), Step::Create { tier: Tier::PreviewFull, pool_only: false });
        assert_eq!(step(full, Some(&running), SHA), Step::Nothing);
        assert_eq!(step(full, Some(&running), SHA2), Step::Deploy { commit_sha: SHA2.into() });
        let starting = Current { running: false, ..running.clone() };
        assert_eq!(step(full, Some(&starting), SHA2), Step::WaitUntilRunning);
        let light = Current { tier: Tier::PreviewLightweight, ..running.clone() };
        assert_eq!(step(full, Some(&light), SHA), Step::Replace);
        let theirs = Current { ours: false, ..light.clone() };
        assert_eq!(step(full, Some(&theirs), SHA), Step::Nothing, "a person's preview keeps its tier");
        assert_eq!(step(full, Some(&theirs), SHA2), Step::Deploy { commit_sha: SHA2.into() }, "but takes pushes");
        assert_eq!(step(Desired::None, Some(&theirs), SHA), Step::Destroy, "and goes when the pull request closes");
        assert_eq!(step(Desired::None, Some(&running), SHA), Step::Destroy);
        assert_eq!(step(Desired::None, None, SHA), Step::Nothing);
    }

    #[test]
    fn reports_link_the_preview_while_it_serves_and_its_page_otherwise() {
        let mut r = Report {
            state: ReportState::Pending,
            env_name: "shop-pr-7-ab12".into(),
            preview_url: Some("https://shop-pr-7-ab12.preview.example/".into()),
            portal_url: "https://eod.example/environments/e1".into(),
            head_sha: SHA.into(),
            reason: None,
        };
        assert_eq!(r.github_status()["state"], "pending");
        assert_eq!(r.github_status()["target_url"], "https://eod.example/environments/e1");
        assert!(r.comment().contains("Being prepared") && r.comment().contains("`0123456789ab`"));
        r.state = ReportState::Ready;
        assert_eq!(r.github_status()["target_url"], "https://shop-pr-7-ab12.preview.example/");
        assert_eq!(r.github_status()["context"], STATUS_CONTEXT);
        assert!(r.comment().contains("**Ready** at https://shop-pr-7-ab12.preview.example/"));
        r.state = ReportState::Failed;
        r.reason = Some("build: exit 3".into());
        assert_eq!((r.github_status()["state"].as_str(), r.gitlab_state()), (Some("failure"), "failed"));
        assert!(r.comment().contains("**Failed**: build: exit 3"));
        assert!(r.comment().starts_with(COMMENT_MARK));
    }

    fn any_pr() -> impl Strategy<Value = PullRequest> {
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            0..4_i64,
            prop::sample::subsequence(vec!["quick-fix", "docs"], 0..=2),
            any::<bool>(),
        )
            .prop_map(|(open, draft, fork, t, labels, head)| PullRequest {
                updated_at_ms: t * 1_000,
                labels: labels.into_iter().map(String::from).collect(),
                head_sha: if head { SHA.into() } else { SHA2.into() },
                ..pr(open, draft, fork)
            })
    }

    proptest! {
        /// Whatever order a pull request's deliveries arrive in, the facts
        /// kept are those of the newest (by the provider's clock), so the
        /// preview converges on the same state.
        #[test]
        fn any_delivery_order_keeps_the_newest_facts(mut events in prop::collection::vec(any_pr(), 1..8), seed in any::<u64>()) {
            // Distinct times: the provider orders its own events.
            for (i, e) in events.iter_mut().enumerate() { e.updated_at_ms = e.updated_at_ms * 10 + i as i64; }
            let newest = events.iter().max_by_key(|e| e.updated_at_ms).unwrap().clone();
            let mut shuffled = events.clone();
            let n = shuffled.len();
            for i in 0..n { shuffled.swap(i, (seed as usize).wrapping_add(i * 7) % n); }
            let mut known: Option<PullRequest> = None;
            for e in &shuffled {
                if supersedes(known.as_ref(), e) { known = Some(e.clone()); }
            }
            prop_assert_eq!(known, Some(newest));
        }

        /// Converging ends: applying each step's effect reaches `Nothing`
        /// within three steps from any current preview.
        #[test]
        fn converging_always_ends(p in any_pr(), tier in prop::sample::select(vec![Tier::PreviewLightweight, Tier::PreviewFull]), has in any::<bool>(), running in any::<bool>(), on_head in any::<bool>()) {
            let (want, _) = desired(&p, &PullRequestPolicy { forks: false, ..policy() });
            let mut current = has.then(|| Current { tier, commit_sha: Some(if on_head { p.head_sha.clone() } else { "f".repeat(40) }), running, ours: true });
            for _ in 0..4 {
                match step(want, current.as_ref(), &p.head_sha) {
                    Step::Nothing => return Ok(()),
                    Step::Create { tier, .. } => current = Some(Current { tier, commit_sha: Some(p.head_sha.clone()), running: false, ours: true }),
                    Step::Replace | Step::Destroy => current = None,
                    Step::Deploy { commit_sha } => current = current.map(|c| Current { commit_sha: Some(commit_sha), ..c }),
                    Step::WaitUntilRunning => current = current.map(|c| Current { running: true, ..c }),
                }
            }
            prop_assert!(false, "no end after four steps");
        }
    }
}
