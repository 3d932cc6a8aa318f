//! Admission policies on the server: where the policy comes from (the
//! TOML's `[admission]`, else what a platform admin saved on the Policies
//! page), the check the one write path runs inside its transaction, and
//! saving a new policy with its before/after in the audit trail.

use super::clock::now_ms;
use super::store::audit::{AuditEvent, Outcome};
use super::{authz, internal, AppState, Db, Engine, RequestMeta};
use crate::domain::access::Viewer;
use crate::domain::admission::{AdmissionPolicy, Request};
use crate::domain::authz::Action;
use crate::domain::tier::Tier;
use crate::error::AppError;

/// Where the policy in force comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicySource {
    /// `[admission]` in the configuration file: read-only on the page.
    Config,
    /// Saved on the Policies page.
    Saved { by: Option<String>, at: i64 },
    /// Nothing set: no limits.
    Default,
}

/// The policy in force and where it comes from.
pub async fn policy<'c>(
    ex: impl super::store::Exec<'c>,
    settings: &super::PortalSettings,
) -> Result<(AdmissionPolicy, PolicySource), AppError> {
    if let Some(p) = &settings.admission {
        return Ok((p.clone(), PolicySource::Config));
    }
    let row = super::store::documents::read(ex, super::store::documents::Document::AdmissionPolicy)
        .await
        .map_err(internal("loading the admission policy"))?;
    match row {
        None => Ok((AdmissionPolicy::default(), PolicySource::Default)),
        Some((doc, by, at)) => {
            let p = serde_json::from_str(&doc).map_err(|e| {
                tracing::error!(error = %e, "stored admission policy does not parse");
                AppError::Internal
            })?;
            Ok((p, PolicySource::Saved { by, at }))
        }
    }
}

/// Takes the row lock that serializes admissions of one team (and one
/// user) on PostgreSQL, so concurrent creates count each other; SQLite's
/// `BEGIN IMMEDIATE` already serializes every writer.
async fn lock(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    engine: Engine,
    table: &str,
    id: &str,
) -> Result<(), AppError> {
    if engine == Engine::Postgres {
        sqlx::query(&format!("SELECT id FROM {table} WHERE id = $1 FOR UPDATE"))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(internal("locking for admission"))?;
    }
    Ok(())
}

/// What the check needs to know about the request.
pub(crate) struct Admitting<'a> {
    pub team_id: &'a str,
    pub app_slug: &'a str,
    pub tier: Tier,
    pub viewer: &'a Viewer,
}

/// A refusal, to be audited once the caller's transaction is rolled back.
pub(crate) struct Refused {
    team_id: String,
    detail: serde_json::Value,
    message: String,
}

/// Runs inside the create (or claim) transaction, before the insert. On a
/// refusal the caller rolls back and hands it to [`refuse`]: on SQLite the
/// transaction holds the only write lock, so auditing inside it would wait
/// on itself.
pub(crate) async fn check_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    state: &AppState,
    a: &Admitting<'_>,
) -> Result<Result<(), Refused>, AppError> {
    let (policy, _) = policy(&mut **tx, &state.settings).await?;
    let (mut team_live, mut user_live) = (0, 0);
    if policy.counts(a.tier) {
        lock(tx, state.db.engine(), "teams", a.team_id).await?;
        lock(tx, state.db.engine(), "users", &a.viewer.user_id).await?;
        let live = "SELECT COUNT(*) FROM environments WHERE tier = $1 AND state <> 'destroyed' AND pooled = 0";
        team_live = sqlx::query_scalar::<_, i64>(&format!("{live} AND team_id = $2"))
            .bind(a.tier.as_str())
            .bind(a.team_id)
            .fetch_one(&mut **tx)
            .await
            .map_err(internal("counting live environments"))?;
        user_live = sqlx::query_scalar::<_, i64>(&format!("{live} AND owner_id = $2"))
            .bind(a.tier.as_str())
            .bind(&a.viewer.user_id)
            .fetch_one(&mut **tx)
            .await
            .map_err(internal("counting live environments"))?;
    }
    // Allowances are keyed by team slug; look it up only when there are any.
    let team_slug = if policy.team.is_empty() {
        String::new()
    } else {
        super::store::teams::find(&mut **tx, a.team_id)
            .await
            .map_err(internal("finding a team"))?
            .map(|t| t.slug)
            .unwrap_or_default()
    };
    let request = Request {
        team: &team_slug,
        app: a.app_slug,
        tier: a.tier,
        team_live: u32::try_from(team_live).unwrap_or(u32::MAX),
        user_live: u32::try_from(user_live).unwrap_or(u32::MAX),
    };
    Ok(policy.admit(&request).map_err(|refusal| Refused {
        team_id: a.team_id.into(),
        detail: serde_json::json!({
            "policy": refusal.policy(), "tier": a.tier.as_str(), "app": a.app_slug,
            "team_live": team_live, "user_live": user_live, "message": refusal.to_string(),
        }),
        message: refusal.to_string(),
    }))
}

