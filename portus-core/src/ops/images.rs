//! Deleting images: in the registry first, then in the store, with one activity per tag
//! deleted (and one for a deleted repository): a deletion can take several tags at once.
//!
//! Distribution 2.8 deletes manifests, not tags: every tag of the repository that points at the
//! same manifest goes with it. [`delete_tag`] therefore refuses unless the caller agreed to
//! lose those sibling tags too, instead of deleting them silently as Portus did. Distribution 3
//! deletes a tag alone: there the siblings stay, and only the tag asked for goes.

use super::record;
use crate::model::{ActivityAction, Repository, TagRecord};
use crate::traits::{ActivityStore, CatalogStore, CatalogStoreExt, RegistryClient};
use crate::{Error, Result};

/// Deletes `repository:tag` (and, with `with_siblings`, the other tags sharing its manifest).
/// Returns the deleted tags. `NotFound` if the tag is unknown; `Conflict` naming the sibling
/// tags when there are some and `with_siblings` is false.
///
/// A tag that is its manifest's last deletes the manifest (the image is gone from the
/// registry). A tag with siblings is deleted alone where the registry can
/// ([`RegistryClient::delete_tag`], Distribution 3): the siblings stay whatever
/// `with_siblings` says, and no conflict is raised.
pub async fn delete_tag<S: CatalogStore + ActivityStore + ?Sized>(
    store: &S,
    registry: &dyn RegistryClient,
    repository: &str,
    tag: &str,
    with_siblings: bool,
    actor: Option<&str>,
) -> Result<Vec<TagRecord>> {
    let record = store.require_tag(repository, tag).await?;
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
    if !siblings.is_empty() && registry.delete_tag(repository, tag).await? {
        // The registry's delete notification may already have removed the row.
        store.delete_tag(repository, tag).await?;
        record_deletions(store, std::slice::from_ref(&record), actor).await?;
        return Ok(vec![record]);
    }
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

/// Replaces a repository's description (Markdown; `None` clears it).
pub async fn describe_repository<S: CatalogStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    repository: &Repository,
    description: Option<String>,
) -> Result<()> {
    store.set_repository_description(repository.id, description).await?;
    record(
        store,
        actor,
        ActivityAction::RepositoryUpdate,
        repository.name.clone(),
        None,
    )
    .await
}

/// Deletes every manifest of `repository` in the registry, then the repository in the store.
/// Stops at the first registry failure, leaving the store describing what is still there.
pub async fn delete_repository<S: CatalogStore + ActivityStore + ?Sized>(
    store: &S,
    registry: &dyn RegistryClient,
    repository: &str,
    actor: Option<&str>,
) -> Result<Vec<TagRecord>> {
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
    record(store, actor, ActivityAction::RepositoryDelete, repository, None).await?;
    Ok(tags)
}

async fn record_deletions<S: ActivityStore + ?Sized>(
    store: &S,
    deleted: &[TagRecord],
    actor: Option<&str>,
) -> Result<()> {
    for tag in deleted {
        let target = format!("{}:{}", tag.repository, tag.name);
        record(
            store,
            actor,
            ActivityAction::TagDelete,
            target,
            Some(tag.manifest.digest.clone()),
        )
        .await?;
    }
    Ok(())
}
