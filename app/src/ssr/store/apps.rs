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
