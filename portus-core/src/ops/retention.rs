//! Retention: listing what the rules would remove ([`plan`]) and removing it ([`apply`]).
//!
//! The decision is [`crate::retention::plan`], a pure function; this module feeds it and
//! carries it out. A repository's plan is computed only from a complete, successful listing of
//! its tags in the registry (every tag listed, every tag's digest read): a listing that fails
//! anywhere leaves the repository out of the plan, with the reason, so nothing is ever removed
//! on the strength of a partial view. Applying checks each removal again against the registry
//! first (the tags still point where the plan saw them, and no tag pushed since points at an
//! image to delete) and records one `tag.delete` activity per tag removed.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::record;
use crate::model::ActivityAction;
use crate::retention::{ListedTag, RepositoryPlan, RetentionRule, plan as plan_repository};
use crate::traits::{ActivityStore, CatalogStore, RegistryClient};
use crate::{ErrorKind, Result};

/// The rules of an installation: per namespace and per repository (a repository's own rule
/// replaces its namespace's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionRules {
    /// Rules by namespace name (the part of a repository name before its first `/`).
    pub namespaces: BTreeMap<String, RetentionRule>,
    /// Rules by full repository name.
    pub repositories: BTreeMap<String, RetentionRule>,
}

impl RetentionRules {
    /// The rule that applies to `repository`, if any.
    pub fn rule_for(&self, repository: &str) -> Option<&RetentionRule> {
        self.repositories.get(repository).or_else(|| {
            let namespace = repository.split_once('/')?.0;
            self.namespaces.get(namespace)
        })
    }

    /// Whether there is no rule at all.
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty() && self.repositories.is_empty()
    }
}

/// One repository's plan, with the listing it was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedRepository {
    /// Full repository name.
    pub repository: String,
    /// The decision.
    #[serde(flatten)]
    pub plan: RepositoryPlan,
    /// Every tag the registry listed, with its digest.
    #[serde(skip)]
    pub listed: BTreeMap<String, String>,
}

/// The plan of a whole run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetentionPlan {
    /// When it was computed.
    pub at: Option<DateTime<Utc>>,
    /// Repositories with a rule that were listed completely, in name order.
    pub repositories: Vec<PlannedRepository>,
    /// Repositories with a rule left out because their listing failed, with the reason:
    /// nothing of them is removed.
    pub not_listed: Vec<(String, String)>,
}

impl RetentionPlan {
    /// How many tags the plan removes.
    pub fn removed_tags(&self) -> usize {
        self.repositories
            .iter()
            .flat_map(|r| &r.plan.removals)
            .map(|r| r.tags().len())
            .sum()
    }
}

impl std::fmt::Display for RetentionPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::retention::Removal;
        for planned in &self.repositories {
            for removal in &planned.plan.removals {
                match removal {
                    Removal::DeleteManifest { digest, tags } => {
                        writeln!(f, "delete {}@{digest} (tags {})", planned.repository, tags.join(", "))?
                    }
                    Removal::Untag {
                        tag,
                        digest,
                        kept_siblings,
                    } => writeln!(
                        f,
                        "untag  {}:{tag} ({digest} stays for {}; skipped where the registry cannot delete a tag alone)",
                        planned.repository,
                        kept_siblings.join(", ")
                    )?,
                }
            }
            let kept: Vec<String> = planned
                .plan
                .kept
                .iter()
                .map(|(tag, why)| format!("{tag} ({})", kept_because(*why)))
                .collect();
            writeln!(f, "keep   {}: {}", planned.repository, kept.join(", "))?;
        }
        for (repository, reason) in &self.not_listed {
            writeln!(
                f,
                "skip   {repository}: not listed completely, nothing removed ({reason})"
            )?;
        }
        write!(
            f,
            "{} tags to remove in {} repositories; {} repositories not listed",
            self.removed_tags(),
            self.repositories.iter().filter(|r| !r.plan.is_empty()).count(),
            self.not_listed.len()
        )
    }
}

