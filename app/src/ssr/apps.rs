//! The one write path for apps: register, edit, archive, rebuild the
//! template, and the configuration's `[[app]]` tables applied at startup.
//! Each change authorizes (managers of the app's team, or platform admins
//! only under `EOD_APP_ADMINS=platform`), validates every field with the
//! field named, checks the repository answers and has the default branch,
//! seals secrets, writes and audits in one transaction. Apps owned by the
//! configuration are read-only everywhere else.

use super::clock::{new_id, now_ms};
use super::context::{AppAdmins, SourceError};
use super::store::{self, apps::App, audit::AuditEvent, audit::Outcome};
use super::{authz, internal, AppState, Db, RequestMeta};
use crate::api::apps::AppView;
use crate::domain::authz::{decide, Action, Decision};
use crate::domain::blueprint::Blueprint;
use crate::domain::naming::slug as slugify;
use crate::domain::repository::{is_valid_branch, RepoUrl};
use crate::error::AppError;
use std::collections::BTreeMap;

/// What registering an app takes (the API body, the form, an `[[app]]` table).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppInput {
    pub team: String,
    pub slug: String,
    pub name: String,
    pub repository: String,
    #[serde(default)]
    pub default_branch: Option<String>,
    #[serde(default)]
    pub blueprint: Option<serde_json::Value>,
}

/// A partial edit: absent fields keep their value. A blueprint replaces the
/// old one, except secrets, which merge (a value sets, `null` removes).
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub default_branch: Option<String>,
    #[serde(default)]
    pub blueprint: Option<serde_json::Value>,
    #[serde(default)]
    pub archived: Option<bool>,
}

fn check_slug(s: &str) -> Result<String, AppError> {
    let s = s.trim();
    if s.is_empty() || s.len() > 40 || slugify(s) != s {
        return Err(AppError::invalid("slug", "use 1–40 lowercase letters, digits and dashes"));
    }
    Ok(s.to_string())
}

fn check_name(s: &str) -> Result<String, AppError> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > 80 {
        return Err(AppError::invalid("name", "give the app a name of 1 to 80 characters"));
    }
    Ok(s.to_string())
}

fn check_repository(s: &str) -> Result<RepoUrl, AppError> {
    RepoUrl::parse(s).map_err(|e| AppError::invalid("repository", e.to_string()))
}

fn check_branch(s: &str) -> Result<String, AppError> {
    let s = s.trim();
    if !is_valid_branch(s) {
        return Err(AppError::invalid("default_branch", "a branch name git accepts (e.g. main)"));
    }
    Ok(s.to_string())
}

fn check_blueprint(value: Option<serde_json::Value>) -> Result<Blueprint, AppError> {
    let value = value.unwrap_or_else(|| serde_json::json!({}));
    // serde's messages quote values: check the secrets' shape first so a
    // mistyped secret is never echoed.
    if let Some(secrets) = value.get("secrets") {
        let ok = secrets.as_object().is_some_and(|m| m.values().all(|v| v.is_string() || v.is_null()));
        if !ok {
            return Err(AppError::invalid("blueprint.secrets", "map names to string values (or null to remove one)"));
        }
    }
    let bp: Blueprint = serde_json::from_value(value)
        .map_err(|e| AppError::invalid("blueprint", format!("not of the expected shape: {e}")))?;
    bp.validate().map_err(|e| AppError::invalid(e.field(), e.reason()))?;
    Ok(bp)
}

/// A script blueprint's commands run on the portal's host, with its network
/// and the app's secrets: only platform admins (or the configuration file)
/// choose or edit one.
fn check_driver_allowed(state: &AppState, meta: &RequestMeta, blueprint: &Blueprint) -> Result<(), AppError> {
    if blueprint.driver == "kubernetes" && !state.settings.kubernetes {
        return Err(AppError::invalid(
            "blueprint.driver",
            "no Kubernetes cluster is configured on this portal (EOD_KUBERNETES=kubeconfig)",
        ));
    }
    if blueprint.driver == "script" && !meta.viewer.as_ref().is_some_and(|v| v.is_platform_admin) {
        return Err(AppError::invalid(
            "blueprint.driver",
            "only platform admins choose the script driver: its commands run on the portal's host",
        ));
    }
    Ok(())
}

