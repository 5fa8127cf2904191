//! The request id: taken from the client's `X-Request-Id` when it is sane (visible ASCII, at
//! most 128 characters), else generated; it is in the request's tracing span (so on every log
//! line of the request) and sent back as `X-Request-Id`.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The header carrying the id both ways.
pub const HEADER: &str = "x-request-id";

/// The request's id, as an extension of the request.
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

/// Whether a client's id may be used as it is: 1 to 128 visible ASCII characters (nothing a
/// log line or header could be forged with).
fn is_sane(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// A new id: a random prefix per process (ids of several instances do not collide) and a
/// counter.
fn generate() -> HeaderValue {
    static PREFIX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        use std::hash::BuildHasher;
        // RandomState is seeded from the operating system's randomness.
        std::collections::hash_map::RandomState::new().hash_one((std::process::id(), std::time::SystemTime::now()))
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    HeaderValue::try_from(format!("{prefix:016x}-{n:x}")).expect("hex digits are a valid header value")
}

/// The middleware: the id into the request's extensions (for its span) and onto the response.
pub(crate) async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(HEADER)
        .filter(|v| is_sane(v))
        .cloned()
        .unwrap_or_else(generate);
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    response.headers_mut().insert(HEADER, id);
    response
}

/// The span of a request: its method, the route template it matched (never the raw path or
/// query, which may hold a password-reset token or an OAuth code: the span is logged at `info`)
/// and its id.
pub(crate) fn span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.0.to_str().ok())
        .unwrap_or_default();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |route| route.as_str());
    tracing::info_span!("request", method = %request.method(), route, request_id = %id)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::HEADER;

    fn app() -> axum::Router {
        let store: std::sync::Arc<dyn portus_core::PolicyStore> =
            std::sync::Arc::new(portus_core::InMemoryStore::new());
        let tokens = portus_auth::TokenService::new(
            store,
            Vec::new(),
            crate::test_support::test_issuer(),
            portus_auth::TokenServiceConfig::new("registry.local"),
        );
        crate::router(
            crate::AppState::new(std::sync::Arc::new(tokens)),
            crate::HttpLimits::default(),
        )
    }

    async fn id_of(request: Request<Body>) -> (StatusCode, String) {
        let response = app().oneshot(request).await.unwrap();
        let id = response.headers()[HEADER].to_str().unwrap().to_owned();
        (response.status(), id)
    }

    #[tokio::test]
    async fn a_sane_id_is_echoed_and_others_are_replaced() {
        let sent = Request::get("/v2/")
            .header(HEADER, "req-42.abc")
            .body(Body::empty())
            .unwrap();
        assert_eq!(id_of(sent).await, (StatusCode::UNAUTHORIZED, "req-42.abc".to_owned()));
        // Answers that are not the handler's own (404, 405) carry it too.
        let missing = Request::get("/nowhere")
            .header(HEADER, "x1")
            .body(Body::empty())
            .unwrap();
        assert_eq!(id_of(missing).await.1, "x1");

        let generated = id_of(Request::get("/v2/").body(Body::empty()).unwrap()).await.1;
        let another = id_of(Request::get("/v2/").body(Body::empty()).unwrap()).await.1;
        assert!(!generated.is_empty() && generated != another, "{generated} {another}");
        for insane in ["", "has space", &"x".repeat(129), "tab\there"] {
            let request = Request::get("/v2/").header(HEADER, insane).body(Body::empty()).unwrap();
            let id = id_of(request).await.1;
            assert_ne!(id, insane);
            assert!(id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()), "{id}");
        }
    }
}
