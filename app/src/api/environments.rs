use crate::domain::lifecycle::EnvState;
use crate::domain::tier::Tier;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One row of the Environments page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentRow {
    pub id: String,
    pub name: String,
    pub app: String,
    pub team: String,
    pub tier: Tier,
    pub state: EnvState,
    pub owner: Option<String>,
    pub git_ref: Option<String>,
    pub pr_number: Option<i64>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    /// Set while the environment can be reached.
    pub url: Option<String>,
}

/// The page's data. `now` is the server's clock at read time so the server
/// render and the browser compute the same ages and countdowns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentList {
    pub now: i64,
    pub rows: Vec<EnvironmentRow>,
}

/// Most rows the page shows at once (filters and paging come with the
/// developer-journey work).
pub const PAGE_LIMIT: i64 = 500;

#[server(prefix = "/api/fn", endpoint = "list_environments")]
pub async fn list_environments() -> Result<EnvironmentList, AppError> {
    crate::ssr::with_status(list_environments_inner().await)
}

#[cfg(feature = "ssr")]
async fn list_environments_inner() -> Result<EnvironmentList, AppError> {
    use crate::ssr::{
        clock::now_ms,
        context::{app_state, require_viewer},
        internal, store,
    };
    let viewer = require_viewer()?;
    let state = app_state()?;
    let listed = store::environments::list_live_visible(state.db.pool(), &viewer, PAGE_LIMIT)
        .await
        .map_err(internal("listing environments"))?;
    let rows = listed
        .into_iter()
        .map(|e| {
            let tier: Tier = e.tier.parse().map_err(|err| {
                tracing::error!(%err, id = %e.id, "bad tier in database");
                AppError::Internal
            })?;
            let env_state: EnvState = e.state.parse().map_err(|err| {
                tracing::error!(%err, id = %e.id, "bad state in database");
                AppError::Internal
            })?;
            Ok(EnvironmentRow {
                url: env_state.is_reachable().then(|| state.settings.preview_urls.url_for(&e.name)),
                id: e.id,
                name: e.name,
                app: e.app_slug,
                team: e.team_slug,
                tier,
                state: env_state,
                owner: e.owner_login,
                git_ref: e.git_ref,
                pr_number: e.pr_number,
                created_at: e.created_at,
                expires_at: e.expires_at,
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    Ok(EnvironmentList { now: now_ms(), rows })
}
