//! Tags and their scan results: a repository's tags (flat and grouped by manifest), every tag
//! (administrators), one tag, its deletion through the registry, its findings, and forced
//! rescans.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portus_core::model::{Namespace, ScanRecord, TagId, TagRecord, UserId};
use portus_core::permissions;
use portus_core::policy::Action;
use portus_core::prelude::*;
use portus_scan::aggregate::{TagScanStatus, TagSecurity};
use portus_scan::worker::tag_security;
use serde::Deserialize;
use serde_json::{Value, json};

use super::repositories::load;
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
    /// Every user's id by name.
    pub(super) async fn load(state: &AppState) -> Result<Self, ApiError> {
        let users = state.store.list_users().await?;
        Ok(Authors(users.into_iter().map(|u| (u.username, u.id)).collect()))
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

/// The JSON shape of a tag with its scan status.
pub(super) fn tag_view(tag: &TagRecord, security: &TagSecurity, authors: &Authors) -> Value {
    let author = tag
        .pushed_by
        .as_ref()
        .map(|name| json!({"id": authors.0.get(name), "name": name}));
    json!({
        "id": tag.id,
        "repository": tag.repository,
        "name": tag.name,
        "digest": tag.manifest.digest,
        "media_type": tag.manifest.media_type,
        "size": tag.manifest.size,
        "pushed_by": tag.pushed_by,
        "author": author,
        "created_at": tag.created_at,
        "updated_at": tag.updated_at,
        "scanned": scanned(security),
        "scan": {"status": security.status, "counts": security.counts},
    })
}

/// A repository's tags and the scan records of their manifests.
pub(super) async fn tags_and_records(
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

/// `GET /api/v1/repositories/{id}/tags`.
pub(super) async fn repository_tags(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    page: PageQuery,
) -> Result<Response, ApiError> {
    let (repository, _) = load(&state, &caller, &id).await?;
    let store = &state.store;
    let (tags, records) = tags_and_records(store.as_ref(), &repository.name).await?;
    let authors = Authors::load(&state).await?;
    let views: Vec<Value> = tags
        .iter()
        .map(|t| tag_view(t, &security_of(&state, t, &records), &authors))
        .collect();
    page.0
        .respond(&format!("/api/v1/repositories/{}/tags", repository.id), views)
}

/// `GET /api/v1/repositories/{id}/tags/grouped`: the tags grouped by manifest (the tags the
/// registry deletes together), the most recently pushed group first, as Portus groups them.
pub(super) async fn grouped_tags(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Vec<Vec<Value>>>, ApiError> {
    let (repository, _) = load(&state, &caller, &id).await?;
    let (tags, records) = tags_and_records(state.store.as_ref(), &repository.name).await?;
    let authors = Authors::load(&state).await?;
    let mut groups: Vec<Vec<&TagRecord>> = Vec::new();
    for tag in &tags {
        match groups.iter_mut().find(|g| g[0].manifest.digest == tag.manifest.digest) {
            Some(group) => group.push(tag),
            None => groups.push(vec![tag]),
        }
    }
    let newest = |group: &Vec<&TagRecord>| group.iter().map(|t| t.updated_at).max();
    groups.sort_by_key(|g| std::cmp::Reverse(newest(g)));
    Ok(Json(
        groups
            .into_iter()
            .map(|group| {
                group
                    .into_iter()
                    .map(|t| tag_view(t, &security_of(&state, t, &records), &authors))
                    .collect()
            })
            .collect(),
    ))
}

/// `GET /api/v1/tags`: every tag (administrators, as in Portus; others 403 like the other
/// administrator-only lists: the route exists for everyone, only its use is refused).
pub(super) async fn all_tags(
    State(state): State<AppState>,
    caller: ApiCaller,
    page: PageQuery,
) -> Result<Response, ApiError> {
    caller.user()?;
    if !caller.caller.is_admin() {
        return Err(forbidden("only administrators list every tag"));
    }
    let store = &state.store;
    let tags = store.tags(None).await?;
    let records = by_digest(store.scan_records(None).await?);
    let authors = Authors::load(&state).await?;
    let views: Vec<Value> = tags
        .iter()
        .map(|t| tag_view(t, &security_of(&state, t, &records), &authors))
        .collect();
    page.0.respond("/api/v1/tags", views)
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
    let authors = Authors::load(&state).await?;
    Ok(Json(tag_view(&tag, &security, &authors)))
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

/// `POST /api/v1/vulnerabilities` and `POST /api/v1/vulnerabilities/{id}`: administrators
/// force a new scan of every tag, or of one tag (its manifest, with every tag sharing it), by
/// every backend; the scan worker picks it up at its next pass. 202: the scans happen later.
async fn rescan(state: &AppState, caller: &ApiCaller, digest: Option<&str>) -> Result<Response, ApiError> {
    let reset = portus_scan::worker::request_rescan(state.store.as_ref(), digest).await?;
    tracing::info!(actor = caller.actor(), digest, reset, "rescan requested");
    Ok((StatusCode::ACCEPTED, Json(json!({"rescans": reset}))).into_response())
}

fn administrator(caller: &ApiCaller) -> Result<(), ApiError> {
    caller.user()?;
    if !caller.caller.is_admin() {
        return Err(forbidden("only administrators force rescans"));
    }
    Ok(())
}

/// `POST /api/v1/vulnerabilities`: rescan every tag.
pub(super) async fn rescan_all(State(state): State<AppState>, caller: ApiCaller) -> Result<Response, ApiError> {
    administrator(&caller)?;
    rescan(&state, &caller, None).await
}

/// `POST /api/v1/vulnerabilities/{id}`: rescan one tag.
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
