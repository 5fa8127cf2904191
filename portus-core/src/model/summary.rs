//! Per-repository figures the stores keep as tags are pushed, deleted and scanned, so a list of
//! repositories never reads every tag and every scan report to show one page.
//!
//! The figures are defined here, once, by recomputation from tags and scan records
//! ([`RepositorySummary::recompute`]); a SQL store keeps them up to date in the transaction of
//! each write and the conformance suite checks that what it kept equals what this recomputes.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{NamespaceId, Repository, RepositoryId, ScanRecord, ScanState, TagRecord, UserId, VisibleNamespaces};
use crate::traits::Severity;

/// Findings by severity (severities without findings are absent).
pub type SeverityTally = BTreeMap<Severity, u64>;

/// What the scans of one manifest digest add up to, over the scanners in scope (the configured
/// ones, see [`ScanStore::set_scan_scope`](crate::traits::ScanStore::set_scan_scope)), by the
/// rule a tag's security status follows: failed if a scanner's last attempt failed; done when
/// every scanner finished and none failed; pending otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestFigures {
    /// A scanner in scope failed its last attempt.
    pub failed: bool,
    /// Every scanner in scope finished (and there is at least one).
    pub done: bool,
    /// The finished scanners' findings, merged by vulnerability id (a vulnerability two
    /// scanners report counts once, at the highest severity either gave).
    pub counts: SeverityTally,
}

impl DigestFigures {
    /// The figures of one digest from its scan `records` (others are ignored) and the scanners
    /// in `scope`.
    pub fn of(digest: &str, records: &[ScanRecord], scope: &[String]) -> DigestFigures {
        let in_scope: Vec<&ScanRecord> = records
            .iter()
            .filter(|r| r.digest == digest && scope.contains(&r.backend))
            .collect();
        let failed = in_scope.iter().any(|r| r.state == ScanState::Failed);
        let finished = |backend: &String| {
            in_scope
                .iter()
                .any(|r| &r.backend == backend && r.state == ScanState::Done && r.report.is_some())
        };
        let done = !scope.is_empty() && !failed && scope.iter().all(finished);
        let mut merged: HashMap<&str, Severity> = HashMap::new();
        for record in in_scope.iter().filter(|r| r.state == ScanState::Done) {
            for v in record.report.iter().flat_map(|report| &report.vulnerabilities) {
                let severity = merged.entry(v.id.as_str()).or_insert(v.severity);
                *severity = (*severity).max(v.severity);
            }
        }
        let mut counts = SeverityTally::new();
        for severity in merged.into_values() {
            *counts.entry(severity).or_default() += 1;
        }
        DigestFigures { failed, done, counts }
    }

    /// Whether these figures add nothing to a repository's (a digest never scanned).
    pub fn is_empty(&self) -> bool {
        !self.failed && !self.done && self.counts.is_empty()
    }
}

/// A repository's kept figures: its tags, its latest push and its images' security.
///
/// `tags`, `tags_failed` and `tags_done` count tags (two tags of one image count twice: they
/// say how many tags are in each scan state); `counts` counts findings of images (two tags of
/// one image count its findings once: a badge must not double an image's findings because it
/// carries two names).
///
/// `tags_not_images` counts the tags recognized as holding no image (charts, signatures,
/// SBOMs, other artifacts: see [`Artifact`](super::Artifact)), which scanners never read; they
/// are left out of the pending tags. Their digests' scan figures still count in `tags_failed`
/// and `tags_done` (normally none: the scan worker refuses them before any scanner runs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositorySummary {
    /// How many tags it has.
    pub tags: u64,
    /// The newest `updated_at` of its tags (when a tag last moved to a new image).
    pub latest_push: Option<DateTime<Utc>>,
    /// Tags whose image a scanner failed to scan (per tag).
    pub tags_failed: u64,
    /// Tags whose image every scanner finished (per tag).
    pub tags_done: u64,
    /// Tags recognized as holding no image (never scanned).
    #[serde(default)]
    pub tags_not_images: u64,
    /// The findings of the repository's distinct images by severity, each image's (manifest
    /// digest's) merged findings counted once however many of its tags point at it.
    pub counts: SeverityTally,
}

impl RepositorySummary {
    /// Tags neither failed nor done, nor holding something other than an image: waiting for,
    /// or in, a scan.
    pub fn tags_pending(&self) -> u64 {
        self.tags
            .saturating_sub(self.tags_failed + self.tags_done + self.tags_not_images)
    }

    /// Whether it has tags and every one holds something other than an image.
    pub fn only_not_images(&self) -> bool {
        self.tags > 0 && self.tags_not_images >= self.tags
    }