/// Checks the repository answers and has the branch, before anything is written.
async fn check_reachable(state: &AppState, repo: &RepoUrl, branch: &str) -> Result<(), AppError> {
    let Some(sources) = &state.sources else { return Ok(()) };
    match sources.probe(&repo.url, branch).await {
        Ok(_) => Ok(()),
        Err(SourceError::UnknownRef) => {
            Err(AppError::invalid("default_branch", format!("the repository has no branch {branch:?}")))
        }
        Err(SourceError::Unreachable(why)) => Err(AppError::invalid("repository", why)),
    }
}

/// The sealed-secrets JSON after applying `changes` (value sets, `None` removes).
fn merge_secrets(
    state: &AppState,
    sealed_json: &str,
    changes: &BTreeMap<String, Option<String>>,
) -> (String, Vec<String>) {
    let mut sealed: BTreeMap<String, String> = serde_json::from_str(sealed_json).unwrap_or_default();
    for (name, value) in changes {
        match value {
            Some(v) => {
                sealed.insert(name.clone(), state.settings.secret_key.seal(name, v));
            }
            None => {
                sealed.remove(name);
            }
        }
    }
    let names = sealed.keys().cloned().collect();
    (serde_json::to_string(&sealed).unwrap_or_else(|_| "{}".into()), names)
}

/// Whether the viewer may edit apps of `team_id` under the portal's setting.
async fn require_manage(state: &AppState, meta: &RequestMeta, team_id: &str) -> Result<(), AppError> {
    let viewer = authz::require(state, meta, Action::ManageApps, Some(team_id)).await?;
    if state.settings.app_admins == AppAdmins::Platform && !viewer.is_platform_admin {
        authz::audit_denial(state, meta, Action::ManageApps, Some(team_id), "apps are registered by platform admins")
            .await;
        return Err(AppError::Forbidden);
    }
    Ok(())
}

/// Whether the app's stored blueprint names the script driver.
fn is_script(app: &App) -> bool {
    Blueprint::parse(&app.blueprint).is_ok_and(|b| b.driver == "script")
}

/// Whether the viewer could edit `app` (for the UI's buttons; the write paths check again).
fn can_edit(state: &AppState, meta: &RequestMeta, app: &App) -> bool {
    let Some(viewer) = &meta.viewer else { return false };
    (viewer.is_platform_admin || !is_script(app))
        && !app.managed_by_config
        && decide(viewer, Action::ManageApps, Some(&app.team_id)) == Decision::Allow
        && (state.settings.app_admins == AppAdmins::Managers || viewer.is_platform_admin)
}

fn to_view(state: &AppState, meta: &RequestMeta, app: App, team: (String, String)) -> AppView {
    let blueprint = Blueprint::parse(&app.blueprint).unwrap_or_default();
    AppView {
        can_edit: can_edit(state, meta, &app),
        secret_names: app.secret_names(),
        id: app.id,
        team: team.0,
        team_name: team.1,
        slug: app.slug,
        name: app.name,
        repository: app.repo_url.unwrap_or_default(),
        default_branch: app.default_branch,
        blueprint_json: serde_json::to_string_pretty(&blueprint).unwrap_or_default(),
        blueprint,
        managed_by_config: app.managed_by_config,
        archived: app.archived_at.is_some(),
        created_at: app.created_at,
        updated_at: app.updated_at,
    }
}

async fn view(state: &AppState, meta: &RequestMeta, app: App) -> Result<AppView, AppError> {
    let team = store::teams::find(state.db.pool(), &app.team_id)
        .await
        .map_err(internal("finding an app's team"))?
        .ok_or(AppError::Internal)?;
    Ok(to_view(state, meta, app, (team.slug, team.name)))
}

