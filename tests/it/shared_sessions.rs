//! Web sessions live in the policy store: two instances (two app states and routers) on one
//! PostgreSQL database serve each other's sessions, a disabled user's session is refused on
//! every instance at once, and a restart (a new app state) signs nobody out.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use portus::auth::password::{LocalAuthenticator, hash_password};
use portus::auth::token::generate_key_and_certificate;
use portus::auth::{SigningAlgorithm, SigningKey, TokenIssuer, TokenService, TokenServiceConfig};
use portus::core::model::{NewUser, User};
use portus::core::prelude::*;
use portus::core::store::PostgresStore;
use portus::core::store::postgres_testing::fresh_database;
use portus::core::traits::Secret;
use portus::http::web::WebConfig;
use portus::http::web::testing::{self, Page, request};
use portus::http::{AppState, HttpLimits, router_with_web};

/// One `portus serve` instance on the database at `url`: its own pool, token service and
/// router, as a separate process would have, sharing only the database and the signing key.
async fn instance(url: &str, key_pem: &str) -> (axum::Router, Arc<PostgresStore>) {
    let store = Arc::new(PostgresStore::connect(url, 4).await.unwrap());
    let issuer = TokenIssuer::new(
        SigningKey::from_pem(key_pem).unwrap(),
        "portus.test",
        Duration::from_secs(300),
        false,
    )
    .unwrap();
    let local = LocalAuthenticator::new(store.clone(), 4).unwrap();
    let service = TokenService::new(
        store.clone(),
        vec![Arc::new(local)],
        issuer,
        TokenServiceConfig::new("registry.local"),
    );
    let mut state = AppState::new(Arc::new(service));
    state.bcrypt_cost = 4;
    let web = WebConfig {
        secure_cookies: false,
        ..WebConfig::default()
    };
    (router_with_web(state, HttpLimits::default(), web), store)
}

/// Signs `name` in through `app`; returns the `portus_session=...` cookie.
async fn sign_in(app: &axum::Router, name: &str) -> String {
    testing::sign_in(app, name, &format!("{name}-password"))
        .await
        .unwrap_or_else(|page| panic!("{} {}", page.status, page.body))
}

async fn user(store: &PostgresStore, name: &str) -> User {
    let hash = hash_password(&Secret::new(format!("{name}-password")), 4)
        .await
        .unwrap();
    store
        .create_user(NewUser {
            username: name.into(),
            password_hash: Some(hash),
            ..NewUser::default()
        })
        .await
        .unwrap()
}

fn signed_in_as(page: &Page, name: &str) -> bool {
    page.status == StatusCode::OK && page.body.contains(name)
}

#[tokio::test]
async fn two_instances_share_sessions_and_a_disabled_user_is_refused_on_both_at_once() {
    let url = fresh_database().await;
    let (key_pem, _) = generate_key_and_certificate(SigningAlgorithm::Es256, "test").unwrap();
    let (first, first_store) = instance(&url, &key_pem).await;
    let (second, _) = instance(&url, &key_pem).await;
    let alice = user(&first_store, "alice").await;

    // Signed in through the first, the session works on the second: a page, and a form whose
    // CSRF token the second checks (a new application token).
    let session = sign_in(&first, "alice").await;
    let dashboard = request(&second, Method::GET, "/", &[&session], None).await;
    assert!(
        signed_in_as(&dashboard, "alice"),
        "{} {}",
        dashboard.status,
        dashboard.body
    );
    let tokens = request(&second, Method::GET, "/tokens", &[&session], None).await;
    assert_eq!(tokens.status, StatusCode::OK);
    let forged = request(
        &second,
        Method::POST,
        "/tokens",
        &[&session],
        Some("csrf=forged&application=ci"),
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "the CSRF token is checked");
    let form = format!("csrf={}&application=ci", tokens.csrf());
    let created = request(&second, Method::POST, "/tokens", &[&session], Some(&form)).await;
    assert!(
        created.status.is_success() || created.status.is_redirection(),
        "{} {}",
        created.status,
        created.body
    );
    assert_eq!(
        first_store.list_app_tokens(alice.id).await.unwrap().len(),
        1,
        "the form's change was made"
    );
    // The first instance's CSRF token is the second's: the same form posted to the first works.
    let form = format!("csrf={}&application=ci2", tokens.csrf());
    let created = request(&first, Method::POST, "/tokens", &[&session], Some(&form)).await;
    assert!(
        created.status.is_success() || created.status.is_redirection(),
        "{}",
        created.status
    );

    // A restart (a new app state on the same database) keeps alice signed in.
    drop(first);
    let (restarted, restarted_store) = instance(&url, &key_pem).await;
    let again = request(&restarted, Method::GET, "/", &[&session], None).await;
    assert!(signed_in_as(&again, "alice"), "{}", again.status);

    // Disabled through one instance: the other refuses the session at once.
    portus::core::ops::users::set_enabled(restarted_store.as_ref(), Some("admin"), &alice, false)
        .await
        .unwrap();
    let refused = request(&second, Method::GET, "/", &[&session], None).await;
    assert_eq!(refused.status, StatusCode::SEE_OTHER);
    assert_eq!(refused.location.as_deref(), Some("/sign_in"));
    let refused = request(&restarted, Method::GET, "/tokens", &[&session], None).await;
    assert_eq!(refused.location.as_deref(), Some("/sign_in"));
    // Enabled again, the old session stays ended: disabling ended it in the store.
    portus::core::ops::users::set_enabled(restarted_store.as_ref(), Some("admin"), &alice, true)
        .await
        .unwrap();
    let still = request(&second, Method::GET, "/", &[&session], None).await;
    assert_eq!(still.location.as_deref(), Some("/sign_in"));
}

#[tokio::test]
async fn a_password_change_through_one_instance_ends_the_sessions_on_the_other() {
    let url = fresh_database().await;
    let (key_pem, _) = generate_key_and_certificate(SigningAlgorithm::Es256, "test").unwrap();
    let (first, first_store) = instance(&url, &key_pem).await;
    let (second, _) = instance(&url, &key_pem).await;
    let alice = user(&first_store, "alice").await;
    let on_first = sign_in(&first, "alice").await;
    let on_second = sign_in(&second, "alice").await;
    let hash = hash_password(&Secret::new("new-password"), 4).await.unwrap();
    portus::core::ops::users::set_password(first_store.as_ref(), Some("alice"), &alice, Some(hash))
        .await
        .unwrap();
    for session in [&on_first, &on_second] {
        for app in [&first, &second] {
            let page = request(app, Method::GET, "/", &[session], None).await;
            assert_eq!(page.location.as_deref(), Some("/sign_in"));
        }
    }
}
