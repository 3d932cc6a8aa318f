//! The one error type of the portal. Server functions return it typed (it
//! crosses the wire as JSON); the server maps it to an HTTP status in exactly
//! one place (`AppError::status`). Internal causes are logged on the server
//! and never sent to the browser.

use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("please sign in")]
    Unauthorized,
    #[error("you are not allowed to do that")]
    Forbidden,
    /// Forbidden by a named rule the caller should read (a tier's destroy
    /// rule, an approval you asked for yourself).
    #[error("{0}")]
    Refused(String),
    #[error("not found")]
    NotFound,
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    Conflict(String),
    /// Too many failed attempts from one address (sign-ins, tokens).
    #[error("too many failed attempts from your address; try again in a minute")]
    TooMany,
    #[error("something went wrong on our side; it has been logged")]
    Internal,
    #[error("request failed: {0}")]
    Transport(String),
    /// The request itself could not be read: its body is not JSON (400),
    /// too large (413) or of another content type (415).
    #[error("{message}")]
    Unreadable { status: u16, message: String },
}

impl AppError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Invalid { field: field.into(), message: message.into() }
    }

    /// The HTTP status for this error, used by every transport.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Unauthorized => 401,
            AppError::Forbidden | AppError::Refused(_) => 403,
            AppError::NotFound => 404,
            AppError::Invalid { .. } => 422,
            AppError::Conflict(_) => 409,
            AppError::TooMany => 429,
            AppError::Internal => 500,
            AppError::Transport(_) => 502,
            AppError::Unreadable { status, .. } => *status,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => AppError::invalid("arguments", m),
            other => AppError::Transport(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_a_client_or_server_status() {
        assert_eq!(AppError::Unauthorized.status(), 401);
        assert_eq!(AppError::Forbidden.status(), 403);
        assert_eq!(AppError::NotFound.status(), 404);
        assert_eq!(AppError::invalid("tier", "unknown").status(), 422);
        assert_eq!(AppError::Conflict("taken".into()).status(), 409);
        assert_eq!(AppError::Internal.status(), 500);
        assert_eq!(AppError::Unreadable { status: 415, message: "not JSON".into() }.status(), 415);
    }

    #[test]
    fn internal_errors_say_nothing_about_the_cause() {
        assert!(!AppError::Internal.to_string().contains("sql"));
    }
}
