//! Preview access protection: who may open an environment's preview host,
//! and how a browser proves it there without the portal's session cookie
//! ever reaching that host. A signed-in member is sent through the portal
//! (`/preview-access`), which issues a one-time code the preview host
//! exchanges for its own cookie; a stakeholder without an account opens a
//! share link; an API client sends a token. Every grant is checked on every
//! request, so a revoked link or a disabled user stops at once.

use super::clock::now_ms;
use super::store::preview_access::{self as store_pa, Holder, ShareLink};
use super::store::{self, audit::AuditEvent, audit::Outcome, environments::Environment};
use super::tokens::{hash, random_chars};
use super::{internal, Db, PortalSettings, RequestMeta};
use crate::domain::access::Viewer;
use crate::domain::blueprint::Blueprint;
use crate::domain::preview_access::{self, PreviewAccess};
use crate::domain::tier::Tier;
use crate::domain::time::{HOUR_MS, SECOND_MS};
use crate::error::AppError;

/// How long a code from the portal stays good (the redirect takes a moment).
const CODE_TTL_MS: i64 = 60 * SECOND_MS;
/// How long a preview cookie lasts before the browser goes through the portal again.
pub const SESSION_TTL_MS: i64 = 12 * HOUR_MS;
/// The preview host's cookie (host-only: no Domain attribute).
pub const COOKIE: &str = "eod_preview";

/// The rule in force for an environment: the stricter of its tier's and
/// its app's.
pub async fn rule_for(db: &Db, settings: &PortalSettings, env: &Environment) -> Result<PreviewAccess, AppError> {
    let tier = env.tier.parse::<Tier>().map(|t| settings.tiers.get(t).preview_access).unwrap_or_default();
    let app = store::apps::find(db.pool(), &env.app_id).await.map_err(internal("loading an app"))?;
    let app_rule = app.and_then(|a| Blueprint::parse(&a.blueprint).ok()).and_then(|b| b.preview_access);
    Ok(PreviewAccess::effective(tier, app_rule))
}

/// A live, handed-over environment by name (what a preview host names).
async fn live_by_name(db: &Db, name: &str) -> Result<Option<Environment>, AppError> {
    let found = store::environments::find_by_name(db.pool(), name).await.map_err(internal("finding a preview"))?;
    Ok(found.map(|v| v.env).filter(|e| !e.pooled && e.destroyed_at.is_none()))
}

/// For a signed-in viewer at the portal: a one-time code for the preview
/// named `name`, if they may open it. Anything else — no such name, a
/// destroyed one, one they may not see — is the same `NotFound`.
pub async fn issue_code(
    db: &Db,
    settings: &PortalSettings,
    meta: &RequestMeta,
    viewer: &Viewer,
    name: &str,
    next: &str,
) -> Result<String, AppError> {
    let env = live_by_name(db, name).await?.ok_or(AppError::NotFound)?;
    if !rule_for(db, settings, &env).await?.admits(viewer, &env.team_id) {
        return Err(AppError::NotFound);
    }
    let code = random_chars(40);
    let now = now_ms();
    let next = preview_access::safe_next(next);
    let mut tx = db.pool().begin().await.map_err(internal("starting a transaction"))?;
    store_pa::insert_code(&mut *tx, &hash(&code), &env.id, &viewer.user_id, &next, (now, now + CODE_TTL_MS))
        .await
        .map_err(internal("storing a preview code"))?;
    let mut event =
        AuditEvent::from_request(meta, "preview.open", "environment", Some(env.id.clone()), Outcome::Success)
            .with_detail(serde_json::json!({ "name": env.name, "via": "sign-in" }));
    event.team_id = Some(env.team_id.clone());
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a preview code"))?;
    tx.commit().await.map_err(internal("committing a preview code"))?;
    Ok(code)
}

/// On the preview host: exchanges a code for that host's cookie. Returns
/// the cookie's value and where to go, or `None` for a used, expired or
/// foreign code.
pub async fn redeem_code(db: &Db, code: &str, env_id: &str) -> Result<Option<(String, String)>, AppError> {
    let now = now_ms();
    let mut tx = db.pool().begin().await.map_err(internal("starting a transaction"))?;
    let Some((user_id, next)) =
        store_pa::redeem_code(&mut *tx, &hash(code), env_id, now).await.map_err(internal("redeeming a code"))?
    else {
        return Ok(None);
    };
    let token = random_chars(40);
    store_pa::insert_session(&mut *tx, &hash(&token), env_id, Holder::User(&user_id), (now, now + SESSION_TTL_MS))
        .await
        .map_err(internal("storing a preview session"))?;
    tx.commit().await.map_err(internal("committing a preview session"))?;
    Ok(Some((token, next)))
}

