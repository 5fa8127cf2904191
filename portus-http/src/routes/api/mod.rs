//! The REST API (`/api/v1`, JSON). Callers authenticate with an application token, as
//! `Authorization: Bearer <token>` or Portus' `Portus-Auth: <user>:<token>`; without either
//! they are anonymous. What a caller may see and change is decided by the core
//! ([`portus_core::policy`], [`portus_core::permissions`]); an object the caller may not see
//! answers exactly like one that does not exist (404), one they may see but not change 403.
//!
//! Every route is declared once, by its handler's `#[utoipa::path]` and its line in `api()`:
//! the router and the OpenAPI document at `/api/openapi.json` are both built from them.

mod activity_export;
mod activity_links;
mod bootstrap;
mod comments;
mod findings;
mod lists;
mod namespaces;
mod openapi;
mod password_resets;
mod repositories;
mod schema;
mod search;
mod system;
mod tags;
mod teams;
mod users;
mod webhooks;

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portus_core::model::{Namespace, Role, TeamId, User};
use portus_core::permissions::{NamespaceView, Permission};
use portus_core::policy::{Action, Caller, NamespaceFacts, authorize};
use portus_core::traits::Secret;
use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) use self::lists::{Page, PageQuery};
use crate::error::ApiError;
use crate::state::{AppState, SessionUser};

/// Every route, grouped by path: the router and the OpenAPI document are both built from this
/// one list (`routes!` reads each handler's `#[utoipa::path]`: method, path, parameters, body
/// and answers).
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(system::ping))
        .routes(routes!(system::health))
        .routes(routes!(system::version))
        .routes(routes!(system::api_version))
        .routes(routes!(system::registries))
        .routes(routes!(search::search))
        .routes(routes!(system::activities))
        .routes(routes!(users::list, users::create))
        .routes(routes!(bootstrap::bootstrap))
        .routes(routes!(users::me))
        .routes(routes!(password_resets::request))
        .routes(routes!(password_resets::reset))
        .routes(routes!(users::show, users::update, users::delete))
        .routes(routes!(users::list_tokens, users::create_token))
        .routes(routes!(users::revoke_token))
        .routes(routes!(users::revoke_token_by_id))
        .routes(routes!(teams::list, teams::create))
        .routes(routes!(teams::show, teams::update, teams::delete))
        .routes(routes!(teams::members, teams::add_member))
        .routes(routes!(teams::change_member, teams::remove_member))
        .routes(routes!(teams::namespaces))
        .routes(routes!(namespaces::list, namespaces::create))
        .routes(routes!(namespaces::validate))
        .routes(routes!(namespaces::show, namespaces::update, namespaces::delete))
        .routes(routes!(namespaces::repositories))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::show, webhooks::update, webhooks::delete))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::resend))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(repositories::list))
        .routes(routes!(repositories::show, repositories::update, repositories::delete))
        .routes(routes!(tags::repository_tags))
        .routes(routes!(comments::list, comments::create))
        .routes(routes!(comments::delete))
        .routes(routes!(tags::grouped_tags))
        .routes(routes!(repositories::star, repositories::unstar))
        .routes(routes!(repositories::starred))
        .routes(routes!(tags::all_tags))
        .routes(routes!(tags::show_tag, tags::delete_tag))
        .routes(routes!(findings::tag_vulnerabilities))
        .routes(routes!(tags::rescan_all))
        .routes(routes!(tags::rescan_tag))
        .routes(routes!(openapi::serve))
}

/// The API routes.
pub(crate) fn router() -> Router<AppState> {
    api().split_for_parts().0
}

/// The caller of an API request: anonymous, or the enabled user of a valid application token.
pub(crate) struct ApiCaller {
    /// For policy decisions.
    pub caller: Caller,
    /// The user, when authenticated.
    pub user: Option<User>,
    roles: HashMap<TeamId, Role>,
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let session_user = parts.extensions.get::<SessionUser>().map(|s| s.0.clone());
        let user = match session_user {
            Some(user) => Some(user),
            None => authenticate(state, &parts.headers).await?,
        };
        let Some(user) = user else {
            return Ok(ApiCaller {
                caller: Caller::Anonymous,
                user: None,
                roles: HashMap::new(),
            });
        };
        let roles = state.store.memberships(user.id).await?.into_iter().collect();
        Ok(ApiCaller {
            caller: Caller::User {
                id: user.id,
                admin: user.admin,
            },
            user: Some(user),
            roles,
        })
    }
}

fn unauthorized() -> ApiError {
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        code: "UNAUTHORIZED",
        message: "invalid or missing application token".into(),
        basic_challenge: false,
    }
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Option<User>, ApiError> {
    let tokens = &state.tokens;
    if let Some(value) = headers.get("portus-auth") {
        let value = value.to_str().map_err(|_| unauthorized())?;
        let (username, token) = value.split_once(':').ok_or_else(unauthorized)?;
        let user = tokens
            .authenticate_user_app_token(username, &Secret::new(token))
            .await
            .map_err(|_| unauthorized())?;
        Ok(Some(user))
    } else if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| unauthorized())?;
        let (scheme, token) = value.trim().split_once(' ').ok_or_else(unauthorized)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(unauthorized());
        }
        let user = tokens
            .authenticate_app_token(&Secret::new(token.trim()))
            .await
            .map_err(|_| unauthorized())?;
        Ok(Some(user))
    } else {
        Ok(None)
    }
}

impl ApiCaller {
    /// The user, or 401 for anonymous callers.
    pub(crate) fn user(&self) -> Result<&User, ApiError> {
        self.user.as_ref().ok_or_else(unauthorized)
    }

