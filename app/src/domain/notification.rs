//! What the portal tells people and systems, and the shape it takes on each
//! outgoing channel: a Slack incoming webhook (Block Kit with a plain-text
//! fallback, within Slack's limits) and a generic JSON webhook (the
//! Standard Webhooks `{type, timestamp, data}` envelope). Pure; the
//! server signs and sends.

use serde::{Deserialize, Serialize};

/// An event worth telling a team about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    Ready,
    Failed,
    ExpiryWarning,
    Destroyed,
    ApprovalRequested,
    ApprovalDecided,
    BudgetThreshold,
}

impl EventKind {
    pub const ALL: [EventKind; 7] = [
        EventKind::Ready,
        EventKind::Failed,
        EventKind::ExpiryWarning,
        EventKind::Destroyed,
        EventKind::ApprovalRequested,
        EventKind::ApprovalDecided,
        EventKind::BudgetThreshold,
    ];

    /// The `type` of the webhook body.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Ready => "environment.ready",
            EventKind::Failed => "environment.failed",
            EventKind::ExpiryWarning => "environment.expiry_warning",
            EventKind::Destroyed => "environment.destroyed",
            EventKind::ApprovalRequested => "approval.requested",
            EventKind::ApprovalDecided => "approval.decided",
            EventKind::BudgetThreshold => "budget.threshold",
        }
    }

    fn emoji(self) -> &'static str {
        match self {
            EventKind::Ready => "✅",
            EventKind::Failed => "❌",
            EventKind::ExpiryWarning => "⏳",
            EventKind::Destroyed => "🗑️",
            EventKind::ApprovalRequested => "🙋",
            EventKind::ApprovalDecided => "⚖️",
            EventKind::BudgetThreshold => "💸",
        }
    }
}

impl std::str::FromStr for EventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| format!("unknown event {s:?}"))
    }
}

/// One message, before it takes a channel's shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub kind: EventKind,
    /// One line: "checkout-web-pr-7-ab12 is ready".
    pub title: String,
    /// A sentence or two of detail.
    pub text: String,
    /// Where to look (the environment's URL or page).
    pub url: Option<String>,
    /// Labelled facts (team, app, tier, PR, expiry…), in order.
    pub fields: Vec<(String, String)>,
    /// The environment it is about, if any.
    pub environment_id: Option<String>,
    pub team: String,
    /// When it happened (UTC epoch ms).
    pub at: i64,
}

/// Slack's limits (Block Kit): a section's text, a field, a header, the
/// number of fields in a section, the fallback text.
const SLACK_SECTION_TEXT: usize = 3_000;
const SLACK_FIELD_TEXT: usize = 2_000;
const SLACK_HEADER_TEXT: usize = 150;
const SLACK_MAX_FIELDS: usize = 10;
const SLACK_FALLBACK_TEXT: usize = 4_000;

/// At most `max` characters, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped in text it should show as is.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The body for a Slack-compatible incoming webhook.
pub fn slack_body(m: &Message) -> serde_json::Value {
    let title = format!("{} {}", m.kind.emoji(), m.title);
    // The fallback is mrkdwn too (push notifications): escaped, so no text
    // of ours can mention a channel or hide a link.
    let mut fallback = if m.text == m.title {
        slack_escape(&title)
    } else {
        format!("{}: {}", slack_escape(&title), slack_escape(&m.text))
    };
    if let Some(url) = &m.url {
        fallback.push_str(&format!(" {}", slack_escape(url)));
    }
    let mut blocks = vec![
        serde_json::json!({ "type": "header", "text": { "type": "plain_text", "text": clip(&title, SLACK_HEADER_TEXT), "emoji": true } }),
        serde_json::json!({ "type": "section", "text": { "type": "mrkdwn", "text": clip(&slack_escape(&m.text), SLACK_SECTION_TEXT) } }),
    ];
    if !m.fields.is_empty() {
        let fields: Vec<serde_json::Value> = m
            .fields
            .iter()
            .take(SLACK_MAX_FIELDS)
            .map(|(k, v)| {
                let text = format!("*{}*\n{}", slack_escape(k), slack_escape(v));
                serde_json::json!({ "type": "mrkdwn", "text": clip(&text, SLACK_FIELD_TEXT) })
            })
            .collect();
        blocks.push(serde_json::json!({ "type": "section", "fields": fields }));
    }
    if let Some(url) = &m.url {
        blocks.push(serde_json::json!({
            "type": "actions",
            "elements": [{ "type": "button", "text": { "type": "plain_text", "text": "Open" }, "url": url }]
        }));
    }
    serde_json::json!({ "text": clip(&fallback, SLACK_FALLBACK_TEXT), "blocks": blocks })
}

