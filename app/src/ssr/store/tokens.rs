use super::Exec;

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiToken {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub secret_hash: String,
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "id, user_id, name, secret_hash, scopes, created_at, expires_at, last_used_at, revoked_at";

pub async fn insert<'c>(ex: impl Exec<'c>, t: &ApiToken) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO api_tokens (id, user_id, name, secret_hash, scopes, created_at, expires_at, last_used_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&t.id)
    .bind(&t.user_id)
    .bind(&t.name)
    .bind(&t.secret_hash)
    .bind(&t.scopes)
    .bind(t.created_at)
    .bind(t.expires_at)
    .bind(t.last_used_at)
    .bind(t.revoked_at)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn find<'c>(ex: impl Exec<'c>, id: &str) -> sqlx::Result<Option<ApiToken>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_tokens WHERE id = $1")).bind(id).fetch_optional(ex).await
}

pub async fn list_for_user<'c>(ex: impl Exec<'c>, user_id: &str) -> sqlx::Result<Vec<ApiToken>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id"))
        .bind(user_id)
        .fetch_all(ex)
        .await
}

/// Revokes a live token of `user_id`; returns whether one was revoked.
pub async fn revoke<'c>(ex: impl Exec<'c>, id: &str, user_id: &str, now: i64) -> sqlx::Result<bool> {
    let done =
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .bind(user_id)
            .execute(ex)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Records use, at most once a minute per token to keep reads cheap.
pub async fn touch<'c>(ex: impl Exec<'c>, id: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
    )
    .bind(now)
    .bind(id)
    .bind(now - 60_000)
    .execute(ex)
    .await?;
    Ok(())
}
