//! The REST API (`/api/v1`, JSON). Callers authenticate with an application token, as
//! `Authorization: Bearer <token>` or Portus' `Portus-Auth: <user>:<token>`; without either
//! they are anonymous. What a caller may see and change is decided by the core
//! ([`portus_core::policy`], [`portus_core::permissions`]); an object the caller may not see
//! answers exactly like one that does not exist (404), one they may see but not change 403.
//!
//! Every route is declared once in [`ROUTES`]: the router and the OpenAPI document at
//! `/api/openapi.json` are both built from it.

mod namespaces;
mod openapi;
mod repositories;
mod system;
mod teams;
mod users;

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use portus_core::model::{Namespace, Role, TeamId, User};
use portus_core::permissions::{NamespaceView, Permission};
use portus_core::policy::{Action, Caller, NamespaceFacts, authorize};
use portus_core::traits::Secret;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::{AppState, SessionUser};

/// One documented route: method, path (axum syntax), handler, summary and who may call it.
pub(crate) struct Route {
    /// HTTP method.
    pub method: &'static str,
    /// Path with `{param}` placeholders.
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Whether it needs an authenticated caller.
    pub authenticated: bool,
    handler: fn() -> MethodRouter<AppState>,
}

macro_rules! routes {
    ($($method:ident $path:literal => $handler:path, $auth:literal, $summary:literal;)*) => {
        /// Every REST API route.
        pub(crate) static ROUTES: &[Route] = &[
            $(Route {
                method: stringify!($method),
                path: $path,
                summary: $summary,
                authenticated: $auth,
                handler: || axum::routing::on(method_filter(stringify!($method)), $handler),
            },)*
        ];
    };
}

fn method_filter(method: &str) -> axum::routing::MethodFilter {
    use axum::routing::MethodFilter;
    match method {
        "GET" => MethodFilter::GET,
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        "DELETE" => MethodFilter::DELETE,
        other => unreachable!("no routes use {other}"),
    }
}

routes! {
    GET "/api/v1/_ping" => system::ping, false, "Liveness: always 200";
    GET "/api/v1/health" => system::health, false, "Health of the store, the registry and every scanner (503 if one is down)";
    GET "/api/v1/version" => system::version, false, "API and server version";
    GET "/api/v1/registries" => system::registries, true, "The registry portus guards (administrators)";
    GET "/api/v1/search" => system::search, false, "Search namespaces, repositories and tags the caller may see (`q`)";
    GET "/api/v1/activities" => system::activities, true, "Activity log, newest first (`actor`, `namespace`, `action`, `since`); non-administrators see their own";
    GET "/api/v1/users" => users::list, true, "List users (administrators)";
    POST "/api/v1/users" => users::create, true, "Create a user (administrators)";
    GET "/api/v1/users/{id}" => users::show, true, "Show a user (administrators, or the user)";
    PUT "/api/v1/users/{id}" => users::update, true, "Update e-mail or password (the user or administrators); admin, enabled, unlock (administrators)";
    DELETE "/api/v1/users/{id}" => users::delete, true, "Delete a user (administrators, not themselves)";
    GET "/api/v1/users/{id}/application_tokens" => users::list_tokens, true, "List a user's application tokens (the user or administrators)";
    POST "/api/v1/users/{id}/application_tokens" => users::create_token, true, "Create an application token; the secret is shown once";
    DELETE "/api/v1/users/{id}/application_tokens/{token_id}" => users::revoke_token, true, "Revoke an application token";
    GET "/api/v1/teams" => teams::list, true, "Teams the caller belongs to (all for administrators)";
    POST "/api/v1/teams" => teams::create, true, "Create a team; the caller (or `owner_id`, administrators) owns it";
    GET "/api/v1/teams/{id}" => teams::show, true, "Show a team (members and administrators)";
    PUT "/api/v1/teams/{id}" => teams::update, true, "Rename or describe a team (owners unless manage_team is off, administrators)";
    GET "/api/v1/teams/{id}/members" => teams::members, true, "Members and roles";
    POST "/api/v1/teams/{id}/members" => teams::add_member, true, "Add a member (`user`, `role`; owners and administrators)";
    PUT "/api/v1/teams/{id}/members/{user_id}" => teams::change_member, true, "Change a member's role";
    DELETE "/api/v1/teams/{id}/members/{user_id}" => teams::remove_member, true, "Remove a member";
    GET "/api/v1/teams/{id}/namespaces" => teams::namespaces, true, "Namespaces owned by the team";
    GET "/api/v1/namespaces" => namespaces::list, false, "Namespaces the caller may see";
    POST "/api/v1/namespaces" => namespaces::create, true, "Create a namespace for a team";
    GET "/api/v1/namespaces/{id}" => namespaces::show, false, "Show a namespace";
    PUT "/api/v1/namespaces/{id}" => namespaces::update, true, "Change description, team or visibility";
    GET "/api/v1/namespaces/{id}/repositories" => namespaces::repositories, false, "Repositories of a namespace";
    GET "/api/v1/repositories" => repositories::list, false, "Repositories the caller may see, with security summaries";
    GET "/api/v1/repositories/{id}" => repositories::show, false, "Show a repository with its per-severity security summary";
    DELETE "/api/v1/repositories/{id}" => repositories::delete, true, "Delete a repository in the registry and here";
    GET "/api/v1/repositories/{id}/tags" => repositories::tags, false, "Tags of a repository with their scan status";
    PUT "/api/v1/repositories/{id}/star" => repositories::star, true, "Star a repository";
    DELETE "/api/v1/repositories/{id}/star" => repositories::unstar, true, "Unstar a repository";
    GET "/api/v1/stars" => repositories::starred, true, "Repositories the caller starred";
    GET "/api/v1/tags/{id}" => repositories::show_tag, false, "Show a tag";
    DELETE "/api/v1/tags/{id}" => repositories::delete_tag, true, "Delete a tag's manifest in the registry (`with_siblings=true` to accept losing the other tags on it)";
    GET "/api/v1/tags/{id}/vulnerabilities" => repositories::tag_vulnerabilities, false, "A tag's findings merged across backends, with each backend's state";
    GET "/api/openapi.json" => openapi::serve, false, "This document";
}

