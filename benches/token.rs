//! Token-path micro-benchmarks: scope parsing, the policy decision, raw signing (RS256,
//! ES256) and a full in-process token request.
//!
//! Run with `cargo bench --bench token`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use portus::auth::password::{APP_TOKEN_PREFIX, generate_secret};
use portus::auth::token::generate_key_and_certificate;
use portus::auth::{
    Credentials, LocalAuthenticator, SigningAlgorithm, SigningKey, TokenIssuer, TokenRequest, TokenService,
    TokenServiceConfig,
};
use portus::core::InMemoryStore;
use portus::core::access::GrantedAccess;
use portus::core::model::{NewNamespace, NewUser, Role, UserId, Visibility};
use portus::core::policy::{Action, Caller, NamespaceFacts, PolicyConfig, authorize};
use portus::core::prelude::*;
use portus::core::scope::parse_scopes;
use portus::core::traits::Authenticator;

fn issuer(algorithm: SigningAlgorithm) -> TokenIssuer {
    let (key_pem, cert_pem) = generate_key_and_certificate(algorithm, "bench").unwrap();
    let key = SigningKey::from_pem(&key_pem)
        .unwrap()
        .with_certificate_chain_pem(&cert_pem)
        .unwrap();
    TokenIssuer::new(key, "portus", Duration::from_secs(900), true).unwrap()
}

fn scope_parsing(c: &mut Criterion) {
    let input = "repository:team-a/service.api:pull,push repository:localhost:5000/base/image:pull registry:catalog:*";
    c.bench_function("scope/parse 3 scopes", |b| {
        b.iter(|| parse_scopes(black_box(input)).unwrap())
    });
}

fn policy_decision(c: &mut Criterion) {
    let caller = Caller::User {
        id: UserId(7),
        admin: false,
    };
    let facts = NamespaceFacts {
        visibility: Visibility::Private,
        global: false,
        role: Some(Role::Contributor),
        personal_of_caller: false,
    };
    let config = PolicyConfig::default();
    c.bench_function("policy/authorize *", |b| {
        b.iter(|| authorize(black_box(caller), Some(black_box(&facts)), Action::All, &config))
    });
}

fn signing(c: &mut Criterion) {
    let access = vec![GrantedAccess {
        resource_type: "repository".into(),
        name: "team-a/service".into(),
        actions: vec!["pull".into(), "push".into()],
    }];
    for (name, algorithm) in [("ES256", SigningAlgorithm::Es256), ("RS256", SigningAlgorithm::Rs256)] {
        let issuer = issuer(algorithm);
        c.bench_function(&format!("sign/raw {name}"), |b| {
            b.iter(|| issuer.key().sign(black_box(b"header.payload")).unwrap())
        });
        c.bench_function(&format!("sign/token {name}"), |b| {
            b.iter(|| issuer.issue(black_box("alice"), "registry", &access).unwrap())
        });
    }
}

fn full_request(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (service, secret) = runtime.block_on(async {
        let store = Arc::new(InMemoryStore::new());
        let alice = store
            .create_user(NewUser {
                username: "alice".into(),
                ..NewUser::default()
            })
            .await
            .unwrap();
        let team = store.create_team("team-a", alice.id, None).await.unwrap();
        store
            .create_namespace(NewNamespace {
                name: "team-a".into(),
                team_id: team.id,
                visibility: Visibility::Private,
                description: None,
            })
            .await
            .unwrap();
        let secret = generate_secret(APP_TOKEN_PREFIX).unwrap();
        store
            .create_app_token(alice.id, "bench", &secret.digest, &Default::default())
            .await
            .unwrap();
        let local: Arc<dyn Authenticator> = Arc::new(LocalAuthenticator::new(store.clone(), 4).unwrap());
        let service = TokenService::new(
            store,
            vec![local],
            issuer(SigningAlgorithm::Es256),
            TokenServiceConfig::new("registry"),
        );
        (service, secret.plain)
    });
    let request = TokenRequest {
        service: Some("registry".into()),
        scopes: vec![
            "repository:team-a/service:pull,push".into(),
            "repository:alice/tools:pull".into(),
        ],
        account: Some("alice".into()),
        credentials: Credentials::Password {
            username: "alice".into(),
            secret,
        },
        offline: false,
    };
    c.bench_function("token/request ES256 app-token, 2 scopes, in-memory store", |b| {
        b.iter(|| runtime.block_on(service.issue(black_box(request.clone()))).unwrap())
    });
}

criterion_group!(benches, scope_parsing, policy_decision, signing, full_request);
criterion_main!(benches);
