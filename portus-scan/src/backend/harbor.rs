//! Any scanner behind Harbor's Pluggable Scanner API (spec `goharbor/pluggable-scanner-spec`,
//! v1.0–v1.2): Trivy's and Grype's adapters, or a commercial one.
//!
//! `POST /api/v1/scan` hands the adapter the registry URL, a pull `Authorization` and the
//! digest, and answers an id; `GET /api/v1/scan/{id}/report` answers 302 while the scan runs.
//! The id is remembered per digest, so a `scan` submits or polls and is
//! [`ScanOutcome::Pending`] until the report is there; a 302, an unknown id (404) or a failed
//! scan (500) is never clean. The 1.1 report type is asked for byte-exact (as
//! harbor-scanner-trivy requires), the 1.0 `harbor+json` one when an adapter refuses it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use portus_core::traits::{
    ImageRef, ScanOutcome, ScanReport, SecurityBackend, Severity, Vulnerability, VulnerabilityData,
};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use url::Url;

use super::{read_answer, server_url};
use crate::Error;

/// The scan request's media type (spec v1.0; v1.2 adapters accept it too).
pub const SCAN_REQUEST_TYPE: &str = "application/vnd.scanner.adapter.scan.request+json; version=1.0";
/// The vulnerability report type of spec v1.1, spelled as harbor-scanner-trivy requires.
pub const REPORT_TYPE_1_1: &str = "application/vnd.security.vulnerability.report; version=1.1";
/// The vulnerability report type of spec v1.0.
pub const REPORT_TYPE_1_0: &str = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0";
/// The metadata property with the time of the adapter's vulnerability database.
pub const DB_UPDATED_AT: &str = "harbor.scanner-adapter/vulnerability-database-updated-at";

/// How the backend authenticates to the adapter (the spec's optional `BasicAuth` or
/// `BearerAuth`).
#[derive(Clone, PartialEq, Eq)]
pub enum HarborAuth {
    /// `Authorization: Basic …`.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// `Authorization: Bearer …`.
    Bearer(String),
}

impl std::fmt::Debug for HarborAuth {
    // Passwords and tokens are secrets: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HarborAuth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            HarborAuth::Bearer(_) => f.debug_tuple("Bearer").field(&"<redacted>").finish(),
        }
    }
}

/// Settings of the [`Harbor`] backend.
#[derive(Debug, Clone)]
pub struct HarborConfig {
    /// The adapter's base URL (the API is under `api/v1/` of it).
    pub url: Url,
    /// Optional authentication to the adapter.
    pub auth: Option<HarborAuth>,
    /// Timeout of one request (the adapter answers at once; scans run in the background).
    pub timeout: Duration,
    /// Delay suggested while a scan runs, when the adapter does not send `Refresh-After`.
    pub retry_after: Duration,
}

impl HarborConfig {
    /// Defaults for `url`: no authentication, 60-second requests, ask again after 10 s.
    pub fn new(url: Url) -> Self {
        HarborConfig {
            url,
            auth: None,
            timeout: Duration::from_secs(60),
            retry_after: Duration::from_secs(10),
        }
    }
}

/// The `security.harbor` section: the configuration of [`Harbor`].
///
/// ```
/// use portus_scan::backend::harbor::{HarborAuth, HarborSettings};
///
/// let settings: HarborSettings =
///     serde_json::from_str(r#"{"server": "http://trivy-adapter:8080", "token": "t0k"}"#).unwrap();
/// let config = settings.config().unwrap().expect("a server is set");
/// assert_eq!(config.auth, Some(HarborAuth::Bearer("t0k".into())));
/// assert!(!format!("{config:?}").contains("t0k"), "secrets stay out of logs");
/// assert!(HarborSettings::default().build().unwrap().is_none(), "off without a server");
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HarborSettings {
    /// The scanner adapter's URL (`http://trivy-adapter:8080`); empty disables it.
    pub server: String,
    /// User name for Basic authentication to the adapter (with `password`).
    pub username: Option<String>,
    /// Password for Basic authentication to the adapter.
    pub password: Option<String>,
    /// Token for Bearer authentication to the adapter (instead of `username`/`password`).
    pub token: Option<String>,
    /// Timeout of one request to the adapter, in seconds.
    pub timeout_secs: u64,
}

impl std::fmt::Debug for HarborSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("HarborSettings")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("token", &redacted(&self.token))
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

impl Default for HarborSettings {
    fn default() -> Self {
        HarborSettings {
            server: String::new(),
            username: None,
            password: None,
            token: None,
            timeout_secs: 60,
        }
    }
}

impl HarborSettings {
    /// Whether the section turns the backend on (a non-empty `server`).
    pub fn is_enabled(&self) -> bool {
        !self.server.is_empty()
    }

