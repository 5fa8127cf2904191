//! The REST API (`/api/v1`). Callers authenticate with an application token, as
//! `Authorization: Bearer <token>` or Portus' `Portus-Auth: <user>:<token>`; without either
//! they are anonymous. What a caller may see is decided by the core policy; an object the
//! caller may not see answers exactly like one that does not exist.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portus_core::access::may;
use portus_core::model::TagId;
use portus_core::policy::{Action, Caller};
use portus_core::traits::Secret;
use portus_scan::worker::tag_security;

use super::AppState;
use crate::error::ApiError;

fn unauthorized() -> ApiError {
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        code: "UNAUTHORIZED",
        message: "invalid or missing application token".into(),
        basic_challenge: false,
    }
}

fn not_found(what: &str) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "NOT_FOUND",
        message: format!("no such {what}"),
        basic_challenge: false,
    }
}

/// The caller of an API request.
async fn api_caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let tokens = &state.tokens;
    let user = if let Some(value) = headers.get("portus-auth") {
        let value = value.to_str().map_err(|_| unauthorized())?;
        let (username, token) = value.split_once(':').ok_or_else(unauthorized)?;
        let user = tokens
            .authenticate_app_token(&Secret::new(token))
            .await
            .map_err(|_| unauthorized())?;
        if user.username != username {
            return Err(unauthorized());
        }
        user
    } else if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| unauthorized())?;
        let (scheme, token) = value.trim().split_once(' ').ok_or_else(unauthorized)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(unauthorized());
        }
        tokens
            .authenticate_app_token(&Secret::new(token.trim()))
            .await
            .map_err(|_| unauthorized())?
    } else {
        return Ok(Caller::Anonymous);
    };
    Ok(Caller::User {
        id: user.id,
        admin: user.admin,
    })
}

/// `GET /api/v1/tags/{id}/vulnerabilities`: the tag's findings merged across backends, with
/// each backend's state (pending and failed backends are shown as such, never as clean).
pub async fn tag_vulnerabilities(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = api_caller(&state, &headers).await?;
    let id: i64 = id.parse().map_err(|_| not_found("tag"))?;
    let store = state.tokens.store().as_ref();
    let Some(tag) = store.tag_by_id(TagId(id)).await? else {
        return Err(not_found("tag"));
    };
    if !may(store, caller, &tag.repository, Action::Pull, state.tokens.policy()).await? {
        return Err(not_found("tag"));
    }
    let records = store.scan_records(Some(&tag.manifest.digest)).await?;
    let backends: Vec<&str> = state.scan_backends.iter().map(String::as_str).collect();
    let security = tag_security(&records, &backends);
    let body = serde_json::json!({
        "tag": {"id": tag.id, "repository": tag.repository, "name": tag.name, "digest": tag.manifest.digest},
        "security": security,
    });
    Ok(Json(body).into_response())
}
