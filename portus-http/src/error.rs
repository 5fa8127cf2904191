//! HTTP errors in the registry's JSON error format: `{"errors":[{"code","message","detail"}]}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portus_core::ErrorKind;
use serde::Serialize;

/// An error answer: status, registry-style error code, human message, optional challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code (`UNAUTHORIZED`, `INVALID_REQUEST`, ...).
    pub code: &'static str,
    /// What went wrong, for humans. Never contains secrets.
    pub message: String,
    /// Whether to send `WWW-Authenticate: Basic` (for 401 answers).
    pub basic_challenge: bool,
}

impl ApiError {
    /// A 400 `INVALID_REQUEST` error.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "INVALID_REQUEST",
            message: message.into(),
            basic_challenge: false,
        }
    }

    /// A 401 `UNAUTHORIZED` error with a Basic challenge.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "UNAUTHORIZED",
            message: message.into(),
            basic_challenge: true,
        }
    }

    /// A 409 `CONFLICT` error.
    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::CONFLICT,
            code: "CONFLICT",
            message: message.into(),
            basic_challenge: false,
        }
    }

    /// A 404 `NOT_FOUND` error.
    pub fn not_found() -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "NOT_FOUND",
            message: "no such endpoint".into(),
            basic_challenge: false,
        }
    }
}

impl From<portus_auth::Error> for ApiError {
    fn from(error: portus_auth::Error) -> Self {
        use portus_auth::Error as E;
        match error {
            E::InvalidCredentials => ApiError::unauthorized("invalid username or password"),
            E::InvalidRefreshToken => ApiError::unauthorized("invalid or revoked refresh token"),
            E::NotLinked => ApiError::unauthorized(E::NotLinked.to_string()),
            E::InvalidRequest(message) => ApiError::bad_request(message),
            E::Core(core) => match core.kind() {
                ErrorKind::Invalid => ApiError::bad_request(core.to_string()),
                ErrorKind::Conflict => ApiError::conflict(core.to_string()),
                ErrorKind::Rule => ApiError {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    code: "INVALID_REQUEST",
                    message: core.to_string(),
                    basic_challenge: false,
                },
                ErrorKind::NotFound => ApiError {
                    status: StatusCode::NOT_FOUND,
                    code: "NOT_FOUND",
                    message: core.to_string(),
                    basic_challenge: false,
                },
                ErrorKind::Unavailable => {
                    tracing::warn!(error = %core, source = ?std::error::Error::source(&core), "backend unavailable");
                    ApiError {
                        status: StatusCode::SERVICE_UNAVAILABLE,
                        code: "UNAVAILABLE",
                        message: "the authorization backend is temporarily unavailable, try again".into(),
                        basic_challenge: false,
                    }
                }
                _ => internal(&core),
            },
            other => internal(&other),
        }
    }
}

impl From<portus_core::Error> for ApiError {
    fn from(error: portus_core::Error) -> Self {
        portus_auth::Error::Core(error).into()
    }
}

impl From<portus_scan::Error> for ApiError {
    fn from(error: portus_scan::Error) -> Self {
        match error {
            portus_scan::Error::InvalidNotification(message) => ApiError::bad_request(message),
            portus_scan::Error::Core(core) => portus_auth::Error::Core(core).into(),
            // A sealing failure (randomness, a key that does not open): never the secret.
            portus_scan::Error::Webhook(_) => internal(&error),
            portus_scan::Error::InvalidWebhook(message) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "INVALID_REQUEST",
                message,
                basic_challenge: false,
            },
            other if other.is_temporary() => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "UNAVAILABLE",
                message: "temporarily unavailable, try again".into(),
                basic_challenge: false,
            },
            other => internal(&other),
        }
    }
}

fn internal(error: &dyn std::error::Error) -> ApiError {
    tracing::error!(error = %error, source = ?error.source(), "internal error");
    ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "INTERNAL_ERROR",
        message: "internal error".into(),
        basic_challenge: false,
    }
}

/// The body of every error answer, in the registry's format (what the OpenAPI document calls
/// `Errors`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Errors {
    /// One entry (portus never answers several).
    errors: Vec<ErrorEntry>,
}

/// One error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorEntry {
    /// Machine-readable code: `UNAUTHORIZED`, `DENIED`, `NOT_FOUND`, `INVALID_REQUEST`,
    /// `CONFLICT`, `SIZE_INVALID`, `UNSUPPORTED`, `UNAVAILABLE`, ...
    code: String,
    /// What went wrong, for humans.
    message: String,
    /// Always null (the registry's format has it).
    detail: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Errors {
            errors: vec![ErrorEntry {
                code: self.code.to_owned(),
                message: self.message,
                detail: None,
            }],
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.basic_challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"portus\""),
            );
        }
        response
    }
}
