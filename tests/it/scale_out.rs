//! Several `portus serve` instances share one PostgreSQL database: their scan workers split the
//! queue, and no (digest, backend) scan runs twice at once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use portus::core::model::{ManifestRecord, MissingNamespace, ScanState};
use portus::core::prelude::*;
use portus::core::store::PostgresStore;
use portus::core::traits::{ImageRef, ManifestInfo, ScanOutcome, ScanReport, SecurityBackend};
use portus::core::{PolicyStore, RegistryClient};
use portus::scan::scanner::Scanner;
use portus::scan::worker::{PullAuthorization, ScanWorker, WorkerConfig};

use portus::core::store::postgres_testing::fresh_database as postgres_database;

struct InstantRegistry;

#[async_trait]
impl RegistryClient for InstantRegistry {
    async fn catalog(&self) -> portus::core::Result<Vec<String>> {
        Ok(vec![])
    }
    async fn tags(&self, _: &str) -> portus::core::Result<Vec<String>> {
        Ok(vec![])
    }
    async fn head_manifest(&self, _: &str, _: &str) -> portus::core::Result<ManifestRecord> {
        unreachable!("the worker reads whole manifests")
    }
    async fn manifest(&self, _: &str, reference: &str) -> portus::core::Result<ManifestInfo> {
        Ok(ManifestInfo {
            record: ManifestRecord {
                digest: reference.into(),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                size: None,
            },
            layers: vec![format!("sha256:layer-{reference}")],
            children: vec![],
        })
    }
    async fn delete_manifest(&self, _: &str, _: &str) -> portus::core::Result<()> {
        Ok(())
    }
}

/// Counts how often each digest is scanned, and how many scans overlap, over all instances.
#[derive(Default)]
struct CountingBackend {
    scans: Mutex<HashMap<String, usize>>,
    running: Mutex<HashMap<String, usize>>,
    overlaps: Mutex<usize>,
    /// The instances that have started a scan.
    instances: Mutex<HashSet<usize>>,
}

impl CountingBackend {
    /// Holds every scan until a second instance has started one (or 30 s have passed), so the
    /// instances work at the same time however late a loaded machine schedules them: one that
    /// claimed more than its share would leave the others nothing, and the test sees that.
    async fn wait_for_a_second_instance(&self, instance: usize) {
        self.instances.lock().unwrap().insert(instance);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.instances.lock().unwrap().len() < 2 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// One instance's view of the shared [`CountingBackend`].
struct InstanceBackend {
    instance: usize,
    shared: Arc<CountingBackend>,
}

#[async_trait]
impl SecurityBackend for InstanceBackend {
    fn name(&self) -> &str {
        "counting"
    }
    async fn scan(&self, image: &ImageRef) -> portus::core::Result<ScanOutcome> {
        let shared = &self.shared;
        shared.wait_for_a_second_instance(self.instance).await;
        {
            let mut running = shared.running.lock().unwrap();
            let now = running.entry(image.digest.clone()).or_default();
            *now += 1;
            if *now > 1 {
                *shared.overlaps.lock().unwrap() += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        *shared.running.lock().unwrap().get_mut(&image.digest).unwrap() -= 1;
        *shared.scans.lock().unwrap().entry(image.digest.clone()).or_default() += 1;
        Ok(ScanOutcome::Finished(ScanReport::default()))
    }
    async fn health(&self) -> portus::core::Result<()> {
        Ok(())
    }
}

fn worker(store: Arc<dyn PolicyStore>, instance: usize, shared: Arc<CountingBackend>) -> ScanWorker {
    let mut scanner = Scanner::new(Duration::from_secs(60));
    scanner
        .register(Arc::new(InstanceBackend { instance, shared }))
        .unwrap();
    let authorization: PullAuthorization = Arc::new(|_: &str| Ok("Bearer test".to_owned()));
    let config = WorkerConfig {
        concurrency: 8,
        retry_base: Duration::from_secs(60),
        retry_max: Duration::from_secs(3600),
        rescan_after: Duration::from_secs(86_400),
        registry_url: "http://127.0.0.1:5000".into(),
        lease: Duration::from_secs(600),
    };
    ScanWorker::new(store, Arc::new(InstantRegistry), scanner, authorization, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_the_scan_queue_on_postgres() {
    let url = postgres_database().await;
    // One store (connection pool) per instance, as separate `portus serve` processes have.
    let mut stores: Vec<Arc<dyn PolicyStore>> = Vec::new();
    for _ in 0..3 {
        stores.push(Arc::new(PostgresStore::connect(&url, 4).await.unwrap()));
    }
    const TAGS: usize = 60;
    for i in 0..TAGS {
        let manifest = ManifestRecord {
            digest: format!("sha256:{i:064x}"),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            size: None,
        };
        stores[0]
            .put_tag(
                &format!("lib{}", i % 3),
                &format!("v{i}"),
                &manifest,
                None,
                MissingNamespace::Create,
            )
            .await
            .unwrap();
    }
    // One counting object shared by the three workers, so it sees every scan of every instance.
    let backend = Arc::new(CountingBackend::default());
    let workers: Vec<ScanWorker> = stores
        .iter()
        .enumerate()
        .map(|(instance, store)| worker(store.clone(), instance, backend.clone()))
        .collect();
    let (a, b, c) = tokio::join!(
        workers[0].run_once(&|_, _| {}),
        workers[1].run_once(&|_, _| {}),
        workers[2].run_once(&|_, _| {})
    );
    let done: Vec<usize> = [a, b, c].into_iter().map(|r| r.unwrap().done).collect();

    let scans = backend.scans.lock().unwrap().clone();
    assert_eq!(scans.len(), TAGS, "every digest scanned");
    assert!(scans.values().all(|&n| n == 1), "no digest scanned twice: {scans:?}");
    assert_eq!(*backend.overlaps.lock().unwrap(), 0);
    assert_eq!(done.iter().sum::<usize>(), TAGS, "{done:?}");
    assert!(
        done.iter().filter(|&&n| n > 0).count() >= 2,
        "the work was shared between instances: {done:?}"
    );
    let records = stores[2].scan_records(None).await.unwrap();
    assert_eq!(records.len(), TAGS);
    assert!(records.iter().all(|r| r.state == ScanState::Done));

    // A second round finds nothing due anywhere.
    for worker in &workers {
        assert_eq!(worker.run_once(&|_, _| {}).await.unwrap().digests, 0);
    }
}
