//! Server functions of the Apps pages: list, read, register, edit, archive,
//! rebuild the template, and "Try it" (a throwaway preview of the default
//! branch). Each authorizes on the server through `ssr::apps`, the one write
//! path the JSON API and the configuration use too.

use crate::domain::blueprint::Blueprint;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// An app as pages and the API show it: never a secret's value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppView {
    pub id: String,
    /// The team's slug and name.
    pub team: String,
    pub team_name: String,
    pub slug: String,
    pub name: String,
    pub repository: String,
    pub default_branch: String,
    /// The stored blueprint (its `secrets` map is always empty here).
    pub blueprint: Blueprint,
    /// The blueprint as pretty JSON, for the edit form (empty in lists).
    pub blueprint_json: String,
    /// Names of the app's secrets; values are never shown again after saving.
    pub secret_names: Vec<String>,
    /// Owned by an `[[app]]` table of the configuration: read-only here.
    pub managed_by_config: bool,
    pub archived: bool,
    pub created_at: i64,
    pub updated_at: Option<i64>,
    /// Whether the viewer may edit it (the server checks again on every write).
    pub can_edit: bool,
}

/// The Apps page: the viewer's teams' apps, and the teams they may register apps for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppsPage {
    pub apps: Vec<AppView>,
    /// Team slugs the viewer may register an app for (empty: no form).
    pub register_teams: Vec<String>,
}

#[server(prefix = "/api/fn", endpoint = "list_apps")]
pub async fn list_apps() -> Result<AppsPage, AppError> {
    crate::ssr::with_status(list_apps_inner().await)
}

#[cfg(feature = "ssr")]
async fn list_apps_inner() -> Result<AppsPage, AppError> {
    use crate::domain::authz::{decide, Action, Decision};
    use crate::ssr::context::{app_state, request_meta, AppAdmins};
    use crate::ssr::{internal, store};
    let (state, meta) = (app_state()?, request_meta());
    let apps = crate::ssr::apps::list(&state, &meta).await?;
    let viewer = meta.viewer.clone().ok_or(AppError::Unauthorized)?;
    let register_teams = if state.settings.app_admins == AppAdmins::Platform && !viewer.is_platform_admin {
        vec![]
    } else {
        store::teams::list(state.db.pool())
            .await
            .map_err(internal("listing teams"))?
            .into_iter()
            .filter(|t| decide(&viewer, Action::ManageApps, Some(&t.id)) == Decision::Allow)
            .map(|t| t.slug)
            .collect()
    };
    Ok(AppsPage { apps, register_teams })
}

#[server(prefix = "/api/fn", endpoint = "get_app")]
pub async fn get_app(team: String, slug: String) -> Result<AppView, AppError> {
    crate::ssr::with_status(
        async {
            let (state, meta) = (crate::ssr::context::app_state()?, crate::ssr::context::request_meta());
            crate::ssr::apps::get(&state, &meta, Some(&team), &slug).await
        }
        .await,
    )
}

/// Registers an app from the form. `blueprint` is JSON text (may be empty);
/// `secrets` is `NAME=value` lines, sealed at once and never shown again.
#[server(prefix = "/api/fn", endpoint = "register_app")]
pub async fn register_app(
    team: String,
    slug: String,
    name: String,
    repository: String,
    default_branch: String,
    blueprint: String,
    secrets: String,
) -> Result<AppView, AppError> {
    crate::ssr::with_status(
        async {
            let (state, meta) = (crate::ssr::context::app_state()?, crate::ssr::context::request_meta());
            let blueprint = with_secrets(&blueprint, &secrets)?;
            let input = crate::ssr::apps::AppInput {
                team,
                slug,
                name,
                repository,
                default_branch: Some(default_branch).filter(|b| !b.trim().is_empty()),
                blueprint: Some(blueprint),
            };
            crate::ssr::apps::create(&state, &meta, input).await
        }
        .await,
    )
}

