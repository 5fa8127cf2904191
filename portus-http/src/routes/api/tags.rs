//! Tags and their scan results: a repository's tags (flat and grouped by manifest), every tag
//! (administrators), one tag, its deletion through the registry, its findings, and forced
//! rescans.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use portus_core::model::{ListPage, Namespace, ScanRecord, TagFilter, TagId, TagRecord, TagSort, UserId};
use portus_core::permissions;
use portus_core::policy::Action;
use portus_core::prelude::*;
use portus_scan::aggregate::{TagScanStatus, TagSecurity};
use portus_scan::worker::tag_security;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::lists::SortKey;
use super::repositories::load;
use super::schema::{self, Conflict, Forbidden, ScanStatus, Unprocessable};
use super::{ApiCaller, PageQuery, check, forbidden, not_found, parse_id};
use crate::error::ApiError;
use crate::state::AppState;

/// Scan records by digest.
pub(super) type RecordsByDigest = HashMap<String, Vec<ScanRecord>>;

pub(super) fn by_digest(records: Vec<ScanRecord>) -> RecordsByDigest {
    let mut map: RecordsByDigest = HashMap::new();
    for record in records {
        map.entry(record.digest.clone()).or_default().push(record);
    }
    map
}

pub(super) fn security_of(state: &AppState, tag: &TagRecord, records: &RecordsByDigest) -> TagSecurity {
    let records = records.get(&tag.manifest.digest).map(Vec::as_slice).unwrap_or_default();
    tag_security(records, &state.scan_backends())
}

/// User ids by name, for the `author` of tags (Portus' `{id, name}`).
pub(super) struct Authors(HashMap<String, UserId>);

impl Authors {
    /// The ids of the users who pushed `tags` (one lookup per distinct name, not every user).
    pub(super) async fn load<'a>(
        state: &AppState,
        tags: impl IntoIterator<Item = &'a TagRecord>,
    ) -> Result<Self, ApiError> {
        let mut ids = HashMap::new();
        for name in tags.into_iter().filter_map(|t| t.pushed_by.as_deref()) {
            if !ids.contains_key(name)
                && let Some(user) = state.store.user_by_name(name).await?
            {
                ids.insert(name.to_owned(), user.id);
            }
        }
        Ok(Authors(ids))
    }
}

/// Portus' `scanned`: 0 not scanned yet (or to be scanned again), 1 being scanned, 2 done.
fn scanned(security: &TagSecurity) -> u8 {
    if security.status == TagScanStatus::Done {
        2
    } else if security.backends.values().any(|state| state == "scanning") {
        1
    } else {
        0
    }
}

/// A tag with its scan status.
#[derive(Serialize, ToSchema)]
pub(super) struct TagView {
    id: i64,
    /// The repository's full name.
    repository: String,
    name: String,
    /// The manifest's digest.
    digest: String,
    media_type: String,
    /// The image's size in bytes as the registry's manifests give it (config and layers; for
    /// an index or manifest list, the sum of its platforms'), when known.
    size: Option<u64>,
    /// For an index or manifest list: each platform's image size (empty otherwise, or while
    /// not known).
    platforms: Vec<PlatformSizeView>,
    /// Who pushed it.
    pushed_by: Option<String>,
    /// Who pushed it, as Portus' `{id, name}` (`id` null when no such user exists any more).
    author: Option<Author>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// The image's id (its config digest), when known.
    image_id: Option<String>,
    /// The image's total size in bytes, when known.
    image_size: Option<u64>,
    /// The last pull by tag the registry reported, when known.
    pulled_at: Option<DateTime<Utc>>,
    /// Pulls by tag the registry reported (portus' own reads are not counted).
    pull_count: u64,
    /// Portus' scan state: 0 not scanned yet (or to be scanned again), 1 being scanned, 2 done.
    #[schema(minimum = 0, maximum = 2)]
    scanned: u8,
    scan: TagScan,
    /// What the manifest holds; null until portus read it from the registry.
    kind: Option<schema::ArtifactKind>,
    /// How people read it: `image`, `Helm chart demo 0.1.0`, `OCI artifact (<type>)`; null
    /// until known.
    kind_label: Option<String>,
    /// The manifest's `artifactType`, else its config media type when that is not an image's.
    artifact_type: Option<String>,
    /// A Helm chart's name and version.
    chart: Option<ChartView>,
    /// The digest a signature, attestation, SBOM or referrers index refers to.
    subject: Option<String>,
    /// Whether a signature in this repository refers to the tag's digest (a cosign-style
    /// `sha256-<hex>.sig` tag or an OCI referrer).
    signed: bool,
}

/// A Helm chart's name and version (`Chart.yaml`).
#[derive(Serialize, ToSchema)]
pub(super) struct ChartView {
    name: String,
    version: String,
}

