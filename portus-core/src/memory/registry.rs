//! An in-memory [`RegistryClient`]: repositories, tags and manifests kept in a map, with the
//! knobs tests need (an outage, a failing repository, a log of calls).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::model::{ManifestFacts, ManifestRecord};
use crate::traits::{ManifestInfo, RegistryClient};
use crate::{Error, Result};

/// Media type of the single-platform images [`image_manifest`] builds.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of the indexes [`index_manifest`] builds.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A single-platform OCI image manifest with the given digest and layers (base first).
pub fn image_manifest(digest: &str, layers: &[&str]) -> ManifestInfo {
    ManifestInfo {
        record: ManifestRecord {
            digest: digest.to_owned(),
            media_type: OCI_MANIFEST.to_owned(),
            size: None,
        },
        layers: layers.iter().map(|l| (*l).to_owned()).collect(),
        children: Vec::new(),
        facts: ManifestFacts {
            media_type: OCI_MANIFEST.to_owned(),
            config_media_type: Some("application/vnd.oci.image.config.v1+json".to_owned()),
            layer_media_types: layers
                .iter()
                .map(|_| "application/vnd.oci.image.layer.v1.tar+gzip".to_owned())
                .collect(),
            ..ManifestFacts::default()
        },
        platforms: Vec::new(),
    }
}

/// An OCI image index with the given digest over the given child manifests.
pub fn index_manifest(digest: &str, children: &[&str]) -> ManifestInfo {
    ManifestInfo {
        record: ManifestRecord {
            digest: digest.to_owned(),
            media_type: OCI_INDEX.to_owned(),
            size: None,
        },
        layers: Vec::new(),
        children: children.iter().map(|c| (*c).to_owned()).collect(),
        facts: ManifestFacts {
            media_type: OCI_INDEX.to_owned(),
            child_artifact_types: children.iter().map(|_| None).collect(),
            ..ManifestFacts::default()
        },
        platforms: children.iter().map(|_| String::new()).collect(),
    }
}

/// One call an [`InMemoryRegistry`] answered (or refused), in the order they came.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryCall {
    /// [`RegistryClient::catalog`].
    Catalog,
    /// [`RegistryClient::tags`] of a repository.
    Tags(String),
    /// [`RegistryClient::head_manifest`]: repository and reference.
    HeadManifest(String, String),
    /// [`RegistryClient::manifest`]: repository and reference.
    Manifest(String, String),
    /// [`RegistryClient::delete_manifest`]: repository and digest.
    DeleteManifest(String, String),
    /// [`RegistryClient::delete_tag`]: repository and tag.
    DeleteTag(String, String),
}

impl RegistryCall {
    /// The repository the call is about (`None` for the catalog).
    pub fn repository(&self) -> Option<&str> {
        match self {
            RegistryCall::Catalog => None,
            RegistryCall::Tags(repository)
            | RegistryCall::HeadManifest(repository, _)
            | RegistryCall::Manifest(repository, _)
            | RegistryCall::DeleteManifest(repository, _)
            | RegistryCall::DeleteTag(repository, _) => Some(repository),
        }
    }
}

/// A [`RegistryClient`] over repositories kept in memory, for embedding, examples and tests.
///
/// It behaves like a Distribution registry with deletion enabled: a tag points at a manifest,
/// deleting a manifest by digest removes every tag pointing at it (the repository stays in the
/// catalog), a manifest that lost its tags stays readable by digest, and anything missing is
/// [`Error::NotFound`]. It cannot delete tags alone, as 2.8, unless
/// [`InMemoryRegistry::set_tag_deletion`] makes it behave as Distribution 3. The same checks run against it and against the real registry
/// (`portus_core::registry_client_conformance!`).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use portus_core::memory::{InMemoryRegistry, image_manifest};
/// use portus_core::RegistryClient;
///
/// let registry = InMemoryRegistry::new();
/// registry.push("alice/app", "1.0", image_manifest("sha256:aa", &["sha256:layer"]));
/// assert_eq!(registry.tags("alice/app").await.unwrap(), ["1.0"]);
/// registry.set_unavailable(true);
/// assert!(registry.catalog().await.unwrap_err().is_temporary());
/// # });
/// ```
#[derive(Debug, Default)]
pub struct InMemoryRegistry {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    repositories: BTreeMap<String, Repository>,
    unavailable: bool,
    tag_deletion: bool,
    failing: BTreeSet<String>,
    calls: Vec<RegistryCall>,
    deleted: Vec<(String, String)>,
}

