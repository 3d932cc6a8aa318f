use super::Exec;

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Resource {
    pub id: String,
    pub environment_id: String,
    pub kind: String,
    pub name: String,
    pub driver: String,
    pub state: String,
    pub hourly_rate_micros: i64,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
}

pub async fn insert<'c>(ex: impl Exec<'c>, r: &Resource) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO resources (id, environment_id, kind, name, driver, state, hourly_rate_micros, started_at, ended_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&r.id)
    .bind(&r.environment_id)
    .bind(&r.kind)
    .bind(&r.name)
    .bind(&r.driver)
    .bind(&r.state)
    .bind(r.hourly_rate_micros)
    .bind(r.started_at)
    .bind(r.ended_at)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn for_environment<'c>(ex: impl Exec<'c>, environment_id: &str) -> sqlx::Result<Vec<Resource>> {
    sqlx::query_as(
        "SELECT id, environment_id, kind, name, driver, state, hourly_rate_micros, started_at, ended_at
         FROM resources WHERE environment_id = $1 ORDER BY kind",
    )
    .bind(environment_id)
    .fetch_all(ex)
    .await
}
