//! Registry notification ingestion into SQLite: the webhook endpoint end to end (routing,
//! secret check, envelope parsing, durable insert) and the background application of events.
//!
//! Run with `cargo bench --bench sync`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use portus::auth::token::generate_key_and_certificate;
use portus::auth::{SigningAlgorithm, SigningKey, TokenIssuer, TokenService, TokenServiceConfig};
use portus::core::PolicyStore;
use portus::core::model::{MissingNamespace, NewUser};
use portus::core::prelude::*;
use portus::core::store::SqliteStore;
use portus::http::{AppState, HttpLimits, Webhook, router};
use portus::scan::events::EventPipeline;
use tower::ServiceExt;

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

fn envelope(events: usize) -> String {
    let events: Vec<String> = (0..events)
        .map(|_| {
            let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            format!(
                r#"{{"id":"bench-{n}","timestamp":"2026-11-24T00:00:00Z","action":"push","target":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":345,"digest":"sha256:{n:064x}","length":345,"repository":"team{}/app{}","url":"http://127.0.0.1:5000/v2/x","tag":"v{n}"}},"request":{{"id":"r","addr":"127.0.0.1:1","host":"127.0.0.1:5000","method":"PUT","useragent":"bench"}},"actor":{{"name":"alice"}},"source":{{"addr":"h:5000","instanceID":"i"}}}}"#,
                n % 100,
                n % 1000
            )
        })
        .collect();
    format!("{{\"events\":[{}]}}", events.join(","))
}

fn setup(
    runtime: &tokio::runtime::Runtime,
) -> (
    tempfile::TempDir,
    Arc<dyn PolicyStore>,
    Arc<EventPipeline>,
    axum::Router,
) {
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn PolicyStore> = Arc::new(SqliteStore::open(&dir.path().join("bench.db")).await.unwrap());
        store
            .create_user(NewUser {
                username: "alice".into(),
                ..NewUser::default()
            })
            .await
            .unwrap();
        let (key, _) = generate_key_and_certificate(SigningAlgorithm::Es256, "bench").unwrap();
        let issuer = TokenIssuer::new(
            SigningKey::from_pem(&key).unwrap(),
            "portus",
            Duration::from_secs(300),
            false,
        )
        .unwrap();
        let tokens = Arc::new(TokenService::new(
            store.clone(),
            vec![],
            issuer,
            TokenServiceConfig::new("registry"),
        ));
        let pipeline = EventPipeline::new(store.clone(), MissingNamespace::Create);
        let webhook = Webhook {
            pipeline: pipeline.clone(),
            authorization: "Bearer bench".into(),
        };
        let app = router(
            AppState {
                webhook: Some(webhook),
                ..AppState::new(tokens)
            },
            HttpLimits::default(),
        );
        (dir, store, pipeline, app)
    })
}

fn post(app: &axum::Router, body: String) -> Request<Body> {
    let _ = app;
    Request::post("/v2/webhooks/events")
        .header("authorization", "Bearer bench")
        .header("content-type", "application/vnd.docker.distribution.events.v1+json")
        .body(Body::from(body))
        .unwrap()
}

fn ingestion(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (_dir, _store, _pipeline, app) = setup(&runtime);
    let mut group = c.benchmark_group("webhook");
    for per_envelope in [1usize, 10] {
        group.throughput(Throughput::Elements(per_envelope as u64));
        group.bench_function(
            format!("ingest {per_envelope} event(s) per envelope into SQLite"),
            |b| {
                b.iter_batched(
                    || post(&app, envelope(per_envelope)),
                    |request| {
                        let response = runtime.block_on(app.clone().oneshot(request)).unwrap();
                        assert!(response.status().is_success());
                    },
                    criterion::BatchSize::SmallInput,
                )
            },
        );
    }
    group.finish();
}

fn application(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (_dir, _store, pipeline, _app) = setup(&runtime);
    let mut group = c.benchmark_group("events");
    group.throughput(Throughput::Elements(100));
    group.bench_function("apply 100 push events (SQLite)", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                runtime.block_on(pipeline.ingest(envelope(100).as_bytes())).unwrap();
                let start = Instant::now();
                let applied = runtime.block_on(pipeline.drain()).unwrap();
                total += start.elapsed();
                assert_eq!(applied, 100);
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, ingestion, application);
criterion_main!(benches);
