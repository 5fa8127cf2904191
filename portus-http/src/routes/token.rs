//! `GET /v2/token`, OAuth2 `POST /v2/token` and `GET /v2/`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use chrono::SecondsFormat;
use portus_auth::{Credentials, TokenGrant, TokenRequest};
use portus_core::traits::Secret;

use super::basic_credentials;
use crate::error::ApiError;
use crate::metrics::{TokenOutcome, refusal_reason};
use crate::state::AppState;

/// The token answer: `{"token", "access_token", "expires_in", "issued_at"}`, plus
/// `refresh_token` and (OAuth2 only) `scope` when there are any.
///
/// Written by hand rather than through a derived `Serialize`: the token is most of the body
/// and appears twice, and serde escapes each copy byte by byte, though a compact JWS (base64url
/// and dots) never needs escaping. The token path's profile showed it (3 % of the server's
/// time); [`push_json_string`] still escapes anything that is not plain.
fn token_response(grant: TokenGrant, with_scope: bool) -> Response {
    let token = &grant.token.token;
    let mut body = String::with_capacity(2 * token.len() + 160);
    body.push_str("{\"token\":");
    push_json_string(&mut body, token);
    body.push_str(",\"access_token\":");
    push_json_string(&mut body, token);
    body.push_str(",\"expires_in\":");
    body.push_str(&grant.token.expires_in.to_string());
    body.push_str(",\"issued_at\":\"");
    body.push_str(&grant.token.issued_at.to_rfc3339_opts(SecondsFormat::Secs, true));
    body.push('"');
    if let Some(refresh_token) = &grant.refresh_token {
        body.push_str(",\"refresh_token\":");
        push_json_string(&mut body, refresh_token.expose());
    }
    if with_scope {
        let scope = grant
            .access
            .iter()
            .flat_map(|a| a.scope_strings())
            .collect::<Vec<_>>()
            .join(" ");
        body.push_str(",\"scope\":");
        push_json_string(&mut body, &scope);
    }
    body.push('}');
    // Tokens are credentials: no cache may keep them.
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Appends `value` as a JSON string: as it is when nothing in it needs escaping (no quote,
/// backslash or control character), else escaped by serde.
fn push_json_string(out: &mut String, value: &str) {
    // A fold rather than `any`: without the early exit the compiler checks many bytes at once,
    // and a JWS has none to find.
    let needs_escaping = value
        .bytes()
        .fold(false, |found, b| found | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if needs_escaping {
        out.push_str(&serde_json::to_string(value).expect("a string always serializes"));
    } else {
        out.push('"');
        out.push_str(value);
        out.push('"');
    }
}

/// Collected form or query parameters; `scope` may repeat.
#[derive(Default)]
struct Params {
    single: Vec<(String, String)>,
    scopes: Vec<String>,
}

impl Params {
    fn parse(encoded: &[u8]) -> Result<Self, ApiError> {
        let mut params = Params::default();
        for (key, value) in url::form_urlencoded::parse(encoded) {
            if key == "scope" {
                params.scopes.push(value.into_owned());
            } else if params.single.iter().any(|(k, _)| *k == key) {
                return Err(ApiError::bad_request(format!("parameter '{key}' given more than once")));
            } else {
                params.single.push((key.into_owned(), value.into_owned()));
            }
        }
        Ok(params)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.single.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Logs why a token request was refused, at `info`: a registry client shows its user only a
/// bare status, the reason is in the response body alone. Refused credentials are logged
/// where they are judged, with their reason (never the secret).
fn log_refusal(error: &portus_auth::Error) {
    if !matches!(error, portus_auth::Error::InvalidCredentials) {
        tracing::info!(reason = %error, "token request refused");
    }
}

/// `GET /v2/token?service=&scope=&account=&offline_token=`, with optional Basic credentials.
///
/// The query and headers are read from the request in place (`RawQuery` and `HeaderMap`
/// extractors would copy them, on the busiest route).
pub(super) async fn get_token(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let query = request.uri().query().unwrap_or_default();
    let result = get_token_counted(&state, query, request.headers()).await;
    counted(&state, result)
}

async fn get_token_counted(
    state: &AppState,
    query: &str,
    headers: &HeaderMap,
) -> Result<(Response, TokenOutcome), (ApiError, &'static str)> {
    let params = Params::parse(query.as_bytes()).map_err(invalid_request)?;
    let credentials = basic_credentials(headers).map_err(|e| (e, "invalid_credentials"))?;
    let requested = requested_actions(&params.scopes);
    let request = TokenRequest {
        service: params.get("service").map(str::to_owned),
        account: params.get("account").map(str::to_owned),
        offline: params.get("offline_token") == Some("true"),
        scopes: params.scopes,
        credentials,
    };
    let grant = state.tokens.issue(request).await.map_err(refused)?;
    let outcome = outcome_of(requested, &grant);
    Ok((token_response(grant, false), outcome))
}

/// Counts a token request's outcome (when metrics are on) and gives its answer.
fn counted(
    state: &AppState,
    result: Result<(Response, TokenOutcome), (ApiError, &'static str)>,
) -> Result<Response, ApiError> {
    let (answer, outcome) = match result {
        Ok((response, outcome)) => (Ok(response), outcome),
        Err((error, reason)) => (Err(error), TokenOutcome::Denied(reason)),
    };
    if let Some(metrics) = &state.metrics {
        metrics.token_request(outcome);
    }
    answer
}

fn invalid_request(error: ApiError) -> (ApiError, &'static str) {
    (error, "invalid_request")
}

/// A refusal of the token service: logged, answered, counted by its reason.
fn refused(error: portus_auth::Error) -> (ApiError, &'static str) {
    log_refusal(&error);
    let reason = refusal_reason(&error);
    (error.into(), reason)
}

/// How many actions the raw `scope` parameters ask for (`repository:a/b:pull,push` asks
/// two); counted without allocating.
fn requested_actions(scopes: &[String]) -> usize {
    scopes
        .iter()
        .flat_map(|raw| raw.split(' '))
        .filter(|scope| !scope.is_empty())
        .map(|scope| {
            scope
                .rsplit_once(':')
                .map_or(0, |(_, actions)| actions.split(',').filter(|a| !a.is_empty()).count())
        })
        .sum()
}

/// Granted in full, partially, or nothing of what was asked.
fn outcome_of(requested: usize, grant: &TokenGrant) -> TokenOutcome {
    let granted: usize = grant.access.iter().map(|a| a.actions.len()).sum();
    if granted >= requested {
        TokenOutcome::Granted
    } else if granted == 0 {
        TokenOutcome::NothingGranted
    } else {
        TokenOutcome::Partially
    }
}

/// OAuth2 `POST /v2/token` (form-encoded): `grant_type=password` or `grant_type=refresh_token`.
pub(super) async fn post_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let result = post_token_counted(&state, &headers, &body).await;
    counted(&state, result)
}

async fn post_token_counted(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Response, TokenOutcome), (ApiError, &'static str)> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    {
        return Err(invalid_request(ApiError {
            status: axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "INVALID_REQUEST",
            message: "the body must be application/x-www-form-urlencoded".into(),
            basic_challenge: false,
        }));
    }
    let params = Params::parse(body).map_err(invalid_request)?;
    let requested = requested_actions(&params.scopes);
    let service = params.get("service").map(str::to_owned);
    // OAuth2 sends all scopes in one space-separated parameter; more than one is tolerated.
    let scopes = params.scopes.clone();

    let required = |name: &str| {
        params
            .get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid_request(ApiError::bad_request(format!("missing parameter '{name}'"))))
    };
    let grant = match params.get("grant_type") {
        Some("password") => {
            let credentials = Credentials::Password {
                username: required("username")?.to_owned(),
                secret: Secret::new(required("password")?),
            };
            let request = TokenRequest {
                service,
                scopes,
                account: None,
                credentials,
                offline: params.get("access_type") == Some("offline"),
            };
            state.tokens.issue(request).await.map_err(refused)?
        }
        Some("refresh_token") => {
            let refresh = Secret::new(required("refresh_token")?);
            state
                .tokens
                .refresh(&refresh, service.as_deref(), &scopes)
                .await
                .map_err(refused)?
        }
        Some(other) => {
            return Err(invalid_request(ApiError::bad_request(format!(
                "unsupported grant_type '{other}' (expected password or refresh_token)"
            ))));
        }
        None => return Err(invalid_request(ApiError::bad_request("missing parameter 'grant_type'"))),
    };
    let outcome = outcome_of(requested, &grant);
    Ok((token_response(grant, true), outcome))
}

/// `GET /v2/`: 200 for valid credentials, 401 with a Basic challenge otherwise.
pub(super) async fn ping(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    match basic_credentials(&headers)? {
        Credentials::Anonymous => Err(ApiError::unauthorized("authentication required")),
        Credentials::Password { username, secret } => {
            let (user, method) = state.tokens.authenticate(&username, &secret).await?;
            state.tokens.check_docker_login_method(&user, &method)?;
            Ok(Json(serde_json::json!({})).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        /// Whatever the string, what is written reads back as that string.
        #[test]
        fn json_strings_read_back_as_written(value in proptest::prelude::any::<String>()) {
            let mut out = String::new();
            super::push_json_string(&mut out, &value);
            proptest::prop_assert_eq!(serde_json::from_str::<String>(&out).unwrap(), value);
        }
    }

    #[test]
    fn strings_that_need_escaping_are_escaped() {
        for (value, written) in [
            ("eyJ0.eyJ1-_.sig", r#""eyJ0.eyJ1-_.sig""#),
            ("a\"b", r#""a\"b""#),
            ("back\\slash", r#""back\\slash""#),
            ("line\nbreak", r#""line\nbreak""#),
        ] {
            let mut out = String::new();
            super::push_json_string(&mut out, value);
            assert_eq!(out, written);
        }
    }

    #[test]
    fn requested_actions_are_counted_per_scope() {
        let count =
            |scopes: &[&str]| super::requested_actions(&scopes.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(count(&["repository:a/b:pull,push"]), 2);
        assert_eq!(count(&["repository:a/b:pull repository:c:*", "registry:catalog:*"]), 3);
        assert_eq!(count(&["", "repository:a/b:"]), 0);
    }
}
