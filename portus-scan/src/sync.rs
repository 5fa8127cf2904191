//! Catalog synchronization: make the store match what the registry holds.
//!
//! [`plan`] lists the registry (catalog, tags, one HEAD per tag, with bounded concurrency) and
//! compares it with the store; [`apply`] carries the plan out. Deletions are planned only when
//! every listing succeeded, and each one is re-checked against the registry right before it is
//! applied, so neither a failing registry nor a push racing the sync loses a tag.
//!
//! Names and tags the registry would never list (outside the distribution grammar, see
//! [`portus_core::reference`]) are skipped with a warning, never recorded; they do not count as
//! gone either, so they cause no deletion.
//!
//! Store roles used: [`plan`] reads the [`CatalogStore`]; [`apply`] writes it and records
//! activities through the [`ActivityStore`], so it takes any store with both roles (a
//! `&dyn PolicyStore` as well as a concrete store).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use futures_util::{StreamExt, stream};
use portus_core::model::{ActivityAction, ManifestRecord, MissingNamespace, NewActivity, TagChange};
use portus_core::prelude::{ActivityStore, CatalogStore};
use portus_core::reference::{validate_repository_name, validate_tag};
use portus_core::traits::ManifestInfo;
use portus_core::{ErrorKind, RegistryClient};
use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::Error;

/// How much a sync may change (Portus' `background.sync.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SyncStrategy {
    /// Add and update, only when the store has no repositories yet.
    Initial,
    /// Add and update; never delete.
    #[default]
    Update,
    /// Add, update and delete what the registry no longer has.
    UpdateDelete,
}

impl FromStr for SyncStrategy {
    type Err = portus_core::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "initial" => Ok(SyncStrategy::Initial),
            "update" => Ok(SyncStrategy::Update),
            "update-delete" => Ok(SyncStrategy::UpdateDelete),
            other => Err(portus_core::Error::Invalid(format!(
                "unknown sync strategy '{other}' (expected initial, update or update-delete)"
            ))),
        }
    }
}

impl fmt::Display for SyncStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SyncStrategy::Initial => "initial",
            SyncStrategy::Update => "update",
            SyncStrategy::UpdateDelete => "update-delete",
        })
    }
}

/// A tag to create or move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTag {
    /// Repository.
    pub repository: String,
    /// Tag.
    pub tag: String,
    /// What the registry says it points at.
    pub manifest: ManifestRecord,
    /// For moves: the digest the store has.
    pub previous_digest: Option<String>,
}

/// What a sync would change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncPlan {
    /// Repositories the registry has and the store does not (possibly without tags).
    pub new_repositories: Vec<String>,
    /// Tags to record.
    pub create: Vec<PlannedTag>,
    /// Tags that moved to another manifest.
    pub update: Vec<PlannedTag>,
    /// Tags to delete `(repository, tag, digest in the store)`.
    pub delete_tags: Vec<(String, String, String)>,
    /// Repositories to delete.
    pub delete_repositories: Vec<String>,
    /// Listing failures; when any, nothing is deleted.
    pub problems: Vec<String>,
    /// Set when the `initial` strategy found existing data and did nothing.
    pub skipped: bool,
    /// Images of tags the store already has whose size is unknown `(repository, digest)`, each
    /// digest once and at most [`MEASURED_PER_SYNC`]: measured when the plan is applied. Read
    /// from the same listing of the store's tags as the rest of the plan.
    pub unmeasured: Vec<(String, String)>,
}

impl SyncPlan {
    /// Whether the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.new_repositories.is_empty()
            && self.create.is_empty()
            && self.update.is_empty()
            && self.delete_tags.is_empty()
            && self.delete_repositories.is_empty()
    }
}

