//! Signing in and out: local and LDAP credentials, OpenID Connect (GitHub, GitLab and
//! Bitbucket in `oauth`).

use super::Fields;
use super::field;
use crate::state::AppState;
use crate::web::PageError;
use crate::web::Signed;
use crate::web::Web;
use crate::web::session::SESSION_COOKIE;
use crate::web::session::SIGN_IN_CSRF_COOKIE;
use crate::web::session::cookie;
use crate::web::session::random_token;
use crate::web::session::set_cookie;
use crate::web::views;
use axum::Extension;
use axum::Form;
#[cfg(feature = "oidc")]
use axum::extract::Query;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::Html;
use axum::response::IntoResponse;
use axum::response::Redirect;
use axum::response::Response;
use maud::Markup;
use maud::html;
use portus_auth::password::secrets_equal;
use portus_core::traits::Secret;
use std::sync::Arc;
use std::time::Duration;

/// The sign-in form (with a fresh CSRF token and its cookie twin); the lockout rule shown is
/// the token service's own.
fn sign_in_page(state: &AppState, web: &Web, status: StatusCode, message: Option<&str>, username: &str) -> Response {
    let token = random_token();
    let rule = state.tokens.lockout();
    let lockout = (rule.max_failures > 0).then(|| {
        format!(
            "After {} failed sign-ins in a row an account is locked for {} minutes.",
            rule.max_failures,
            rule.lock_for.as_secs().div_ceil(60)
        )
    });
    let body = html! {
        @if web.config.local_login {
            form.card method="post" action="/sign_in" {
                @if let Some(message) = message {
                    p.error role="alert" #sign-in-error { (message) }
                }
                input type="hidden" name="csrf" value=(token);
                label for="username" { "User name" }
                input #username name="username" autocomplete="username" required value=(username);
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                button type="submit" #sign-in { "Sign in" }
                @if let Some(lockout) = lockout {
                    p.hint { (lockout) }
                }
                @if web.config.signup {
                    p.hint { "No account yet? " a #sign-up-link href="/sign_up" { "Sign up" } }
                }
                @if state.password_resets.is_some() {
                    p.hint { a #forgot-password href="/password_reset" { "Forgot your password?" } }
                }
            }
        } @else if let Some(message) = message {
            p.error role="alert" #sign-in-error { (message) }
        }
        (oidc_button(web))
        (oauth_buttons(web))
    };
    let cookie = set_cookie(
        SIGN_IN_CSRF_COOKIE,
        &token,
        Duration::from_secs(3600),
        web.config.secure_cookies,
    );
    let page = Html(views::visitor_layout("Sign in", web.config.anonymous_browsing, body).into_string());
    (status, [(SET_COOKIE, cookie)], page).into_response()
}

/// The sign-in page again after a failed external sign-in with the provider named `name`:
/// `message`, or only that it failed (never anything about local accounts).
#[cfg(feature = "oidc")]
pub(super) fn sign_in_failed(state: &AppState, web: &Web, name: &str, message: Option<&str>) -> Response {
    let failed = format!("Sign-in with {name} failed.");
    sign_in_page(
        state,
        web,
        StatusCode::UNAUTHORIZED,
        Some(message.unwrap_or(&failed)),
        "",
    )
}

/// `GET /sign_in`.
pub(crate) async fn sign_in_form(State(state): State<AppState>, Extension(web): Extension<Arc<Web>>) -> Response {
    sign_in_page(&state, &web, StatusCode::OK, None, "")
}

/// `POST /sign_in`: local or LDAP credentials, as for `docker login` (lockout included).
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    Extension(web): Extension<Arc<Web>>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    if !web.config.local_login {
        return Err(PageError::not_found());
    }
    let expected = cookie(&headers, SIGN_IN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !secrets_equal(field(&form, "csrf").as_bytes(), expected.as_bytes()) {
        return Err(PageError::csrf());
    }
    let username = field(&form, "username");
    let password = form.get("password").map(String::as_str).unwrap_or_default();
    match state
        .tokens
        .authenticate_for_session(username, &Secret::new(password))
        .await
    {
        Ok(user) => signed_in(&web, &user, SIGN_IN_CSRF_COOKIE).await,
        Err(portus_auth::Error::InvalidCredentials) => Ok(sign_in_page(
            &state,
            &web,
            StatusCode::UNAUTHORIZED,
            Some("Invalid user name or password, or the account is disabled or locked."),
            username,
        )),
        Err(other) => Err(other.into()),
    }
}

/// Starts a new session for `user` (never reusing one the browser brought: no fixation),
/// clears the cookie of the sign-in attempt and sends the browser to the dashboard.
pub(super) async fn signed_in(
    web: &Web,
    user: &portus_core::model::User,
    attempt_cookie: &str,
) -> Result<Response, PageError> {
    let session = web.sessions.start(user).await?;
    let secure = web.config.secure_cookies;
    let mut response = Redirect::to("/").into_response();
    let headers = response.headers_mut();
    let session_cookie = set_cookie(SESSION_COOKIE, &session, web.sessions.lifetime(), secure);
    let clear_attempt = set_cookie(attempt_cookie, "", Duration::ZERO, secure);
    for value in [session_cookie, clear_attempt] {
        headers.append(SET_COOKIE, value.parse().expect("cookie values are ASCII"));
    }
    Ok(response)
}

#[cfg(feature = "oidc")]
fn oidc_button(web: &Web) -> Markup {
    html! {
        @if let Some(oidc) = &web.config.oidc {
            p.alternative { a.button #sign-in-oidc href="/sign_in/oidc" { "Sign in with " (oidc.name) } }
        }
        @if let Some(google) = &web.config.google {
            p.alternative { a.button #sign-in-google href="/sign_in/google" { "Sign in with " (google.name) } }
        }
    }
}

#[cfg(not(feature = "oidc"))]
fn oidc_button(_web: &Web) -> Markup {
    html! {}
}

#[cfg(not(feature = "oidc"))]
fn oauth_buttons(_web: &Web) -> Markup {
    html! {}
}

#[cfg(feature = "oidc")]
use super::oauth::oauth_buttons;

/// Cookie naming the OpenID Connect attempt under way.
#[cfg(feature = "oidc")]
const OIDC_COOKIE: &str = "portus_oidc";

/// The OpenID Connect sign-ins: any provider's (`[web.oidc]`) and Google's, each at
/// `/sign_in/{path}`.
#[cfg(feature = "oidc")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum OidcKind {
    Generic,
    Google,
}

#[cfg(feature = "oidc")]
impl OidcKind {
    /// The configured provider of this kind; without one its pages do not exist.
    fn login(self, web: &Web) -> Result<&crate::web::OidcLogin, PageError> {
        match self {
            OidcKind::Generic => web.config.oidc.as_ref(),
            OidcKind::Google => web.config.google.as_ref(),
        }
        .ok_or_else(PageError::not_found)
    }
}

/// `GET /sign_in/oidc`: off to the provider, with a fresh state, nonce and PKCE challenge.
#[cfg(feature = "oidc")]
pub(crate) async fn oidc_begin(Extension(web): Extension<Arc<Web>>) -> Result<Response, PageError> {
    begin(&web, OidcKind::Generic).await
}

/// `GET /sign_in/google`: as `/sign_in/oidc`, at Google.
#[cfg(feature = "oidc")]
pub(crate) async fn google_begin(Extension(web): Extension<Arc<Web>>) -> Result<Response, PageError> {
    begin(&web, OidcKind::Google).await
}

#[cfg(feature = "oidc")]
async fn begin(web: &Web, kind: OidcKind) -> Result<Response, PageError> {
    let login = kind.login(web)?;
    let (url, pending) = login.provider.begin().await?;
    // The attempt remembers its provider: a callback at another one is a mix-up.
    let attempt = web.oidc_attempts.put(&(kind, pending)).await?;
    let mut response = Redirect::to(url.as_str()).into_response();
    let cookie = set_cookie(
        OIDC_COOKIE,
        &attempt,
        Duration::from_secs(600),
        web.config.secure_cookies,
    );
    response
        .headers_mut()
        .insert(SET_COOKIE, cookie.parse().expect("cookie values are ASCII"));
    Ok(response)
}

/// `GET /sign_in/oidc/callback`: the provider sent the browser back; the attempt is used up
/// whatever the outcome.
#[cfg(feature = "oidc")]
pub(crate) async fn oidc_callback(
    State(state): State<AppState>,
    Extension(web): Extension<Arc<Web>>,
    headers: HeaderMap,
    Query(query): Query<Fields>,
) -> Result<Response, PageError> {
    callback(&state, &web, &headers, &query, OidcKind::Generic).await
}

/// `GET /sign_in/google/callback`: as `/sign_in/oidc/callback`, from Google.
#[cfg(feature = "oidc")]
pub(crate) async fn google_callback(
    State(state): State<AppState>,
    Extension(web): Extension<Arc<Web>>,
    headers: HeaderMap,
    Query(query): Query<Fields>,
) -> Result<Response, PageError> {
    callback(&state, &web, &headers, &query, OidcKind::Google).await
}

#[cfg(feature = "oidc")]
async fn callback(
    state: &AppState,
    web: &Web,
    headers: &HeaderMap,
    query: &Fields,
    kind: OidcKind,
) -> Result<Response, PageError> {
    let login = kind.login(web)?;
    let pending = match cookie(headers, OIDC_COOKIE) {
        Some(id) => web.oidc_attempts.take(id).await?,
        None => None,
    };
    let pending = pending.filter(|(started_at, _)| *started_at == kind);
    let Some((_, pending)) = pending else {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            "This sign-in attempt is unknown, used or expired. Start again from the sign-in page.",
        ));
    };
    let failed = |web: &Web| {
        let message = format!("Sign-in with {} failed.", login.name);
        sign_in_page(state, web, StatusCode::UNAUTHORIZED, Some(&message), "")
    };
    if query.contains_key("error") {
        return Ok(failed(web));
    }
    match login
        .provider
        .finish(pending, field(query, "state"), field(query, "code"))
        .await
        .inspect(|_| counted_external_login(state, true))
        .inspect_err(|e| refused_external_login(state, e))
    {
        Ok(user) => signed_in(web, &user, OIDC_COOKIE).await,
        Err(portus_auth::Error::InvalidCredentials) => Ok(failed(web)),
        Err(portus_auth::Error::NotLinked) => {
            // Says nothing of local accounts: only that the caller's own identity is unlinked.
            let message = format!(
                "Your {} account is not linked to an account here. Ask an administrator to link it.",
                login.name
            );
            Ok(sign_in_page(state, web, StatusCode::UNAUTHORIZED, Some(&message), ""))
        }
        Err(other) => Err(other.into()),
    }
}

/// Counts an OpenID Connect or OAuth sign-in with the token service's observer (metrics).
#[cfg(feature = "oidc")]
pub(super) fn counted_external_login(state: &AppState, ok: bool) {
    state
        .tokens
        .observer()
        .login(portus_core::observe::LoginMethod::Oidc, ok);
}

/// Counts a refused OpenID Connect or OAuth sign-in; a store outage is no refusal.
#[cfg(feature = "oidc")]
pub(super) fn refused_external_login(state: &AppState, error: &portus_auth::Error) {
    if !matches!(error, portus_auth::Error::Core(_)) {
        counted_external_login(state, false);
    }
}

/// `POST /sign_out`.
pub(crate) async fn sign_out(signed: Signed, Form(form): Form<Fields>) -> Result<Response, PageError> {
    signed.check_csrf(&form)?;
    signed.web.sessions.end(&signed.session_id).await?;
    let mut response = Redirect::to("/sign_in").into_response();
    let clear = set_cookie(SESSION_COOKIE, "", Duration::ZERO, signed.web.config.secure_cookies);
    response
        .headers_mut()
        .insert(SET_COOKIE, clear.parse().expect("cookie values are ASCII"));
    Ok(response)
}
