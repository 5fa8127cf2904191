//! Namespaces.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use portus_core::model::{Namespace, NamespaceId, NamespaceRef, NewNamespace, Role, Visibility};
use portus_core::ops;
use portus_core::permissions::{self, Permission};
use portus_core::policy::Action;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiCaller, JsonBody, PageQuery, check, created, forbidden, not_found, parse_id};
use crate::error::ApiError;
use crate::state::AppState;

/// The global namespace's name in the API (it has none in the registry).
pub(super) const GLOBAL_NAME: &str = "(global)";

/// How many repositories each namespace holds.
pub(super) type RepositoryCounts = HashMap<NamespaceId, usize>;

/// Counts every namespace's repositories in one listing.
pub(super) async fn repository_counts(state: &AppState) -> Result<RepositoryCounts, ApiError> {
    let mut counts = RepositoryCounts::new();
    for repository in state.store.list_repositories().await? {
        *counts.entry(repository.namespace_id).or_default() += 1;
    }
    Ok(counts)
}

/// The JSON shape of a namespace, with what the caller may do in it.
pub(super) fn view(namespace: &Namespace, caller: &ApiCaller, state: &AppState, counts: &RepositoryCounts) -> Value {
    let namespace_view = caller.namespace_view(namespace, state);
    let config = &state.policy;
    json!({
        "id": namespace.id,
        "name": if namespace.global { GLOBAL_NAME } else { namespace.name.as_str() },
        "description": namespace.description,
        "team_id": namespace.team_id,
        "visibility": namespace.visibility,
        "global": namespace.global,
        "personal": namespace.personal_owner.is_some(),
        "repositories_count": counts.get(&namespace.id).copied().unwrap_or(0),
        "permissions": {
            "role": namespace_view.role,
            "pull": caller.may(namespace, Action::Pull, state),
            "push": caller.may(namespace, Action::Push, state),
            "delete": caller.may(namespace, Action::Delete, state),
            "manage": permissions::edit_namespace(caller.caller, &namespace_view, config) == Permission::Allow,
            "visibility": permissions::change_visibility(caller.caller, &namespace_view, config) == Permission::Allow,
        },
    })
}

/// A namespace the caller may see.
pub(super) async fn load(state: &AppState, caller: &ApiCaller, raw: &str) -> Result<Namespace, ApiError> {
    let id = NamespaceId(parse_id(raw, "namespace")?);
    let namespace = state
        .store
        .namespace_by_id(id)
        .await?
        .ok_or_else(|| not_found("namespace"))?;
    check(
        permissions::view_namespace(&caller.namespace_view(&namespace, state)),
        "namespace",
    )?;
    Ok(namespace)
}

/// `GET /api/v1/namespaces`.
pub(super) async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    page: PageQuery,
) -> Result<Response, ApiError> {
    let counts = repository_counts(&state).await?;
    let namespaces: Vec<Value> = state
        .store
        .list_namespaces()
        .await?
        .iter()
        .filter(|n| caller.namespace_view(n, &state).visible)
        .map(|n| view(n, &caller, &state, &counts))
        .collect();
    page.0.respond("/api/v1/namespaces", namespaces)
}

/// Body of `POST /api/v1/namespaces`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewNamespaceBody {
    name: String,
    /// The owning team's name.
    team: String,
    description: Option<String>,
    visibility: Option<Visibility>,
}

super::request_bodies! {
    NewNamespaceBody => Some("namespace");
    UpdateNamespaceBody => Some("namespace");
}

/// `POST /api/v1/namespaces`: private unless asked otherwise.
pub(super) async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    JsonBody(body): JsonBody<NewNamespaceBody>,
) -> Result<Response, ApiError> {
    caller.user()?;
    let store = &state.store;
    let team = store
        .team_by_name(&body.team)
        .await?
        .filter(|t| permissions::view_team(caller.caller, t, caller.role(Some(t.id))) == Permission::Allow && !t.hidden)
        .ok_or_else(|| not_found("team"))?;
    check(
        permissions::create_namespace(caller.caller, caller.role(Some(team.id)), &state.policy),
        "team",
    )?;
    let visibility = body.visibility.unwrap_or(Visibility::Private);
    if visibility != Visibility::Private
        && !caller.caller.is_admin()
        && !(state.policy.change_visibility && caller.role(Some(team.id)) == Some(Role::Owner))
    {
        return Err(forbidden("you may not choose this namespace's visibility"));
    }
    let new = NewNamespace {
        name: body.name,
        team_id: team.id,
        visibility,
        description: body.description,
    };
    let namespace = ops::namespaces::create(store.as_ref(), caller.actor(), new, &team).await?;
    Ok(created(view(&namespace, &caller, &state, &RepositoryCounts::new())))
}

