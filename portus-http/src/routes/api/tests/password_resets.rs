//! `POST /api/v1/password_resets` and `/password_resets/{token}`: the same answer for every
//! address, a single-use link stored hashed, only with `[email]`; display names.

use std::time::Duration;

use portus_auth::password::{hash_password, secret_digest, verify_password};
use portus_core::traits::Secret;

use super::*;
use crate::mail::{InMemoryMailer, PasswordResets};

struct Resets {
    app: axum::Router,
    store: Arc<InMemoryStore>,
    mailer: Arc<InMemoryMailer>,
}

/// alice (local password, e-mail), ldap-user (e-mail, no password), ci (a bot), carol
/// (disabled); with `[email]` when `email`.
async fn installation(email: bool) -> Resets {
    let store = Arc::new(InMemoryStore::new());
    let hash = hash_password(&Secret::new("old-password"), 4).await.unwrap();
    for (name, password, bot) in [
        ("alice", Some(hash.clone()), false),
        ("ldap-user", None, false),
        ("ci", None, true),
        ("carol", Some(hash.clone()), false),
    ] {
        store
            .create_user(NewUser {
                username: name.into(),
                email: Some(format!("{name}@example.org")),
                password_hash: password,
                bot,
                ..NewUser::default()
            })
            .await
            .unwrap();
    }
    let carol = store.user_by_name("carol").await.unwrap().unwrap();
    store.set_user_enabled(carol.id, false).await.unwrap();
    let service = TokenService::new(
        store.clone(),
        vec![],
        crate::test_support::test_issuer(),
        TokenServiceConfig::new("registry.local"),
    );
    let mailer = Arc::new(InMemoryMailer::new());
    let mut state = AppState::new(Arc::new(service));
    state.bcrypt_cost = 4;
    if email {
        state.password_resets = Some(PasswordResets::new(mailer.clone(), "https://portus.example"));
    }
    Resets {
        app: router(state, HttpLimits::default()),
        store,
        mailer,
    }
}

async fn post(app: &axum::Router, uri: &str, body: Value) -> (StatusCode, String) {
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

fn token_of(body: &str) -> String {
    let start = body.find("/password_reset/").expect("a link") + "/password_reset/".len();
    body[start..].split_whitespace().next().unwrap().to_owned()
}

#[tokio::test]
async fn every_address_gets_the_same_answer_and_only_alice_a_link() {
    let resets = installation(true).await;
    let (status, answer) = post(
        &resets.app,
        "/api/v1/password_resets",
        json!({"email": "ALICE@example.org"}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    for other in [
        "nobody@example.org",
        "ldap-user@example.org",
        "ci@example.org",
        "carol@example.org",
    ] {
        let (other_status, other_answer) = post(&resets.app, "/api/v1/password_resets", json!({"email": other})).await;
        assert_eq!(
            (other_status, other_answer.as_str()),
            (status, answer.as_str()),
            "{other}"
        );
    }
    let sent = resets.mailer.wait_for(2, Duration::from_millis(500)).await;
    assert_eq!(sent.len(), 1, "one link, to alice only: {sent:?}");
    assert_eq!(sent[0].to, "alice@example.org");
    assert!(sent[0].body.contains("https://portus.example/password_reset/"));
    assert!(sent[0].body.contains("alice"));

    // Stored hashed: the token itself finds nothing, its digest does.
    let token = token_of(&sent[0].body);
    assert!(token.len() >= 43, "at least 256 bits: {token}");
    assert_eq!(
        resets
            .store
            .take_password_reset(&token, portus_core::model::now())
            .await
            .unwrap(),
        None
    );
    let digest = secret_digest(&Secret::new(token.clone()));
    assert!(
        resets
            .store
            .take_password_reset(&digest, portus_core::model::now())
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn a_link_sets_the_password_once_and_a_newer_one_replaces_it() {
    let resets = installation(true).await;
    let ask = || {
        post(
            &resets.app,
            "/api/v1/password_resets",
            json!({"email": "alice@example.org"}),
        )
    };
    ask().await;
    let first = token_of(&resets.mailer.wait_for(1, Duration::from_secs(5)).await[0].body);
    ask().await;
    let second = token_of(&resets.mailer.wait_for(2, Duration::from_secs(5)).await[1].body);
    assert_ne!(first, second);

    let set = |token: String, password: &'static str| {
        let app = resets.app.clone();
        async move {
            post(
                &app,
                &format!("/api/v1/password_resets/{token}"),
                json!({"password": password}),
            )
            .await
        }
    };
    let (status, body) = set(first.clone(), "new-password").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the older link died with the newer request: {body}"
    );
    let (status, body) = set(second.clone(), "short").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = set(second.clone(), &*"x".repeat(73).leak()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = set(second.clone(), "new-password").await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "a refused password did not use the link up: {body}"
    );
    let alice = resets.store.user_by_name("alice").await.unwrap().unwrap();
    assert!(verify_password(&Secret::new("new-password"), alice.password_hash.as_ref().unwrap()).await);
    let (status, used) = set(second, "other-password").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "once");
    let (_, unknown) = set("not-a-token".into(), "other-password").await;
    assert_eq!(used, unknown, "a used link answers like an unknown one");
}

#[tokio::test]
async fn requests_per_address_are_limited_with_the_same_answer() {
    let resets = installation(true).await;
    let mut answers = Vec::new();
    for _ in 0..crate::mail::RATE_LIMIT + 2 {
        answers.push(
            post(
                &resets.app,
                "/api/v1/password_resets",
                json!({"email": "alice@example.org"}),
            )
            .await,
        );
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]));
    let sent = resets.mailer.wait_for(10, Duration::from_millis(500)).await;
    assert_eq!(sent.len(), crate::mail::RATE_LIMIT as usize);
}

