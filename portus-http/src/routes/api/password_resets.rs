//! Password resets by e-mail (with `[email]`; without it both endpoints answer 404): a request
//! mails a single-use link to every account with the address that may reset a password, and
//! the link's token sets the new password once.
//!
//! Nothing in the answer to a request tells whether the address belongs to anyone: it is the
//! same answer, given before the address is even looked up (the look-up, the token and the
//! mail happen in a background task), so neither its body nor its time says more.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portus_auth::password::{generate_secret, hash_password, secret_digest};
use portus_core::PolicyStore;
use portus_core::model::{User, now};
use portus_core::ops::profiles::{PASSWORD_RESET_LIFETIME, may_reset_password, request_password_reset, reset_password};
use portus_core::traits::Secret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::schema::{NotFound, Unprocessable};
use super::users::check_password;
use super::{JsonBody, no_content, not_found};
use crate::error::ApiError;
use crate::mail::{Mail, PasswordResets};
use crate::state::AppState;

/// Longest e-mail address (RFC 5321's path limit).
const MAX_EMAIL: usize = 254;

/// Body of `POST /api/v1/password_resets`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ResetRequestBody {
    /// The account's e-mail address (its case does not matter).
    #[schema(
        min_length = 3,
        max_length = 254,
        pattern = r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+$"
    )]
    email: String,
}

/// Body of `POST /api/v1/password_resets/{token}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewPasswordBody {
    /// The new password: at least 8 characters and at most 72 bytes (longer: 422).
    #[schema(min_length = 8)]
    password: String,
}

super::request_bodies! {
    ResetRequestBody => None;
    NewPasswordBody => None;
}

/// The answer to every reset request, whoever the address belongs to.
#[derive(Serialize, ToSchema)]
pub(super) struct ResetRequested {
    /// What happens now.
    message: String,
}

/// What the schema's pattern says: one `@` between two non-empty parts, no white space or
/// control characters (the pattern's `\s` is ECMAScript's, which also counts U+FEFF).
fn plausible_email(email: &str) -> bool {
    let bad = |c: char| c.is_whitespace() || c.is_control() || c == '\u{feff}';
    let length = email.chars().count();
    match email.split_once('@') {
        Some((local, domain)) => {
            (3..=MAX_EMAIL).contains(&length)
                && !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(bad)
        }
        None => false,
    }
}

/// The configured resets, or 404: without `[email]` the endpoints do not exist.
fn turned_on(state: &AppState) -> Result<&PasswordResets, ApiError> {
    state.password_resets.as_ref().ok_or_else(|| ApiError {
        status: StatusCode::NOT_FOUND,
        code: "NOT_FOUND",
        message: "password resets by e-mail are off on this installation (no [email] section)".into(),
        basic_challenge: false,
    })
}

