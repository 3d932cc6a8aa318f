//! Sends people's e-mail notifications over SMTP (`EOD_SMTP_URL`): each
//! pending e-mail is claimed under a lease, written from the notification's
//! words (`domain::notification::email_text`), sent, and its outcome
//! recorded once by the lease holder. Transient failures (a 4xx reply, a
//! connection or timeout) back off like the webhooks; a 5xx reply or a bad
//! address ends the e-mail as failed. Runs only when e-mail is configured.

use crate::config::Smtp;
use app::domain::notification::{email_text, next_attempt};
use app::ssr::clock::now_ms;
use app::ssr::mail::{self, DueEmail, Sent};
use app::ssr::{Db, PortalSettings};
use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::Arc;
use std::time::Duration;

const LEASE_MS: i64 = 60_000;
/// Longest an SMTP conversation may take.
const TIMEOUT: Duration = Duration::from_secs(20);

pub struct Mailer {
    db: Db,
    settings: Arc<PortalSettings>,
    worker_id: String,
    from: Mailbox,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Mailer {
    pub fn new(db: Db, settings: Arc<PortalSettings>, worker_id: String, smtp: &Smtp) -> Result<Mailer, String> {
        // The URL was checked when the configuration was read.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&smtp.url)
            .map_err(|_| "EOD_SMTP_URL: not a usable SMTP URL".to_string())?
            .timeout(Some(TIMEOUT))
            .build();
        Ok(Mailer { db, settings, worker_id, from: smtp.from.clone(), transport })
    }

    pub async fn run(self, every: Duration) {
        loop {
            loop {
                match self.step().await {
                    Ok(true) => continue,
                    Ok(false) => break,
                    Err(err) => {
                        tracing::error!(error = %err, "mailer pass failed");
                        break;
                    }
                }
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Sends one due e-mail; false when none was due.
    pub async fn step(&self) -> Result<bool, app::error::AppError> {
        let now = now_ms();
        let Some(due) = mail::claim_due(&self.db, &self.worker_id, now, now + LEASE_MS).await? else {
            return Ok(false);
        };
        let sent = self.send(&due).await;
        let outcome = match &sent {
            Sent::Sent => "delivered",
            Sent::Retry { .. } => "retry",
            _ => "refused",
        };
        metrics::counter!("eod_notification_deliveries_total", "channel" => "email", "outcome" => outcome).increment(1);
        match &sent {
            Sent::Sent => tracing::debug!(email = %due.id, "e-mail sent"),
            // The outcome names no address and no credential.
            other => tracing::info!(email = %due.id, outcome = ?other, "e-mail not sent"),
        }
        mail::record(&self.db, &due.id, &self.worker_id, &sent, now_ms()).await?;
        Ok(true)
    }

    fn message(&self, due: &DueEmail) -> Result<Message, String> {
        let to: Mailbox =
            due.to_address.trim().parse().map_err(|_| "the recipient's address is not valid".to_string())?;
        let to = Mailbox::new((!due.to_name.is_empty()).then(|| due.to_name.clone()), to.email);
        let (subject, body) =
            email_text(&due.kind, &due.message, due.environment_id.as_deref(), &self.settings.public_origin);
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            // Receivers thread and de-duplicate on it, as webhooks do on webhook-id.
            .message_id(Some(format!("<{}@eod-portal>", due.id)))
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| format!("the e-mail could not be written: {e}"))
    }

    async fn send(&self, due: &DueEmail) -> Sent {
        if due.to_address.is_empty() {
            return Sent::Refused { error: "the recipient has no e-mail address any more".into() };
        }
        let message = match self.message(due) {
            Ok(m) => m,
            Err(error) => return Sent::Refused { error },
        };
        let attempts = u32::try_from(due.attempts).unwrap_or(u32::MAX);
        match self.transport.send(message).await {
            Ok(_) => Sent::Sent,
            Err(err) if err.is_permanent() => Sent::Refused {
                error: format!("the mail server refused it ({})", err.status().map_or("5xx".into(), |c| c.to_string())),
            },
            Err(err) => Sent::Retry {
                error: match err.status() {
                    Some(code) => format!("the mail server answered {code}; trying again"),
                    None if err.is_timeout() => "the mail server timed out; trying again".into(),
                    None => "could not reach the mail server; trying again".into(),
                },
                at: next_attempt(attempts, now_ms(), rand::random(), None),
            },
        }
    }
}
