use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use data_encoding::{BASE64, BASE64URL_NOPAD};
use portus_auth::password::hash_password;
use portus_auth::{LocalAuthenticator, TokenService, TokenServiceConfig};
use portus_core::InMemoryStore;
use portus_core::model::NewUser;
use portus_core::prelude::*;
use portus_core::traits::{Authenticator, Secret};
use serde_json::Value;
use tower::ServiceExt;

use portus_core::model::MissingNamespace;
use portus_scan::events::EventPipeline;

use crate::router::router;
use crate::state::{AppState, HttpLimits, Webhook};

async fn app() -> axum::Router {
    app_with_store().await.0
}

/// The test application, with its store and the notification pipeline (which the tests drain
/// themselves: nothing applies events in the background here).
async fn app_with_store() -> (axum::Router, Arc<InMemoryStore>, Arc<EventPipeline>) {
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
    let issuer = crate::test_support::test_issuer();
    let local: Arc<dyn Authenticator> = Arc::new(LocalAuthenticator::new(store.clone(), 4).unwrap());
    let pipeline = EventPipeline::new(store.clone(), MissingNamespace::Create);
    let tokens = TokenService::new(
        store.clone(),
        vec![local],
        issuer,
        TokenServiceConfig::new("registry.local"),
    );
    let webhook = Webhook {
        pipeline: pipeline.clone(),
        authorization: "Bearer hook-secret".into(),
    };
    let app = router(
        AppState {
            webhook: Some(webhook),
            bcrypt_cost: 4,
            ..AppState::new(Arc::new(tokens))
        },
        HttpLimits {
            max_body_bytes: 4096,
            max_envelope_bytes: 16 * 1024,
            ..HttpLimits::default()
        },
    );
    (app, store, pipeline)
}

const ALICE: &str = "Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ="; // alice:alice-password

async fn send(app: &axum::Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, 1 << 20).await.unwrap();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (parts.status, parts.headers, json)
}

async fn get(app: &axum::Router, uri: &str, authorization: Option<&str>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut request = Request::get(uri);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    send(app, request.body(Body::empty()).unwrap()).await
}

async fn post(app: &axum::Router, body: &str, content_type: &str) -> (StatusCode, axum::http::HeaderMap, Value) {
    let request = Request::post("/v2/token")
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body.to_owned()))
        .unwrap();
    send(app, request).await
}

fn claims(json: &Value) -> Value {
    let payload = json["token"].as_str().unwrap().split('.').nth(1).unwrap();
    serde_json::from_slice(&BASE64URL_NOPAD.decode(payload.as_bytes()).unwrap()).unwrap()
}

fn error_message(json: &Value) -> &str {
    json["errors"][0]["message"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn get_token_answers_the_registry_token_format() {
    let app = app().await;
    let (status, headers, json) = get(&app, "/v2/token?service=registry.local&account=alice", Some(ALICE)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["token"], json["access_token"]);
    assert_eq!(json["expires_in"], 300);
    assert!(json["issued_at"].as_str().unwrap().ends_with('Z'));
    assert!(json.get("refresh_token").is_none(), "no refresh token unless asked for");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let claims = claims(&json);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], "registry.local");
    assert_eq!(claims["access"], serde_json::json!([]), "a login token grants nothing");
}

#[tokio::test]
async fn repeated_and_space_separated_scopes_are_merged() {
    let app = app().await;
    let uri = "/v2/token?service=registry.local&scope=repository:alice/app:push&scope=repository:alice/app:pull%20repository:alice/app:push,fork&scope=repository:victim/app:*,push&scope=registry:catalog:pull,*";
    let (status, _, json) = get(&app, uri, Some(ALICE)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        claims(&json)["access"],
        serde_json::json!([{"type": "repository", "name": "alice/app", "actions": ["push", "pull"]}]),
        "unknown actions dropped; `*,push` and `pull,*` on foreign resources grant nothing"
    );
}

