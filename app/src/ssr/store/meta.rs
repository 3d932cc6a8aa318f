//! Small installation facts, e.g. that demo data was seeded.

use super::Exec;

pub async fn get<'c>(ex: impl Exec<'c>, key: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT value FROM meta WHERE key = $1").bind(key).fetch_optional(ex).await
}

pub async fn set<'c>(ex: impl Exec<'c>, key: &str, value: &str) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2")
        .bind(key)
        .bind(value)
        .execute(ex)
        .await?;
    Ok(())
}
