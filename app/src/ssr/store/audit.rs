//! The audit trail is append-only: this module has `append` and reads, and no
//! update or delete exists anywhere.

use super::Exec;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Denied,
    Failure,
}

impl Outcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failure => "failure",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEvent {
    pub id: String,
    pub at: i64,
    pub actor_id: Option<String>,
    /// Who, readable even after the user is gone: a login, `system`, a token.
    pub actor_label: String,
    /// `auth.sign_in`, `environment.create`, …
    pub action: String,
    pub target_kind: String,
    pub target_id: Option<String>,
    pub team_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub outcome: String,
    /// JSON object with action-specific facts.
    pub detail: String,
}

pub async fn append<'c>(ex: impl Exec<'c>, e: &AuditEvent) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_events (id, at, actor_id, actor_label, action, target_kind, target_id, team_id,
             ip, user_agent, outcome, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&e.id)
    .bind(e.at)
    .bind(&e.actor_id)
    .bind(&e.actor_label)
    .bind(&e.action)
    .bind(&e.target_kind)
    .bind(&e.target_id)
    .bind(&e.team_id)
    .bind(&e.ip)
    .bind(&e.user_agent)
    .bind(&e.outcome)
    .bind(&e.detail)
    .execute(ex)
    .await?;
    Ok(())
}

/// The most recent events for a target, newest first.
pub async fn for_target<'c>(ex: impl Exec<'c>, target_id: &str, limit: i64) -> sqlx::Result<Vec<AuditEvent>> {
    sqlx::query_as(
        "SELECT id, at, actor_id, actor_label, action, target_kind, target_id, team_id, ip, user_agent, outcome, detail
         FROM audit_events WHERE target_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(target_id)
    .bind(limit)
    .fetch_all(ex)
    .await
}

pub async fn count_by_action<'c>(ex: impl Exec<'c>, action: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = $1").bind(action).fetch_one(ex).await
}

impl AuditEvent {
    /// An event by whoever made the current request (or `anonymous`), with the
    /// request's address and user agent, timestamped now.
    pub fn from_request(
        meta: &crate::ssr::RequestMeta,
        action: &str,
        target_kind: &str,
        target_id: Option<String>,
        outcome: Outcome,
    ) -> AuditEvent {
        let (actor_id, actor_label) = match &meta.viewer {
            Some(v) => (Some(v.user_id.clone()), v.login.clone()),
            None => (None, "anonymous".to_string()),
        };
        AuditEvent {
            id: crate::ssr::clock::new_id(),
            at: crate::ssr::clock::now_ms(),
            actor_id,
            actor_label,
            action: action.to_string(),
            target_kind: target_kind.to_string(),
            target_id,
            team_id: None,
            ip: meta.ip.clone(),
            user_agent: meta.user_agent.clone(),
            outcome: outcome.as_str().to_string(),
            detail: "{}".to_string(),
        }
    }

    /// An event by the portal itself (workers, scheduler, pools) about an
    /// environment, timestamped now.
    pub fn system(action: &str, environment_id: Option<String>, team_id: Option<String>) -> AuditEvent {
        AuditEvent {
            id: crate::ssr::clock::new_id(),
            at: crate::ssr::clock::now_ms(),
            actor_id: None,
            actor_label: "system".into(),
            action: action.to_string(),
            target_kind: "environment".into(),
            target_id: environment_id,
            team_id,
            ip: None,
            user_agent: None,
            outcome: Outcome::Success.as_str().to_string(),
            detail: "{}".to_string(),
        }
    }

    /// Attaches action-specific facts as a JSON object.
    pub fn with_detail(mut self, detail: serde_json::Value) -> AuditEvent {
        self.detail = detail.to_string();
        self
    }
}

/// Filters for [`search`]; empty strings mean "any".
#[derive(Clone, Debug, Default)]
pub struct Search<'a> {
    /// `None`: every team's and global events; `Some(teams)`: only events of these teams.
    pub teams: Option<&'a [String]>,
    pub action_prefix: &'a str,
    pub actor_label: &'a str,
    pub outcome: &'a str,
    /// Only events with an id lower than this (ids sort by time).
    pub before_id: &'a str,
}

/// Events matching the filters, newest first.
pub async fn search<'c>(ex: impl Exec<'c>, s: &Search<'_>, limit: i64) -> sqlx::Result<Vec<AuditEvent>> {
    let mut sql = String::from(
        "SELECT id, at, actor_id, actor_label, action, target_kind, target_id, team_id, ip, user_agent, outcome, detail
         FROM audit_events
         WHERE ($1 = '' OR action LIKE $1 || '%')
           AND ($2 = '' OR actor_label = $2)
           AND ($3 = '' OR outcome = $3)
           AND ($4 = '' OR id < $4)",
    );
    let teams = s.teams.unwrap_or(&[]);
    if s.teams.is_some() {
        if teams.is_empty() {
            return Ok(vec![]);
        }
        let placeholders: Vec<String> = (0..teams.len()).map(|i| format!("${}", i + 6)).collect();
        sql.push_str(&format!(" AND team_id IN ({})", placeholders.join(", ")));
    }
    sql.push_str(" ORDER BY id DESC LIMIT $5");
    let mut q =
        sqlx::query_as(&sql).bind(s.action_prefix).bind(s.actor_label).bind(s.outcome).bind(s.before_id).bind(limit);
    for t in teams {
        q = q.bind(t);
    }
    q.fetch_all(ex).await
}
