//! Namespaces.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use portus_core::model::{
    ListPage, Namespace, NamespaceFilter, NamespaceId, NamespaceRef, NamespaceSort, NewNamespace, Role,
};
use portus_core::ops;
use portus_core::permissions::{self, Permission};
use portus_core::policy::Action;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::lists::SortKey;
use super::repositories::RepositoryView;
use super::schema::{self, Conflict, Forbidden, NotFound, Unprocessable, Visibility};
use super::{ApiCaller, JsonBody, PageQuery, check, created, forbidden, not_found, parse_id};
use crate::error::ApiError;
use crate::state::AppState;

/// The global namespace's name in the API (it has none in the registry).
pub(super) const GLOBAL_NAME: &str = "(global)";

/// How many repositories each namespace holds.
pub(super) type RepositoryCounts = HashMap<NamespaceId, u64>;

/// How many repositories each of `namespaces` holds, counted by the store's index.
pub(super) async fn repository_counts(
    state: &AppState,
    namespaces: &[NamespaceId],
) -> Result<RepositoryCounts, ApiError> {
    Ok(state.store.repository_counts(namespaces).await?.into_iter().collect())
}

impl SortKey for NamespaceSort {
    fn from_attr(attr: &str) -> Option<Self> {
        match attr {
            "name" => Some(NamespaceSort::Name),
            "id" => Some(NamespaceSort::Id),
            _ => None,
        }
    }
}

/// One page of namespaces as `caller` sees them, with their repository counts (for that page
/// only).
pub(super) async fn views(
    state: &AppState,
    caller: &ApiCaller,
    namespaces: ListPage<Namespace>,
) -> Result<ListPage<NamespaceView>, ApiError> {
    let ids: Vec<NamespaceId> = namespaces.items.iter().map(|n| n.id).collect();
    let counts = repository_counts(state, &ids).await?;
    Ok(namespaces.map(|n| NamespaceView::of(&n, caller, state, &counts)))
}

/// A namespace, with what the caller may do in it.
#[derive(Serialize, ToSchema)]
pub(super) struct NamespaceView {
    id: i64,
    /// `(global)` for the global namespace.
    name: String,
    description: Option<String>,
    /// The owning team (null: the global namespace, or created by a push: administrators only).
    team_id: Option<i64>,
    visibility: Visibility,
    global: bool,
    /// A user's personal namespace.
    personal: bool,
    repositories_count: u64,
    permissions: NamespacePermissions,
}

/// What the caller may do in a namespace.
#[derive(Serialize, ToSchema)]
pub(super) struct NamespacePermissions {
    /// The caller's role in the owning team.
    role: Option<schema::Role>,
    pull: bool,
    push: bool,
    delete: bool,
    /// Change its description or team.
    manage: bool,
    /// Change its visibility.
    visibility: bool,
    /// Delete it.
    remove: bool,
    /// See its outgoing webhooks and their deliveries.
    webhooks: bool,
    /// Create and delete its webhooks.
    create_webhook: bool,
    /// Change, enable, disable its webhooks and re-send their deliveries.
    manage_webhook: bool,
}

