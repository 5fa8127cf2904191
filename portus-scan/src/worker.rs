//! Background scanning: every recorded tag's manifest is scanned by every backend; results are
//! stored per (digest, backend). Failures and "come back later" answers are retried with
//! exponential backoff (the record keeps the error, and a tag is never shown clean meanwhile);
//! finished scans are repeated after `rescan_after` so new vulnerabilities show up.
//!
//! Several workers (one per `portus serve` instance) may share a store: each claims a
//! (digest, backend) scan before running it ([`ScanStore::claim_scans`]), so no scan runs twice
//! at once, and a claim whose worker died expires with its lease.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, stream};
use portus_core::model::{ScanRecord, ScanState, TagRecord, WebhookEvent};
use portus_core::prelude::*;
use portus_core::traits::{ImageRef, Layer, Severity};
use portus_core::{PolicyStore, RegistryClient};

use crate::Error;
use crate::aggregate::{BackendResult, TagSecurity, merge_tag};
use crate::scanner::Scanner;

/// Mints the `Authorization` header value scanners use to download a repository's layers.
pub type PullAuthorization = Arc<dyn Fn(&str) -> portus_core::Result<String> + Send + Sync>;

/// Worker settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Digests scanned at the same time.
    pub concurrency: usize,
    /// First retry delay after a failure or a pending answer; doubled per attempt.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// Finished scans are repeated after this long.
    pub rescan_after: Duration,
    /// The registry's URL as scanners reach it (for layer download URLs).
    pub registry_url: String,
    /// How long a claimed scan stays reserved for this worker; after that another instance
    /// may take it over (this one crashed or hung). Longer than any scan should take.
    pub lease: Duration,
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkReport {
    /// Digests that had work.
    pub digests: usize,
    /// Backend scans that finished.
    pub done: usize,
    /// Backend scans still pending.
    pub pending: usize,
    /// Backend scans that failed.
    pub failed: usize,
}

/// Scans what needs scanning.
///
/// Store roles used: [`ScanStore`] (the records it reads, claims and writes) and
/// [`CatalogStore`] (only to list the tags whose digests need scanning). [`new`](Self::new)
/// takes the whole store, [`from_roles`](Self::from_roles) each role on its own.
pub struct ScanWorker {
    scans: Arc<dyn ScanStore>,
    catalog: Arc<dyn CatalogStore>,
    registry: Arc<dyn RegistryClient>,
    scanner: Scanner,
    authorization: PullAuthorization,
    config: WorkerConfig,
    /// Where scan outcomes are queued for outgoing webhooks, when set.
    webhooks: std::sync::OnceLock<crate::webhooks::WebhookQueue>,
    /// Where scanner failures are reported (metrics).
    observer: portus_core::observe::ObserverSlot,
}

/// The images to scan for `reference` (the manifest itself, or each platform of an index) and
/// their sizes from the registry's manifests (config and layers; for an index, each
/// platform's and their sum, see [`ManifestInfo::sizes`](portus_core::traits::ManifestInfo::sizes)).
pub async fn images_for(
    registry: &dyn RegistryClient,
    registry_url: &str,
    repository: &str,
    reference: &str,
    authorization: Option<String>,
) -> portus_core::Result<(Vec<ImageRef>, Option<portus_core::model::ImageSizes>)> {
    let top = registry.manifest(repository, reference).await?;
    // Only images go to scanners: a chart or a signature would come back "clean".
    let tag = (!reference.contains(':')).then_some(reference);
    let artifact = portus_core::model::classify(tag, &top.facts);
    if !artifact.kind.is_scannable() {
        return Err(portus_core::Error::Invalid(format!(
            "{repository}:{reference} is not an image ({}): not scanned",
            artifact.describe()
        )));
    }
    let children = crate::sizes::children_of(registry, repository, &top).await?;
    let size = top.sizes(&children);
    let manifests = if top.children.is_empty() { vec![top] } else { children };
    let base = registry_url.trim_end_matches('/');
    let images = manifests
        .into_iter()
        .map(|m| ImageRef {
            repository: repository.to_owned(),
            tag: reference.to_owned(),
            digest: m.record.digest,
            layers: m
                .layers
                .into_iter()
                .map(|digest| Layer {
                    url: format!("{base}/v2/{repository}/blobs/{digest}"),
                    digest,
                    media_type: None,
                })
                .collect(),
            registry_authorization: authorization.clone(),
        })
        .collect();
    Ok((images, size))
}

