//! Setting a forgotten password by e-mail (with `[email]`): `/password_reset` asks for a link,
//! `/password_reset/{token}` sets the new password with it. Both go through the REST API's
//! password-reset endpoints, anonymously, and carry a CSRF token as the sign-in form does.

use super::Fields;
use super::field;
use crate::state::AppState;
use crate::web::PageError;
use crate::web::Web;
use crate::web::call_as;
use crate::web::session::SIGN_IN_CSRF_COOKIE;
use crate::web::session::cookie;
use crate::web::session::random_token;
use crate::web::session::set_cookie;
use crate::web::views;
use crate::web::views::notice;
use axum::Extension;
use axum::Form;
use axum::extract::Path;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::Method;
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::Html;
use axum::response::IntoResponse;
use axum::response::Response;
use maud::Markup;
use maud::html;
use portus_auth::password::secrets_equal;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Without `[email]` the pages do not exist.
fn enabled(state: &AppState) -> Result<(), PageError> {
    match state.password_resets {
        Some(_) => Ok(()),
        None => Err(PageError::not_found()),
    }
}

/// A page holding a form: `form(token)` gets a fresh CSRF token, set as the cookie twin too.
fn form_page(web: &Web, status: StatusCode, title: &str, form: impl FnOnce(&str) -> Markup) -> Response {
    let token = random_token();
    let body = form(&token);
    let cookie = set_cookie(
        SIGN_IN_CSRF_COOKIE,
        &token,
        Duration::from_secs(3600),
        web.config.secure_cookies,
    );
    let page = Html(views::visitor_layout(title, web.config.anonymous_browsing, body).into_string());
    (status, [(SET_COOKIE, cookie)], page).into_response()
}

/// A page without a form.
fn message_page(status: StatusCode, title: &str, body: Markup) -> Response {
    (status, Html(views::layout(title, None, body).into_string())).into_response()
}

fn check_csrf(headers: &HeaderMap, form: &Fields) -> Result<(), PageError> {
    let expected = cookie(headers, SIGN_IN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !secrets_equal(field(form, "csrf").as_bytes(), expected.as_bytes()) {
        return Err(PageError::csrf());
    }
    Ok(())
}

fn request_page(web: &Web, status: StatusCode, message: Option<&str>, email: &str) -> Response {
    form_page(web, status, "Forgot your password?", |token| {
        html! {
            form.card method="post" action="/password_reset" {
                @if let Some(message) = message {
                    p.error role="alert" #reset-error { (message) }
                }
                p { "Give the e-mail address of your account: a link to set a new password will be mailed to it." }
                input type="hidden" name="csrf" value=(token);
                label for="email" { "E-mail" }
                input #email type="email" name="email" autocomplete="email" required maxlength="254" value=(email);
                button type="submit" #request-reset { "Mail me a link" }
                p.hint { a href="/sign_in" { "Back to sign in" } }
            }
        }
    })
}

/// `GET /password_reset`.
pub(crate) async fn password_reset_form(
    State(state): State<AppState>,
    Extension(web): Extension<Arc<Web>>,
) -> Result<Response, PageError> {
    enabled(&state)?;
    Ok(request_page(&web, StatusCode::OK, None, ""))
}

/// `POST /password_reset`: the same answer for every address, as the API gives it.
pub(crate) async fn request_password_reset(
    State(state): State<AppState>,
    Extension(web): Extension<Arc<Web>>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    enabled(&state)?;
    check_csrf(&headers, &form)?;
    let email = field(&form, "email");
    let body = json!({ "email": email });
    match call_as(&web, None, Method::POST, "/api/v1/password_resets", Some(body)).await {
        Ok((answer, _)) => {
            let message = answer["message"].as_str().unwrap_or_default().to_owned();
            Ok(message_page(
                StatusCode::OK,
                "Check your mail",
                html! {
                    (notice(html! { p #reset-requested { (message) } }))
                    p { a href="/sign_in" { "Back to sign in" } }
                },
            ))
        }
        Err(refusal) if refusal.status == StatusCode::BAD_REQUEST => Ok(request_page(
            &web,
            StatusCode::BAD_REQUEST,
            Some("Give an e-mail address such as name@example.org."),
            email,
        )),
        Err(other) => Err(other),
    }
}

/// Reset tokens are URL-safe base64; anything else is no link of ours.
fn token_of(raw: &str) -> Result<&str, PageError> {
    let url_safe = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if !raw.is_empty() && raw.len() <= 100 && raw.bytes().all(url_safe) {
        Ok(raw)
    } else {
        Err(dead_link())
    }
}

fn dead_link() -> PageError {
    PageError::new(
        StatusCode::NOT_FOUND,
        "This link is unknown, used or expired (a link works once, within 6 hours, and a newer request \
         replaces it). Ask for a new one from the sign-in page.",
    )
}

fn new_password_page(web: &Web, status: StatusCode, message: Option<&str>, token: &str) -> Response {
    let action = format!("/password_reset/{token}");
    form_page(web, status, "Choose a new password", |csrf| {
        html! {
            form.card method="post" action=(action) {
                @if let Some(message) = message {
                    p.error role="alert" #reset-error { (message) }
                }
                input type="hidden" name="csrf" value=(csrf);
                label for="password" { "New password (8 characters or more)" }
                input #password type="password" name="password" autocomplete="new-password" required minlength="8";
                label for="password_confirmation" { "New password again" }
                input #password_confirmation type="password" name="password_confirmation" autocomplete="new-password" required;
                button type="submit" #set-password { "Set the password" }
            }
        }
    })
}

/// `GET /password_reset/{token}`: the form; the token is only judged when it is used.
pub(crate) async fn new_password_form(
    State(state): State<AppState>,
    Extension(web): Extension<Arc<Web>>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    enabled(&state)?;
    let token = token_of(&token)?;
    Ok(new_password_page(&web, StatusCode::OK, None, token))
}

/// `POST /password_reset/{token}`: sets the password once; every session of the account ends
/// with the old password.
pub(crate) async fn set_new_password(
    State(state): State<AppState>,
    Extension(web): Extension<Arc<Web>>,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    enabled(&state)?;
    let token = token_of(&token)?;
    check_csrf(&headers, &form)?;
    let password = form.get("password").map(String::as_str).unwrap_or_default();
    let again = form
        .get("password_confirmation")
        .map(String::as_str)
        .unwrap_or_default();
    if !secrets_equal(password.as_bytes(), again.as_bytes()) {
        let message = Some("The two passwords differ.");
        return Ok(new_password_page(&web, StatusCode::BAD_REQUEST, message, token));
    }
    let path = format!("/api/v1/password_resets/{token}");
    match call_as(&web, None, Method::POST, &path, Some(json!({ "password": password }))).await {
        Ok(_) => Ok(message_page(
            StatusCode::OK,
            "Your password is set",
            html! {
                (notice(html! { p #password-set { "Your new password is set; the old one no longer works." } }))
                p { a href="/sign_in" #to-sign-in { "Sign in" } }
            },
        )),
        Err(refusal) if refusal.status == StatusCode::NOT_FOUND => Err(dead_link()),
        Err(refusal) if refusal.status.is_client_error() => {
            Ok(new_password_page(&web, refusal.status, Some(&refusal.message), token))
        }
        Err(other) => Err(other),
    }
}
