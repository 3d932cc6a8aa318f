//! Share links on the environment page: a member lets a stakeholder without
//! an account open the preview until the link expires or is revoked.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareLinkLine {
    pub id: String,
    pub note: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// `active`, `expired` or `revoked`.
    pub state: String,
}

/// The environment's links, newest first; `NotFound` for anyone who may
/// not share it (the page then shows no section).
#[server(prefix = "/api/fn", endpoint = "share_links")]
pub async fn share_links(env_id: String) -> Result<Vec<ShareLinkLine>, AppError> {
    crate::ssr::with_status(share_links_inner(env_id).await)
}

#[cfg(feature = "ssr")]
async fn share_links_inner(env_id: String) -> Result<Vec<ShareLinkLine>, AppError> {
    use crate::ssr::context::{app_state, require_viewer};
    let (state, viewer) = (app_state()?, require_viewer()?);
    let links = crate::ssr::preview_access::share_links(&state.db, &viewer, &env_id).await?;
    let now = crate::ssr::clock::now_ms();
    let mut logins = std::collections::HashMap::new();
    let mut lines = Vec::with_capacity(links.len());
    for l in links {
        if !logins.contains_key(&l.created_by) {
            let user = crate::ssr::store::users::find_by_id(state.db.pool(), &l.created_by)
                .await
                .map_err(crate::ssr::internal("finding a link's creator"))?;
            logins.insert(l.created_by.clone(), user.map_or_else(|| "(gone)".to_string(), |u| u.login));
        }
        let state = match (l.revoked_at, l.expires_at <= now) {
            (Some(_), _) => "revoked",
            (None, true) => "expired",
            (None, false) => "active",
        };
        lines.push(ShareLinkLine {
            created_by: logins[&l.created_by].clone(),
            id: l.id,
            note: l.note,
            created_at: l.created_at,
            expires_at: l.expires_at,
            state: state.into(),
        });
    }
    Ok(lines)
}

/// A new link; the answer is its URL, shown once.
#[server(prefix = "/api/fn", endpoint = "create_share_link")]
pub async fn create_share_link(env_id: String, hours: i64, note: String) -> Result<String, AppError> {
    crate::ssr::with_status(create_share_link_inner(env_id, hours, note).await)
}

#[cfg(feature = "ssr")]
async fn create_share_link_inner(env_id: String, hours: i64, note: String) -> Result<String, AppError> {
    use crate::ssr::context::{app_state, request_meta, require_viewer};
    let (state, viewer, meta) = (app_state()?, require_viewer()?, request_meta());
    let (_, url) = crate::ssr::preview_access::create_share_link(
        &state.db,
        &state.settings,
        &meta,
        &viewer,
        &env_id,
        hours,
        &note,
    )
    .await?;
    Ok(url)
}

#[server(prefix = "/api/fn", endpoint = "revoke_share_link")]
pub async fn revoke_share_link(env_id: String, link_id: String) -> Result<(), AppError> {
    crate::ssr::with_status(revoke_share_link_inner(env_id, link_id).await)
}

#[cfg(feature = "ssr")]
async fn revoke_share_link_inner(env_id: String, link_id: String) -> Result<(), AppError> {
    use crate::ssr::context::{app_state, request_meta, require_viewer};
    let (state, viewer, meta) = (app_state()?, require_viewer()?, request_meta());
    crate::ssr::preview_access::revoke_share_link(&state.db, &meta, &viewer, &env_id, &link_id).await
}