/// Every app the viewer's teams have (all for platform admins), archived last.
pub async fn list(state: &AppState, meta: &RequestMeta) -> Result<Vec<AppView>, AppError> {
    let viewer = meta.viewer.clone().ok_or(AppError::Unauthorized)?;
    let apps = store::apps::list(state.db.pool()).await.map_err(internal("listing apps"))?;
    let teams: BTreeMap<String, (String, String)> = store::teams::list(state.db.pool())
        .await
        .map_err(internal("listing teams"))?
        .into_iter()
        .map(|t| (t.id, (t.slug, t.name)))
        .collect();
    let mut out: Vec<AppView> = apps
        .into_iter()
        .filter(|a| viewer.can_see_team(&a.team_id))
        .map(|app| {
            let team = teams.get(&app.team_id).cloned().unwrap_or_default();
            to_view(state, meta, app, team)
        })
        .collect();
    out.sort_by(|a, b| (a.archived, &a.team, &a.slug).cmp(&(b.archived, &b.team, &b.slug)));
    Ok(out)
}

/// Finds an app the viewer may see by slug (and team slug when several
/// teams have that slug). Others' apps are `NotFound`.
pub async fn find_visible(
    state: &AppState,
    meta: &RequestMeta,
    team: Option<&str>,
    slug: &str,
) -> Result<App, AppError> {
    let viewer = meta.viewer.clone().ok_or(AppError::Unauthorized)?;
    let mut apps = store::apps::find_by_slug(state.db.pool(), slug.trim()).await.map_err(internal("finding an app"))?;
    apps.retain(|a| viewer.can_see_team(&a.team_id));
    if let Some(team) = team.map(str::trim).filter(|t| !t.is_empty()) {
        let team_id = store::teams::find_by_slug(state.db.pool(), team)
            .await
            .map_err(internal("finding a team"))?
            .map(|t| t.id)
            .unwrap_or_default();
        apps.retain(|a| a.team_id == team_id);
    }
    match apps.len() {
        0 => Err(AppError::NotFound),
        1 => Ok(apps.remove(0)),
        _ => Err(AppError::invalid("team", "several teams have an app with this slug; say which team")),
    }
}

pub async fn get(state: &AppState, meta: &RequestMeta, team: Option<&str>, slug: &str) -> Result<AppView, AppError> {
    let app = find_visible(state, meta, team, slug).await?;
    authz::require(state, meta, Action::ViewApps, Some(&app.team_id)).await?;
    view(state, meta, app).await
}

