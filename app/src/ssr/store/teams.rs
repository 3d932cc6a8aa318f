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
