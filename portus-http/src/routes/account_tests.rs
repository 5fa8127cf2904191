//! A disabled or locked account gets nothing through any credential, over HTTP: the refresh
//! grant of `/v2/token`, an application token as docker password, and an application token on
//! the REST API in both header forms. The account is locked the way it happens in production,
//! by failed logins on `/v2/token`, after every credential was issued.

use portus_core::prelude::*;
use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use data_encoding::BASE64;
use portus_auth::password::{APP_TOKEN_PREFIX, generate_secret, hash_password};
use portus_auth::{LocalAuthenticator, TokenService, TokenServiceConfig};
use portus_core::InMemoryStore;
use portus_core::model::{NewNamespace, NewUser, UserId, Visibility};
use portus_core::traits::{Authenticator, Secret};
use serde_json::Value;
use tower::ServiceExt;

use crate::router::router;
use crate::state::{AppState, HttpLimits};

const FORM: &str = "application/x-www-form-urlencoded";

/// alice (password `alice-password`, application token `token`) owns team `devs` and its
/// private namespace `devs`; she asked for a refresh token before anything happened.
struct Fixture {
    app: axum::Router,
    store: Arc<InMemoryStore>,
    alice: UserId,
    token: String,
    refresh: String,
    devs: i64,
    /// Application tokens minted through the API so far (their labels must differ).
    minted: std::sync::atomic::AtomicUsize,
}

