//! Clair v4: index the manifest (`POST /indexer/api/v1/index_report`, synchronous), then read
//! the vulnerability report (`GET /matcher/api/v1/vulnerability_report/{digest}`).
//!
//! A matcher that answers 404 (no finished index yet) means "pending", never "clean". A 202
//! means the matcher has no vulnerability data at all (Clair's `Initialized` check: its `vuln`
//! table is empty, as on an air-gapped Clair before the first `clairctl import-updaters`): that
//! is an error naming the cause, so the tag shows why it has no result and the scan is retried,
//! never a clean or silently pending report. Every other failure is an error too.
//!
//! [`SecurityBackend::vulnerability_data`] reads the matcher's latest update operations
//! (`GET /matcher/api/v1/internal/update_operation?latest=true`): none is
//! [`VulnerabilityData::Missing`], else the newest one's date (when it was loaded into Clair's
//! database, by an updater or by an import). Optional pre-shared-key auth sends an HS256 JWT
//! as Clair's `auth.psk` expects.

use std::collections::HashMap;
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

/// Pre-shared-key authentication (`auth.psk` in Clair's configuration).
#[derive(Clone)]
pub struct ClairPsk {
    /// The base64-encoded key, as in Clair's configuration.
    pub key_base64: String,
    /// The `iss` claim; must be in Clair's `auth.psk.iss` list.
    pub issuer: String,
}

impl std::fmt::Debug for ClairPsk {
    // The key is a secret: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClairPsk")
            .field("key_base64", &"<redacted>")
            .field("issuer", &self.issuer)
            .finish()
    }
}

/// Settings of the Clair v4 backend.
#[derive(Debug, Clone)]
pub struct ClairV4Config {
    /// Clair's API URL (combo mode: indexer and matcher on one address).
    pub url: Url,
    /// Optional PSK authentication.
    pub psk: Option<ClairPsk>,
    /// Timeout of one request; indexing is synchronous and downloads every layer.
    pub timeout: Duration,
    /// Suggested delay when Clair is still working.
    pub retry_after: Duration,
}

impl ClairV4Config {
    /// Defaults for `url`: no PSK, 10-minute request timeout, retry after 30 s.
    pub fn new(url: Url) -> Self {
        ClairV4Config {
            url,
            psk: None,
            timeout: Duration::from_secs(600),
            retry_after: Duration::from_secs(30),
        }
    }
}

/// The `security.clair_v4` section: the configuration of [`ClairV4`].
///
/// ```
/// use portus_scan::backend::clair_v4::ClairV4Settings;
///
/// let settings: ClairV4Settings =
///     serde_json::from_str(r#"{"server": "http://clair:6060", "psk_key": "c2VjcmV0"}"#).unwrap();
/// let config = settings.config().unwrap().expect("a server is set");
/// assert_eq!(config.psk.unwrap().issuer, "portus");
/// assert_eq!(config.timeout.as_secs(), 600);
/// assert!(ClairV4Settings::default().build().unwrap().is_none(), "off without a server");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClairV4Settings {
    /// Clair's API URL (combo mode); empty disables it.
    pub server: String,
    /// Base64 pre-shared key of Clair's `auth.psk`; none sends no authentication.
    pub psk_key: Option<String>,
    /// Issuer for the PSK tokens (must be in Clair's `auth.psk.iss`).
    pub psk_issuer: String,
    /// Request timeout in seconds (indexing is synchronous).
    pub timeout_secs: u64,
}

impl Default for ClairV4Settings {
    fn default() -> Self {
        ClairV4Settings {
            server: String::new(),
            psk_key: None,
            psk_issuer: "portus".into(),
            timeout_secs: 600,
        }
    }
}

impl ClairV4Settings {
    /// Whether the section turns the backend on (a non-empty `server`).
    pub fn is_enabled(&self) -> bool {
        !self.server.is_empty()
    }

    /// Checks what the types cannot: `server` is empty or an `http`/`https` URL, and
    /// `psk_key` is base64.
    pub fn validate(&self) -> Result<(), Error> {
        self.config().map(drop)
    }

    /// The backend's settings, or `None` when `server` is empty.
    pub fn config(&self) -> Result<Option<ClairV4Config>, Error> {
        if !self.is_enabled() {
            return Ok(None);
        }
        let mut config = ClairV4Config::new(server_url(&self.server)?);
        config.timeout = Duration::from_secs(self.timeout_secs);
        if let Some(key) = &self.psk_key {
            jsonwebtoken::EncodingKey::from_base64_secret(key).map_err(|_| Error::InvalidSetting {
                key: "psk_key",
                reason: "must be base64, as Clair's auth.psk.key".into(),
            })?;
            config.psk = Some(ClairPsk {
                key_base64: key.clone(),
                issuer: self.psk_issuer.clone(),
            });
        }
        Ok(Some(config))
    }

    /// The backend, or `None` when `server` is empty.
    pub fn build(&self) -> Result<Option<ClairV4>, Error> {
        self.config()?.map(ClairV4::new).transpose()
    }
}

