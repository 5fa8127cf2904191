//! The web pages (feature `web`): server-rendered HTML under `/` for people, built on the REST
//! API. Every page and form is answered by calling `/api/v1` in process as the signed-in user
//! (see [`SessionUser`]), so the pages make no permission decision of their own: what the API
//! refuses, the pages refuse, with the same status; what it hides, they hide.
//!
//! Sessions and CSRF protection are in [`session`]; the HTML in `views`; the handlers, one
//! per page or form, in `pages`. Styles and the small script are served from `/assets/`:
//! no external CDN.

mod pages;
pub mod session;
mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use portus_core::account::check_usable;
use portus_core::model::User;
use serde_json::Value;
use tower::ServiceExt;

use crate::state::{AppState, SessionUser};
use portus_auth::password::secrets_equal;
use session::{SESSION_COOKIE, Sessions, cookie};

/// Items per page of the lists on pages.
const LIST_PAGE: usize = 50;

/// Settings of the web pages.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// How long a session lives after its last use.
    pub session_lifetime: Duration,
    /// Whether cookies get the `Secure` attribute (set it when users reach portus over HTTPS).
    pub secure_cookies: bool,
    /// Whether people may create their own accounts at `/sign_up` (`web.signup`; never with
    /// LDAP, whose directory owns the accounts).
    pub signup: bool,
    /// Whether visitors who have not signed in may browse `/explore` (Portus'
    /// `anonymous_browsing`); without it the page sends them to sign in.
    pub anonymous_browsing: bool,
    /// Whether the sign-in page offers the password form (`web.local_login`); without it the
    /// form is gone and a posted password is refused, leaving OpenID Connect.
    pub local_login: bool,
    /// Sign in with OpenID Connect, when configured.
    #[cfg(feature = "oidc")]
    pub oidc: Option<OidcLogin>,
    /// Sign in with Google (OpenID Connect with Google's rules), when configured.
    #[cfg(feature = "oidc")]
    pub google: Option<OidcLogin>,
    /// Sign in with GitHub, GitLab or Bitbucket: the configured providers (one of each kind
    /// at most), in the order of their buttons.
    #[cfg(feature = "oidc")]
    pub oauth: Vec<OAuthLogin>,
}

/// A GitHub, GitLab or Bitbucket provider offered on the sign-in page.
#[cfg(feature = "oidc")]
#[derive(Clone)]
pub struct OAuthLogin {
    /// The name on the button ("Sign in with ...").
    pub name: String,
    /// The provider.
    pub provider: Arc<portus_auth::oauth::OAuthProvider>,
}

#[cfg(feature = "oidc")]
impl std::fmt::Debug for OAuthLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthLogin")
            .field("name", &self.name)
            .field("kind", &self.provider.kind())
            .finish_non_exhaustive()
    }
}

/// An OpenID Connect provider offered on the sign-in page.
#[cfg(feature = "oidc")]
#[derive(Clone)]
pub struct OidcLogin {
    /// The name on the button ("Sign in with ...").
    pub name: String,
    /// The provider.
    pub provider: Arc<portus_auth::oidc::OidcProvider>,
}

#[cfg(feature = "oidc")]
impl std::fmt::Debug for OidcLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcLogin")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            session_lifetime: Duration::from_secs(8 * 3600),
            secure_cookies: true,
            signup: false,
            anonymous_browsing: true,
            local_login: true,
            #[cfg(feature = "oidc")]
            oidc: None,
            #[cfg(feature = "oidc")]
            google: None,
            #[cfg(feature = "oidc")]
            oauth: Vec::new(),
        }
    }
}

/// What the page handlers share: the sessions, the in-process API and the settings.
pub struct Web {
    sessions: Sessions,
    api: Router,
    config: WebConfig,
    /// OpenID Connect attempts under way, in the store by SHA-256 of the `portus_oidc` cookie.
    #[cfg(feature = "oidc")]
    oidc_attempts: session::Attempts<(pages::OidcKind, portus_auth::oidc::PendingLogin)>,
    /// GitHub, GitLab and Bitbucket attempts under way, in the store by SHA-256 of the
    /// `portus_oauth` cookie (each bound to its provider).
    #[cfg(feature = "oidc")]
    oauth_attempts: session::Attempts<portus_auth::oauth::PendingOAuth>,
}

