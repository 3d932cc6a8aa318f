use super::Exec;

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct App {
    pub id: String,
    pub team_id: String,
    pub slug: String,
    pub name: String,
    pub repo_url: Option<String>,
    pub blueprint: String,
    pub created_at: i64,
}

pub async fn insert<'c>(ex: impl Exec<'c>, app: &App) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO apps (id, team_id, slug, name, repo_url, blueprint, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&app.id)
    .bind(&app.team_id)
    .bind(&app.slug)
    .bind(&app.name)
    .bind(&app.repo_url)
    .bind(&app.blueprint)
    .bind(app.created_at)
    .execute(ex)
    .await?;
    Ok(())
}

const APP_COLUMNS: &str = "id, team_id, slug, name, repo_url, blueprint, created_at";

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

pub async fn list<'c>(ex: impl Exec<'c>) -> sqlx::Result<Vec<App>> {
    sqlx::query_as(&format!("SELECT {APP_COLUMNS} FROM apps ORDER BY slug, team_id")).fetch_all(ex).await
}
