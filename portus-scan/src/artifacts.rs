//! Recognizing what a tag holds (image, Helm chart, signature, ...) by reading its manifest
//! from the registry, and recording manifests pushed by digest that refer to another one.
//!
//! The decision itself is [`portus_core::model::classify`], a pure function; this module only
//! fetches the facts and stores the answer. The event pipeline calls it for every push, the
//! catalog sync for every tag it records and the scan worker for any tag still unknown, so a
//! chart or a signature never reaches an image scanner.

use portus_core::RegistryClient;
use portus_core::model::{Artifact, Referrer, classify};
use portus_core::prelude::*;

use crate::Error;

/// OCI and Docker single manifests: the only media types a referrer (with a `subject`) has.
const SINGLE_MANIFESTS: [&str; 2] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.artifact.manifest.v1+json",
];

/// Reads the manifest `repository:tag` points at (`digest`) and records what it holds on the
/// tag (nothing when the tag moved meanwhile). Answers what was recognized.
pub async fn recognize_tag<C: CatalogStore + ?Sized>(
    registry: &dyn RegistryClient,
    catalog: &C,
    repository: &str,
    tag: &str,
    digest: &str,
) -> Result<Artifact, Error> {
    let manifest = registry.manifest(repository, digest).await?;
    let artifact = classify(Some(tag), &manifest.facts);
    catalog.record_artifact(repository, tag, digest, &artifact).await?;
    Ok(artifact)
}

/// A manifest pushed by digest (`oras attach`, cosign with the referrers API): when it refers
/// to another manifest (an OCI `subject`), it is recorded as a referrer of the repository and
/// answered. Indexes and manifests without a subject are not referrers: `None`, nothing read
/// for media types that cannot have one.
pub async fn recognize_untagged(
    registry: &dyn RegistryClient,
    catalog: &dyn CatalogStore,
    repository: &str,
    digest: &str,
    media_type: &str,
) -> Result<Option<Referrer>, Error> {
    if !SINGLE_MANIFESTS.contains(&media_type) {
        return Ok(None);
    }
    let manifest = registry.manifest(repository, digest).await?;
    if manifest.facts.subject.is_none() {
        return Ok(None);
    }
    let referrer = Referrer {
        repository: repository.to_owned(),
        digest: digest.to_owned(),
        artifact: classify(None, &manifest.facts),
    };
    catalog.put_referrer(&referrer).await?;
    Ok(Some(referrer))
}