/// The Clair v4 backend.
#[derive(Debug)]
pub struct ClairV4 {
    http: reqwest::Client,
    config: ClairV4Config,
}

#[derive(Serialize)]
struct Manifest<'a> {
    hash: &'a str,
    layers: Vec<ClairLayer<'a>>,
}

#[derive(Serialize)]
struct ClairLayer<'a> {
    hash: &'a str,
    uri: &'a str,
    headers: HashMap<&'static str, Vec<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_type: Option<&'a str>,
}

#[derive(Deserialize)]
struct IndexReport {
    state: String,
    #[serde(default)]
    success: bool,
    #[serde(default)]
    err: String,
}

#[derive(Deserialize)]
struct VulnerabilityReport {
    #[serde(default)]
    packages: HashMap<String, Package>,
    vulnerabilities: HashMap<String, ClairVulnerability>,
    package_vulnerabilities: HashMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
struct ClairVulnerability {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    links: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    normalized_severity: Option<String>,
    #[serde(default)]
    fixed_in_version: Option<String>,
}

/// One entry of the matcher's update operations (claircore `driver.UpdateOperation`); only
/// its date matters here.
#[derive(Deserialize)]
struct UpdateOperation {
    date: chrono::DateTime<chrono::Utc>,
}

/// What portus says when the matcher answers 202: it has no vulnerability data.
pub const NO_VULNERABILITY_DATA: &str = "Clair has no vulnerability data yet, so it cannot tell \
     whether the image is vulnerable: let its updaters run, or import data offline with \
     `clairctl import-updaters` (see docs/security-scanning.md)";

#[derive(Serialize)]
struct PskClaims<'a> {
    iss: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
}

impl ClairV4 {
    /// A backend for the Clair at `config.url`.
    pub fn new(config: ClairV4Config) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|source| Error::Unreachable { source })?;
        Ok(ClairV4 { http, config })
    }

    fn request(&self, method: Method, path: &str) -> Result<reqwest::RequestBuilder, Error> {
        let url = self.config.url.join(path).map_err(|e| Error::InvalidResponse {
            what: path.to_owned(),
            reason: format!("bad URL: {e}"),
        })?;
        let mut request = self.http.request(method, url);
        if let Some(psk) = &self.config.psk {
            let now = chrono::Utc::now().timestamp();
            // Short-lived: Clair accepts a token without `exp` forever.
            let claims = PskClaims {
                iss: &psk.issuer,
                iat: now,
                nbf: now - 5,
                exp: now + 60,
            };
            let key =
                jsonwebtoken::EncodingKey::from_base64_secret(&psk.key_base64).map_err(|e| Error::InvalidResponse {
                    what: "clair psk".into(),
                    reason: e.to_string(),
                })?;
            let token = jsonwebtoken::encode(
                &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                &claims,
                &key,
            )
            .map_err(|e| Error::InvalidResponse {
                what: "clair psk".into(),
                reason: e.to_string(),
            })?;
            request = request.bearer_auth(token);
        }
        Ok(request)
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Result<reqwest::Response, Error> {
        request
            .send()
            .await
            .map_err(|source| Error::Unreachable { source })
            .inspect(|r| tracing::debug!(what, status = %r.status(), "clair answered"))
    }

    async fn failure(response: reqwest::Response, what: &str) -> Error {
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        let message: String = body.chars().take(300).collect();
        Error::Status {
            status,
            what: what.to_owned(),
            message,
        }
    }

    /// Makes sure Clair has a finished index report for the image; `Ok(false)` while it is not
    /// finished yet.
    async fn ensure_indexed(&self, image: &ImageRef) -> Result<bool, Error> {
        let what = format!("clair index report {}", image.digest);
        let existing = self
            .send(
                self.request(Method::GET, &format!("indexer/api/v1/index_report/{}", image.digest))?,
                &what,
            )
            .await?;
        let report: IndexReport = match existing.status() {
            StatusCode::OK => read_answer(existing, &what, |body| serde_json::from_slice(body)).await?,
            StatusCode::NOT_FOUND => {
                let manifest = Manifest {
                    hash: &image.digest,
                    layers: image
                        .layers
                        .iter()
                        .map(|l| ClairLayer {
                            hash: &l.digest,
                            uri: &l.url,
                            headers: image
                                .registry_authorization
                                .as_deref()
                                .map(|a| HashMap::from([("Authorization", vec![a])]))
                                .unwrap_or_default(),
                            media_type: l
                                .media_type
                                .as_deref()
                                .filter(|m| m.starts_with("application/vnd.oci.image.layer.v1.tar")),
                        })
                        .collect(),
                };
                let response = self
                    .send(
                        self.request(Method::POST, "indexer/api/v1/index_report")?
                            .json(&manifest),
                        &what,
                    )
                    .await?;
                if response.status() != StatusCode::CREATED && response.status() != StatusCode::OK {
                    return Err(Self::failure(response, &what).await);
                }
                read_answer(response, &what, |body| serde_json::from_slice(body)).await?
            }
            _ => return Err(Self::failure(existing, &what).await),
        };
        match report.state.as_str() {
            "IndexFinished" if report.success => Ok(true),
            "IndexError" | "IndexFinished" => Err(Error::Scanner {
                what,
                message: format!("indexing failed: {}", report.err),
            }),
            _ => Ok(false),
        }
    }

    async fn scan_image(&self, image: &ImageRef) -> Result<ScanOutcome, Error> {
        if image.layers.is_empty() {
            return Err(Error::InvalidResponse {
                what: image.digest.clone(),
                reason: "Clair indexes image manifests with layers only".into(),
            });
        }
        let pending = ScanOutcome::Pending {
            retry_after: self.config.retry_after,
        };
        if !self.ensure_indexed(image).await? {
            return Ok(pending);
        }
        let what = format!("clair vulnerability report {}", image.digest);
        let response = self
            .send(
                self.request(
                    Method::GET,
                    &format!("matcher/api/v1/vulnerability_report/{}", image.digest),
                )?,
                &what,
            )
            .await?;
        match response.status() {
            // The OpenAPI document says 201; Clair's code answers 200.
            StatusCode::OK | StatusCode::CREATED => {}
            // No finished index yet.
            StatusCode::NOT_FOUND => return Ok(pending),
            // The matcher has no vulnerability data: any report would be empty, not clean.
            StatusCode::ACCEPTED => {
                return Err(Error::Scanner {
                    what,
                    message: NO_VULNERABILITY_DATA.into(),
                });
            }
            _ => return Err(Self::failure(response, &what).await),
        }
        let report = read_answer(response, &what, parse_vulnerability_report).await?;
        Ok(ScanOutcome::Finished(report))
    }

    async fn read_vulnerability_data(&self) -> Result<VulnerabilityData, Error> {
        let what = "clair update operations";
        let response = self
            .send(
                self.request(
                    Method::GET,
                    "matcher/api/v1/internal/update_operation?kind=vulnerability&latest=true",
                )?,
                what,
            )
            .await?;
        if response.status() != StatusCode::OK {
            return Err(Self::failure(response, what).await);
        }
        let operations: Option<HashMap<String, Vec<UpdateOperation>>> =
            read_answer(response, what, |body| serde_json::from_slice(body)).await?;
        let newest = operations
            .unwrap_or_default()
            .into_values()
            .flatten()
            .map(|operation| operation.date)
            .max();
        Ok(newest.map_or(VulnerabilityData::Missing, |at| VulnerabilityData::UpdatedAt { at }))
    }
}