/// Ask for a link to set a new password (no authentication).
///
/// Answers 202 with the same body whether or not an account has the address: a link valid 6
/// hours is mailed to each account with it that has a local password (not to bots, disabled
/// accounts or accounts signing in through LDAP or OpenID Connect); a newer link replaces an
/// older one. At most 3 requests per address in 15 minutes send mail. 404 when this
/// installation sends no mail (no `[email]`).
#[utoipa::path(
    post,
    path = "/api/v1/password_resets",
    request_body = ResetRequestBody,
    security(()),
    responses((status = 202, body = ResetRequested), NotFound)
)]
pub(super) async fn request(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<ResetRequestBody>,
) -> Result<Response, ApiError> {
    let resets = turned_on(&state)?;
    let email = body.email;
    if !plausible_email(&email) {
        return Err(ApiError::bad_request(
            "email must be an address such as name@example.org",
        ));
    }
    if resets.admit(&email) {
        tokio::spawn(mail_links(state.store.clone(), resets.clone(), email));
    }
    let answer = ResetRequested {
        message: "If an account has this address, a link to set its password is on its way; it works once, \
                  within 6 hours."
            .into(),
    };
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

/// The background part of a request: look the address up, store a token per account that
/// may reset its password, mail the links. Failures are logged (never a token or a link).
async fn mail_links(store: Arc<dyn PolicyStore>, resets: PasswordResets, email: String) {
    let users = match store.users_by_email(&email).await {
        Ok(users) => users,
        Err(e) => {
            tracing::warn!(error = %e, "password reset: the accounts could not be looked up");
            return;
        }
    };
    for user in users.iter().filter(|u| may_reset_password(u)) {
        if let Err(e) = mail_link(store.as_ref(), &resets, user).await {
            tracing::warn!(user = %user.username, error = %e, "password reset: no link was mailed");
        }
    }
}

async fn mail_link(store: &dyn PolicyStore, resets: &PasswordResets, user: &User) -> Result<(), String> {
    let to = user.email.clone().unwrap_or_default();
    let secret = generate_secret("").map_err(|e| e.to_string())?;
    if !request_password_reset(store, user, &secret.digest, now())
        .await
        .map_err(|e| e.to_string())?
    {
        return Ok(());
    }
    let hours = PASSWORD_RESET_LIFETIME.num_hours();
    let body = format!(
        "Someone, hopefully you, asked to set a new password for the account {name} at {site}.\n\n\
         Open this link within {hours} hours to choose one (it works once):\n\n{link}\n\n\
         If you did not ask, ignore this mail: your password stays as it is.\n",
        name = user.username,
        site = resets.public_url,
        link = resets.link(secret.plain.expose()),
    );
    let mail = Mail {
        to,
        subject: "Set a new password".into(),
        body,
    };
    resets.mailer.send(mail).await.map_err(|e| e.to_string())?;
    tracing::info!(user = %user.username, "password reset: a link was mailed");
    Ok(())
}

/// Set a new password with the token of a reset link (no authentication).
///
/// The token works once, within 6 hours of its request, and only if no newer request replaced
/// it; unknown, used and expired tokens all answer 404. The new password ends the account's
/// web sessions and refresh tokens; a lockout stays as it is. 404 when this installation sends
/// no mail (no `[email]`).
#[utoipa::path(
    post,
    path = "/api/v1/password_resets/{token}",
    params(("token" = String, Path, description = "The token of the mailed link")),
    request_body = NewPasswordBody,
    security(()),
    responses((status = 204, description = "the password is set"), Unprocessable)
)]
pub(super) async fn reset(
    State(state): State<AppState>,
    Path(token): Path<String>,
    JsonBody(body): JsonBody<NewPasswordBody>,
) -> Result<Response, ApiError> {
    turned_on(&state)?;
    // The password is checked and hashed before the token is looked at: a refused password
    // does not use the token up, and an unknown token costs the same time as a good one.
    check_password(&body.password)?;
    let hash = hash_password(&Secret::new(body.password), state.bcrypt_cost).await?;
    let digest = secret_digest(&Secret::new(token));
    match reset_password(state.store.as_ref(), &digest, hash, now()).await? {
        Some(user) => {
            tracing::info!(user = %user.username, "password reset: a new password was set");
            Ok(no_content())
        }
        None => Err(not_found("password reset link (unknown, used or expired)")),
    }
}

#[cfg(test)]
mod tests {
    use super::plausible_email;

    #[test]
    fn addresses_are_checked_as_the_schema_says() {
        for good in ["a@b", "alice@example.org", "Ünïcode@example.org"] {
            assert!(plausible_email(good), "{good}");
        }
        for bad in [
            "",
            "ab",
            "a@",
            "@b",
            "a@b@c",
            "a b@c",
            "a@b\u{feff}",
            "a\u{85}@b",
            "a\n@b",
        ] {
            assert!(!plausible_email(bad), "{bad:?}");
        }
        assert!(!plausible_email(&format!("{}@b", "a".repeat(253))));
    }
}
