use std::sync::Arc;

use async_trait::async_trait;

use crate::Result;
use crate::model::{ImageSizes, ManifestFacts, ManifestRecord, PlatformSize};

/// What the registry says about one manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestInfo {
    /// Digest, media type and size (config + layers; for indexes, the sum of the children's
    /// manifest sizes).
    pub record: ManifestRecord,
    /// Layer digests, base layer first (empty for indexes).
    pub layers: Vec<String>,
    /// Child manifest digests of an index or manifest list (empty for images).
    pub children: Vec<String>,
    /// The media types, `artifactType`, `subject` and annotations of the manifest, from which
    /// [`classify`](crate::model::classify) tells images from other artifacts.
    pub facts: ManifestFacts,
    /// Each child's platform as the index names it (`os/architecture[/variant]`, empty when
    /// it names none), in the order of `children`.
    pub platforms: Vec<String>,
}

impl ManifestInfo {
    /// Whether this is an index or manifest list.
    pub fn is_index(&self) -> bool {
        !self.children.is_empty()
            || self.record.media_type.contains("image.index")
            || self.record.media_type.contains("manifest.list")
    }

    /// The image sizes from the registry's own manifests: for an image, its config and layers
    /// (`record.size`); for an index, each platform's (from `children`, this index's child
    /// manifests, each found by digest) and their sum. `None` when a size is missing (Docker
    /// schema 1 manifests have none) or a child is not given.
    pub fn sizes(&self, children: &[ManifestInfo]) -> Option<ImageSizes> {
        if !self.is_index() {
            return self.record.size.map(|total| ImageSizes {
                total,
                platforms: Vec::new(),
            });
        }
        let mut platforms = Vec::with_capacity(self.children.len());
        for (i, digest) in self.children.iter().enumerate() {
            let child = children.iter().find(|c| c.record.digest == *digest)?;
            platforms.push(PlatformSize {
                platform: self.platforms.get(i).cloned().unwrap_or_default(),
                digest: digest.clone(),
                size: child.record.size?,
            });
        }
        Some(ImageSizes {
            total: platforms.iter().map(|p| p.size).fold(0u64, u64::saturating_add),
            platforms,
        })
    }
}

/// Read and delete access to the Distribution registry that portus guards.
#[async_trait]
pub trait RegistryClient: std::fmt::Debug + Send + Sync {
    /// Every repository name in the registry's catalog (all pages).
    async fn catalog(&self) -> Result<Vec<String>>;
    /// Every tag of a repository (all pages).
    async fn tags(&self, repository: &str) -> Result<Vec<String>>;
    /// Digest and media type of the manifest a tag or digest points at (a HEAD request).
    async fn head_manifest(&self, repository: &str, reference: &str) -> Result<ManifestRecord>;
    /// The manifest a tag or digest points at, with its layers.
    async fn manifest(&self, repository: &str, reference: &str) -> Result<ManifestInfo>;
    /// Deletes a manifest by digest (which removes every tag pointing at it).
    async fn delete_manifest(&self, repository: &str, digest: &str) -> Result<()>;
    /// Removes one tag and keeps its manifest and the other tags pointing at it, when the
    /// registry can (Distribution 3: `DELETE /v2/<name>/manifests/<tag>` answers 202): `true`.
    /// `false`, with nothing changed, when it cannot (2.8 deletes manifests only); callers then
    /// delete the manifest. The default is `false`.
    async fn delete_tag(&self, repository: &str, tag: &str) -> Result<bool> {
        let _ = (repository, tag);
        Ok(false)
    }
}

macro_rules! forward_registry_client {
    ($wrapper:ty) => {
        #[async_trait]
        impl<T: RegistryClient + ?Sized> RegistryClient for $wrapper {
            async fn catalog(&self) -> Result<Vec<String>> {
                (**self).catalog().await
            }
            async fn tags(&self, repository: &str) -> Result<Vec<String>> {
                (**self).tags(repository).await
            }
            async fn head_manifest(&self, repository: &str, reference: &str) -> Result<ManifestRecord> {
                (**self).head_manifest(repository, reference).await
            }
            async fn manifest(&self, repository: &str, reference: &str) -> Result<ManifestInfo> {
                (**self).manifest(repository, reference).await
            }
            async fn delete_manifest(&self, repository: &str, digest: &str) -> Result<()> {
                (**self).delete_manifest(repository, digest).await
            }
            async fn delete_tag(&self, repository: &str, tag: &str) -> Result<bool> {
                (**self).delete_tag(repository, tag).await
            }
        }
    };
}

forward_registry_client!(Arc<T>);
forward_registry_client!(Box<T>);
