//! How long one scan pass takes over 10,000 tags with 3 backends that each answer in 50 ms,
//! with the real worker and SQLite store; reports wall time and peak RSS.
//!
//! Run with `cargo bench --bench scan` (`SCAN_TAGS`, `SCAN_CONCURRENCY` change the size).

use std::sync::Arc;
use std::time::{Duration, Instant};

use portus::core::model::{ManifestRecord, MissingNamespace};
use portus::core::prelude::*;
use portus::core::store::SqliteStore;
use portus::core::testing::{ScriptedBackend, finding};
use portus::core::traits::{ScanReport, Severity, Vulnerability};
use portus::core::{InMemoryRegistry, PolicyStore};
use portus::scan::scanner::Scanner;
use portus::scan::worker::{PullAuthorization, ScanWorker, WorkerConfig};

/// A scanner that takes 50 ms and finds two vulnerabilities.
fn slow_scanner(name: &str) -> ScriptedBackend {
    let openssl = |id: &str, severity| Vulnerability {
        package: Some("openssl".into()),
        package_version: Some("1.1.1".into()),
        fixed_in: Some("1.1.1w".into()),
        links: vec![format!("https://example.org/{id}")],
        ..finding(id, severity)
    };
    let report = ScanReport {
        vulnerabilities: vec![
            openssl("CVE-2023-0001", Severity::High),
            openssl("CVE-2023-0002", Severity::Low),
        ],
    };
    ScriptedBackend::reporting(name, report).with_hook(|_| Box::pin(tokio::time::sleep(Duration::from_millis(50))))
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_owned())
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    // `cargo test` runs benches with --bench absent: keep that fast.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let tags: usize = std::env::var("SCAN_TAGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let concurrency: usize = std::env::var("SCAN_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn PolicyStore> = Arc::new(SqliteStore::open(&dir.path().join("scan.db")).await.unwrap());
        // The registry answers manifests at once: the scanners' latency is what is measured.
        let registry = Arc::new(InMemoryRegistry::new());
        for i in 0..tags {
            let manifest = ManifestRecord {
                digest: format!("sha256:{i:064x}"),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                size: None,
            };
            let repository = format!("ns{:03}/app{}", i / 100, i % 100 / 10);
            store
                .put_tag(
                    &repository,
                    &format!("v{}", i % 10),
                    &manifest,
                    None,
                    MissingNamespace::Create,
                )
                .await
                .unwrap();
            let top = format!("sha256:top-{i}");
            registry.push_image(
                &repository,
                &format!("v{}", i % 10),
                &manifest.digest,
                &["sha256:base", &top],
            );
        }
        let rss_before = peak_rss_kib();
        let mut scanner = Scanner::new(Duration::from_secs(30));
        for name in ["clair", "clair-legacy", "trivy-like"] {
            scanner.register(Arc::new(slow_scanner(name))).unwrap();
        }
        let authorization: PullAuthorization = Arc::new(|_: &str| Ok("Bearer bench".to_owned()));
        let config = WorkerConfig {
            concurrency,
            retry_base: Duration::from_secs(30),
            retry_max: Duration::from_secs(3600),
            rescan_after: Duration::from_secs(86_400),
            registry_url: "http://127.0.0.1:5000".into(),
            lease: Duration::from_secs(600),
        };
        let worker = ScanWorker::new(store.clone(), registry, scanner, authorization, config);
        let start = Instant::now();
        let report = worker.run_once(&|_, _| {}).await.unwrap();
        let elapsed = start.elapsed();
        assert_eq!(report.done, tags * 3);
        println!("scan pass: {tags} tags x 3 backends (50 ms each), concurrency {concurrency}");
        println!("  wall time: {:.1} s (target < 60 s)", elapsed.as_secs_f64());
        println!("  backend scans/s: {:.0}", (tags * 3) as f64 / elapsed.as_secs_f64());
        println!(
            "  peak RSS: {} MiB (after loading the store and the registry: {} MiB)",
            peak_rss_kib() / 1024,
            rss_before / 1024
        );
    });
}
