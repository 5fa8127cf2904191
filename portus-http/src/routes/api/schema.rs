//! The API's own names for the core's enums (so the OpenAPI document can describe them; they
//! serialize exactly like the core's), and the error answers each route lists.

use std::collections::BTreeMap;

use portus_core::model;
use portus_scan::aggregate::TagScanStatus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

/// A member's role in a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    /// Pulls.
    Viewer,
    /// Pulls and pushes.
    Contributor,
    /// Pulls, pushes and manages the team.
    Owner,
}

impl From<model::Role> for Role {
    fn from(role: model::Role) -> Self {
        match role {
            model::Role::Viewer => Role::Viewer,
            model::Role::Contributor => Role::Contributor,
            model::Role::Owner => Role::Owner,
        }
    }
}

impl From<Role> for model::Role {
    fn from(role: Role) -> Self {
        match role {
            Role::Viewer => model::Role::Viewer,
            Role::Contributor => model::Role::Contributor,
            Role::Owner => model::Role::Owner,
        }
    }
}

/// Who may pull from a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Visibility {
    /// Team members only.
    Private,
    /// Any signed-in user.
    Protected,
    /// Anyone.
    Public,
}

impl From<model::Visibility> for Visibility {
    fn from(visibility: model::Visibility) -> Self {
        match visibility {
            model::Visibility::Private => Visibility::Private,
            model::Visibility::Protected => Visibility::Protected,
            model::Visibility::Public => Visibility::Public,
        }
    }
}

impl From<Visibility> for model::Visibility {
    fn from(visibility: Visibility) -> Self {
        match visibility {
            Visibility::Private => model::Visibility::Private,
            Visibility::Protected => model::Visibility::Protected,
            Visibility::Public => model::Visibility::Public,
        }
    }
}

/// A tag's (or a repository's) scan status across the configured scanners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ScanStatus {
    /// No scanner is configured.
    NotScanned,
    /// A scanner has not finished (and none failed).
    Pending,
    /// A scanner failed its last attempt (retried; never shown as clean).
    Failed,
    /// Every scanner finished.
    Done,
    /// Not scanned because it is no image (a Helm chart, signature, SBOM or other artifact):
    /// scanners read images only, and "clean" would say nothing about it.
    NotAnImage,
}

/// What a tag's manifest holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ArtifactKind {
    /// A container image (or an index of images): the only kind that is scanned.
    Image,
    /// A Helm chart (`chart` names it).
    HelmChart,
    /// A signature of another manifest (`subject`).
    Signature,
    /// An attestation about another manifest (`subject`).
    Attestation,
    /// A software bill of materials of another manifest (`subject`).
    Sbom,
    /// The referrers-tag fallback index (`sha256-<hex>`) of registries without the referrers API.
    Referrers,
    /// Another OCI artifact (`artifact_type` says which).
    Artifact,
}

impl From<portus_core::model::ArtifactKind> for ArtifactKind {
    fn from(kind: portus_core::model::ArtifactKind) -> Self {
        use portus_core::model::ArtifactKind as K;
        match kind {
            K::Image => ArtifactKind::Image,
            K::HelmChart => ArtifactKind::HelmChart,
            K::Signature => ArtifactKind::Signature,
            K::Attestation => ArtifactKind::Attestation,
            K::Sbom => ArtifactKind::Sbom,
            K::Referrers => ArtifactKind::Referrers,
            K::Artifact => ArtifactKind::Artifact,
        }
    }
}

impl From<TagScanStatus> for ScanStatus {
    fn from(status: TagScanStatus) -> Self {
        match status {
            TagScanStatus::NotScanned => ScanStatus::NotScanned,
            TagScanStatus::Pending => ScanStatus::Pending,
            TagScanStatus::Failed => ScanStatus::Failed,
            TagScanStatus::Done => ScanStatus::Done,
        }
    }
}

/// A vulnerability's normalized severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
pub(crate) enum Severity {
    /// Unknown.
    Unknown,
    /// Negligible.
    Negligible,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl From<portus_core::traits::Severity> for Severity {
    fn from(severity: portus_core::traits::Severity) -> Self {
        use portus_core::traits::Severity as S;
        match severity {
            S::Unknown => Severity::Unknown,
            S::Negligible => Severity::Negligible,
            S::Low => Severity::Low,
            S::Medium => Severity::Medium,
            S::High => Severity::High,
            S::Critical => Severity::Critical,
        }
    }
}

/// Findings counted by severity.
pub(crate) type SeverityCounts = BTreeMap<Severity, usize>;

/// [`SeverityCounts`] from the scanner's counts.
pub(crate) fn counts(counts: &portus_scan::aggregate::SeverityCounts) -> SeverityCounts {
    counts.iter().map(|(s, n)| (Severity::from(*s), *n)).collect()
}

/// Declares error answers for `responses(...)` of a route: each lists one status with the
/// registry-format [`Errors`](crate::error::Errors) body.
macro_rules! error_responses {
    ($($(#[$doc:meta])* $name:ident = $status:literal, $description:literal;)*) => {$(
        $(#[$doc])*
        pub(crate) enum $name {}

        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
                BTreeMap::from([($status.to_owned(), error_response($description))])
            }
        }
    )*};
}

/// An error answer with the `Errors` body.
pub(crate) fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Errors")))
                    .build(),
            )
            .build(),
    )
}

error_responses! {
    /// 404: no such object, or one the caller may not see (the same answer).
    NotFound = "404", "no such object, or one the caller may not see (the same answer)";
    /// 403: the caller may see the object but not do this.
    Forbidden = "403", "the caller may see this but not do it";
    /// 409: the name is taken, or the request conflicts with what exists.
    Conflict = "409", "conflicts with what exists (a taken name, a member already there, tags sharing the manifest)";
    /// 405: turned off by this installation's configuration.
    TurnedOff = "405", "turned off by this installation's configuration";
    /// 422: a rule of the data or of this configuration refuses the request.
    Unprocessable = "422", "a rule refuses it (the last owner, personal teams and namespaces, administrators stay owners, no registry configured, ...)";
}
