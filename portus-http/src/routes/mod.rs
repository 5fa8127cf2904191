//! Routes and the shared state of the HTTP adapter.

pub(crate) mod api;
mod credentials;
mod token;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use portus_auth::TokenService;
use portus_core::RegistryClient;
use portus_scan::events::EventPipeline;
use portus_scan::scanner::Scanner;
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
    /// Largest accepted notification envelope in bytes.
    pub max_envelope_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            max_envelope_bytes: 4 << 20,
        }
    }
}

/// The registry notification endpoint: where events go and the `Authorization` header value
/// the registry must send.
#[derive(Clone)]
pub struct Webhook {
    /// Stores and applies the events.
    pub pipeline: Arc<EventPipeline>,
    /// Expected `Authorization` header value (`Bearer <secret>`).
    pub authorization: Arc<str>,
}

/// State shared by the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The token service answering `/v2/token`.
    pub tokens: Arc<TokenService>,
    /// The notification endpoint; `None` answers 404 there.
    pub webhook: Option<Webhook>,
    /// The security backends (none: scanning is off).
    pub scanner: Scanner,
    /// The registry, for deletions and health; `None` when `registry.url` is not configured.
    pub registry: Option<Arc<dyn RegistryClient>>,
    /// bcrypt cost for passwords set through the API.
    pub bcrypt_cost: u32,
}

impl AppState {
    /// State for `tokens` alone: no webhook, no registry, no scanners.
    pub fn new(tokens: Arc<TokenService>) -> Self {
        AppState {
            tokens,
            webhook: None,
            scanner: Scanner::new(Duration::from_secs(30)),
            registry: None,
            bcrypt_cost: portus_auth::password::DEFAULT_BCRYPT_COST,
        }
    }

    /// The configured backends' names.
    pub fn scan_backends(&self) -> Vec<&str> {
        self.scanner.backend_names()
    }
}

/// The portus HTTP API for `state`, with body-size limit, timeout and request tracing layers.
pub fn router(state: AppState, limits: HttpLimits) -> Router {
    build(state, limits, Router::new())
}

/// [`router`] plus the web pages under `/` (feature `web`).
#[cfg(feature = "web")]
pub fn router_with_web(state: AppState, limits: HttpLimits, web: crate::web::WebConfig) -> Router {
    let pages = crate::web::router(state.clone(), web);
    build(state, limits, pages)
}

fn build(state: AppState, limits: HttpLimits, pages: Router<AppState>) -> Router {
    api::router()
        .merge(pages)
        .route("/v2/token", get(token::get_token).post(token::post_token))
        .route("/v2/", get(token::ping))
        .route(
            "/v2/webhooks/events",
            post(webhook::receive_events).layer(DefaultBodyLimit::max(limits.max_envelope_bytes)),
        )
        .fallback(|| async { ApiError::not_found() })
        .with_state(state)
        .layer(axum::middleware::map_response(json_errors))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(TraceLayer::new_for_http())
}

pub use self::credentials::basic_credentials;

/// Rewrites error answers that are neither JSON nor a web page (body-limit, method and extractor rejections from
/// axum, timeouts) into the registry's JSON error format, keeping their status.
async fn json_errors(response: axum::response::Response) -> axum::response::Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (code, message) = match status {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => ("SIZE_INVALID", "the request body is too large"),
        axum::http::StatusCode::METHOD_NOT_ALLOWED => ("UNSUPPORTED", "method not allowed on this endpoint"),
        axum::http::StatusCode::REQUEST_TIMEOUT => ("TIMEOUT", "the request took too long"),
        s if s.is_server_error() => ("INTERNAL_ERROR", "internal error"),
        _ => ("INVALID_REQUEST", "the request could not be read"),
    };
    axum::response::IntoResponse::into_response(ApiError {
        status,
        code,
        message: message.into(),
        basic_challenge: false,
    })
}

#[cfg(test)]
mod account_tests;
#[cfg(test)]
mod tests;

/// The token issuer of the tests: a fresh ES256 key, issuer `portus.test`, 5-minute tokens.
#[cfg(test)]
pub(crate) fn test_issuer() -> portus_auth::TokenIssuer {
    use portus_auth::token::generate_key_and_certificate;
    use portus_auth::{SigningAlgorithm, SigningKey, TokenIssuer};
    let (key_pem, _) = generate_key_and_certificate(SigningAlgorithm::Es256, "test").unwrap();
    TokenIssuer::new(
        SigningKey::from_pem(&key_pem).unwrap(),
        "portus.test",
        Duration::from_secs(300),
        false,
    )
    .unwrap()
}
