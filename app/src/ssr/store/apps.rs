use super::{flag, Exec, Flag};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct App {
    pub id: String,
    pub team_id: String,
    pub slug: String,
    pub name: String,
    pub repo_url: Option<String>,
    pub default_branch: String,
    /// The blueprint as stored: JSON without secret values.
    pub blueprint: String,
    /// Sealed secrets: JSON object name -> sealed value (see `ssr::secrets`).
    pub secrets: String,
    #[sqlx(try_from = "Flag")]
    pub managed_by_config: bool,
    pub archived_at: Option<i64>,
    pub template_generation: i64,
    pub created_at: i64,
    pub updated_at: Option<i64>,
}

impl App {
    /// Names of the app's secrets (never their values).
    pub fn secret_names(&self) -> Vec<String> {
        serde_json::from_str::<std::collections::BTreeMap<String, String>>(&self.secrets)
            .map(|m| m.into_keys().collect())
            .unwrap_or_default()
    }
}

const APP_COLUMNS: &str = "id, team_id, slug, name, repo_url, default_branch, blueprint, secrets, managed_by_config, \
                           archived_at, template_generation, created_at, updated_at";

pub async fn insert<'c>(ex: impl Exec<'c>, app: &App) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO apps ({APP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(&app.id)
    .bind(&app.team_id)
    .bind(&app.slug)
    .bind(&app.name)
    .bind(&app.repo_url)
    .bind(&app.default_branch)
    .bind(&app.blueprint)
    .bind(&app.secrets)
    .bind(flag(app.managed_by_config))
    .bind(app.archived_at)
    .bind(app.template_generation)
    .bind(app.created_at)
    .bind(app.updated_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// Writes every editable column of an existing app (by id).
pub async fn update<'c>(ex: impl Exec<'c>, app: &App) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE apps SET name = $2, repo_url = $3, default_branch = $4, blueprint = $5, secrets = $6,
                managed_by_config = $7, archived_at = $8, template_generation = $9, updated_at = $10
         WHERE id = $1",
    )
    .bind(&app.id)
    .bind(&app.name)
    .bind(&app.repo_url)
    .bind(&app.default_branch)
    .bind(&app.blueprint)
    .bind(&app.secrets)
    .bind(flag(app.managed_by_config))
    .bind(app.archived_at)
    .bind(app.template_generation)
    .bind(app.updated_at)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn find<'c>(ex: impl Exec<'c>, id: &str) -> sqlx::Result<Option<App>> {
    sqlx::query_as(&format!("SELECT {APP_COLUMNS} FROM apps WHERE id = $1")).bind(id).fetch_optional(ex).await
}

/// Apps with this slug (one per team at most).
pub async fn find_by_slug<'c>(ex: impl Exec<'c>, slug: &str) -> sqlx::Result<Vec<App>> {
    sqlx::query_as(&format!("SELECT {APP_COLUMNS} FROM apps WHERE slug = $1 ORDER BY team_id"))
        .bind(slug)
        .fetch_all(ex)
        .await
}

pub async fn find_in_team<'c>(ex: impl Exec<'c>, team_id: &str, slug: &str) -> sqlx::Result<Option<App>> {
    sqlx::query_as(&format!("SELECT {APP_COLUMNS} FROM apps WHERE team_id = $1 AND slug = $2"))
        .bind(team_id)
        .bind(slug)
        .fetch_optional(ex)
        .await
}

pub async fn list<'c>(ex: impl Exec<'c>) -> sqlx::Result<Vec<App>> {
    sqlx::query_as(&format!("SELECT {APP_COLUMNS} FROM apps ORDER BY slug, team_id")).fetch_all(ex).await
}