fn kept_because(why: crate::retention::KeptBecause) -> &'static str {
    use crate::retention::KeptBecause::*;
    match why {
        Newest => "newest",
        Protected => "protected",
        NotIncluded => "not included",
        Recent => "recent",
        Unknown => "age unknown",
    }
}

/// Lists every repository of the store that a rule applies to in the registry and plans it.
/// A repository whose tags or digests cannot all be read is left out (`not_listed`); one the
/// registry no longer has is skipped.
pub async fn plan<S: CatalogStore + ?Sized>(
    store: &S,
    registry: &dyn RegistryClient,
    rules: &RetentionRules,
    now: DateTime<Utc>,
) -> Result<RetentionPlan> {
    let mut result = RetentionPlan {
        at: Some(now),
        ..RetentionPlan::default()
    };
    if rules.is_empty() {
        return Ok(result);
    }
    for repository in store.repositories().await? {
        let Some(rule) = rules.rule_for(&repository) else {
            continue;
        };
        match list(registry, &repository).await {
            Ok(listed) => {
                let known: HashMap<String, _> = store
                    .tags(Some(&repository))
                    .await?
                    .into_iter()
                    .map(|t| (t.name.clone(), t))
                    .collect();
                let tags: Vec<ListedTag> = listed
                    .iter()
                    .map(|(name, digest)| {
                        // What the store knows holds only for the image the registry lists now.
                        let facts = known.get(name).filter(|t| t.manifest.digest == *digest);
                        ListedTag {
                            name: name.clone(),
                            digest: digest.clone(),
                            pushed_at: facts.map(|t| t.updated_at),
                            pulled_at: facts.and_then(|t| t.pulled_at),
                        }
                    })
                    .collect();
                result.repositories.push(PlannedRepository {
                    plan: plan_repository(rule, &tags, now),
                    repository,
                    listed,
                });
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => result.not_listed.push((repository, e.to_string())),
        }
    }
    Ok(result)
}

/// Every tag of `repository` and its digest; any failure fails the whole listing.
async fn list(registry: &dyn RegistryClient, repository: &str) -> Result<BTreeMap<String, String>> {
    let mut listed = BTreeMap::new();
    for tag in registry.tags(repository).await? {
        let digest = registry.head_manifest(repository, &tag).await?.digest;
        listed.insert(tag, digest);
    }
    Ok(listed)
}

/// What [`apply`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// Tags removed, as `repository:tag`.
    pub removed: Vec<String>,
    /// Images deleted, as `repository@digest`.
    pub deleted_manifests: Vec<String>,
    /// Removals not made, with the reason (`repository:tag`, reason).
    pub skipped: Vec<(String, String)>,
}

/// Carries out `plan`: each removal is checked against the registry again first and skipped
/// when anything changed since; each removed tag is recorded as one `tag.delete` activity by
/// `actor` (`None`: the system). A registry error stops the run (what is done is recorded).
pub async fn apply<S: CatalogStore + ActivityStore + ?Sized>(
    store: &S,
    registry: &dyn RegistryClient,
    plan: &RetentionPlan,
    actor: Option<&str>,
) -> Result<RetentionReport> {
    use crate::retention::Removal;
    let mut report = RetentionReport::default();
    for planned in &plan.repositories {
        let repository = planned.repository.as_str();
        if planned.plan.is_empty() {
            continue;
        }
        // A tag pushed since the plan is not in it: it must not lose its image.
        let now_listed: BTreeSet<String> = registry.tags(repository).await?.into_iter().collect();
        let mut new_digests = BTreeSet::new();
        for tag in now_listed.iter().filter(|t| !planned.listed.contains_key(*t)) {
            new_digests.insert(registry.head_manifest(repository, tag).await?.digest);
        }
        for removal in &planned.plan.removals {
            let mut moved = None;
            for tag in removal.tags() {
                let digest = &planned.listed[tag];
                match registry.head_manifest(repository, tag).await {
                    Ok(now) if now.digest == *digest => {}
                    Ok(_) => moved = Some(format!("{tag} moved since the plan")),
                    Err(e) if e.kind() == ErrorKind::NotFound => moved = Some(format!("{tag} is gone already")),
                    Err(e) => return Err(e),
                }
            }
            if let Some(reason) = moved {
                for tag in removal.tags() {
                    report.skipped.push((format!("{repository}:{tag}"), reason.clone()));
                }
                continue;
            }
            match removal {
                Removal::DeleteManifest { digest, tags } => {
                    if new_digests.contains(digest) {
                        for tag in tags {
                            report.skipped.push((
                                format!("{repository}:{tag}"),
                                "a tag pushed since uses its image".into(),
                            ));
                        }
                        continue;
                    }
                    registry.delete_manifest(repository, digest).await?;
                    // The registry's notification may have removed the rows already.
                    store.delete_tags_by_digest(repository, digest).await?;
                    report.deleted_manifests.push(format!("{repository}@{digest}"));
                    for tag in tags {
                        removed(store, actor, repository, tag, digest, "image deleted").await?;
                        report.removed.push(format!("{repository}:{tag}"));
                    }
                }
                Removal::Untag {
                    tag,
                    digest,
                    kept_siblings,
                } => {
                    if !registry.delete_tag(repository, tag).await? {
                        report.skipped.push((
                            format!("{repository}:{tag}"),
                            format!(
                                "its image stays for {} and the registry cannot delete a tag alone",
                                kept_siblings.join(", ")
                            ),
                        ));
                        continue;
                    }
                    store.delete_tag(repository, tag).await?;
                    removed(store, actor, repository, tag, digest, "untagged").await?;
                    report.removed.push(format!("{repository}:{tag}"));
                }
            }
        }
    }
    Ok(report)
}

