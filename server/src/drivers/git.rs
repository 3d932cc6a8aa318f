//! Apps' git repositories on this host: one bare mirror per app under
//! `<data>/mirrors/<app id>.git`, fetched on demand (concurrent requests
//! share one fetch that started after they arrived, so a fresh push is
//! always seen), and per-environment checkouts that share the mirror's
//! objects (`git clone --shared`), so a new checkout costs only its files.
//!
//! Only the transports `domain::repository` accepts are allowed to git
//! itself too (`protocol.allow=never` plus file, https and ssh), git never
//! prompts for credentials, and every operation has a timeout. Errors carry
//! git's own message with any credentials in a URL removed.

use app::domain::repository::{is_commit_sha, Wanted};
use app::ssr::context::{BoxFuture, SourceError, Sources};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest any git operation may take.
const GIT_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Git {
    mirrors: PathBuf,
    /// Per app: when the last fetch started (a request is served by a fetch
    /// that started after it arrived).
    fetches: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Instant>>>>>,
}

impl std::fmt::Debug for Git {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Git").field("mirrors", &self.mirrors).finish()
    }
}

/// Removes `user:password@` from URLs in git's messages.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail.find(|c: char| c.is_whitespace() || c == '\'' || c == '"').unwrap_or(tail.len());
        match tail[..end].find('@') {
            Some(at) if !tail[..at].contains('/') => rest = &tail[at + 1..],
            _ => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

/// A `git` command confined to the accepted transports, never prompting.
fn git() -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("git");
    cmd.args([
        "-c",
        "protocol.allow=never",
        "-c",
        "protocol.file.allow=always",
        "-c",
        "protocol.https.allow=always",
        "-c",
        "protocol.ssh.allow=always",
        "-c",
        "core.hooksPath=/dev/null",
    ])
    .env("GIT_TERMINAL_PROMPT", "0")
    .env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new")
    .env_remove("GIT_DIR")
    .env_remove("GIT_WORK_TREE")
    .env_remove("GIT_INDEX_FILE")
    .env_remove("GIT_OBJECT_DIRECTORY")
    .env_remove("GIT_ALTERNATE_OBJECT_DIRECTORIES")
    .stdin(std::process::Stdio::null())
    .kill_on_drop(true);
    cmd
}

/// Runs git, returning stdout, or git's exit code and last lines.
async fn run(mut cmd: tokio::process::Command) -> Result<Vec<u8>, (Option<i32>, String)> {
    let out = match tokio::time::timeout(GIT_TIMEOUT, cmd.output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => return Err((None, format!("cannot run git: {e}"))),
        Err(_) => return Err((None, format!("git took longer than {} s", GIT_TIMEOUT.as_secs()))),
    };
    if out.status.success() {
        Ok(out.stdout)
    } else {
        let mut msg = redact(&super::local::last_lines(&String::from_utf8_lossy(&out.stderr), 4));
        if msg.is_empty() {
            msg = format!("git exited with {}", out.status);
        }
        Err((out.status.code(), msg))
    }
}

fn sha_of(stdout: &[u8]) -> Option<String> {
    let sha = String::from_utf8_lossy(stdout).split_whitespace().next()?.to_string();
    is_commit_sha(&sha).then_some(sha)
}

impl Git {
    /// Mirrors live under `<data>/mirrors`. Lock files a killed git left
    /// behind are removed (only this portal uses its data directory).
    pub fn new(data_dir: &Path) -> Git {
        let root = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
        let mirrors = root.join("mirrors");
        remove_stale_locks(&mirrors);
        Git { mirrors, fetches: Mutex::new(HashMap::new()) }
    }

    /// The mirror of an app (ids are UUIDs or slugs: safe as file names).
    pub fn mirror(&self, app_id: &str) -> PathBuf {
        self.mirrors.join(format!("{app_id}.git"))
    }

    async fn ensure_mirror(&self, app_id: &str) -> Result<PathBuf, String> {
        let mirror = self.mirror(app_id);
        if !mirror.join("HEAD").exists() {
            tokio::fs::create_dir_all(&self.mirrors).await.map_err(|e| format!("creating the mirrors: {e}"))?;
            let mut init = git();
            init.args(["init", "--quiet", "--bare"]).arg(&mirror);
            run(init).await.map_err(|(_, m)| m)?;
            let mut gc = git();
            gc.arg("-C").arg(&mirror).args(["config", "gc.auto", "0"]);
            run(gc).await.map_err(|(_, m)| m)?;
        }
        Ok(mirror)
    }

    /// Fetches the app's branches and pull/merge-request heads into its
    /// mirror, unless a fetch that started after `asked_at` already did.
    async fn fetch(&self, app_id: &str, repository: &str, asked_at: Instant) -> Result<PathBuf, SourceError> {
        let slot = {
            let mut fetches = self.fetches.lock().expect("fetch map");
            fetches.entry(app_id.to_string()).or_default().clone()
        };
        let mut last = slot.lock().await;
        // Under the app's lock: two first requests must not both create it.
        let mirror = self.ensure_mirror(app_id).await.map_err(SourceError::Unreachable)?;
        if last.is_some_and(|started| started >= asked_at) {
            return Ok(mirror);
        }
        *last = Some(Instant::now());
        let mut cmd = git();
        cmd.arg("-C")
            .arg(&mirror)
            .args(["fetch", "--quiet", "--prune", "--no-tags", "--force", "--"])
            .arg(repository)
            .args([
                "+refs/heads/*:refs/heads/*",
                "+refs/pull/*/head:refs/pull/*/head",
                "+refs/merge-requests/*/head:refs/merge-requests/*/head",
            ]);
        if let Err((_, msg)) = run(cmd).await {
            *last = None;
            return Err(SourceError::Unreachable(msg));
        }
        Ok(mirror)
    }