/// The merged security view of a digest from its stored records; backends without a record
/// are pending.
pub fn tag_security(records: &[ScanRecord], backends: &[&str]) -> TagSecurity {
    let results: BTreeMap<String, BackendResult> = backends
        .iter()
        .map(|name| {
            let result = match records.iter().find(|r| r.backend == *name) {
                Some(ScanRecord {
                    state: ScanState::Done,
                    report: Some(report),
                    ..
                }) => BackendResult::Done { report: report.clone() },
                Some(ScanRecord {
                    state: ScanState::Failed,
                    error,
                    ..
                }) => BackendResult::Failed {
                    error: error.clone().unwrap_or_default(),
                },
                Some(ScanRecord {
                    state: ScanState::Scanning,
                    ..
                }) => BackendResult::Scanning,
                _ => BackendResult::Pending,
            };
            ((*name).to_owned(), result)
        })
        .collect();
    merge_tag(&results)
}

/// Forces a new scan of `digest` (or of every digest with `None`) by every backend that
/// scanned it, at the next pass of any worker — Portus' "force rescan", which reset tags to
/// `scan_none`. A worker scans a (digest, backend) when it has no record, or its record is due
/// ([`ScanWorker`]'s rule); so every finished, failed or pending record becomes pending, due
/// now, with its attempts and backoff forgotten. A record being scanned right now is left
/// alone: that scan is already a fresh one, and resetting it would let a second worker claim
/// the same scan. Digests never scanned are due already. Returns how many records were reset.
pub async fn request_rescan(scans: &dyn ScanStore, digest: Option<&str>) -> Result<usize, Error> {
    let now = Utc::now();
    let reset: Vec<ScanRecord> = scans
        .scan_records(digest)
        .await?
        .into_iter()
        .filter(|r| r.state != ScanState::Scanning)
        .map(|r| ScanRecord {
            state: ScanState::Pending,
            report: None,
            error: None,
            attempts: 0,
            updated_at: now,
            next_attempt_at: None,
            ..r
        })
        .collect();
    scans.put_scan_records(&reset).await?;
    Ok(reset.len())
}

/// The delay before attempt `attempts + 1`: `base`, doubled per further attempt, at most `max`.
pub fn backoff(base: Duration, max: Duration, attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
    base.saturating_mul(factor).min(max)
}

