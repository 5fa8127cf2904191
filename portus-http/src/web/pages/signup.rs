//! Signing up (`web.signup`, Portus' `signup.enabled`): a local account with a password, its
//! personal namespace, and a session; the installation's first account becomes an
//! administrator when `auth.first_user_admin` is on.

use super::Fields;
use super::auth::signed_in;
use super::field;
use crate::state::AppState;
use crate::web::PageError;
use crate::web::Web;
use crate::web::session::SIGN_IN_CSRF_COOKIE;
use crate::web::session::cookie;
use crate::web::session::random_token;
use crate::web::session::set_cookie;
use crate::web::views;
use axum::Extension;
use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::Html;
use axum::response::IntoResponse;
use axum::response::Response;
use maud::html;
use portus_auth::password::{PasswordLength, check_password_length, hash_password, secrets_equal};
use portus_core::model::NewUser;
use portus_core::traits::Secret;
use portus_core::{ErrorKind, ops};
use std::sync::Arc;
use std::time::Duration;

/// Longest e-mail address accepted (what fits the column and any mail system).
const MAX_EMAIL: usize = 254;

/// Without `web.signup` the pages do not exist.
fn enabled(web: &Web) -> Result<(), PageError> {
    if web.config.signup && web.config.local_login {
        Ok(())
    } else {
        Err(PageError::not_found())
    }
}

/// The sign-up form, with a fresh CSRF token and its cookie twin; `username` and `email` are
/// kept after a refusal (never the password).
fn sign_up_page(web: &Web, status: StatusCode, message: Option<&str>, username: &str, email: &str) -> Response {
    let token = random_token();
    let body = html! {
        form.card method="post" action="/sign_up" {
            @if let Some(message) = message {
                p.error role="alert" #sign-up-error { (message) }
            }
            input type="hidden" name="csrf" value=(token);
            label for="username" { "User name" }
            input #username name="username" autocomplete="username" required maxlength="255" value=(username);
            label for="email" { "E-mail" }
            input #email type="email" name="email" autocomplete="email" required maxlength="254" value=(email);
            label for="password" { "Password (8 characters or more)" }
            input #password type="password" name="password" autocomplete="new-password" required minlength="8";
            label for="password_confirmation" { "Password again" }
            input #password_confirmation type="password" name="password_confirmation" autocomplete="new-password" required;
            button type="submit" #sign-up { "Create the account" }
            p.hint { a href="/sign_in" { "I have an account: sign in" } }
        }
    };
    let cookie = set_cookie(
        SIGN_IN_CSRF_COOKIE,
        &token,
        Duration::from_secs(3600),
        web.config.secure_cookies,
    );
    let page = Html(views::visitor_layout("Sign up", web.config.anonymous_browsing, body).into_string());
    (status, [(SET_COOKIE, cookie)], page).into_response()
}

/// `GET /sign_up`.
pub(crate) async fn sign_up_form(Extension(web): Extension<Arc<Web>>) -> Result<Response, PageError> {
    enabled(&web)?;
    Ok(sign_up_page(&web, StatusCode::OK, None, "", ""))
}

/// What is wrong with the form, checked before any bcrypt work.
fn refusal(username: &str, email: &str, password: &str, again: &str) -> Option<&'static str> {
    if username.is_empty() {
        return Some("Choose a user name.");
    }
    let (local, domain) = email.split_once('@').unwrap_or_default();
    if local.is_empty() || !domain.contains('.') || email.len() > MAX_EMAIL || email.chars().any(char::is_whitespace) {
        return Some("Give an e-mail address such as name@example.org.");
    }
    match check_password_length(password) {
        Ok(()) => {}
        Err(PasswordLength::TooShort) => return Some("The password needs 8 characters or more."),
        Err(PasswordLength::TooLong) => return Some("The password may have at most 72 bytes."),
    }
    if !secrets_equal(password.as_bytes(), again.as_bytes()) {
        return Some("The two passwords differ.");
    }
    None
}

/// `POST /sign_up`: creates the account and signs it in.
pub(crate) async fn sign_up(
    State(state): State<AppState>,
    Extension(web): Extension<Arc<Web>>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    enabled(&web)?;
    let expected = cookie(&headers, SIGN_IN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !secrets_equal(field(&form, "csrf").as_bytes(), expected.as_bytes()) {
        return Err(PageError::csrf());
    }
    let username = field(&form, "username");
    let email = field(&form, "email");
    let password = form.get("password").map(String::as_str).unwrap_or_default();
    let again = form
        .get("password_confirmation")
        .map(String::as_str)
        .unwrap_or_default();
    let refused = |status, message: &str| Ok(sign_up_page(&web, status, Some(message), username, email));
    if let Some(message) = refusal(username, email, password, again) {
        return refused(StatusCode::BAD_REQUEST, message);
    }
    let hash = hash_password(&Secret::new(password), state.bcrypt_cost)
        .await
        .map_err(crate::error::ApiError::from)?;
    let new = NewUser {
        username: username.to_owned(),
        email: Some(email.to_owned()),
        admin: false,
        password_hash: Some(hash),
        bot: false,
    };
    match ops::users::sign_up(state.store.as_ref(), new, state.first_user_admin).await {
        Ok(user) => {
            tracing::info!(user = %user.username, admin = user.admin, "signed up");
            signed_in(&web, &user, SIGN_IN_CSRF_COOKIE).await
        }
        Err(e) if e.kind() == ErrorKind::Conflict => refused(StatusCode::CONFLICT, "That user name is taken."),
        Err(e) if e.kind() == ErrorKind::Invalid => refused(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(e) => Err(crate::error::ApiError::from(e).into()),
    }
}
