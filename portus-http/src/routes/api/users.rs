//! Users and their application tokens.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use portus_auth::password::{
    APP_TOKEN_PREFIX, PasswordLength, check_password_length, generate_secret, hash_password, verify_password,
};
use portus_core::model::{
    AppToken, AppTokenId, AppTokenSort, NewUser, TokenLimits, TokenScope, User, UserId, UserSort,
};
use portus_core::prelude::AccountStoreExt;
use portus_core::traits::Secret;
use portus_core::{ops, permissions};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::lists::SortKey;
use super::schema::{Conflict, Forbidden, Unprocessable};
use super::{ApiCaller, JsonBody, PageQuery, check, created, no_content, not_found, parse_id};
use crate::error::ApiError;
use crate::state::AppState;

/// A user.
#[derive(Serialize, ToSchema)]
pub(super) struct UserView {
    id: i64,
    username: String,
    /// Shown instead of the user name where set (imported from Portus).
    display_name: Option<String>,
    /// What Portus' clients print: the display name if set, else the user name.
    display_username: String,
    /// A robot account (CI): signs in with application tokens.
    bot: bool,
    email: Option<String>,
    admin: bool,
    enabled: bool,
    /// Locked by failed logins (administrators unlock with `locked: false`).
    locked: bool,
    /// The user's personal namespace.
    namespace_id: Option<i64>,
    created_at: DateTime<Utc>,
}

impl UserView {
    fn of(user: &User) -> Self {
        UserView {
            id: user.id.0,
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            display_username: user.display_name.clone().unwrap_or_else(|| user.username.clone()),
            bot: user.bot,
            email: user.email.clone(),
            admin: user.admin,
            enabled: user.enabled,
            locked: user.is_locked(portus_core::model::now()),
            namespace_id: user.personal_namespace.map(|n| n.0),
            created_at: user.created_at,
        }
    }
}

impl SortKey for UserSort {
    fn from_attr(attr: &str) -> Option<Self> {
        match attr {
            "username" => Some(UserSort::Username),
            "id" => Some(UserSort::Id),
            "created_at" => Some(UserSort::CreatedAt),
            _ => None,
        }
    }
}

impl SortKey for AppTokenSort {
    fn from_attr(attr: &str) -> Option<Self> {
        match attr {
            "id" => Some(AppTokenSort::Id),
            "application" => Some(AppTokenSort::Label),
            "created_at" => Some(AppTokenSort::CreatedAt),
            _ => None,
        }
    }
}

async fn load(state: &AppState, raw: &str) -> Result<User, ApiError> {
    let id = UserId(parse_id(raw, "user")?);
    state.store.user_by_id(id).await?.ok_or_else(|| not_found("user"))
}

/// List users (administrators).
///
/// `sort_attr`: `username` (the default), `id` or `created_at`.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    params(super::Page),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = Vec<UserView>), Forbidden)
)]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    page: PageQuery,
) -> Result<Response, ApiError> {
    caller.user()?;
    if !caller.caller.is_admin() {
        return Err(super::forbidden("only administrators list users"));
    }
    let users = state.store.users_page(&page.0.query::<UserSort>()?).await?;
    page.0.respond_page("/api/v1/users", users.map(|u| UserView::of(&u)))
}

/// Body of `POST /api/v1/users`, bare or as Portus wraps it (`{"user": {...}}`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewUserBody {
    /// 1 to 255 characters, no `:` or white space.
    #[schema(min_length = 1, max_length = 255, pattern = r"^[^:\s\x00-\x1f\x7f-\x9f]+$")]
    username: String,
    email: Option<String>,
    /// At least 8 characters and at most 72 bytes (what bcrypt reads; longer: 422). Without
    /// one the user signs in through LDAP, OpenID Connect or application tokens only.
    #[schema(min_length = 8)]
    password: Option<String>,
    #[serde(default)]
    admin: bool,
    /// A bot (for CI): no personal namespace, no password, no LDAP; it signs in with the
    /// application tokens administrators make for it. Not with `password` or `admin` (400).
    #[serde(default)]
    bot: bool,
}