impl std::fmt::Debug for ScanWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanWorker")
            .field("registry", &self.registry)
            .field("scanner", &self.scanner)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ScanWorker {
    /// A worker over the store's tags, reading manifests from `registry`.
    pub fn new(
        store: Arc<dyn PolicyStore>,
        registry: Arc<dyn RegistryClient>,
        scanner: Scanner,
        authorization: PullAuthorization,
        config: WorkerConfig,
    ) -> Self {
        Self::from_roles(store.clone(), store, registry, scanner, authorization, config)
    }

    /// A worker over the roles it uses, which must share one underlying store (the tags listed
    /// are the ones whose scans are recorded).
    pub fn from_roles(
        scans: Arc<dyn ScanStore>,
        catalog: Arc<dyn CatalogStore>,
        registry: Arc<dyn RegistryClient>,
        scanner: Scanner,
        authorization: PullAuthorization,
        config: WorkerConfig,
    ) -> Self {
        ScanWorker {
            scans,
            catalog,
            registry,
            scanner,
            authorization,
            config,
            webhooks: std::sync::OnceLock::new(),
            observer: Default::default(),
        }
    }

    /// Reports each failed scan to `observer`, by backend (set once).
    pub fn set_observer(&self, observer: Arc<dyn portus_core::observe::Observer>) {
        self.observer.set(observer);
    }

    /// Queues finished and failed scans for the outgoing webhooks of the namespaces whose
    /// repositories hold the scanned digest (`scan_completed`, `vulnerability_found` with the
    /// worst severity, and `scan_failed` when a scan starts failing, not at every retry),
    /// waking `dispatcher`. Set once; later calls are ignored.
    pub fn set_webhooks(&self, store: Arc<dyn PolicyStore>, dispatcher: Option<Arc<crate::webhooks::Dispatcher>>) {
        let _ = self.webhooks.set(crate::webhooks::WebhookQueue::new(store, dispatcher));
    }

    fn due(&self, record: Option<&ScanRecord>, now: DateTime<Utc>) -> bool {
        match record {
            None => true,
            Some(r) if r.state == ScanState::Done => {
                chrono::Duration::from_std(self.config.rescan_after).is_ok_and(|after| r.updated_at + after <= now)
            }
            Some(r) => r.next_attempt_at.is_none_or(|t| t <= now),
        }
    }

    /// One pass: scans every digest with a backend due. `progress(done, total)` is called as
    /// digests finish.
    pub async fn run_once(&self, progress: &(dyn Fn(usize, usize) + Send + Sync)) -> Result<WorkReport, Error> {
        let now = Utc::now();
        let records: HashMap<(String, String), ScanRecord> = self
            .scans
            .scan_records(None)
            .await?
            .into_iter()
            .map(|r| ((r.digest.clone(), r.backend.clone()), r))
            .collect();
        let depth = [
            ScanState::Pending,
            ScanState::Scanning,
            ScanState::Done,
            ScanState::Failed,
        ]
        .map(|state| (state, records.values().filter(|r| r.state == state).count()));
        self.observer.get().scan_queue(&depth);
        let backends: Vec<String> = self.scanner.backend_names().into_iter().map(str::to_owned).collect();
        let mut seen = HashSet::new();
        let mut work: Vec<(TagRecord, Vec<String>)> = Vec::new();
        let mut repositories: HashMap<String, BTreeSet<String>> = HashMap::new();
        for tag in self.catalog.tags(None).await? {
            repositories
                .entry(tag.manifest.digest.clone())
                .or_default()
                .insert(tag.repository.clone());
            if !self.is_image(&tag).await {
                continue;
            }
            if !seen.insert(tag.manifest.digest.clone()) {
                continue;
            }
            let due: Vec<String> = backends
                .iter()
                .filter(|b| self.due(records.get(&(tag.manifest.digest.clone(), (*b).clone())), now))
                .cloned()
                .collect();
            if !due.is_empty() {
                work.push((tag, due));
            }
        }
        let total = work.len();
        progress(0, total);
        let finished = std::sync::atomic::AtomicUsize::new(0);
        let records = &records;
        let finished = &finished;
        let repositories = &repositories;
        let outcomes: Vec<Result<Vec<ScanState>, Error>> = stream::iter(work)
            .map(|(tag, due)| async move {
                let states = self.scan_digest(&tag, &due, records).await;
                if let Ok(states) = &states
                    && !states.is_empty()
                {
                    let holders = repositories.get(&tag.manifest.digest);
                    self.notify_webhooks(&tag.manifest.digest, holders, records).await;
                }
                progress(finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1, total);
                states
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        let mut report = WorkReport {
            digests: total,
            ..WorkReport::default()
        };
        for outcome in outcomes {
            for state in outcome? {
                match state {
                    ScanState::Done => report.done += 1,
                    ScanState::Pending | ScanState::Scanning => report.pending += 1,
                    ScanState::Failed => report.failed += 1,
                }
            }
        }
        Ok(report)
    }

    /// Whether `tag` holds an image (the only kind scanned), recognizing it first when nobody
    /// did yet. A tag that cannot be read now counts as an image: its scan reads the manifest
    /// again, refuses anything else ([`images_for`]) and records the registry's failure.
    async fn is_image(&self, tag: &TagRecord) -> bool {
        if let Some(artifact) = &tag.artifact {
            return artifact.kind.is_scannable();
        }
        match crate::artifacts::recognize_tag(
            self.registry.as_ref(),
            self.catalog.as_ref(),
            &tag.repository,
            &tag.name,
            &tag.manifest.digest,
        )
        .await
        {
            Ok(artifact) => artifact.kind.is_scannable(),
            Err(e) => {
                tracing::warn!(repository = %tag.repository, tag = %tag.name, error = %e, "what the tag holds is unknown");
                true
            }
        }
    }

    /// Claims the due backends' scans of `digest`; returns the ones this worker won.
    async fn claim(
        &self,
        digest: &str,
        due: &[String],
        previous: &HashMap<(String, String), ScanRecord>,
    ) -> Result<Vec<String>, Error> {
        let lease = chrono::Duration::from_std(self.config.lease).unwrap_or(chrono::Duration::minutes(10));
        let lease_until = Utc::now() + lease;
        let wanted: Vec<(String, Option<DateTime<Utc>>)> = due
            .iter()
            .map(|backend| {
                let seen = previous
                    .get(&(digest.to_owned(), backend.clone()))
                    .map(|r| r.updated_at);
                (backend.clone(), seen)
            })
            .collect();
        Ok(self.scans.claim_scans(digest, &wanted, lease_until).await?)
    }

    async fn scan_digest(
        &self,
        tag: &TagRecord,
        due: &[String],
        previous: &HashMap<(String, String), ScanRecord>,
    ) -> Result<Vec<ScanState>, Error> {
        let digest = &tag.manifest.digest;
        let due = &self.claim(digest, due, previous).await?;
        if due.is_empty() {
            // Another instance is on it.
            return Ok(Vec::new());
        }
        let authorization = (self.authorization)(&tag.repository)?;
        let images = images_for(
            self.registry.as_ref(),
            &self.config.registry_url,
            &tag.repository,
            digest,
            Some(authorization),
        )
        .await;
        let results: BTreeMap<String, BackendResult> = match images {
            Ok((images, size)) => {
                // The size is shown with the tag; a failure to keep it does not fail the scan.
                if let Some(size) = size
                    && let Err(e) = self.catalog.record_image_sizes(digest, &size).await
                {
                    tracing::warn!(%digest, error = %e, "the image's size was not recorded");
                }
                self.scanner.scan_with(due, &images).await
            }
            Err(e) => {
                let error = format!("reading the manifest from the registry: {e}");
                due.iter()
                    .map(|b| (b.clone(), BackendResult::Failed { error: error.clone() }))
                    .collect()
            }
        };
        let now = Utc::now();
        let mut records = Vec::with_capacity(results.len());
        for (backend, result) in results {
            let attempts = previous
                .get(&(digest.clone(), backend.clone()))
                .map_or(0, |r| r.attempts);
            let (state, report, error, attempts) = match result {
                BackendResult::Done { report } => (ScanState::Done, Some(report), None, 0),
                BackendResult::Failed { error } => {
                    self.observer.get().scan_failed(&backend);
                    (ScanState::Failed, None, Some(error), attempts + 1)
                }
                BackendResult::Pending | BackendResult::Scanning => (ScanState::Pending, None, None, attempts + 1),
            };
            let next_attempt_at = (state != ScanState::Done)
                .then(|| {
                    let delay = backoff(self.config.retry_base, self.config.retry_max, attempts);
                    chrono::Duration::from_std(delay).ok().map(|d| now + d)
                })
                .flatten();
            records.push(ScanRecord {
                digest: digest.clone(),
                backend,
                state,
                report,
                error,
                attempts,
                updated_at: now,
                next_attempt_at,
            });
        }
        self.scans.put_scan_records(&records).await?;
        Ok(records.iter().map(|r| r.state).collect())
    }

    /// Queues the webhook events of `digest`'s new scan records for each repository holding
    /// it. A failure to queue is logged, not fatal: the scan itself is stored.
    async fn notify_webhooks(
        &self,
        digest: &str,
        repositories: Option<&BTreeSet<String>>,
        previous: &HashMap<(String, String), ScanRecord>,
    ) {
        let (Some(queue), Some(repositories)) = (self.webhooks.get(), repositories) else {
            return;
        };
        let records = match self.scans.scan_records(Some(digest)).await {
            Ok(records) => records,
            Err(e) => {
                tracing::warn!(%digest, error = %e, "scan outcomes were not queued for webhooks");
                return;
            }
        };
        let mut queued = 0;
        for record in &records {
            let before = previous.get(&(record.digest.clone(), record.backend.clone()));
            if before.is_some_and(|b| b.updated_at == record.updated_at) {
                continue;
            }
            for (event, worst) in scan_events(record, before) {
                let summary = scan_summary(record);
                for repository in repositories {
                    let key = format!(
                        "scan:{}:{}:{}:{}:{}",
                        repository,
                        record.digest,
                        record.backend,
                        event.as_str(),
                        record.updated_at.timestamp_micros()
                    );
                    let body = crate::webhooks::scan_envelope(event, &key, repository, digest, &summary);
                    match queue.queue(repository, event, &key, &body, worst).await {
                        Ok(n) => queued += n,
                        Err(e) => tracing::warn!(%repository, %digest, error = %e, "a scan event was not queued"),
                    }
                }
            }
        }
        queue.wake(queued);
    }

    /// Runs a pass every `interval` until the task is aborted.
    pub fn spawn(self: Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        self.spawn_until(interval, crate::stop::never())
    }

    /// [`spawn`](Self::spawn), ending after the pass in progress once `stop` says so.
    pub fn spawn_until(
        self: Arc<Self>,
        interval: Duration,
        mut stop: crate::stop::Stop,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                match self.run_once(&|_, _| {}).await {
                    Ok(report) if report.digests > 0 => tracing::info!(?report, "scan pass finished"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "scan pass failed; will retry"),
                }
                tokio::select! {
                    _ = crate::stop::requested(&mut stop) => return,
                    _ = tokio::time::sleep(interval) => {}
                }
            }
        })
    }
}