    /// Adds one tag whose image has `figures`; `new_image` when no tag added before points at
    /// that image (only then do its findings add to `counts`); `not_an_image` when the tag was
    /// recognized as holding something else.
    pub fn add(&mut self, figures: &DigestFigures, updated_at: DateTime<Utc>, new_image: bool, not_an_image: bool) {
        self.tags += 1;
        self.tags_not_images += u64::from(not_an_image);
        self.latest_push = self.latest_push.max(Some(updated_at));
        self.tags_failed += u64::from(figures.failed);
        self.tags_done += u64::from(figures.done);
        if new_image {
            for (severity, n) in &figures.counts {
                *self.counts.entry(*severity).or_default() += n;
            }
        }
    }

    /// Every repository's figures recomputed from all `tags` and scan `records`, for the
    /// scanners in `scope`: the definition kept figures are checked against, and how the
    /// rebuild command and the in-memory store compute them.
    pub fn recompute(
        tags: &[TagRecord],
        records: &[ScanRecord],
        scope: &[String],
    ) -> HashMap<String, RepositorySummary> {
        let mut by_digest: HashMap<&str, Vec<ScanRecord>> = HashMap::new();
        for record in records {
            by_digest
                .entry(record.digest.as_str())
                .or_default()
                .push(record.clone());
        }
        let mut figures: HashMap<&str, DigestFigures> = HashMap::new();
        let mut summaries: HashMap<String, RepositorySummary> = HashMap::new();
        let mut images: HashSet<(&str, &str)> = HashSet::new();
        for tag in tags {
            let digest = tag.manifest.digest.as_str();
            let figures = figures.entry(digest).or_insert_with(|| {
                DigestFigures::of(
                    digest,
                    by_digest.get(digest).map(Vec::as_slice).unwrap_or_default(),
                    scope,
                )
            });
            let new_image = images.insert((tag.repository.as_str(), digest));
            let not_an_image = tag.artifact.as_ref().is_some_and(|a| !a.kind.is_scannable());
            summaries
                .entry(tag.repository.clone())
                .or_default()
                .add(figures, tag.updated_at, new_image, not_an_image);
        }
        summaries
    }
}

/// A repository with its kept figures, as lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryListing {
    /// The repository.
    pub repository: Repository,
    /// Its figures.
    pub summary: RepositorySummary,
}

/// Which repositories a list shows. Every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepositoryFilter {
    /// Only repositories of namespaces the caller may see.
    pub visible: VisibleNamespaces,
    /// Only repositories of these namespaces; `None` for all.
    pub namespaces: Option<Vec<NamespaceId>>,
    /// Only repositories this user starred.
    pub starred_by: Option<UserId>,
    /// Only repositories whose full name contains this text, ignoring ASCII case.
    pub name_contains: Option<String>,
}

/// The orders of repository lists (each then by id).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RepositorySort {
    /// By full name (the default).
    #[default]
    Name,
    /// By id (creation order).
    Id,
    /// By creation time.
    CreatedAt,
    /// By star count.
    Stars,
    /// By tag count.
    Tags,
    /// By latest push (repositories without tags first).
    LatestPush,
}

/// Which tags a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagFilter {
    /// Only tags of this repository.
    pub repository: Option<RepositoryId>,
    /// Only tags of repositories in namespaces the caller may see.
    pub visible: VisibleNamespaces,
    /// Only tags of repositories in these namespaces; `None` for all.
    pub namespaces: Option<Vec<NamespaceId>>,
    /// Only tags whose name contains this text, ignoring case.
    pub name_contains: Option<String>,
}

/// The orders of tag lists (each then by id).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TagSort {
    /// By repository id, then tag name (the default: a repository's tags by name).
    #[default]
    Name,
    /// By id (creation order).
    Id,
    /// By creation time.
    CreatedAt,
    /// By the time the tag last moved to a new image.
    UpdatedAt,
}

/// What [`ScanStore::rebuild_summaries`](crate::traits::ScanStore::rebuild_summaries) rebuilt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryRebuild {
    /// Digests whose figures were recomputed.
    pub digests: u64,
    /// Repositories whose figures were recomputed.
    pub repositories: u64,
    /// Repositories whose kept figures differed from the recomputed ones (0 when the store
    /// kept them right).
    pub corrected: u64,
}

