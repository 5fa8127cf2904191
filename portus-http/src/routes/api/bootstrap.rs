//! `POST /api/v1/users/bootstrap`: the first administrator of a new installation, made without
//! authentication, as Portus (and its `portusctl bootstrap`) does it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use portus_auth::password::{APP_TOKEN_PREFIX, generate_secret, hash_password};
use portus_core::model::{ListQuery, NewUser, UserSort};
use portus_core::ops;
use portus_core::traits::Secret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::schema::{Conflict, TurnedOff, Unprocessable};
use super::users::check_password;
use super::{JsonBody, created};
use crate::error::ApiError;
use crate::state::AppState;

/// Body of `POST /api/v1/users/bootstrap`, bare or as Portus wraps it (`{"user": {...}}`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BootstrapBody {
    /// 1 to 255 characters, no `:` or white space.
    #[schema(min_length = 1, max_length = 255, pattern = r"^[^:\s\x00-\x1f\x7f-\x9f]+$")]
    username: String,
    email: Option<String>,
    /// At least 8 characters and at most 72 bytes (what bcrypt reads; longer: 422).
    #[schema(min_length = 8)]
    password: String,
}

super::request_bodies! {
    BootstrapBody => Some("user");
}

/// The first administrator's application token; its secret is shown this once.
#[derive(Serialize, ToSchema)]
pub(super) struct BootstrapView {
    /// The application token's id (Portus answers the token).
    id: i64,
    /// The token's label: `bootstrap`.
    application: String,
    /// The secret: use it as `Authorization: Bearer`, `Portus-Auth: USER:TOKEN` or the docker
    /// password.
    plain_token: String,
    /// The administrator made.
    user_id: i64,
    username: String,
    created_at: DateTime<Utc>,
}

/// Make the first administrator (no authentication; only while no user exists).
///
/// Creates an administrator with the password given and an application token labelled
/// `bootstrap`, whose secret is answered once. Refused with 409 once any user exists (Portus
/// answered 400), and with 405 when `auth.first_user_admin` is off.
#[utoipa::path(
    post,
    path = "/api/v1/users/bootstrap",
    request_body = BootstrapBody,
    security(()),
    responses((status = 201, body = BootstrapView), Conflict, TurnedOff, Unprocessable)
)]
pub(super) async fn bootstrap(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<BootstrapBody>,
) -> Result<Response, ApiError> {
    if !state.first_user_admin {
        return Err(ApiError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "UNSUPPORTED",
            message: "bootstrapping the first administrator is turned off (auth.first_user_admin)".into(),
            basic_challenge: false,
        });
    }
    // Answered before any bcrypt work, so this open endpoint costs an installed server nothing;
    // the store decides again, atomically, below.
    let one = ListQuery::page(UserSort::Id, 0, 1);
    if !state.store.users_page(&one).await?.items.is_empty() {
        return Err(already_bootstrapped());
    }
    check_password(&body.password)?;
    super::users::check_email(&state, body.email.as_deref(), None).await?;
    let password_hash = hash_password(&Secret::new(body.password), state.bcrypt_cost).await?;
    let new = NewUser {
        username: body.username,
        email: body.email,
        admin: true,
        password_hash: Some(password_hash),
        bot: false,
    };
    let secret = generate_secret(APP_TOKEN_PREFIX)?;
    let Some((user, token)) = ops::users::bootstrap(state.store.as_ref(), new, &secret.digest).await? else {
        return Err(already_bootstrapped());
    };
    tracing::info!(user = %user.username, "the first administrator was bootstrapped through the API");
    Ok(created(BootstrapView {
        id: token.id.0,
        application: token.label,
        plain_token: secret.plain.expose().to_owned(),
        user_id: user.id.0,
        username: user.username,
        created_at: token.created_at,
    }))
}

fn already_bootstrapped() -> ApiError {
    ApiError::conflict("users exist already: an administrator creates further users")
}
