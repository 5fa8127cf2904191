use async_trait::async_trait;

use chrono::{DateTime, Utc};

use crate::model::{
    Artifact, ArtifactKind, ImageSizes, ListPage, ListQuery, ManifestRecord, MissingNamespace, Referrer, Repository,
    RepositoryFilter, RepositoryId, RepositoryListing, RepositorySort, RepositorySummary, SearchHits, TagChange,
    TagFilter, TagId, TagRecord, TagSort, UserId,
};
use crate::{Error, Result};

use super::InMemoryStore;

#[async_trait]
impl crate::traits::CatalogStore for InMemoryStore {
    async fn put_tag<'a>(
        &self,
        repository: &str,
        tag: &str,
        manifest: &ManifestRecord,
        pushed_by: Option<&'a str>,
        missing: MissingNamespace,
    ) -> Result<TagChange> {
        let mut state = self.lock();
        if !state.ensure_repository(repository, missing)? {
            return Ok(TagChange::NamespaceMissing);
        }
        let now = crate::model::now();
        if let Some(existing) = state
            .tags
            .iter_mut()
            .find(|t| t.repository == repository && t.name == tag)
        {
            if existing.manifest.digest == manifest.digest {
                if existing.manifest.size.is_none() {
                    existing.manifest.size = manifest.size;
                }
                if let (None, Some(pusher)) = (&existing.pushed_by, pushed_by) {
                    existing.pushed_by = Some(pusher.to_owned());
                    return Ok(TagChange::PusherRestored);
                }
                return Ok(TagChange::Unchanged);
            }
            let previous_digest = std::mem::replace(&mut existing.manifest, manifest.clone()).digest;
            // Another image now: what was known of the old one no longer holds.
            existing.image_id = None;
            existing.image_size = None;
            existing.artifact = None;
            existing.platform_sizes = Vec::new();
            existing.pushed_by = pushed_by.map(str::to_owned).or(existing.pushed_by.take());
            existing.updated_at = now;
            state.refresh_signed();
            return Ok(TagChange::Updated { previous_digest });
        }
        let id = TagId(state.next_id());
        state.tags.push(TagRecord {
            id,
            repository: repository.to_owned(),
            name: tag.to_owned(),
            manifest: manifest.clone(),
            pushed_by: pushed_by.map(str::to_owned),
            created_at: now,
            updated_at: now,
            image_id: None,
            image_size: None,
            pulled_at: None,
            artifact: None,
            signed: false,
            pull_count: 0,
            platform_sizes: Vec::new(),
        });
        state.refresh_signed();
        Ok(TagChange::Created)
    }
    async fn ensure_repository(&self, repository: &str, missing: MissingNamespace) -> Result<bool> {
        self.lock().ensure_repository(repository, missing)
    }
    async fn tag(&self, repository: &str, tag: &str) -> Result<Option<TagRecord>> {
        Ok(self
            .lock()
            .tags
            .iter()
            .find(|t| t.repository == repository && t.name == tag)
            .cloned())
    }
    async fn tag_by_id(&self, id: TagId) -> Result<Option<TagRecord>> {
        Ok(self.lock().tags.iter().find(|t| t.id == id).cloned())
    }
    async fn tags<'a>(&self, repository: Option<&'a str>) -> Result<Vec<TagRecord>> {
        let mut tags: Vec<TagRecord> = self
            .lock()
            .tags
            .iter()
            .filter(|t| repository.is_none_or(|r| t.repository == r))
            .cloned()
            .collect();
        tags.sort_by(|a, b| (&a.repository, &a.name).cmp(&(&b.repository, &b.name)));
        Ok(tags)
    }
    async fn repositories(&self) -> Result<Vec<String>> {
        let mut repositories: Vec<String> = self.lock().repositories.iter().map(|r| r.name.clone()).collect();
        repositories.sort();
        Ok(repositories)
    }
    async fn list_repositories(&self) -> Result<Vec<Repository>> {
        let state = self.lock();
        let mut repositories: Vec<Repository> = state.repositories.iter().map(|r| state.with_stars(r)).collect();
        repositories.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(repositories)
    }
    async fn repository_by_id(&self, id: RepositoryId) -> Result<Option<Repository>> {
        let state = self.lock();
        Ok(state
            .repositories
            .iter()
            .find(|r| r.id == id)
            .map(|r| state.with_stars(r)))
    }
    async fn repositories_page(
        &self,
        filter: &RepositoryFilter,
        query: &ListQuery<RepositorySort>,
    ) -> Result<ListPage<RepositoryListing>> {
        let state = self.lock();
        // The reference store keeps no figures: it recomputes them, which is what SQL stores'
        // kept figures are checked against.
        let mut summaries = RepositorySummary::recompute(&state.tags, &state.scans, &state.scan_scope);
        let needle = filter.name_contains.as_deref().map(str::to_ascii_lowercase);
        let listings: Vec<RepositoryListing> = state
            .repositories
            .iter()
            .filter(|r| {
                state.namespace_admitted(&filter.visible, r.namespace_id)
                    && filter
                        .namespaces
                        .as_ref()
                        .is_none_or(|ids| ids.contains(&r.namespace_id))
                    && filter.starred_by.is_none_or(|user| state.stars.contains(&(user, r.id)))
                    && needle
                        .as_deref()
                        .is_none_or(|n| r.name.to_ascii_lowercase().contains(n))
            })
            .map(|r| RepositoryListing {
                repository: state.with_stars(r),
                summary: summaries.remove(&r.name).unwrap_or_default(),
            })
            .collect();
        Ok(query.apply(
            listings,
            |l| {
                let (r, s) = (&l.repository, &l.summary);
                match query.sort {
                    RepositorySort::Name => (None, 0, r.name.clone()),
                    RepositorySort::CreatedAt => (Some(r.created_at), 0, String::new()),
                    RepositorySort::Stars => (None, r.stars, String::new()),
                    RepositorySort::Tags => (None, s.tags, String::new()),
                    RepositorySort::LatestPush => (s.latest_push, 0, String::new()),
                    _ => (None, 0, String::new()),
                }
            },
            |l| l.repository.id,
        ))
    }
    async fn tags_page(&self, filter: &TagFilter, query: &ListQuery<TagSort>) -> Result<ListPage<TagRecord>> {
        let state = self.lock();
        let repository_of = |tag: &TagRecord| state.repositories.iter().find(|r| r.name == tag.repository);
        let needle = filter.name_contains.as_deref().map(str::to_lowercase);
        let tags: Vec<(RepositoryId, TagRecord)> = state
            .tags
            .iter()
            .filter_map(|t| repository_of(t).map(|r| (r, t)))
            .filter(|(r, t)| {
                state.namespace_admitted(&filter.visible, r.namespace_id)
                    && filter.repository.is_none_or(|id| r.id == id)
                    && filter
                        .namespaces
                        .as_ref()
                        .is_none_or(|ids| ids.contains(&r.namespace_id))
                    && needle.as_deref().is_none_or(|n| t.name.to_lowercase().contains(n))
            })
            .map(|(r, t)| (r.id, t.clone()))
            .collect();
        let page = query.apply(
            tags,
            |(repository, t)| match query.sort {
                TagSort::Name => (*repository, None, t.name.clone()),
                TagSort::CreatedAt => (RepositoryId(0), Some(t.created_at), String::new()),
                TagSort::UpdatedAt => (RepositoryId(0), Some(t.updated_at), String::new()),
                _ => (RepositoryId(0), None, String::new()),
            },
            |(_, t)| t.id,
        );
        Ok(page.map(|(_, t)| t))
    }
    async fn set_star(&self, user: UserId, repository: RepositoryId, starred: bool) -> Result<()> {
        let mut state = self.lock();
        state.user_mut(user)?;
        if !state.repositories.iter().any(|r| r.id == repository) {
            return Err(Error::not_found("repository", repository.to_string()));
        }
        state.stars.retain(|star| *star != (user, repository));
        if starred {
            state.stars.push((user, repository));
        }
        Ok(())
    }
    async fn starred(&self, user: UserId) -> Result<Vec<RepositoryId>> {
        let mut starred: Vec<RepositoryId> = self
            .lock()
            .stars
            .iter()
            .filter(|(u, _)| *u == user)
            .map(|(_, r)| *r)
            .collect();
        starred.sort();
        Ok(starred)
    }
    async fn delete_tag(&self, repository: &str, tag: &str) -> Result<Option<TagRecord>> {
        let mut state = self.lock();
        let position = state
            .tags
            .iter()
            .position(|t| t.repository == repository && t.name == tag);
        let deleted = position.map(|i| state.tags.remove(i));
        state.refresh_signed();
        Ok(deleted)
    }
    async fn delete_tags_by_digest(&self, repository: &str, digest: &str) -> Result<Vec<TagRecord>> {
        let mut state = self.lock();
        let (deleted, kept) = std::mem::take(&mut state.tags)
            .into_iter()
            .partition(|t| t.repository == repository && t.manifest.digest == digest);
        state.tags = kept;
        state.refresh_signed();
        Ok(deleted)
    }
    async fn delete_repository(&self, repository: &str) -> Result<Vec<TagRecord>> {
        let mut state = self.lock();
        let removed: Vec<RepositoryId> = state
            .repositories
            .iter()
            .filter(|r| r.name == repository)
            .map(|r| r.id)
            .collect();
        state.repositories.retain(|r| r.name != repository);
        state.stars.retain(|(_, r)| !removed.contains(r));
        state.comments.retain(|c| !removed.contains(&c.repository_id));
        let (deleted, kept) = std::mem::take(&mut state.tags)
            .into_iter()
            .partition(|t| t.repository == repository);
        state.tags = kept;
        state.referrers.retain(|r| r.repository != repository);
        state.refresh_signed();
        Ok(deleted)
    }
    async fn set_repository_description(&self, id: RepositoryId, description: Option<String>) -> Result<()> {
        let mut state = self.lock();
        let repository = state
            .repositories
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or_else(|| Error::not_found("repository", id.to_string()))?;
        repository.description = description;
        Ok(())
    }
    async fn search_names(&self, text: &str, limit: usize) -> Result<SearchHits> {
        crate::traits::search_by_listing(self, text, limit).await
    }
}

