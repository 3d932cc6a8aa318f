//! `Idempotency-Key`s of creates: who sent the key, what it asked, and the
//! environment it made.

use super::Exec;

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Used {
    pub request: String,
    pub environment_id: String,
    /// 1 when the first answer was an environment that existed already.
    pub existing: i64,
}

/// The key's use by `user_id` since `since` (ms), if any.
pub async fn find<'c>(ex: impl Exec<'c>, user_id: &str, key: &str, since: i64) -> sqlx::Result<Option<Used>> {
    sqlx::query_as(
        "SELECT request, environment_id, existing FROM idempotency_keys
         WHERE user_id = $1 AND key = $2 AND created_at >= $3",
    )
    .bind(user_id)
    .bind(key)
    .bind(since)
    .fetch_optional(ex)
    .await
}

/// Records a key's first use. Uses older than `expired_before` (this key's
/// too) are purged on the way: nothing reads them again.
pub async fn record(
    conn: &mut sqlx::AnyConnection,
    (user_id, key, request): (&str, &str, &str),
    (environment_id, existing): (&str, bool),
    now: i64,
    expired_before: i64,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1 OR (user_id = $2 AND key = $3)")
        .bind(expired_before)
        .bind(user_id)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, request, environment_id, existing, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user_id)
    .bind(key)
    .bind(request)
    .bind(environment_id)
    .bind(i64::from(existing))
    .bind(now)
    .execute(&mut *conn)
    .await
    .map(|_| ())
}