/// Body of `PUT /api/v1/users/{id}`, bare or wrapped; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateUserBody {
    /// A new e-mail, or null to remove it (the user or administrators).
    #[serde(default, with = "serde_with_null")]
    #[schema(value_type = Option<String>)]
    email: Option<Option<String>>,
    /// A new display name, shown instead of the user name (the user, without their password,
    /// or administrators); null or blank removes it. At most 255 characters, unique (409).
    #[serde(default, with = "serde_with_null")]
    #[schema(value_type = Option<String>, max_length = 255, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    display_name: Option<Option<String>>,
    /// A new password (the user or administrators), as for creation.
    #[schema(min_length = 8)]
    password: Option<String>,
    /// The caller's present password: needed to change one's own e-mail or password (not an
    /// administrator's change of someone else's), so a stolen session or token alone cannot
    /// take the account over.
    current_password: Option<String>,
    /// Administrators only, never on themselves.
    admin: Option<bool>,
    /// Administrators only, never on themselves.
    enabled: Option<bool>,
    /// `false` unlocks an account locked by failed logins (administrators). Accounts are
    /// locked by failed logins only, so `true` is not accepted.
    #[schema(schema_with = unlock_only)]
    locked: Option<bool>,
}

/// Body of `POST /api/v1/users/{id}/application_tokens`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewTokenBody {
    /// The token's label, unique per user: 1 to 100 characters, not only white space, no
    /// control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    application: String,
    /// When the token stops working (RFC 3339, in the future); absent: never.
    expires_at: Option<DateTime<Utc>>,
    /// Limits the token to these repositories and actions, each `PATTERN:ACTIONS` with
    /// PATTERN a repository, `NAMESPACE/*` or `*` and ACTIONS `pull`, `push`, `delete` or `*`
    /// (comma-separated): `devs/*:pull`. The registry then grants what both the owner and the
    /// scope allow. Absent: the owner's rights.
    #[schema(schema_with = scope_rules)]
    scopes: Option<Vec<String>>,
}

/// `scopes`: 1 to 50 rules, each `PATTERN:ACTIONS` (what `TokenScope::parse` reads), or null.
fn scope_rules() -> utoipa::openapi::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    let rule = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(255))
        .pattern(Some(
            r"^(\*|[a-z0-9._-]+(/[a-z0-9._-]+)*(/\*)?):(pull|push|delete|\*)(,(pull|push|delete|\*))*$",
        ));
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(rule)
        .min_items(Some(1))
        .max_items(Some(50))
        .build()
}

/// `locked` takes `false` (or null) only.
fn unlock_only() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Boolean, Type::Null]))
        .enum_values(Some([serde_json::Value::Bool(false), serde_json::Value::Null]))
        .build()
}

/// bcrypt's limits, checked before hashing so that the answer says which: at least 8
/// characters (the document's `minLength`; fewer: 400) and at most 72 bytes, what bcrypt reads
/// (a rule the document cannot state in characters; more: 422).
pub(super) fn check_password(password: &str) -> Result<(), ApiError> {
    match check_password_length(password) {
        Ok(()) => Ok(()),
        Err(PasswordLength::TooShort) => Err(ApiError::bad_request("a password has at least 8 characters")),
        Err(PasswordLength::TooLong) => {
            Err(portus_core::Error::Rule("a password has at most 72 bytes (bcrypt reads no more)".into()).into())
        }
    }
}

/// Checks an e-mail address (422) and that no account but `user` has it (409), before writes.
pub(super) async fn check_email(state: &AppState, email: Option<&str>, user: Option<UserId>) -> Result<(), ApiError> {
    let Some(email) = email else {
        return Ok(());
    };
    portus_core::naming::validate_email(email).map_err(|e| portus_core::Error::Rule(e.to_string()))?;
    let others = state.store.users_by_email(email).await?;
    if others.iter().any(|other| Some(other.id) != user) {
        return Err(portus_core::Error::Conflict("this e-mail address belongs to another account".into()).into());
    }
    Ok(())
}

super::request_bodies! {
    NewUserBody => Some("user");
    UpdateUserBody => Some("user");
    NewTokenBody => None;
}

