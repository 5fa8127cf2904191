//! Routes and the shared state of the HTTP adapter.

mod credentials;
mod token;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use portus_auth::TokenService;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;

/// Limits applied to every request.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Time after which a request is answered with 408.
    pub request_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// State shared by the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The token service answering `/v2/token`.
    pub tokens: Arc<TokenService>,
}

/// The portus HTTP API for `state`, with body-size limit, timeout and request tracing layers.
pub fn router(state: AppState, limits: HttpLimits) -> Router {
    Router::new()
        .route("/v2/token", get(token::get_token).post(token::post_token))
        .route("/v2/", get(token::ping))
        .fallback(|| async { ApiError::not_found() })
        .with_state(state)
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(TraceLayer::new_for_http())
}

pub use self::credentials::basic_credentials;

#[cfg(test)]
mod tests;