/// One platform of an index and its image size.
#[derive(Serialize, ToSchema)]
pub(super) struct PlatformSizeView {
    /// `os/architecture[/variant]` as the index names it (empty when it names none).
    platform: String,
    /// The platform manifest's digest.
    digest: String,
    /// Config and layers, in bytes.
    size: u64,
}

/// Who pushed a tag.
#[derive(Serialize, ToSchema)]
pub(super) struct Author {
    id: Option<i64>,
    name: String,
}

/// A tag's scan status and findings by severity.
#[derive(Serialize, ToSchema)]
pub(super) struct TagScan {
    status: ScanStatus,
    counts: schema::SeverityCounts,
}

/// A tag with its scan status.
pub(super) fn tag_view(tag: &TagRecord, security: &TagSecurity, authors: &Authors) -> TagView {
    let artifact = tag.artifact.as_ref();
    // Artifacts are never scanned: whatever scan record their digest has says nothing.
    let not_an_image = artifact.is_some_and(|a| !a.kind.is_scannable());
    TagView {
        id: tag.id.0,
        repository: tag.repository.clone(),
        name: tag.name.clone(),
        digest: tag.manifest.digest.clone(),
        media_type: tag.manifest.media_type.clone(),
        size: tag.image_size.or(tag.manifest.size),
        platforms: tag
            .platform_sizes
            .iter()
            .map(|p| PlatformSizeView {
                platform: p.platform.clone(),
                digest: p.digest.clone(),
                size: p.size,
            })
            .collect(),
        pushed_by: tag.pushed_by.clone(),
        author: tag.pushed_by.as_ref().map(|name| Author {
            id: authors.0.get(name).map(|id| id.0),
            name: name.clone(),
        }),
        created_at: tag.created_at,
        updated_at: tag.updated_at,
        image_id: tag.image_id.clone(),
        image_size: tag.image_size,
        pulled_at: tag.pulled_at,
        pull_count: tag.pull_count,
        scanned: if not_an_image { 0 } else { scanned(security) },
        scan: TagScan {
            status: if not_an_image {
                ScanStatus::NotAnImage
            } else {
                security.status.into()
            },
            counts: if not_an_image {
                schema::SeverityCounts::default()
            } else {
                schema::counts(&security.counts)
            },
        },
        kind: artifact.map(|a| a.kind.into()),
        kind_label: artifact.map(portus_core::model::Artifact::describe),
        artifact_type: artifact.and_then(|a| a.artifact_type.clone()),
        chart: artifact.and_then(|a| a.chart.as_ref()).map(|c| ChartView {
            name: c.name.clone(),
            version: c.version.clone(),
        }),
        subject: artifact.and_then(|a| a.subject.clone()),
        signed: tag.signed,
    }
}

/// A repository's tags and the scan records of their manifests.
pub(super) async fn tags_and_records(
    store: &dyn portus_core::PolicyStore,
    repository: &str,
) -> Result<(Vec<TagRecord>, RecordsByDigest), ApiError> {
    let tags = store.tags(Some(repository)).await?;
    let digests: std::collections::BTreeSet<&str> = tags.iter().map(|t| t.manifest.digest.as_str()).collect();
    let digests: Vec<String> = digests.into_iter().map(str::to_owned).collect();
    let records = store.scan_records_of(&digests).await?;
    Ok((tags, by_digest(records)))
}

/// The registry images are deleted in. Without `registry.url` this installation cannot delete
/// images at all: that is no passing outage (503 would invite retries) but what this
/// configuration refuses, so 422 `UNSUPPORTED`, checked after the caller's permission.
pub(super) fn registry(state: &AppState) -> Result<&dyn portus_core::RegistryClient, ApiError> {
    state.registry.as_deref().ok_or_else(|| ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        code: "UNSUPPORTED",
        message: "images cannot be deleted: no registry is configured (set registry.url)".into(),
        basic_challenge: false,
    })
}

/// Tags of a repository with their scan status.
#[utoipa::path(
    get,
    path = "/api/v1/repositories/{id}/tags",
    params(("id" = i64, Path, description = "Repository id"), super::Page),
    security((), ("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = Vec<TagView>))
)]
pub(super) async fn repository_tags(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    page: PageQuery,
) -> Result<Response, ApiError> {
    let (repository, _) = load(&state, &caller, &id).await?;
    let filter = TagFilter {
        repository: Some(repository.id),
        ..TagFilter::default()
    };
    let path = format!("/api/v1/repositories/{}/tags", repository.id);
    respond_tags(&state, &page.0, &path, &filter).await
}

impl SortKey for TagSort {
    fn from_attr(attr: &str) -> Option<Self> {
        Some(match attr {
            "name" => TagSort::Name,
            "id" => TagSort::Id,
            "created_at" => TagSort::CreatedAt,
            "updated_at" => TagSort::UpdatedAt,
            _ => return None,
        })
    }
}