impl std::fmt::Debug for Web {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Web")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The web pages and their assets, for `state`; `api` is the REST API the pages call in
/// process.
pub fn router(state: AppState, config: WebConfig, api: Router<AppState>) -> Router<AppState> {
    // Sessions and attempts live in the policy store: any instance on it serves them.
    let store: Arc<dyn portus_core::traits::SessionStore> = state.store.clone();
    let explore = config.anonymous_browsing;
    let web = Arc::new(Web {
        sessions: Sessions::new(store.clone(), config.session_lifetime),
        #[cfg(feature = "oidc")]
        oidc_attempts: session::Attempts::new(store.clone(), "oidc", portus_auth::oidc::ATTEMPT_LIFETIME),
        #[cfg(feature = "oidc")]
        oauth_attempts: session::Attempts::new(store, "oauth", portus_auth::oauth::ATTEMPT_LIFETIME),
        api: api.with_state(state),
        config,
    });
    #[cfg(feature = "oidc")]
    let router = Router::new()
        .route("/sign_in/oidc", get(pages::oidc_begin))
        .route("/sign_in/oidc/callback", get(pages::oidc_callback))
        .route("/sign_in/google", get(pages::google_begin))
        .route("/sign_in/google/callback", get(pages::google_callback))
        .route("/sign_in/{provider}", get(pages::oauth_begin))
        .route("/sign_in/{provider}/callback", get(pages::oauth_callback));
    #[cfg(not(feature = "oidc"))]
    let router = Router::new();
    router
        .route("/", get(pages::dashboard))
        .route("/sign_in", get(pages::sign_in_form).post(pages::sign_in))
        .route("/sign_up", get(pages::sign_up_form).post(pages::sign_up))
        .route("/sign_out", post(pages::sign_out))
        .route(
            "/password_reset",
            get(pages::password_reset_form).post(pages::request_password_reset),
        )
        .route(
            "/password_reset/{token}",
            get(pages::new_password_form).post(pages::set_new_password),
        )
        .route("/profile", get(pages::profile).post(pages::update_profile))
        .route("/search", get(pages::search))
        .route("/activities", get(pages::activities))
        .route("/repositories", get(pages::repository_list))
        .route("/explore", get(pages::explore))
        .route("/namespaces", get(pages::namespaces).post(pages::create_namespace))
        .route("/namespaces/{id}", get(pages::namespace).post(pages::update_namespace))
        .route(
            "/namespaces/{id}/delete",
            get(pages::confirm_namespace_deletion).post(pages::delete_namespace),
        )
        .route(
            "/namespaces/{id}/webhooks",
            get(pages::webhooks).post(pages::create_webhook),
        )
        .route(
            "/namespaces/{id}/webhooks/{webhook_id}",
            get(pages::webhook).post(pages::update_webhook),
        )
        .route(
            "/namespaces/{id}/webhooks/{webhook_id}/toggle",
            post(pages::toggle_webhook),
        )
        .route(
            "/namespaces/{id}/webhooks/{webhook_id}/secret",
            post(pages::rotate_webhook_secret),
        )
        .route(
            "/namespaces/{id}/webhooks/{webhook_id}/delete",
            post(pages::delete_webhook),
        )
        .route(
            "/namespaces/{id}/webhooks/{webhook_id}/deliveries/{delivery_id}/resend",
            post(pages::resend_delivery),
        )
        .route("/teams", get(pages::teams).post(pages::create_team))
        .route("/teams/{id}", get(pages::team).post(pages::update_team))
        .route(
            "/teams/{id}/delete",
            get(pages::confirm_team_deletion).post(pages::delete_team),
        )
        .route("/teams/{id}/members", post(pages::add_member))
        .route("/teams/{id}/members/{user_id}", post(pages::change_member))
        .route(
            "/repositories/{id}",
            get(pages::repository).post(pages::update_repository),
        )
        .route("/repositories/{id}/star", post(pages::star))
        .route("/repositories/{id}/comments", post(pages::add_comment))
        .route(
            "/repositories/{id}/comments/{comment_id}/delete",
            post(pages::delete_comment),
        )
        .route(
            "/repositories/{id}/delete",
            get(pages::confirm_repository_deletion).post(pages::delete_repository),
        )
        .route("/tags/{id}", get(pages::tag))
        .route(
            "/tags/{id}/delete",
            get(pages::confirm_tag_deletion).post(pages::delete_tag),
        )
        .route("/tokens", get(pages::tokens).post(pages::create_token))
        .route("/tokens/{id}/revoke", post(pages::revoke_token))
        .route("/admin/users", get(pages::users).post(pages::create_user))
        .route("/admin/users/{id}", post(pages::update_user))
        .route("/assets/portus.css", get(pages::stylesheet))
        .route("/assets/portus.js", get(pages::script))
        .layer(axum::middleware::map_response(move |response: Response| async move {
            error_pages(explore, response)
        }))
        .layer(axum::Extension(web))
        .layer(axum::middleware::map_response(security_headers))
}

/// Headers every page gets: no framing, no sniffing, only our own scripts and styles, no
/// caching of pages that show private data.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let is_asset = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/css") || v.starts_with("text/javascript"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !is_asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn web_of(parts: &Parts) -> Arc<Web> {
    parts
        .extensions
        .get::<Arc<Web>>()
        .cloned()
        .expect("the web router adds its state as an extension")
}