/// The webhook events a new scan record makes, with the worst severity found: a finished scan
/// is `scan_completed` and, with findings, `vulnerability_found`; a failure is `scan_failed`
/// only when the scan was not already failing (retries are not news).
fn scan_events(record: &ScanRecord, before: Option<&ScanRecord>) -> Vec<(WebhookEvent, Option<Severity>)> {
    match record.state {
        ScanState::Done => {
            let worst = record
                .report
                .as_ref()
                .and_then(|r| r.vulnerabilities.iter().map(|v| v.severity).max());
            let mut events = vec![(WebhookEvent::ScanCompleted, worst)];
            if worst.is_some() {
                events.push((WebhookEvent::VulnerabilityFound, worst));
            }
            events
        }
        ScanState::Failed if before.is_none_or(|b| b.state != ScanState::Failed) => {
            vec![(WebhookEvent::ScanFailed, None)]
        }
        _ => Vec::new(),
    }
}

/// The `scan` object of a scan event's envelope: the backend, its state, the error of a failed
/// scan, and the findings counted by severity with the worst one.
fn scan_summary(record: &ScanRecord) -> serde_json::Value {
    let mut by_severity: BTreeMap<String, usize> = BTreeMap::new();
    let vulnerabilities = record.report.as_ref().map_or(&[][..], |r| &r.vulnerabilities[..]);
    for v in vulnerabilities {
        *by_severity
            .entry(format!("{:?}", v.severity).to_lowercase())
            .or_default() += 1;
    }
    let worst = vulnerabilities.iter().map(|v| v.severity).max();
    serde_json::json!({
        "backend": record.backend,
        "state": record.state.as_str(),
        "error": record.error,
        "vulnerabilities": vulnerabilities.len(),
        "by_severity": by_severity,
        "worst": worst.map(|s| format!("{s:?}").to_lowercase()),
    })
}

