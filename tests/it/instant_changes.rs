//! Two instances on one PostgreSQL database keep repeated logins' lookups in memory (their
//! change markers moved by LISTEN/NOTIFY): a role change, disabling, a password change and an
//! application token's revocation made through one take effect at once on the other's token
//! requests, although the credential cache and the kept lookups would live for an hour.

use std::sync::Arc;
use std::time::{Duration, Instant};

use portus::auth::password::{APP_TOKEN_PREFIX, LocalAuthenticator, generate_secret, hash_password};
use portus::auth::token::generate_key_and_certificate;
use portus::auth::{
    Credentials, SigningAlgorithm, SigningKey, TokenIssuer, TokenRequest, TokenService, TokenServiceConfig,
};
use portus::core::model::{NewNamespace, NewUser, Role, User, Visibility};
use portus::core::prelude::*;
use portus::core::store::PostgresStore;
use portus::core::store::postgres_testing::fresh_database;
use portus::core::traits::Secret;

const SCOPES: [&str; 1] = ["repository:devs/app:pull,push"];

fn service(store: Arc<PostgresStore>, key_pem: &str) -> TokenService {
    let issuer = TokenIssuer::new(
        SigningKey::from_pem(key_pem).unwrap(),
        "portus.test",
        Duration::from_secs(300),
        false,
    )
    .unwrap();
    let local = LocalAuthenticator::new(store.clone(), 4).unwrap();
    let mut config = TokenServiceConfig::new("registry.local");
    config.credential_cache_ttl = Duration::from_secs(3600);
    TokenService::new(store, vec![Arc::new(local)], issuer, config)
}

fn request(username: &str, secret: &str) -> TokenRequest {
    TokenRequest {
        service: Some("registry.local".into()),
        scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
        account: None,
        credentials: Credentials::Password {
            username: username.into(),
            secret: Secret::new(secret),
        },
        offline: false,
    }
}

/// The actions granted on `devs/app`, or `None` when the request is refused.
async fn granted(svc: &TokenService, username: &str, secret: &str) -> Option<Vec<String>> {
    let grant = svc.issue(request(username, secret)).await.ok()?;
    Some(grant.access.first().map(|a| a.actions.clone()).unwrap_or_default())
}

/// Asks `svc` until it answers `expected` (at most 5 s: the notification's trip, far below the
/// hour the kept answers would otherwise live).
async fn at_once(svc: &TokenService, username: &str, secret: &str, expected: Option<&[&str]>, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = granted(svc, username, secret).await;
        if got
            .as_deref()
            .map(|a| a.iter().map(String::as_str).collect::<Vec<_>>())
            .as_deref()
            == expected
        {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: still {got:?} after 5 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn changes_through_one_instance_count_at_once_on_the_other() {
    let url = fresh_database().await;
    let (key_pem, _) = generate_key_and_certificate(SigningAlgorithm::Es256, "test").unwrap();
    let first = Arc::new(PostgresStore::connect(&url, 4).await.unwrap());
    let second = Arc::new(PostgresStore::connect(&url, 4).await.unwrap());
    let hash = hash_password(&Secret::new("alicepass"), 4).await.unwrap();
    let alice: User = first
        .create_user(NewUser {
            username: "alice".into(),
            password_hash: Some(hash),
            ..NewUser::default()
        })
        .await
        .unwrap();
    let bob = first
        .create_user(NewUser {
            username: "bob".into(),
            ..NewUser::default()
        })
        .await
        .unwrap();
    let team = first.create_team("devs", bob.id, None).await.unwrap();
    first
        .set_team_member(team.id, alice.id, Role::Contributor)
        .await
        .unwrap();
    first
        .create_namespace(NewNamespace {
            name: "devs".into(),
            team_id: team.id,
            visibility: Visibility::Private,
            description: None,
        })
        .await
        .unwrap();
    let token = generate_secret(APP_TOKEN_PREFIX).unwrap();
    first
        .create_app_token(alice.id, "ci", &token.digest, &Default::default())
        .await
        .unwrap();
    let app_token = token.plain.expose().to_owned();

    let on_second = service(second.clone(), &key_pem);
    for _ in 0..3 {
        assert_eq!(
            granted(&on_second, "alice", "alicepass").await.unwrap(),
            ["pull", "push"]
        );
        assert_eq!(
            granted(&on_second, "alice", &app_token).await.unwrap(),
            ["pull", "push"]
        );
    }
    // The listener connects in the background after the first look at the marker; on a busy
    // machine that takes a moment.
    let mut listening = second.change_marker().is_some();
    for _ in 0..100 {
        if listening {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        listening = second.change_marker().is_some();
    }
    assert!(listening, "the second instance keeps lookups (it listens)");

    first.set_team_member(team.id, alice.id, Role::Viewer).await.unwrap();
    at_once(&on_second, "alice", "alicepass", Some(&["pull"]), "a role change").await;

    portus::core::ops::users::set_enabled(first.as_ref(), Some("admin"), &alice, false)
        .await
        .unwrap();
    at_once(&on_second, "alice", "alicepass", None, "disabling").await;
    at_once(&on_second, "alice", &app_token, None, "disabling (application token)").await;
    portus::core::ops::users::set_enabled(first.as_ref(), Some("admin"), &alice, true)
        .await
        .unwrap();
    at_once(&on_second, "alice", "alicepass", Some(&["pull"]), "enabling again").await;

    let new_hash = hash_password(&Secret::new("newpass-123"), 4).await.unwrap();
    portus::core::ops::users::set_password(first.as_ref(), Some("alice"), &alice, Some(new_hash))
        .await
        .unwrap();
    at_once(&on_second, "alice", "alicepass", None, "a password change").await;
    at_once(&on_second, "alice", "newpass-123", Some(&["pull"]), "the new password").await;

    let id = first.list_app_tokens(alice.id).await.unwrap()[0].id;
    first.revoke_app_token(id).await.unwrap();
    at_once(
        &on_second,
        "alice",
        &app_token,
        None,
        "an application token's revocation",
    )
    .await;
}
