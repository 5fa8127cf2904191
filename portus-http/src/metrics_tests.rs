//! `/metrics` read back with a Prometheus text-format parser after real requests.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use data_encoding::BASE64;
use portus_auth::password::hash_password;
use portus_auth::{LocalAuthenticator, TokenService, TokenServiceConfig};
use portus_core::InMemoryStore;
use portus_core::model::{MissingNamespace, NewUser};
use portus_core::observe::Observer;
use portus_core::prelude::*;
use portus_core::traits::{Authenticator, Secret};
use portus_scan::events::EventPipeline;
use prometheus_parse::{Scrape, Value};
use tower::ServiceExt;

use super::Metrics;
use crate::state::{AppState, HttpLimits, Webhook};

struct Fixture {
    app: axum::Router,
    pipeline: Arc<EventPipeline>,
}

async fn fixture(bearer_token: Option<&str>) -> Fixture {
    let store = Arc::new(InMemoryStore::new());
    let hash = hash_password(&Secret::new("alice-password"), 4).await.unwrap();
    store
        .create_user(NewUser {
            username: "alice".into(),
            password_hash: Some(hash),
            ..NewUser::default()
        })
        .await
        .unwrap();
    let local: Arc<dyn Authenticator> = Arc::new(LocalAuthenticator::new(store.clone(), 4).unwrap());
    let tokens = Arc::new(TokenService::new(
        store.clone(),
        vec![local],
        crate::test_support::test_issuer(),
        TokenServiceConfig::new("registry.local"),
    ));
    let pipeline = EventPipeline::new(store.clone(), MissingNamespace::Create);
    let metrics = Metrics::new(bearer_token.map(str::to_owned), Some(Arc::new(|| (3, 2))));
    let observer: Arc<dyn Observer> = metrics.clone();
    tokens.set_observer(observer.clone());
    pipeline.set_observer(observer);
    let state = AppState {
        webhook: Some(Webhook {
            pipeline: pipeline.clone(),
            authorization: "Bearer hook-secret".into(),
        }),
        metrics: Some(metrics),
        ..AppState::new(tokens)
    };
    Fixture {
        app: crate::router(state, HttpLimits::default()),
        pipeline,
    }
}

async fn call(app: &axum::Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), 1 << 22).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

async fn get(app: &axum::Router, uri: &str, authorization: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get(uri);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    call(app, request.body(Body::empty()).unwrap()).await
}

/// `/metrics` parsed as Prometheus parses it.
async fn scrape(app: &axum::Router, authorization: Option<&str>) -> Scrape {
    let (status, text) = get(app, "/metrics", authorization).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

/// The value of the sample `name` with exactly these labels among its own (0 when absent:
/// a counter not yet touched has no sample).
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            other => panic!("{name}: unexpected {other:?}"),
        })
        .sum()
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", BASE64.encode(format!("{user}:{password}").as_bytes()))
}