/// Registers an app.
pub async fn create(state: &AppState, meta: &RequestMeta, input: AppInput) -> Result<AppView, AppError> {
    let viewer = meta.viewer.clone().ok_or(AppError::Unauthorized)?;
    let team = store::teams::find_by_slug(state.db.pool(), input.team.trim())
        .await
        .map_err(internal("finding a team"))?
        .filter(|t| viewer.can_see_team(&t.id))
        .ok_or_else(|| AppError::invalid("team", "no such team among yours"))?;
    require_manage(state, meta, &team.id).await?;
    let slug = check_slug(&input.slug)?;
    let name = check_name(&input.name)?;
    let repo = check_repository(&input.repository)?;
    let branch = check_branch(input.default_branch.as_deref().unwrap_or("main"))?;
    let mut blueprint = check_blueprint(input.blueprint)?;
    check_driver_allowed(state, meta, &blueprint)?;
    if blueprint.secrets.values().any(Option::is_none) {
        return Err(AppError::invalid("secrets", "null removes a secret on an edit; a new app has none to remove"));
    }
    if store::apps::find_in_team(state.db.pool(), &team.id, &slug).await.map_err(internal("checking an app"))?.is_some()
    {
        return Err(AppError::Conflict(format!("team {} already has an app {slug:?}", team.slug)));
    }
    check_reachable(state, &repo, &branch).await?;
    let secrets = std::mem::take(&mut blueprint.secrets);
    let (sealed, secret_names) = merge_secrets(state, "{}", &secrets);
    let now = now_ms();
    let app = App {
        id: new_id(),
        team_id: team.id.clone(),
        slug,
        name,
        repo_url: Some(repo.url),
        default_branch: branch,
        blueprint: blueprint.to_stored_json(),
        secrets: sealed,
        managed_by_config: false,
        archived_at: None,
        template_generation: 0,
        created_at: now,
        updated_at: Some(now),
    };
    let mut tx = state.db.pool().begin().await.map_err(internal("starting a transaction"))?;
    store::apps::insert(&mut *tx, &app).await.map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            AppError::Conflict(format!("team {} already has an app {:?}", team.slug, app.slug))
        }
        _ => internal("registering an app")(e),
    })?;
    let mut event = AuditEvent::from_request(meta, "app.create", "app", Some(app.id.clone()), Outcome::Success)
        .with_detail(serde_json::json!({
            "slug": app.slug, "repository": app.repo_url, "default_branch": app.default_branch,
            "secrets": secret_names,
        }));
    event.team_id = Some(team.id.clone());
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing an app"))?;
    tx.commit().await.map_err(internal("committing an app"))?;
    state.db.forget_catalog();
    view(state, meta, app).await
}

/// Edits an app (or archives / restores it with `archived`).
pub async fn update(
    state: &AppState,
    meta: &RequestMeta,
    team: Option<&str>,
    slug: &str,
    patch: AppPatch,
) -> Result<AppView, AppError> {
    let mut app = find_visible(state, meta, team, slug).await?;
    require_manage(state, meta, &app.team_id).await?;
    if is_script(&app) && !meta.viewer.as_ref().is_some_and(|v| v.is_platform_admin) {
        return Err(AppError::invalid(
            "blueprint.driver",
            "a script app is edited and archived by platform admins only: its commands run on the portal's host",
        ));
    }
    if app.managed_by_config {
        return Err(AppError::Conflict(
            "this app is managed by the configuration file ([[app]]); change it there".into(),
        ));
    }
    let mut changed = vec![];
    if let Some(name) = &patch.name {
        app.name = check_name(name)?;
        changed.push("name");
    }
    let repo_changed = patch.repository.is_some() || patch.default_branch.is_some();
    if let Some(repository) = &patch.repository {
        app.repo_url = Some(check_repository(repository)?.url);
        changed.push("repository");
    }
    if let Some(branch) = &patch.default_branch {
        app.default_branch = check_branch(branch)?;
        changed.push("default_branch");
    }
    let mut secret_names = None;
    if let Some(value) = patch.blueprint {
        let mut blueprint = check_blueprint(Some(value))?;
        check_driver_allowed(state, meta, &blueprint)?;
        let secrets = std::mem::take(&mut blueprint.secrets);
        let (sealed, names) = merge_secrets(state, &app.secrets, &secrets);
        if names.iter().any(|n| blueprint.env.contains_key(n)) {
            return Err(AppError::invalid("secrets", "a name is either a plain variable or a secret, not both"));
        }
        app.blueprint = blueprint.to_stored_json();
        app.secrets = sealed;
        secret_names = Some(names);
        changed.push("blueprint");
    }
    if let Some(archived) = patch.archived {
        app.archived_at = if archived { app.archived_at.or(Some(now_ms())) } else { None };
        changed.push(if archived { "archived" } else { "restored" });
    }
    if repo_changed {
        let repo = check_repository(app.repo_url.as_deref().unwrap_or_default())?;
        check_reachable(state, &repo, &app.default_branch).await?;
    }
    app.updated_at = Some(now_ms());
    let action = match patch.archived {
        Some(true) => "app.archive",
        Some(false) => "app.restore",
        None => "app.update",
    };
    write(
        state,
        meta,
        &app,
        action,
        serde_json::json!({ "slug": app.slug, "changed": changed, "secrets": secret_names }),
    )
    .await?;
    view(state, meta, app).await
}

