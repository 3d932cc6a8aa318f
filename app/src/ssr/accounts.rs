//! Accounts from identity providers: a user is keyed by (issuer, subject),
//! never by e-mail; team memberships can follow the provider's groups through
//! a configured mapping. One transaction: user, memberships, audit.

use super::clock::{new_id, now_ms};
use super::store::{self, audit::AuditEvent, audit::Outcome, users::User};
use super::{internal, Db, RequestMeta};
use crate::domain::access::TeamRole;
use crate::error::AppError;
use std::collections::BTreeMap;

/// What a provider vouched for.
#[derive(Clone, Debug)]
pub struct ExternalIdentity {
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    pub login_hint: String,
    pub display_name: String,
    pub email: Option<String>,
    pub groups: Vec<String>,
}

/// What membership in a provider group grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupGrant {
    Team { slug: String, role: TeamRole },
    PlatformAdmin,
}

impl std::str::FromStr for GroupGrant {
    type Err = String;
    /// `platform-admin` or `<team-slug>:developer|manager`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "platform-admin" {
            return Ok(GroupGrant::PlatformAdmin);
        }
        let (team, role) =
            s.split_once(':').ok_or_else(|| format!("{s:?}: expected <team>:<role> or platform-admin"))?;
        if team.is_empty() {
            return Err(format!("{s:?}: team slug is empty"));
        }
        Ok(GroupGrant::Team { slug: team.to_string(), role: role.parse()? })
    }
}

/// Finds or creates the user for an external identity, syncs mapped
/// memberships, and audits the sign-in. Returns the user.
pub async fn sign_in_external(
    db: &Db,
    meta: &RequestMeta,
    identity: &ExternalIdentity,
    mapping: &BTreeMap<String, GroupGrant>,
) -> Result<User, AppError> {
    let now = now_ms();
    let mut tx = db.begin_write().await.map_err(internal("starting a sign-in"))?;
    let existing = store::users::find_by_identity(&mut *tx, &identity.issuer, &identity.subject)
        .await
        .map_err(internal("finding a user"))?;
    let created = existing.is_none();
    if let Some(u) = &existing {
        if store::users::is_disabled(&mut *tx, &u.id).await.map_err(internal("checking a user"))? {
            return Err(AppError::Refused(DISABLED.into()));
        }
    }
    let mut user = match existing {
        Some(u) => u,
        None => {
            let login = unique_login(&mut tx, &identity.login_hint).await?;
            let user = User {
                id: new_id(),
                issuer: identity.issuer.clone(),
                subject: identity.subject.clone(),
                login,
                display_name: identity.display_name.clone(),
                email: identity.email.clone(),
                is_platform_admin: false,
                created_at: now,
            };
            store::users::insert(&mut *tx, &user).await.map_err(internal("creating a user"))?;
            user
        }
    };

    // Only teams (and the admin flag) that the mapping mentions are managed
    // by the provider; everything else is left as platform admins set it.
    let granted: Vec<&GroupGrant> = identity.groups.iter().filter_map(|g| mapping.get(g)).collect();
    if mapping.values().any(|g| *g == GroupGrant::PlatformAdmin) {
        user.is_platform_admin = granted.contains(&&GroupGrant::PlatformAdmin);
    }
    let mut teams: BTreeMap<&str, Option<TeamRole>> = BTreeMap::new();
    for grant in mapping.values() {
        if let GroupGrant::Team { slug, .. } = grant {
            teams.entry(slug.as_str()).or_insert(None);
        }
    }
    for grant in &granted {
        if let GroupGrant::Team { slug, role } = grant {
            let best = teams.entry(slug.as_str()).or_insert(None);
            *best = Some(best.map_or(*role, |r| r.max(*role)));
        }
    }
    for (slug, role) in teams {
        let Some(team) = store::teams::find_by_slug(&mut *tx, slug).await.map_err(internal("finding a team"))? else {
            tracing::warn!(team = slug, "group mapping names a team that does not exist");
            continue;
        };
        store::users::set_membership(&mut tx, &team.id, &user.id, role, now)
            .await
            .map_err(internal("syncing a membership"))?;
    }
    store::users::update_profile(&mut *tx, &user, now).await.map_err(internal("updating a user"))?;

    let signed_in = RequestMeta { viewer: None, ..meta.clone() };
    let mut event =
        AuditEvent::from_request(&signed_in, "auth.sign_in", "user", Some(user.id.clone()), Outcome::Success)
            .with_detail(serde_json::json!({ "provider": identity.provider, "created": created }));
    event.actor_id = Some(user.id.clone());
    event.actor_label = user.login.clone();
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a sign-in"))?;
    tx.commit().await.map_err(internal("committing a sign-in"))?;
    // Memberships and the profile may have changed with the sign-in.
    db.forget_viewers();
    Ok(user)
}