#[derive(Debug, Default)]
struct Repository {
    /// Tag -> manifest digest.
    tags: BTreeMap<String, String>,
    /// Digest -> manifest.
    manifests: BTreeMap<String, ManifestInfo>,
}

fn outage() -> Error {
    Error::Unavailable {
        what: "registry",
        source: "made unavailable by the test".into(),
    }
}

impl InMemoryRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every method changes the state in one step after its checks, so a panic elsewhere
        // cannot leave it half-changed.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Stores `manifest` in `repository` (creating the repository) and points `tag` at it, as
    /// a push does; a tag that pointed elsewhere moves.
    pub fn push(&self, repository: &str, tag: &str, manifest: ManifestInfo) {
        let digest = manifest.record.digest.clone();
        self.push_manifest(repository, manifest);
        let mut state = self.lock();
        let repo = state.repositories.entry(repository.to_owned()).or_default();
        repo.tags.insert(tag.to_owned(), digest);
    }

    /// Stores `manifest` in `repository` without a tag (the platforms of an index are pushed
    /// this way).
    pub fn push_manifest(&self, repository: &str, manifest: ManifestInfo) {
        let mut state = self.lock();
        let repo = state.repositories.entry(repository.to_owned()).or_default();
        repo.manifests.insert(manifest.record.digest.clone(), manifest);
    }

    /// Shorthand: pushes an [`image_manifest`] of `digest` with `layers` as `repository:tag`.
    pub fn push_image(&self, repository: &str, tag: &str, digest: &str, layers: &[&str]) {
        self.push(repository, tag, image_manifest(digest, layers));
    }

    /// Removes one tag and keeps its manifest (as `DELETE /v2/<name>/manifests/<tag>` of
    /// Distribution 3 does); whether the tag existed.
    pub fn untag(&self, repository: &str, tag: &str) -> bool {
        let mut state = self.lock();
        let repo = state.repositories.get_mut(repository);
        repo.is_some_and(|r| r.tags.remove(tag).is_some())
    }

    /// With `true`, [`RegistryClient::delete_tag`] removes the tag alone (as Distribution 3);
    /// with `false` (the default) it answers `false` and changes nothing (as 2.8).
    pub fn set_tag_deletion(&self, supported: bool) {
        self.lock().tag_deletion = supported;
    }

    /// While `true`, every call fails with a temporary [`Error::Unavailable`], as a registry
    /// that is down.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.lock().unavailable = unavailable;
    }

    /// While `failing`, every call about `repository` fails with a temporary
    /// [`Error::Unavailable`] (one broken repository among healthy ones).
    pub fn set_repository_failing(&self, repository: &str, failing: bool) {
        let mut state = self.lock();
        if failing {
            state.failing.insert(repository.to_owned());
        } else {
            state.failing.remove(repository);
        }
    }

    /// Every call so far, answered or refused, oldest first.
    pub fn calls(&self) -> Vec<RegistryCall> {
        self.lock().calls.clone()
    }

    /// The manifests deleted so far, as (repository, digest), oldest first.
    pub fn deleted(&self) -> Vec<(String, String)> {
        self.lock().deleted.clone()
    }

    /// Records `call` and refuses it when the registry or its repository is made to fail.
    fn begin(&self, call: RegistryCall) -> Result<MutexGuard<'_, State>> {
        let mut state = self.lock();
        let refused = state.unavailable || call.repository().is_some_and(|r| state.failing.contains(r));
        state.calls.push(call);
        if refused { Err(outage()) } else { Ok(state) }
    }
}

impl State {
    fn repository(&self, name: &str) -> Result<&Repository> {
        self.repositories
            .get(name)
            .ok_or_else(|| Error::not_found("repository", name))
    }

    /// The manifest `reference` (a tag or a digest) points at.
    fn resolve(&self, repository: &str, reference: &str) -> Result<&ManifestInfo> {
        let repo = self.repository(repository)?;
        let digest = repo.tags.get(reference).map(String::as_str).unwrap_or(reference);
        repo.manifests
            .get(digest)
            .ok_or_else(|| Error::not_found("manifest", format!("{repository}:{reference}")))
    }
}

