//! What the adapter's unit tests share.

use std::time::Duration;

/// The token issuer of the tests: a fresh ES256 key, issuer `portus.test`, 5-minute tokens.
pub(crate) fn test_issuer() -> portus_auth::TokenIssuer {
    use portus_auth::token::generate_key_and_certificate;
    use portus_auth::{SigningAlgorithm, SigningKey, TokenIssuer};
    let (key_pem, _) = generate_key_and_certificate(SigningAlgorithm::Es256, "test").unwrap();
    TokenIssuer::new(
        SigningKey::from_pem(&key_pem).unwrap(),
        "portus.test",
        Duration::from_secs(300),
        false,
    )
    .unwrap()
}
