//! One-time codes, share links and preview sessions (migration 0012). Only
//! hashes of codes and tokens are stored.

use super::Exec;

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct ShareLink {
    pub id: String,
    pub environment_id: String,
    pub note: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub revoked_by: Option<String>,
}

pub async fn insert_code<'c>(
    ex: impl Exec<'c>,
    code_hash: &str,
    environment_id: &str,
    user_id: &str,
    next_path: &str,
    (now, expires_at): (i64, i64),
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO preview_codes (code_hash, environment_id, user_id, next_path, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(code_hash)
    .bind(environment_id)
    .bind(user_id)
    .bind(next_path)
    .bind(now)
    .bind(expires_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// Uses a code once: its user and where it led, if it was unused, unexpired
/// and issued for `environment_id`.
pub async fn redeem_code<'c>(
    ex: impl Exec<'c>,
    code_hash: &str,
    environment_id: &str,
    now: i64,
) -> sqlx::Result<Option<(String, String)>> {
    sqlx::query_as(
        "UPDATE preview_codes SET used_at = $3
         WHERE code_hash = $1 AND environment_id = $2 AND used_at IS NULL AND expires_at > $3
         RETURNING user_id, next_path",
    )
    .bind(code_hash)
    .bind(environment_id)
    .bind(now)
    .fetch_optional(ex)
    .await
}

/// Who a preview session is for: a user or a share link (exactly one).
pub enum Holder<'a> {
    User(&'a str),
    ShareLink(&'a str),
}

pub async fn insert_session<'c>(
    ex: impl Exec<'c>,
    token_hash: &str,
    environment_id: &str,
    holder: Holder<'_>,
    (now, expires_at): (i64, i64),
) -> sqlx::Result<()> {
    let (user, link) = match holder {
        Holder::User(u) => (Some(u), None),
        Holder::ShareLink(l) => (None, Some(l)),
    };
    sqlx::query(
        "INSERT INTO preview_sessions (token_hash, environment_id, user_id, share_link_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash)
    .bind(environment_id)
    .bind(user)
    .bind(link)
    .bind(now)
    .bind(expires_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// Whether a preview session still admits its holder to `environment_id`:
/// unexpired, its user not disabled, its share link neither revoked nor
/// expired.
pub async fn session_admits<'c>(
    ex: impl Exec<'c>,
    token_hash: &str,
    environment_id: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM preview_sessions s
         LEFT JOIN users u ON u.id = s.user_id
         LEFT JOIN share_links l ON l.id = s.share_link_id
         WHERE s.token_hash = $1 AND s.environment_id = $2 AND s.expires_at > $3
           AND (s.user_id IS NULL OR u.disabled_at IS NULL)
           AND (s.share_link_id IS NULL OR (l.revoked_at IS NULL AND l.expires_at > $3))",
    )
    .bind(token_hash)
    .bind(environment_id)
    .bind(now)
    .fetch_optional(ex)
    .await?;
    Ok(found.is_some())
}

const LINK_COLUMNS: &str = "id, environment_id, note, created_by, created_at, expires_at, revoked_at, revoked_by";

pub async fn insert_link<'c>(ex: impl Exec<'c>, link: &ShareLink, token_hash: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO share_links (id, environment_id, token_hash, note, created_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&link.id)
    .bind(&link.environment_id)
    .bind(token_hash)
    .bind(&link.note)
    .bind(&link.created_by)
    .bind(link.created_at)
    .bind(link.expires_at)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn links_of<'c>(ex: impl Exec<'c>, environment_id: &str) -> sqlx::Result<Vec<ShareLink>> {
    sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM share_links WHERE environment_id = $1 ORDER BY created_at DESC, id LIMIT 200"
    ))
    .bind(environment_id)
    .fetch_all(ex)
    .await
}

/// A usable link by its token's hash: not revoked, not expired.
pub async fn usable_link<'c>(ex: impl Exec<'c>, token_hash: &str, now: i64) -> sqlx::Result<Option<ShareLink>> {
    sqlx::query_as(&format!(
        "SELECT {LINK_COLUMNS} FROM share_links WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2"
    ))
    .bind(token_hash)
    .bind(now)
    .fetch_optional(ex)
    .await
}

/// Revokes a link of `environment_id`; false if there is no such live link.
pub async fn revoke_link<'c>(
    ex: impl Exec<'c>,
    environment_id: &str,
    id: &str,
    by: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE share_links SET revoked_at = $4, revoked_by = $3
         WHERE id = $2 AND environment_id = $1 AND revoked_at IS NULL",
    )
    .bind(environment_id)
    .bind(id)
    .bind(by)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}