/// Reads a matcher's vulnerability report (the body of
/// `GET /matcher/api/v1/vulnerability_report/{digest}`): one finding per (package,
/// vulnerability) pair it lists, ids the report does not describe skipped, sorted by id.
pub fn parse_vulnerability_report(body: &[u8]) -> Result<ScanReport, serde_json::Error> {
    serde_json::from_slice::<VulnerabilityReport>(body).map(convert)
}

fn convert(report: VulnerabilityReport) -> ScanReport {
    let mut vulnerabilities = Vec::new();
    for (package_id, ids) in &report.package_vulnerabilities {
        let package = report.packages.get(package_id);
        for id in ids {
            let Some(v) = report.vulnerabilities.get(id) else {
                continue;
            };
            let severity = Severity::from_vendor_opt(v.normalized_severity.as_deref().or(v.severity.as_deref()));
            vulnerabilities.push(Vulnerability {
                id: v.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| v.id.clone()),
                severity,
                package: package.map(|p| p.name.clone()),
                package_version: package.and_then(|p| p.version.clone()),
                fixed_in: v.fixed_in_version.clone().filter(|f| !f.is_empty()),
                links: v
                    .links
                    .as_deref()
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
                description: v.description.clone().filter(|d| !d.is_empty()),
            });
        }
    }
    vulnerabilities.sort_by(|a, b| (&a.id, &a.package).cmp(&(&b.id, &b.package)));
    ScanReport { vulnerabilities }
}

#[async_trait]
impl SecurityBackend for ClairV4 {
    fn name(&self) -> &str {
        "clair"
    }

    async fn scan(&self, image: &ImageRef) -> portus_core::Result<ScanOutcome> {
        self.scan_image(image)
            .await
            .map_err(|e| e.into_core("security scanner"))
    }

    async fn health(&self) -> portus_core::Result<()> {
        let response = self
            .send(
                self.request(Method::GET, "indexer/api/v1/index_state")?,
                "clair index state",
            )
            .await?;
        if response.status() == StatusCode::OK {
            Ok(())
        } else {
            Err(Self::failure(response, "clair index state")
                .await
                .into_core("security scanner"))
        }
    }

    async fn vulnerability_data(&self) -> portus_core::Result<VulnerabilityData> {
        self.read_vulnerability_data()
            .await
            .map_err(|e| e.into_core("security scanner"))
    }
}

#[cfg(test)]
#[path = "clair_v4_tests.rs"]
mod tests;