/// Audits a refusal (after the rollback) and returns the 409 naming the
/// policy, the limit and the current value.
pub(crate) async fn refuse(state: &AppState, meta: &RequestMeta, r: Refused) -> AppError {
    let mut event =
        AuditEvent::from_request(meta, "admission.refused", "team", Some(r.team_id.clone()), Outcome::Denied)
            .with_detail(r.detail);
    event.team_id = Some(r.team_id);
    if let Err(err) = super::store::audit::append(state.db.pool(), &event).await {
        tracing::error!(error = %err, "auditing an admission refusal");
    }
    AppError::Conflict(r.message)
}

/// A platform admin saves a new policy (TOML text): validated, written,
/// audited with the before and after.
pub async fn save(state: &AppState, meta: &RequestMeta, text: &str) -> Result<AdmissionPolicy, AppError> {
    let viewer = authz::require(state, meta, Action::ManagePolicies, None).await?;
    if state.settings.admission.is_some() {
        return Err(AppError::Conflict(
            "the admission policy is set in the configuration file ([admission]); change it there".into(),
        ));
    }
    if text.len() > 64 * 1024 {
        return Err(AppError::invalid("policy", "at most 64 KB"));
    }
    let new: AdmissionPolicy = toml::from_str(text).map_err(|e| AppError::invalid("policy", e.to_string()))?;
    validate_against(&state.db, &new).await?;
    let now = now_ms();
    let mut tx = state.db.begin_write().await.map_err(internal("starting a transaction"))?;
    let (before, _) = policy(&mut *tx, &state.settings).await?;
    let doc = serde_json::to_string(&new).map_err(|_| AppError::Internal)?;
    super::store::documents::save(
        &mut *tx,
        super::store::documents::Document::AdmissionPolicy,
        &doc,
        &viewer.user_id,
        now,
    )
    .await
    .map_err(internal("saving the admission policy"))?;
    let event = AuditEvent::from_request(meta, "policy.update", "admission_policy", None, Outcome::Success)
        .with_detail(serde_json::json!({ "before": before, "after": new }));
    super::store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a policy change"))?;
    tx.commit().await.map_err(internal("committing a policy change"))?;
    Ok(new)
}

/// Names that must exist: a team or app the policy mentions but nobody has
/// is a typo that would silently allow nothing.
async fn validate_against(db: &Db, p: &AdmissionPolicy) -> Result<(), AppError> {
    for (slug, allow) in &p.team {
        let Some(team) =
            super::store::teams::find_by_slug(db.pool(), slug).await.map_err(internal("finding a team"))?
        else {
            return Err(AppError::invalid("policy", format!("team.{slug}: no such team")));
        };
        for app in allow.apps.iter().flatten() {
            let found: Option<String> = sqlx::query_scalar("SELECT id FROM apps WHERE team_id = $1 AND slug = $2")
                .bind(&team.id)
                .bind(app)
                .fetch_optional(db.pool())
                .await
                .map_err(internal("finding an app"))?;
            if found.is_none() {
                return Err(AppError::invalid("policy", format!("team.{slug}.apps: {app} is not an app of {slug}")));
            }
        }
    }
    Ok(())
}
