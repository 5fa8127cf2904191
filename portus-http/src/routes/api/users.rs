//! Users and their application tokens.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use portus_auth::password::{APP_TOKEN_PREFIX, generate_secret, hash_password};
use portus_core::model::{AppTokenId, NewUser, User, UserId};
use portus_core::traits::Secret;
use portus_core::{ops, permissions};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiCaller, JsonBody, PageQuery, check, created, no_content, not_found, parse_id};
use crate::error::ApiError;
use crate::state::AppState;

/// The JSON shape of a user.
pub(super) fn view(user: &User) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        // Portus' clients print this; without display names it is the user name.
        "display_username": user.username,
        "email": user.email,
        "admin": user.admin,
        "enabled": user.enabled,
        "locked": user.is_locked(portus_core::model::now()),
        "namespace_id": user.personal_namespace,
        "created_at": user.created_at,
    })
}

async fn load(state: &AppState, raw: &str) -> Result<User, ApiError> {
    let id = UserId(parse_id(raw, "user")?);
    state.store.user_by_id(id).await?.ok_or_else(|| not_found("user"))
}

/// `GET /api/v1/users`.
pub(super) async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    page: PageQuery,
) -> Result<Response, ApiError> {
    caller.user()?;
    if !caller.caller.is_admin() {
        return Err(super::forbidden("only administrators list users"));
    }
    let users: Vec<Value> = state.store.list_users().await?.iter().map(view).collect();
    page.0.respond("/api/v1/users", users)
}

/// Body of `POST /api/v1/users`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewUserBody {
    username: String,
    email: Option<String>,
    password: Option<String>,
    #[serde(default)]
    admin: bool,
}

super::request_bodies! {
    NewUserBody => Some("user");
    UpdateUserBody => Some("user");
    NewTokenBody => None;
}

/// `POST /api/v1/users`.
pub(super) async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    JsonBody(body): JsonBody<NewUserBody>,
) -> Result<Response, ApiError> {
    caller.user()?;
    if !caller.caller.is_admin() {
        return Err(super::forbidden("only administrators create users"));
    }
    let password_hash = match body.password {
        Some(password) => Some(hash_password(&Secret::new(password), state.bcrypt_cost).await?),
        None => None,
    };
    let new = NewUser {
        username: body.username,
        email: body.email,
        admin: body.admin,
        password_hash,
    };
    let user = ops::users::create(state.store.as_ref(), caller.actor(), new).await?;
    Ok(created(view(&user)))
}

/// `GET /api/v1/users/{id}`.
pub(super) async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.user()?;
    let user = load(&state, &id).await?;
    check(permissions::view_user(caller.caller, user.id), "user")?;
    Ok(Json(view(&user)))
}

/// Body of `PUT /api/v1/users/{id}`; absent fields stay as they are.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateUserBody {
    #[serde(default, with = "serde_with_null")]
    email: Option<Option<String>>,
    password: Option<String>,
    admin: Option<bool>,
    enabled: Option<bool>,
    /// `false` unlocks a locked account.
    locked: Option<bool>,
}

/// Distinguishes an absent field from an explicit `null`.
mod serde_with_null {
    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// `PUT /api/v1/users/{id}`.
pub(super) async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateUserBody>,
) -> Result<Json<Value>, ApiError> {
    caller.user()?;
    let user = load(&state, &id).await?;
    check(permissions::edit_user(caller.caller, user.id), "user")?;
    if body.admin.is_some() || body.enabled.is_some() || body.locked.is_some() {
        check(permissions::administer_user(caller.caller, user.id), "user")?;
    }
    if body.locked == Some(true) {
        return Err(ApiError::bad_request(
            "accounts are locked by failed logins, not by request; disable the user instead",
        ));
    }
    // Everything is validated before anything changes.
    let password_hash = match &body.password {
        Some(password) => Some(hash_password(&Secret::new(password.clone()), state.bcrypt_cost).await?),
        None => None,
    };
    let store = state.store.as_ref();
    let actor = caller.actor();
    if let Some(email) = body.email {
        ops::users::set_email(store, actor, &user, email).await?;
    }
    if let Some(hash) = password_hash {
        ops::users::set_password(store, actor, &user, Some(hash)).await?;
    }
    if let Some(admin) = body.admin {
        ops::users::set_admin(store, actor, &user, admin).await?;
    }
    if let Some(enabled) = body.enabled {
        ops::users::set_enabled(store, actor, &user, enabled).await?;
    }
    if body.locked == Some(false) {
        ops::users::unlock(store, actor, &user).await?;
    }
    let user = store.user_by_id(user.id).await?.ok_or_else(|| not_found("user"))?;
    Ok(Json(view(&user)))
}