/// Archives an app: no new environments; running ones live out their TTL.
pub async fn archive(
    state: &AppState,
    meta: &RequestMeta,
    team: Option<&str>,
    slug: &str,
) -> Result<AppView, AppError> {
    update(state, meta, team, slug, AppPatch { archived: Some(true), ..AppPatch::default() }).await
}

/// Makes the next environment build a fresh template database (the seed
/// changed outside the default branch's history, or the data went stale).
pub async fn rebuild_template(
    state: &AppState,
    meta: &RequestMeta,
    team: Option<&str>,
    slug: &str,
) -> Result<AppView, AppError> {
    let mut app = find_visible(state, meta, team, slug).await?;
    // Operating environments is enough: it changes no configuration.
    authz::require(state, meta, Action::OperateEnvironments, Some(&app.team_id)).await?;
    app.template_generation += 1;
    app.updated_at = Some(now_ms());
    write(
        state,
        meta,
        &app,
        "app.template_rebuild",
        serde_json::json!({ "slug": app.slug, "generation": app.template_generation }),
    )
    .await?;
    view(state, meta, app).await
}

async fn write(
    state: &AppState,
    meta: &RequestMeta,
    app: &App,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), AppError> {
    let mut tx = state.db.pool().begin().await.map_err(internal("starting a transaction"))?;
    if !store::apps::update(&mut *tx, app).await.map_err(internal("writing an app"))? {
        return Err(AppError::NotFound);
    }
    let mut event =
        AuditEvent::from_request(meta, action, "app", Some(app.id.clone()), Outcome::Success).with_detail(detail);
    event.team_id = Some(app.team_id.clone());
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing an app"))?;
    tx.commit().await.map_err(internal("committing an app"))?;
    state.db.forget_catalog();
    Ok(())
}

/// Why an `[[app]]` table could not be applied (names the table).
#[derive(Debug, thiserror::Error)]
#[error("[[app]] {slug:?}: {error}")]
pub struct ConfigAppError {
    pub slug: String,
    pub error: AppError,
}

