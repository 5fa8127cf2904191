//! Deleting images: in the registry first, then in the store, with an activity per tag. The
//! CLI and the REST API both go through here.
//!
//! The registry deletes manifests, not tags: every tag of the repository that points at the
//! same manifest goes with it. [`delete_tag`] therefore refuses unless the caller agreed to
//! lose those sibling tags too, instead of deleting them silently as Portus did.

use portus_core::model::{NewActivity, TagRecord};
use portus_core::{Error, PolicyStore, RegistryClient};

/// Deletes `repository:tag` (and, with `with_siblings`, the other tags sharing its manifest).
/// Returns the deleted tags. `NotFound` if the tag is unknown; `Conflict` naming the sibling
/// tags when there are some and `with_siblings` is false.
pub async fn delete_tag(
    store: &dyn PolicyStore,
    registry: &dyn RegistryClient,
    repository: &str,
    tag: &str,
    with_siblings: bool,
    actor: Option<&str>,
) -> Result<Vec<TagRecord>, Error> {
    let record = store
        .tag(repository, tag)
        .await?
        .ok_or_else(|| Error::not_found("tag", format!("{repository}:{tag}")))?;
    let doomed: Vec<TagRecord> = store
        .tags(Some(repository))
        .await?
        .into_iter()
        .filter(|t| t.manifest.digest == record.manifest.digest)
        .collect();
    let siblings: Vec<&str> = doomed
        .iter()
        .map(|t| t.name.as_str())
        .filter(|name| *name != tag)
        .collect();
    if !siblings.is_empty() && !with_siblings {
        return Err(Error::Conflict(format!(
            "{repository}:{tag} shares its manifest with {}; the registry would delete those tags too",
            siblings.join(", ")
        )));
    }
    registry.delete_manifest(repository, &record.manifest.digest).await?;
    // The registry's delete notification may already have removed them from the store: what
    // was deleted is what pointed at the manifest before, whoever removes the rows.
    store.delete_tags_by_digest(repository, &record.manifest.digest).await?;
    record_deletions(store, &doomed, actor).await?;
    Ok(doomed)
}

/// Deletes every manifest of `repository` in the registry, then the repository in the store.
/// Stops at the first registry failure, leaving the store describing what is still there.
pub async fn delete_repository(
    store: &dyn PolicyStore,
    registry: &dyn RegistryClient,
    repository: &str,
    actor: Option<&str>,
) -> Result<Vec<TagRecord>, Error> {
    let tags = store.tags(Some(repository)).await?;
    let mut digests: Vec<&str> = tags.iter().map(|t| t.manifest.digest.as_str()).collect();
    digests.sort_unstable();
    digests.dedup();
    for digest in digests {
        registry.delete_manifest(repository, digest).await?;
        store.delete_tags_by_digest(repository, digest).await?;
        let deleted: Vec<TagRecord> = tags.iter().filter(|t| t.manifest.digest == digest).cloned().collect();
        record_deletions(store, &deleted, actor).await?;
    }
    store.delete_repository(repository).await?;
    store
        .record_activity(NewActivity::new(actor, "repository.delete", repository))
        .await?;
    Ok(tags)
}

async fn record_deletions(store: &dyn PolicyStore, deleted: &[TagRecord], actor: Option<&str>) -> Result<(), Error> {
    for tag in deleted {
        let activity = NewActivity::new(actor, "tag.delete", format!("{}:{}", tag.repository, tag.name))
            .with_details(tag.manifest.digest.clone());
        store.record_activity(activity).await?;
    }
    Ok(())
}