/// On the preview host: opens a share link (its token from the URL) into
/// that host's cookie, lasting until the link's expiry at most.
pub async fn redeem_share_link(db: &Db, token: &str, env: &Environment) -> Result<Option<String>, AppError> {
    let env_id = env.id.as_str();
    let now = now_ms();
    let mut tx = db.pool().begin().await.map_err(internal("starting a transaction"))?;
    let link = store_pa::usable_link(&mut *tx, &hash(token), now).await.map_err(internal("finding a share link"))?;
    let Some(link) = link.filter(|l| l.environment_id == env_id) else {
        return Ok(None);
    };
    let session = random_chars(40);
    let until = link.expires_at.min(now + SESSION_TTL_MS);
    store_pa::insert_session(&mut *tx, &hash(&session), env_id, Holder::ShareLink(&link.id), (now, until))
        .await
        .map_err(internal("storing a preview session"))?;
    let mut event = AuditEvent::system("preview.open", Some(env_id.to_string()), Some(env.team_id.clone()))
        .with_detail(serde_json::json!({ "via": "share-link", "share_link": link.id }));
    event.target_kind = "environment".into();
    event.actor_label = format!("share link {}", &link.id[..8.min(link.id.len())]);
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a share link's use"))?;
    tx.commit().await.map_err(internal("committing a preview session"))?;
    Ok(Some(session))
}

/// Whether a preview cookie admits its holder to `env_id` now.
pub async fn cookie_admits(db: &Db, cookie: &str, env_id: &str) -> Result<bool, AppError> {
    store_pa::session_admits(db.pool(), &hash(cookie), env_id, now_ms()).await.map_err(internal("checking a preview"))
}

/// Team members (any role) and platform admins share and revoke links.
fn may_share(viewer: &Viewer, env: &Environment) -> bool {
    viewer.is_platform_admin || viewer.memberships.iter().any(|m| m.team_id == env.team_id)
}

/// An environment the viewer may share (else `NotFound`, whether it exists or not).
async fn of_sharer(db: &Db, viewer: &Viewer, env_id: &str) -> Result<Environment, AppError> {
    store::environments::find(db.pool(), env_id)
        .await
        .map_err(internal("finding an environment"))?
        .map(|v| v.env)
        .filter(|e| !e.pooled && may_share(viewer, e))
        .ok_or(AppError::NotFound)
}

async fn shareable(db: &Db, viewer: &Viewer, env_id: &str) -> Result<Environment, AppError> {
    let env = of_sharer(db, viewer, env_id).await?;
    if env.destroyed_at.is_some() {
        return Err(AppError::Conflict("the environment is destroyed; there is nothing to share".into()));
    }
    Ok(env)
}

/// A new share link and its URL (shown once; only its hash is kept).
pub async fn create_share_link(
    db: &Db,
    settings: &PortalSettings,
    meta: &RequestMeta,
    viewer: &Viewer,
    env_id: &str,
    hours: i64,
    note: &str,
) -> Result<(ShareLink, String), AppError> {
    let hours = preview_access::check_share_hours(hours).map_err(|m| AppError::invalid("expires_in_hours", m))?;
    let note = note.trim();
    if note.chars().count() > 200 || note.chars().any(char::is_control) {
        return Err(AppError::invalid("note", "at most 200 characters on one line"));
    }
    let env = shareable(db, viewer, env_id).await?;
    let now = now_ms();
    let token = random_chars(40);
    let link = ShareLink {
        id: super::clock::new_id(),
        environment_id: env.id.clone(),
        note: note.to_string(),
        created_by: viewer.user_id.clone(),
        created_at: now,
        expires_at: now + hours * HOUR_MS,
        revoked_at: None,
        revoked_by: None,
    };
    let mut event =
        AuditEvent::from_request(meta, "share_link.create", "environment", Some(env.id.clone()), Outcome::Success)
            .with_detail(
                serde_json::json!({ "share_link": link.id, "expires_at": link.expires_at, "note": link.note }),
            );
    event.team_id = Some(env.team_id.clone());
    let mut tx = db.pool().begin().await.map_err(internal("starting a transaction"))?;
    store_pa::insert_link(&mut *tx, &link, &hash(&token)).await.map_err(internal("storing a share link"))?;
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a share link"))?;
    tx.commit().await.map_err(internal("committing a share link"))?;
    let url = format!("{}.eod/share?token={token}", settings.preview_urls.url_for(&env.name));
    Ok((link, url))
}

pub async fn share_links(db: &Db, viewer: &Viewer, env_id: &str) -> Result<Vec<ShareLink>, AppError> {
    let env = of_sharer(db, viewer, env_id).await?;
    store_pa::links_of(db.pool(), &env.id).await.map_err(internal("listing share links"))
}

pub async fn revoke_share_link(
    db: &Db,
    meta: &RequestMeta,
    viewer: &Viewer,
    env_id: &str,
    link_id: &str,
) -> Result<(), AppError> {
    let env = of_sharer(db, viewer, env_id).await?;
    let mut tx = db.pool().begin().await.map_err(internal("starting a transaction"))?;
    if !store_pa::revoke_link(&mut *tx, &env.id, link_id, &viewer.user_id, now_ms())
        .await
        .map_err(internal("revoking a share link"))?
    {
        return Err(AppError::NotFound);
    }
    let mut event =
        AuditEvent::from_request(meta, "share_link.revoke", "environment", Some(env.id.clone()), Outcome::Success)
            .with_detail(serde_json::json!({ "share_link": link_id }));
    event.team_id = Some(env.team_id.clone());
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a revoke"))?;
    tx.commit().await.map_err(internal("committing a revoke"))?;
    Ok(())
}