    /// Checks what the types cannot: `server` is empty or an `http`/`https` URL; at most one
    /// kind of authentication, `username` and `password` together; a positive timeout.
    pub fn validate(&self) -> Result<(), Error> {
        self.config().map(drop)
    }

    /// The backend's settings, or `None` when `server` is empty.
    pub fn config(&self) -> Result<Option<HarborConfig>, Error> {
        if !self.is_enabled() {
            return Ok(None);
        }
        let mut config = HarborConfig::new(server_url(&self.server)?);
        if self.timeout_secs == 0 {
            return Err(Error::InvalidSetting {
                key: "timeout_secs",
                reason: "must be positive".into(),
            });
        }
        config.timeout = Duration::from_secs(self.timeout_secs);
        config.auth = match (&self.username, &self.password, &self.token) {
            (None, None, None) => None,
            (None, None, Some(token)) => Some(HarborAuth::Bearer(token.clone())),
            (Some(username), Some(password), None) => Some(HarborAuth::Basic {
                username: username.clone(),
                password: password.clone(),
            }),
            (_, _, Some(_)) => {
                return Err(Error::InvalidSetting {
                    key: "token",
                    reason: "cannot be combined with username and password (pick one authentication)".into(),
                });
            }
            _ => {
                return Err(Error::InvalidSetting {
                    key: "username",
                    reason: "and password go together (Basic authentication)".into(),
                });
            }
        };
        Ok(Some(config))
    }

    /// The backend, or `None` when `server` is empty.
    pub fn build(&self) -> Result<Option<Harbor>, Error> {
        self.config()?.map(Harbor::new).transpose()
    }
}

/// The Harbor Pluggable Scanner API backend.
#[derive(Debug)]
pub struct Harbor {
    http: reqwest::Client,
    config: HarborConfig,
    /// Scan ids the adapter gave, per manifest digest, until their report is read.
    scans: Mutex<HashMap<String, String>>,
    /// The adapter refused the 1.1 report type: ask for 1.0 from now on.
    report_1_0: AtomicBool,
}

#[derive(Serialize)]
struct ScanRequest<'a> {
    registry: RegistryRef<'a>,
    artifact: Artifact<'a>,
}

#[derive(Serialize)]
struct RegistryRef<'a> {
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorization: Option<&'a str>,
}

// `mime_type` is left out: portus does not know the manifest's media type here, and
// adapters read the manifest themselves (harbor-scanner-trivy does).
#[derive(Serialize)]
struct Artifact<'a> {
    repository: &'a str,
    digest: &'a str,
    tag: &'a str,
}

#[derive(Deserialize)]
struct ScanResponse {
    id: String,
}

#[derive(Deserialize)]
struct Metadata {
    #[allow(dead_code)] // Required: an answer without it is not a scanner's metadata.
    scanner: serde::de::IgnoredAny,
    #[serde(default)]
    properties: Option<HashMap<String, String>>,
}

/// A vulnerability report of either type. `generated_at` is required: every report has it,
/// and an object without it (`{}`) would otherwise read as a clean image.
#[derive(Deserialize)]
struct HarborReport {
    #[allow(dead_code)] // Required, never read.
    generated_at: String,
    #[serde(default)]
    artifact: Option<ReportArtifact>,
    #[serde(default)]
    vulnerabilities: Option<Vec<HarborVulnerability>>,
}

#[derive(Deserialize)]
struct ReportArtifact {
    #[serde(default)]
    digest: Option<String>,
}

#[derive(Deserialize)]
struct HarborVulnerability {
    id: String,
    #[serde(default)]
    package: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    fix_version: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    links: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorMessage,
}

#[derive(Deserialize)]
struct ErrorMessage {
    #[serde(default)]
    message: String,
}

/// What asking for a report gave.
enum Report {
    Done(ScanReport),
    Running(Duration),
    /// The adapter does not know the id (any more).
    UnknownId,
}

