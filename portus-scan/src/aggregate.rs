//! Findings merged across backends: per tag (by vulnerability id, with per-backend
//! attribution) and per repository (counts by severity).
//!
//! A tag is only ever "clean" when every backend finished; pending or failed backends are
//! reported as such.

use std::collections::BTreeMap;

use portus_core::traits::{ScanReport, Severity};
use serde::{Deserialize, Serialize};

/// Where one backend stands for one tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum BackendResult {
    /// Not scanned yet, or the scanner asked to come back later.
    Pending,
    /// A scan is running.
    Scanning,
    /// Finished with this report.
    Done {
        /// The backend's report.
        report: ScanReport,
    },
    /// The last attempt failed; it will be retried.
    Failed {
        /// What went wrong.
        error: String,
    },
}

/// One vulnerability as found by one or more backends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedVulnerability {
    /// Identifier (`CVE-...`).
    pub id: String,
    /// The highest severity any backend gave.
    pub severity: Severity,
    /// Affected packages (name, version), as reported.
    pub packages: Vec<(String, Option<String>)>,
    /// Fixed-in versions, as reported.
    pub fixed_in: Vec<String>,
    /// Links, deduplicated.
    pub links: Vec<String>,
    /// First description given.
    pub description: Option<String>,
    /// Backends that reported it.
    pub found_by: Vec<String>,
}

/// Overall status of a tag's security information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TagScanStatus {
    /// No backend is configured.
    NotScanned,
    /// At least one backend has not finished (and none failed).
    Pending,
    /// At least one backend failed its last attempt.
    Failed,
    /// Every backend finished.
    Done,
}

/// Counts by severity.
pub type SeverityCounts = BTreeMap<Severity, usize>;

/// The merged view of one tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagSecurity {
    /// Overall status.
    pub status: TagScanStatus,
    /// Merged findings of the finished backends, most severe first.
    pub vulnerabilities: Vec<MergedVulnerability>,
    /// Counts by severity of the merged findings.
    pub counts: SeverityCounts,
    /// Each backend's state (without its report).
    pub backends: BTreeMap<String, String>,
}

/// Merges the results of every backend for one tag.
pub fn merge_tag(results: &BTreeMap<String, BackendResult>) -> TagSecurity {
    let mut merged: BTreeMap<String, MergedVulnerability> = BTreeMap::new();
    let mut backends = BTreeMap::new();
    let (mut pending, mut failed) = (false, false);
    for (backend, result) in results {
        let state = match result {
            BackendResult::Pending => {
                pending = true;
                "pending".to_owned()
            }
            BackendResult::Scanning => {
                pending = true;
                "scanning".to_owned()
            }
            BackendResult::Failed { error } => {
                failed = true;
                format!("failed: {error}")
            }
            BackendResult::Done { report } => {
                for v in &report.vulnerabilities {
                    let entry = merged.entry(v.id.clone()).or_insert_with(|| MergedVulnerability {
                        id: v.id.clone(),
                        severity: v.severity,
                        packages: Vec::new(),
                        fixed_in: Vec::new(),
                        links: Vec::new(),
                        description: None,
                        found_by: Vec::new(),
                    });
                    entry.severity = entry.severity.max(v.severity);
                    push_unique(&mut entry.found_by, backend.clone());
                    if let Some(package) = &v.package {
                        push_unique(&mut entry.packages, (package.clone(), v.package_version.clone()));
                    }
                    if let Some(fixed) = &v.fixed_in {
                        push_unique(&mut entry.fixed_in, fixed.clone());
                    }
                    for link in &v.links {
                        push_unique(&mut entry.links, link.clone());
                    }
                    if entry.description.is_none() {
                        entry.description = v.description.clone();
                    }
                }
                "done".to_owned()
            }
        };
        backends.insert(backend.clone(), state);
    }
    let status = match (results.is_empty(), failed, pending) {
        (true, _, _) => TagScanStatus::NotScanned,
        (_, true, _) => TagScanStatus::Failed,
        (_, _, true) => TagScanStatus::Pending,
        _ => TagScanStatus::Done,
    };
    let mut vulnerabilities: Vec<MergedVulnerability> = merged.into_values().collect();
    vulnerabilities.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    let counts = count(vulnerabilities.iter().map(|v| v.severity));
    TagSecurity {
        status,
        vulnerabilities,
        counts,
        backends,
    }
}

/// A repository's overall status over its tags, by the same precedence as a tag's over its
/// backends: failed if any tag failed, else pending if any is pending, else done if any is
/// done; not scanned otherwise. Never "done" while a tag is unfinished.
pub fn repository_status<'a>(tags: impl IntoIterator<Item = &'a TagSecurity>) -> TagScanStatus {
    let (mut failed, mut pending, mut done) = (false, false, false);
    for tag in tags {
        match tag.status {
            TagScanStatus::Failed => failed = true,
            TagScanStatus::Pending => pending = true,
            TagScanStatus::Done => done = true,
            TagScanStatus::NotScanned => {}
        }
    }
    match (failed, pending, done) {
        (true, _, _) => TagScanStatus::Failed,
        (_, true, _) => TagScanStatus::Pending,
        (_, _, true) => TagScanStatus::Done,
        _ => TagScanStatus::NotScanned,
    }
}

