//! The conformance suite every [`RegistryClient`] runs: the in-memory registry in unit tests,
//! the HTTP client against the real Distribution registry in the end-to-end tests.
//!
//! Each check takes the client and an [`ImagePusher`] that pushes images into the same
//! registry (the way `docker push` or skopeo would); the
//! [`registry_client_conformance!`](crate::registry_client_conformance) macro turns every check
//! into a named `#[tokio::test]`.

use std::collections::BTreeSet;

use async_trait::async_trait;

use crate::ErrorKind;
use crate::memory::{InMemoryRegistry, image_manifest, index_manifest};
use crate::traits::RegistryClient;

/// Media type of a single-platform OCI image manifest.
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of an OCI image index.
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Pushes images into the registry a client under test reads.
#[async_trait]
pub trait ImagePusher: Send + Sync {
    /// Pushes a single-platform OCI image with one layer made from `content` as
    /// `repository:tag`; returns its manifest digest. The same content gives the same digest.
    async fn push_image(&self, repository: &str, tag: &str, content: &str) -> String;

    /// Pushes an OCI index of two single-platform images (amd64, arm64) as `repository:tag`;
    /// returns the index digest.
    async fn push_index(&self, repository: &str, tag: &str) -> String;
}

/// A made-up `sha256:` digest of `content` (64 hex digits from FNV-1a; not a real SHA-256,
/// `portus-core` has no hash crate): equal content, equal digest.
pub fn fake_digest(content: &str) -> String {
    let mut hex = String::with_capacity(71);
    hex.push_str("sha256:");
    for seed in 0..4u64 {
        let mut hash = 0xcbf2_9ce4_8422_2325u64 ^ seed;
        for byte in content.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        hex.push_str(&format!("{hash:016x}"));
    }
    hex
}

#[async_trait]
impl ImagePusher for InMemoryRegistry {
    async fn push_image(&self, repository: &str, tag: &str, content: &str) -> String {
        let digest = fake_digest(&format!("manifest of {content}"));
        let mut manifest = image_manifest(&digest, &[&fake_digest(&format!("layer of {content}"))]);
        manifest.record.size = Some(content.len() as u64 + 512);
        self.push(repository, tag, manifest);
        digest
    }

    async fn push_index(&self, repository: &str, tag: &str) -> String {
        let mut children = Vec::new();
        for arch in ["amd64", "arm64"] {
            let content = format!("hello from {arch}\n");
            let digest = fake_digest(&format!("manifest of {content}"));
            let mut child = image_manifest(&digest, &[&fake_digest(&format!("layer of {content}"))]);
            child.record.size = Some(content.len() as u64 + 512);
            self.push_manifest(repository, child);
            children.push(digest);
        }
        let children: Vec<&str> = children.iter().map(String::as_str).collect();
        let digest = fake_digest(&format!("index of {}", children.join(",")));
        let mut index = index_manifest(&digest, &children);
        index.record.size = Some(1000);
        self.push(repository, tag, index);
        digest
    }
}

fn sorted(items: Vec<String>) -> Vec<String> {
    let set: BTreeSet<String> = items.into_iter().collect();
    set.into_iter().collect()
}

/// The catalog of an empty registry is empty; after pushes it lists every pushed repository
/// (in a namespace or global), each once.
pub async fn catalog_lists_pushed_repositories(client: &dyn RegistryClient, pusher: &dyn ImagePusher) {
    assert!(client.catalog().await.unwrap().is_empty(), "a fresh registry is empty");
    pusher.push_image("alice/app", "1.0", "a").await;
    pusher.push_image("alice/app", "2.0", "b").await;
    pusher.push_image("bob/tool", "latest", "c").await;
    pusher.push_image("library", "1", "d").await;
    let catalog = client.catalog().await.unwrap();
    assert_eq!(catalog.len(), 3, "each repository once: {catalog:?}");
    assert_eq!(sorted(catalog), ["alice/app", "bob/tool", "library"]);
}