async fn fixture() -> Fixture {
    let store = Arc::new(InMemoryStore::new());
    let hash = hash_password(&Secret::new("alice-password"), 4).await.unwrap();
    let alice = store
        .create_user(NewUser {
            username: "alice".into(),
            password_hash: Some(hash),
            ..NewUser::default()
        })
        .await
        .unwrap();
    let secret = generate_secret(APP_TOKEN_PREFIX).unwrap();
    store
        .create_app_token(alice.id, "ci", &secret.digest, &Default::default())
        .await
        .unwrap();
    let team = store.create_team("devs", alice.id, None).await.unwrap();
    let devs = store
        .create_namespace(NewNamespace {
            name: "devs".into(),
            team_id: team.id,
            visibility: Visibility::Private,
            description: None,
        })
        .await
        .unwrap();
    let local: Arc<dyn Authenticator> = Arc::new(LocalAuthenticator::new(store.clone(), 4).unwrap());
    let config = TokenServiceConfig::new("registry.local");
    let tokens = TokenService::new(store.clone(), vec![local], crate::test_support::test_issuer(), config);
    let mut state = AppState::new(Arc::new(tokens));
    state.bcrypt_cost = 4;
    let app = router(state, HttpLimits::default());
    let (status, json) = send(
        &app,
        Request::get("/v2/token?service=registry.local&offline_token=true")
            .header(header::AUTHORIZATION, basic("alice", "alice-password"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    Fixture {
        app,
        store,
        alice: alice.id,
        token: secret.plain.expose().to_owned(),
        refresh: json["refresh_token"].as_str().expect("a refresh token").to_owned(),
        devs: devs.id.0,
        minted: Default::default(),
    }
}

fn basic(user: &str, secret: &str) -> String {
    format!("Basic {}", BASE64.encode(format!("{user}:{secret}").as_bytes()))
}

async fn send(app: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, json)
}

impl Fixture {
    /// Locks alice as production does: as many wrong passwords as the lockout policy allows.
    async fn lock_by_failed_logins(&self) {
        let wrong = basic("alice", "wrong-password");
        for _ in 0..portus_auth::LockoutPolicy::default().max_failures {
            assert_eq!(self.token_with(&wrong).await.0, StatusCode::UNAUTHORIZED);
        }
        let alice = self.store.user_by_id(self.alice).await.unwrap().unwrap();
        assert!(alice.is_locked(portus_core::model::now()), "{alice:?}");
        // The password is refused now (this always worked).
        let (status, _) = self.token_with(&basic("alice", "alice-password")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    async fn unlock(&self) {
        self.store.set_user_lock(self.alice, None).await.unwrap();
    }

    async fn token_with(&self, authorization: &str) -> (StatusCode, Value) {
        let request = Request::get("/v2/token?service=registry.local&scope=repository:devs/app:pull")
            .header(header::AUTHORIZATION, authorization)
            .body(Body::empty())
            .unwrap();
        send(&self.app, request).await
    }

    async fn refresh_grant(&self, refresh: &str) -> (StatusCode, Value) {
        let body = format!(
            "grant_type=refresh_token&refresh_token={refresh}&service=registry.local&scope=repository%3Adevs%2Fapp%3Apull"
        );
        let request = Request::post("/v2/token")
            .header(header::CONTENT_TYPE, FORM)
            .body(Body::from(body))
            .unwrap();
        send(&self.app, request).await
    }

    /// An API request with `header: value` as the caller's credential.
    async fn api(
        &self,
        method: Method,
        uri: &str,
        credential: (&str, String),
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(credential.0, credential.1);
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty);
        send(&self.app, request.body(body).unwrap()).await
    }

    /// alice's credential in both API header forms: `Authorization: Bearer` and `Portus-Auth`.
    fn api_credentials(&self, token: &str) -> [(&'static str, String); 2] {
        [
            ("authorization", format!("Bearer {token}")),
            ("portus-auth", format!("alice:{token}")),
        ]
    }

    fn next_label(&self) -> String {
        let n = self.minted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        format!("minted-{n}")
    }

    /// Statuses of reading the private namespace and minting an application token, for each
    /// header form.
    async fn api_statuses(&self) -> Vec<(&'static str, StatusCode, StatusCode)> {
        let mut statuses = Vec::new();
        for credential in self.api_credentials(&self.token) {
            let name = credential.0;
            let read = self
                .api(
                    Method::GET,
                    &format!("/api/v1/namespaces/{}", self.devs),
                    credential.clone(),
                    None,
                )
                .await
                .0;
            let mint = self
                .api(
                    Method::POST,
                    &format!("/api/v1/users/{}/application_tokens", self.alice.0),
                    credential,
                    Some(serde_json::json!({"application": self.next_label()})),
                )
                .await
                .0;
            statuses.push((name, read, mint));
        }
        statuses
    }
}

#[tokio::test]
async fn a_refresh_token_issued_before_a_lock_gets_nothing_while_locked() {
    let f = fixture().await;
    assert_eq!(f.refresh_grant(&f.refresh).await.0, StatusCode::OK);

    f.lock_by_failed_logins().await;
    let (status, json) = f.refresh_grant(&f.refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{json}");
    let forged = f.refresh_grant("prt_forged").await;
    assert_eq!((status, json), forged, "indistinguishable from a forged refresh token");

    f.unlock().await;
    assert_eq!(f.refresh_grant(&f.refresh).await.0, StatusCode::OK);
}

#[tokio::test]
async fn an_application_token_of_a_locked_user_gets_no_registry_token() {
    let f = fixture().await;
    let as_password = basic("alice", &f.token);
    assert_eq!(f.token_with(&as_password).await.0, StatusCode::OK);

    f.lock_by_failed_logins().await;
    let refused = f.token_with(&as_password).await;
    assert_eq!(refused.0, StatusCode::UNAUTHORIZED, "{}", refused.1);
    let wrong = f.token_with(&basic("alice", "pat_wrong")).await;
    assert_eq!(refused, wrong, "indistinguishable from a wrong token");

    f.unlock().await;
    assert_eq!(f.token_with(&as_password).await.0, StatusCode::OK);
}

#[tokio::test]
async fn an_application_token_of_a_locked_user_is_refused_by_the_api() {
    let f = fixture().await;
    let ok = vec![
        ("authorization", StatusCode::OK, StatusCode::CREATED),
        ("portus-auth", StatusCode::OK, StatusCode::CREATED),
    ];
    assert_eq!(f.api_statuses().await, ok, "usable before the lock");

    f.lock_by_failed_logins().await;
    let refused = vec![
        ("authorization", StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED),
        ("portus-auth", StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED),
    ];
    assert_eq!(f.api_statuses().await, refused, "no private names, no new tokens");
    // The same answer as a token that does not exist, in both header forms.
    let uri = format!("/api/v1/namespaces/{}", f.devs);
    for (locked, unknown) in f
        .api_credentials(&f.token)
        .into_iter()
        .zip(f.api_credentials("pat_unknown"))
    {
        let name = locked.0;
        assert_eq!(
            f.api(Method::GET, &uri, locked, None).await,
            f.api(Method::GET, &uri, unknown, None).await,
            "{name}"
        );
    }
    assert_eq!(
        f.store.list_app_tokens(f.alice).await.unwrap().len(),
        3,
        "none minted while locked"
    );

    f.unlock().await;
    let (status, _) = f
        .api(Method::GET, &uri, f.api_credentials(&f.token)[0].clone(), None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_application_token_of_a_disabled_user_is_refused_by_the_api_in_both_header_forms() {
    let f = fixture().await;
    f.store.set_user_enabled(f.alice, false).await.unwrap();
    let refused = vec![
        ("authorization", StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED),
        ("portus-auth", StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED),
    ];
    assert_eq!(f.api_statuses().await, refused);
    assert_eq!(
        f.token_with(&basic("alice", &f.token)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(f.refresh_grant(&f.refresh).await.0, StatusCode::UNAUTHORIZED);
    f.store.set_user_enabled(f.alice, true).await.unwrap();
    assert_eq!(f.token_with(&basic("alice", &f.token)).await.0, StatusCode::OK);
}
