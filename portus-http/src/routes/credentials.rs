use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use portus_auth::{Credentials, parse_basic_authorization};

use crate::error::ApiError;

/// Reads HTTP Basic credentials from the `Authorization` header. No header means anonymous;
/// any other scheme or a malformed value is refused with 401.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Result<Credentials, ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(Credentials::Anonymous);
    };
    parse_basic_authorization(value.as_bytes()).map_err(|err| ApiError::unauthorized(err.to_string()))
}

#[cfg(test)]
mod tests {
    use data_encoding::BASE64;

    use super::*;

    fn parse(value: &str) -> Result<Credentials, ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value.parse().unwrap());
        basic_credentials(&headers)
    }

    #[test]
    fn no_header_is_anonymous_and_bad_values_are_401_with_the_reason() {
        assert!(matches!(
            basic_credentials(&HeaderMap::new()).unwrap(),
            Credentials::Anonymous
        ));
        assert!(matches!(parse("Basic YWxpY2U6").unwrap(), Credentials::Password { .. }));
        let malformed = parse("Basic !!!").unwrap_err();
        assert_eq!(
            (malformed.status.as_u16(), malformed.message.as_str()),
            (401, "malformed Basic credentials")
        );
        let bearer = parse("Bearer abc").unwrap_err();
        assert_eq!(
            (bearer.status.as_u16(), bearer.message.as_str()),
            (401, "only Basic authentication is accepted here")
        );
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