#[tokio::test]
async fn without_email_the_endpoints_do_not_exist() {
    let resets = installation(false).await;
    let (status, _) = post(
        &resets.app,
        "/api/v1/password_resets",
        json!({"email": "alice@example.org"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post(
        &resets.app,
        "/api/v1/password_resets/x",
        json!({"password": "new-password"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post(&resets.app, "/api/v1/password_resets", json!({"email": "no address"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not even a malformed request is judged");
    assert!(resets.mailer.wait_for(1, Duration::from_millis(200)).await.is_empty());
}

#[tokio::test]
async fn malformed_requests_are_refused() {
    let resets = installation(true).await;
    for bad in [
        json!({"email": "no-at-sign"}),
        json!({"email": "a b@example.org"}),
        json!({"mail": "a@b"}),
    ] {
        let (status, body) = post(&resets.app, "/api/v1/password_resets", bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}

#[tokio::test]
async fn display_names_change_without_a_password_and_stay_unique() {
    let f = fixture(Options::default()).await;
    let alice = format!("/api/v1/users/{}", f.id("alice"));
    let bob = format!("/api/v1/users/{}", f.id("bob"));
    let (status, answer) = f
        .call(
            Method::PUT,
            &alice,
            Some("alice"),
            Some(json!({"display_name": " Alice A. "})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["display_name"], "Alice A.");
    assert_eq!(answer["display_username"], "Alice A.");
    let (status, answer) = f
        .call(
            Method::PUT,
            &bob,
            Some("bob"),
            Some(json!({"display_name": "Alice A.", "email": "b@example.org"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the e-mail still needs the password: {answer}"
    );
    let (status, answer) = f
        .call(
            Method::PUT,
            &bob,
            Some("bob"),
            Some(json!({"display_name": "Alice A."})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    let (status, _) = f
        .call(Method::PUT, &bob, Some("alice"), Some(json!({"display_name": "B"})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not someone else's: they are hidden");
    let (status, answer) = f
        .call(Method::PUT, &alice, Some("alice"), Some(json!({"display_name": null})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["display_name"], Value::Null);
    let actions: Vec<String> = f
        .store
        .activities(&portus_core::model::ActivityFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action.as_str().to_owned())
        .collect();
    assert_eq!(actions.iter().filter(|a| *a == "user.display_name").count(), 2);
}