    /// The caller's role in a team.
    pub(crate) fn role(&self, team: Option<TeamId>) -> Option<Role> {
        team.and_then(|t| self.roles.get(&t).copied())
    }

    /// The caller's name for the activity log.
    pub(crate) fn actor(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.username.as_str())
    }

    /// What policy needs to know about `namespace` for this caller.
    fn facts(&self, namespace: &Namespace) -> NamespaceFacts {
        NamespaceFacts::of(namespace, self.role(namespace.team_id), self.caller.user_id())
    }

    /// What the management decisions need to know about `namespace`.
    pub(crate) fn namespace_view(&self, namespace: &Namespace, state: &AppState) -> NamespaceView {
        let facts = self.facts(namespace);
        NamespaceView {
            visible: authorize(self.caller, Some(&facts), Action::Pull, &state.policy).is_allowed(),
            global: namespace.global,
            personal: namespace.personal_owner.is_some(),
            role: facts.role,
        }
    }

    /// The namespaces the caller may see, as a store selects them: the pull rule
    /// ([`portus_core::policy::visible_namespaces`]) over the caller's teams.
    pub(crate) fn visible_namespaces(&self, state: &AppState) -> portus_core::model::VisibleNamespaces {
        portus_core::policy::visible_namespaces(self.caller, self.roles.keys().copied(), &state.policy)
    }

    /// Whether the caller may do a registry `action` on `namespace`.
    pub(crate) fn may(&self, namespace: &Namespace, action: Action, state: &AppState) -> bool {
        authorize(self.caller, Some(&self.facts(namespace)), action, &state.policy).is_allowed()
    }
}

/// 404 for `what`.
pub(crate) fn not_found(what: &str) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "NOT_FOUND",
        message: format!("no such {what}"),
        basic_challenge: false,
    }
}

/// 403.
pub(crate) fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::FORBIDDEN,
        code: "DENIED",
        message: message.into(),
        basic_challenge: false,
    }
}

/// Turns a permission into a result: hidden objects are "not found".
pub(crate) fn check(permission: Permission, what: &str) -> Result<(), ApiError> {
    match permission {
        Permission::Allow => Ok(()),
        Permission::Forbidden => Err(forbidden(format!("you may not do this to this {what}"))),
        Permission::Hidden => Err(not_found(what)),
    }
}

/// Parses a numeric path id; anything else is "not found".
pub(crate) fn parse_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| not_found(what))
}

/// A request body type, and the object Portus' API v1 wraps it in (`{"user": {...}}`), if any:
/// [`JsonBody`] accepts both the bare body and the wrapped one.
pub(crate) trait RequestBody: DeserializeOwned {
    /// The wrapper's key (`user`, `team`, `namespace`, `repository`), or `None`.
    const WRAPPER: Option<&'static str> = None;
}

/// Declares request body types and the key Portus wraps them in.
macro_rules! request_bodies {
    ($($body:ty => $key:expr;)*) => {
        $(impl $crate::routes::api::RequestBody for $body {
            const WRAPPER: Option<&'static str> = $key;
        })*
    };
}
pub(crate) use request_bodies;

/// `{"<key>": {...}}` → `{...}`; anything else as it is. Only an object whose one member is
/// the wrapper key with an object value is unwrapped, so a bare body never loses a field.
fn unwrap_portus(value: Value, key: Option<&str>) -> Value {
    match (key, value) {
        (Some(key), Value::Object(mut map)) if map.len() == 1 && map.get(key).is_some_and(Value::is_object) => {
            map.remove(key).unwrap_or_default()
        }
        (_, value) => value,
    }
}

/// A JSON request body, bare or wrapped as Portus sends it (see [`RequestBody`]), with a clear
/// 400 (or 413, via the body limit) on bad input.
pub(crate) struct JsonBody<T>(pub T);

impl<T: RequestBody, S: Send + Sync> axum::extract::FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let value = match Json::<Value>::from_request(request, state).await {
            Ok(Json(value)) => value,
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    code: "SIZE_INVALID",
                    message: "the request body is too large".into(),
                    basic_challenge: false,
                });
            }
            Err(rejection) => {
                return Err(ApiError::bad_request(format!(
                    "invalid JSON body: {}",
                    rejection.body_text()
                )));
            }
        };
        serde_json::from_value(unwrap_portus(value, T::WRAPPER))
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
    }
}

/// An optional JSON request body (Portus' clients send some parameters of `DELETE` in one):
/// none when the request has no body, else as [`JsonBody`].
pub(crate) struct OptionalJsonBody<T>(pub Option<T>);

impl<T: RequestBody, S: Send + Sync> axum::extract::FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
        // Read under the body limit; an empty body is no body.
        let bytes = match axum::body::Bytes::from_request(request, state).await {
            Ok(bytes) => bytes,
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    code: "SIZE_INVALID",
                    message: "the request body is too large".into(),
                    basic_challenge: false,
                });
            }
            Err(rejection) => return Err(ApiError::bad_request(rejection.body_text())),
        };
        if bytes.is_empty() {
            return Ok(OptionalJsonBody(None));
        }
        let mut again = axum::extract::Request::new(axum::body::Body::from(bytes));
        if let Some(content_type) = content_type {
            again.headers_mut().insert(header::CONTENT_TYPE, content_type);
        }
        JsonBody::<T>::from_request(again, state)
            .await
            .map(|JsonBody(body)| OptionalJsonBody(Some(body)))
    }
}

/// 201 with a JSON body.
pub(crate) fn created<T: serde::Serialize>(body: T) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
}

/// 204.
pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests;
