//! The kept per-repository figures (the figures upkeep of [`CatalogStore`] and [`ScanStore`]):
//! what a store keeps equals what [`RepositorySummary::recompute`] makes of its tags and scan
//! records, after every kind of write.

use chrono::{Duration, Utc};

use crate::model::{
    ListQuery, ManifestRecord, MissingNamespace, RepositoryFilter, RepositorySort, RepositorySummary, ScanRecord,
    ScanState,
};
use crate::prelude::*;
use crate::traits::{ScanReport, Severity, Vulnerability};

fn manifest(digest: &str) -> ManifestRecord {
    ManifestRecord {
        digest: digest.into(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: Some(10),
    }
}

/// A record of `backend` for `digest` in `state`, finding `vulns` when done.
pub fn scan(digest: &str, backend: &str, state: ScanState, vulns: &[(&str, Severity)]) -> ScanRecord {
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
        error: (state == ScanState::Failed).then(|| "boom".to_owned()),
        attempts: u32::from(state == ScanState::Failed),
        updated_at: crate::model::now(),
        next_attempt_at: (state == ScanState::Failed).then(|| crate::model::now() + Duration::minutes(5)),
    }
}

pub(crate) async fn push(store: &dyn PolicyStore, repository: &str, tag: &str, digest: &str) {
    store
        .put_tag(repository, tag, &manifest(digest), None, MissingNamespace::Create)
        .await
        .expect("put tag");
}

/// Asserts that the figures `store` keeps for every repository equal the recomputed ones, and
/// that a rebuild finds nothing to correct.
pub async fn assert_kept_figures_are_recomputed(store: &dyn PolicyStore, step: &str) {
    let tags = store.tags(None).await.unwrap();
    let records = store.scan_records(None).await.unwrap();
    let scope = store.scan_scope().await.unwrap();
    let mut expected = RepositorySummary::recompute(&tags, &records, &scope);
    let kept = store
        .repositories_page(&RepositoryFilter::default(), &ListQuery::all(RepositorySort::Name))
        .await
        .unwrap();
    assert_eq!(kept.total as usize, kept.items.len(), "{step}");
    for listing in &kept.items {
        let want = expected.remove(&listing.repository.name).unwrap_or_default();
        assert_eq!(listing.summary, want, "{step}: figures of {}", listing.repository.name);
    }
    assert!(
        expected.is_empty(),
        "{step}: tags of unlisted repositories {expected:?}"
    );
    let rebuilt = store.rebuild_summaries().await.unwrap();
    assert_eq!(rebuilt.corrected, 0, "{step}: a rebuild corrected kept figures");
}

