use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use data_encoding::BASE64;
use portus_auth::Credentials;
use portus_core::traits::Secret;

use crate::error::ApiError;

/// Reads HTTP Basic credentials from the `Authorization` header. No header means anonymous;
/// any other scheme or a malformed value is refused with 401.
pub fn basic_credentials(headers: &HeaderMap) -> Result<Credentials, ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(Credentials::Anonymous);
    };
    let malformed = || ApiError::unauthorized("malformed Basic credentials");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, encoded) = value.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ApiError::unauthorized("only Basic authentication is accepted here"));
    }
    let decoded = BASE64.decode(encoded.trim().as_bytes()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (username, password) = decoded.split_once(':').ok_or_else(malformed)?;
    if username.is_empty() {
        return Err(malformed());
    }
    Ok(Credentials::Password {
        username: username.to_owned(),
        secret: Secret::new(password),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<Credentials, ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value.parse().unwrap());
        basic_credentials(&headers)
    }

    #[test]
    fn parses_basic_credentials() {
        match parse("Basic YWxpY2U6cHc6d2l0aDpjb2xvbnM=").unwrap() {
            Credentials::Password { username, secret } => {
                assert_eq!(username, "alice");
                assert_eq!(secret.expose(), "pw:with:colons");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse("basic YWxpY2U6").unwrap(), Credentials::Password { .. }));
        assert!(matches!(
            basic_credentials(&HeaderMap::new()).unwrap(),
            Credentials::Anonymous
        ));
    }

    #[test]
    fn refuses_malformed_or_other_schemes() {
        for value in [
            "Basic",
            "Basic !!!",
            "Basic YWxpY2U=",
            "Basic OnB3",
            "Basic /w==",
            "Bearer abc",
            "Digest x",
        ] {
            let err = parse(value).unwrap_err();
            assert_eq!(err.status, 401, "{value}");
        }
    }

    proptest::proptest! {
        /// Any header value: anonymous, credentials or a 401, never a panic.
        #[test]
        fn arbitrary_header_values_never_panic(value in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            if let Ok(value) = axum::http::HeaderValue::from_bytes(&value) {
                let mut headers = HeaderMap::new();
                headers.insert(AUTHORIZATION, value);
                if let Err(err) = basic_credentials(&headers) {
                    proptest::prop_assert_eq!(err.status, 401);
                }
            }
        }

        /// What a client encodes is what comes out: user names without ':', any password.
        #[test]
        fn encoded_credentials_round_trip(username in "[^:\\x00-\\x1f]{1,40}", password in "[^\\x00-\\x1f]{0,60}") {
            let value = format!("Basic {}", BASE64.encode(format!("{username}:{password}").as_bytes()));
            match parse(&value).unwrap() {
                Credentials::Password { username: u, secret } => {
                    proptest::prop_assert_eq!(u, username);
                    proptest::prop_assert_eq!(secret.expose(), password.as_str());
                }
                other => proptest::prop_assert!(false, "{other:?}"),
            }
        }
    }
}
