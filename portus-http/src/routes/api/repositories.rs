//! Repositories and stars.

use std::collections::BTreeMap;
use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use portus_core::model::{Namespace, NamespaceRef, Repository, RepositoryId, TagRecord};
use portus_core::permissions;
use portus_core::policy::Action;
use portus_core::prelude::*;
use portus_scan::aggregate::{TagSecurity, repository_counts, repository_status};
use serde::Serialize;
use utoipa::ToSchema;

use super::schema::{self, Forbidden, ScanStatus, Unprocessable};
use super::tags::{RecordsByDigest, by_digest, registry, security_of, tags_and_records};
use super::{ApiCaller, PageQuery, check, forbidden, no_content, not_found, parse_id};
use crate::error::ApiError;
use crate::state::AppState;

/// A repository with its per-severity security summary.
#[derive(Serialize, ToSchema)]
pub(super) struct RepositoryView {
    id: i64,
    /// The full name (`namespace/repository`).
    name: String,
    /// The full name too: Portus' `name` is the part after the namespace, its `full_name` this.
    full_name: String,
    /// Markdown.
    description: Option<String>,
    namespace_id: i64,
    namespace: NamespaceRefView,
    stars: u64,
    /// Whether the caller starred it.
    starred: bool,
    tags_count: usize,
    created_at: DateTime<Utc>,
    security: RepositorySecurity,
}

/// A repository's namespace, by id and name.
#[derive(Serialize, ToSchema)]
pub(super) struct NamespaceRefView {
    id: i64,
    /// `(global)` for the global namespace.
    name: String,
}

/// The security summary of a repository's tags.
#[derive(Serialize, ToSchema)]
pub(super) struct RepositorySecurity {
    /// The worst status of its tags (failed, then pending, then done).
    status: ScanStatus,
    /// Findings by severity, over its tags.
    counts: schema::SeverityCounts,
    /// How many tags are in each status.
    tags_by_status: BTreeMap<ScanStatus, usize>,
}

fn repository_view(
    state: &AppState,
    repository: &Repository,
    tags: &[&TagRecord],
    records: &RecordsByDigest,
    starred: bool,
) -> RepositoryView {
    let securities: Vec<TagSecurity> = tags.iter().map(|t| security_of(state, t, records)).collect();
    let mut tags_by_status: BTreeMap<ScanStatus, usize> = BTreeMap::new();
    for security in &securities {
        *tags_by_status.entry(security.status.into()).or_default() += 1;
    }
    let namespace_name = match NamespaceRef::of_repository(&repository.name).0 {
        NamespaceRef::Named(name) => name,
        NamespaceRef::Global => super::namespaces::GLOBAL_NAME,
    };
    RepositoryView {
        id: repository.id.0,
        name: repository.name.clone(),
        full_name: repository.name.clone(),
        description: repository.description.clone(),
        namespace_id: repository.namespace_id.0,
        namespace: NamespaceRefView {
            id: repository.namespace_id.0,
            name: namespace_name.to_owned(),
        },
        stars: repository.stars,
        starred,
        tags_count: tags.len(),
        created_at: repository.created_at,
        security: RepositorySecurity {
            status: repository_status(&securities).into(),
            counts: schema::counts(&repository_counts(&securities)),
            tags_by_status,
        },
    }
}

/// The repositories the caller starred (none for anonymous callers).
pub(super) async fn starred_by(state: &AppState, caller: &ApiCaller) -> Result<Vec<RepositoryId>, ApiError> {
    Ok(match caller.caller.user_id() {
        Some(user) => state.store.starred(user).await?,
        None => Vec::new(),
    })
}

/// One repository with its per-severity security summary; `starred` says whether the caller
/// starred it.
pub(super) async fn view(state: &AppState, repository: &Repository, starred: bool) -> Result<RepositoryView, ApiError> {
    let (tags, records) = tags_and_records(state.store.as_ref(), &repository.name).await?;
    let tags: Vec<&TagRecord> = tags.iter().collect();
    Ok(repository_view(state, repository, &tags, &records, starred))
}

/// A repository the caller may see, with its namespace.
pub(super) async fn load(state: &AppState, caller: &ApiCaller, raw: &str) -> Result<(Repository, Namespace), ApiError> {
    let id = RepositoryId(parse_id(raw, "repository")?);
    let store = &state.store;
    let repository = store
        .repository_by_id(id)
        .await?
        .ok_or_else(|| not_found("repository"))?;
    let namespace = store
        .namespace_by_id(repository.namespace_id)
        .await?
        .ok_or_else(|| not_found("repository"))?;
    check(
        permissions::view_namespace(&caller.namespace_view(&namespace, state)),
        "repository",
    )?;
    Ok((repository, namespace))
}

