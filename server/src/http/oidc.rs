//! Sign-in with GitHub (OAuth 2.0), GitLab and any OpenID Connect provider:
//! authorization code flow with PKCE (S256) and `state`, plus `nonce` and
//! full ID-token validation (signature, exact issuer, audience, expiry,
//! nonce) for OIDC. The pending attempt lives in the browser's session, is
//! single-use and expires (10 minutes by default). The HTTP client used for
//! discovery and code exchange follows no redirects.

use super::auth::{error_page, start_session};
use crate::identity::{Provider, ProviderKind};
use app::ssr::accounts::{self, ExternalIdentity};
use app::ssr::clock::now_ms;
use app::ssr::{AppState, RequestMeta};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine as _;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    reqwest, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use tokio::sync::Mutex;
use tower_sessions::Session;

const PENDING_KEY: &str = "oauth_pending";
/// How long a provider's discovery document and keys are trusted before
/// they are fetched again.
const DISCOVERY_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// The configured providers and what is cached about them.
pub struct Identity {
    providers: Vec<Provider>,
    http: reqwest::Client,
    /// Discovery documents (with their signing keys) and when they were fetched.
    discovered: Mutex<HashMap<String, (CoreProviderMetadata, std::time::Instant)>>,
    public_origin: String,
}

impl Identity {
    pub fn new(providers: Vec<Provider>, public_origin: String) -> Result<Identity, reqwest::Error> {
        let http = reqwest::ClientBuilder::new()
            // Following redirects would let a compromised endpoint bounce the
            // code exchange (and our client secret) elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .user_agent("eod-portal")
            .build()?;
        Ok(Identity { providers, http, discovered: Mutex::new(HashMap::new()), public_origin })
    }

    fn provider(&self, id: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.id == id)
    }

    fn redirect_url(&self, p: &Provider) -> String {
        format!("{}/auth/{}/callback", self.public_origin, p.id)
    }

    /// Discovery (the document and its signing keys), cached for
    /// `DISCOVERY_TTL`, so rotated keys are picked up without a restart;
    /// `fresh` fetches it now (an ID token signed by a key not yet seen).
    /// `discover_async` also checks that the document names exactly the
    /// configured issuer.
    async fn metadata(&self, p: &Provider) -> Result<CoreProviderMetadata, String> {
        self.metadata_fresh(p, false).await
    }

    async fn metadata_fresh(&self, p: &Provider, fresh: bool) -> Result<CoreProviderMetadata, String> {
        if let Some((m, at)) = self.discovered.lock().await.get(&p.id) {
            if !fresh && at.elapsed() < DISCOVERY_TTL {
                return Ok(m.clone());
            }
        }
        let issuer = IssuerUrl::new(p.issuer.clone()).map_err(|e| format!("issuer URL: {e}"))?;
        let m = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| format!("discovery failed: {}", chain(&e)))?;
        self.discovered.lock().await.insert(p.id.clone(), (m.clone(), std::time::Instant::now()));
        Ok(m)
    }

    fn oidc_client(&self, p: &Provider, m: CoreProviderMetadata) -> Result<OidcClient, String> {
        Ok(CoreClient::from_provider_metadata(
            m,
            ClientId::new(p.client_id.clone()),
            Some(ClientSecret::new(p.client_secret.clone())),
        )
        .set_redirect_uri(RedirectUrl::new(self.redirect_url(p)).map_err(|e| e.to_string())?))
    }

    fn github_client(&self, p: &Provider) -> Result<GithubClient, String> {
        Ok(oauth2::basic::BasicClient::new(ClientId::new(p.client_id.clone()))
            .set_client_secret(ClientSecret::new(p.client_secret.clone()))
            .set_auth_uri(AuthUrl::new("https://github.com/login/oauth/authorize".into()).map_err(|e| e.to_string())?)
            .set_token_uri(
                TokenUrl::new("https://github.com/login/oauth/access_token".into()).map_err(|e| e.to_string())?,
            )
            .set_redirect_uri(RedirectUrl::new(self.redirect_url(p)).map_err(|e| e.to_string())?))
    }
}

type OidcClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;
type GithubClient = oauth2::basic::BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

/// A started sign-in, kept in the browser's session until its callback.
#[derive(Serialize, Deserialize)]
struct Pending {
    provider: String,
    state: String,
    pkce_verifier: String,
    nonce: String,
    started_at: i64,
}