/// Query of `GET /api/v1/namespaces/validate`.
#[derive(Deserialize)]
pub(super) struct ValidateQuery {
    name: String,
}

/// `GET /api/v1/namespaces/validate?name=`: whether a namespace could be created with this name,
/// as Portus answers it: `{"valid": bool, "messages": {"name": [reasons]}}` (`messages` is
/// empty when valid). A taken name is reported as taken, whoever's it is, like the 409 of a
/// creation (names are unique).
pub(super) async fn validate(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<ValidateQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.user()?;
    let mut reasons = Vec::new();
    if let Err(e) = portus_core::naming::validate_namespace_name(&query.name) {
        reasons.push(e.to_string());
    } else if state.store.namespace(NamespaceRef::Named(&query.name)).await?.is_some() {
        reasons.push("has already been taken".to_owned());
    }
    let messages = if reasons.is_empty() {
        json!({})
    } else {
        json!({"name": reasons})
    };
    Ok(Json(json!({"valid": reasons.is_empty(), "messages": messages})))
}

/// `GET /api/v1/namespaces/{id}`.
pub(super) async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let namespace = load(&state, &caller, &id).await?;
    let counts = repository_counts(&state).await?;
    Ok(Json(view(&namespace, &caller, &state, &counts)))
}

/// Body of `PUT /api/v1/namespaces/{id}`; absent fields stay as they are.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateNamespaceBody {
    description: Option<String>,
    /// The new owning team's name.
    team: Option<String>,
    visibility: Option<Visibility>,
}

/// `PUT /api/v1/namespaces/{id}`.
pub(super) async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateNamespaceBody>,
) -> Result<Json<Value>, ApiError> {
    caller.user()?;
    let namespace = load(&state, &caller, &id).await?;
    let namespace_view = caller.namespace_view(&namespace, &state);
    let config = &state.policy;
    let store = &state.store;
    // Every check first: a refused part changes nothing.
    if body.description.is_some() || body.team.is_some() {
        check(
            permissions::edit_namespace(caller.caller, &namespace_view, config),
            "namespace",
        )?;
    }
    if body.visibility.is_some() {
        check(
            permissions::change_visibility(caller.caller, &namespace_view, config),
            "namespace",
        )?;
    }
    let team = match &body.team {
        None => None,
        Some(_) if namespace.personal_owner.is_some() => {
            return Err(ApiError::bad_request("a personal namespace stays with its user's team"));
        }
        Some(name) => {
            // A team the caller may not see answers exactly like a missing one.
            let team = store
                .team_by_name(name)
                .await?
                .filter(|t| {
                    !t.hidden && permissions::view_team(caller.caller, t, caller.role(Some(t.id))) == Permission::Allow
                })
                .ok_or_else(|| not_found("team"))?;
            if !caller.caller.is_admin() && caller.role(Some(team.id)) != Some(Role::Owner) {
                return Err(forbidden("you can only hand a namespace to a team you own"));
            }
            Some(team)
        }
    };
    let actor = caller.actor();
    if let Some(visibility) = body.visibility {
        ops::namespaces::set_visibility(store.as_ref(), actor, &namespace, visibility).await?;
    }
    if body.description.is_some() || team.is_some() {
        ops::namespaces::update(store.as_ref(), actor, &namespace, body.description, team.as_ref()).await?;
    }
    let namespace = store
        .namespace_by_id(namespace.id)
        .await?
        .ok_or_else(|| not_found("namespace"))?;
    let counts = repository_counts(&state).await?;
    Ok(Json(view(&namespace, &caller, &state, &counts)))
}

/// `GET /api/v1/namespaces/{id}/repositories`.
pub(super) async fn repositories(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    page: PageQuery,
) -> Result<Response, ApiError> {
    let namespace = load(&state, &caller, &id).await?;
    let repositories = state.store.list_repositories().await?;
    let starred = super::repositories::starred_by(&state, &caller).await?;
    let mut views = Vec::new();
    for repository in repositories.iter().filter(|r| r.namespace_id == namespace.id) {
        views.push(super::repositories::view(&state, repository, starred.contains(&repository.id)).await?);
    }
    page.0
        .respond(&format!("/api/v1/namespaces/{}/repositories", namespace.id), views)
}