/// Create a user (administrators).
///
/// The body may be wrapped as Portus sends it: `{"user": {...}}`.
#[utoipa::path(
    post,
    path = "/api/v1/users",
    request_body = NewUserBody,
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 201, body = UserView), Forbidden, Conflict, Unprocessable)
)]
pub(super) async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    JsonBody(body): JsonBody<NewUserBody>,
) -> Result<Response, ApiError> {
    caller.user()?;
    if !caller.caller.is_admin() {
        return Err(super::forbidden("only administrators create users"));
    }
    check_email(&state, body.email.as_deref(), None).await?;
    let password_hash = match body.password {
        Some(password) => {
            check_password(&password)?;
            Some(hash_password(&Secret::new(password), state.bcrypt_cost).await?)
        }
        None => None,
    };
    let new = NewUser {
        username: body.username,
        email: body.email,
        admin: body.admin,
        password_hash,
        bot: body.bot,
    };
    let user = ops::users::create(state.store.as_ref(), caller.actor(), new).await?;
    Ok(created(UserView::of(&user)))
}

/// Show a user (administrators, or the user).
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}",
    params(("id" = i64, Path, description = "User id")),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = UserView))
)]
pub(super) async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    caller.user()?;
    let user = load(&state, &id).await?;
    check(permissions::view_user(caller.caller, user.id), "user")?;
    Ok(Json(UserView::of(&user)))
}

/// The caller's own account (any signed-in user): how a client learns who its token is.
#[utoipa::path(
    get,
    path = "/api/v1/users/me",
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = UserView))
)]
pub(super) async fn me(caller: ApiCaller) -> Result<Json<UserView>, ApiError> {
    Ok(Json(UserView::of(caller.user()?)))
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

/// Update a user's e-mail, display name or password (the user or administrators); admin,
/// enabled, unlock (administrators, not on themselves).
///
/// Users changing their own e-mail or password give `current_password` (403 without it or
/// when it is wrong).
///
/// Everything is checked before anything changes. The body may be wrapped: `{"user": {...}}`.
#[utoipa::path(
    put,
    path = "/api/v1/users/{id}",
    params(("id" = i64, Path, description = "User id")),
    request_body = UpdateUserBody,
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = UserView), Forbidden, Conflict, Unprocessable)
)]
pub(super) async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateUserBody>,
) -> Result<Json<UserView>, ApiError> {
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
    let own = caller.user.as_ref().is_some_and(|u| u.id == user.id);
    if own && (body.email.is_some() || body.password.is_some()) {
        let confirmed = match (&body.current_password, &user.password_hash) {
            (Some(current), Some(hash)) => verify_password(&Secret::new(current.clone()), hash).await,
            _ => false,
        };
        if !confirmed {
            return Err(super::forbidden(
                "changing your own e-mail or password needs current_password, your present password \
                 (an account without one: ask an administrator)",
            ));
        }
    }
    // Everything is validated before anything changes.
    if let Some(email) = &body.email {
        check_email(&state, email.as_deref(), Some(user.id)).await?;
    }
    let password_hash = match &body.password {
        Some(password) => {
            check_password(password)?;
            Some(hash_password(&Secret::new(password.clone()), state.bcrypt_cost).await?)
        }
        None => None,
    };
    let store = state.store.as_ref();
    let actor = caller.actor();
    // First: the one change the store alone can refuse (a taken name), before any other.
    if let Some(display_name) = body.display_name {
        ops::profiles::set_display_name(store, actor, &user, display_name.as_deref()).await?;
    }
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
    Ok(Json(UserView::of(&user)))
}

/// Delete a user (administrators, not themselves).
///
/// Their personal namespace stays, without an owner, so nothing pushed is lost.
#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}",
    params(("id" = i64, Path, description = "User id")),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 204, description = "deleted"), Forbidden, Unprocessable)
)]
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