impl fmt::Display for SyncPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.skipped {
            return writeln!(f, "skipped: the 'initial' strategy only runs on an empty store");
        }
        for r in &self.new_repositories {
            writeln!(f, "add repository {r}")?;
        }
        for t in &self.create {
            writeln!(f, "add    {}:{} {}", t.repository, t.tag, t.manifest.digest)?;
        }
        for t in &self.update {
            let previous = t.previous_digest.as_deref().unwrap_or("?");
            writeln!(
                f,
                "update {}:{} {} (was {previous})",
                t.repository, t.tag, t.manifest.digest
            )?;
        }
        for (repository, tag, digest) in &self.delete_tags {
            writeln!(f, "delete {repository}:{tag} {digest}")?;
        }
        for r in &self.delete_repositories {
            writeln!(f, "delete repository {r}")?;
        }
        for p in &self.problems {
            writeln!(f, "problem: {p}")?;
        }
        write!(
            f,
            "plan: {} new repositories, {} tags to add, {} to update, {} to delete, {} repositories to delete{}",
            self.new_repositories.len(),
            self.create.len(),
            self.update.len(),
            self.delete_tags.len(),
            self.delete_repositories.len(),
            if self.problems.is_empty() {
                String::new()
            } else {
                format!("; {} problems, no deletions", self.problems.len())
            }
        )
    }
}

/// What [`apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Tags recorded.
    pub created: usize,
    /// Tags moved.
    pub updated: usize,
    /// Tags deleted.
    pub deleted: usize,
    /// Repositories deleted.
    pub repositories_deleted: usize,
    /// Planned deletions skipped because the registry has the object again (or could not say).
    pub deletions_skipped: usize,
}

/// Progress callback: `(finished steps, known steps)`.
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Send + Sync);

