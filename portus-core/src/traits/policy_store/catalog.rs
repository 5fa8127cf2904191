use std::sync::Arc;

use async_trait::async_trait;

use crate::Result;

use crate::model::{
    ListPage, ListQuery, ManifestRecord, MissingNamespace, Repository, RepositoryFilter, RepositoryId,
    RepositoryListing, RepositorySort, SearchHits, TagChange, TagFilter, TagId, TagRecord, TagSort, UserId,
};

/// Repositories, tags and stars: what the registry holds, as notifications and syncs report it.
/// What is learnt about a tag afterwards (what it holds, its sizes, its pulls) is recorded
/// through its supertrait [`TagFactsStore`](super::TagFactsStore).
///
/// A role of the [`PolicyStore`](super::PolicyStore); every implementation runs the role's
/// conformance suite in `crate::testing`.
#[async_trait]
pub trait CatalogStore: super::TagFactsStore + Send + Sync {
    /// Records that `repository:tag` points at `manifest`, creating the repository and, per
    /// `missing`, its namespace (private, no team: administrators only).
    async fn put_tag<'a>(
        &self,
        repository: &str,
        tag: &str,
        manifest: &ManifestRecord,
        pushed_by: Option<&'a str>,
        missing: MissingNamespace,
    ) -> Result<TagChange>;
    /// Records that a repository exists (a push by digest). Returns `false` when its namespace
    /// is missing and `missing` says to ignore it.
    async fn ensure_repository(&self, repository: &str, missing: MissingNamespace) -> Result<bool>;
    /// One tag.
    async fn tag(&self, repository: &str, tag: &str) -> Result<Option<TagRecord>>;
    /// One tag by id.
    async fn tag_by_id(&self, id: TagId) -> Result<Option<TagRecord>>;
    /// All tags of one repository, or of all repositories; ordered by repository and name.
    async fn tags<'a>(&self, repository: Option<&'a str>) -> Result<Vec<TagRecord>>;
    /// All repository names, ordered.
    async fn repositories(&self) -> Result<Vec<String>>;
    /// All repositories with their star counts, ordered by name.
    async fn list_repositories(&self) -> Result<Vec<Repository>>;
    /// One repository by id.
    async fn repository_by_id(&self, id: RepositoryId) -> Result<Option<Repository>>;
    /// One ordered slice of the repositories `filter` selects, with their kept figures
    /// ([`RepositorySummary`](crate::model::RepositorySummary)), and how many it selects.
    async fn repositories_page(
        &self,
        filter: &RepositoryFilter,
        query: &ListQuery<RepositorySort>,
    ) -> Result<ListPage<RepositoryListing>>;
    /// One ordered slice of the tags `filter` selects, and how many it selects.
    async fn tags_page(&self, filter: &TagFilter, query: &ListQuery<TagSort>) -> Result<ListPage<TagRecord>>;
    /// Namespaces, repositories and tags whose names contain `text` (case-insensitive), at
    /// most `limit` of each, ordered by name. The caller filters by visibility.
    /// [`search_by_listing`](super::search_by_listing) answers it from the full lists.
    async fn search_names(&self, text: &str, limit: usize) -> Result<SearchHits>;
    /// Stars or unstars a repository for a user (idempotent).
    async fn set_star(&self, user: UserId, repository: RepositoryId, starred: bool) -> Result<()>;
    /// The repositories a user starred.
    async fn starred(&self, user: UserId) -> Result<Vec<RepositoryId>>;
    /// Replaces a repository's description; `NotFound` if it does not exist.
    async fn set_repository_description(&self, id: RepositoryId, description: Option<String>) -> Result<()>;
    /// Deletes one tag; returns it if it existed.
    async fn delete_tag(&self, repository: &str, tag: &str) -> Result<Option<TagRecord>>;
    /// Deletes every tag of `repository` pointing at `digest`; returns them.
    async fn delete_tags_by_digest(&self, repository: &str, digest: &str) -> Result<Vec<TagRecord>>;
    /// Deletes a repository and its tags; returns the deleted tags.
    async fn delete_repository(&self, repository: &str) -> Result<Vec<TagRecord>>;
}

macro_rules! forward {
    ($wrapper:ty) => {
        #[async_trait]
        impl<T: CatalogStore + ?Sized> CatalogStore for $wrapper {
            async fn put_tag<'a>(
                &self,
                repository: &str,
                tag: &str,
                manifest: &ManifestRecord,
                pushed_by: Option<&'a str>,
                missing: MissingNamespace,
            ) -> Result<TagChange> {
                (**self)
                    .put_tag(repository, tag, manifest, pushed_by, missing)
                    .await
            }
            async fn ensure_repository(&self, repository: &str, missing: MissingNamespace) -> Result<bool> {
                (**self).ensure_repository(repository, missing).await
            }
            async fn tag(&self, repository: &str, tag: &str) -> Result<Option<TagRecord>> {
                (**self).tag(repository, tag).await
            }
            async fn tag_by_id(&self, id: TagId) -> Result<Option<TagRecord>> {
                (**self).tag_by_id(id).await
            }
            async fn tags<'a>(&self, repository: Option<&'a str>) -> Result<Vec<TagRecord>> {
                (**self).tags(repository).await
            }
            async fn repositories(&self) -> Result<Vec<String>> {
                (**self).repositories().await
            }
            async fn list_repositories(&self) -> Result<Vec<Repository>> {
                (**self).list_repositories().await
            }
            async fn repository_by_id(&self, id: RepositoryId) -> Result<Option<Repository>> {
                (**self).repository_by_id(id).await
            }
            async fn repositories_page(
                &self,
                filter: &RepositoryFilter,
                query: &ListQuery<RepositorySort>,
            ) -> Result<ListPage<RepositoryListing>> {
                (**self).repositories_page(filter, query).await
            }
            async fn tags_page(&self, filter: &TagFilter, query: &ListQuery<TagSort>) -> Result<ListPage<TagRecord>> {
                (**self).tags_page(filter, query).await
            }
            async fn search_names(&self, text: &str, limit: usize) -> Result<SearchHits> {
                (**self).search_names(text, limit).await
            }
            async fn set_star(&self, user: UserId, repository: RepositoryId, starred: bool) -> Result<()> {
                (**self).set_star(user, repository, starred).await
            }
            async fn starred(&self, user: UserId) -> Result<Vec<RepositoryId>> {
                (**self).starred(user).await
            }
            async fn set_repository_description(&self, id: RepositoryId, description: Option<String>) -> Result<()> {
                (**self).set_repository_description(id, description).await
            }
            async fn delete_tag(&self, repository: &str, tag: &str) -> Result<Option<TagRecord>> {
                (**self).delete_tag(repository, tag).await
            }
            async fn delete_tags_by_digest(&self, repository: &str, digest: &str) -> Result<Vec<TagRecord>> {
                (**self).delete_tags_by_digest(repository, digest).await
            }
            async fn delete_repository(&self, repository: &str) -> Result<Vec<TagRecord>> {
                (**self).delete_repository(repository).await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
