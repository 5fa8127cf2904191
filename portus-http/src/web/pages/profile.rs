//! The signed-in user's profile: display name (no password needed), e-mail and password (each
//! only with the current password, and only for accounts with a local one: LDAP and external
//! sign-ins keep theirs elsewhere). Changes go through `PUT /api/v1/users/{id}`, which decides.
//! A new password ends every other session of the account; this one goes on in a new session.

use super::Fields;
use super::field;
use crate::state::AppState;
use crate::web::PageError;
use crate::web::Signed;
use crate::web::session::SESSION_COOKIE;
use crate::web::session::set_cookie;
use crate::web::views::csrf_field;
use crate::web::views::notice;
use axum::Form;
use axum::extract::Query;
use axum::extract::State;
use axum::http::Method;
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::IntoResponse;
use axum::response::Redirect;
use axum::response::Response;
use maud::html;
use portus_auth::password::secrets_equal;
use serde_json::json;

/// What a successful change says, by the `done` query parameter.
fn done_message(done: &str) -> Option<&'static str> {
    match done {
        "display_name" => Some("Your display name is saved."),
        "email" => Some("Your e-mail address is saved."),
        "password" => Some("Your password is changed; your other sessions have ended."),
        _ => None,
    }
}

fn profile_page(signed: &Signed, status: StatusCode, done: Option<&str>, error: Option<&str>) -> Response {
    let user = &signed.user;
    let local = user.password_hash.is_some();
    let body = html! {
        @if let Some(message) = done.and_then(done_message) {
            (notice(html! { p #profile-done { (message) } }))
        }
        @if let Some(error) = error {
            p.error role="alert" #profile-error { (error) }
        }
        dl {
            dt { "User name" } dd #profile-username { (user.username) }
            dt { "E-mail" } dd #profile-email { (user.email.as_deref().unwrap_or("none")) }
        }
        form.card method="post" action="/profile" {
            h2 { "Display name" }
            (csrf_field(&signed.csrf))
            input type="hidden" name="what" value="display_name";
            label for="display_name" { "Shown instead of your user name (empty: your user name)" }
            input #display_name name="display_name" maxlength="255" value=(user.display_name.as_deref().unwrap_or(""));
            button type="submit" #save-display-name { "Save the display name" }
        }
        @if local {
            form.card method="post" action="/profile" {
                h2 { "E-mail" }
                (csrf_field(&signed.csrf))
                input type="hidden" name="what" value="email";
                label for="email" { "New e-mail address" }
                input #email type="email" name="email" autocomplete="email" required maxlength="254" value=(user.email.as_deref().unwrap_or(""));
                label for="email_current_password" { "Your current password" }
                input #email_current_password type="password" name="current_password" autocomplete="current-password" required;
                button type="submit" #save-email { "Change the e-mail" }
            }
            form.card method="post" action="/profile" {
                h2 { "Password" }
                (csrf_field(&signed.csrf))
                input type="hidden" name="what" value="password";
                label for="current_password" { "Your current password" }
                input #current_password type="password" name="current_password" autocomplete="current-password" required;
                label for="password" { "New password (8 characters or more)" }
                input #password type="password" name="password" autocomplete="new-password" required minlength="8";
                label for="password_confirmation" { "New password again" }
                input #password_confirmation type="password" name="password_confirmation" autocomplete="new-password" required;
                button type="submit" #change-password { "Change the password" }
            }
        } @else {
            p.hint #no-local-password {
                "Your account has no password here: you sign in through your directory or identity provider, "
                "where your password (and e-mail) are kept."
            }
        }
    };
    let mut response = signed.page("Your profile", body);
    *response.status_mut() = status;
    response
}

/// `GET /profile`.
pub(crate) async fn profile(signed: Signed, Query(query): Query<Fields>) -> Response {
    profile_page(&signed, StatusCode::OK, Some(field(&query, "done")), None)
}

/// `POST /profile`: one change, named by `what`.
pub(crate) async fn update_profile(
    State(state): State<AppState>,
    signed: Signed,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    signed.check_csrf(&form)?;
    let what = field(&form, "what");
    let current = form.get("current_password").cloned().unwrap_or_default();
    let body = match what {
        "display_name" => json!({ "display_name": field(&form, "display_name") }),
        "email" => json!({ "email": field(&form, "email"), "current_password": current }),
        "password" => {
            let password = form.get("password").map(String::as_str).unwrap_or_default();
            let again = form
                .get("password_confirmation")
                .map(String::as_str)
                .unwrap_or_default();
            if !secrets_equal(password.as_bytes(), again.as_bytes()) {
                let error = Some("The two new passwords differ.");
                return Ok(profile_page(&signed, StatusCode::BAD_REQUEST, None, error));
            }
            json!({ "password": password, "current_password": current })
        }
        _ => return Err(PageError::new(StatusCode::BAD_REQUEST, "Unknown change.")),
    };
    let path = format!("/api/v1/users/{}", signed.user.id);
    if let Err(refusal) = signed.api(Method::PUT, &path, Some(body)).await {
        let message = if refusal.status == StatusCode::FORBIDDEN {
            "Your current password is not right.".to_owned()
        } else {
            refusal.message.clone()
        };
        return Ok(profile_page(&signed, refusal.status, None, Some(&message)));
    }
    let mut response = Redirect::to(&format!("/profile?done={what}")).into_response();
    if what == "password" {
        // The new password ended every session of the account, this one too: it goes on in a
        // fresh session (a new identifier), the others stay ended.
        let user = state
            .store
            .user_by_id(signed.user.id)
            .await?
            .ok_or_else(PageError::not_found)?;
        signed.web.sessions.end(&signed.session_id).await?;
        let session = signed.web.sessions.start(&user).await?;
        let cookie = set_cookie(
            SESSION_COOKIE,
            &session,
            signed.web.sessions.lifetime(),
            signed.web.config.secure_cookies,
        );
        response
            .headers_mut()
            .insert(SET_COOKIE, cookie.parse().expect("cookie values are ASCII"));
    }
    Ok(response)
}