/// `DELETE /api/v1/users/{id}`.
pub(super) async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.user()?;
    let user = load(&state, &id).await?;
    check(permissions::administer_user(caller.caller, user.id), "user")?;
    ops::users::delete(state.store.as_ref(), caller.actor(), &user).await?;
    Ok(no_content())
}

async fn token_owner(state: &AppState, caller: &ApiCaller, raw: &str) -> Result<User, ApiError> {
    caller.user()?;
    let owner = load(state, raw).await?;
    check(permissions::manage_tokens(caller.caller, owner.id), "user")?;
    Ok(owner)
}

/// `GET /api/v1/users/{id}/application_tokens`.
pub(super) async fn list_tokens(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    page: PageQuery,
) -> Result<Response, ApiError> {
    let owner = token_owner(&state, &caller, &id).await?;
    let tokens: Vec<Value> = state
        .store
        .list_app_tokens(owner.id)
        .await?
        .into_iter()
        .map(|t| json!({"id": t.id, "application": t.label, "created_at": t.created_at}))
        .collect();
    page.0.respond_all(tokens)
}

/// Body of `POST /api/v1/users/{id}/application_tokens`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewTokenBody {
    application: String,
}

/// `POST /api/v1/users/{id}/application_tokens`: the secret is in the answer, and nowhere else.
pub(super) async fn create_token(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<NewTokenBody>,
) -> Result<Response, ApiError> {
    let owner = token_owner(&state, &caller, &id).await?;
    let secret = generate_secret(APP_TOKEN_PREFIX)?;
    let store = state.store.as_ref();
    let token = ops::tokens::create(store, caller.actor(), &owner, &body.application, &secret.digest).await?;
    Ok(created(json!({
        "id": token.id,
        "application": token.label,
        "created_at": token.created_at,
        "plain_token": secret.plain.expose(),
    })))
}

/// `DELETE /api/v1/users/{id}/application_tokens/{token_id}`.
pub(super) async fn revoke_token(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, token_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let owner = token_owner(&state, &caller, &id).await?;
    let token_id = AppTokenId(parse_id(&token_id, "application token")?);
    ops::tokens::revoke(state.store.as_ref(), caller.actor(), &owner, token_id)
        .await
        .map_err(hide_missing_token)?;
    Ok(no_content())
}

fn hide_missing_token(error: portus_core::Error) -> ApiError {
    match error.kind() {
        portus_core::ErrorKind::NotFound => not_found("application token"),
        _ => error.into(),
    }
}

/// `DELETE /api/v1/users/application_tokens/{id}` (Portus' path, by token id alone): the
/// owner, or an administrator for anyone's token; anyone else gets the 404 of a missing token.
pub(super) async fn revoke_token_by_id(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(token_id): Path<String>,
) -> Result<Response, ApiError> {
    let user = caller.user()?;
    let token_id = AppTokenId(parse_id(&token_id, "application token")?);
    let store = state.store.as_ref();
    // The store finds tokens by owner: the caller's own first, then (administrators) everyone's.
    let candidates = if caller.caller.is_admin() {
        store.list_users().await?
    } else {
        vec![user.clone()]
    };
    for owner in candidates {
        if store.list_app_tokens(owner.id).await?.iter().any(|t| t.id == token_id) {
            check(permissions::manage_tokens(caller.caller, owner.id), "application token")?;
            ops::tokens::revoke(store, caller.actor(), &owner, token_id)
                .await
                .map_err(hide_missing_token)?;
            return Ok(no_content());
        }
    }
    Err(not_found("application token"))
}