pub fn router(identity: Arc<Identity>) -> Router<AppState> {
    Router::new()
        .route("/auth/{provider}/start", get(start))
        .route("/auth/{provider}/callback", get(callback))
        .layer(Extension(identity))
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

async fn refuse(state: &AppState, meta: &RequestMeta, provider: &str, status: StatusCode, reason: &str) -> Response {
    if !super::throttle::FAILURES.allow_failure_from(meta.ip.as_deref()) {
        return super::throttle::too_many();
    }
    accounts::audit_failed_sign_in(&state.db, meta, provider, reason).await;
    tracing::info!(provider, reason, "sign-in refused");
    error_page(status, reason)
}

async fn start(
    State(state): State<AppState>,
    Extension(identity): Extension<Arc<Identity>>,
    Extension(meta): Extension<RequestMeta>,
    Path(provider_id): Path<String>,
    session: Session,
) -> Response {
    let Some(p) = identity.provider(&provider_id) else {
        return error_page(StatusCode::NOT_FOUND, "There is no such sign-in provider.");
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let csrf = CsrfToken::new_random();
    let nonce = Nonce::new_random();
    let scopes = p.scopes.iter().map(|s| Scope::new(s.clone()));
    let url = match p.kind {
        ProviderKind::Oidc | ProviderKind::Gitlab => {
            let client = match identity.metadata(p).await.and_then(|m| identity.oidc_client(p, m)) {
                Ok(c) => c,
                Err(reason) => {
                    let msg = format!("The sign-in provider is unavailable or misconfigured ({reason}).");
                    return refuse(&state, &meta, &p.id, StatusCode::BAD_GATEWAY, &msg).await;
                }
            };
            let (csrf2, nonce2) = (csrf.clone(), nonce.clone());
            let (url, _, _) = client
                .authorize_url(CoreAuthenticationFlow::AuthorizationCode, move || csrf2, move || nonce2)
                .add_scopes(scopes.filter(|s| s.as_str() != "openid"))
                .set_pkce_challenge(challenge)
                .url();
            url
        }
        ProviderKind::Github => match identity.github_client(p) {
            Ok(client) => {
                let csrf2 = csrf.clone();
                client.authorize_url(move || csrf2).add_scopes(scopes).set_pkce_challenge(challenge).url().0
            }
            Err(reason) => return refuse(&state, &meta, &p.id, StatusCode::BAD_GATEWAY, &reason).await,
        },
    };
    let pending = Pending {
        provider: p.id.clone(),
        state: csrf.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        nonce: nonce.secret().clone(),
        started_at: now_ms(),
    };
    if let Err(err) = session.insert(PENDING_KEY, &pending).await {
        tracing::error!(error = %err, "storing a pending sign-in");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    Redirect::to(url.as_str()).into_response()
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    Extension(identity): Extension<Arc<Identity>>,
    Extension(meta): Extension<RequestMeta>,
    Path(provider_id): Path<String>,
    Query(query): Query<CallbackQuery>,
    session: Session,
) -> Response {
    let bad = StatusCode::BAD_REQUEST;
    let Some(p) = identity.provider(&provider_id) else {
        return error_page(StatusCode::NOT_FOUND, "There is no such sign-in provider.");
    };
    // Single use: whatever happens next, this attempt is consumed.
    let pending = match session.remove::<Pending>(PENDING_KEY).await {
        Ok(p) => p,
        Err(err) => {
            tracing::warn!(error = %err, "unreadable pending sign-in");
            None
        }
    };
    if let Some(error) = query.error {
        let reason = format!("The provider refused the sign-in ({}).", error.chars().take(100).collect::<String>());
        return refuse(&state, &meta, &p.id, bad, &reason).await;
    }
    let Some(pending) = pending else {
        let reason = "No sign-in is in progress in this browser (it may have been used already). Please start again.";
        return refuse(&state, &meta, &p.id, bad, reason).await;
    };
    if pending.provider != p.id {
        return refuse(&state, &meta, &p.id, bad, "This sign-in was started with another provider.").await;
    }
    if now_ms() - pending.started_at > p.attempt_ttl_ms {
        return refuse(&state, &meta, &p.id, bad, "This sign-in attempt expired. Please start again.").await;
    }
    let state_ok: bool = query.state.as_deref().unwrap_or("").as_bytes().ct_eq(pending.state.as_bytes()).into();
    if !state_ok {
        return refuse(
            &state,
            &meta,
            &p.id,
            bad,
            "The sign-in response does not match this browser's attempt (state mismatch).",
        )
        .await;
    }
    let Some(code) = query.code.filter(|c| !c.is_empty()) else {
        return refuse(&state, &meta, &p.id, bad, "The provider sent no authorization code.").await;
    };
    let identity_result = match p.kind {
        ProviderKind::Oidc | ProviderKind::Gitlab => oidc_identity(&identity, p, code, &pending).await,
        ProviderKind::Github => github_identity(&identity, p, code, &pending).await,
    };
    let external = match identity_result {
        Ok(i) => i,
        Err(reason) => return refuse(&state, &meta, &p.id, bad, &format!("Sign-in failed: {reason}.")).await,
    };
    let user = match accounts::sign_in_external(&state.db, &meta, &external, &p.groups).await {
        Ok(u) => u,
        Err(err) => {
            return error_page(
                StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                &err.to_string(),
            )
        }
    };
    if let Err(err) = start_session(&session, &user.id).await {
        tracing::error!(error = %err, "writing the session");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    super::auth::after_sign_in(&session).await.into_response()
}

async fn oidc_identity(
    identity: &Identity,
    p: &Provider,
    code: String,
    pending: &Pending,
) -> Result<ExternalIdentity, String> {
    let client = identity.oidc_client(p, identity.metadata(p).await?)?;
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| format!("provider has no token endpoint ({e})"))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
        .request_async(&identity.http)
        .await
        .map_err(|e| format!("the code exchange was refused ({})", chain(&e)))?;
    let id_token = token.id_token().ok_or("the provider returned no ID token")?;
    let nonce = Nonce::new(pending.nonce.clone());
    let verifier = client.id_token_verifier();
    let checked = id_token.claims(&verifier, &nonce).cloned();
    let claims = match checked {
        Ok(claims) => claims,
        // Signed with a key we have not fetched yet (the provider rotated
        // its keys): discover again, once, and check with the new keys.
        Err(openidconnect::ClaimsVerificationError::SignatureVerification(_)) => {
            let rotated = identity.oidc_client(p, identity.metadata_fresh(p, true).await?)?;
            let verifier = rotated.id_token_verifier();
            id_token.claims(&verifier, &nonce).cloned().map_err(|e| format!("the ID token is invalid ({e})"))?
        }
        Err(e) => return Err(format!("the ID token is invalid ({e})")),
    };
    // Verified above; read the provider-specific groups claim from the same payload.
    let groups = id_token
        .to_string()
        .split('.')
        .nth(1)
        .and_then(|b| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(b).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|v| v.get(&p.groups_claim).cloned())
        .and_then(|g| serde_json::from_value::<Vec<String>>(g).ok())
        .unwrap_or_default();
    let subject = claims.subject().as_str().to_string();
    let login_hint = claims
        .preferred_username()
        .map(|u| u.as_str().to_string())
        .or_else(|| claims.email().map(|e| e.as_str().split('@').next().unwrap_or("").to_string()))
        .unwrap_or_else(|| subject.clone());
    let display_name =
        claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_string()).unwrap_or_else(|| login_hint.clone());
    Ok(ExternalIdentity {
        provider: p.id.clone(),
        issuer: claims.issuer().as_str().to_string(),
        subject,
        login_hint,
        display_name,
        email: claims.email().map(|e| e.as_str().to_string()),
        groups,
    })
}

#[derive(Deserialize)]
struct GithubUser {
    id: u64,
    login: String,
    name: Option<String>,
    email: Option<String>,
}

async fn github_identity(
    identity: &Identity,
    p: &Provider,
    code: String,
    pending: &Pending,
) -> Result<ExternalIdentity, String> {
    let token = identity
        .github_client(p)?
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
        .request_async(&identity.http)
        .await
        .map_err(|e| format!("the code exchange was refused ({})", chain(&e)))?;
    let res = identity
        .http
        .get("https://api.github.com/user")
        .bearer_auth(token.access_token().secret())
        .header("Accept", "application/vnd.github+json")
        .send()
        .await
        .map_err(|e| format!("could not read the GitHub user ({e})"))?;
    if !res.status().is_success() {
        return Err(format!("GitHub answered {} for the user", res.status()));
    }
    let bytes = res.bytes().await.map_err(|e| e.to_string())?;
    let user: GithubUser = serde_json::from_slice(&bytes).map_err(|e| format!("unexpected GitHub user ({e})"))?;
    Ok(ExternalIdentity {
        provider: p.id.clone(),
        issuer: p.issuer.clone(),
        subject: user.id.to_string(),
        display_name: user.name.unwrap_or_else(|| user.login.clone()),
        login_hint: user.login,
        email: user.email,
        groups: vec![],
    })
}