/// Applies the configuration's `[[app]]` tables: creates or updates each
/// (idempotently: unchanged apps are not written or audited again) and
/// marks it managed by configuration; apps the file no longer names are
/// released to the UI. Repositories are not probed here, so a portal starts
/// even while a repository is unreachable; the environments then fail with
/// git's reason.
pub async fn apply_config(
    db: &Db,
    key: &super::secrets::SecretKey,
    inputs: &[AppInput],
) -> Result<usize, ConfigAppError> {
    let fail = |slug: &str| {
        let slug = slug.to_string();
        move |error: AppError| ConfigAppError { slug: slug.clone(), error }
    };
    let mut written = 0;
    let mut named = vec![];
    for input in inputs {
        let f = fail(&input.slug);
        let Some(team) = store::teams::find_by_slug(db.pool(), input.team.trim())
            .await
            .map_err(|e| f(internal("finding a team")(e)))?
        else {
            // The team may be created in the browser after the first start.
            tracing::warn!(app = %input.slug, team = %input.team, "[[app]] names a team that does not exist yet; skipped until a restart after it is created");
            continue;
        };
        let slug = check_slug(&input.slug).map_err(&f)?;
        let name = check_name(&input.name).map_err(&f)?;
        let repo = check_repository(&input.repository).map_err(&f)?;
        let branch = check_branch(input.default_branch.as_deref().unwrap_or("main")).map_err(&f)?;
        let mut blueprint = check_blueprint(input.blueprint.clone()).map_err(&f)?;
        let secrets = std::mem::take(&mut blueprint.secrets);
        let existing = store::apps::find_in_team(db.pool(), &team.id, &slug)
            .await
            .map_err(|e| f(internal("finding an app")(e)))?;
        named.push(existing.as_ref().map(|a| a.id.clone()));
        let now = now_ms();
        let stored = blueprint.to_stored_json();
        // Secrets from the file replace the stored set; unchanged values keep their seal.
        let old: BTreeMap<String, String> =
            existing.as_ref().and_then(|a| serde_json::from_str(&a.secrets).ok()).unwrap_or_default();
        let mut sealed = BTreeMap::new();
        for (n, v) in &secrets {
            let Some(v) = v else { continue };
            let keep = old.get(n).filter(|s| key.open(n, s).as_deref() == Ok(v.as_str()));
            sealed.insert(n.clone(), keep.cloned().unwrap_or_else(|| key.seal(n, v)));
        }
        let sealed = serde_json::to_string(&sealed).unwrap_or_else(|_| "{}".into());
        let app = match &existing {
            Some(a) => App {
                name: name.clone(),
                repo_url: Some(repo.url.clone()),
                default_branch: branch.clone(),
                blueprint: stored.clone(),
                secrets: sealed.clone(),
                managed_by_config: true,
                updated_at: Some(now),
                ..a.clone()
            },
            None => App {
                id: new_id(),
                team_id: team.id.clone(),
                slug: slug.clone(),
                name,
                repo_url: Some(repo.url),
                default_branch: branch,
                blueprint: stored,
                secrets: sealed,
                managed_by_config: true,
                archived_at: None,
                template_generation: 0,
                created_at: now,
                updated_at: Some(now),
            },
        };
        let unchanged = existing.as_ref().is_some_and(|a| App { updated_at: a.updated_at, ..app.clone() } == *a);
        if unchanged {
            continue;
        }
        let mut tx = db.pool().begin().await.map_err(|e| f(internal("starting a transaction")(e)))?;
        if existing.is_some() {
            store::apps::update(&mut *tx, &app).await.map_err(|e| f(internal("writing an app")(e)))?;
        } else {
            store::apps::insert(&mut *tx, &app).await.map_err(|e| f(internal("registering an app")(e)))?;
        }
        let mut event = AuditEvent::system("app.configured", Some(app.id.clone()), Some(app.team_id.clone()))
            .with_detail(serde_json::json!({ "slug": app.slug, "created": existing.is_none(),
                "secrets": secrets.keys().collect::<Vec<_>>() }));
        event.target_kind = "app".into();
        store::audit::append(&mut *tx, &event).await.map_err(|e| f(internal("auditing an app")(e)))?;
        tx.commit().await.map_err(|e| f(internal("committing an app")(e)))?;
        db.forget_catalog();
        if existing.is_none() {
            named.pop();
            named.push(Some(app.id.clone()));
        }
        written += 1;
    }
    // Apps the file no longer names become editable in the UI again.
    let named: Vec<String> = named.into_iter().flatten().collect();
    let all = store::apps::list(db.pool()).await.map_err(|e| fail("")(internal("listing apps")(e)))?;
    for mut app in all.into_iter().filter(|a| a.managed_by_config && !named.contains(&a.id)) {
        app.managed_by_config = false;
        app.updated_at = Some(now_ms());
        let mut tx = db.pool().begin().await.map_err(|e| fail(&app.slug)(internal("starting a transaction")(e)))?;
        store::apps::update(&mut *tx, &app).await.map_err(|e| fail(&app.slug)(internal("writing an app")(e)))?;
        let mut event = AuditEvent::system("app.released", Some(app.id.clone()), Some(app.team_id.clone()))
            .with_detail(serde_json::json!({ "slug": app.slug }));
        event.target_kind = "app".into();
        store::audit::append(&mut *tx, &event).await.map_err(|e| fail(&app.slug)(internal("auditing an app")(e)))?;
        tx.commit().await.map_err(|e| fail(&app.slug)(internal("committing an app")(e)))?;
        db.forget_catalog();
        written += 1;
    }
    Ok(written)
}
