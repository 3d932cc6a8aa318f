//! Tells pull requests about their previews: the newest report each wants
//! is claimed under a lease and sent to the provider's API — a commit status
//! on the head (linking the preview once it serves) and one comment, edited
//! at each change. Failures are retried with backoff and kept on the report
//! (the Deliveries page shows them); they never hold up the preview.

use crate::config::ForgeApis;
use app::domain::notification::next_attempt;
use app::domain::pull_request::{Report, STATUS_CONTEXT};
use app::ssr::clock::now_ms;
use app::ssr::pull_requests::WantedReport;
use app::ssr::store::webhooks::{self as store, DueReport};
use app::ssr::{Db, PortalSettings};
use std::sync::Arc;
use std::time::Duration;

const LEASE_MS: i64 = 30_000;
const TIMEOUT: Duration = Duration::from_secs(10);

pub struct Reporter {
    db: Db,
    settings: Arc<PortalSettings>,
    apis: ForgeApis,
    worker_id: String,
    client: reqwest::Client,
}

/// How one send ended.
enum Sent {
    Done {
        comment_id: Option<String>,
    },
    /// Try again later (the provider is down, rate-limited, unreachable).
    Retry(String),
    /// Trying again would not help (a refused token, no such repository).
    GiveUp(String),
    /// No token for the provider: nothing is reported, by configuration.
    NotConfigured(String),
}

impl Reporter {
    pub fn new(db: Db, settings: Arc<PortalSettings>, apis: ForgeApis, worker_id: String) -> Reporter {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("eod-portal/1")
            .build()
            .expect("an HTTP client with static settings");
        Reporter { db, settings, apis, worker_id, client }
    }

