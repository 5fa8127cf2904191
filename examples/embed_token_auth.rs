//! A complete token server for a Distribution registry: `embed_token_auth LISTEN KEY CERT`.
//! The registry's `auth.token`: realm `http://LISTEN/v2/token`, service `registry`, issuer
//! `portus`, rootcertbundle CERT. Then `demo:demo-password` pushes and pulls `demo/*`.
use std::{sync::Arc, time::Duration};

use portus::auth::{SigningKey, TokenIssuer, TokenService, TokenServiceConfig};
use portus::core::{InMemoryStore, StaticAuthenticator, model::NewUser, ops};
use portus::http::{AppState, router};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    // Who exists and what they may do: one user, owner of the personal namespace `demo`.
    let store = Arc::new(InMemoryStore::new());
    let demo = NewUser {
        username: "demo".into(),
        ..NewUser::default()
    };
    ops::users::create(store.as_ref(), None, demo).await?;
    // How callers prove who they are: any `Authenticator`; here a fixed table.
    let passwords = Arc::new(StaticAuthenticator::new([("demo", "demo-password")]));
    // What the registry trusts: tokens signed with KEY, whose certificate is CERT.
    let certificate = std::fs::read_to_string(&args[3])?;
    let key = SigningKey::from_pem_file(args[2].as_ref())?.with_certificate_chain_pem(&certificate)?;
    let issuer = TokenIssuer::new(key, "portus", Duration::from_secs(300), true)?;
    let tokens = TokenService::new(store, vec![passwords], issuer, TokenServiceConfig::new("registry"));
    let app = router(AppState::new(Arc::new(tokens)), Default::default());
    axum::serve(tokio::net::TcpListener::bind(&args[1]).await?, app).await?;
    Ok(())
}