/// A repository's tags are listed, each once, whether they share a manifest or not.
pub async fn tags_are_listed_per_repository(client: &dyn RegistryClient, pusher: &dyn ImagePusher) {
    pusher.push_image("alice/app", "1.0", "a").await;
    pusher.push_image("alice/app", "latest", "a").await;
    pusher.push_image("alice/app", "2.0", "b").await;
    pusher.push_image("alice/other", "x", "c").await;
    let tags = client.tags("alice/app").await.unwrap();
    assert_eq!(tags.len(), 3, "{tags:?}");
    assert_eq!(sorted(tags), ["1.0", "2.0", "latest"]);
    assert_eq!(client.tags("alice/other").await.unwrap(), ["x"]);
}

/// A pushed image's manifest, by tag and by digest: its digest, the OCI media type, one
/// layer, no children and a size; `head_manifest` agrees on digest and media type.
pub async fn manifest_reports_digest_media_type_and_layers(client: &dyn RegistryClient, pusher: &dyn ImagePusher) {
    let digest = pusher.push_image("alice/app", "1.0", "hello").await;
    let by_tag = client.manifest("alice/app", "1.0").await.unwrap();
    assert_eq!(by_tag.record.digest, digest);
    assert_eq!(by_tag.record.media_type, OCI_MANIFEST);
    assert!(by_tag.record.size.is_some_and(|s| s > 0), "{by_tag:?}");
    assert_eq!(by_tag.layers.len(), 1, "{by_tag:?}");
    assert!(by_tag.layers[0].starts_with("sha256:"), "{by_tag:?}");
    assert!(by_tag.children.is_empty());
    let by_digest = client.manifest("alice/app", &digest).await.unwrap();
    assert_eq!(by_digest, by_tag, "a digest reference reads the same manifest");
    let head = client.head_manifest("alice/app", "1.0").await.unwrap();
    assert_eq!((head.digest, head.media_type), (digest, OCI_MANIFEST.to_owned()));
    let other = pusher.push_image("alice/app", "2.0", "other content").await;
    assert_ne!(other, by_tag.record.digest, "different content, different digest");
}

/// An index lists its platform manifests as children (no layers of its own); each child is
/// readable by digest as an image with its layer.
pub async fn index_lists_its_children(client: &dyn RegistryClient, pusher: &dyn ImagePusher) {
    let digest = pusher.push_index("alice/multi", "1.0").await;
    let index = client.manifest("alice/multi", "1.0").await.unwrap();
    assert_eq!(index.record.digest, digest);
    assert_eq!(index.record.media_type, OCI_INDEX);
    assert!(index.layers.is_empty(), "{index:?}");
    assert_eq!(index.children.len(), 2, "{index:?}");
    for child in &index.children {
        let image = client.manifest("alice/multi", child).await.unwrap();
        assert_eq!(&image.record.digest, child);
        assert_eq!(image.layers.len(), 1, "{image:?}");
        assert!(image.children.is_empty());
    }
    assert_eq!(
        client.tags("alice/multi").await.unwrap(),
        ["1.0"],
        "children are not tags"
    );
}

/// Pushing a tag again moves it to the new manifest; the old manifest stays readable by digest.
pub async fn pushing_a_tag_again_moves_it(client: &dyn RegistryClient, pusher: &dyn ImagePusher) {
    let first = pusher.push_image("alice/app", "latest", "one").await;
    let second = pusher.push_image("alice/app", "latest", "two").await;
    assert_ne!(first, second);
    assert_eq!(
        client.manifest("alice/app", "latest").await.unwrap().record.digest,
        second
    );
    assert_eq!(client.manifest("alice/app", &first).await.unwrap().record.digest, first);
    assert_eq!(client.tags("alice/app").await.unwrap(), ["latest"]);
}

/// Deleting a manifest by digest removes every tag pointing at it, and only those; the
/// manifest is gone by tag and by digest.
pub async fn deleting_by_digest_removes_every_tag_pointing_at_it(
    client: &dyn RegistryClient,
    pusher: &dyn ImagePusher,
) {
    let shared = pusher.push_image("alice/app", "1.0", "shared").await;
    pusher.push_image("alice/app", "latest", "shared").await;
    let kept = pusher.push_image("alice/app", "2.0", "kept").await;
    client.delete_manifest("alice/app", &shared).await.unwrap();
    assert_eq!(client.tags("alice/app").await.unwrap(), ["2.0"]);
    for reference in ["1.0", "latest", shared.as_str()] {
        let error = client.manifest("alice/app", reference).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound, "{reference}: {error:?}");
    }
    assert_eq!(client.manifest("alice/app", "2.0").await.unwrap().record.digest, kept);
    assert!(
        client.catalog().await.unwrap().contains(&"alice/app".to_owned()),
        "the repository stays in the catalog"
    );
}

