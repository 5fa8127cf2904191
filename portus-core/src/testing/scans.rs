//! The [`ScanStore`] checks: scan records and claims.

use crate::model::{ScanRecord, ScanState};
use crate::prelude::*;

/// Scan records are stored per (digest, backend), replaced on update and listed in order.
pub async fn scan_records_are_kept_per_digest_and_backend(store: &dyn ScanStore) {
    use crate::traits::{ScanReport, Severity, Vulnerability};
    let now = crate::model::now();
    let record = |digest: &str, backend: &str, state: ScanState| ScanRecord {
        digest: digest.into(),
        backend: backend.into(),
        state,
        report: None,
        error: None,
        attempts: 0,
        updated_at: now,
        next_attempt_at: None,
    };
    store
        .put_scan_record(&record("sha256:b", "dummy", ScanState::Pending))
        .await
        .unwrap();
    store
        .put_scan_record(&record("sha256:a", "clair", ScanState::Pending))
        .await
        .unwrap();
    let report = ScanReport {
        vulnerabilities: vec![Vulnerability {
            id: "CVE-1".into(),
            severity: Severity::High,
            package: Some("openssl".into()),
            package_version: Some("1.0".into()),
            fixed_in: None,
            links: vec!["https://x".into()],
            description: Some("d".into()),
        }],
    };
    let done = ScanRecord {
        report: Some(report),
        ..record("sha256:a", "clair", ScanState::Done)
    };
    store.put_scan_record(&done).await.unwrap();
    let failed = ScanRecord {
        error: Some("connection refused".into()),
        attempts: 3,
        next_attempt_at: Some(now),
        ..record("sha256:a", "dummy", ScanState::Failed)
    };
    store.put_scan_record(&failed).await.unwrap();
    let all = store.scan_records(None).await.unwrap();
    let keys: Vec<(&str, &str, ScanState)> = all
        .iter()
        .map(|r| (r.digest.as_str(), r.backend.as_str(), r.state))
        .collect();
    assert_eq!(
        keys,
        [
            ("sha256:a", "clair", ScanState::Done),
            ("sha256:a", "dummy", ScanState::Failed),
            ("sha256:b", "dummy", ScanState::Pending)
        ]
    );
    let a = store.scan_records(Some("sha256:a")).await.unwrap();
    assert_eq!(a[0], done, "reports round-trip");
    assert_eq!((a[1].attempts, a[1].error.as_deref()), (3, Some("connection refused")));
    assert!(a[1].next_attempt_at.is_some());
}

/// A scan is claimed by one worker only: the claim needs the record the worker saw, and a live
/// lease blocks everyone else until it expires.
pub async fn scans_are_claimed_once(store: &dyn ScanStore) {
    let now = crate::model::now();
    let lease = now + chrono::Duration::minutes(5);
    assert!(store.claim_scan("sha256:c", "dummy", None, lease).await.unwrap());
    assert!(
        !store.claim_scan("sha256:c", "dummy", None, lease).await.unwrap(),
        "a second worker that saw no record loses"
    );
    let claimed = store.scan_records(Some("sha256:c")).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        (claimed[0].state, claimed[0].next_attempt_at),
        (ScanState::Scanning, Some(lease))
    );
    assert!(
        !store
            .claim_scan("sha256:c", "dummy", Some(claimed[0].updated_at), lease)
            .await
            .unwrap(),
        "a live lease blocks even a worker that saw the current record"
    );
    assert!(
        store.claim_scan("sha256:c", "clair", None, lease).await.unwrap(),
        "per backend"
    );

    let expired = ScanRecord {
        next_attempt_at: Some(now - chrono::Duration::seconds(1)),
        ..claimed[0].clone()
    };
    store.put_scan_record(&expired).await.unwrap();
    let stale = claimed[0].updated_at - chrono::Duration::seconds(10);
    assert!(
        !store.claim_scan("sha256:c", "dummy", Some(stale), lease).await.unwrap(),
        "a worker that saw an older record loses"
    );
    let current = store.scan_records(Some("sha256:c")).await.unwrap();
    let dummy = current.iter().find(|r| r.backend == "dummy").unwrap();
    assert!(
        store
            .claim_scan("sha256:c", "dummy", Some(dummy.updated_at), lease)
            .await
            .unwrap(),
        "an expired lease can be taken over"
    );
    assert!(
        !store
            .claim_scan("sha256:c", "dummy", Some(dummy.updated_at), lease)
            .await
            .unwrap(),
        "but only once"
    );

    // Several backends at once, as a worker claims them.
    let wanted = vec![("a".to_owned(), None), ("b".to_owned(), None)];
    assert_eq!(store.claim_scans("sha256:m", &wanted, lease).await.unwrap(), ["a", "b"]);
    assert!(store.claim_scans("sha256:m", &wanted, lease).await.unwrap().is_empty());
    let mixed = vec![("b".to_owned(), None), ("c".to_owned(), None)];
    assert_eq!(store.claim_scans("sha256:m", &mixed, lease).await.unwrap(), ["c"]);
    let finished: Vec<ScanRecord> = ["a", "b", "c"]
        .into_iter()
        .map(|backend| ScanRecord {
            digest: "sha256:m".into(),
            backend: backend.into(),
            state: ScanState::Done,
            report: None,
            error: None,
            attempts: 0,
            updated_at: now,
            next_attempt_at: None,
        })
        .collect();
    store.put_scan_records(&finished).await.unwrap();
    let stored = store.scan_records(Some("sha256:m")).await.unwrap();
    assert_eq!(stored, finished, "all stored, in backend order");
}

/// Expands to one `#[tokio::test]` per check of this module, each on a fresh store made by
/// the given async expression; [`policy_store_conformance!`](crate::policy_store_conformance)
/// invokes it with the other roles' macros.
#[macro_export]
macro_rules! scan_store_conformance {
    ($make:expr) => {
        $crate::__conformance_tests!($make; scans;
            scan_records_are_kept_per_digest_and_backend,
            scans_are_claimed_once,
        );
    };
}