/// One page of the tags `filter` selects, with their scan status and the list headers: the
/// scan records of that page's images only.
async fn respond_tags(
    state: &AppState,
    page: &super::Page,
    path: &str,
    filter: &TagFilter,
) -> Result<Response, ApiError> {
    let listed = state.store.tags_page(filter, &page.query::<TagSort>()?).await?;
    let digests: Vec<String> = listed
        .items
        .iter()
        .map(|t| t.manifest.digest.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let records = by_digest(state.store.scan_records_of(&digests).await?);
    let authors = Authors::load(state, &listed.items).await?;
    page.respond_page(
        path,
        listed.map(|t| tag_view(&t, &security_of(state, &t, &records), &authors)),
    )
}

/// Tags of a repository grouped by manifest, the most recently pushed group first, a page of
/// groups at a time.
///
/// A group is what the registry deletes together (Portus' grouping). Groups are formed from
/// the repository's tags (read through its index); scan records and authors are read for the
/// page's groups only.
#[utoipa::path(
    get,
    path = "/api/v1/repositories/{id}/tags/grouped",
    params(("id" = i64, Path, description = "Repository id"), super::Page),
    security((), ("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = Vec<Vec<TagView>>))
)]
pub(super) async fn grouped_tags(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    page: PageQuery,
) -> Result<Response, ApiError> {
    let (repository, _) = load(&state, &caller, &id).await?;
    let slice = page.0.query::<TagSort>()?;
    let tags = state.store.tags(Some(&repository.name)).await?;
    let mut groups: Vec<Vec<TagRecord>> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    for tag in tags {
        match group_of.get(&tag.manifest.digest) {
            Some(&i) => groups[i].push(tag),
            None => {
                group_of.insert(tag.manifest.digest.clone(), groups.len());
                groups.push(vec![tag]);
            }
        }
    }
    let newest = |group: &Vec<TagRecord>| group.iter().map(|t| t.updated_at).max();
    groups.sort_by(|a, b| {
        newest(b)
            .cmp(&newest(a))
            .then_with(|| a[0].manifest.digest.cmp(&b[0].manifest.digest))
    });
    if slice.descending {
        groups.reverse();
    }
    let total = groups.len() as u64;
    let skip = usize::try_from(slice.offset).unwrap_or(usize::MAX);
    let take = slice
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let groups: Vec<Vec<TagRecord>> = groups.into_iter().skip(skip).take(take).collect();
    let digests: Vec<String> = groups.iter().map(|g| g[0].manifest.digest.clone()).collect();
    let records = by_digest(state.store.scan_records_of(&digests).await?);
    let authors = Authors::load(&state, groups.iter().flatten()).await?;
    let items = groups
        .iter()
        .map(|group| {
            group
                .iter()
                .map(|t| tag_view(t, &security_of(&state, t, &records), &authors))
                .collect::<Vec<_>>()
        })
        .collect();
    let path = format!("/api/v1/repositories/{}/tags/grouped", repository.id);
    page.0.respond_page(&path, ListPage { items, total })
}

/// Every tag (administrators).
///
/// Others get 403, as from the other administrator-only lists: the route exists for everyone,
/// only its use is refused.
#[utoipa::path(
    get,
    path = "/api/v1/tags",
    params(super::Page),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = Vec<TagView>), Forbidden)
)]
pub(super) async fn all_tags(
    State(state): State<AppState>,
    caller: ApiCaller,
    page: PageQuery,
) -> Result<Response, ApiError> {
    caller.user()?;
    if !caller.caller.is_admin() {
        return Err(forbidden("only administrators list every tag"));
    }
    respond_tags(&state, &page.0, "/api/v1/tags", &TagFilter::default()).await
}

/// A tag the caller may see, with its namespace.
pub(super) async fn load_tag(
    state: &AppState,
    caller: &ApiCaller,
    raw: &str,
) -> Result<(TagRecord, Namespace), ApiError> {
    let id = TagId(parse_id(raw, "tag")?);
    let store = &state.store;
    let tag = store.tag_by_id(id).await?.ok_or_else(|| not_found("tag"))?;
    let (namespace_ref, _) = portus_core::model::NamespaceRef::of_repository(&tag.repository);
    let namespace = store.namespace(namespace_ref).await?.ok_or_else(|| not_found("tag"))?;
    check(
        permissions::view_namespace(&caller.namespace_view(&namespace, state)),
        "tag",
    )?;
    Ok((tag, namespace))
}

