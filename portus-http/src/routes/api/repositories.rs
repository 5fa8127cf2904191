//! Repositories and stars.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use portus_core::model::{
    ListPage, Namespace, NamespaceRef, Repository, RepositoryFilter, RepositoryId, RepositoryListing, RepositorySort,
    RepositorySummary, TagRecord,
};
use portus_core::permissions;
use portus_core::policy::Action;
use portus_core::prelude::*;
use portus_scan::aggregate::{TagSecurity, repository_counts, repository_status};
use serde::Serialize;
use utoipa::ToSchema;

use super::lists::SortKey;
use super::schema::{self, Forbidden, ScanStatus, Unprocessable};
use super::tags::{RecordsByDigest, registry, security_of, tags_and_records};
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
    /// The newest push of its tags (none without tags).
    latest_push: Option<DateTime<Utc>>,
    /// Its tags' scan states (counted per tag) and its images' findings (each distinct image
    /// counted once, however many tags it has).
    security: RepositorySecurity,
}

/// A repository's namespace, by id and name.
#[derive(Serialize, ToSchema)]
pub(super) struct NamespaceRefView {
    id: i64,
    /// `(global)` for the global namespace.
    name: String,
}

/// The security summary of a repository: the scan states of its tags and the findings of its
/// images.
#[derive(Serialize, ToSchema)]
pub(super) struct RepositorySecurity {
    /// The worst status of its images' tags (failed, then pending, then done); `notanimage`
    /// when every tag holds something other than an image (charts, signatures, ...), which
    /// scanners never read and which never count as pending.
    status: ScanStatus,
    /// Findings by severity over its distinct images (manifest digests): each image's merged
    /// findings count once, however many of its tags point at it.
    counts: schema::SeverityCounts,
    /// How many tags are in each status (per tag: two tags of one image count twice; tags
    /// holding no image under `notanimage`).
    tags_by_status: BTreeMap<ScanStatus, usize>,
}

fn namespace_ref(repository: &Repository) -> NamespaceRefView {
    let namespace_name = match NamespaceRef::of_repository(&repository.name).0 {
        NamespaceRef::Named(name) => name,
        NamespaceRef::Global => super::namespaces::GLOBAL_NAME,
    };
    NamespaceRefView {
        id: repository.namespace_id.0,
        name: namespace_name.to_owned(),
    }
}

fn repository_view(
    state: &AppState,
    repository: &Repository,
    tags: &[&TagRecord],
    records: &RecordsByDigest,
    starred: bool,
) -> RepositoryView {
    // Charts, signatures and other artifacts are never scanned: they count apart, not pending.
    let (not_images, images): (Vec<&TagRecord>, Vec<&TagRecord>) = tags
        .iter()
        .copied()
        .partition(|t| t.artifact.as_ref().is_some_and(|a| !a.kind.is_scannable()));
    let securities: Vec<TagSecurity> = images.iter().map(|t| security_of(state, t, records)).collect();
    let mut tags_by_status: BTreeMap<ScanStatus, usize> = BTreeMap::new();
    for security in &securities {
        *tags_by_status.entry(security.status.into()).or_default() += 1;
    }
    if !not_images.is_empty() {
        tags_by_status.insert(ScanStatus::NotAnImage, not_images.len());
    }
    let security = RepositorySecurity {
        status: if images.is_empty() && !not_images.is_empty() {
            ScanStatus::NotAnImage
        } else {
            repository_status(&securities).into()
        },
        counts: schema::counts(&repository_counts(
            images.iter().map(|t| t.manifest.digest.as_str()).zip(&securities),
        )),
        tags_by_status,
    };
    let latest_push = tags.iter().map(|t| t.updated_at).max();
    view_of(repository, starred, tags.len(), latest_push, security)
}

/// A repository's view from its figures, however they were obtained.
fn view_of(
    repository: &Repository,
    starred: bool,
    tags_count: usize,
    latest_push: Option<DateTime<Utc>>,
    security: RepositorySecurity,
) -> RepositoryView {
    RepositoryView {
        id: repository.id.0,
        name: repository.name.clone(),
        full_name: repository.name.clone(),
        description: repository.description.clone(),
        namespace_id: repository.namespace_id.0,
        namespace: namespace_ref(repository),
        stars: repository.stars,
        starred,
        tags_count,
        created_at: repository.created_at,
        latest_push,
        security,
    }
}