impl Harbor {
    /// A backend for the adapter at `config.url`.
    pub fn new(config: HarborConfig) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            // 302 means "not ready yet" and points at the same URL: never follow it.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|source| Error::Unreachable { source })?;
        Ok(Harbor {
            http,
            config,
            scans: Mutex::default(),
            report_1_0: AtomicBool::new(false),
        })
    }

    fn request(&self, method: Method, path: &str) -> Result<reqwest::RequestBuilder, Error> {
        let url = self.config.url.join(path).map_err(|e| Error::InvalidResponse {
            what: path.to_owned(),
            reason: format!("bad URL: {e}"),
        })?;
        let request = self.http.request(method, url);
        Ok(match &self.config.auth {
            None => request,
            Some(HarborAuth::Basic { username, password }) => request.basic_auth(username, Some(password)),
            Some(HarborAuth::Bearer(token)) => request.bearer_auth(token),
        })
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Result<reqwest::Response, Error> {
        request
            .send()
            .await
            .map_err(|source| Error::Unreachable { source })
            .inspect(|r| tracing::debug!(what, status = %r.status(), "scanner adapter answered"))
    }

    /// An error status, with the message of the spec's `{"error": {"message": …}}` body (or
    /// the start of whatever the body is).
    async fn failure(response: reqwest::Response, what: &str) -> Error {
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        let message = match serde_json::from_str::<ErrorBody>(&body) {
            Ok(e) => e.error.message,
            Err(_) => body.chars().take(300).collect(),
        };
        Error::Status {
            status,
            what: what.to_owned(),
            message,
        }
    }

    /// The registry's base URL, from a layer's download URL
    /// (`{registry}/v2/{repository}/blobs/{digest}`, as the scan worker builds it).
    fn registry_url(image: &ImageRef) -> Result<String, Error> {
        let layer = image.layers.first().ok_or_else(|| Error::InvalidResponse {
            what: image.digest.clone(),
            reason: "Harbor scanner adapters scan image manifests with layers only".into(),
        })?;
        let suffix = format!("/v2/{}/blobs/{}", image.repository, layer.digest);
        layer
            .url
            .strip_suffix(&suffix)
            .filter(|base| !base.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| Error::InvalidResponse {
                what: image.digest.clone(),
                reason: format!("cannot tell the registry's URL from the layer URL {}", layer.url),
            })
    }

    async fn submit(&self, image: &ImageRef) -> Result<String, Error> {
        let what = format!("harbor scan request {}", image.digest);
        let registry = Self::registry_url(image)?;
        let request = ScanRequest {
            registry: RegistryRef {
                url: &registry,
                authorization: image.registry_authorization.as_deref(),
            },
            artifact: Artifact {
                repository: &image.repository,
                digest: &image.digest,
                tag: &image.tag,
            },
        };
        let body = serde_json::to_vec(&request).map_err(|e| Error::InvalidResponse {
            what: what.clone(),
            reason: e.to_string(),
        })?;
        let response = self
            .send(
                self.request(Method::POST, "api/v1/scan")?
                    .header(reqwest::header::CONTENT_TYPE, SCAN_REQUEST_TYPE)
                    .body(body),
                &what,
            )
            .await?;
        if response.status() != StatusCode::ACCEPTED {
            return Err(Self::failure(response, &what).await);
        }
        let answer: ScanResponse = read_answer(response, &what, |body| serde_json::from_slice(body)).await?;
        if answer.id.is_empty() || answer.id.contains(['/', '?', '#']) {
            return Err(Error::InvalidResponse {
                what,
                reason: format!("unusable scan id {:?}", answer.id),
            });
        }
        Ok(answer.id)
    }

    async fn report(&self, image: &ImageRef, id: &str) -> Result<Report, Error> {
        let what = format!("harbor scan report {} (scan {id})", image.digest);
        let path = format!("api/v1/scan/{id}/report");
        loop {
            let old = self.report_1_0.load(Ordering::Relaxed);
            let accept = if old { REPORT_TYPE_1_0 } else { REPORT_TYPE_1_1 };
            let response = self
                .send(
                    self.request(Method::GET, &path)?
                        .header(reqwest::header::ACCEPT, accept),
                    &what,
                )
                .await?;
            return match response.status() {
                StatusCode::OK => {
                    let report = read_answer(response, &what, parse_report).await?;
                    if let Some(digest) = report.digest.filter(|d| *d != image.digest) {
                        return Err(Error::InvalidResponse {
                            what,
                            reason: format!("the report is about {digest}"),
                        });
                    }
                    Ok(Report::Done(report.report))
                }
                StatusCode::FOUND => {
                    let seconds = response
                        .headers()
                        .get("refresh-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .filter(|s| *s > 0);
                    Ok(Report::Running(
                        seconds.map_or(self.config.retry_after, Duration::from_secs),
                    ))
                }
                StatusCode::NOT_FOUND => Ok(Report::UnknownId),
                // An adapter of spec v1.0 does not know the 1.1 type.
                StatusCode::NOT_ACCEPTABLE | StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::BAD_REQUEST if !old => {
                    tracing::info!(what, "the scanner adapter refuses the 1.1 report type; asking for 1.0");
                    self.report_1_0.store(true, Ordering::Relaxed);
                    continue;
                }
                _ => Err(Self::failure(response, &what).await),
            };
        }
    }

    async fn scan_image(&self, image: &ImageRef) -> Result<ScanOutcome, Error> {
        let known = self.scans.lock().unwrap().get(&image.digest).cloned();
        // A remembered id the adapter no longer knows is submitted again, once per call.
        let mut resubmitted = known.is_none();
        let mut id = match known {
            Some(id) => id,
            None => self.remember(image, self.submit(image).await?),
        };
        loop {
            let answer = self.report(image, &id).await;
            match answer {
                Ok(Report::Running(retry_after)) => return Ok(ScanOutcome::Pending { retry_after }),
                Ok(Report::UnknownId) if !resubmitted => {
                    resubmitted = true;
                    id = self.remember(image, self.submit(image).await?);
                }
                Ok(Report::UnknownId) => {
                    self.forget(image);
                    return Err(Error::Scanner {
                        what: format!("harbor scan {}", image.digest),
                        message: format!("the adapter answered 404 for the scan {id} it had just accepted"),
                    });
                }
                Ok(Report::Done(report)) => {
                    // The next scan of this digest (a rescan) is a new one.
                    self.forget(image);
                    return Ok(ScanOutcome::Finished(report));
                }
                Err(error) => {
                    // A failed scan (500) or an unreadable report: the next attempt starts
                    // afresh rather than reading the same failure again.
                    if !matches!(error, Error::Unreachable { .. }) {
                        self.forget(image);
                    }
                    return Err(error);
                }
            }
        }
    }

    fn remember(&self, image: &ImageRef, id: String) -> String {
        self.scans.lock().unwrap().insert(image.digest.clone(), id.clone());
        id
    }
    fn forget(&self, image: &ImageRef) {
        self.scans.lock().unwrap().remove(&image.digest);
    }

    async fn metadata(&self) -> Result<Metadata, Error> {
        let what = "harbor scanner metadata";
        let response = self.send(self.request(Method::GET, "api/v1/metadata")?, what).await?;
        if response.status() != StatusCode::OK {
            return Err(Self::failure(response, what).await);
        }
        read_answer(response, what, |body| serde_json::from_slice(body)).await
    }
}

/// A report read by [`parse_report`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedReport {
    /// The findings, sorted by id and package.
    pub report: ScanReport,
    /// The manifest digest the report says it is about, if it says.
    pub digest: Option<String>,
}