/// A tag the caller may see, with its merged security view.
pub(super) async fn tag_with_security(
    state: &AppState,
    caller: &ApiCaller,
    raw: &str,
) -> Result<(TagRecord, TagSecurity), ApiError> {
    let (tag, _) = load_tag(state, caller, raw).await?;
    let records = by_digest(state.store.scan_records(Some(&tag.manifest.digest)).await?);
    let security = security_of(state, &tag, &records);
    Ok((tag, security))
}

/// Show a tag.
#[utoipa::path(
    get,
    path = "/api/v1/tags/{id}",
    params(("id" = i64, Path, description = "Tag id")),
    security((), ("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = TagView))
)]
pub(super) async fn show_tag(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<TagView>, ApiError> {
    let (tag, security) = tag_with_security(&state, &caller, &id).await?;
    let authors = Authors::load(&state, [&tag]).await?;
    Ok(Json(tag_view(&tag, &security, &authors)))
}

/// Query of `DELETE /api/v1/tags/{id}`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct DeleteTagQuery {
    /// Accept losing the other tags on the same manifest (the registry deletes them together).
    #[serde(default)]
    with_siblings: bool,
}

/// What a tag deletion took.
#[derive(Serialize, ToSchema)]
pub(super) struct DeletedTags {
    /// Every tag deleted: the one asked for and, with `with_siblings`, those sharing its manifest.
    deleted: Vec<String>,
    /// The manifest the deleted tags pointed at (deleted in the registry unless the registry
    /// deleted one tag alone, as Distribution 3 does for a tag with siblings).
    digest: String,
}

/// Delete a tag's manifest in the registry (who may delete in its namespace).
///
/// 409 when other tags share the manifest, unless `with_siblings=true`; a registry that
/// deletes tags alone (Distribution 3) deletes just this tag then, and keeps the others. Without `registry.url`
/// this installation cannot delete images: 422.
#[utoipa::path(
    delete,
    path = "/api/v1/tags/{id}",
    params(("id" = i64, Path, description = "Tag id"), DeleteTagQuery),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = DeletedTags), Forbidden, Conflict, Unprocessable)
)]
pub(super) async fn delete_tag(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    Query(query): Query<DeleteTagQuery>,
) -> Result<Json<DeletedTags>, ApiError> {
    caller.user()?;
    let (tag, namespace) = load_tag(&state, &caller, &id).await?;
    if !caller.may(&namespace, Action::Delete, &state) {
        return Err(forbidden("you may not delete this tag"));
    }
    let deleted = portus_core::ops::images::delete_tag(
        state.store.as_ref(),
        registry(&state)?,
        &tag.repository,
        &tag.name,
        query.with_siblings,
        caller.actor(),
    )
    .await?;
    Ok(Json(DeletedTags {
        deleted: deleted.into_iter().map(|t| t.name).collect(),
        digest: tag.manifest.digest,
    }))
}

/// How many scans a rescan request reset.
#[derive(Serialize, ToSchema)]
pub(super) struct Rescan {
    /// (manifest, scanner) scans that will run again at the scan worker's next pass.
    rescans: usize,
}

/// `POST /api/v1/vulnerabilities` and `POST /api/v1/vulnerabilities/{id}`: administrators
/// force a new scan of every tag, or of one tag (its manifest, with every tag sharing it), by
/// every backend; the scan worker picks it up at its next pass. 202: the scans happen later.
async fn rescan(state: &AppState, caller: &ApiCaller, digest: Option<&str>) -> Result<Response, ApiError> {
    let reset = portus_scan::worker::request_rescan(state.store.as_ref(), digest).await?;
    tracing::info!(actor = caller.actor(), digest, reset, "rescan requested");
    Ok((StatusCode::ACCEPTED, Json(Rescan { rescans: reset })).into_response())
}

fn administrator(caller: &ApiCaller) -> Result<(), ApiError> {
    caller.user()?;
    if !caller.caller.is_admin() {
        return Err(forbidden("only administrators force rescans"));
    }
    Ok(())
}

/// Scan every tag again (administrators); 202, the scan worker does it at its next pass.
#[utoipa::path(
    post,
    path = "/api/v1/vulnerabilities",
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 202, body = Rescan), Forbidden)
)]
pub(super) async fn rescan_all(State(state): State<AppState>, caller: ApiCaller) -> Result<Response, ApiError> {
    administrator(&caller)?;
    rescan(&state, &caller, None).await
}

/// Scan one tag again (administrators): its manifest, with every tag sharing it; 202.
#[utoipa::path(
    post,
    path = "/api/v1/vulnerabilities/{id}",
    params(("id" = i64, Path, description = "Tag id")),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 202, body = Rescan), Forbidden)
)]
pub(super) async fn rescan_tag(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    administrator(&caller)?;
    let id = TagId(parse_id(&id, "tag")?);
    let tag = state.store.tag_by_id(id).await?.ok_or_else(|| not_found("tag"))?;
    rescan(&state, &caller, Some(&tag.manifest.digest)).await
}