/// The security of a repository from the figures the store keeps, by the rules
/// `repository_status` applies to its tags: failed, then pending, then done.
fn summary_security(state: &AppState, summary: &RepositorySummary) -> RepositorySecurity {
    let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let mut tags_by_status: BTreeMap<ScanStatus, usize> = BTreeMap::new();
    // Charts, signatures and other artifacts are never scanned: they count apart, not pending.
    let not_images = summary.tags_not_images.min(summary.tags);
    if not_images > 0 {
        tags_by_status.insert(ScanStatus::NotAnImage, count(not_images));
    }
    if summary.only_not_images() {
        return RepositorySecurity {
            status: ScanStatus::NotAnImage,
            counts: BTreeMap::new(),
            tags_by_status,
        };
    }
    if state.scan_backends().is_empty() {
        if summary.tags > not_images {
            tags_by_status.insert(ScanStatus::NotScanned, count(summary.tags - not_images));
        }
        return RepositorySecurity {
            status: ScanStatus::NotScanned,
            counts: BTreeMap::new(),
            tags_by_status,
        };
    }
    for (status, n) in [
        (ScanStatus::Failed, summary.tags_failed),
        (ScanStatus::Pending, summary.tags_pending()),
        (ScanStatus::Done, summary.tags_done),
    ] {
        if n > 0 {
            tags_by_status.insert(status, count(n));
        }
    }
    let status = [ScanStatus::Failed, ScanStatus::Pending, ScanStatus::Done]
        .into_iter()
        .find(|s| tags_by_status.contains_key(s))
        .unwrap_or(ScanStatus::NotScanned);
    RepositorySecurity {
        status,
        counts: summary
            .counts
            .iter()
            .map(|(s, n)| (schema::Severity::from(*s), count(*n)))
            .collect(),
        tags_by_status,
    }
}

/// A listed repository, from its kept figures.
fn listing_view(state: &AppState, listing: &RepositoryListing, starred: bool) -> RepositoryView {
    let RepositoryListing { repository, summary } = listing;
    let tags_count = usize::try_from(summary.tags).unwrap_or(usize::MAX);
    view_of(
        repository,
        starred,
        tags_count,
        summary.latest_push,
        summary_security(state, summary),
    )
}

impl SortKey for RepositorySort {
    fn from_attr(attr: &str) -> Option<Self> {
        Some(match attr {
            "name" | "full_name" => RepositorySort::Name,
            "id" => RepositorySort::Id,
            "created_at" => RepositorySort::CreatedAt,
            "stars" => RepositorySort::Stars,
            "tags_count" => RepositorySort::Tags,
            "latest_push" | "updated_at" => RepositorySort::LatestPush,
            _ => return None,
        })
    }
}

/// One page of the repositories `filter` selects, as the caller sees them, with the list headers.
pub(super) async fn respond_repositories(
    state: &AppState,
    caller: &ApiCaller,
    page: &super::Page,
    path: &str,
    filter: RepositoryFilter,
) -> Result<Response, ApiError> {
    state.sync_scan_scope().await?;
    let query = page.query::<RepositorySort>()?;
    let listed: ListPage<RepositoryListing> = state.store.repositories_page(&filter, &query).await?;
    let starred = starred_by(state, caller).await?;
    page.respond_page(
        path,
        listed.map(|l| {
            let is_starred = starred.contains(&l.repository.id);
            listing_view(state, &l, is_starred)
        }),
    )
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

/// The text filter of `GET /api/v1/repositories`.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct NameFilter {
    /// Only repositories whose full name contains this text, case-insensitive (1 to 128
    /// characters).
    #[param(min_length = 1, max_length = 128)]
    q: Option<String>,
}

/// Repositories the caller may see, with security summaries.
#[utoipa::path(
    get,
    path = "/api/v1/repositories",
    params(NameFilter, super::Page),
    security((), ("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = Vec<RepositoryView>))
)]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    axum::extract::Query(text): axum::extract::Query<NameFilter>,
    page: PageQuery,
) -> Result<Response, ApiError> {
    // As documented: 1 to 128 characters when given (white space alone filters nothing).
    let name_contains = match text.q.as_deref() {
        None => None,
        Some(q) if q.is_empty() || q.chars().count() > 128 => {
            return Err(ApiError::bad_request("q must be 1 to 128 characters"));
        }
        Some(q) => Some(q.trim().to_lowercase()).filter(|q| !q.is_empty()),
    };
    let filter = RepositoryFilter {
        visible: caller.visible_namespaces(&state),
        name_contains,
        ..RepositoryFilter::default()
    };
    respond_repositories(&state, &caller, &page.0, "/api/v1/repositories", filter).await
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
    params(super::Page),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = Vec<RepositoryView>))
)]
pub(super) async fn starred(
    State(state): State<AppState>,
    caller: ApiCaller,
    page: PageQuery,
) -> Result<Response, ApiError> {
    let user = caller.user()?.id;
    let filter = RepositoryFilter {
        visible: caller.visible_namespaces(&state),
        starred_by: Some(user),
        ..RepositoryFilter::default()
    };
    respond_repositories(&state, &caller, &page.0, "/api/v1/stars", filter).await
}