#[async_trait]
impl RegistryClient for InMemoryRegistry {
    async fn catalog(&self) -> Result<Vec<String>> {
        let state = self.begin(RegistryCall::Catalog)?;
        Ok(state.repositories.keys().cloned().collect())
    }

    async fn tags(&self, repository: &str) -> Result<Vec<String>> {
        let state = self.begin(RegistryCall::Tags(repository.to_owned()))?;
        Ok(state.repository(repository)?.tags.keys().cloned().collect())
    }

    async fn head_manifest(&self, repository: &str, reference: &str) -> Result<ManifestRecord> {
        let state = self.begin(RegistryCall::HeadManifest(repository.to_owned(), reference.to_owned()))?;
        let record = &state.resolve(repository, reference)?.record;
        // A HEAD request has no body to sum sizes from, as over HTTP.
        Ok(ManifestRecord {
            size: None,
            ..record.clone()
        })
    }

    async fn manifest(&self, repository: &str, reference: &str) -> Result<ManifestInfo> {
        let state = self.begin(RegistryCall::Manifest(repository.to_owned(), reference.to_owned()))?;
        Ok(state.resolve(repository, reference)?.clone())
    }

    async fn delete_manifest(&self, repository: &str, digest: &str) -> Result<()> {
        let mut state = self.begin(RegistryCall::DeleteManifest(repository.to_owned(), digest.to_owned()))?;
        let repo = state
            .repositories
            .get_mut(repository)
            .ok_or_else(|| Error::not_found("repository", repository))?;
        if repo.manifests.remove(digest).is_none() {
            return Err(Error::not_found("manifest", format!("{repository}@{digest}")));
        }
        repo.tags.retain(|_, target| target != digest);
        state.deleted.push((repository.to_owned(), digest.to_owned()));
        Ok(())
    }

    async fn delete_tag(&self, repository: &str, tag: &str) -> Result<bool> {
        let mut state = self.begin(RegistryCall::DeleteTag(repository.to_owned(), tag.to_owned()))?;
        if !state.tag_deletion {
            return Ok(false);
        }
        let repo = state
            .repositories
            .get_mut(repository)
            .ok_or_else(|| Error::not_found("repository", repository))?;
        if repo.tags.remove(tag).is_none() {
            return Err(Error::not_found("tag", format!("{repository}:{tag}")));
        }
        Ok(true)
    }
}

#[cfg(all(test, feature = "testing"))]
mod conformance {
    use std::sync::Arc;

    use super::InMemoryRegistry;

    crate::registry_client_conformance!(async {
        let registry = Arc::new(InMemoryRegistry::new());
        (registry.clone(), registry)
    });

    /// As Distribution 3, deleting tags alone.
    mod with_tag_deletion {
        use std::sync::Arc;

        use super::InMemoryRegistry;

        crate::registry_client_conformance!(async {
            let registry = Arc::new(InMemoryRegistry::new());
            registry.set_tag_deletion(true);
            (registry.clone(), registry)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn knobs_fail_calls_and_record_them() {
        let registry = InMemoryRegistry::new();
        registry.push_image("a/x", "1", "sha256:one", &["sha256:layer"]);
        registry.push_image("b/y", "1", "sha256:two", &[]);
        registry.set_repository_failing("b/y", true);
        assert!(registry.tags("b/y").await.unwrap_err().is_temporary());
        assert_eq!(registry.tags("a/x").await.unwrap(), ["1"], "other repositories answer");
        registry.set_repository_failing("b/y", false);
        assert!(registry.untag("a/x", "1"));
        assert!(registry.tags("a/x").await.unwrap().is_empty());
        assert_eq!(
            registry.manifest("a/x", "sha256:one").await.unwrap().layers,
            ["sha256:layer"],
            "untagged manifests stay readable"
        );
        registry.set_unavailable(true);
        assert!(registry.catalog().await.unwrap_err().is_temporary());
        assert!(registry.delete_manifest("a/x", "sha256:one").await.is_err());
        registry.set_unavailable(false);
        registry.delete_manifest("a/x", "sha256:one").await.unwrap();
        assert_eq!(registry.deleted(), [("a/x".to_owned(), "sha256:one".to_owned())]);
        assert_eq!(registry.calls().len(), 7, "refused calls are recorded too");
        assert_eq!(registry.calls()[0], RegistryCall::Tags("b/y".into()));
    }
}