/// Why a disabled user cannot sign in.
pub const DISABLED: &str = "This account is disabled. Ask a platform admin to enable it.";

/// A platform admin disables (or enables again) a user by login: their
/// sessions, API tokens and preview cookies stop working at once and their
/// live streams close; nothing of theirs is deleted. Nobody disables
/// themselves (a platform could lose its last admin that way).
pub async fn set_disabled(
    db: &Db,
    meta: &RequestMeta,
    admin: &crate::domain::access::Viewer,
    login: &str,
    disabled: bool,
) -> Result<(), AppError> {
    if !admin.is_platform_admin {
        return Err(AppError::Forbidden);
    }
    let mut tx = db.begin_write().await.map_err(internal("starting a transaction"))?;
    let user = store::users::find_by_login(&mut *tx, login)
        .await
        .map_err(internal("finding a user"))?
        .ok_or(AppError::NotFound)?;
    if user.id == admin.user_id {
        return Err(AppError::Refused("you cannot disable your own account".into()));
    }
    let at = disabled.then(now_ms);
    store::users::set_disabled(&mut *tx, &user.id, at).await.map_err(internal("disabling a user"))?;
    let action = if disabled { "user.disable" } else { "user.enable" };
    let event = AuditEvent::from_request(meta, action, "user", Some(user.id.clone()), Outcome::Success)
        .with_detail(serde_json::json!({ "login": user.login }));
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a disable"))?;
    tx.commit().await.map_err(internal("committing a disable"))?;
    db.forget_viewers();
    Ok(())
}

/// The hint, slugged, with a numeric suffix if already taken.
async fn unique_login(tx: &mut sqlx::Transaction<'_, sqlx::Any>, hint: &str) -> Result<String, AppError> {
    let base = crate::domain::naming::slug(hint);
    let base = if base.is_empty() { "user".to_string() } else { base };
    for n in 0..1000 {
        let candidate = if n == 0 { base.clone() } else { format!("{base}-{n}") };
        if store::users::find_by_login(&mut **tx, &candidate).await.map_err(internal("checking a login"))?.is_none() {
            return Ok(candidate);
        }
    }
    Err(AppError::Conflict("no free login for this user".into()))
}

/// Records a refused sign-in (bad state, replayed code, invalid token…).
pub async fn audit_failed_sign_in(db: &Db, meta: &RequestMeta, provider: &str, reason: &str) {
    let event = AuditEvent::from_request(meta, "auth.sign_in", "user", None, Outcome::Failure)
        .with_detail(serde_json::json!({ "provider": provider, "reason": reason }));
    if let Err(err) = store::audit::append(db.pool(), &event).await {
        tracing::error!(error = %err, "auditing a failed sign-in");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_grants_parse() {
        assert_eq!("platform-admin".parse::<GroupGrant>(), Ok(GroupGrant::PlatformAdmin));
        assert_eq!(
            "payments:manager".parse::<GroupGrant>(),
            Ok(GroupGrant::Team { slug: "payments".into(), role: TeamRole::Manager })
        );
        assert!("payments".parse::<GroupGrant>().is_err());
        assert!("payments:owner".parse::<GroupGrant>().is_err());
    }
}
