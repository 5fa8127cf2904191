//! The figures stores keep per image (`portus_core::model::DigestFigures`) say what the merged
//! view of a tag (`tag_security`) says: its status and its findings by severity, for any scan
//! records and any configured scanners.

use chrono::Utc;
use portus_core::model::{DigestFigures, ScanRecord, ScanState};
use portus_core::traits::{ScanReport, Severity, Vulnerability};
use portus_scan::aggregate::TagScanStatus;
use portus_scan::worker::tag_security;
use proptest::prelude::*;

const BACKENDS: [&str; 3] = ["a", "b", "c"];

type RawRecord = (usize, ScanState, bool, Vec<(u8, Severity)>);

fn state() -> impl Strategy<Value = ScanState> {
    prop_oneof![
        Just(ScanState::Pending),
        Just(ScanState::Scanning),
        Just(ScanState::Done),
        Just(ScanState::Failed)
    ]
}

fn record() -> impl Strategy<Value = RawRecord> {
    (
        0..BACKENDS.len(),
        state(),
        any::<bool>(),
        prop::collection::vec((0u8..6, prop::sample::select(Severity::ALL.to_vec())), 0..5),
    )
}

fn to_record(digest: &str, (backend, state, with_report, vulns): &RawRecord) -> ScanRecord {
    ScanRecord {
        digest: digest.into(),
        backend: BACKENDS[*backend].into(),
        state: *state,
        // A done record without a report (a store's damaged row) is allowed too.
        report: with_report.then(|| ScanReport {
            vulnerabilities: vulns
                .iter()
                .map(|(id, severity)| Vulnerability {
                    id: format!("CVE-{id}"),
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

proptest! {
    #[test]
    fn kept_figures_agree_with_the_merged_view(
        raw in prop::collection::vec(record(), 0..6),
        scope in prop::sample::subsequence(BACKENDS.to_vec(), 0..=BACKENDS.len()),
    ) {
        // One record per (digest, backend), as stores keep them.
        let mut records: Vec<ScanRecord> = Vec::new();
        for r in &raw {
            let record = to_record("sha256:x", r);
            if !records.iter().any(|k| k.backend == record.backend) {
                records.push(record);
            }
        }
        let scope: Vec<String> = scope.iter().map(|s| (*s).to_owned()).collect();
        let names: Vec<&str> = scope.iter().map(String::as_str).collect();
        let merged = tag_security(&records, &names);
        let kept = DigestFigures::of("sha256:x", &records, &scope);
        prop_assert_eq!(kept.failed, merged.status == TagScanStatus::Failed);
        prop_assert_eq!(kept.done, merged.status == TagScanStatus::Done);
        let counts: Vec<(Severity, u64)> = merged.counts.iter().map(|(s, n)| (*s, *n as u64)).collect();
        let kept_counts: Vec<(Severity, u64)> = kept.counts.into_iter().collect();
        prop_assert_eq!(kept_counts, counts);
    }
}
