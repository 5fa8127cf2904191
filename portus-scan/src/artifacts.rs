//! Recognizing what a tag holds (image, Helm chart, signature, ...) by reading its manifest
//! from the registry, and recording manifests pushed by digest that refer to another one.
//!
//! The decision itself is [`portus_core::model::classify`], a pure function; this module only
//! fetches the facts and stores the answer. The event pipeline calls it for every push, the
//! catalog sync for every tag it records and the scan worker for any tag still unknown, so a
//! chart or a signature never reaches an image scanner.

use portus_core::RegistryClient;
use portus_core::model::{Artifact, ArtifactKind, ManifestFacts, Referrer, classify};
use portus_core::prelude::*;
use portus_core::traits::ManifestInfo;

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
    record_tag_artifact(catalog, repository, tag, digest, &manifest).await
}

/// [`recognize_tag`] with the manifest already read (`digest`'s, from the registry).
pub async fn record_tag_artifact<C: CatalogStore + ?Sized>(
    catalog: &C,
    repository: &str,
    tag: &str,
    digest: &str,
    manifest: &ManifestInfo,
) -> Result<Artifact, Error> {
    let artifact = classify(Some(tag), &manifest.facts);
    catalog.record_artifact(repository, tag, digest, &artifact).await?;
    // The referrers-tag fallback lists each referrer with its artifact type: they are kept
    // as the push events of the referrers themselves would have (a sync finds them this way
    // after portus missed those events).
    if artifact.kind == ArtifactKind::Referrers
        && let Some(subject) = &artifact.subject
    {
        for (child, child_type) in manifest.children.iter().zip(&manifest.facts.child_artifact_types) {
            let Some(child_type) = child_type else { continue };
            let facts = ManifestFacts {
                media_type: SINGLE_MANIFESTS[0].to_owned(),
                artifact_type: Some(child_type.clone()),
                subject: Some(subject.clone()),
                ..ManifestFacts::default()
            };
            let referrer = Referrer {
                repository: repository.to_owned(),
                digest: child.clone(),
                artifact: classify(None, &facts),
            };
            catalog.put_referrer(&referrer).await?;
        }
    }
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

#[cfg(test)]
mod tests {
    use portus_core::model::{ManifestRecord, MissingNamespace};
    use portus_core::{InMemoryRegistry, InMemoryStore};

    use super::*;

    /// A catalog sync (or a push of the fallback tag) that finds a `sha256-<hex>` referrers
    /// index keeps its signature referrers: the subject's tag reads as signed.
    #[tokio::test]
    async fn the_referrers_tag_fallback_signs_its_subject() {
        let store = InMemoryStore::new();
        let registry = InMemoryRegistry::new();
        let hex = "ef".repeat(32);
        let image = format!("sha256:{hex}");
        let fallback = format!("sha256-{hex}");
        let mut index = portus_core::memory::index_manifest("sha256:index", &["sha256:sig", "sha256:sbom"]);
        index.facts.child_artifact_types = vec![
            Some("application/vnd.cncf.notary.signature".into()),
            Some("application/spdx+json".into()),
        ];
        registry.push("a/app", &fallback, index.clone());
        registry.push_image("a/app", "1.0", &image, &["sha256:layer"]);
        for (tag, record) in [
            (
                "1.0",
                ManifestRecord {
                    digest: image.clone(),
                    media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                    size: None,
                },
            ),
            (fallback.as_str(), index.record.clone()),
        ] {
            store
                .put_tag("a/app", tag, &record, None, MissingNamespace::Create)
                .await
                .unwrap();
        }
        assert!(!store.tag("a/app", "1.0").await.unwrap().unwrap().signed);
        let found = recognize_tag(&registry, &store, "a/app", &fallback, "sha256:index")
            .await
            .unwrap();
        assert_eq!(found.kind, ArtifactKind::Referrers);
        assert!(store.tag("a/app", "1.0").await.unwrap().unwrap().signed);
        // Recognizing the image itself says it is one.
        let image_kind = recognize_tag(&registry, &store, "a/app", "1.0", &image).await.unwrap();
        assert_eq!(image_kind.kind, ArtifactKind::Image);
    }
}