/// Reads a vulnerability report (1.0 `harbor+json` or 1.1; the body of `GET
/// /api/v1/scan/{id}/report`): one finding per item, severities by the spec's enum
/// (`Unknown`…`Critical`, anything else unknown), empty texts as absent. A report without
/// `vulnerabilities` is clean (Trivy's adapter leaves the list out then); one without
/// `generated_at` is not a report.
pub fn parse_report(body: &[u8]) -> Result<ParsedReport, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_slice(body)?;
    // Serde also reads a struct from an array of its fields: `[""]` is no report.
    if !value.is_object() {
        return Err(serde::de::Error::custom("a report is a JSON object"));
    }
    serde_json::from_value::<HarborReport>(value).map(convert)
}

fn convert(report: HarborReport) -> ParsedReport {
    let non_empty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    let mut vulnerabilities: Vec<Vulnerability> = report
        .vulnerabilities
        .unwrap_or_default()
        .into_iter()
        .map(|v| Vulnerability {
            id: v.id,
            severity: Severity::from_vendor_opt(v.severity.as_deref()),
            package: non_empty(v.package),
            package_version: non_empty(v.version),
            fixed_in: non_empty(v.fix_version),
            links: v
                .links
                .unwrap_or_default()
                .into_iter()
                .filter(|l| !l.is_empty())
                .collect(),
            description: non_empty(v.description),
        })
        .collect();
    vulnerabilities.sort_by(|a, b| (&a.id, &a.package).cmp(&(&b.id, &b.package)));
    ParsedReport {
        report: ScanReport { vulnerabilities },
        digest: report.artifact.and_then(|a| a.digest).filter(|d| !d.is_empty()),
    }
}

#[async_trait]
impl SecurityBackend for Harbor {
    fn name(&self) -> &str {
        "harbor"
    }

    async fn scan(&self, image: &ImageRef) -> portus_core::Result<ScanOutcome> {
        self.scan_image(image)
            .await
            .map_err(|e| e.into_core("security scanner"))
    }

    async fn health(&self) -> portus_core::Result<()> {
        self.metadata()
            .await
            .map(drop)
            .map_err(|e| e.into_core("security scanner"))
    }

    async fn vulnerability_data(&self) -> portus_core::Result<VulnerabilityData> {
        let metadata = self.metadata().await.map_err(|e| e.into_core("security scanner"))?;
        let updated = metadata
            .properties
            .unwrap_or_default()
            .remove(DB_UPDATED_AT)
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(at.trim()).ok());
        Ok(match updated {
            Some(at) => VulnerabilityData::UpdatedAt { at: at.to_utc() },
            None => VulnerabilityData::Unknown,
        })
    }
}

#[cfg(test)]
#[path = "harbor_tests.rs"]
mod tests;