async fn removed<S: ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    repository: &str,
    tag: &str,
    digest: &str,
    how: &str,
) -> Result<()> {
    record(
        store,
        actor,
        ActivityAction::TagDelete,
        format!("{repository}:{tag}"),
        Some(format!("{digest} (retention: {how})")),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{InMemoryRegistry, InMemoryStore};
    use crate::model::{ActivityFilter, ManifestRecord, MissingNamespace};
    use crate::prelude::*;

    async fn setup(tag_deletion: bool) -> (InMemoryStore, InMemoryRegistry, RetentionRules) {
        let store = InMemoryStore::new();
        let registry = InMemoryRegistry::new();
        registry.set_tag_deletion(tag_deletion);
        for (repository, tag, digest) in [
            ("devs/app", "1", "sha256:d1"),
            ("devs/app", "2", "sha256:d2"),
            ("devs/app", "stable", "sha256:d2"),
            ("devs/app", "3", "sha256:d3"),
            ("devs/other", "1", "sha256:o1"),
            ("devs/other", "2", "sha256:o2"),
        ] {
            registry.push_image(repository, tag, digest, &[]);
            let manifest = ManifestRecord {
                digest: digest.into(),
                media_type: crate::memory::OCI_MANIFEST.into(),
                size: None,
            };
            store
                .put_tag(repository, tag, &manifest, None, MissingNamespace::Create)
                .await
                .unwrap();
            // Push order: later tags are newer.
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let rule = RetentionRule {
            keep_latest: 1,
            older_than_days: None,
            include: Vec::new(),
            protect: vec!["stable".into()],
        };
        let rules = RetentionRules {
            namespaces: BTreeMap::from([("devs".to_owned(), rule)]),
            repositories: BTreeMap::new(),
        };
        (store, registry, rules)
    }

    #[tokio::test]
    async fn the_plan_is_applied_with_one_activity_per_tag_and_siblings_untagged_or_kept() {
        for tag_deletion in [true, false] {
            let (store, registry, rules) = setup(tag_deletion).await;
            let plan = plan(&store, &registry, &rules, Utc::now()).await.unwrap();
            assert_eq!(plan.removed_tags(), 3, "{plan}");
            let report = apply(&store, &registry, &plan, Some("admin")).await.unwrap();
            let mut app = registry.tags("devs/app").await.unwrap();
            app.sort();
            if tag_deletion {
                assert_eq!(app, ["3", "stable"]);
                assert_eq!(report.removed, ["devs/app:1", "devs/app:2", "devs/other:1"]);
            } else {
                assert_eq!(app, ["2", "3", "stable"], "2.8 cannot untag: 2 stays with stable");
                assert_eq!(report.skipped.len(), 1, "{report:?}");
            }
            assert_eq!(registry.tags("devs/other").await.unwrap(), ["2"]);
            let stored: Vec<String> = store
                .tags(None)
                .await
                .unwrap()
                .into_iter()
                .map(|t| format!("{}:{}", t.repository, t.name))
                .collect();
            let mut listed = Vec::new();
            for repository in ["devs/app", "devs/other"] {
                for tag in registry.tags(repository).await.unwrap() {
                    listed.push(format!("{repository}:{tag}"));
                }
            }
            listed.sort();
            assert_eq!(stored, listed, "the store agrees with the registry");
            let activities = store
                .activities(&ActivityFilter {
                    action: Some("tag.delete".into()),
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(activities.len(), report.removed.len());
        }
    }

    #[tokio::test]
    async fn a_tag_pulled_lately_is_not_expired_by_age() {
        let (store, registry, mut rules) = setup(true).await;
        for rule in rules.namespaces.values_mut() {
            rule.keep_latest = 0;
            rule.older_than_days = Some(30);
        }
        let later = Utc::now() + chrono::TimeDelta::days(40);
        // devs/other:1 was pulled 20 days after its push: 20 days before `later`.
        store
            .record_pull("devs/other", "1", later - chrono::TimeDelta::days(20))
            .await
            .unwrap();
        let plan = plan(&store, &registry, &rules, later).await.unwrap();
        let other = plan.repositories.iter().find(|r| r.repository == "devs/other").unwrap();
        assert_eq!(other.plan.kept["1"], crate::retention::KeptBecause::Recent, "{plan}");
        assert_eq!(other.plan.removals.len(), 1, "2 was never pulled: {plan}");
        assert_eq!(other.plan.removals[0].tags(), ["2"]);
        // Not yet 30 days after the pushes: nothing expires.
        let soon = plan_now(&store, &registry, &rules).await;
        assert_eq!(soon.removed_tags(), 0, "{soon}");
    }

    async fn plan_now(store: &InMemoryStore, registry: &InMemoryRegistry, rules: &RetentionRules) -> RetentionPlan {
        plan(store, registry, rules, Utc::now()).await.unwrap()
    }

    #[tokio::test]
    async fn a_failed_listing_removes_nothing_of_that_repository() {
        let (store, registry, rules) = setup(true).await;
        registry.set_repository_failing("devs/app", true);
        let plan = plan(&store, &registry, &rules, Utc::now()).await.unwrap();
        assert_eq!(plan.not_listed.len(), 1, "{plan}");
        assert_eq!(plan.not_listed[0].0, "devs/app");
        assert!(plan.repositories.iter().all(|r| r.repository != "devs/app"));
        registry.set_repository_failing("devs/app", false);
        apply(&store, &registry, &plan, None).await.unwrap();
        assert_eq!(registry.tags("devs/app").await.unwrap().len(), 4, "untouched");
        // A registry that is down: no plan at all for any repository.
        registry.set_unavailable(true);
        let down = super::plan(&store, &registry, &rules, Utc::now()).await.unwrap();
        assert_eq!((down.repositories.len(), down.not_listed.len()), (0, 2));
    }

    #[tokio::test]
    async fn a_tag_moved_or_pushed_since_the_plan_is_not_removed() {
        let (store, registry, rules) = setup(true).await;
        let plan = plan(&store, &registry, &rules, Utc::now()).await.unwrap();
        // devs/app:1 moves; a new tag points at devs/other's doomed image.
        registry.push_image("devs/app", "1", "sha256:new", &[]);
        registry.push_image("devs/other", "fresh", "sha256:o1", &[]);
        let report = apply(&store, &registry, &plan, None).await.unwrap();
        assert_eq!(report.removed, ["devs/app:2"], "{report:?}");
        assert!(registry.tags("devs/app").await.unwrap().contains(&"1".to_owned()));
        assert!(registry.tags("devs/other").await.unwrap().contains(&"1".to_owned()));
    }
}