/// An application token (never its secret).
#[derive(Serialize, ToSchema)]
pub(super) struct TokenView {
    id: i64,
    /// Its label.
    application: String,
    created_at: DateTime<Utc>,
    /// When it stops working (never when null).
    expires_at: Option<DateTime<Utc>>,
    /// The repositories and actions it is limited to (`PATTERN:ACTIONS`); null: its owner's
    /// rights. A scoped token signs in to the registry only, not to this API or the pages.
    scopes: Option<Vec<String>>,
    /// When it last signed in (to the minute).
    last_used_at: Option<DateTime<Utc>>,
}

impl TokenView {
    fn of(token: &AppToken) -> Self {
        TokenView {
            id: token.id.0,
            application: token.label.clone(),
            created_at: token.created_at,
            expires_at: token.limits.expires_at,
            scopes: token.limits.scope.as_ref().map(TokenScope::rules),
            last_used_at: token.last_used_at,
        }
    }
}

/// A new application token with its secret, shown this once.
#[derive(Serialize, ToSchema)]
pub(super) struct NewTokenView {
    #[serde(flatten)]
    token: TokenView,
    /// The secret: use it as the Basic password, `Authorization: Bearer` or `Portus-Auth`.
    plain_token: String,
}

/// List a user's application tokens (the user or administrators).
///
/// `sort_attr`: `id` (the default: oldest first), `application` or `created_at`.
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}/application_tokens",
    params(("id" = i64, Path, description = "User id"), super::Page),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = Vec<TokenView>))
)]
pub(super) async fn list_tokens(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    page: PageQuery,
) -> Result<Response, ApiError> {
    let owner = token_owner(&state, &caller, &id).await?;
    let query = page.0.query::<AppTokenSort>()?;
    let tokens = state.store.app_tokens_page(owner.id, &query).await?;
    page.0.respond_page(
        &format!("/api/v1/users/{}/application_tokens", owner.id),
        tokens.map(|t| TokenView::of(&t)),
    )
}

/// Create an application token (the user or administrators); the secret is shown once.
///
/// At most `auth.max_app_tokens` per user (20 unless configured; more: 422); labels are unique
/// per user (409) and bounded (400).
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/application_tokens",
    params(("id" = i64, Path, description = "User id")),
    request_body = NewTokenBody,
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 201, body = NewTokenView), Conflict, Unprocessable)
)]
pub(super) async fn create_token(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<NewTokenBody>,
) -> Result<Response, ApiError> {
    let owner = token_owner(&state, &caller, &id).await?;
    let store = state.store.as_ref();
    // Before a secret is made for nothing; the operation checks it again.
    ops::tokens::validate_label(&body.application)?;
    if body.expires_at.is_some_and(|at| at <= portus_core::model::now()) {
        return Err(portus_core::Error::Rule("expires_at is in the past".into()).into());
    }
    let limits = TokenLimits {
        expires_at: body.expires_at,
        scope: body.scopes.as_deref().map(TokenScope::parse).transpose()?,
    };
    let secret = generate_secret(APP_TOKEN_PREFIX)?;
    let most = state.max_app_tokens;
    let label = &body.application;
    let token = ops::tokens::create(store, caller.actor(), &owner, label, &secret.digest, &limits, most).await?;
    Ok(created(NewTokenView {
        token: TokenView::of(&token),
        plain_token: secret.plain.expose().to_owned(),
    }))
}

/// Revoke an application token (the user or administrators).
#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}/application_tokens/{token_id}",
    params(
        ("id" = i64, Path, description = "User id"),
        ("token_id" = i64, Path, description = "Application token id"),
    ),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 204, description = "revoked"))
)]
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

/// Revoke an application token by its id alone (Portus' path): the owner, or administrators.
///
/// Anyone else gets the 404 of a missing token.
#[utoipa::path(
    delete,
    path = "/api/v1/users/application_tokens/{id}",
    params(("id" = i64, Path, description = "Application token id")),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 204, description = "revoked"))
)]
pub(super) async fn revoke_token_by_id(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(token_id): Path<String>,
) -> Result<Response, ApiError> {
    let user = caller.user()?;
    let token_id = AppTokenId(parse_id(&token_id, "application token")?);
    let store = state.store.as_ref();
    // The store finds tokens by owner: the caller's own, or (administrators) everyone's.
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