/// A page error: the API's status and message, shown as a page.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    message: String,
}

impl PageError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        PageError {
            status,
            message: message.into(),
        }
    }

    fn not_found() -> Self {
        PageError::new(StatusCode::NOT_FOUND, "There is no such page.")
    }

    fn csrf() -> Self {
        PageError::new(
            StatusCode::FORBIDDEN,
            "The form was refused: its security token is missing or stale. Reload the page and try again.",
        )
    }
}

impl From<crate::error::ApiError> for PageError {
    fn from(api: crate::error::ApiError) -> Self {
        PageError::new(api.status, api.message)
    }
}

impl From<portus_core::Error> for PageError {
    fn from(error: portus_core::Error) -> Self {
        crate::error::ApiError::from(error).into()
    }
}

impl From<portus_auth::Error> for PageError {
    fn from(error: portus_auth::Error) -> Self {
        crate::error::ApiError::from(error).into()
    }
}

impl IntoResponse for PageError {
    /// The error page as the default configuration shows it, carrying its title and message
    /// (`ErrorPage`) for the router's `error_pages` layer to render again with the site's configuration: an
    /// error has none at hand.
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let defaults = WebConfig::default();
        let page = views::error_page(title, &self.message, defaults.anonymous_browsing);
        let mut response = (self.status, Html(page.into_string())).into_response();
        response.extensions_mut().insert(ErrorPage {
            title: title.to_owned(),
            message: self.message,
        });
        response
    }
}

/// What an error page shows, kept on its answer until [`error_pages`] renders it.
#[derive(Debug, Clone)]
struct ErrorPage {
    title: String,
    message: String,
}

/// Renders every error page of the web router again with its configuration, `explore` being
/// `web.anonymous_browsing`: the explore link is offered only where the explore page is.
fn error_pages(explore: bool, mut response: Response) -> Response {
    let Some(error) = response.extensions_mut().remove::<ErrorPage>() else {
        return response;
    };
    let page = views::error_page(&error.title, &error.message, explore);
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(page.into_string()))
}

/// The signed-in user of a page request; pages that need one redirect to the sign-in page
/// without it. The session and the user are read from the store on every request and the user
/// judged by [`check_usable`], so disabling or locking an account ends its sessions at once on
/// every instance.
pub struct Signed {
    web: Arc<Web>,
    /// The user, as the store has it now.
    pub user: User,
    /// The session's CSRF token, for the forms of the page.
    pub csrf: String,
    /// The registry's host as users pull from it, for the pull commands pages show.
    pub registry_host: Option<String>,
    session_id: String,
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let web = web_of(parts);
        let to_sign_in = || Redirect::to("/sign_in").into_response();
        let Some(session_id) = cookie(&parts.headers, SESSION_COOKIE).map(str::to_owned) else {
            return Err(to_sign_in());
        };
        let session = web
            .sessions
            .get(&session_id)
            .await
            .map_err(|e| PageError::from(e).into_response())?;
        let Some(session) = session else {
            return Err(to_sign_in());
        };
        let user = state
            .store
            .user_by_id(session.user_id)
            .await
            .map_err(|e| PageError::from(e).into_response())?;
        // The same account-state rule as every other credential: a disabled or locked user's
        // session ends here, at their next request; so does one begun before a password change
        // (a stolen session does not survive the owner changing the password).
        let now = portus_core::model::now();
        match user {
            Some(user) if check_usable(&user, now).is_ok() && !session.outlived_by(&user) => Ok(Signed {
                web,
                user,
                csrf: session.csrf,
                registry_host: state.external_hostname.clone(),
                session_id,
            }),
            _ => {
                web.sessions
                    .end(&session_id)
                    .await
                    .map_err(|e| PageError::from(e).into_response())?;
                Err(to_sign_in())
            }
        }
    }
}

