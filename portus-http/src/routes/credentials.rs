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
}