/// Lists the registry and compares it with the store. Fails (planning nothing) when the
/// catalog cannot be listed; a repository or tag that cannot be listed is a problem that
/// disables every deletion.
///
/// Uses the [`CatalogStore`] role only.
pub async fn plan(
    store: &dyn CatalogStore,
    registry: &dyn RegistryClient,
    strategy: SyncStrategy,
    concurrency: usize,
    progress: Progress<'_>,
) -> Result<SyncPlan, Error> {
    let known_repositories: HashSet<String> = store.repositories().await?.into_iter().collect();
    if strategy == SyncStrategy::Initial && !known_repositories.is_empty() {
        return Ok(SyncPlan {
            skipped: true,
            ..SyncPlan::default()
        });
    }
    let catalog = registry.catalog().await?;
    let mut known_tags: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut unmeasured_digests = HashSet::new();
    let mut unmeasured = Vec::new();
    for tag in store.tags(None).await? {
        if tag.image_size.is_none()
            && unmeasured.len() < MEASURED_PER_SYNC
            && unmeasured_digests.insert(tag.manifest.digest.clone())
        {
            unmeasured.push((tag.repository.clone(), tag.manifest.digest.clone()));
        }
        known_tags
            .entry(tag.repository)
            .or_default()
            .insert(tag.name, tag.manifest.digest);
    }
    let concurrency = concurrency.max(1);
    let total_repositories = catalog.len();
    progress(0, total_repositories);

    // Defensive: a registry lists nothing outside the grammar; whatever does not follow it is
    // left alone (neither recorded nor, being "missing" from the listing, deleted).
    // Collected before the stream: a filter closure held across an await would make the
    // future not `Send` for every caller.
    let mut listable: Vec<String> = Vec::with_capacity(catalog.len());
    for repository in &catalog {
        match validate_repository_name(repository) {
            Ok(()) => listable.push(repository.clone()),
            Err(e) => warn!(error = %e, "catalog sync: skipping a repository the registry would never list"),
        }
    }
    let listings: Vec<(String, Result<Vec<String>, portus_core::Error>)> = stream::iter(listable)
        .map(|repository| async move {
            let tags = registry.tags(&repository).await;
            (repository, tags)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;

    let mut plan = SyncPlan {
        unmeasured,
        ..SyncPlan::default()
    };
    let mut heads = Vec::new();
    let mut listed_repositories = HashSet::new();
    let mut skipped_tags: Vec<(String, String)> = Vec::new();
    for (repository, tags) in listings {
        match tags {
            Ok(tags) => {
                if !known_repositories.contains(&repository) {
                    plan.new_repositories.push(repository.clone());
                }
                for tag in tags {
                    match validate_tag(&tag) {
                        Ok(()) => heads.push((repository.clone(), tag)),
                        Err(e) => {
                            warn!(%repository, error = %e, "catalog sync: skipping a tag the registry would never list");
                            skipped_tags.push((repository.clone(), tag));
                        }
                    }
                }
                listed_repositories.insert(repository);
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                // Listed in the catalog but gone by now: nothing to add; not a failure.
                listed_repositories.insert(repository);
            }
            Err(e) => plan.problems.push(format!("listing tags of {repository}: {e}")),
        }
    }
    let total = total_repositories + heads.len();
    progress(total_repositories, total);

    let done = std::sync::atomic::AtomicUsize::new(total_repositories);
    let done = &done;
    let manifests: Vec<(String, String, Result<ManifestRecord, portus_core::Error>)> = stream::iter(heads)
        .map(|(repository, tag)| async move {
            let manifest = registry.head_manifest(&repository, &tag).await;
            progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1, total);
            (repository, tag, manifest)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;

    let mut registry_tags: HashMap<&str, HashSet<&str>> = HashMap::new();
    for (repository, tag) in &skipped_tags {
        // Skipped, not gone: never planned for deletion.
        registry_tags.entry(repository).or_default().insert(tag);
    }
    for (repository, tag, manifest) in &manifests {
        registry_tags.entry(repository).or_default().insert(tag);
        match manifest {
            Ok(manifest) => {
                let known = known_tags.get(repository).and_then(|t| t.get(tag));
                let planned = PlannedTag {
                    repository: repository.clone(),
                    tag: tag.clone(),
                    manifest: manifest.clone(),
                    previous_digest: known.cloned(),
                };
                match known {
                    None => plan.create.push(planned),
                    Some(digest) if *digest != manifest.digest => plan.update.push(planned),
                    Some(_) => {}
                }
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => plan.problems.push(format!("reading {repository}:{tag}: {e}")),
        }
    }

    if strategy == SyncStrategy::UpdateDelete && plan.problems.is_empty() {
        for (repository, tags) in &known_tags {
            if !listed_repositories.contains(repository) {
                continue;
            }
            let present = registry_tags.get(repository.as_str());
            for (tag, digest) in tags {
                if !present.is_some_and(|p| p.contains(tag.as_str())) {
                    plan.delete_tags.push((repository.clone(), tag.clone(), digest.clone()));
                }
            }
        }
        let in_catalog: HashSet<&String> = catalog.iter().collect();
        plan.delete_repositories = known_repositories
            .iter()
            .filter(|r| !in_catalog.contains(r))
            .cloned()
            .collect();
    }
    plan.new_repositories.sort();
    plan.create
        .sort_by(|a, b| (&a.repository, &a.tag).cmp(&(&b.repository, &b.tag)));
    plan.update
        .sort_by(|a, b| (&a.repository, &a.tag).cmp(&(&b.repository, &b.tag)));
    plan.delete_tags.sort();
    plan.delete_repositories.sort();
    plan.problems.sort();
    Ok(plan)
}

/// Carries out a plan. Each deletion is re-checked against the registry first and skipped if
/// the object exists again or the registry cannot say.
///
/// Uses the [`CatalogStore`] and [`ActivityStore`] roles of `store`.
pub async fn apply<S: CatalogStore + ActivityStore + ?Sized>(
    store: &S,
    registry: &dyn RegistryClient,
    plan: &SyncPlan,
    missing: MissingNamespace,
) -> Result<SyncReport, Error> {
    let mut report = SyncReport::default();
    // Digests measured by this sync, so none is read twice; the new tags' images are measured
    // once all are recorded, so that the size reaches every tag of an image.
    let mut measured = HashSet::new();
    let mut to_measure = Vec::new();
    for repository in &plan.new_repositories {
        store.ensure_repository(repository, missing).await?;
    }
    for planned in plan.create.iter().chain(&plan.update) {
        let change = store
            .put_tag(&planned.repository, &planned.tag, &planned.manifest, None, missing)
            .await?;
        let action = match change {
            TagChange::Created => {
                report.created += 1;
                ActivityAction::TagDiscovered
            }
            TagChange::Updated { .. } => {
                report.updated += 1;
                ActivityAction::TagMoved
            }
            TagChange::Unchanged | TagChange::PusherRestored | TagChange::NamespaceMissing => continue,
        };
        if let Some(manifest) = read_new_tag(store, registry, planned).await
            && measured.insert(planned.manifest.digest.clone())
        {
            to_measure.push((planned.repository.clone(), manifest));
        }
        let activity = NewActivity::new(None, action, format!("{}:{}", planned.repository, planned.tag))
            .with_details(format!("{} (catalog sync)", planned.manifest.digest));
        store.record_activity(activity).await?;
    }
    for (repository, tag, digest) in &plan.delete_tags {
        match registry.head_manifest(repository, tag).await {
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            _ => {
                report.deletions_skipped += 1;
                continue;
            }
        }
        // Only the tag as it was planned: a push racing the sync must not be undone.
        if store
            .tag(repository, tag)
            .await?
            .is_some_and(|t| t.manifest.digest == *digest)
            && store.delete_tag(repository, tag).await?.is_some()
        {
            report.deleted += 1;
            let activity = NewActivity::new(None, ActivityAction::TagDelete, format!("{repository}:{tag}"))
                .with_details(format!("{digest} (catalog sync)"));
            store.record_activity(activity).await?;
        }
    }
    for repository in &plan.delete_repositories {
        match registry.tags(repository).await {
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            _ => {
                report.deletions_skipped += 1;
                continue;
            }
        }
        let deleted = store.delete_repository(repository).await?;
        report.repositories_deleted += 1;
        report.deleted += deleted.len();
        let activity =
            NewActivity::new(None, ActivityAction::RepositoryDelete, repository.clone()).with_details("catalog sync");
        store.record_activity(activity).await?;
    }
    for (repository, top) in &to_measure {
        measure_image(store, registry, repository, &top.record.digest, Some(top)).await?;
    }
    // Images of tags known before, whose size is not (pushed while the registry could not be
    // read back, or moved away and back).
    for (repository, digest) in &plan.unmeasured {
        if measured.insert(digest.clone()) {
            measure_image(store, registry, repository, digest, None).await?;
        }
    }
    Ok(report)
}

/// Reads the manifest a tag added or moved by the sync points at, once, and records what it
/// holds (image, chart, signature...); answers it, for the image's size. A manifest that cannot
/// be read leaves both unknown for now: the scan worker looks again before scanning, the next
/// sync measures.
async fn read_new_tag<S: CatalogStore + ?Sized>(
    store: &S,
    registry: &dyn RegistryClient,
    planned: &PlannedTag,
) -> Option<ManifestInfo> {
    let (repository, tag, digest) = (&planned.repository, &planned.tag, &planned.manifest.digest);
    let manifest = match registry.manifest(repository, digest).await {
        Ok(manifest) => manifest,
        Err(e) => {
            warn!(%repository, %tag, error = %e, "catalog sync: the manifest was not read");
            return None;
        }
    };
    if let Err(e) = crate::artifacts::record_tag_artifact(store, repository, tag, digest, &manifest).await {
        warn!(%repository, %tag, error = %e, "catalog sync: what the tag holds was not recorded");
    }
    Some(manifest)
}

/// Measures an image whose top manifest is read already (`top`) or, without it, reads it:
/// see [`crate::sizes`]. A registry that cannot answer for it leaves it unknown until the
/// next sync.
async fn measure_image<S: CatalogStore + ?Sized>(
    store: &S,
    registry: &dyn RegistryClient,
    repository: &str,
    digest: &str,
    top: Option<&ManifestInfo>,
) -> Result<(), Error> {
    let measured = match top {
        Some(top) => crate::sizes::measure_manifest(registry, repository, top).await,
        None => crate::sizes::measure(registry, repository, digest).await,
    };
    match measured {
        Ok(Some(sizes)) => {
            store.record_image_sizes(digest, &sizes).await?;
        }
        Ok(None) => {}
        Err(e) => warn!(%repository, %digest, error = %e, "catalog sync: the image's size could not be read"),
    }
    Ok(())
}

/// How many images of tags the store already had one sync measures at most (the rest wait
/// for the next sync); the tags a sync adds or moves are always measured.
pub const MEASURED_PER_SYNC: usize = 500;

#[cfg(test)]
mod tests {
    use portus_core::prelude::*;

    use portus_core::{InMemoryRegistry, InMemoryStore};

    use super::*;

    /// A registry holding `(repository, tag, digest)` images.
    fn registry_with(entries: &[(&str, &str, &str)]) -> InMemoryRegistry {
        let registry = InMemoryRegistry::new();
        for (repository, tag, digest) in entries {
            registry.push_image(repository, tag, digest, &[]);
        }
        registry
    }

    async fn run(store: &InMemoryStore, registry: &InMemoryRegistry, strategy: SyncStrategy) -> (SyncPlan, SyncReport) {
        let plan = plan(store, registry, strategy, 4, &|_, _| {}).await.unwrap();
        let report = apply(store, registry, &plan, MissingNamespace::Create).await.unwrap();
        (plan, report)
    }

    async fn recorded(store: &InMemoryStore) -> Vec<(String, String, String)> {
        store
            .tags(None)
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.repository, t.name, t.manifest.digest))
            .collect()
    }

    #[tokio::test]
    async fn a_sync_records_the_sizes_of_images_it_finds_and_of_those_still_unknown() {
        let store = InMemoryStore::new();
        let registry = InMemoryRegistry::new();
        let mut image = portus_core::memory::image_manifest("sha256:aa", &[]);
        image.record.size = Some(777);
        registry.push("alice/app", "1.0", image.clone());
        let (_, report) = run(&store, &registry, SyncStrategy::Update).await;
        assert_eq!(report.created, 1);
        assert_eq!(
            store.tag("alice/app", "1.0").await.unwrap().unwrap().image_size,
            Some(777)
        );
        // Known already, size lost (it moved and back): measured again by the next sync.
        let mut other = image.clone();
        other.record.digest = "sha256:bb".into();
        store
            .put_tag("alice/app", "1.0", &other.record, None, MissingNamespace::Create)
            .await
            .unwrap();
        store
            .put_tag("alice/app", "1.0", &image.record, None, MissingNamespace::Create)
            .await
            .unwrap();
        assert_eq!(store.tag("alice/app", "1.0").await.unwrap().unwrap().image_size, None);
        registry.set_unavailable(true);
        let plan = plan(&store, &registry, SyncStrategy::Update, 4, &|_, _| {}).await;
        assert!(plan.is_err(), "no sync without a catalog");
        registry.set_unavailable(false);
        run(&store, &registry, SyncStrategy::Update).await;
        assert_eq!(
            store.tag("alice/app", "1.0").await.unwrap().unwrap().image_size,
            Some(777)
        );
    }

    #[tokio::test]
    async fn a_sync_reads_each_new_manifest_once() {
        let store = InMemoryStore::new();
        let registry = InMemoryRegistry::new();
        let mut image = portus_core::memory::image_manifest("sha256:aa", &[]);
        image.record.size = Some(5);
        registry.push("alice/app", "1.0", image.clone());
        registry.push("alice/app", "latest", image);
        run(&store, &registry, SyncStrategy::Update).await;
        let reads: Vec<_> = registry
            .calls()
            .into_iter()
            .filter(|call| matches!(call, portus_core::memory::RegistryCall::Manifest(..)))
            .collect();
        // One read per tag added (what each holds), none more for the size.
        assert_eq!(reads.len(), 2, "{reads:?}");
        assert_eq!(
            store.tag("alice/app", "latest").await.unwrap().unwrap().image_size,
            Some(5)
        );
        assert_eq!(
            store.tag("alice/app", "1.0").await.unwrap().unwrap().image_size,
            Some(5)
        );
    }

    #[tokio::test]
    async fn strategies_add_update_and_delete_as_documented() {
        let store = InMemoryStore::new();
        let registry = registry_with(&[
            ("a/x", "1", "sha256:1"),
            ("a/x", "2", "sha256:2"),
            ("b/y", "1", "sha256:3"),
        ]);
        let (_, report) = run(&store, &registry, SyncStrategy::Initial).await;
        assert_eq!(report.created, 3);
        assert_eq!(recorded(&store).await.len(), 3);

        registry.push_image("a/x", "3", "sha256:4", &[]);
        let (plan, _) = run(&store, &registry, SyncStrategy::Initial).await;
        assert!(plan.skipped && plan.is_empty(), "initial only runs on an empty store");

        registry.push_image("a/x", "1", "sha256:moved", &[]);
        registry.untag("a/x", "2");
        let (plan, report) = run(&store, &registry, SyncStrategy::Update).await;
        assert_eq!((report.created, report.updated, report.deleted), (1, 1, 0), "{plan}");
        assert!(
            recorded(&store)
                .await
                .contains(&("a/x".into(), "2".into(), "sha256:2".into())),
            "update never deletes"
        );

        let (_, report) = run(&store, &registry, SyncStrategy::UpdateDelete).await;
        assert_eq!(report.deleted, 1);
        assert!(!recorded(&store).await.iter().any(|t| t.1 == "2" && t.0 == "a/x"));
    }

    #[tokio::test]
    async fn failures_disable_every_deletion() {
        let store = InMemoryStore::new();
        let registry = registry_with(&[("a/x", "1", "sha256:1"), ("b/y", "1", "sha256:2")]);
        run(&store, &registry, SyncStrategy::Update).await;
        registry.untag("a/x", "1");
        registry.set_repository_failing("b/y", true);
        let (plan, report) = run(&store, &registry, SyncStrategy::UpdateDelete).await;
        assert_eq!(plan.problems.len(), 1, "{plan}");
        assert!(plan.delete_tags.is_empty() && plan.delete_repositories.is_empty());
        assert_eq!(report.deleted, 0);
        assert_eq!(recorded(&store).await.len(), 2);
        assert!(plan.to_string().contains("no deletions"), "{plan}");
    }

    #[tokio::test]
    async fn a_tag_pushed_again_after_planning_is_not_deleted() {
        let store = InMemoryStore::new();
        let registry = registry_with(&[("a/x", "1", "sha256:1")]);
        run(&store, &registry, SyncStrategy::Update).await;
        registry.untag("a/x", "1");
        let plan = plan(&store, &registry, SyncStrategy::UpdateDelete, 4, &|_, _| {})
            .await
            .unwrap();
        assert_eq!(plan.delete_tags.len(), 1);
        registry.push_image("a/x", "1", "sha256:again", &[]);
        let report = apply(&store, &registry, &plan, MissingNamespace::Create).await.unwrap();
        assert_eq!((report.deleted, report.deletions_skipped), (0, 1));
        assert_eq!(recorded(&store).await.len(), 1);
    }

    #[tokio::test]
    async fn names_and_tags_the_registry_would_never_list_are_skipped_and_never_deleted() {
        let store = InMemoryStore::new();
        let registry = registry_with(&[
            ("a/x", "1", "sha256:1"),
            ("a/x", "bad tag", "sha256:1"),
            ("UPPER/x", "1", "sha256:2"),
            ("a//y", "1", "sha256:3"),
        ]);
        let (plan, report) = run(&store, &registry, SyncStrategy::Update).await;
        assert_eq!(plan.new_repositories, ["a/x"], "{plan}");
        assert_eq!(report.created, 1);
        assert_eq!(recorded(&store).await, [("a/x".into(), "1".into(), "sha256:1".into())]);
        // Something recorded before the check existed is not deleted for being skipped.
        let manifest = ManifestRecord {
            digest: "sha256:1".into(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            size: None,
        };
        store
            .put_tag("a/x", "bad tag", &manifest, None, MissingNamespace::Create)
            .await
            .unwrap();
        let (plan, report) = run(&store, &registry, SyncStrategy::UpdateDelete).await;
        assert!(
            plan.delete_tags.is_empty() && plan.delete_repositories.is_empty(),
            "{plan}"
        );
        assert_eq!(report.deleted, 0);
        assert_eq!(recorded(&store).await.len(), 2);
    }

    #[test]
    fn strategy_names() {
        for s in [SyncStrategy::Initial, SyncStrategy::Update, SyncStrategy::UpdateDelete] {
            assert_eq!(s.to_string().parse::<SyncStrategy>().unwrap(), s);
        }
        assert!(
            "on-start"
                .parse::<SyncStrategy>()
                .unwrap_err()
                .to_string()
                .contains("unknown sync strategy")
        );
    }
}
