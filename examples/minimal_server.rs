//! A minimal embedding of portus: an in-memory policy store, an authenticator over a fixed
//! table (`StaticAuthenticator`; any `Authenticator` implementation fits) and the
//! axum token endpoint, in one small program.
//!
//! ```text
//! cargo run --example minimal_server -- 127.0.0.1:5001
//! curl -u demo:demo 'http://127.0.0.1:5001/v2/token?service=example-registry&scope=repository:demo/app:pull,push'
//! ```

use std::sync::Arc;
use std::time::Duration;

use portus::auth::token::generate_key_and_certificate;
use portus::auth::{SigningAlgorithm, SigningKey, TokenIssuer, TokenService, TokenServiceConfig};
use portus::core::model::NewUser;
use portus::core::prelude::*;
use portus::core::{InMemoryStore, StaticAuthenticator};
use portus::http::{AppState, router};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listen = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:5001".into());

    // Users the authenticator accepts must exist in the policy store, which decides access.
    let store = Arc::new(InMemoryStore::new());
    store
        .create_user(NewUser {
            username: "demo".into(),
            ..NewUser::default()
        })
        .await?;
    // Checks passwords against a fixed table, e.g. one loaded from the embedding program's own
    // configuration, in constant time; any `Authenticator` implementation fits here.
    let authenticator = StaticAuthenticator::new([("demo", "demo")]);

    // A fresh ES256 key; a real deployment loads its key with `SigningKey::from_pem_file` and
    // gives the registry the matching certificate as `rootcertbundle`.
    let (key_pem, cert_pem) = generate_key_and_certificate(SigningAlgorithm::Es256, "example")?;
    let key = SigningKey::from_pem(&key_pem)?.with_certificate_chain_pem(&cert_pem)?;
    let issuer = TokenIssuer::new(key, "example-issuer", Duration::from_secs(300), true)?;

    let tokens = TokenService::new(
        store,
        vec![Arc::new(authenticator)],
        issuer,
        TokenServiceConfig::new("example-registry"),
    );
    // No registry notifications in this example: the webhook endpoint answers 404.
    let app = router(AppState::new(Arc::new(tokens)), Default::default());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