#[cfg(test)]
mod tests {
    use portus_core::model::{ManifestRecord, MissingNamespace};
    use portus_core::testing::{Script, ScriptedBackend};
    use portus_core::traits::ScanReport;
    use portus_core::{InMemoryRegistry, InMemoryStore};

    use super::*;
    use crate::aggregate::TagScanStatus;
    use crate::backend::dummy::DummyBackend;

    /// The failure the "flaky" scanner answers until told otherwise.
    fn refused() -> Script {
        Script::Unavailable("connection refused".into())
    }

    struct Setup {
        store: Arc<InMemoryStore>,
        registry: Arc<InMemoryRegistry>,
        /// Fails until told otherwise; records the layer URL and authorization it was given.
        flaky: Arc<ScriptedBackend>,
    }

    impl Setup {
        async fn new() -> Setup {
            let store = Arc::new(InMemoryStore::new());
            let registry = Arc::new(InMemoryRegistry::new());
            for (repository, tag, digest) in [
                ("a/x", "1", "sha256:one"),
                ("a/x", "latest", "sha256:one"),
                ("a/y", "1", "sha256:two"),
            ] {
                let manifest = ManifestRecord {
                    digest: digest.into(),
                    media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                    size: None,
                };
                store
                    .put_tag(repository, tag, &manifest, None, MissingNamespace::Create)
                    .await
                    .unwrap();
                registry.push_image(repository, tag, digest, &["sha256:layer"]);
            }
            let flaky = Arc::new(ScriptedBackend::clean("flaky").answering(refused()));
            Setup { store, registry, flaky }
        }

        fn worker(&self, retry_base: Duration, rescan_after: Duration) -> ScanWorker {
            let mut scanner = Scanner::new(Duration::from_secs(5));
            scanner
                .register(Arc::new(DummyBackend))
                .unwrap()
                .register(self.flaky.clone())
                .unwrap();
            let authorization: PullAuthorization = Arc::new(|repository: &str| Ok(format!("Bearer pull-{repository}")));
            let config = WorkerConfig {
                concurrency: 4,
                retry_base,
                retry_max: Duration::from_secs(3600),
                rescan_after,
                registry_url: "http://registry:5000/".into(),
                lease: Duration::from_secs(600),
            };
            ScanWorker::new(
                self.store.clone(),
                self.registry.clone(),
                scanner,
                authorization,
                config,
            )
        }

