use super::Exec;

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Team {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub created_at: i64,
}

pub async fn insert<'c>(ex: impl Exec<'c>, team: &Team) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO teams (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&team.id)
        .bind(&team.slug)
        .bind(&team.name)
        .bind(team.created_at)
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn list<'c>(ex: impl Exec<'c>) -> sqlx::Result<Vec<Team>> {
    sqlx::query_as("SELECT id, slug, name, created_at FROM teams ORDER BY slug").fetch_all(ex).await
}

pub async fn find_by_slug<'c>(ex: impl Exec<'c>, slug: &str) -> sqlx::Result<Option<Team>> {
    sqlx::query_as("SELECT id, slug, name, created_at FROM teams WHERE slug = $1").bind(slug).fetch_optional(ex).await
}

pub async fn find<'c>(ex: impl Exec<'c>, id: &str) -> sqlx::Result<Option<Team>> {
    sqlx::query_as("SELECT id, slug, name, created_at FROM teams WHERE id = $1").bind(id).fetch_optional(ex).await
}

/// (team id, login, display name, role) for every membership, by team then login.
pub async fn all_members<'c>(ex: impl Exec<'c>) -> sqlx::Result<Vec<(String, String, String, String)>> {
    sqlx::query_as(
        "SELECT m.team_id, u.login, u.display_name, m.role FROM memberships m JOIN users u ON u.id = m.user_id
         ORDER BY m.team_id, u.login",
    )
    .fetch_all(ex)
    .await
}
