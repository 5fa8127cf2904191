//! Signing in with GitHub, GitLab or Bitbucket: `/sign_in/{provider}` and its `/callback`,
//! with the attempts kept as OpenID Connect's (server side, named by an `HttpOnly` cookie, used
//! up whatever the outcome, bound to the provider that was asked).

use super::Fields;
use super::auth::{counted_external_login, refused_external_login, sign_in_failed, signed_in};
use super::field;
use crate::state::AppState;
use crate::web::PageError;
use crate::web::Web;
use crate::web::session::cookie;
use crate::web::session::set_cookie;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::IntoResponse;
use axum::response::Redirect;
use axum::response::Response;
use maud::Markup;
use maud::html;
use portus_auth::oauth::Kind;
use std::sync::Arc;
use std::time::Duration;

/// Cookie naming the GitHub, GitLab or Bitbucket attempt under way.
const OAUTH_COOKIE: &str = "portus_oauth";

/// The configured provider `name` names; others have no pages.
fn login_of<'w>(web: &'w Web, name: &str) -> Result<&'w crate::web::OAuthLogin, PageError> {
    let kind = Kind::from_name(name).ok_or_else(PageError::not_found)?;
    web.config
        .oauth
        .iter()
        .find(|login| login.provider.kind() == kind)
        .ok_or_else(PageError::not_found)
}

/// The buttons of the configured providers on the sign-in page.
pub(super) fn oauth_buttons(web: &Web) -> Markup {
    html! {
        @for login in &web.config.oauth {
            @let kind = login.provider.kind().as_str();
            p.alternative {
                a.button id=(format!("sign-in-{kind}")) href=(format!("/sign_in/{kind}")) { "Sign in with " (login.name) }
            }
        }
    }
}

/// `GET /sign_in/{provider}`: off to the provider, with a fresh state (and PKCE challenge).
pub(crate) async fn oauth_begin(
    Extension(web): Extension<Arc<Web>>,
    Path(provider): Path<String>,
) -> Result<Response, PageError> {
    let login = login_of(&web, &provider)?;
    let (url, pending) = login.provider.begin();
    let attempt = web.oauth_attempts.put(&pending).await?;
    let mut response = Redirect::to(url.as_str()).into_response();
    let cookie = set_cookie(
        OAUTH_COOKIE,
        &attempt,
        Duration::from_secs(600),
        web.config.secure_cookies,
    );
    response
        .headers_mut()
        .insert(SET_COOKIE, cookie.parse().expect("cookie values are ASCII"));
    Ok(response)
}

/// `GET /sign_in/{provider}/callback`: the provider sent the browser back; the attempt is
/// used up whatever the outcome.
pub(crate) async fn oauth_callback(
    State(state): State<AppState>,
    Extension(web): Extension<Arc<Web>>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    Query(query): Query<Fields>,
) -> Result<Response, PageError> {
    let login = login_of(&web, &provider)?;
    let pending = match cookie(&headers, OAUTH_COOKIE) {
        Some(id) => web.oauth_attempts.take(id).await?,
        None => None,
    };
    let Some(pending) = pending else {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            "This sign-in attempt is unknown, used or expired. Start again from the sign-in page.",
        ));
    };
    if query.contains_key("error") {
        return Ok(sign_in_failed(&state, &web, &login.name, None));
    }
    match login
        .provider
        .finish(pending, field(&query, "state"), field(&query, "code"))
        .await
        .inspect(|_| counted_external_login(&state, true))
        .inspect_err(|e| refused_external_login(&state, e))
    {
        Ok(user) => signed_in(&web, &user, OAUTH_COOKIE).await,
        Err(portus_auth::Error::InvalidCredentials) => Ok(sign_in_failed(&state, &web, &login.name, None)),
        Err(portus_auth::Error::NotLinked) => {
            // Says nothing of local accounts: only that the caller's own identity is unlinked.
            let message = format!(
                "Your {} account is not linked to an account here. Ask an administrator to link it.",
                login.name
            );
            Ok(sign_in_failed(&state, &web, &login.name, Some(&message)))
        }
        Err(other) => Err(other.into()),
    }
}
