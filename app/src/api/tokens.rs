use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenList {
    pub now: i64,
    pub tokens: Vec<TokenRow>,
}

/// A freshly minted token: `secret` is the full token, shown exactly once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MintedToken {
    pub row: TokenRow,
    pub secret: String,
}

#[cfg(feature = "ssr")]
impl From<crate::ssr::store::tokens::ApiToken> for TokenRow {
    fn from(t: crate::ssr::store::tokens::ApiToken) -> Self {
        TokenRow {
            id: t.id,
            name: t.name,
            scopes: t.scopes,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

#[server(prefix = "/api/fn", endpoint = "list_my_tokens")]
pub async fn list_my_tokens() -> Result<TokenList, AppError> {
    crate::ssr::with_status(
        async {
            use crate::domain::authz::Action;
            use crate::ssr::{authz, clock::now_ms, context::*, internal, store};
            let (state, meta) = (app_state()?, request_meta());
            let viewer = authz::require(&state, &meta, Action::ManageOwnTokens, None).await?;
            let tokens = store::tokens::list_for_user(state.db.pool(), &viewer.user_id)
                .await
                .map_err(internal("listing tokens"))?;
            Ok(TokenList { now: now_ms(), tokens: tokens.into_iter().map(TokenRow::from).collect() })
        }
        .await,
    )
}

#[server(prefix = "/api/fn", endpoint = "create_token", input = server_fn::codec::Json)]
pub async fn create_token(name: String, scopes: Vec<String>, expires_in_days: u32) -> Result<MintedToken, AppError> {
    crate::ssr::with_status(
        async {
            use crate::domain::authz::Action;
            use crate::domain::token::Scope;
            use crate::ssr::{authz, context::*, tokens};
            let (state, meta) = (app_state()?, request_meta());
            let viewer = authz::require(&state, &meta, Action::ManageOwnTokens, None).await?;
            let scopes = scopes
                .iter()
                .map(|s| s.parse::<Scope>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| AppError::invalid("scopes", e))?;
            let (row, secret) =
                tokens::create(&state.db, &meta, &viewer, tokens::NewToken { name, scopes, expires_in_days }).await?;
            Ok(MintedToken { row: row.into(), secret })
        }
        .await,
    )
}

#[server(prefix = "/api/fn", endpoint = "revoke_token")]
pub async fn revoke_token(id: String) -> Result<(), AppError> {
    crate::ssr::with_status(
        async {
            use crate::domain::authz::Action;
            use crate::ssr::{authz, context::*, tokens};
            let (state, meta) = (app_state()?, request_meta());
            let viewer = authz::require(&state, &meta, Action::ManageOwnTokens, None).await?;
            tokens::revoke(&state.db, &meta, &viewer, &id).await
        }
        .await,
    )
}