impl NamespaceView {
    /// `namespace` as `caller` sees it.
    pub(super) fn of(namespace: &Namespace, caller: &ApiCaller, state: &AppState, counts: &RepositoryCounts) -> Self {
        let namespace_view = caller.namespace_view(namespace, state);
        let config = &state.policy;
        NamespaceView {
            id: namespace.id.0,
            name: if namespace.global {
                GLOBAL_NAME
            } else {
                namespace.name.as_str()
            }
            .to_owned(),
            description: namespace.description.clone(),
            team_id: namespace.team_id.map(|t| t.0),
            visibility: namespace.visibility.into(),
            global: namespace.global,
            personal: namespace.personal_owner.is_some(),
            repositories_count: counts.get(&namespace.id).copied().unwrap_or(0),
            permissions: NamespacePermissions {
                role: namespace_view.role.map(schema::Role::from),
                pull: caller.may(namespace, Action::Pull, state),
                push: caller.may(namespace, Action::Push, state),
                delete: caller.may(namespace, Action::Delete, state),
                manage: permissions::edit_namespace(caller.caller, &namespace_view, config) == Permission::Allow,
                visibility: permissions::change_visibility(caller.caller, &namespace_view, config) == Permission::Allow,
                remove: permissions::delete_namespace(caller.caller, &namespace_view, config) == Permission::Allow,
                webhooks: caller.user().is_ok()
                    && permissions::view_webhooks(caller.caller, &namespace_view) == Permission::Allow,
                create_webhook: caller.user().is_ok()
                    && permissions::create_webhook(caller.caller, &namespace_view, config) == Permission::Allow,
                manage_webhook: caller.user().is_ok()
                    && permissions::manage_webhook(caller.caller, &namespace_view, config) == Permission::Allow,
            },
        }
    }
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

/// Namespaces the caller may see.
///
/// `sort_attr`: `name` (the default: the global namespace first, then by name) or `id`.
#[utoipa::path(
    get,
    path = "/api/v1/namespaces",
    params(super::Page),
    security((), ("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = Vec<NamespaceView>))
)]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    page: PageQuery,
) -> Result<Response, ApiError> {
    let filter = NamespaceFilter {
        visible: caller.visible_namespaces(&state),
        team: None,
        name_contains: None,
    };
    let namespaces = state
        .store
        .namespaces_page(&filter, &page.0.query::<NamespaceSort>()?)
        .await?;
    page.0
        .respond_page("/api/v1/namespaces", views(&state, &caller, namespaces).await?)
}

/// Body of `POST /api/v1/namespaces`, bare or as Portus wraps it (`{"namespace": {...}}`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewNamespaceBody {
    /// One registry path component: lower-case letters and digits, single `.`, `_`, `__` or
    /// `-` separators.
    #[schema(
        max_length = 255,
        pattern = r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$",
        example = "web"
    )]
    name: String,
    /// The owning team's name.
    #[schema(example = "devs")]
    team: String,
    description: Option<String>,
    /// Private unless asked otherwise (others: owners with `change_visibility`, administrators).
    visibility: Option<Visibility>,
}

super::request_bodies! {
    NewNamespaceBody => Some("namespace");
    UpdateNamespaceBody => Some("namespace");
}

/// Create a namespace for a team (its owners and contributors, or administrators).
///
/// Private unless asked otherwise. A team the caller may not see answers like a missing one
/// (404). The body may be wrapped: `{"namespace": {...}}`.
#[utoipa::path(
    post,
    path = "/api/v1/namespaces",
    request_body = NewNamespaceBody,
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 201, body = NamespaceView), NotFound, Forbidden, Conflict)
)]
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
    let visibility = body
        .visibility
        .map_or(portus_core::model::Visibility::Private, Into::into);
    if visibility != portus_core::model::Visibility::Private
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
    Ok(created(NamespaceView::of(
        &namespace,
        &caller,
        &state,
        &RepositoryCounts::new(),
    )))
}

/// Query of `GET /api/v1/namespaces/validate`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ValidateQuery {
    /// The name to check.
    name: String,
}

/// Whether a name is free and valid for a namespace, as Portus answers it.
#[derive(Serialize, ToSchema)]
pub(super) struct Validation {
    valid: bool,
    /// Reasons by field (`name`); empty when valid.
    messages: BTreeMap<String, Vec<String>>,
}

/// Whether a namespace could be created with `name`: `{valid, messages}`.
///
/// A taken name is reported as taken, whoever holds it, like the 409 of a creation (names are
/// unique).
#[utoipa::path(
    get,
    path = "/api/v1/namespaces/validate",
    params(ValidateQuery),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = Validation))
)]
pub(super) async fn validate(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<ValidateQuery>,
) -> Result<Json<Validation>, ApiError> {
    caller.user()?;
    let mut reasons = Vec::new();
    if let Err(e) = portus_core::naming::validate_namespace_name(&query.name) {
        reasons.push(e.to_string());
    } else if state.store.namespace(NamespaceRef::Named(&query.name)).await?.is_some() {
        reasons.push("has already been taken".to_owned());
    }
    let valid = reasons.is_empty();
    let mut messages = BTreeMap::new();
    if !valid {
        messages.insert("name".to_owned(), reasons);
    }
    Ok(Json(Validation { valid, messages }))
}