        async fn security(&self, digest: &str) -> TagSecurity {
            tag_security(
                &self.store.scan_records(Some(digest)).await.unwrap(),
                &["dummy", "flaky"],
            )
        }
    }

    #[tokio::test]
    async fn charts_and_signatures_are_recognized_and_never_scanned() {
        let s = Setup::new().await;
        let mut chart = portus_core::memory::image_manifest("sha256:chart", &["sha256:tgz"]);
        chart.facts.config_media_type = Some(portus_core::model::HELM_CONFIG_MEDIA_TYPE.into());
        chart
            .facts
            .annotations
            .insert("org.opencontainers.image.title".into(), "demo".into());
        chart
            .facts
            .annotations
            .insert("org.opencontainers.image.version".into(), "0.1.0".into());
        let signature = portus_core::memory::image_manifest("sha256:sig", &["sha256:payload"]);
        let sig_tag = format!("sha256-{}.sig", "ab".repeat(32));
        for (repository, tag, manifest) in [("a/charts", "0.1.0", chart), ("a/x", sig_tag.as_str(), signature)] {
            s.registry.push(repository, tag, manifest.clone());
            s.store
                .put_tag(repository, tag, &manifest.record, None, MissingNamespace::Create)
                .await
                .unwrap();
        }
        s.flaky.set_script(Script::Finished(ScanReport::default()));
        let report = s
            .worker(Duration::from_secs(60), Duration::from_secs(3600))
            .run_once(&|_, _| {})
            .await
            .unwrap();
        assert_eq!(report.digests, 2, "the two images only: {report:?}");
        for digest in ["sha256:chart", "sha256:sig"] {
            assert!(
                s.store.scan_records(Some(digest)).await.unwrap().is_empty(),
                "{digest} scanned"
            );
        }
        let chart = s
            .store
            .tag("a/charts", "0.1.0")
            .await
            .unwrap()
            .unwrap()
            .artifact
            .unwrap();
        assert_eq!(chart.describe(), "Helm chart demo 0.1.0");
        let sig = s.store.tag("a/x", &sig_tag).await.unwrap().unwrap().artifact.unwrap();
        assert_eq!(sig.kind, portus_core::model::ArtifactKind::Signature);
        // Asked directly (`portus scan`), a chart is refused, not reported clean.
        let refused = images_for(s.registry.as_ref(), "http://registry:5000", "a/charts", "0.1.0", None).await;
        assert!(refused.unwrap_err().to_string().contains("not an image"));
    }

    #[tokio::test]
    async fn a_scan_records_the_image_size_the_registry_reports() {
        let s = Setup::new().await;
        // The fixture's images have no size; this one has, as a real registry's do.
        let mut sized = portus_core::memory::image_manifest("sha256:one", &["sha256:layer"]);
        sized.record.size = Some(4096);
        for tag in ["1", "latest"] {
            s.registry.push("a/x", tag, sized.clone());
        }
        assert_eq!(s.store.tag("a/x", "1").await.unwrap().unwrap().image_size, None);
        s.worker(Duration::from_secs(60), Duration::from_secs(3600))
            .run_once(&|_, _| {})
            .await
            .unwrap();
        for (repository, tag) in [("a/x", "1"), ("a/x", "latest")] {
            let tag = s.store.tag(repository, tag).await.unwrap().unwrap();
            assert_eq!(tag.image_size, Some(4096), "{tag:?}");
        }
        assert_eq!(
            s.store.tag("a/y", "1").await.unwrap().unwrap().image_size,
            None,
            "size unknown"
        );
    }

