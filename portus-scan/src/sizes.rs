//! Image sizes from the registry's own manifests, recorded on the tags that point at them.
//!
//! A push notification names the manifest but not the size of the image: the manifest (and,
//! for an index, each platform's manifest) is read back by digest and the config and layer
//! sizes it lists are summed ([`ManifestInfo::sizes`]). Reading by digest matters: the
//! registry reports a manifest read by tag as a pull, and portus' own reads must not count as
//! pulls.

use portus_core::model::ImageSizes;
use portus_core::prelude::*;
use portus_core::traits::{ManifestInfo, RegistryClient};

/// The sizes of the image `digest` names in `repository`, read from the registry; `None` when
/// its manifests list none (Docker schema 1).
pub async fn measure(
    registry: &dyn RegistryClient,
    repository: &str,
    digest: &str,
) -> portus_core::Result<Option<ImageSizes>> {
    let top = registry.manifest(repository, digest).await?;
    measure_manifest(registry, repository, &top).await
}

/// [`measure`] with the image's top manifest already read (an index's children are read here).
pub async fn measure_manifest(
    registry: &dyn RegistryClient,
    repository: &str,
    top: &ManifestInfo,
) -> portus_core::Result<Option<ImageSizes>> {
    let children = children_of(registry, repository, top).await?;
    Ok(top.sizes(&children))
}

/// The child manifests of an index (none for an image), in the index's order.
pub async fn children_of(
    registry: &dyn RegistryClient,
    repository: &str,
    top: &ManifestInfo,
) -> portus_core::Result<Vec<ManifestInfo>> {
    let mut children = Vec::with_capacity(top.children.len());
    for child in &top.children {
        children.push(registry.manifest(repository, child).await?);
    }
    Ok(children)
}

/// Measures the image whose top manifest is `top` and records its sizes on every tag pointing
/// at it; returns them. A registry that cannot answer leaves the sizes unknown (the next sync
/// or scan measures again): the error is returned for the caller to log, never to fail what it
/// was doing.
pub async fn measure_and_record(
    registry: &dyn RegistryClient,
    catalog: &dyn CatalogStore,
    repository: &str,
    top: &ManifestInfo,
) -> portus_core::Result<Option<ImageSizes>> {
    let Some(sizes) = measure_manifest(registry, repository, top).await? else {
        return Ok(None);
    };
    catalog.record_image_sizes(&top.record.digest, &sizes).await?;
    Ok(Some(sizes))
}

#[cfg(test)]
mod tests {
    use portus_core::memory::{InMemoryRegistry, image_manifest, index_manifest};

    use super::*;

    #[tokio::test]
    async fn an_index_is_measured_per_platform_from_its_children() {
        let registry = InMemoryRegistry::new();
        let mut amd64 = image_manifest("sha256:c1", &["sha256:l1"]);
        amd64.record.size = Some(1000);
        let mut arm = image_manifest("sha256:c2", &["sha256:l2"]);
        arm.record.size = Some(2500);
        let mut index = index_manifest("sha256:idx", &["sha256:c1", "sha256:c2"]);
        index.platforms = vec!["linux/amd64".into(), "linux/arm64".into()];
        // What the registry client reports for an index: its children's manifest documents,
        // not their images.
        index.record.size = Some(700);
        for m in [amd64, arm, index] {
            registry.push_manifest("a/app", m);
        }
        let sizes = measure(&registry, "a/app", "sha256:idx").await.unwrap().unwrap();
        assert_eq!(sizes.total, 3500);
        let platforms: Vec<(&str, &str, u64)> = sizes
            .platforms
            .iter()
            .map(|p| (p.platform.as_str(), p.digest.as_str(), p.size))
            .collect();
        assert_eq!(
            platforms,
            [("linux/amd64", "sha256:c1", 1000), ("linux/arm64", "sha256:c2", 2500)]
        );
        let image = measure(&registry, "a/app", "sha256:c2").await.unwrap().unwrap();
        assert_eq!((image.total, image.platforms.len()), (2500, 0));
    }
}