#[async_trait]
impl crate::traits::TagFactsStore for InMemoryStore {
    async fn record_image_sizes(&self, digest: &str, sizes: &ImageSizes) -> Result<u64> {
        let mut state = self.lock();
        let mut recorded = 0;
        for tag in state.tags.iter_mut().filter(|t| t.manifest.digest == digest) {
            tag.image_size = Some(sizes.total);
            tag.platform_sizes = sizes.platforms.clone();
            recorded += 1;
        }
        Ok(recorded)
    }
    async fn record_pull(&self, repository: &str, tag: &str, at: DateTime<Utc>) -> Result<bool> {
        Ok(self.lock().count_pull(repository, tag, at))
    }
    async fn record_artifact(&self, repository: &str, tag: &str, digest: &str, artifact: &Artifact) -> Result<bool> {
        let mut state = self.lock();
        let Some(found) = state
            .tags
            .iter_mut()
            .find(|t| t.repository == repository && t.name == tag && t.manifest.digest == digest)
        else {
            return Ok(false);
        };
        found.artifact = Some(artifact.clone());
        state.refresh_signed();
        Ok(true)
    }
    async fn put_referrer(&self, referrer: &Referrer) -> Result<bool> {
        let mut state = self.lock();
        if referrer.artifact.subject.is_none() || !state.repositories.iter().any(|r| r.name == referrer.repository) {
            return Ok(false);
        }
        let exists = state
            .referrers
            .iter()
            .any(|r| r.repository == referrer.repository && r.digest == referrer.digest);
        if !exists {
            state.referrers.push(referrer.clone());
            state.refresh_signed();
        }
        Ok(!exists)
    }
}

impl super::State {
    /// Recomputes every tag's `signed`: a signature tag (cosign-style) or a signature referrer
    /// in the same repository has the tag's digest as its subject.
    pub(super) fn refresh_signed(&mut self) {
        let signed: std::collections::HashSet<(String, String)> = self
            .tags
            .iter()
            .filter_map(|t| Some((t.repository.clone(), t.artifact.as_ref()?)))
            .chain(self.referrers.iter().map(|r| (r.repository.clone(), &r.artifact)))
            .filter(|(_, a)| a.kind == ArtifactKind::Signature)
            .filter_map(|(repository, a)| Some((repository, a.subject.clone()?)))
            .collect();
        for tag in &mut self.tags {
            tag.signed = signed.contains(&(tag.repository.clone(), tag.manifest.digest.clone()));
        }
    }
}