/// Show a namespace.
#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{id}",
    params(("id" = i64, Path, description = "Namespace id")),
    security((), ("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = NamespaceView))
)]
pub(super) async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<NamespaceView>, ApiError> {
    let namespace = load(&state, &caller, &id).await?;
    let counts = repository_counts(&state, &[namespace.id]).await?;
    Ok(Json(NamespaceView::of(&namespace, &caller, &state, &counts)))
}

/// Body of `PUT /api/v1/namespaces/{id}`, bare or wrapped; absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateNamespaceBody {
    description: Option<String>,
    /// The new owning team's name (a team the caller owns; administrators: any).
    team: Option<String>,
    visibility: Option<Visibility>,
}

/// Change a namespace's description, team or visibility.
///
/// Every check comes first: a refused part changes nothing. A team the caller may not see
/// answers exactly like a missing one (404); personal namespaces keep their team and the
/// global namespace is never private (422). The body may be wrapped: `{"namespace": {...}}`.
#[utoipa::path(
    put,
    path = "/api/v1/namespaces/{id}",
    params(("id" = i64, Path, description = "Namespace id")),
    request_body = UpdateNamespaceBody,
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = NamespaceView), Forbidden, Unprocessable)
)]
pub(super) async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<UpdateNamespaceBody>,
) -> Result<Json<NamespaceView>, ApiError> {
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
            return Err(portus_core::Error::Rule("a personal namespace stays with its user's team".into()).into());
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
        ops::namespaces::set_visibility(store.as_ref(), actor, &namespace, visibility.into()).await?;
    }
    if body.description.is_some() || team.is_some() {
        ops::namespaces::update(store.as_ref(), actor, &namespace, body.description, team.as_ref()).await?;
    }
    let namespace = store
        .namespace_by_id(namespace.id)
        .await?
        .ok_or_else(|| not_found("namespace"))?;
    let counts = repository_counts(&state, &[namespace.id]).await?;
    Ok(Json(NamespaceView::of(&namespace, &caller, &state, &counts)))
}

/// Delete a namespace with its repositories (its team's owners unless `manage_namespace` is
/// off, administrators).
///
/// Its repositories are deleted in the registry first (the registry's delete right is needed
/// when it holds any; without `registry.url` only an empty namespace can go: 422). Personal
/// namespaces go only with their user, the global one never (422).
#[utoipa::path(
    delete,
    path = "/api/v1/namespaces/{id}",
    params(("id" = i64, Path, description = "Namespace id")),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 204, description = "deleted"), Forbidden, Unprocessable)
)]
pub(super) async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.user()?;
    let namespace = load(&state, &caller, &id).await?;
    let namespace_view = caller.namespace_view(&namespace, &state);
    check(
        permissions::delete_namespace(caller.caller, &namespace_view, &state.policy),
        "namespace",
    )?;
    let store = state.store.as_ref();
    let holds_images = !store.repository_counts(&[namespace.id]).await?.is_empty();
    if holds_images && !caller.may(&namespace, Action::Delete, &state) {
        return Err(forbidden("you may not delete this namespace's images"));
    }
    ops::namespaces::delete(store, state.registry.as_deref(), caller.actor(), &namespace).await?;
    Ok(super::no_content())
}

/// Repositories of a namespace, with their security summaries.
#[utoipa::path(
    get,
    path = "/api/v1/namespaces/{id}/repositories",
    params(("id" = i64, Path, description = "Namespace id"), super::Page),
    security((), ("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = Vec<RepositoryView>))
)]
pub(super) async fn repositories(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    page: PageQuery,
) -> Result<Response, ApiError> {
    let namespace = load(&state, &caller, &id).await?;
    let filter = portus_core::model::RepositoryFilter {
        namespaces: Some(vec![namespace.id]),
        ..Default::default()
    };
    let path = format!("/api/v1/namespaces/{}/repositories", namespace.id);
    super::repositories::respond_repositories(&state, &caller, &page.0, &path, filter).await
}
