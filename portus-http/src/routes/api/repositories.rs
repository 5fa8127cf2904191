//! Repositories, tags, stars and scan results.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use portus_core::model::{Namespace, Repository, RepositoryId, ScanRecord, TagId, TagRecord};
use portus_core::permissions;
use portus_core::policy::Action;
use portus_core::prelude::*;
use portus_scan::aggregate::{TagSecurity, repository_counts, repository_status};
use portus_scan::worker::tag_security;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiCaller, PageQuery, check, forbidden, no_content, not_found, parse_id};
use crate::error::ApiError;
use crate::state::AppState;

/// Scan records by digest.
type RecordsByDigest = HashMap<String, Vec<ScanRecord>>;

fn by_digest(records: Vec<ScanRecord>) -> RecordsByDigest {
    let mut map: RecordsByDigest = HashMap::new();
    for record in records {
        map.entry(record.digest.clone()).or_default().push(record);
    }
    map
}

fn security_of(state: &AppState, tag: &TagRecord, records: &RecordsByDigest) -> TagSecurity {
    let records = records.get(&tag.manifest.digest).map(Vec::as_slice).unwrap_or_default();
    tag_security(records, &state.scan_backends())
}

fn tag_view(tag: &TagRecord, security: &TagSecurity) -> Value {
    json!({
        "id": tag.id,
        "repository": tag.repository,
        "name": tag.name,
        "digest": tag.manifest.digest,
        "media_type": tag.manifest.media_type,
        "size": tag.manifest.size,
        "pushed_by": tag.pushed_by,
        "created_at": tag.created_at,
        "updated_at": tag.updated_at,
        "scan": {"status": security.status, "counts": security.counts},
    })
}

fn repository_view(
    state: &AppState,
    repository: &Repository,
    tags: &[&TagRecord],
    records: &RecordsByDigest,
    starred: bool,
) -> Value {
    let securities: Vec<TagSecurity> = tags.iter().map(|t| security_of(state, t, records)).collect();
    let mut statuses: HashMap<String, usize> = HashMap::new();
    for security in &securities {
        let status = serde_json::to_value(security.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        *statuses.entry(status).or_default() += 1;
    }
    json!({
        "id": repository.id,
        "name": repository.name,
        "namespace_id": repository.namespace_id,
        "stars": repository.stars,
        "starred": starred,
        "tags_count": tags.len(),
        "created_at": repository.created_at,
        "security": {
            "status": repository_status(&securities),
            "counts": repository_counts(&securities),
            "tags_by_status": statuses,
        },
    })
}

/// A repository's tags and the scan records of their manifests.
async fn tags_and_records(
    store: &dyn portus_core::PolicyStore,
    repository: &str,
) -> Result<(Vec<TagRecord>, RecordsByDigest), ApiError> {
    let tags = store.tags(Some(repository)).await?;
    let digests: std::collections::BTreeSet<&str> = tags.iter().map(|t| t.manifest.digest.as_str()).collect();
    let mut records = Vec::new();
    for digest in digests {
        records.extend(store.scan_records(Some(digest)).await?);
    }
    Ok((tags, by_digest(records)))
}

/// The repositories the caller starred (none for anonymous callers).
pub(super) async fn starred_by(state: &AppState, caller: &ApiCaller) -> Result<Vec<RepositoryId>, ApiError> {
    Ok(match caller.caller.user_id() {
        Some(user) => state.store.starred(user).await?,
        None => Vec::new(),
    })
}

/// The JSON shape of one repository, with its per-severity security summary; `starred` says
/// whether the caller starred it.
pub(super) async fn view(state: &AppState, repository: &Repository, starred: bool) -> Result<Value, ApiError> {
    let (tags, records) = tags_and_records(state.store.as_ref(), &repository.name).await?;
    let tags: Vec<&TagRecord> = tags.iter().collect();
    Ok(repository_view(state, repository, &tags, &records, starred))
}

/// A repository the caller may see, with its namespace.
async fn load(state: &AppState, caller: &ApiCaller, raw: &str) -> Result<(Repository, Namespace), ApiError> {
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

/// `GET /api/v1/repositories`.
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
    let views: Vec<Value> = store
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

/// `GET /api/v1/repositories/{id}`.
pub(super) async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (repository, _) = load(&state, &caller, &id).await?;
    let starred = starred_by(&state, &caller).await?.contains(&repository.id);
    Ok(Json(view(&state, &repository, starred).await?))
}

fn registry(state: &AppState) -> Result<&dyn portus_core::RegistryClient, ApiError> {
    state.registry.as_deref().ok_or_else(|| ApiError {
        status: axum::http::StatusCode::SERVICE_UNAVAILABLE,
        code: "UNAVAILABLE",
        message: "no registry is configured (registry.url): images cannot be deleted".into(),
        basic_challenge: false,
    })
}

/// `DELETE /api/v1/repositories/{id}`: every manifest is deleted in the registry first.
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

/// `GET /api/v1/repositories/{id}/tags`.
pub(super) async fn tags(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    page: PageQuery,
) -> Result<Response, ApiError> {
    let (repository, _) = load(&state, &caller, &id).await?;
    let store = &state.store;
    let (tags, records) = tags_and_records(store.as_ref(), &repository.name).await?;
    let views: Vec<Value> = tags
        .iter()
        .map(|t| tag_view(t, &security_of(&state, t, &records)))
        .collect();
    page.0
        .respond(&format!("/api/v1/repositories/{}/tags", repository.id), views)
}

async fn set_star(state: AppState, caller: ApiCaller, id: String, starred: bool) -> Result<Response, ApiError> {
    let user = caller.user()?;
    let (repository, _) = load(&state, &caller, &id).await?;
    portus_core::ops::stars::set(state.store.as_ref(), user, &repository, starred).await?;
    Ok(no_content())
}

/// `PUT /api/v1/repositories/{id}/star`.
pub(super) async fn star(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_star(state, caller, id, true).await
}

/// `DELETE /api/v1/repositories/{id}/star`.
pub(super) async fn unstar(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_star(state, caller, id, false).await
}

/// `GET /api/v1/stars`: starred repositories the caller can still see.
pub(super) async fn starred(State(state): State<AppState>, caller: ApiCaller) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(Value::Array(views)))
}

