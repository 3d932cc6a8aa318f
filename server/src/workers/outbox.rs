//! Sends the outbox: each pending delivery is claimed under a lease, shaped
//! for its channel (Slack Block Kit, or the signed JSON webhook), posted,
//! and its outcome recorded — once, by the lease holder. A replica killed
//! between the send and the record leaves the lease to lapse, and another
//! sends it again with the same `webhook-id`: at least once, recorded once.

use crate::standard_webhooks;
use app::domain::notification::{next_attempt, slack_body, webhook_body};
use app::ssr::channels::{self, Due, Sent};
use app::ssr::clock::now_ms;
use app::ssr::{Db, PortalSettings};
use std::sync::Arc;
use std::time::Duration;

const LEASE_MS: i64 = 30_000;
/// Longest a receiver gets to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

pub struct Outbox {
    pub db: Db,
    pub settings: Arc<PortalSettings>,
    pub worker_id: String,
    pub client: reqwest::Client,
}

impl Outbox {
    pub fn new(db: Db, settings: Arc<PortalSettings>, worker_id: String) -> Outbox {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("eod-portal-webhooks/1")
            .build()
            .expect("an HTTP client with static settings");
        Outbox { db, settings, worker_id, client }
    }

    pub async fn run(self, every: Duration) {
        loop {
            loop {
                match self.step().await {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(err) => {
                        tracing::error!(error = %err, "outbox pass failed");
                        break;
                    }
                }
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Sends one due delivery; false when none was due.
    pub async fn step(&self) -> Result<bool, app::error::AppError> {
        let now = now_ms();
        let key = &self.settings.secret_key;
        let Some(due) = channels::claim_due(&self.db, key, &self.worker_id, now, now + LEASE_MS).await? else {
            return Ok(false);
        };
        let sent = self.send(&due).await;
        let outcome = match &sent {
            Sent::Delivered { .. } => "delivered",
            Sent::Retry { .. } => "retry",
            _ => "refused",
        };
        metrics::counter!("eod_notification_deliveries_total", "channel" => due.kind.clone(), "outcome" => outcome)
            .increment(1);
        match &sent {
            Sent::Delivered { status } => tracing::debug!(delivery = %due.id, status, "delivered"),
            other => tracing::info!(delivery = %due.id, outcome = ?other, "delivery not done"),
        }
        channels::record(&self.db, &due, &self.worker_id, &sent, now_ms()).await?;
        Ok(true)
    }

    /// The body as the channel takes it, with the link made absolute.
    fn body(&self, due: &Due) -> Vec<u8> {
        let mut message = due.message.clone();
        if let Some(url) = message.url.as_mut().filter(|u| u.starts_with('/')) {
            *url = format!("{}{url}", self.settings.public_origin);
        }
        let json = if due.kind == "slack" { slack_body(&message) } else { webhook_body(&message) };
        serde_json::to_vec(&json).unwrap_or_default()
    }

    async fn send(&self, due: &Due) -> Sent {
        let body = self.body(due);
        let mut req = self.client.post(&due.url).header("content-type", "application/json");
        if due.kind == "webhook" {
            let timestamp = now_ms() / 1000;
            match standard_webhooks::signature_header(&due.secrets, &due.id, timestamp, &body) {
                Ok(signature) => {
                    req = req
                        .header("webhook-id", &due.id)
                        .header("webhook-timestamp", timestamp.to_string())
                        .header("webhook-signature", signature);
                }
                Err(err) => return Sent::Refused { status: 0, error: err.to_string() },
            }
        }
        let attempts = u32::try_from(due.attempts).unwrap_or(u32::MAX);
        let jitter: f64 = rand::random();
        match req.body(body).send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                let retry_after = res
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<i64>().ok())
                    .map(|s| s.saturating_mul(1000));
                match status {
                    200..=299 => Sent::Delivered { status },
                    410 => Sent::Gone,
                    429 | 500..=599 | 408 => Sent::Retry {
                        status: Some(status),
                        error: format!("the receiver answered {status}"),
                        at: next_attempt(attempts, now_ms(), jitter, retry_after),
                    },
                    _ => Sent::Refused { status, error: format!("the receiver answered {status}") },
                }
            }
            // Timeouts and connection errors: try again later. The error
            // text names no secret (the URL's token is not in it).
            Err(err) => Sent::Retry {
                status: None,
                error: if err.is_timeout() { "timed out".into() } else { "could not connect".into() },
                at: next_attempt(attempts, now_ms(), jitter, None),
            },
        }
    }
}