/// The API routes, built from [`ROUTES`].
pub(crate) fn router() -> Router<AppState> {
    let mut by_path: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for route in ROUTES {
        match by_path.iter_mut().find(|(path, _)| *path == route.path) {
            Some((_, methods)) => *methods = std::mem::take(methods).merge((route.handler)()),
            None => by_path.push((route.path, (route.handler)())),
        }
    }
    by_path
        .into_iter()
        .fold(Router::new(), |router, (path, methods)| router.route(path, methods))
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

/// A JSON request body with a clear 400 (or 413, via the body limit) on bad input.
pub(crate) struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "SIZE_INVALID",
                message: "the request body is too large".into(),
                basic_challenge: false,
            }),
            Err(rejection) => Err(ApiError::bad_request(format!(
                "invalid JSON body: {}",
                rejection.body_text()
            ))),
        }
    }
}

/// `page` (from 1) and `per_page` (1 to 100, default 25) query parameters.
#[derive(Debug, Clone, Copy, Deserialize)]
pub(crate) struct Page {
    page: Option<usize>,
    per_page: Option<usize>,
}

/// The query of list endpoints: pagination only.
pub(crate) type PageQuery = Query<Page>;

impl Page {
    /// One page of `items` as a JSON array, with `X-Total`, `X-Total-Pages`, `X-Page`,
    /// `X-Per-Page` and a `Link` header (`next`, `prev`).
    pub(crate) fn respond<T: serde::Serialize>(self, path: &str, items: Vec<T>) -> Result<Response, ApiError> {
        let per_page = self.per_page.unwrap_or(25);
        if !(1..=100).contains(&per_page) {
            return Err(ApiError::bad_request("per_page must be between 1 and 100"));
        }
        let page = self.page.unwrap_or(1);
        if page == 0 {
            return Err(ApiError::bad_request("page starts at 1"));
        }
        let total = items.len();
        let pages = total.div_ceil(per_page).max(1);
        let slice: Vec<T> = items
            .into_iter()
            .skip((page - 1).saturating_mul(per_page))
            .take(per_page)
            .collect();
        let mut response = Json(slice).into_response();
        let headers = response.headers_mut();
        let number = |n: usize| HeaderValue::from(n as u64);
        headers.insert("x-total", number(total));
        headers.insert("x-total-pages", number(pages));
        headers.insert("x-page", number(page));
        headers.insert("x-per-page", number(per_page));
        let mut links = Vec::new();
        if page < pages {
            links.push(format!("<{path}?page={}&per_page={per_page}>; rel=\"next\"", page + 1));
        }
        if page > 1 {
            links.push(format!("<{path}?page={}&per_page={per_page}>; rel=\"prev\"", page - 1));
        }
        if !links.is_empty()
            && let Ok(value) = HeaderValue::from_str(&links.join(", "))
        {
            headers.insert(header::LINK, value);
        }
        Ok(response)
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
