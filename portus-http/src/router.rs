//! The router: the routes and, with feature `web`, the pages, under the layers every request
//! passes (body-size limit, timeout, tracing, registry-format errors).

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::routes;
use crate::state::{AppState, HttpLimits};

/// The portus HTTP API for `state`, with body-size limit, timeout and request tracing layers.
pub fn router(state: AppState, limits: HttpLimits) -> Router {
    build(state, limits, Router::new())
}

/// [`router`] plus the web pages under `/` (feature `web`).
#[cfg(feature = "web")]
pub fn router_with_web(state: AppState, limits: HttpLimits, web: crate::web::WebConfig) -> Router {
    let pages = crate::web::router(state.clone(), web, routes::api());
    build(state, limits, pages)
}

fn build(state: AppState, limits: HttpLimits, pages: Router<AppState>) -> Router {
    let metrics = state.metrics.clone();
    let router = routes::all(limits.max_envelope_bytes)
        .merge(pages)
        .fallback(|| async { ApiError::not_found() })
        .with_state(state)
        .layer(axum::middleware::map_response(json_errors))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(axum::middleware::from_fn(cors))
        .layer(TraceLayer::new_for_http().make_span_with(crate::request_id::span));
    let router = match metrics {
        // Timed outermost, so timeouts and refusals of the inner layers count too.
        Some(metrics) => router
            .merge(
                Router::new()
                    .route("/metrics", axum::routing::get(crate::metrics::scrape))
                    .with_state(metrics.clone()),
            )
            .layer(axum::middleware::from_fn_with_state(metrics, crate::metrics::track)),
        None => router,
    };
    // Outermost: every answer carries the id, and the spans within have it.
    router.layer(axum::middleware::from_fn(crate::request_id::request_id))
}

/// The CORS headers Portus' API sends on every answer (`Access-Control-Request-Method` is
/// Portus' own quirk, kept for its clients), plus the methods browsers need for a preflight.
const CORS_HEADERS: [(&str, &str); 4] = [
    ("access-control-allow-origin", "*"),
    ("access-control-request-method", "*"),
    (
        "access-control-allow-headers",
        "Content-Type, api_key, Authorization, portus-auth",
    ),
    ("access-control-allow-methods", "GET, POST, PUT, DELETE, OPTIONS"),
];

/// Under `/api`: Portus' CORS headers on every answer, and `OPTIONS` preflights answered 204
/// before authentication (browsers send them without credentials). Cross-origin callers still
/// need an application token: the API never reads cookies from them (sessions reach it only in
/// process, from the web pages).
async fn cors(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let path = request.uri().path();
    if path != "/api" && !path.starts_with("/api/") {
        return next.run(request).await;
    }
    let mut response = if request.method() == axum::http::Method::OPTIONS {
        axum::response::IntoResponse::into_response(axum::http::StatusCode::NO_CONTENT)
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    for (name, value) in CORS_HEADERS {
        headers.insert(name, axum::http::HeaderValue::from_static(value));
    }
    response
}

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
    let mut rewritten = axum::response::IntoResponse::into_response(ApiError {
        status,
        code,
        message: message.into(),
        basic_challenge: false,
    });
    // A 405 keeps its `Allow` header: it says what the client may do instead.
    if let Some(allow) = response.headers().get(axum::http::header::ALLOW) {
        rewritten.headers_mut().insert(axum::http::header::ALLOW, allow.clone());
    }
    rewritten
}