#[tokio::test]
async fn token_requests_logins_and_events_move_their_metrics() {
    let f = fixture(None).await;
    let before = scrape(&f.app, None).await;
    let granted = [("result", "granted"), ("reason", "")];
    let wrong = [("result", "denied"), ("reason", "invalid_credentials")];
    let failed_login = [("method", "password"), ("result", "failure")];
    assert_eq!(value(&before, "portus_token_requests_total", &granted), 0.0);
    assert_eq!(value(&before, "portus_logins_total", &failed_login), 0.0);

    // A granted token request (a login token), and one refused for a wrong password.
    let (status, _) = get(
        &f.app,
        "/v2/token?service=registry.local",
        Some(&basic("alice", "alice-password")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = get(
        &f.app,
        "/v2/token?service=registry.local",
        Some(&basic("alice", "wrong")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Alice: pull and push in her own namespace, not the catalog (administrators only).
    let uri = "/v2/token?service=registry.local&scope=repository:alice/app:pull,push&scope=registry:catalog:*";
    let (status, _) = get(&f.app, uri, Some(&basic("alice", "alice-password"))).await;
    assert_eq!(status, StatusCode::OK);
    // Anonymous asking to push where nobody may: a token that grants nothing.
    let (status, _) = get(
        &f.app,
        "/v2/token?service=registry.local&scope=repository:bob/app:push",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // A registry event received, then applied.
    let envelope = serde_json::json!({"events": [{"id": "e1", "action": "push", "actor": {"name": "alice"},
        "timestamp": (chrono::Utc::now() - chrono::Duration::seconds(3)).to_rfc3339(),
        "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", "a".repeat(64)), "repository": "alice/app", "tag": "1.0"}}]});
    let request = Request::post("/v2/webhooks/events")
        .header(header::AUTHORIZATION, "Bearer hook-secret")
        .body(Body::from(envelope.to_string()))
        .unwrap();
    assert_eq!(call(&f.app, request).await.0, StatusCode::OK);
    assert_eq!(f.pipeline.drain().await.unwrap(), 1);

    let after = scrape(&f.app, None).await;
    assert_eq!(value(&after, "portus_token_requests_total", &granted), 1.0);
    assert_eq!(value(&after, "portus_token_requests_total", &wrong), 1.0);
    let partially = [("result", "partially"), ("reason", "")];
    assert_eq!(value(&after, "portus_token_requests_total", &partially), 1.0);
    let nothing = [("result", "denied"), ("reason", "no_access")];
    assert_eq!(value(&after, "portus_token_requests_total", &nothing), 1.0);
    let logins = |method, result| value(&after, "portus_logins_total", &[("method", method), ("result", result)]);
    assert_eq!(logins("password", "success"), 2.0);
    assert_eq!(logins("password", "failure"), 1.0);
    assert_eq!(logins("anonymous", "success"), 1.0);
    let received = value(
        &after,
        "portus_registry_events_received_total",
        &[("result", "accepted")],
    );
    assert_eq!(received, 1.0);
    let applied = value(&after, "portus_registry_events_finished_total", &[("state", "applied")]);
    assert_eq!(applied, 1.0);
    // The event was 3 seconds old when applied: counted in the lag, above the 2.5 s bucket.
    assert_eq!(value(&after, "portus_registry_event_apply_lag_seconds_count", &[]), 1.0);
    assert!(value(&after, "portus_registry_event_apply_lag_seconds_sum", &[]) >= 3.0);

    // Latency by route template, never the raw path (no query string in any label).
    let token_route = [("route", "/v2/token"), ("method", "GET"), ("status", "200")];
    assert_eq!(
        value(&after, "portus_http_request_duration_seconds_count", &token_route),
        3.0
    );
    assert!(!after.samples.iter().any(|s| s.labels.values().any(|v| v.contains('?'))));
    let (status, _) = get(&f.app, "/api/v1/users/12345", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // prometheus-parse reads no braces inside label values, so this one is read as text.
    let (_, text) = get(&f.app, "/metrics", None).await;
    assert!(
        text.contains(r#"route="/api/v1/users/{id}""#),
        "the route template: {text}"
    );
    assert!(!text.contains("12345"), "never the raw path");

    // The store pool and, on Linux, the process.
    assert_eq!(value(&after, "portus_store_pool_connections", &[]), 3.0);
    assert_eq!(value(&after, "portus_store_pool_idle_connections", &[]), 2.0);
    assert!(value(&after, "process_start_time_seconds", &[]) > 1.7e9);
    if cfg!(target_os = "linux") {
        assert!(value(&after, "process_resident_memory_bytes", &[]) > 0.0);
        assert!(value(&after, "process_open_fds", &[]) > 0.0);
        assert!(after.samples.iter().any(|s| s.metric == "process_cpu_seconds_total"));
    }
}

#[tokio::test]
async fn a_lockout_is_counted_once() {
    let f = fixture(None).await;
    // The default policy locks at the 10th failure in a row; later failures lock nothing new.
    for _ in 0..12 {
        let (status, _) = get(&f.app, "/v2/", Some(&basic("alice", "wrong"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let scraped = scrape(&f.app, None).await;
    assert_eq!(value(&scraped, "portus_account_lockouts_total", &[]), 1.0);
    let failures = [("method", "password"), ("result", "failure")];
    assert_eq!(value(&scraped, "portus_logins_total", &failures), 12.0);
}

#[tokio::test]
async fn the_bearer_token_guards_the_metrics() {
    let f = fixture(Some("scrape-secret")).await;
    for authorization in [
        None,
        Some("Bearer wrong"),
        Some("Bearer scrape-secret "),
        Some("scrape-secret"),
    ] {
        let (status, body) = get(&f.app, "/metrics", authorization).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert!(!body.contains("portus_"), "{body}");
    }
    let scraped = scrape(&f.app, Some("Bearer scrape-secret")).await;
    assert!(scraped.samples.iter().any(|s| s.metric == "process_start_time_seconds"));
}

#[tokio::test]
async fn without_metrics_there_is_no_metrics_route() {
    let store: Arc<dyn PolicyStore> = Arc::new(InMemoryStore::new());
    let tokens = TokenService::new(
        store,
        Vec::new(),
        crate::test_support::test_issuer(),
        TokenServiceConfig::new("registry.local"),
    );
    let app = crate::router(AppState::new(Arc::new(tokens)), HttpLimits::default());
    assert_eq!(get(&app, "/metrics", None).await.0, StatusCode::NOT_FOUND);
}
