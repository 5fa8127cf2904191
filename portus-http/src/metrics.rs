//! Prometheus metrics: the registry, the counters the handlers and background parts update,
//! and `GET /metrics` (optionally behind a bearer token).
//!
//! Labels are `&'static str` or route templates (axum's [`MatchedPath`], never the raw path),
//! so their number is bounded and counting allocates nothing on the hot paths. The background
//! parts (event pipeline, scan worker, webhook dispatcher, token service) report through
//! [`portus_core::observe::Observer`], which [`Metrics`] implements: only this crate knows the
//! metrics library.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use portus_core::model::{EventStatus, ScanState};
use portus_core::observe::{DeliveryOutcome, LoginMethod, Observer};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeLabelValue, EncodeMetric, LabelValueEncoder,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::error::ApiError;

/// Seconds: 1 ms to 10 s, for request latencies (the token route answers in about a
/// millisecond, a scan page may take seconds).
const LATENCY_BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// Seconds: 100 ms to 1 h, for the time from a registry event to its application.
const LAG_BUCKETS: [f64; 11] = [0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The route template a request matched (`/api/v1/users/{id}`), or `unmatched`.
#[derive(Debug, Clone)]
struct Route(Option<MatchedPath>);

impl Route {
    fn as_str(&self) -> &str {
        self.0.as_ref().map_or("unmatched", MatchedPath::as_str)
    }
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Route {}

impl std::hash::Hash for Route {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl EncodeLabelValue for Route {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct HttpLabels {
    route: Route,
    method: &'static str,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TokenLabels {
    result: &'static str,
    reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct LoginLabels {
    method: &'static str,
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct BackendLabel {
    backend: String,
}

/// How a token request ended, for `portus_token_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOutcome {
    /// Every requested action was granted (or none was asked).
    Granted,
    /// Some requested actions were granted, not all.
    Partially,
    /// Actions were requested and none was granted (the token is still issued, empty).
    NothingGranted,
    /// Refused with an error; the reason is the error's kind.
    Denied(&'static str),
}

/// Sizes of the store's connection pool, read at each scrape: `(connections, idle)`.
pub type PoolStats = Arc<dyn Fn() -> (u32, usize) + Send + Sync>;

/// The metrics registry and every metric portus updates.
pub struct Metrics {
    registry: Registry,
    http: Family<HttpLabels, Histogram, fn() -> Histogram>,
    tokens: Family<TokenLabels, Counter>,
    logins: Family<LoginLabels, Counter>,
    lockouts: Counter,
    events_received: Family<ResultLabel, Counter>,
    events_finished: Family<StateLabel, Counter>,
    event_lag: Histogram,
    scan_queue: Family<StateLabel, Gauge>,
    scan_failures: Family<BackendLabel, Counter>,
    deliveries: Family<ResultLabel, Counter>,
    bearer_token: Option<String>,
}

impl std::fmt::Debug for Metrics {
    // The bearer token is a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("bearer_token", &self.bearer_token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// A registry with every portus metric, the process metrics (on Linux) and, when given,
    /// the store pool's sizes. With `bearer_token`, `/metrics` answers 401 to requests without
    /// `Authorization: Bearer <token>`.
    pub fn new(bearer_token: Option<String>, pool: Option<PoolStats>) -> Arc<Self> {
        let mut registry = Registry::default();
        let http = Family::<HttpLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram as _);
        registry.register(
            "portus_http_request_duration_seconds",
            "Time to answer HTTP requests, by route template, method and status",
            http.clone(),
        );
        let tokens = Family::default();
        registry.register(
            "portus_token_requests",
            "Token requests (/v2/token) by result (granted, partially, denied) and reason",
            Family::clone(&tokens),
        );
        let logins = Family::default();
        registry.register(
            "portus_logins",
            "Logins by method (password, app_token, ldap, oidc, external, anonymous) and result",
            Family::clone(&logins),
        );
        let lockouts = Counter::default();
        registry.register(
            "portus_account_lockouts",
            "Accounts locked after repeated failed logins",
            lockouts.clone(),
        );
        let events_received = Family::default();
        registry.register(
            "portus_registry_events_received",
            "Registry notification events received, by result (accepted: new and stored; refused: malformed)",
            Family::clone(&events_received),
        );
        let events_finished = Family::default();
        registry.register(
            "portus_registry_events_finished",
            "Registry events finished by the pipeline, by state (applied, ignored, failed)",
            Family::clone(&events_finished),
        );
        let event_lag = Histogram::new(LAG_BUCKETS);
        registry.register(
            "portus_registry_event_apply_lag_seconds",
            "Seconds from a registry event's timestamp to its application",
            event_lag.clone(),
        );
        let scan_queue = Family::default();
        registry.register(
            "portus_scan_records",
            "Scan records by state, as the scan worker last found them",
            Family::clone(&scan_queue),
        );
        let scan_failures = Family::default();
        registry.register(
            "portus_scan_failures",
            "Failed scans by scanner backend",
            Family::clone(&scan_failures),
        );
        let deliveries = Family::default();
        registry.register(
            "portus_webhook_deliveries",
            "Outgoing webhook delivery attempts by result (delivered, retrying, failed)",
            Family::clone(&deliveries),
        );
        if let Some(pool) = pool {
            registry.register_collector(Box::new(PoolCollector(pool)));
        }
        registry.register_collector(Box::new(ProcessCollector {
            started: std::time::SystemTime::now(),
        }));
        Arc::new(Metrics {
            registry,
            http,
            tokens,
            logins,
            lockouts,
            events_received,
            events_finished,
            event_lag,
            scan_queue,
            scan_failures,
            deliveries,
            bearer_token,
        })
    }

    /// Counts a token request's outcome.
    pub fn token_request(&self, outcome: TokenOutcome) {
        let (result, reason) = match outcome {
            TokenOutcome::Granted => ("granted", ""),
            TokenOutcome::Partially => ("partially", ""),
            TokenOutcome::NothingGranted => ("denied", "no_access"),
            TokenOutcome::Denied(reason) => ("denied", reason),
        };
        self.tokens.get_or_create(&TokenLabels { result, reason }).inc();
    }

    /// Counts the events of one notification envelope.
    pub fn events_received(&self, accepted: usize, refused: usize) {
        self.events_received
            .get_or_create(&ResultLabel { result: "accepted" })
            .inc_by(accepted as u64);
        self.events_received
            .get_or_create(&ResultLabel { result: "refused" })
            .inc_by(refused as u64);
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The reason label of a refused token request.
pub(crate) fn refusal_reason(error: &portus_auth::Error) -> &'static str {
    match error {
        portus_auth::Error::InvalidCredentials => "invalid_credentials",
        portus_auth::Error::NotLinked => "not_linked",
        portus_auth::Error::InvalidRequest(_) => "invalid_request",
        portus_auth::Error::InvalidRefreshToken => "invalid_refresh_token",
        portus_auth::Error::Core(_) => "store",
        _ => "signing",
    }
}

impl Observer for Metrics {
    fn login(&self, method: LoginMethod, ok: bool) {
        let result = if ok { "success" } else { "failure" };
        self.logins
            .get_or_create(&LoginLabels {
                method: method.as_str(),
                result,
            })
            .inc();
    }

    fn account_locked(&self) {
        self.lockouts.inc();
    }

    fn event_finished(&self, status: EventStatus, lag: Option<Duration>) {
        self.events_finished
            .get_or_create(&StateLabel { state: status.as_str() })
            .inc();
        if let (EventStatus::Applied, Some(lag)) = (status, lag) {
            self.event_lag.observe(lag.as_secs_f64());
        }
    }

    fn scan_queue(&self, depth: &[(ScanState, usize)]) {
        for (state, count) in depth {
            self.scan_queue
                .get_or_create(&StateLabel { state: state.as_str() })
                .set(*count as i64);
        }
    }

    fn scan_failed(&self, backend: &str) {
        self.scan_failures
            .get_or_create(&BackendLabel {
                backend: backend.to_owned(),
            })
            .inc();
    }

    fn delivery(&self, outcome: DeliveryOutcome) {
        let result = match outcome {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Retrying => "retrying",
            _ => "failed",
        };
        self.deliveries.get_or_create(&ResultLabel { result }).inc();
    }
}

/// The middleware timing every request by its route template.
pub(crate) async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = Route(request.extensions().get::<MatchedPath>().cloned());
    let method = match request.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let response = next.run(request).await;
    let labels = HttpLabels {
        route,
        method,
        status: response.status().as_u16(),
    };
    metrics
        .http
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`: the metrics, after the bearer token when one is configured (compared in
/// constant time).
pub(crate) async fn scrape(State(metrics): State<Arc<Metrics>>, headers: HeaderMap) -> Response {
    if let Some(expected) = &metrics.bearer_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
            .unwrap_or_default();
        if !portus_auth::password::secrets_equal(presented, expected.as_bytes()) {
            return ApiError {
                status: StatusCode::UNAUTHORIZED,
                code: "UNAUTHORIZED",
                message: "missing or wrong metrics bearer token".into(),
                basic_challenge: false,
            }
            .into_response();
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.encode(),
    )
        .into_response()
}

/// The store pool's sizes at each scrape.
struct PoolCollector(PoolStats);

impl std::fmt::Debug for PoolCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PoolCollector")
    }
}

impl Collector for PoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (size, idle) = (self.0)();
        let size = ConstGauge::new(i64::from(size));
        size.encode(encoder.encode_descriptor(
            "portus_store_pool_connections",
            "Connections open in the store's pool",
            None,
            size.metric_type(),
        )?)?;
        let idle = ConstGauge::new(idle as i64);
        idle.encode(encoder.encode_descriptor(
            "portus_store_pool_idle_connections",
            "Idle connections in the store's pool",
            None,
            idle.metric_type(),
        )?)
    }
}

/// The standard process metrics (`process_*`), read from `/proc` at each scrape on Linux;
/// elsewhere only the start time.
#[derive(Debug)]
struct ProcessCollector {
    started: std::time::SystemTime,
}

/// Linux reports CPU times in /proc in USER_HZ, which is 100 on every architecture it exports
/// to user space.
#[cfg(target_os = "linux")]
const USER_HZ: f64 = 100.0;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let start = self
            .started
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let start = ConstGauge::new(start);
        start.encode(encoder.encode_descriptor(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch in seconds",
            None,
            start.metric_type(),
        )?)?;
        #[cfg(target_os = "linux")]
        {
            if let Some(cpu) = linux::cpu_ticks() {
                let cpu = prometheus_client::metrics::counter::ConstCounter::new(cpu as f64 / USER_HZ);
                cpu.encode(encoder.encode_descriptor(
                    "process_cpu_seconds",
                    "Total user and system CPU time spent in seconds",
                    None,
                    cpu.metric_type(),
                )?)?;
            }
            if let Some(rss) = linux::resident_bytes() {
                let rss = ConstGauge::new(rss as i64);
                rss.encode(encoder.encode_descriptor(
                    "process_resident_memory_bytes",
                    "Resident memory size in bytes",
                    None,
                    rss.metric_type(),
                )?)?;
            }
            if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
                let fds = ConstGauge::new(fds.count() as i64);
                fds.encode(encoder.encode_descriptor(
                    "process_open_fds",
                    "Number of open file descriptors",
                    None,
                    fds.metric_type(),
                )?)?;
            }
        }
        Ok(())
    }
}

#[cfg(target_os = "linux")]
mod linux {
    /// utime + stime of /proc/self/stat, in clock ticks.
    pub(super) fn cpu_ticks() -> Option<u64> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The command name (field 2) may hold spaces: count fields after its closing ')'.
        let rest = &stat[stat.rfind(')')? + 1..];
        let mut fields = rest.split_whitespace();
        // After ')' come field 3 (state) onwards: utime is field 14, stime 15.
        let utime: u64 = fields.nth(11)?.parse().ok()?;
        let stime: u64 = fields.next()?.parse().ok()?;
        Some(utime + stime)
    }

    /// VmRSS of /proc/self/status, in bytes.
    pub(super) fn resident_bytes() -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