    pub async fn run(self, every: Duration) {
        loop {
            loop {
                match self.step().await {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(err) => {
                        tracing::error!(error = %err, "pull request reports failed");
                        break;
                    }
                }
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Sends one due report; false when none was due.
    pub async fn step(&self) -> Result<bool, sqlx::Error> {
        let now = now_ms();
        let Some(due) = store::claim_report(self.db.pool(), &self.worker_id, now, now + LEASE_MS).await? else {
            return Ok(false);
        };
        let outcome = match serde_json::from_str::<WantedReport>(&due.report) {
            Ok(wanted) => self.send(&due, &wanted).await,
            Err(_) => Sent::GiveUp("the stored report cannot be read".into()),
        };
        let pool = self.db.pool();
        match outcome {
            Sent::Done { comment_id } => {
                store::report_sent(pool, &due, &self.worker_id, comment_id.as_deref(), now_ms()).await?;
            }
            Sent::Retry(error) => {
                let attempts = u32::try_from(due.attempts).unwrap_or(u32::MAX);
                let at = next_attempt(attempts, now_ms(), rand::random(), None);
                tracing::info!(pr = due.number, repository = %due.repository, %error, "pull request report not sent");
                store::report_failed(pool, &due, &self.worker_id, &error, at).await?;
            }
            Sent::GiveUp(error) => {
                tracing::warn!(pr = due.number, repository = %due.repository, %error, "pull request report given up");
                store::report_failed(pool, &due, &self.worker_id, &error, None).await?;
            }
            Sent::NotConfigured(why) => {
                tracing::debug!(pr = due.number, repository = %due.repository, %why, "pull request not reported");
                store::report_failed(pool, &due, &self.worker_id, &why, None).await?;
            }
        }
        Ok(true)
    }

    fn report(&self, wanted: &WantedReport) -> Report {
        Report {
            state: wanted.state,
            env_name: wanted.env_name.clone(),
            preview_url: Some(self.settings.preview_urls.url_for(&wanted.env_name)),
            portal_url: format!("{}/environments/{}", self.settings.public_origin, wanted.env_id),
            head_sha: wanted.head_sha.clone(),
            reason: wanted.reason.clone(),
        }
    }

    async fn send(&self, due: &DueReport, wanted: &WantedReport) -> Sent {
        let report = self.report(wanted);
        match due.provider.as_str() {
            "github" => self.send_github(due, &report).await,
            "gitlab" => self.send_gitlab(due, &report).await,
            other => Sent::GiveUp(format!("unknown provider {other:?}")),
        }
    }

    async fn send_github(&self, due: &DueReport, report: &Report) -> Sent {
        let Some(token) = &self.apis.github_token else {
            return Sent::NotConfigured("EOD_GITHUB_TOKEN is not set: nothing is reported to GitHub".into());
        };
        let api = self.apis.github_api.trim_end_matches('/');
        let repo = &due.repository;
        let auth = |req: reqwest::RequestBuilder| {
            req.bearer_auth(token)
                .header("accept", "application/vnd.github+json")
                .header("content-type", "application/json")
        };
        if report.head_sha.len() >= 40 {
            let url = format!("{api}/repos/{repo}/statuses/{}", report.head_sha);
            let req = auth(self.client.post(url)).body(report.github_status().to_string());
            if let Err(sent) = answered(req.send().await, "the commit status").await {
                return sent;
            }
        }
        let body = serde_json::json!({ "body": report.comment() }).to_string();
        if let Some(id) = &due.comment_id {
            let url = format!("{api}/repos/{repo}/issues/comments/{id}");
            match answered(auth(self.client.patch(url)).body(body.clone()).send().await, "the comment").await {
                Ok(_) => return Sent::Done { comment_id: None },
                // Deleted by someone: write a new one.
                Err(Sent::GiveUp(e)) if e.contains("404") => {}
                Err(sent) => return sent,
            }
        }
        let url = format!("{api}/repos/{repo}/issues/{}/comments", due.number);
        match answered(auth(self.client.post(url)).body(body).send().await, "the comment").await {
            Ok(json) => Sent::Done { comment_id: id_of(&json) },
            Err(sent) => sent,
        }
    }

    async fn send_gitlab(&self, due: &DueReport, report: &Report) -> Sent {
        let Some(token) = &self.apis.gitlab_token else {
            return Sent::NotConfigured("EOD_GITLAB_TOKEN is not set: nothing is reported to GitLab".into());
        };
        let api = self.apis.gitlab_api.trim_end_matches('/');
        // The path is letters, digits, - _ . and / (checked on the blueprint).
        let project = due.repository.replace('/', "%2F");
        let auth = |req: reqwest::RequestBuilder| {
            req.header("private-token", token).header("content-type", "application/json")
        };
        if report.head_sha.len() >= 40 {
            let url = format!("{api}/projects/{project}/statuses/{}", report.head_sha);
            let body = serde_json::json!({
                "state": report.gitlab_state(), "name": STATUS_CONTEXT, "target_url": report.status_target(),
                "description": report.status_description(),
            });
            if let Err(sent) =
                answered(auth(self.client.post(url)).body(body.to_string()).send().await, "the commit status").await
            {
                return sent;
            }
        }
        let body = serde_json::json!({ "body": report.comment() }).to_string();
        let notes = format!("{api}/projects/{project}/merge_requests/{}/notes", due.number);
        if let Some(id) = &due.comment_id {
            match answered(auth(self.client.put(format!("{notes}/{id}"))).body(body.clone()).send().await, "the note")
                .await
            {
                Ok(_) => return Sent::Done { comment_id: None },
                Err(Sent::GiveUp(e)) if e.contains("404") => {}
                Err(sent) => return sent,
            }
        }
        match answered(auth(self.client.post(notes)).body(body).send().await, "the note").await {
            Ok(json) => Sent::Done { comment_id: id_of(&json) },
            Err(sent) => sent,
        }
    }
}

/// The id the provider gave a comment or note.
fn id_of(json: &serde_json::Value) -> Option<String> {
    match &json["id"] {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// The JSON of a 2xx answer, or how to go on. Error texts name the status,
/// never the token.
async fn answered(res: Result<reqwest::Response, reqwest::Error>, what: &str) -> Result<serde_json::Value, Sent> {
    let res = match res {
        Ok(res) => res,
        Err(err) if err.is_timeout() => return Err(Sent::Retry(format!("{what}: timed out"))),
        Err(_) => return Err(Sent::Retry(format!("{what}: could not connect"))),
    };
    let status = res.status().as_u16();
    match status {
        200..=299 => Ok(res.bytes().await.ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()),
        408 | 429 | 500..=599 => Err(Sent::Retry(format!("{what}: the API answered {status}"))),
        _ => Err(Sent::GiveUp(format!("{what}: the API answered {status}"))),
    }
}
