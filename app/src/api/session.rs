use crate::domain::access::Viewer;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Who is signed in, or `None`.
#[server(prefix = "/api/fn", endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Viewer>, AppError> {
    Ok(crate::ssr::context::request_meta().viewer)
}

/// A user the demo sign-in offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoUser {
    pub login: String,
    pub display_name: String,
    pub roles: String,
}

/// What the sign-in page offers: demo users (only with `EOD_DEMO=1`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInChoices {
    /// Identity providers as (id, label); each signs in at `/auth/<id>/start`.
    pub providers: Vec<(String, String)>,
    pub demo_users: Vec<DemoUser>,
}

#[server(prefix = "/api/fn", endpoint = "sign_in_options")]
pub async fn sign_in_options() -> Result<SignInChoices, AppError> {
    crate::ssr::with_status(sign_in_options_inner().await)
}

#[cfg(feature = "ssr")]
async fn sign_in_options_inner() -> Result<SignInChoices, AppError> {
    use crate::ssr::{context::app_state, demo::DEMO_ISSUER, internal, store};
    let state = app_state()?;
    let mut demo_users = Vec::new();
    if state.settings.demo {
        let pool = state.db.pool();
        for user in store::users::list_by_issuer(pool, DEMO_ISSUER).await.map_err(internal("listing demo users"))? {
            let viewer = store::users::viewer(pool, &user.id).await.map_err(internal("loading demo user"))?;
            let roles = viewer.map(|v| v.roles_summary()).unwrap_or_default();
            demo_users.push(DemoUser { login: user.login, display_name: user.display_name, roles });
        }
    }
    Ok(SignInChoices { providers: state.settings.sign_in_providers.clone(), demo_users })
}
