use async_trait::async_trait;

use crate::Result;

/// What the registry says about one manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestInfo {
    /// The manifest digest (`Docker-Content-Digest`).
    pub digest: String,
    /// The manifest media type (Docker schema 2, manifest list, OCI manifest or OCI index).
    pub media_type: String,
    /// Total size in bytes (config + layers; for indexes, the sum over children).
    pub size: Option<u64>,
    /// Layer digests, base layer first (empty for indexes).
    pub layers: Vec<String>,
}

/// Read and delete access to the Distribution registry that portus guards.
#[async_trait]
pub trait RegistryClient: Send + Sync {
    /// Every repository name in the registry's catalog (all pages).
    async fn catalog(&self) -> Result<Vec<String>>;
    /// Every tag of a repository (all pages).
    async fn tags(&self, repository: &str) -> Result<Vec<String>>;
    /// The manifest a tag or digest points at.
    async fn manifest(&self, repository: &str, reference: &str) -> Result<ManifestInfo>;
    /// Deletes a manifest by digest (which removes every tag pointing at it).
    async fn delete_manifest(&self, repository: &str, digest: &str) -> Result<()>;
}
