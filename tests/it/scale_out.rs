//! Several `portus serve` instances share one PostgreSQL database: their scan workers split the
//! queue, and no (digest, backend) scan runs twice at once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portus::core::model::{ManifestRecord, MissingNamespace, ScanState};
use portus::core::prelude::*;
use portus::core::store::PostgresStore;
use portus::core::testing::ScriptedBackend;
use portus::core::traits::ImageRef;
use portus::core::{InMemoryRegistry, PolicyStore};
use portus::scan::scanner::Scanner;
use portus::scan::worker::{PullAuthorization, ScanWorker, WorkerConfig};

use portus::core::store::postgres_testing::fresh_database as postgres_database;

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

    /// One instance's scan of `image`: waits for a second instance, counts the scans of the
    /// digest running at once (a second one is an overlap), takes 20 ms, counts the scan.
    async fn scan(self: Arc<Self>, instance: usize, image: ImageRef) {
        self.wait_for_a_second_instance(instance).await;
        {
            let mut running = self.running.lock().unwrap();
            let now = running.entry(image.digest.clone()).or_default();
            *now += 1;
            if *now > 1 {
                *self.overlaps.lock().unwrap() += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        *self.running.lock().unwrap().get_mut(&image.digest).unwrap() -= 1;
        *self.scans.lock().unwrap().entry(image.digest.clone()).or_default() += 1;
    }
}

fn worker(
    store: Arc<dyn PolicyStore>,
    registry: Arc<InMemoryRegistry>,
    instance: usize,
    shared: Arc<CountingBackend>,
) -> ScanWorker {
    // One instance's view of the shared counting backend: a clean scan after the count.
    let backend = ScriptedBackend::clean("counting")
        .with_hook(move |image| Box::pin(shared.clone().scan(instance, image.clone())));
    let mut scanner = Scanner::new(Duration::from_secs(60));
    scanner.register(Arc::new(backend)).unwrap();
    let authorization: PullAuthorization = Arc::new(|_: &str| Ok("Bearer test".to_owned()));
    let config = WorkerConfig {
        concurrency: 8,
        retry_base: Duration::from_secs(60),
        retry_max: Duration::from_secs(3600),
        rescan_after: Duration::from_secs(86_400),
        registry_url: "http://127.0.0.1:5000".into(),
        lease: Duration::from_secs(600),
    };
    ScanWorker::new(store, registry, scanner, authorization, config)
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
    // The registry answers manifests at once; every instance reads the same one.
    let registry = Arc::new(InMemoryRegistry::new());
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
        let layer = format!("sha256:layer-{i}");
        registry.push_image(&format!("lib{}", i % 3), &format!("v{i}"), &manifest.digest, &[&layer]);
    }
    // One counting object shared by the three workers, so it sees every scan of every instance.
    let backend = Arc::new(CountingBackend::default());
    let workers: Vec<ScanWorker> = stores
        .iter()
        .enumerate()
        .map(|(instance, store)| worker(store.clone(), registry.clone(), instance, backend.clone()))
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

/// Two instances' event pipelines on one PostgreSQL database, woken at once (each received
/// part of the registry's notifications, or one's periodic pass meets the other's wake-up):
/// every event is applied once and in order. Without the applier lock both read the same
/// pending events and apply them twice: each pull counted twice, the push re-applied after
/// the delete that followed it (recorded twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_apply_each_registry_event_once_and_in_order() {
    use portus::core::model::ActivityFilter;
    use portus::scan::events::EventPipeline;
    const PULLS: usize = 150;
    const OCI: &str = "application/vnd.oci.image.manifest.v1+json";
    let url = postgres_database().await;
    let first = Arc::new(PostgresStore::connect(&url, 4).await.unwrap());
    // One connection asked for: the applier's lock must not take the one its work needs.
    let second = Arc::new(PostgresStore::connect(&url, 1).await.unwrap());
    let digest = format!("sha256:{:064x}", 1);
    let event = |id: String, action: &str, tag: &str| {
        serde_json::json!({"id": id, "action": action, "actor": {"name": "alice"},
            "timestamp": "2026-11-30T10:00:00Z",
            "target": {"mediaType": OCI, "digest": digest, "repository": "alice/app", "tag": tag}})
    };
    // The first push, then many pulls of it, a second tag pushed and deleted at the end.
    let mut events = vec![event("push-1".into(), "push", "1")];
    events.extend((0..PULLS).map(|i| event(format!("pull-{i}"), "pull", "1")));
    events.push(event("push-2".into(), "push", "2"));
    let delete = serde_json::json!({"id": "delete-2", "action": "delete", "actor": {"name": "alice"},
        "target": {"repository": "alice/app", "tag": "2"}});
    events.push(delete);
    let envelope = serde_json::to_vec(&serde_json::json!({ "events": events })).unwrap();
    let pipelines = [
        EventPipeline::new(first.clone(), MissingNamespace::Create),
        EventPipeline::new(second.clone(), MissingNamespace::Create),
    ];
    assert_eq!(pipelines[0].ingest(&envelope).await.unwrap().accepted, PULLS + 3);

    let (a, b) = tokio::join!(pipelines[0].drain(), pipelines[1].drain());
    let applied = a.unwrap() + b.unwrap();

    let tag = second.tag("alice/app", "1").await.unwrap().expect("tag 1 recorded");
    assert_eq!(tag.pull_count, PULLS as u64, "each pull counted once");
    assert_eq!(applied, PULLS + 3, "each event processed once over both instances");
    assert!(second.tag("alice/app", "2").await.unwrap().is_none(), "deleted last");
    let actions: Vec<String> = second
        .activities(&ActivityFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|a| format!("{} {}", a.action, a.target))
        .collect();
    let mut sorted = actions.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["tag.delete alice/app:2", "tag.push alice/app:1", "tag.push alice/app:2"],
        "one activity per push and delete: {actions:?}"
    );
}
