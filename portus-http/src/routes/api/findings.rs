//! A tag's page of facts: its findings merged across scanners, each scanner's state and when it
//! last changed, and what a deletion of the tag would take with it.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use portus_core::model::{Namespace, RepositoryFilter, RepositorySort};
use portus_scan::aggregate::MergedVulnerability;
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiCaller;
use super::schema::{self, ScanStatus, Severity};
use super::tags::{by_digest, load_tag, security_of};
use crate::error::ApiError;
use crate::state::AppState;

/// A tag by name, for its findings.
#[derive(Serialize, ToSchema)]
pub(super) struct TagRef {
    id: i64,
    repository: String,
    /// The repository's id (null only if it went away while answering).
    repository_id: Option<i64>,
    /// The namespace's id: its `permissions` say whether the caller may delete the tag.
    namespace_id: i64,
    name: String,
    digest: String,
    /// The other tags on the same manifest: deleting this tag in the registry deletes them
    /// too (`DELETE /api/v1/tags/{id}?with_siblings=true`).
    siblings: Vec<String>,
}

/// A tag's findings merged across scanners.
#[derive(Serialize, ToSchema)]
pub(super) struct SecurityView {
    status: ScanStatus,
    /// Most severe first.
    vulnerabilities: Vec<VulnerabilityView>,
    counts: schema::SeverityCounts,
    /// Each scanner's state: `pending`, `scanning`, `done`, or `failed: <why>`.
    backends: BTreeMap<String, String>,
    /// When each scanner's state last changed (its scan finished, failed or was queued); a
    /// scanner that has not looked at the image yet is absent.
    scanned_at: BTreeMap<String, DateTime<Utc>>,
}

/// One vulnerability, as one or more scanners found it.
#[derive(Serialize, ToSchema)]
pub(super) struct VulnerabilityView {
    /// `CVE-...`.
    id: String,
    /// The highest any scanner gave.
    severity: Severity,
    /// Affected packages as `[name, version]` (version null when not reported).
    #[schema(value_type = Vec<Vec<Option<String>>>)]
    packages: Vec<(String, Option<String>)>,
    fixed_in: Vec<String>,
    links: Vec<String>,
    description: Option<String>,
    /// The scanners that reported it.
    found_by: Vec<String>,
}

impl From<MergedVulnerability> for VulnerabilityView {
    fn from(v: MergedVulnerability) -> Self {
        VulnerabilityView {
            id: v.id,
            severity: v.severity.into(),
            packages: v.packages,
            fixed_in: v.fixed_in,
            links: v.links,
            description: v.description,
            found_by: v.found_by,
        }
    }
}

/// A tag and its findings.
#[derive(Serialize, ToSchema)]
pub(super) struct TagVulnerabilities {
    tag: TagRef,
    security: SecurityView,
}

/// The id of `name`, a repository of `namespace`.
pub(super) async fn repository_id(
    state: &AppState,
    namespace: &Namespace,
    name: &str,
) -> Result<Option<i64>, ApiError> {
    let filter = RepositoryFilter {
        namespaces: Some(vec![namespace.id]),
        name_contains: Some(name.to_lowercase()),
        ..RepositoryFilter::default()
    };
    let query = portus_core::model::ListQuery::<RepositorySort>::default();
    let listed = state.store.repositories_page(&filter, &query).await?;
    Ok(listed
        .items
        .iter()
        .find(|l| l.repository.name == name)
        .map(|l| l.repository.id.0))
}

/// A tag's findings merged across scanners, with each scanner's state and its time, and the
/// tags a deletion would take with it.
///
/// Pending and failed scanners are shown as such, never as clean.
#[utoipa::path(
    get,
    path = "/api/v1/tags/{id}/vulnerabilities",
    params(("id" = i64, Path, description = "Tag id")),
    security((), ("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = TagVulnerabilities))
)]
pub(super) async fn tag_vulnerabilities(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<TagVulnerabilities>, ApiError> {
    let (tag, namespace) = load_tag(&state, &caller, &id).await?;
    let records = by_digest(state.store.scan_records(Some(&tag.manifest.digest)).await?);
    let mut security = security_of(&state, &tag, &records);
    // Charts, signatures and other artifacts are never scanned: no scanner state applies.
    let not_an_image = tag.artifact.as_ref().is_some_and(|a| !a.kind.is_scannable());
    if not_an_image {
        security = portus_scan::aggregate::merge_tag(&Default::default());
    }
    let backends = if not_an_image {
        Vec::new()
    } else {
        state.scan_backends()
    };
    let scanned_at = records
        .get(&tag.manifest.digest)
        .into_iter()
        .flatten()
        .filter(|r| backends.contains(&r.backend.as_str()))
        .map(|r| (r.backend.clone(), r.updated_at))
        .collect();
    let siblings = state
        .store
        .tags(Some(&tag.repository))
        .await?
        .into_iter()
        .filter(|t| t.manifest.digest == tag.manifest.digest && t.name != tag.name)
        .map(|t| t.name)
        .collect();
    Ok(Json(TagVulnerabilities {
        tag: TagRef {
            id: tag.id.0,
            repository_id: repository_id(&state, &namespace, &tag.repository).await?,
            namespace_id: namespace.id.0,
            repository: tag.repository,
            name: tag.name,
            digest: tag.manifest.digest,
            siblings,
        },
        security: SecurityView {
            status: if not_an_image {
                schema::ScanStatus::NotAnImage
            } else {
                security.status.into()
            },
            counts: schema::counts(&security.counts),
            vulnerabilities: security.vulnerabilities.into_iter().map(Into::into).collect(),
            backends: security.backends,
            scanned_at,
        },
    }))
}