/// Repositories the caller may see, with security summaries.
#[utoipa::path(
    get,
    path = "/api/v1/repositories",
    params(super::Page),
    security((), ("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = Vec<RepositoryView>))
)]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    page: PageQuery,
) -> Result<Response, ApiError> {
    let store = &state.store;
    let namespaces: HashMap<_, _> = store.list_namespaces().await?.into_iter().map(|n| (n.id, n)).collect();
    let all_tags = store.tags(None).await?;
    let records = by_digest(store.scan_records(None).await?);
    let starred = starred_by(&state, &caller).await?;
    let mut tags_by_repository: HashMap<&str, Vec<&TagRecord>> = HashMap::new();
    for tag in &all_tags {
        tags_by_repository.entry(tag.repository.as_str()).or_default().push(tag);
    }
    let views: Vec<RepositoryView> = store
        .list_repositories()
        .await?
        .iter()
        .filter(|r| {
            namespaces
                .get(&r.namespace_id)
                .is_some_and(|n| caller.namespace_view(n, &state).visible)
        })
        .map(|r| {
            let tags = tags_by_repository
                .get(r.name.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default();
            repository_view(&state, r, tags, &records, starred.contains(&r.id))
        })
        .collect();
    page.0.respond("/api/v1/repositories", views)
}

/// Show a repository with its per-severity security summary.
#[utoipa::path(
    get,
    path = "/api/v1/repositories/{id}",
    params(("id" = i64, Path, description = "Repository id")),
    security((), ("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = RepositoryView))
)]
pub(super) async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<RepositoryView>, ApiError> {
    let (repository, _) = load(&state, &caller, &id).await?;
    let starred = starred_by(&state, &caller).await?.contains(&repository.id);
    Ok(Json(view(&state, &repository, starred).await?))
}

/// Body of `PUT /api/v1/repositories/{id}`, bare or as Portus wraps it
/// (`{"repository": {...}}`).
#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateRepositoryBody {
    /// The new description (Markdown), or null to remove it; absent: unchanged.
    #[serde(default, deserialize_with = "some")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
}

/// Tells an explicit `null` (`Some(None)`) from an absent field (`None`).
fn some<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    serde::Deserialize::deserialize(d).map(Some)
}

super::request_bodies! {
    UpdateRepositoryBody => Some("repository");
}

/// Describe a repository (its namespace's team owners unless `manage_namespace` is off,
/// administrators).
///
/// The body may be wrapped as Portus sends it: `{"repository": {"description": "..."}}`.
#[utoipa::path(
    put,
    path = "/api/v1/repositories/{id}",
    params(("id" = i64, Path, description = "Repository id")),
    request_body = UpdateRepositoryBody,
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = RepositoryView), Forbidden)
)]
pub(super) async fn update(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    super::JsonBody(body): super::JsonBody<UpdateRepositoryBody>,
) -> Result<Json<RepositoryView>, ApiError> {
    caller.user()?;
    let (repository, namespace) = load(&state, &caller, &id).await?;
    // Describing a repository is managing its namespace.
    check(
        permissions::edit_namespace(caller.caller, &caller.namespace_view(&namespace, &state), &state.policy),
        "repository",
    )?;
    let store = state.store.as_ref();
    if let Some(description) = body.description {
        portus_core::ops::images::describe_repository(store, caller.actor(), &repository, description).await?;
    }
    let repository = store
        .repository_by_id(repository.id)
        .await?
        .ok_or_else(|| not_found("repository"))?;
    let starred = starred_by(&state, &caller).await?.contains(&repository.id);
    Ok(Json(view(&state, &repository, starred).await?))
}

/// Delete a repository in the registry and here (who may delete in its namespace).
///
/// Every manifest is deleted in the registry first. Without `registry.url` this installation
/// cannot delete images: 422.
#[utoipa::path(
    delete,
    path = "/api/v1/repositories/{id}",
    params(("id" = i64, Path, description = "Repository id")),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 204, description = "deleted"), Forbidden, Unprocessable)
)]
pub(super) async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    caller.user()?;
    let (repository, namespace) = load(&state, &caller, &id).await?;
    if !caller.may(&namespace, Action::Delete, &state) {
        return Err(forbidden("you may not delete this repository"));
    }
    portus_core::ops::images::delete_repository(
        state.store.as_ref(),
        registry(&state)?,
        &repository.name,
        caller.actor(),
    )
    .await?;
    Ok(no_content())
}

async fn set_star(state: AppState, caller: ApiCaller, id: String, starred: bool) -> Result<Response, ApiError> {
    let user = caller.user()?;
    let (repository, _) = load(&state, &caller, &id).await?;
    portus_core::ops::stars::set(state.store.as_ref(), user, &repository, starred).await?;
    Ok(no_content())
}

/// Star a repository.
#[utoipa::path(
    put,
    path = "/api/v1/repositories/{id}/star",
    params(("id" = i64, Path, description = "Repository id")),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 204, description = "starred"))
)]
pub(super) async fn star(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_star(state, caller, id, true).await
}

/// Unstar a repository.
#[utoipa::path(
    delete,
    path = "/api/v1/repositories/{id}/star",
    params(("id" = i64, Path, description = "Repository id")),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 204, description = "unstarred"))
)]
pub(super) async fn unstar(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_star(state, caller, id, false).await
}

/// Repositories the caller starred and can still see.
#[utoipa::path(
    get,
    path = "/api/v1/stars",
    params(super::Unpaged),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = Vec<RepositoryView>))
)]
pub(super) async fn starred(
    State(state): State<AppState>,
    caller: ApiCaller,
    page: super::UnpagedQuery,
) -> Result<Response, ApiError> {
    let user = caller.user()?.id;
    let store = &state.store;
    let mut views = Vec::new();
    for id in store.starred(user).await? {
        let Some(repository) = store.repository_by_id(id).await? else {
            continue;
        };
        let Some(namespace) = store.namespace_by_id(repository.namespace_id).await? else {
            continue;
        };
        if caller.namespace_view(&namespace, &state).visible {
            views.push(view(&state, &repository, true).await?);
        }
    }
    page.0.respond(views)
}