#[tokio::test]
async fn offline_token_returns_a_refresh_token_usable_with_post() {
    let app = app().await;
    let (_, _, json) = get(
        &app,
        "/v2/token?service=registry.local&offline_token=true&client_id=docker",
        Some(ALICE),
    )
    .await;
    let refresh = json["refresh_token"].as_str().expect("refresh token").to_owned();
    let body = format!(
        "grant_type=refresh_token&refresh_token={refresh}&service=registry.local&client_id=docker&scope=repository%3Aalice%2Fapp%3Apull%2Cpush"
    );
    let (status, headers, json) = post(&app, &body, "application/x-www-form-urlencoded").await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["scope"], "repository:alice/app:pull repository:alice/app:push");
    assert_eq!(json["refresh_token"], refresh.as_str());
    assert_eq!(claims(&json)["sub"], "alice");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let (status, _, _) = post(
        &app,
        "grant_type=refresh_token&refresh_token=prt_forged",
        "application/x-www-form-urlencoded",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn post_password_grant() {
    let app = app().await;
    let form = "application/x-www-form-urlencoded; charset=utf-8";
    let (status, _, json) = post(
        &app,
        "grant_type=password&username=alice&password=alice-password&service=registry.local&client_id=containerd-client&access_type=offline",
        form,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert!(json["refresh_token"].as_str().unwrap().starts_with("prt_"));
    assert_eq!(json["scope"], "");
    let (status, headers, _) = post(&app, "grant_type=password&username=alice&password=nope", form).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "containerd falls back to GET on 401");
    assert!(headers.contains_key(header::WWW_AUTHENTICATE));
}

#[tokio::test]
async fn bad_requests_get_clear_registry_format_errors() {
    let app = app().await;
    let many: String = (0..1000).map(|i| format!("&scope=repository:a/r{i}:pull")).collect();
    let cases: Vec<(String, Option<&str>, StatusCode, &str)> = vec![
        (
            "/v2/token?scope=repository:Alice/app:pull".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid resource name",
        ),
        (
            "/v2/token?scope=whale:foo,bar".into(),
            None,
            StatusCode::BAD_REQUEST,
            "must have the form",
        ),
        (
            "/v2/token?scope=repository:a%FF/b:pull".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid",
        ),
        (
            "/v2/token?scope=repository:../etc/passwd:pull".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid resource name",
        ),
        (
            "/v2/token?scope=repository:a';DROP%20TABLE%20users;--:pull".into(),
            None,
            StatusCode::BAD_REQUEST,
            "must have the form",
        ),
        (
            "/v2/token?service=other".into(),
            None,
            StatusCode::BAD_REQUEST,
            "unknown service 'other'",
        ),
        (
            "/v2/token?service=a&service=b".into(),
            None,
            StatusCode::BAD_REQUEST,
            "more than once",
        ),
        (
            format!("/v2/token?service=registry.local{many}"),
            None,
            StatusCode::BAD_REQUEST,
            "too many scopes",
        ),
        (
            "/v2/token?account=mallory".into(),
            Some(ALICE),
            StatusCode::BAD_REQUEST,
            "does not match",
        ),
        (
            "/v2/token".into(),
            Some("Basic YWxpY2U6d3Jvbmc="),
            StatusCode::UNAUTHORIZED,
            "invalid username or password",
        ),
        (
            "/v2/token".into(),
            Some("Basic %%%"),
            StatusCode::UNAUTHORIZED,
            "malformed Basic",
        ),
        (
            "/v2/token".into(),
            Some("Bearer abc"),
            StatusCode::UNAUTHORIZED,
            "only Basic",
        ),
        (
            "/v2/token".into(),
            Some("Basic bm9ib2R5Onh4eHh4eHh4"),
            StatusCode::UNAUTHORIZED,
            "invalid username or password",
        ),
        ("/nowhere".into(), None, StatusCode::NOT_FOUND, "no such endpoint"),
    ];
    for (uri, authorization, expected_status, expected_message) in cases {
        let (status, headers, json) = get(&app, &uri, authorization).await;
        let shown = &uri[..uri.len().min(80)];
        assert_eq!(status, expected_status, "{shown}: {json}");
        assert!(error_message(&json).contains(expected_message), "{shown}: {json}");
        assert!(json["errors"][0]["code"].is_string(), "{shown}: {json}");
        assert_eq!(
            headers.contains_key(header::WWW_AUTHENTICATE),
            status == StatusCode::UNAUTHORIZED,
            "{shown}"
        );
    }
    let post_cases = [
        (
            "grant_type=client_credentials",
            "application/x-www-form-urlencoded",
            StatusCode::BAD_REQUEST,
            "unsupported grant_type",
        ),
        (
            "username=alice",
            "application/x-www-form-urlencoded",
            StatusCode::BAD_REQUEST,
            "missing parameter 'grant_type'",
        ),
        (
            "grant_type=password&username=alice",
            "application/x-www-form-urlencoded",
            StatusCode::BAD_REQUEST,
            "'password'",
        ),
        (
            "grant_type=refresh_token",
            "application/x-www-form-urlencoded",
            StatusCode::BAD_REQUEST,
            "'refresh_token'",
        ),
        (
            "{\"grant_type\":\"password\"}",
            "application/json",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "x-www-form-urlencoded",
        ),
    ];
    for (body, content_type, expected_status, expected_message) in post_cases {
        let (status, _, json) = post(&app, body, content_type).await;
        assert_eq!(status, expected_status, "{body}: {json}");
        assert!(error_message(&json).contains(expected_message), "{body}: {json}");
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = app().await;
    let body = format!("grant_type=password&username=alice&password={}", "x".repeat(10_000));
    let request = Request::post("/v2/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let (status, _, json) = send(&app, request).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json["errors"][0]["code"], "SIZE_INVALID");
    // The server still answers afterwards.
    assert_eq!(get(&app, "/v2/token", None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn wrong_methods_get_json_errors() {
    let app = app().await;
    let (status, _, json) = send(&app, Request::delete("/v2/token").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(json["errors"][0]["code"], "UNSUPPORTED");
}

#[tokio::test]
async fn ping_checks_credentials() {
    let app = app().await;
    let (status, headers, _) = get(&app, "/v2/", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Basic realm=\"portus\"");
    let (status, _, json) = get(&app, "/v2/", Some(ALICE)).await;
    assert_eq!((status, json), (StatusCode::OK, serde_json::json!({})));
    let wrong = format!("Basic {}", BASE64.encode(b"alice:wrong"));
    assert_eq!(get(&app, "/v2/", Some(&wrong)).await.0, StatusCode::UNAUTHORIZED);
}

async fn notify(app: &axum::Router, authorization: Option<&str>, body: &str) -> (StatusCode, Value) {
    let mut request = Request::post("/v2/webhooks/events").header(
        header::CONTENT_TYPE,
        "application/vnd.docker.distribution.events.v1+json",
    );
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let (status, _, json) = send(app, request.body(Body::from(body.to_owned())).unwrap()).await;
    (status, json)
}

#[tokio::test]
async fn webhook_requires_the_secret_and_is_idempotent() {
    let app = app().await;
    let envelope = r#"{"events":[{"id":"e1","action":"push","actor":{"name":"alice"},
        "target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aa","repository":"alice/app","tag":"1.0"}}]}"#;
    for authorization in [
        None,
        Some("Bearer wrong"),
        Some("Bearer hook-secret "),
        Some("Basic aG9vay1zZWNyZXQ="),
    ] {
        let (status, json) = notify(&app, authorization, envelope).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(json["errors"][0]["code"], "UNAUTHORIZED");
    }
    let (status, json) = notify(&app, Some("Bearer hook-secret"), envelope).await;
    assert_eq!((status, json["accepted"].as_u64()), (StatusCode::OK, Some(1)));
    let (status, json) = notify(&app, Some("Bearer hook-secret"), envelope).await;
    assert_eq!(
        (status, json["accepted"].as_u64()),
        (StatusCode::OK, Some(0)),
        "a replay is accepted and changes nothing"
    );
    let (status, json) = notify(&app, Some("Bearer hook-secret"), "{\"events\":[{\"action\":\"push\"}]}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_message(&json).contains("no valid id"), "{json}");
    let (status, _) = notify(&app, Some("Bearer hook-secret"), &"x".repeat(20_000)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn webhook_drops_malformed_events_alone_and_answers_200() {
    let (app, store, pipeline) = app_with_store().await;
    let good = |digest: char| format!("sha256:{}", digest.to_string().repeat(64));
    let event = |id: &str, repository: &str, tag: &str, digest: &str| {
        serde_json::json!({"id": id, "action": "push", "actor": {"name": "alice"},
            "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest,
                "repository": repository, "tag": tag}})
    };
    let envelope = |events: Vec<Value>| serde_json::json!({ "events": events }).to_string();
    let (status, json) = notify(
        &app,
        Some("Bearer hook-secret"),
        &envelope(vec![event("first", "alice/app", "1.0", &good('a'))]),
    )
    .await;
    assert_eq!((status, json["accepted"].as_u64()), (StatusCode::OK, Some(1)));
    pipeline.drain().await.unwrap();

    let long_tag = "t".repeat(300);
    let events = vec![
        event("bad-1", "devs//app", "1", &good('b')),
        event("bad-2", "ghost2/../devs/app", "1", &good('b')),
        event("bad-3", "UPPER", "1", &good('b')),
        event("bad-4", "alice/app", "with space", &good('b')),
        event("bad-5", "alice/app", &long_tag, &good('b')),
        // A bad digest for the stored tag must not overwrite its digest.
        event("bad-6", "alice/app", "1.0", "sha256:nothex"),
        event("bad-7", "alice/app", "1.0", "md5:abc"),
        event("good", "alice/app", "2.0", &good('c')),
    ];
    let (status, json) = notify(&app, Some("Bearer hook-secret"), &envelope(events)).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        (json["accepted"].as_u64(), json["refused"].as_u64()),
        (Some(8), Some(7)),
        "{json}"
    );
    pipeline.drain().await.unwrap();
    let tags: Vec<(String, String, String)> = store
        .tags(None)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.repository, t.name, t.manifest.digest))
        .collect();
    assert_eq!(
        tags,
        [
            ("alice/app".to_owned(), "1.0".to_owned(), good('a')),
            ("alice/app".to_owned(), "2.0".to_owned(), good('c')),
        ]
    );
    assert_eq!(store.repositories().await.unwrap(), ["alice/app"]);

    // A malformed envelope is still a 400, and stores nothing.
    let (status, _) = notify(&app, Some("Bearer hook-secret"), "{\"events\": not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(store.pending_events(10).await.unwrap().is_empty());
}

mod api {
    use chrono::Utc;
    use portus_auth::password::{APP_TOKEN_PREFIX, generate_secret};
    use portus_core::model::{ManifestRecord, NewNamespace, ScanRecord, ScanState, Visibility};
    use portus_core::traits::{ScanReport, Severity, Vulnerability};

    use super::*;

    struct Api {
        app: axum::Router,
        private_tag: i64,
        public_tag: i64,
        alice_token: String,
        bob_token: String,
    }

    async fn api() -> Api {
        let store = Arc::new(InMemoryStore::new());
        let alice = store
            .create_user(NewUser {
                username: "alice".into(),
                ..NewUser::default()
            })
            .await
            .unwrap();
        let bob = store
            .create_user(NewUser {
                username: "bob".into(),
                ..NewUser::default()
            })
            .await
            .unwrap();
        let team = store.create_team("devs", alice.id, None).await.unwrap();
        let open = NewNamespace {
            name: "open".into(),
            team_id: team.id,
            visibility: Visibility::Public,
            description: None,
        };
        store.create_namespace(open).await.unwrap();
        let manifest = |d: &str| ManifestRecord {
            digest: d.into(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            size: None,
        };
        for (repository, digest) in [("alice/secret-app", "sha256:private"), ("open/app", "sha256:public")] {
            store
                .put_tag(repository, "1.0", &manifest(digest), None, MissingNamespace::Ignore)
                .await
                .unwrap();
        }
        let report = ScanReport {
            vulnerabilities: vec![Vulnerability {
                id: "CVE-2016-6304".into(),
                severity: Severity::High,
                package: Some("openssl".into()),
                package_version: None,
                fixed_in: None,
                links: vec![],
                description: None,
            }],
        };
        store
            .put_scan_record(&ScanRecord {
                digest: "sha256:public".into(),
                backend: "dummy".into(),
                state: ScanState::Done,
                report: Some(report),
                error: None,
                attempts: 0,
                updated_at: Utc::now(),
                next_attempt_at: None,
            })
            .await
            .unwrap();
        let mut tokens = Vec::new();
        for user in [&alice, &bob] {
            let secret = generate_secret(APP_TOKEN_PREFIX).unwrap();
            store
                .create_app_token(user.id, "api", &secret.digest, &Default::default())
                .await
                .unwrap();
            tokens.push(secret.plain.expose().to_owned());
        }
        let private_tag = store.tag("alice/secret-app", "1.0").await.unwrap().unwrap().id.0;
        let public_tag = store.tag("open/app", "1.0").await.unwrap().unwrap().id.0;
        let issuer = crate::test_support::test_issuer();
        let service = TokenService::new(store, vec![], issuer, TokenServiceConfig::new("registry.local"));
        let mut state = AppState::new(Arc::new(service));
        for name in ["clair", "dummy"] {
            state.scanner.register(Arc::new(NamedBackend(name))).unwrap();
        }
        Api {
            app: router(state, HttpLimits::default()),
            private_tag,
            public_tag,
            alice_token: tokens.remove(0),
            bob_token: tokens.remove(0),
        }
    }

    /// A backend known by name only: the records in the store are what the API shows.
    #[derive(Debug)]
    struct NamedBackend(&'static str);

    #[async_trait::async_trait]
    impl portus_core::SecurityBackend for NamedBackend {
        fn name(&self) -> &str {
            self.0
        }
        async fn scan(
            &self,
            _: &portus_core::traits::ImageRef,
        ) -> portus_core::Result<portus_core::traits::ScanOutcome> {
            Ok(portus_core::traits::ScanOutcome::Pending {
                retry_after: Duration::from_secs(60),
            })
        }
        async fn health(&self) -> portus_core::Result<()> {
            Ok(())
        }
    }

    async fn vulnerabilities(api: &Api, id: i64, headers: &[(&str, String)]) -> (StatusCode, Value) {
        let mut request = Request::get(format!("/api/v1/tags/{id}/vulnerabilities"));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let (status, _, json) = send(&api.app, request.body(Body::empty()).unwrap()).await;
        (status, json)
    }

    #[tokio::test]
    async fn shows_merged_findings_to_those_who_may_pull() {
        let api = api().await;
        let (status, json) = vulnerabilities(&api, api.public_tag, &[]).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        assert_eq!(json["tag"]["repository"], "open/app");
        assert_eq!(
            json["security"]["status"], "pending",
            "clair has not answered: pending, not clean"
        );
        assert_eq!(
            json["security"]["backends"],
            serde_json::json!({"clair": "pending", "dummy": "done"})
        );
        assert_eq!(
            json["security"]["vulnerabilities"][0]["found_by"],
            serde_json::json!(["dummy"])
        );

        let bearer = [("authorization", format!("Bearer {}", api.alice_token))];
        let (status, json) = vulnerabilities(&api, api.private_tag, &bearer).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        assert_eq!(json["security"]["vulnerabilities"], serde_json::json!([]));
        let portus_auth = [("portus-auth", format!("alice:{}", api.alice_token))];
        assert_eq!(
            vulnerabilities(&api, api.private_tag, &portus_auth).await.0,
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn private_tags_are_indistinguishable_from_missing_ones() {
        let api = api().await;
        let bob = [("authorization", format!("Bearer {}", api.bob_token))];
        let (hidden, hidden_json) = vulnerabilities(&api, api.private_tag, &bob).await;
        let (missing, missing_json) = vulnerabilities(&api, 987_654, &bob).await;
        assert_eq!((hidden, missing), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
        assert_eq!(hidden_json, missing_json);
        assert!(!hidden_json.to_string().contains("secret-app"));
        assert_eq!(
            vulnerabilities(&api, api.private_tag, &[]).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(vulnerabilities(&api, -1, &[]).await.0, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn bad_credentials_are_refused() {
        let api = api().await;
        let cases = [
            ("authorization", "Bearer pat_forged".to_owned()),
            ("authorization", format!("Basic {}", api.alice_token)),
            ("portus-auth", format!("bob:{}", api.alice_token)),
            ("portus-auth", "no-colon".to_owned()),
        ];
        for (name, value) in cases {
            let (status, json) = vulnerabilities(&api, api.public_tag, &[(name, value.clone())]).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}: {value}");
            assert_eq!(json["errors"][0]["code"], "UNAUTHORIZED");
        }
    }
}