/// Saves the edit form: name, repository, default branch, the whole
/// blueprint (JSON text), and secrets to set (`NAME=value` lines) or remove
/// (`NAME=` with nothing after the sign).
#[server(prefix = "/api/fn", endpoint = "update_app")]
#[allow(clippy::too_many_arguments)]
pub async fn update_app(
    team: String,
    slug: String,
    name: String,
    repository: String,
    default_branch: String,
    blueprint: String,
    secrets: String,
) -> Result<AppView, AppError> {
    crate::ssr::with_status(
        async {
            let (state, meta) = (crate::ssr::context::app_state()?, crate::ssr::context::request_meta());
            let patch = crate::ssr::apps::AppPatch {
                name: Some(name),
                repository: Some(repository),
                default_branch: Some(default_branch),
                blueprint: Some(with_secrets(&blueprint, &secrets)?),
                archived: None,
            };
            crate::ssr::apps::update(&state, &meta, Some(&team), &slug, patch).await
        }
        .await,
    )
}

/// Archives (or, with `archived = false`, restores) an app.
#[server(prefix = "/api/fn", endpoint = "archive_app")]
pub async fn archive_app(team: String, slug: String, archived: bool) -> Result<AppView, AppError> {
    crate::ssr::with_status(
        async {
            let (state, meta) = (crate::ssr::context::app_state()?, crate::ssr::context::request_meta());
            let patch = crate::ssr::apps::AppPatch { archived: Some(archived), ..Default::default() };
            crate::ssr::apps::update(&state, &meta, Some(&team), &slug, patch).await
        }
        .await,
    )
}

#[server(prefix = "/api/fn", endpoint = "rebuild_app_template")]
pub async fn rebuild_app_template(team: String, slug: String) -> Result<AppView, AppError> {
    crate::ssr::with_status(
        async {
            let (state, meta) = (crate::ssr::context::app_state()?, crate::ssr::context::request_meta());
            crate::ssr::apps::rebuild_template(&state, &meta, Some(&team), &slug).await
        }
        .await,
    )
}

/// "Try it": a lightweight preview of the app's default branch; returns the
/// new environment's id (its page streams the build log).
#[server(prefix = "/api/fn", endpoint = "try_app")]
pub async fn try_app(team: String, slug: String) -> Result<String, AppError> {
    crate::ssr::with_status(
        async {
            let (state, meta) = (crate::ssr::context::app_state()?, crate::ssr::context::request_meta());
            let app = crate::ssr::apps::find_visible(&state, &meta, Some(&team), &slug).await?;
            let new = crate::ssr::environments::NewEnvironment {
                app: app.slug.clone(),
                team: Some(team),
                branch: Some(app.default_branch.clone()),
                pr_number: None,
                tier: crate::domain::tier::Tier::PreviewLightweight,
            };
            Ok(crate::ssr::environments::create(&state, &meta, new).await?.id)
        }
        .await,
    )
}

/// The form's blueprint JSON with its `NAME=value` secret lines merged in.
#[cfg(feature = "ssr")]
fn with_secrets(blueprint: &str, secrets: &str) -> Result<serde_json::Value, AppError> {
    let mut value: serde_json::Value = if blueprint.trim().is_empty() {
        serde_json::json!({})
    } else {
        serde_json::from_str(blueprint).map_err(|e| AppError::invalid("blueprint", format!("not valid JSON: {e}")))?
    };
    let obj = value.as_object_mut().ok_or_else(|| AppError::invalid("blueprint", "a JSON object"))?;
    let mut map = serde_json::Map::new();
    for line in secrets.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((name, v)) = line.split_once('=') else {
            return Err(AppError::invalid("secrets", "one NAME=value per line"));
        };
        let v = if v.is_empty() { serde_json::Value::Null } else { serde_json::Value::String(v.to_string()) };
        map.insert(name.trim().to_string(), v);
    }
    if !map.is_empty() {
        obj.insert("secrets".into(), serde_json::Value::Object(map));
    }
    Ok(value)
}