/// Counts by severity over a repository's images, from its tags as (manifest digest, merged
/// view) pairs: each image's merged findings count once however many tags point at it (the
/// definition `portus_core::model::RepositorySummary::counts` keeps).
pub fn repository_counts<'a>(tags: impl IntoIterator<Item = (&'a str, &'a TagSecurity)>) -> SeverityCounts {
    let mut counts = SeverityCounts::new();
    let mut seen = std::collections::HashSet::new();
    for (digest, tag) in tags {
        if !seen.insert(digest) {
            continue;
        }
        for (severity, n) in &tag.counts {
            *counts.entry(*severity).or_default() += n;
        }
    }
    counts
}

fn count(severities: impl Iterator<Item = Severity>) -> SeverityCounts {
    let mut counts = SeverityCounts::new();
    for severity in severities {
        *counts.entry(severity).or_default() += 1;
    }
    counts
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

#[cfg(test)]
mod tests {
    use portus_core::traits::Vulnerability;

    use super::*;

    #[test]
    fn a_repository_is_done_only_when_no_tag_is_unfinished() {
        let tag = |status| TagSecurity {
            status,
            vulnerabilities: Vec::new(),
            counts: SeverityCounts::new(),
            backends: BTreeMap::new(),
        };
        let of = |statuses: &[TagScanStatus]| {
            let tags: Vec<TagSecurity> = statuses.iter().map(|s| tag(*s)).collect();
            repository_status(&tags)
        };
        use TagScanStatus::*;
        assert_eq!(of(&[]), NotScanned);
        assert_eq!(of(&[NotScanned]), NotScanned);
        assert_eq!(of(&[Done, Done]), Done);
        assert_eq!(of(&[Done, Pending]), Pending);
        assert_eq!(of(&[Pending, Failed, Done]), Failed);
        assert_eq!(of(&[NotScanned, Done]), Done);
    }

    fn vuln(id: &str, severity: Severity, package: &str, fixed: Option<&str>) -> Vulnerability {
        Vulnerability {
            id: id.into(),
            severity,
            package: Some(package.into()),
            package_version: Some("1".into()),
            fixed_in: fixed.map(str::to_owned),
            links: vec![format!("https://example.org/{id}")],
            description: None,
        }
    }

    fn done(vulnerabilities: Vec<Vulnerability>) -> BackendResult {
        BackendResult::Done {
            report: ScanReport { vulnerabilities },
        }
    }

    #[test]
    fn merges_by_id_with_attribution_and_highest_severity() {
        let results = BTreeMap::from([
            (
                "clair".to_owned(),
                done(vec![
                    vuln("CVE-1", Severity::Medium, "openssl", Some("1.1")),
                    vuln("CVE-2", Severity::Low, "zlib", None),
                ]),
            ),
            (
                "dummy".to_owned(),
                done(vec![vuln("CVE-1", Severity::High, "openssl", Some("1.1"))]),
            ),
        ]);
        let tag = merge_tag(&results);
        assert_eq!(tag.status, TagScanStatus::Done);
        assert_eq!(tag.vulnerabilities.len(), 2);
        let first = &tag.vulnerabilities[0];
        assert_eq!((first.id.as_str(), first.severity), ("CVE-1", Severity::High));
        assert_eq!(first.found_by, ["clair", "dummy"]);
        assert_eq!(first.fixed_in, ["1.1"]);
        assert_eq!(first.links.len(), 1);
        assert_eq!(tag.counts, BTreeMap::from([(Severity::High, 1), (Severity::Low, 1)]));
        let repo = repository_counts([("sha256:a", &tag), ("sha256:b", &tag)]);
        assert_eq!(repo[&Severity::High], 2, "two images, each counted");
        let repo = repository_counts([("sha256:a", &tag), ("sha256:a", &tag)]);
        assert_eq!(repo[&Severity::High], 1, "two tags of one image count it once");
    }

    #[test]
    fn pending_and_failed_backends_are_never_clean() {
        let pending = BTreeMap::from([
            ("clair".to_owned(), BackendResult::Pending),
            ("dummy".to_owned(), done(vec![])),
        ]);
        assert_eq!(merge_tag(&pending).status, TagScanStatus::Pending);
        let failed = BTreeMap::from([
            (
                "clair".to_owned(),
                BackendResult::Failed {
                    error: "connection refused".into(),
                },
            ),
            ("dummy".to_owned(), done(vec![])),
        ]);
        let tag = merge_tag(&failed);
        assert_eq!(tag.status, TagScanStatus::Failed);
        assert_eq!(tag.backends["clair"], "failed: connection refused");
        assert_eq!(merge_tag(&BTreeMap::new()).status, TagScanStatus::NotScanned);
        let clean = BTreeMap::from([("dummy".to_owned(), done(vec![]))]);
        assert_eq!(
            merge_tag(&clean).status,
            TagScanStatus::Done,
            "all finished with no findings is clean"
        );
    }
}