/// Deleting one tag either removes that tag alone, keeping its manifest and the tags sharing
/// it (Distribution 3), or answers `false` and changes nothing (2.8).
pub async fn deleting_a_tag_removes_it_alone_or_nothing(client: &dyn RegistryClient, pusher: &dyn ImagePusher) {
    let shared = pusher.push_image("alice/app", "1.0", "shared").await;
    pusher.push_image("alice/app", "latest", "shared").await;
    let sorted_tags = || async {
        let mut tags = client.tags("alice/app").await.unwrap();
        tags.sort();
        tags
    };
    if client.delete_tag("alice/app", "1.0").await.unwrap() {
        assert_eq!(sorted_tags().await, ["latest"]);
        for reference in ["latest", shared.as_str()] {
            let manifest = client.manifest("alice/app", reference).await.unwrap();
            assert_eq!(manifest.record.digest, shared, "{reference}");
        }
        let error = client.delete_tag("alice/app", "1.0").await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound, "a deleted tag: {error:?}");
    } else {
        assert_eq!(sorted_tags().await, ["1.0", "latest"], "nothing was deleted");
    }
}

/// A missing repository, tag or digest is `NotFound` (not a temporary failure, which would
/// be retried, nor an empty answer) for every call.
pub async fn missing_things_are_not_found(client: &dyn RegistryClient, pusher: &dyn ImagePusher) {
    let digest = pusher.push_image("alice/app", "1.0", "present").await;
    let unknown = fake_digest("never pushed");
    let not_found = |what: &str, error: crate::Error| {
        assert_eq!(error.kind(), ErrorKind::NotFound, "{what}: {error:?}");
        assert!(!error.is_temporary(), "{what}");
    };
    not_found(
        "tags of a missing repository",
        client.tags("nobody/here").await.unwrap_err(),
    );
    not_found(
        "manifest of a missing tag",
        client.manifest("alice/app", "2.0").await.unwrap_err(),
    );
    not_found(
        "head of a missing tag",
        client.head_manifest("alice/app", "2.0").await.unwrap_err(),
    );
    not_found(
        "manifest of an unknown digest",
        client.manifest("alice/app", &unknown).await.unwrap_err(),
    );
    not_found(
        "manifest in a missing repository",
        client.manifest("nobody/here", &digest).await.unwrap_err(),
    );
    not_found(
        "delete of an unknown digest",
        client.delete_manifest("alice/app", &unknown).await.unwrap_err(),
    );
    assert_eq!(client.tags("alice/app").await.unwrap(), ["1.0"], "nothing was deleted");
}

/// Expands to one `#[tokio::test]` per check; the async expression makes a fresh
/// `(client, pusher)` pair over an empty registry (each can be anything that derefs to a
/// [`RegistryClient`] and an [`ImagePusher`]; the pair lives as long as the test).
///
/// ```ignore
/// portus_core::registry_client_conformance!(async {
///     let registry = std::sync::Arc::new(portus_core::InMemoryRegistry::new());
///     (registry.clone(), registry)
/// });
/// ```
#[macro_export]
macro_rules! registry_client_conformance {
    ($make:expr) => {
        $crate::registry_client_conformance!(@tests $make;
            catalog_lists_pushed_repositories,
            tags_are_listed_per_repository,
            manifest_reports_digest_media_type_and_layers,
            index_lists_its_children,
            pushing_a_tag_again_moves_it,
            deleting_by_digest_removes_every_tag_pointing_at_it,
            deleting_a_tag_removes_it_alone_or_nothing,
            missing_things_are_not_found,
        );
    };
    (@tests $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let (client, pusher) = $make.await;
                $crate::testing::registry_client::$check(&*client, &*pusher).await;
            }
        )*
    };
}
