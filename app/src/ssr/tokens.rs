//! API tokens: minted at random, shown once, stored as a SHA-256 hash under
//! a public id, compared in constant time, scoped and expiring.

use super::clock::now_ms;
use super::store::{self, audit::AuditEvent, audit::Outcome, tokens::ApiToken};
use super::{internal, Db, RequestMeta};
use crate::domain::access::Viewer;
use crate::domain::time::DAY_MS;
use crate::domain::token::{self, Scope, ID_LEN, MAX_EXPIRY_DAYS, SECRET_LEN};
use crate::error::AppError;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub(crate) fn random_chars(n: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rngs::OsRng;
    (0..n).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

pub(crate) fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// What to mint. Validated by [`create`].
pub struct NewToken {
    pub name: String,
    pub scopes: Vec<Scope>,
    pub expires_in_days: u32,
}

/// Mints a token for the request's viewer (or `for_user` when minted by the
/// CLI), recording it and its audit event in one transaction. Returns the
/// stored row and the plaintext, which is never stored.
pub async fn create(
    db: &Db,
    meta: &RequestMeta,
    owner: &Viewer,
    new: NewToken,
) -> Result<(ApiToken, String), AppError> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(AppError::invalid("name", "give the token a name of 1 to 64 characters"));
    }
    if new.scopes.is_empty() {
        return Err(AppError::invalid("scopes", "choose at least one scope"));
    }
    if new.expires_in_days == 0 || new.expires_in_days > MAX_EXPIRY_DAYS {
        return Err(AppError::invalid("expires_in_days", format!("expiry must be 1 to {MAX_EXPIRY_DAYS} days")));
    }
    let now = now_ms();
    let (id, secret) = (random_chars(ID_LEN), random_chars(SECRET_LEN));
    let row = ApiToken {
        id: id.clone(),
        user_id: owner.user_id.clone(),
        name: name.to_string(),
        secret_hash: hash(&secret),
        scopes: token::join_scopes(&new.scopes),
        created_at: now,
        expires_at: Some(now + i64::from(new.expires_in_days) * DAY_MS),
        last_used_at: None,
        revoked_at: None,
    };
    let event = AuditEvent::from_request(meta, "token.create", "api_token", Some(id.clone()), Outcome::Success)
        .with_detail(serde_json::json!({ "owner": owner.login, "name": row.name, "scopes": row.scopes, "expires_at": row.expires_at }));
    let mut tx = db.pool().begin().await.map_err(internal("starting a transaction"))?;
    store::tokens::insert(&mut *tx, &row).await.map_err(internal("storing a token"))?;
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a token"))?;
    tx.commit().await.map_err(internal("committing a token"))?;
    Ok((row, token::format(&id, &secret)))
}

/// Revokes one of the viewer's own tokens. Someone else's token is NotFound.
pub async fn revoke(db: &Db, meta: &RequestMeta, viewer: &Viewer, id: &str) -> Result<(), AppError> {
    let mut tx = db.pool().begin().await.map_err(internal("starting a transaction"))?;
    if !store::tokens::revoke(&mut *tx, id, &viewer.user_id, now_ms()).await.map_err(internal("revoking a token"))? {
        return Err(AppError::NotFound);
    }
    let event = AuditEvent::from_request(meta, "token.revoke", "api_token", Some(id.to_string()), Outcome::Success);
    store::audit::append(&mut *tx, &event).await.map_err(internal("auditing a revoke"))?;
    tx.commit().await.map_err(internal("committing a revoke"))?;
    Ok(())
}

/// Why a presented token was refused (all are 401 to the caller; the reason
/// goes to the audit trail only).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("malformed token")]
    Malformed,
    #[error("unknown token id")]
    Unknown,
    #[error("wrong secret")]
    WrongSecret,
    #[error("token revoked")]
    Revoked,
    #[error("token expired")]
    Expired,
    #[error("token owner no longer exists")]
    NoOwner,
}

/// A token that passed: its owner and what it may do.
#[derive(Clone, Debug)]
pub struct Authenticated {
    pub token_id: String,
    pub viewer: Viewer,
    pub scopes: Vec<Scope>,
}

/// Checks a presented bearer token. Store errors are `Err(Err(_))`.
pub async fn authenticate(
    db: &Db,
    presented: &str,
) -> Result<Result<Authenticated, (Refused, Option<String>)>, AppError> {
    let Some(parts) = token::parse(presented) else {
        return Ok(Err((Refused::Malformed, None)));
    };
    let pool = db.pool();
    let Some(row) = store::tokens::find(pool, parts.id).await.map_err(internal("finding a token"))? else {
        return Ok(Err((Refused::Unknown, None)));
    };
    let id = Some(row.id.clone());
    let matches: bool = hash(parts.secret).as_bytes().ct_eq(row.secret_hash.as_bytes()).into();
    if !matches {
        return Ok(Err((Refused::WrongSecret, id)));
    }
    let now = now_ms();
    if row.revoked_at.is_some() {
        return Ok(Err((Refused::Revoked, id)));
    }
    if row.expires_at.is_some_and(|at| at <= now) {
        return Ok(Err((Refused::Expired, id)));
    }
    let Some(viewer) = db.viewer(&row.user_id).await.map_err(internal("loading a token owner"))? else {
        return Ok(Err((Refused::NoOwner, id)));
    };
    // Last use is kept to the minute: no write on most requests.
    if row.last_used_at.is_none_or(|at| at < now - 60_000) {
        store::tokens::touch(pool, &row.id, now).await.map_err(internal("recording token use"))?;
    }
    let scopes = token::parse_scopes(&row.scopes).map_err(|e| {
        tracing::error!(error = %e, token = %row.id, "stored scopes unreadable");
        AppError::Internal
    })?;
    Ok(Ok(Authenticated { token_id: row.id, viewer, scopes }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_hash_to_hex_sha256() {
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn minted_parts_have_the_token_shape() {
        let t = token::format(&random_chars(ID_LEN), &random_chars(SECRET_LEN));
        assert!(token::parse(&t).is_some(), "{t}");
    }
}