impl std::fmt::Debug for Signed {
    // The session identifier and its CSRF token are secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signed")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Signed {
    /// Refuses a form whose `csrf` field is not this session's token.
    fn check_csrf(&self, form: &std::collections::HashMap<String, String>) -> Result<(), PageError> {
        match form.get("csrf") {
            Some(token) if secrets_equal(token.as_bytes(), self.csrf.as_bytes()) => Ok(()),
            _ => Err(PageError::csrf()),
        }
    }

    /// Calls the REST API as this user; `Ok` with the JSON answer (`Null` for 204), or the
    /// API's refusal as a [`PageError`].
    async fn api(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, PageError> {
        self.call(method, path, body).await.map(|(json, _)| json)
    }

    /// Page `page` (from 1) of a paginated API list: the items and how many pages there are.
    async fn list(&self, path: &str, page: usize) -> Result<(Value, usize), PageError> {
        list_as(&self.web, Some(&self.user), path, page).await
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(Value, axum::http::HeaderMap), PageError> {
        call_as(&self.web, Some(&self.user), method, path, body).await
    }

    /// A form's change: refused unless the form carries this session's CSRF token, then made
    /// through the API.
    async fn submit(
        &self,
        form: &std::collections::HashMap<String, String>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, PageError> {
        self.check_csrf(form)?;
        self.api(method, path, body).await
    }

    async fn get(&self, path: &str) -> Result<Value, PageError> {
        self.api(Method::GET, path, None).await
    }

    /// The health endpoint's components, healthy or not.
    async fn health(&self) -> Result<Value, PageError> {
        health(&self.web).await
    }

    fn page(&self, title: &str, body: maud::Markup) -> Response {
        Html(views::layout(title, Some(self), body).into_string()).into_response()
    }
}

/// Page `page` (from 1) of a paginated API list as `user` (anonymous without one): the items
/// and how many pages there are.
async fn list_as(web: &Web, user: Option<&User>, path: &str, page: usize) -> Result<(Value, usize), PageError> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let path = format!("{path}{separator}per_page={LIST_PAGE}&page={page}");
    let (json, headers) = call_as(web, user, Method::GET, &path, None).await?;
    let pages = headers
        .get("x-total-pages")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    Ok((json, pages))
}

/// Calls the REST API in process as `user` (anonymous without one); `Ok` with the JSON answer
/// (`Null` for 204) and the headers, or the API's refusal as a [`PageError`].
async fn call_as(
    web: &Web,
    user: Option<&User>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<(Value, axum::http::HeaderMap), PageError> {
    let mut request = Request::builder().method(method).uri(path);
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty);
    let mut request = request
        .body(body)
        .map_err(|_| PageError::new(StatusCode::BAD_REQUEST, "invalid request"))?;
    if let Some(user) = user {
        request.extensions_mut().insert(SessionUser(user.clone()));
    }
    let (status, json, headers) = send(web, request).await?;
    if status.is_success() {
        Ok((json, headers))
    } else {
        let message = json["errors"][0]["message"]
            .as_str()
            .unwrap_or("the request was refused")
            .to_owned();
        Err(PageError::new(status, message))
    }
}

/// Sends `request` to the REST API in process: the status, the JSON answer (`Null` when empty
/// or not JSON) and the headers.
async fn send(web: &Web, request: Request<Body>) -> Result<(StatusCode, Value, axum::http::HeaderMap), PageError> {
    let response = web
        .api
        .clone()
        .oneshot(request)
        .await
        .unwrap_or_else(|never| match never {});
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 32 << 20)
        .await
        .map_err(|_| PageError::new(StatusCode::BAD_GATEWAY, "the answer could not be read"))?;
    let json: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    Ok((status, json, headers))
}

/// The health endpoint's components (`GET /api/v1/health`), whether healthy (200) or not
/// (503, same body).
async fn health(web: &Web) -> Result<Value, PageError> {
    let request = Request::builder()
        .uri("/api/v1/health")
        .body(Body::empty())
        .map_err(|_| PageError::new(StatusCode::BAD_REQUEST, "invalid request"))?;
    Ok(send(web, request).await?.1)
}

#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;