/// The body for a generic webhook: `{type, timestamp, data}`.
pub fn webhook_body(m: &Message) -> serde_json::Value {
    let fields: serde_json::Map<String, serde_json::Value> = m
        .fields
        .iter()
        .map(|(k, v)| (k.to_lowercase().replace(' ', "_"), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::json!({
        "type": m.kind.as_str(),
        "timestamp": super::export::iso_utc(m.at),
        "data": {
            "title": m.title,
            "text": m.text,
            "url": m.url,
            "environment_id": m.environment_id,
            "team": m.team,
            "fields": fields,
        },
    })
}

/// An e-mail's subject and plain-text body for one person's notification
/// (`kind` as the inbox stores it). `origin` is the portal's public URL, so
/// the links work from a mail client. The subject is one line: control
/// characters (a CR/LF could start a header) become spaces.
pub fn email_text(kind: &str, message: &str, environment_id: Option<&str>, origin: &str) -> (String, String) {
    let one_line: String = message.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let subject = clip(&format!("[EoD] {}", one_line.trim()), 150);
    let mut body = format!("{}\n\n", message.trim());
    if let Some(id) = environment_id {
        if kind == "expiry_warning" {
            body.push_str(&format!("Extend it (you confirm on the page):\n{origin}/environments/{id}/extend\n\n"));
        }
        body.push_str(&format!("Open the environment:\n{origin}/environments/{id}\n\n"));
    }
    if kind == "approval_requested" || kind == "approval_escalated" {
        body.push_str(&format!("Decide it in the approval queue:\n{origin}/approvals\n\n"));
    }
    if kind == "budget_alert" {
        body.push_str(&format!("See the team's costs:\n{origin}/costs\n\n"));
    }
    body.push_str(&format!("-- \nEoD Portal. Choose which e-mails you get:\n{origin}/settings/notifications\n"));
    (subject, body)
}

/// When the next attempt of a failed delivery goes, or `None` to give up:
/// exponential from 5 s, doubling, with up to 20 % jitter (`jitter` in
/// [0, 1)), at most eight attempts (about 21 minutes of retrying in all);
/// a `Retry-After` the receiver sent wins when it is longer.
pub fn next_attempt(attempts_made: u32, now: i64, jitter: f64, retry_after_ms: Option<i64>) -> Option<i64> {
    const MAX_ATTEMPTS: u32 = 8;
    if attempts_made >= MAX_ATTEMPTS {
        return None;
    }
    let base = 5_000_i64 << attempts_made.saturating_sub(1).min(10);
    let jittered = base + (base as f64 * 0.2 * jitter.clamp(0.0, 1.0)) as i64;
    Some(now + jittered.max(retry_after_ms.unwrap_or(0).min(3_600_000)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn message() -> Message {
        Message {
            kind: EventKind::Ready,
            title: "checkout-web-pr-7-ab12 is ready".into(),
            text: "PR #7 <Fix cart> & more".into(),
            url: Some("http://checkout-web-pr-7-ab12.localhost:3000/".into()),
            fields: vec![("Team".into(), "payments".into()), ("Tier".into(), "preview-full".into())],
            environment_id: Some("env-1".into()),
            team: "payments".into(),
            at: 1_800_000_000_000,
        }
    }

    #[test]
    fn slack_has_a_fallback_blocks_and_escapes_text() {
        let body = slack_body(&message());
        assert!(body["text"].as_str().unwrap().contains("is ready"));
        assert!(body["text"].as_str().unwrap().contains("&lt;Fix cart&gt; &amp; more"), "the fallback is escaped too");
        let mention = Message { text: "<!channel> <http://evil|click>".into(), ..message() };
        let text = slack_body(&mention)["text"].as_str().unwrap().to_string();
        assert!(!text.contains('<') && !text.contains('>'), "{text}");
        assert_eq!(body["blocks"][0]["type"], "header");
        assert_eq!(body["blocks"][1]["text"]["text"], "PR #7 &lt;Fix cart&gt; &amp; more");
        assert_eq!(body["blocks"][3]["elements"][0]["url"], "http://checkout-web-pr-7-ab12.localhost:3000/");
    }

    #[test]
    fn webhooks_carry_the_standard_envelope() {
        let body = webhook_body(&message());
        assert_eq!(body["type"], "environment.ready");
        assert_eq!(body["data"]["fields"]["team"], "payments");
        assert_eq!(body["timestamp"], "2027-01-15T08:00:00Z");
    }

    #[test]
    fn emails_have_one_line_subjects_and_working_links() {
        let (subject, body) = email_text(
            "expiry_warning",
            "web-1 expires at 2026-12-03 10:00 UTC\r\nBcc: x@y",
            Some("e1"),
            "https://eod.example",
        );
        assert_eq!(subject, "[EoD] web-1 expires at 2026-12-03 10:00 UTC  Bcc: x@y");
        assert!(!subject.contains(['\r', '\n']));
        assert!(body.contains("https://eod.example/environments/e1/extend"), "{body}");
        assert!(body.contains("https://eod.example/settings/notifications"), "{body}");
        let (_, body) = email_text("approval_requested", "alice asks", Some("e1"), "https://eod.example");
        assert!(body.contains("https://eod.example/approvals"));
        assert!(!body.contains("/extend"));
    }

    #[test]
    fn retries_back_off_and_give_up() {
        assert_eq!(next_attempt(1, 0, 0.0, None), Some(5_000));
        assert_eq!(next_attempt(2, 0, 0.0, None), Some(10_000));
        assert_eq!(next_attempt(3, 0, 0.99, None), Some(20_000 + 3_960));
        assert_eq!(next_attempt(1, 0, 0.0, Some(60_000)), Some(60_000), "Retry-After wins when longer");
        assert_eq!(next_attempt(8, 0, 0.0, None), None);
    }

    proptest! {
        // Whatever the text, Slack's limits hold.
        #[test]
        fn slack_limits_hold(title in ".{0,400}", text in ".{0,5000}", fields in proptest::collection::vec((".{0,50}", ".{0,3000}"), 0..20)) {
            let m = Message { title, text, fields, ..message() };
            let body = slack_body(&m);
            prop_assert!(body["text"].as_str().unwrap().chars().count() <= SLACK_FALLBACK_TEXT);
            prop_assert!(body["blocks"][0]["text"]["text"].as_str().unwrap().chars().count() <= SLACK_HEADER_TEXT);
            prop_assert!(body["blocks"][1]["text"]["text"].as_str().unwrap().chars().count() <= SLACK_SECTION_TEXT);
            if let Some(fields) = body["blocks"][2]["fields"].as_array() {
                prop_assert!(fields.len() <= SLACK_MAX_FIELDS);
                for f in fields {
                    prop_assert!(f["text"].as_str().unwrap().chars().count() <= SLACK_FIELD_TEXT);
                }
            }
        }

        #[test]
        fn email_subjects_stay_one_short_line(message in "\\PC{0,300}[\r\n\t]{0,3}\\PC{0,300}") {
            let (subject, _) = email_text("environment_ready", &message, None, "http://x");
            prop_assert!(!subject.chars().any(char::is_control));
            prop_assert!(subject.chars().count() <= 150);
        }

        #[test]
        fn retries_are_spaced_and_finite(attempts in 0u32..20, jitter in 0.0f64..1.0) {
            match next_attempt(attempts, 0, jitter, None) {
                Some(at) => { prop_assert!(attempts < 8); prop_assert!(at >= 5_000); }
                None => prop_assert!(attempts >= 8),
            }
        }
    }
}
