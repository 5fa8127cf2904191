use std::sync::Arc;

use async_trait::async_trait;

use crate::Result;
use crate::model::{ManifestFacts, ManifestRecord};

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
