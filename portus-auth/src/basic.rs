//! HTTP Basic credentials (`Authorization: Basic base64(user:password)`), as docker, skopeo and
//! the REST API's clients send them.
//!
//! The parser takes the raw header bytes so that everything a client can put on the wire,
//! invalid UTF-8 included, reaches one function (which the fuzz targets drive).

use data_encoding::BASE64;
use portus_core::traits::Secret;

use crate::service::Credentials;

/// Why an `Authorization` value is not usable Basic credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BasicAuthError {
    /// Another scheme (Bearer, Digest, ...).
    #[error("only Basic authentication is accepted here")]
    OtherScheme,
    /// Not `Basic <base64 of user:password>` with a non-empty UTF-8 user name.
    #[error("malformed Basic credentials")]
    Malformed,
}

/// Parses an `Authorization` header value. The user name is everything before the first ':'
/// (so passwords may contain ':'); an empty user name is refused.
pub fn parse_basic_authorization(value: &[u8]) -> Result<Credentials, BasicAuthError> {
    let value = std::str::from_utf8(value).map_err(|_| BasicAuthError::Malformed)?;
    let (scheme, encoded) = value.trim().split_once(' ').ok_or(BasicAuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(BasicAuthError::OtherScheme);
    }
    let decoded = BASE64
        .decode(encoded.trim().as_bytes())
        .map_err(|_| BasicAuthError::Malformed)?;
    let decoded = String::from_utf8(decoded).map_err(|_| BasicAuthError::Malformed)?;
    let (username, password) = decoded.split_once(':').ok_or(BasicAuthError::Malformed)?;
    if username.is_empty() {
        return Err(BasicAuthError::Malformed);
    }
    Ok(Credentials::Password {
        username: username.to_owned(),
        secret: Secret::new(password),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(value: &str) -> (String, String) {
        match parse_basic_authorization(value.as_bytes()).unwrap() {
            Credentials::Password { username, secret } => (username, secret.expose().to_owned()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_basic_credentials() {
        assert_eq!(
            password("Basic YWxpY2U6cHc6d2l0aDpjb2xvbnM="),
            ("alice".into(), "pw:with:colons".into())
        );
        assert_eq!(password("basic YWxpY2U6"), ("alice".into(), String::new()));
        assert_eq!(password("  Basic   YWxpY2U6eA==  "), ("alice".into(), "x".into()));
    }

    #[test]
    fn refuses_malformed_values_and_other_schemes() {
        for value in ["Basic", "Basic !!!", "Basic YWxpY2U=", "Basic OnB3", "Basic /w==", ""] {
            assert_eq!(
                parse_basic_authorization(value.as_bytes()).unwrap_err(),
                BasicAuthError::Malformed,
                "{value}"
            );
        }
        for value in ["Bearer abc", "Digest x"] {
            assert_eq!(
                parse_basic_authorization(value.as_bytes()).unwrap_err(),
                BasicAuthError::OtherScheme,
                "{value}"
            );
        }
        assert_eq!(
            parse_basic_authorization(b"Basic \xff\xfe").unwrap_err(),
            BasicAuthError::Malformed
        );
    }
}