    /// The commit `wanted` names in the app's repository, fetched now.
    pub async fn resolve_commit(&self, app_id: &str, repository: &str, wanted: &Wanted) -> Result<String, SourceError> {
        let mirror = self.fetch(app_id, repository, Instant::now()).await?;
        self.in_mirror(&mirror, wanted).await.ok_or(SourceError::UnknownRef)
    }

    /// The commit `wanted` names as the mirror last fetched it (every
    /// creation and pool refill fetches), fetching only when the mirror lacks it.
    pub async fn recent_commit(&self, app_id: &str, repository: &str, wanted: &Wanted) -> Result<String, SourceError> {
        match self.in_mirror(&self.mirror(app_id), wanted).await {
            Some(sha) => Ok(sha),
            None => self.resolve_commit(app_id, repository, wanted).await,
        }
    }

    async fn in_mirror(&self, mirror: &Path, wanted: &Wanted) -> Option<String> {
        if !mirror.join("HEAD").exists() {
            return None;
        }
        for r in wanted.refs() {
            let mut cmd = git();
            cmd.arg("-C")
                .arg(mirror)
                .args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
                .arg(format!("{r}^{{commit}}"));
            if let Some(sha) = run(cmd).await.ok().as_deref().and_then(sha_of) {
                return Some(sha);
            }
        }
        None
    }

    /// Reachability and the branch's commit, without a mirror (registration).
    pub async fn ls_remote(&self, repository: &str, branch: &str) -> Result<String, SourceError> {
        let mut cmd = git();
        cmd.args(["ls-remote", "--quiet", "--exit-code", "--"]).arg(repository).arg(format!("refs/heads/{branch}"));
        match run(cmd).await {
            Ok(out) => sha_of(&out).ok_or(SourceError::UnknownRef),
            // --exit-code: 2 means the repository answered without that ref.
            Err((Some(2), _)) => Err(SourceError::UnknownRef),
            Err((_, msg)) => Err(SourceError::Unreachable(msg)),
        }
    }

    /// A file's content at a commit (from the mirror), if it exists there.
    pub async fn show(&self, app_id: &str, commit: &str, path: &str) -> Option<Vec<u8>> {
        let mut cmd = git();
        cmd.arg("-C").arg(self.mirror(app_id)).args(["cat-file", "blob"]).arg(format!("{commit}:{path}"));
        run(cmd).await.ok()
    }

    /// The object id of a file at a commit (a cheap key for "the seed changed").
    pub async fn blob_id(&self, app_id: &str, commit: &str, path: &str) -> Option<String> {
        let mut cmd = git();
        cmd.arg("-C")
            .arg(self.mirror(app_id))
            .args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
            .arg(format!("{commit}:{path}"));
        run(cmd).await.ok().as_deref().and_then(sha_of)
    }

    /// Puts `dest` at `commit`: a new checkout sharing the mirror's objects,
    /// or an existing one moved (its untracked build output kept, so a
    /// rebuild is incremental).
    pub async fn checkout(&self, app_id: &str, commit: &str, dest: &Path) -> Result<(), String> {
        if !is_commit_sha(commit) {
            return Err(format!("{commit:?} is not a commit id"));
        }
        if dest.join(".git").exists() {
            let mut cmd = git();
            cmd.arg("-C").arg(dest).args(["checkout", "--quiet", "--force", "--detach", commit]);
            if run(cmd).await.is_ok() {
                return Ok(());
            }
            // A checkout a crash broke: start over.
            let _ = tokio::fs::remove_dir_all(dest).await;
        }
        let tmp = dest.with_extension("tmp");
        let _ = tokio::fs::remove_dir_all(&tmp).await;
        let mut clone = git();
        clone.args(["clone", "--quiet", "--shared", "--no-checkout", "--"]).arg(self.mirror(app_id)).arg(&tmp);
        run(clone).await.map_err(|(_, m)| format!("cloning the mirror: {m}"))?;
        let mut co = git();
        co.arg("-C").arg(&tmp).args(["checkout", "--quiet", "--detach", commit]);
        run(co).await.map_err(|(_, m)| format!("checking out {commit}: {m}"))?;
        tokio::fs::rename(&tmp, dest).await.map_err(|e| format!("placing the checkout: {e}"))
    }
}

fn remove_stale_locks(mirrors: &Path) {
    fn walk(dir: &Path, depth: usize) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && depth < 6 {
                walk(&path, depth + 1);
            } else if path.extension().is_some_and(|e| e == "lock") {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    walk(mirrors, 0);
}

impl Sources for Git {
    fn resolve<'a>(
        &'a self,
        app_id: &'a str,
        repository: &'a str,
        wanted: &'a Wanted,
    ) -> BoxFuture<'a, Result<String, SourceError>> {
        Box::pin(self.resolve_commit(app_id, repository, wanted))
    }

    fn probe<'a>(&'a self, repository: &'a str, branch: &'a str) -> BoxFuture<'a, Result<String, SourceError>> {
        Box::pin(self.ls_remote(repository, branch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_removed_from_messages() {
        assert_eq!(
            redact("fatal: unable to access 'https://bob:hunter2@git.example.com/x.git/': 403"),
            "fatal: unable to access 'https://git.example.com/x.git/': 403"
        );
        assert_eq!(redact("ssh://git@host/x"), "ssh://host/x");
        assert_eq!(redact("no urls here"), "no urls here");
    }
}