/// The scanners in `scope`, sorted and without repeats: how stores keep a scope.
pub fn normalize_scope(scope: &[String]) -> Vec<String> {
    let mut scope: Vec<String> = scope.iter().cloned().collect::<HashSet<_>>().into_iter().collect();
    scope.sort();
    scope
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ManifestRecord;
    use crate::traits::{ScanReport, Vulnerability};

    fn record(digest: &str, backend: &str, state: ScanState, vulns: &[(&str, Severity)]) -> ScanRecord {
        ScanRecord {
            digest: digest.into(),
            backend: backend.into(),
            state,
            report: (state == ScanState::Done).then(|| ScanReport {
                vulnerabilities: vulns
                    .iter()
                    .map(|(id, severity)| Vulnerability {
                        id: (*id).into(),
                        severity: *severity,
                        package: None,
                        package_version: None,
                        fixed_in: None,
                        links: Vec::new(),
                        description: None,
                    })
                    .collect(),
            }),
            error: None,
            attempts: 0,
            updated_at: Utc::now(),
            next_attempt_at: None,
        }
    }

    fn scope(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn a_digest_is_done_only_when_every_scanner_in_scope_finished() {
        let records = [record("d", "a", ScanState::Done, &[("CVE-1", Severity::High)])];
        let one = DigestFigures::of("d", &records, &scope(&["a"]));
        assert!(one.done && !one.failed);
        assert_eq!(one.counts, SeverityTally::from([(Severity::High, 1)]));
        let two = DigestFigures::of("d", &records, &scope(&["a", "b"]));
        assert!(!two.done && !two.failed, "b has not scanned it");
        assert_eq!(two.counts, one.counts, "finished scanners' findings count meanwhile");
        assert_eq!(DigestFigures::of("d", &records, &[]), DigestFigures::default());
    }

    #[test]
    fn failure_wins_and_findings_merge_by_id_at_the_highest_severity() {
        let records = [
            record(
                "d",
                "a",
                ScanState::Done,
                &[("CVE-1", Severity::Low), ("CVE-2", Severity::Medium)],
            ),
            record("d", "b", ScanState::Done, &[("CVE-1", Severity::Critical)]),
            record("d", "c", ScanState::Failed, &[]),
            record("other", "a", ScanState::Failed, &[]),
        ];
        let figures = DigestFigures::of("d", &records, &scope(&["a", "b", "c"]));
        assert!(figures.failed && !figures.done);
        assert_eq!(
            figures.counts,
            SeverityTally::from([(Severity::Critical, 1), (Severity::Medium, 1)])
        );
        let out_of_scope = DigestFigures::of("d", &records, &scope(&["a", "b"]));
        assert!(
            out_of_scope.done && !out_of_scope.failed,
            "c is not configured any more"
        );
    }

    #[test]
    fn recompute_counts_tags_per_tag_and_findings_per_image() {
        let tag = |repository: &str, name: &str, digest: &str, minute: u32| TagRecord {
            id: crate::model::TagId(0),
            repository: repository.into(),
            name: name.into(),
            manifest: ManifestRecord {
                digest: digest.into(),
                media_type: String::new(),
                size: None,
            },
            pushed_by: None,
            created_at: Utc::now(),
            updated_at: chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 1, 1, 0, minute, 0).unwrap(),
            image_id: None,
            image_size: None,
            pulled_at: None,
            artifact: None,
            signed: false,
            pull_count: 0,
            platform_sizes: Vec::new(),
        };
        let tags = [
            tag("r", "1", "d", 1),
            tag("r", "2", "d", 3),
            tag("r", "3", "e", 2),
            tag("s", "1", "e", 0),
        ];
        let records = [
            record("d", "a", ScanState::Done, &[("CVE-1", Severity::High)]),
            record("e", "a", ScanState::Failed, &[]),
        ];
        let summaries = RepositorySummary::recompute(&tags, &records, &scope(&["a"]));
        let r = &summaries["r"];
        assert_eq!((r.tags, r.tags_done, r.tags_failed, r.tags_pending()), (3, 2, 1, 0));
        assert_eq!(
            r.counts,
            SeverityTally::from([(Severity::High, 1)]),
            "tags 1 and 2 share image d: its finding counts once"
        );
        assert_eq!(r.latest_push, Some(tags[1].updated_at));
        assert_eq!(summaries["s"].tags_failed, 1);
        let shared = [tag("r", "1", "d", 1), tag("s", "1", "d", 1), tag("s", "2", "d", 2)];
        let summaries = RepositorySummary::recompute(&shared, &records, &scope(&["a"]));
        for repository in ["r", "s"] {
            assert_eq!(
                summaries[repository].counts,
                SeverityTally::from([(Severity::High, 1)]),
                "each repository counts the shared image once"
            );
        }
        assert_eq!(summaries["s"].tags_done, 2, "tags in a state count per tag");
    }
}
