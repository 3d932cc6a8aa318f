//! Server-only code (feature "ssr"): the database, the store, the services
//! (the one write path) and request context. Nothing here ships to the browser.

pub mod accounts;
pub mod admission;
pub mod approvals;
pub mod apps;
pub mod audit_view;
pub mod authz;
pub mod channels;
pub mod clock;
pub mod compliance;
pub mod context;
pub mod costs;
pub mod db;
pub mod demo;
pub mod deployments;
pub mod environments;
pub mod insights;
pub mod live;
pub mod mail;
pub mod notify;
pub mod pools;
pub mod preview_access;
pub mod pull_requests;
pub mod request_id;
pub mod secrets;
pub mod security;
pub mod store;
pub mod teams;
pub mod tokens;

pub use context::{AppState, PortalSettings, RequestMeta};
pub use db::{Db, Engine};

use crate::error::AppError;

/// Store errors become `Internal` after being logged with context; the cause
/// never reaches the client.
pub fn internal(context: &'static str) -> impl FnOnce(sqlx::Error) -> AppError {
    move |err| {
        tracing::error!(error = %err, "{context}");
        AppError::Internal
    }
}

/// Gives a failing server function the HTTP status of its error (401, 403,
/// 404, 422…) instead of the framework's blanket 500.
pub fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(err) = &result {
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(code) = http::StatusCode::from_u16(err.status()) {
                response.set_status(code);
            }
        }
    }
    result
}
