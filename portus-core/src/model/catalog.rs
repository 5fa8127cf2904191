//! The catalog portus records: repositories, tags, the manifests they point at, and search.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Namespace, NamespaceId};

id_type!(
    /// Identifier of a [`Repository`].
    RepositoryId
);

id_type!(
    /// Identifier of a [`TagRecord`].
    TagId
);

/// A repository as portus records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    /// Store identifier.
    pub id: RepositoryId,
    /// Full name (`alice/app`, or `app` in the global namespace).
    pub name: String,
    /// The namespace it lives in.
    pub namespace_id: NamespaceId,
    /// How many users starred it.
    pub stars: u64,
    /// What the repository holds, as its owners describe it (Markdown).
    pub description: Option<String>,
    /// When it was first recorded.
    pub created_at: DateTime<Utc>,
}

/// Names matching a search, before any visibility filtering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchHits {
    /// Namespaces whose name contains the text (not the global namespace).
    pub namespaces: Vec<Namespace>,
    /// Repositories whose full name contains it.
    pub repositories: Vec<Repository>,
    /// Tags whose name contains it.
    pub tags: Vec<TagRecord>,
}

/// The four manifest media types the registry stores and portus records, plus Docker schema 1.
pub const MANIFEST_MEDIA_TYPES: [&str; 6] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.docker.distribution.manifest.v1+json",
];

/// Whether `media_type` is a manifest (not a blob) type.
pub fn is_manifest_media_type(media_type: &str) -> bool {
    MANIFEST_MEDIA_TYPES.contains(&media_type)
}

/// What a tag points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRecord {
    /// Manifest digest (`sha256:...`).
    pub digest: String,
    /// Manifest media type.
    pub media_type: String,
    /// Image size in bytes, when known.
    pub size: Option<u64>,
}

/// A tag as portus records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagRecord {
    /// Store identifier.
    pub id: TagId,
    /// Full repository name (`alice/app`, or `app` in the global namespace).
    pub repository: String,
    /// Tag name.
    pub name: String,
    /// The manifest it points at.
    pub manifest: ManifestRecord,
    /// User who pushed it last, when known.
    pub pushed_by: Option<String>,
    /// When it was first recorded.
    pub created_at: DateTime<Utc>,
    /// When its digest last changed.
    pub updated_at: DateTime<Utc>,
    /// The image's id (its config digest), when known (Portus recorded it).
    #[serde(default)]
    pub image_id: Option<String>,
    /// The image's total size in bytes, when known (Portus recorded it).
    #[serde(default)]
    pub image_size: Option<u64>,
    /// The last pull by tag the registry reported (or Portus recorded), when known.
    #[serde(default)]
    pub pulled_at: Option<DateTime<Utc>>,
    /// What the manifest holds (image, Helm chart, signature, ...), once recognized
    /// ([`classify`](super::classify)); `None` until the manifest was read.
    #[serde(default)]
    pub artifact: Option<super::Artifact>,
    /// Whether a signature refers to the tag's digest in its repository (a cosign-style
    /// `sha256-<hex>.sig` tag or an OCI referrer whose subject it is).
    #[serde(default)]
    pub signed: bool,
    /// How many pulls by tag the registry reported since portus recorded the tag (pulls by
    /// portus' own service account are not counted).
    #[serde(default)]
    pub pull_count: u64,
    /// For an index or manifest list: each platform's image size, in the index's order
    /// (empty for a single image, or while the sizes are not known).
    #[serde(default)]
    pub platform_sizes: Vec<PlatformSize>,
}

/// A manifest pushed by digest that refers to another one (an OCI 1.1 `subject`): a
/// signature, attestation or SBOM attached with `oras attach` or `cosign` without a tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referrer {
    /// Full repository name.
    pub repository: String,
    /// The referrer's own digest.
    pub digest: String,
    /// What it was recognized as; its `subject` is the digest it refers to.
    pub artifact: super::Artifact,
}

/// The size of one platform's image in an index or manifest list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformSize {
    /// `os/architecture[/variant]` as the index names it (`unknown/unknown` for attestations,
    /// empty when the index names none).
    pub platform: String,
    /// The platform manifest's digest.
    pub digest: String,
    /// Its config and layers, in bytes.
    pub size: u64,
}

/// The sizes of the image (or images) a manifest names, computed from the registry's manifests
/// ([`ManifestInfo::sizes`](crate::traits::ManifestInfo::sizes)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSizes {
    /// The image's config and layers; for an index, the sum of its platforms' sizes (what
    /// pulling every platform downloads, layers shared between platforms counted each time).
    pub total: u64,
    /// Per platform, for an index (empty for a single image).
    pub platforms: Vec<PlatformSize>,
}

/// What [`CatalogStore::put_tag`](crate::traits::CatalogStore::put_tag) did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagChange {
    /// The tag is new.
    Created,
    /// The tag moved to another manifest.
    Updated {
        /// The digest it pointed at before.
        previous_digest: String,
    },
    /// The tag already pointed at this manifest.
    Unchanged,
    /// The tag already pointed at this manifest but had no pusher (it was discovered by a pull
    /// or a sync): the pusher given was recorded.
    PusherRestored,
    /// The namespace does not exist and was not to be created: nothing was recorded.
    NamespaceMissing,
}

/// What to do when a repository's namespace does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingNamespace {
    /// Create it, private and owned by administrators only (no team), so nothing pushed is
    /// invisible.
    #[default]
    Create,
    /// Record nothing.
    Ignore,
}
