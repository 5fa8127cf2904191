use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Result;
use crate::model::{Artifact, ImageSizes, Referrer};

/// What is learnt about recorded tags after their push: what the manifest holds, the image's
/// sizes and the pulls the registry reports. A supertrait of
/// [`CatalogStore`](super::CatalogStore), so a catalog answers both.
///
/// A role of the [`PolicyStore`](super::PolicyStore); every implementation runs the catalog's
/// conformance suite in `crate::testing`.
#[async_trait]
pub trait TagFactsStore: Send + Sync {
    /// Records what `repository:tag` holds, if it still points at `digest` (a tag that moved
    /// meanwhile is left for the next look); `true` when recorded. A tag that moves to another
    /// manifest loses it.
    async fn record_artifact(&self, repository: &str, tag: &str, digest: &str, artifact: &Artifact) -> Result<bool>;
    /// Records a manifest pushed by digest that refers to another one (its artifact's
    /// `subject`), in an existing repository; `true` when new. A signature referrer makes the
    /// repository's tags of the subject `signed`.
    async fn put_referrer(&self, referrer: &Referrer) -> Result<bool>;
    /// Records the sizes of the image `digest` names, as computed from the registry's own
    /// manifests ([`ManifestInfo::sizes`](crate::traits::ManifestInfo::sizes)), on every tag
    /// pointing at it: the total as `image_size` and, for an index, each platform's. Replaces
    /// what they had (a manifest's content never changes, the registry is the reference);
    /// returns how many tags got them. A tag that moves to another image loses them.
    async fn record_image_sizes(&self, digest: &str, sizes: &ImageSizes) -> Result<u64>;
    /// Records a pull of `repository:tag` that the registry reported at `at`: the pull count
    /// goes up by one and `pulled_at` becomes `at` unless a later pull is recorded already
    /// (events may be applied late). `false` when there is no such tag.
    async fn record_pull(&self, repository: &str, tag: &str, at: DateTime<Utc>) -> Result<bool>;
}

macro_rules! forward {
    ($wrapper:ty) => {
        #[async_trait]
        impl<T: TagFactsStore + ?Sized> TagFactsStore for $wrapper {
            async fn record_artifact(
                &self,
                repository: &str,
                tag: &str,
                digest: &str,
                artifact: &Artifact,
            ) -> Result<bool> {
                (**self).record_artifact(repository, tag, digest, artifact).await
            }
            async fn put_referrer(&self, referrer: &Referrer) -> Result<bool> {
                (**self).put_referrer(referrer).await
            }
            async fn record_image_sizes(&self, digest: &str, sizes: &ImageSizes) -> Result<u64> {
                (**self).record_image_sizes(digest, sizes).await
            }
            async fn record_pull(&self, repository: &str, tag: &str, at: DateTime<Utc>) -> Result<bool> {
                (**self).record_pull(repository, tag, at).await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