/// The kept figures follow pushes, moves, deletes, scans, failures, claims, rescans, a change
/// of the configured scanners and deleted repositories.
pub async fn kept_figures_follow_every_write(store: &dyn PolicyStore) {
    let step = |s: &'static str| s;
    assert!(store.set_scan_scope(&["a".into(), "b".into()]).await.unwrap());
    assert!(
        !store
            .set_scan_scope(&["b".into(), "a".into(), "a".into()])
            .await
            .unwrap()
    );
    assert_eq!(store.scan_scope().await.unwrap(), ["a", "b"]);
    push(store, "web/app", "1", "sha256:d1").await;
    push(store, "web/app", "2", "sha256:d1").await;
    push(store, "web/app", "3", "sha256:d2").await;
    push(store, "ops/tool", "1", "sha256:d1").await;
    store
        .ensure_repository("ops/empty", MissingNamespace::Create)
        .await
        .unwrap();
    assert_kept_figures_are_recomputed(store, step("pushed")).await;

    store
        .put_scan_record(&scan(
            "sha256:d1",
            "a",
            ScanState::Done,
            &[("CVE-1", Severity::High), ("CVE-2", Severity::Low)],
        ))
        .await
        .unwrap();
    assert_kept_figures_are_recomputed(store, step("one scanner done")).await;
    store
        .put_scan_records(&[
            scan("sha256:d1", "b", ScanState::Done, &[("CVE-1", Severity::Critical)]),
            scan("sha256:d2", "a", ScanState::Failed, &[]),
        ])
        .await
        .unwrap();
    let page = store
        .repositories_page(&RepositoryFilter::default(), &ListQuery::all(RepositorySort::Name))
        .await
        .unwrap();
    let app = page.items.iter().find(|l| l.repository.name == "web/app").unwrap();
    assert_eq!(
        (app.summary.tags, app.summary.tags_done, app.summary.tags_failed),
        (3, 2, 1)
    );
    assert_eq!(
        app.summary.counts,
        [(Severity::Low, 1), (Severity::Critical, 1)].into_iter().collect(),
        "merged per image, tags 1 and 2 of d1 counted once"
    );
    assert_kept_figures_are_recomputed(store, step("both done, one failed")).await;

    push(store, "web/app", "3", "sha256:d1").await;
    assert_kept_figures_are_recomputed(store, step("moved to a scanned image")).await;
    push(store, "web/app", "2", "sha256:d3").await;
    assert_kept_figures_are_recomputed(store, step("moved to a new image")).await;
    store.delete_tag("web/app", "1").await.unwrap();
    assert_kept_figures_are_recomputed(store, step("tag deleted")).await;
    store.delete_tags_by_digest("web/app", "sha256:d1").await.unwrap();
    assert_kept_figures_are_recomputed(store, step("tags deleted by digest")).await;

    let failed = store.scan_records(Some("sha256:d2")).await.unwrap();
    push(store, "web/app", "4", "sha256:d2").await;
    assert!(
        store
            .claim_scan(
                "sha256:d2",
                "a",
                Some(failed[0].updated_at),
                Utc::now() + Duration::minutes(5)
            )
            .await
            .unwrap()
    );
    assert_kept_figures_are_recomputed(store, step("failed scan claimed again")).await;

    let rescan: Vec<ScanRecord> = store
        .scan_records(Some("sha256:d1"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| ScanRecord {
            state: ScanState::Pending,
            report: None,
            ..r
        })
        .collect();
    store.put_scan_records(&rescan).await.unwrap();
    assert_kept_figures_are_recomputed(store, step("rescan requested")).await;
    store
        .put_scan_records(&[
            scan("sha256:d1", "a", ScanState::Done, &[("CVE-9", Severity::Medium)]),
            scan("sha256:d1", "b", ScanState::Done, &[]),
        ])
        .await
        .unwrap();
    assert_kept_figures_are_recomputed(store, step("rescanned")).await;

    assert!(store.set_scan_scope(&["a".into()]).await.unwrap());
    assert_kept_figures_are_recomputed(store, step("scanner b removed")).await;
    assert!(store.set_scan_scope(&[]).await.unwrap());
    assert_kept_figures_are_recomputed(store, step("no scanner")).await;
    assert!(store.set_scan_scope(&["a".into(), "b".into()]).await.unwrap());

    store.delete_repository("ops/tool").await.unwrap();
    assert_kept_figures_are_recomputed(store, step("repository deleted")).await;
    let ops = store
        .namespace(crate::model::NamespaceRef::Named("ops"))
        .await
        .unwrap()
        .expect("ops");
    store.delete_namespace(ops.id).await.unwrap();
    assert_kept_figures_are_recomputed(store, step("namespace deleted")).await;
}

/// The kept figures of `repository`: tags, tags done, tags failed and findings by severity.
async fn figures_of(store: &dyn PolicyStore, repository: &str) -> (u64, u64, u64, Vec<(Severity, u64)>) {
    let page = store
        .repositories_page(&RepositoryFilter::default(), &ListQuery::all(RepositorySort::Name))
        .await
        .unwrap();
    let summary = page
        .items
        .into_iter()
        .find(|l| l.repository.name == repository)
        .map(|l| l.summary)
        .unwrap_or_default();
    (
        summary.tags,
        summary.tags_done,
        summary.tags_failed,
        summary.counts.into_iter().collect(),
    )
}

/// A repository's findings count each of its images once however many of its tags point at
/// it, through pushes, deletes, moves and rescans, and in each repository holding the image;
/// its tags in each scan state still count per tag.
pub async fn findings_count_each_image_once(store: &dyn PolicyStore) {
    use Severity::{High, Low, Medium};
    assert!(store.set_scan_scope(&["a".into()]).await.unwrap());
    let three = [("CVE-1", High), ("CVE-2", Medium), ("CVE-3", Low)];
    push(store, "web/app", "1", "sha256:i1").await;
    push(store, "web/app", "2", "sha256:i1").await;
    store
        .put_scan_record(&scan("sha256:i1", "a", ScanState::Done, &three))
        .await
        .unwrap();
    let once = vec![(Low, 1), (Medium, 1), (High, 1)];
    assert_eq!(
        figures_of(store, "web/app").await,
        (2, 2, 0, once.clone()),
        "two tags of one scanned image: its findings once, both tags done"
    );
    assert_kept_figures_are_recomputed(store, "two tags, one image").await;

    push(store, "web/app", "3", "sha256:i1").await;
    assert_eq!(
        figures_of(store, "web/app").await,
        (3, 3, 0, once.clone()),
        "a third tag of a scanned image adds no findings"
    );
    store.delete_tag("web/app", "1").await.unwrap();
    assert_eq!(
        figures_of(store, "web/app").await,
        (2, 2, 0, once.clone()),
        "one tag deleted: the image still counts"
    );
    assert_kept_figures_are_recomputed(store, "one of the tags deleted").await;

    store
        .put_scan_record(&scan("sha256:i2", "a", ScanState::Done, &[("CVE-4", High)]))
        .await
        .unwrap();
    push(store, "web/app", "2", "sha256:i2").await;
    assert_eq!(
        figures_of(store, "web/app").await,
        (2, 2, 0, vec![(Low, 1), (Medium, 1), (High, 2)]),
        "a tag moved to another image: both images count, the first still held by tag 3"
    );
    push(store, "web/app", "3", "sha256:i2").await;
    assert_eq!(
        figures_of(store, "web/app").await,
        (2, 2, 0, vec![(High, 1)]),
        "the last tag of i1 moved away: only i2 counts, once"
    );
    assert_kept_figures_are_recomputed(store, "tags moved").await;

    push(store, "ops/tool", "x", "sha256:i2").await;
    push(store, "ops/tool", "y", "sha256:i2").await;
    store
        .put_scan_record(&scan("sha256:i2", "a", ScanState::Done, &three))
        .await
        .unwrap();
    for repository in ["web/app", "ops/tool"] {
        assert_eq!(
            figures_of(store, repository).await,
            (2, 2, 0, once.clone()),
            "{repository}: a shared image rescanned with other findings counts once in each repository"
        );
    }
    store
        .put_scan_record(&scan("sha256:i2", "a", ScanState::Failed, &[]))
        .await
        .unwrap();
    for repository in ["web/app", "ops/tool"] {
        assert_eq!(
            figures_of(store, repository).await,
            (2, 0, 2, Vec::new()),
            "{repository}: its failure counts per tag, its findings are gone"
        );
    }
    store
        .put_scan_record(&scan("sha256:i2", "a", ScanState::Done, &[("CVE-5", Medium)]))
        .await
        .unwrap();
    assert_kept_figures_are_recomputed(store, "shared image rescanned").await;

    store.delete_tag("web/app", "2").await.unwrap();
    store.delete_tag("web/app", "3").await.unwrap();
    assert_eq!(
        figures_of(store, "web/app").await,
        (0, 0, 0, Vec::new()),
        "both tags of the image deleted: nothing left"
    );
    assert_eq!(
        figures_of(store, "ops/tool").await,
        (2, 2, 0, vec![(Medium, 1)]),
        "the other repository keeps the image"
    );
    store.delete_tags_by_digest("ops/tool", "sha256:i2").await.unwrap();
    assert_eq!(figures_of(store, "ops/tool").await, (0, 0, 0, Vec::new()));
    assert_kept_figures_are_recomputed(store, "every tag deleted").await;
}

/// Two tags (`web/app:1`, `web/app:2`) of one image with three findings (one high, one medium,
/// one low), scanned by scanner `a`: what a store's migration of figures kept per tag is
/// checked on (the store sets its columns as they were kept before, runs the migration, then
/// calls [`assert_kept_figures_are_recomputed`]).
pub async fn two_tags_of_one_scanned_image(store: &dyn PolicyStore) {
    assert!(store.set_scan_scope(&["a".into()]).await.unwrap());
    push(store, "web/app", "1", "sha256:i1").await;
    push(store, "web/app", "2", "sha256:i1").await;
    let three = [
        ("CVE-1", Severity::High),
        ("CVE-2", Severity::Medium),
        ("CVE-3", Severity::Low),
    ];
    store
        .put_scan_record(&scan("sha256:i1", "a", ScanState::Done, &three))
        .await
        .unwrap();
}

/// Two tags of `web/charts` recognized as Helm charts, next to an image tag of `web/app`.
pub async fn charts_recognized(store: &dyn PolicyStore) {
    use crate::model::{Artifact, ArtifactKind};
    let chart = Artifact {
        kind: ArtifactKind::HelmChart,
        ..Artifact::image()
    };
    push(store, "web/app", "1", "sha256:i1").await;
    for (tag, digest) in [("0.1.0", "sha256:c1"), ("0.2.0", "sha256:c2")] {
        push(store, "web/charts", tag, digest).await;
        assert!(store.record_artifact("web/charts", tag, digest, &chart).await.unwrap());
    }
}

/// The images [`concurrent_pushes`] and [`concurrent_scans`] share.
fn concurrent_digests() -> Vec<String> {
    (0..8).map(|i| format!("sha256:c{i}")).collect()
}

/// One of the writers interleaving on the same images (run several, as `worker` 0, 1, ...,
/// with [`concurrent_scans`] on another store of the same database, then
/// [`assert_kept_figures_are_recomputed`]): pushes, moves and deletes.
pub async fn concurrent_pushes(store: &dyn PolicyStore, worker: usize) {
    let digests = concurrent_digests();
    for round in 0..10 {
        for (i, digest) in digests.iter().enumerate() {
            push(
                store,
                &format!("team/app{}", i % 3),
                &format!("w{worker}-t{round}-{i}"),
                digest,
            )
            .await;
        }
        // A tag moving between two images, and one deleted.
        push(
            store,
            "team/app1",
            &format!("w{worker}-moving"),
            &digests[round % digests.len()],
        )
        .await;
        store
            .delete_tag("team/app0", &format!("w{worker}-t{round}-0"))
            .await
            .unwrap();
    }
}

/// The scanning writer of [`concurrent_pushes`]: `worker` 0 writes scanner `a`'s results, 1
/// scanner `b`'s, failures among them.
pub async fn concurrent_scans(store: &dyn PolicyStore, worker: usize) {
    let backend = if worker.is_multiple_of(2) { "a" } else { "b" };
    for round in 0..10 {
        for (i, digest) in concurrent_digests().iter().enumerate() {
            let state = if (i + round) % 3 == 0 {
                ScanState::Failed
            } else {
                ScanState::Done
            };
            store
                .put_scan_record(&scan(
                    digest,
                    backend,
                    state,
                    &[(&format!("CVE-{round}-{worker}"), Severity::High)],
                ))
                .await
                .unwrap();
        }
    }
}

/// The kept figures of `repository` as lists show them.
async fn summary_of(store: &dyn PolicyStore, repository: &str) -> RepositorySummary {
    let page = store
        .repositories_page(&RepositoryFilter::default(), &ListQuery::all(RepositorySort::Name))
        .await
        .unwrap();
    page.items
        .into_iter()
        .find(|l| l.repository.name == repository)
        .map(|l| l.summary)
        .unwrap_or_default()
}

/// Tags recognized as holding no image (charts, signatures) are counted apart and not pending,
/// through recognition, a second recognition, moves and deletes; a repository holding nothing
/// else holds only non-images.
pub async fn not_images_are_counted_apart(store: &dyn PolicyStore) {
    use crate::model::{Artifact, ArtifactKind, ChartInfo};
    let chart = Artifact {
        chart: Some(ChartInfo {
            name: "demo".into(),
            version: "0.1.0".into(),
        }),
        artifact_type: Some("application/vnd.cncf.helm.config.v1+json".into()),
        kind: ArtifactKind::HelmChart,
        ..Artifact::image()
    };
    let image = Artifact::image();
    let signature = Artifact {
        subject: Some("sha256:i1".into()),
        kind: ArtifactKind::Signature,
        ..Artifact::image()
    };
    assert!(store.set_scan_scope(&["a".into()]).await.unwrap());
    push(store, "web/charts", "0.1.0", "sha256:c1").await;
    push(store, "web/charts", "0.2.0", "sha256:c2").await;
    push(store, "web/app", "1", "sha256:i1").await;
    push(store, "web/app", "sig", "sha256:s1").await;
    let unknown = summary_of(store, "web/charts").await;
    assert_eq!(
        (unknown.tags_not_images, unknown.tags_pending()),
        (0, 2),
        "not read yet: images"
    );

    for (repository, tag, digest, artifact) in [
        ("web/charts", "0.1.0", "sha256:c1", &chart),
        ("web/charts", "0.2.0", "sha256:c2", &chart),
        ("web/app", "1", "sha256:i1", &image),
        ("web/app", "sig", "sha256:s1", &signature),
    ] {
        assert!(store.record_artifact(repository, tag, digest, artifact).await.unwrap());
    }
    assert!(
        !store
            .record_artifact("web/app", "1", "sha256:other", &chart)
            .await
            .unwrap(),
        "moved meanwhile"
    );
    let charts = summary_of(store, "web/charts").await;
    assert_eq!((charts.tags, charts.tags_not_images, charts.tags_pending()), (2, 2, 0));
    assert!(charts.only_not_images());
    let app = summary_of(store, "web/app").await;
    assert_eq!(
        (app.tags, app.tags_not_images, app.tags_pending()),
        (2, 1, 1),
        "the signature is not pending"
    );
    assert!(!app.only_not_images());
    assert_kept_figures_are_recomputed(store, "recognized").await;

    assert!(
        store
            .record_artifact("web/charts", "0.1.0", "sha256:c1", &chart)
            .await
            .unwrap()
    );
    assert_eq!(
        summary_of(store, "web/charts").await.tags_not_images,
        2,
        "recognized twice, counted once"
    );
    assert!(
        store
            .record_artifact("web/app", "1", "sha256:i1", &image)
            .await
            .unwrap()
    );
    assert_kept_figures_are_recomputed(store, "recognized again").await;

    push(store, "web/charts", "0.2.0", "sha256:i9").await;
    let moved = summary_of(store, "web/charts").await;
    assert_eq!(
        (moved.tags_not_images, moved.tags_pending()),
        (1, 1),
        "moved to an unread manifest"
    );
    assert!(!moved.only_not_images());
    assert_kept_figures_are_recomputed(store, "a chart tag moved").await;
    store.delete_tag("web/charts", "0.1.0").await.unwrap();
    assert_eq!(summary_of(store, "web/charts").await.tags_not_images, 0);
    assert_kept_figures_are_recomputed(store, "a chart tag deleted").await;
    store.delete_tags_by_digest("web/app", "sha256:s1").await.unwrap();
    assert_eq!(summary_of(store, "web/app").await.tags_not_images, 0);
    assert_kept_figures_are_recomputed(store, "a signature deleted by digest").await;
    assert!(
        store
            .record_artifact("web/app", "1", "sha256:i1", &chart)
            .await
            .unwrap()
    );
    assert_eq!(summary_of(store, "web/app").await.tags_not_images, 1);
    assert!(
        store
            .record_artifact("web/app", "1", "sha256:i1", &image)
            .await
            .unwrap()
    );
    assert_eq!(
        summary_of(store, "web/app").await.tags_not_images,
        0,
        "recognized as an image after all"
    );
    assert_kept_figures_are_recomputed(store, "recognized otherwise").await;
}

/// Runs the checks of this module (see [`policy_store_conformance!`](crate::policy_store_conformance)).
#[macro_export]
macro_rules! summary_store_conformance {
    ($make:expr) => {
        $crate::__conformance_tests!($make; summaries;
            kept_figures_follow_every_write,
            findings_count_each_image_once,
            not_images_are_counted_apart,
        );
    };
}