    #[tokio::test]
    async fn scan_outcomes_are_queued_for_webhooks_and_a_failure_only_when_it_starts() {
        use portus_core::model::{WebhookContentType, WebhookEvent, WebhookMethod, WebhookSettings};
        let s = Setup::new().await;
        let (name, _) = portus_core::model::NamespaceRef::of_repository("a/x");
        let namespace = s.store.namespace(name).await.unwrap().unwrap();
        let settings = WebhookSettings {
            name: "scans".into(),
            url: "https://hooks.example/".into(),
            method: WebhookMethod::Post,
            content_type: WebhookContentType::Json,
            events: vec![
                WebhookEvent::ScanCompleted,
                WebhookEvent::ScanFailed,
                WebhookEvent::VulnerabilityFound,
            ],
            min_severity: Severity::Low,
            enabled: true,
            header_names: Vec::new(),
            has_credentials: false,
            sealed: String::new(),
        };
        let hook = s.store.create_webhook(namespace.id, settings).await.unwrap().id;
        // Retries at once, so the second pass scans the failing backend again.
        let worker = s.worker(Duration::ZERO, Duration::from_secs(3600));
        worker.set_webhooks(s.store.clone(), None);
        for _ in 0..2 {
            worker.run_once(&|_, _| {}).await.unwrap();
        }
        let queued = s.store.deliveries(hook, 50).await.unwrap();
        let mut events: Vec<(String, String, String)> = queued
            .iter()
            .map(|d| {
                let body: serde_json::Value = serde_json::from_str(&d.body).unwrap();
                (
                    d.event.as_str().to_owned(),
                    body["repository"].as_str().unwrap().to_owned(),
                    body["scan"]["backend"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        events.sort();
        let expected: Vec<(String, String, String)> = [
            ("scan_completed", "a/x", "dummy"),
            ("scan_completed", "a/y", "dummy"),
            ("scan_failed", "a/x", "flaky"),
            ("scan_failed", "a/y", "flaky"),
            ("vulnerability_found", "a/x", "dummy"),
            ("vulnerability_found", "a/y", "dummy"),
        ]
        .iter()
        .map(|(e, r, b)| ((*e).to_owned(), (*r).to_owned(), (*b).to_owned()))
        .collect();
        assert_eq!(
            events, expected,
            "one failure event per failing scan, not one per retry"
        );
        let found = queued
            .iter()
            .find(|d| d.event == WebhookEvent::VulnerabilityFound)
            .unwrap();
        let body: serde_json::Value = serde_json::from_str(&found.body).unwrap();
        assert!(body["scan"]["vulnerabilities"].as_u64().unwrap() > 0, "{body}");
        assert!(body["digest"].as_str().unwrap().starts_with("sha256:"), "{body}");
    }

    /// Keeps what the worker reports.
    #[derive(Debug, Default)]
    struct Seen {
        failures: std::sync::Mutex<Vec<String>>,
        depth: std::sync::Mutex<Vec<(ScanState, usize)>>,
    }

    impl portus_core::observe::Observer for Seen {
        fn scan_failed(&self, backend: &str) {
            self.failures.lock().unwrap().push(backend.to_owned());
        }

        fn scan_queue(&self, depth: &[(ScanState, usize)]) {
            *self.depth.lock().unwrap() = depth.to_vec();
        }
    }

    #[tokio::test]
    async fn failures_and_the_records_by_state_are_reported_to_the_observer() {
        let s = Setup::new().await;
        let hour = Duration::from_secs(3600);
        let worker = s.worker(hour, hour);
        let seen = Arc::new(Seen::default());
        worker.set_observer(seen.clone());
        worker.run_once(&|_, _| {}).await.unwrap();
        assert_eq!(*seen.failures.lock().unwrap(), ["flaky", "flaky"], "one per digest");
        assert!(
            seen.depth.lock().unwrap().iter().all(|(_, n)| *n == 0),
            "nothing recorded yet"
        );
        // The next pass starts from what the first recorded: two done (dummy), two failed.
        worker.run_once(&|_, _| {}).await.unwrap();
        let depth = seen.depth.lock().unwrap().clone();
        let count = |state| depth.iter().find(|(s, _)| *s == state).map(|(_, n)| *n);
        assert_eq!(
            [
                ScanState::Pending,
                ScanState::Scanning,
                ScanState::Done,
                ScanState::Failed
            ]
            .map(count),
            [Some(0), Some(0), Some(2), Some(2)]
        );
    }

    #[tokio::test]
    async fn failures_are_recorded_retried_with_backoff_and_recover() {
        let s = Setup::new().await;
        let hour = Duration::from_secs(3600);
        let report = s.worker(hour, hour).run_once(&|_, _| {}).await.unwrap();
        assert_eq!(
            report,
            WorkReport {
                digests: 2,
                done: 2,
                pending: 0,
                failed: 2
            },
            "one scan per digest, not per tag"
        );
        let one = s.security("sha256:one").await;
        assert_eq!(one.status, TagScanStatus::Failed, "never clean while a backend failed");
        assert!(
            one.backends["flaky"].contains("connection refused"),
            "{:?}",
            one.backends
        );
        let record = &s.store.scan_records(Some("sha256:one")).await.unwrap()[1];
        assert_eq!((record.backend.as_str(), record.attempts), ("flaky", 1));
        assert!(record.next_attempt_at.unwrap() > Utc::now() + chrono::Duration::minutes(59));
        let first = &s.flaky.scanned()[0];
        let (url, authorization) = (first.layers[0].url.clone(), first.registry_authorization.clone());
        assert!(
            url.starts_with("http://registry:5000/v2/a/") && url.ends_with("/blobs/sha256:layer"),
            "{url}"
        );
        assert!(authorization.unwrap().starts_with("Bearer pull-a/"));

        // Not due yet: nothing happens.
        assert_eq!(s.worker(hour, hour).run_once(&|_, _| {}).await.unwrap().digests, 0);

        // The backoff elapses (moved into the past here) and the scanner is back: only the
        // failed backend runs again.
        for mut record in s
            .store
            .scan_records(None)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.backend == "flaky")
        {
            record.next_attempt_at = Some(Utc::now() - chrono::Duration::seconds(1));
            s.store.put_scan_record(&record).await.unwrap();
        }
        s.flaky.set_script(Script::Finished(ScanReport::default()));
        let report = s.worker(hour, hour).run_once(&|_, _| {}).await.unwrap();
        assert_eq!(
            report,
            WorkReport {
                digests: 2,
                done: 2,
                pending: 0,
                failed: 0
            }
        );
        assert_eq!(s.flaky.scanned().len(), 4, "two failed attempts, two retries");
        let one = s.security("sha256:one").await;
        assert_eq!(one.status, TagScanStatus::Done);
        assert_eq!(one.vulnerabilities.len(), 3);
        assert_eq!(one.vulnerabilities[0].found_by, ["dummy"]);
    }

    #[tokio::test]
    async fn rescans_and_registry_failures() {
        let s = Setup::new().await;
        s.flaky.set_script(Script::Finished(ScanReport::default()));
        let hour = Duration::from_secs(3600);
        assert_eq!(s.worker(hour, hour).run_once(&|_, _| {}).await.unwrap().done, 4);
        assert_eq!(
            s.worker(hour, hour).run_once(&|_, _| {}).await.unwrap().digests,
            0,
            "done scans wait for the rescan"
        );
        s.registry.set_unavailable(true);
        let report = s.worker(hour, Duration::ZERO).run_once(&|_, _| {}).await.unwrap();
        assert_eq!(report.failed, 4, "a registry failure fails the rescans");
        let records = s.store.scan_records(Some("sha256:two")).await.unwrap();
        assert!(
            records
                .iter()
                .all(|r| r.error.as_deref().is_some_and(|e| e.contains("reading the manifest")))
        );
        assert_eq!(s.security("sha256:two").await.status, TagScanStatus::Failed);
    }

    #[tokio::test]
    async fn a_requested_rescan_is_scanned_at_the_next_pass() {
        let s = Setup::new().await;
        s.flaky.set_script(Script::Finished(ScanReport::default()));
        let hour = Duration::from_secs(3600);
        assert_eq!(s.worker(hour, hour).run_once(&|_, _| {}).await.unwrap().done, 4);
        assert_eq!(s.flaky.scanned().len(), 2);
        assert_eq!(request_rescan(s.store.as_ref(), Some("sha256:two")).await.unwrap(), 2);
        assert_eq!(s.security("sha256:two").await.status, TagScanStatus::Pending);
        let report = s.worker(hour, hour).run_once(&|_, _| {}).await.unwrap();
        assert_eq!(
            (report.digests, report.done),
            (1, 2),
            "only the asked digest, by both backends"
        );
        assert_eq!(s.flaky.scanned().len(), 3);
        assert_eq!(s.flaky.scanned()[2].digest, "sha256:two");
        assert_eq!(s.security("sha256:two").await.status, TagScanStatus::Done);

        // Everything, except a scan running now.
        let mut running = s.store.scan_records(Some("sha256:one")).await.unwrap().remove(0);
        running.state = ScanState::Scanning;
        s.store.put_scan_record(&running).await.unwrap();
        assert_eq!(request_rescan(s.store.as_ref(), None).await.unwrap(), 3);
        let kept = s.store.scan_records(Some("sha256:one")).await.unwrap().remove(0);
        assert_eq!(kept.state, ScanState::Scanning);
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let (base, max) = (Duration::from_secs(30), Duration::from_secs(600));
        assert_eq!(backoff(base, max, 1), Duration::from_secs(30));
        assert_eq!(backoff(base, max, 3), Duration::from_secs(120));
        assert_eq!(backoff(base, max, 40), max);
        assert_eq!(backoff(Duration::ZERO, max, 5), Duration::ZERO);
    }
}
