//! The `RegistryClient` conformance suite (`portus_core::testing::registry_client`) for the
//! HTTP client against the real Distribution registries (2.8, and 3 in `v3`): the same checks
//! the in-memory registry passes, with images pushed by skopeo.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use portus::core::testing::ImagePusher;
use portus::scan::registry::{ClientOptions, HttpRegistryClient, TokenMinter};
use tempfile::TempDir;

use crate::harness::{Creds, Flavour, Registry, oci_index_layout, oci_layout, skopeo_copy_with, skopeo_digest};

/// A registry of its own (no authentication: the checks are about the API, not tokens) and
/// skopeo to push into it.
struct SkopeoPusher {
    registry: Registry,
    tmp: TempDir,
    layouts: AtomicUsize,
}

impl SkopeoPusher {
    /// Pushes the OCI layout `layout` (tag `tag` in it) to `repository:tag`; returns the digest
    /// the registry holds.
    async fn push(
        &self,
        extra: &'static [&'static str],
        layout: std::path::PathBuf,
        tag: &str,
        target: String,
    ) -> String {
        let source = format!("oci:{}:{tag}", layout.display());
        tokio::task::spawn_blocking(move || {
            let output = skopeo_copy_with(extra, &source, Creds::Anonymous, &target, Creds::Anonymous);
            assert!(
                output.status.success(),
                "skopeo copy {source} {target}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            skopeo_digest(&target, Creds::Anonymous)
        })
        .await
        .unwrap()
    }

    fn layout_dir(&self) -> std::path::PathBuf {
        let n = self.layouts.fetch_add(1, Ordering::SeqCst);
        self.tmp.path().join(format!("layout-{n}"))
    }

    fn target(&self, repository: &str, tag: &str) -> String {
        format!("docker://{}/{repository}:{tag}", self.registry.addr)
    }
}

#[async_trait]
impl ImagePusher for SkopeoPusher {
    async fn push_image(&self, repository: &str, tag: &str, content: &str) -> String {
        let layout = self.layout_dir();
        oci_layout(&layout, "1", content);
        self.push(&[], layout, "1", self.target(repository, tag)).await
    }

    async fn push_index(&self, repository: &str, tag: &str) -> String {
        let layout = self.layout_dir();
        oci_index_layout(&layout, "1.0");
        self.push(&["--all"], layout, "1.0", self.target(repository, tag)).await
    }
}

/// A fresh registry, the HTTP client for it and the pusher that owns the registry process.
async fn real_registry(flavour: Flavour) -> (Arc<HttpRegistryClient>, Arc<SkopeoPusher>) {
    let tmp = tempfile::tempdir().unwrap();
    let registry = Registry::start_flavour(tmp.path(), "", flavour);
    let tokens: TokenMinter = Arc::new(|_: &[String]| Ok("unused-without-auth".to_owned()));
    let options = ClientOptions {
        // A small page size, so that listings cross pages as large registries do.
        page_size: 2,
        ..ClientOptions::default()
    };
    let base = format!("http://{}/", registry.addr).parse().unwrap();
    let client = HttpRegistryClient::new(base, tokens, options).unwrap();
    let pusher = SkopeoPusher {
        registry,
        tmp,
        layouts: AtomicUsize::new(0),
    };
    (Arc::new(client), Arc::new(pusher))
}

portus::core::registry_client_conformance!(real_registry(Flavour::V2_8));

/// The same checks against Distribution 3.
mod v3 {
    use super::{Flavour, real_registry};

    portus::core::registry_client_conformance!(real_registry(Flavour::V3));
}