/// A tag the caller may see, with its namespace.
async fn load_tag(state: &AppState, caller: &ApiCaller, raw: &str) -> Result<(TagRecord, Namespace), ApiError> {
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
async fn tag_with_security(
    state: &AppState,
    caller: &ApiCaller,
    raw: &str,
) -> Result<(TagRecord, TagSecurity), ApiError> {
    let (tag, _) = load_tag(state, caller, raw).await?;
    let records = by_digest(state.store.scan_records(Some(&tag.manifest.digest)).await?);
    let security = security_of(state, &tag, &records);
    Ok((tag, security))
}

/// `GET /api/v1/tags/{id}`.
pub(super) async fn show_tag(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (tag, security) = tag_with_security(&state, &caller, &id).await?;
    Ok(Json(tag_view(&tag, &security)))
}

/// Query of `DELETE /api/v1/tags/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeleteTagQuery {
    #[serde(default)]
    with_siblings: bool,
}

/// `DELETE /api/v1/tags/{id}`: deletes the tag's manifest in the registry; 409 when other tags
/// share it, unless `with_siblings=true`.
pub(super) async fn delete_tag(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    Query(query): Query<DeleteTagQuery>,
) -> Result<Json<Value>, ApiError> {
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
    let names: Vec<&str> = deleted.iter().map(|t| t.name.as_str()).collect();
    Ok(Json(json!({"deleted": names, "digest": tag.manifest.digest})))
}

/// `GET /api/v1/tags/{id}/vulnerabilities`: the tag's findings merged across backends, with
/// each backend's state (pending and failed backends are shown as such, never as clean).
pub(super) async fn tag_vulnerabilities(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (tag, security) = tag_with_security(&state, &caller, &id).await?;
    Ok(Json(json!({
        "tag": {"id": tag.id, "repository": tag.repository, "name": tag.name, "digest": tag.manifest.digest},
        "security": security,
    })))
}
