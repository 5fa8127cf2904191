//! Clair v2.x through its "v1" layer API, as Portus used it: `POST /v1/layers` for every layer,
//! base first, each naming its parent; then `GET /v1/layers/{top}?features&vulnerabilities`.
//!
//! Layer names are chain ids (a digest of the layer and everything below it), so a layer blob
//! shared by two images in different chains never collides ("parent layer is unknown",
//! Portus #1453). Clair errors are errors: never an empty, "clean" report.

use std::time::Duration;

use async_trait::async_trait;
use data_encoding::HEXLOWER;
use portus_core::traits::{ImageRef, ScanOutcome, ScanReport, SecurityBackend, Severity, Vulnerability};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{legacy_error_message, read_answer, server_url};
use crate::Error;

/// The empty tar layer Docker adds for metadata-only steps; Clair cannot index it.
const EMPTY_LAYER: &str = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4";

/// Portus' `security.clair` keys: the configuration section of [`ClairLegacy`].
///
/// ```
/// use portus_scan::backend::clair_legacy::ClairLegacySettings;
///
/// let settings: ClairLegacySettings = serde_json::from_str(r#"{"server": "http://clair:6060"}"#).unwrap();
/// assert_eq!((settings.timeout, settings.health_port), (900, 6061));
/// assert!(settings.build().unwrap().is_some());
/// assert!(ClairLegacySettings::default().build().unwrap().is_none(), "off without a server");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClairLegacySettings {
    /// Clair's API URL (e.g. `http://clair:6060`); empty disables it.
    pub server: String,
    /// Request timeout in seconds.
    pub timeout: u64,
    /// Clair's health port: [`SecurityBackend::health`] asks `GET /health` there, on the host
    /// of `server` (Clair v2's `api.healthport`, 6061 by default), as Portus did.
    pub health_port: u16,
}

impl Default for ClairLegacySettings {
    fn default() -> Self {
        ClairLegacySettings {
            server: String::new(),
            timeout: 900,
            health_port: 6061,
        }
    }
}

impl ClairLegacySettings {
    /// Whether the section turns the backend on (a non-empty `server`).
    pub fn is_enabled(&self) -> bool {
        !self.server.is_empty()
    }

    /// Checks what the types cannot: `server` is empty or an `http`/`https` URL, and
    /// `health_port` is not 0.
    pub fn validate(&self) -> Result<(), Error> {
        if self.health_port == 0 {
            return Err(Error::InvalidSetting {
                key: "health_port",
                reason: "must be a port from 1 to 65535 (Clair v2's api.healthport, 6061 by default)".into(),
            });
        }
        self.build_url().map(drop)
    }

    /// The backend, or `None` when `server` is empty.
    pub fn build(&self) -> Result<Option<ClairLegacy>, Error> {
        self.build_url()?
            .map(|url| ClairLegacy::new(url, Duration::from_secs(self.timeout))?.with_health_port(self.health_port))
            .transpose()
    }

    fn build_url(&self) -> Result<Option<Url>, Error> {
        self.is_enabled().then(|| server_url(&self.server)).transpose()
    }
}

/// The Clair v2 backend.
#[derive(Debug)]
pub struct ClairLegacy {
    http: reqwest::Client,
    url: Url,
    /// `GET /health` on Clair's health port; `None`: `GET /v1/namespaces` on the API port.
    health_url: Option<Url>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LayerEnvelope<'a> {
    layer: PostLayer<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PostLayer<'a> {
    name: &'a str,
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<Headers<'a>>,
    parent_name: &'a str,
    format: &'static str,
}

#[derive(Serialize)]
struct Headers<'a> {
    #[serde(rename = "Authorization")]
    authorization: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LayerResponse {
    layer: Option<LayerDetails>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LayerDetails {
    #[serde(default)]
    features: Option<Vec<Feature>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Feature {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    vulnerabilities: Vec<LegacyVulnerability>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LegacyVulnerability {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    link: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    fixed_by: Option<String>,
}

impl ClairLegacy {
    /// A backend for the Clair v2 API at `url` (Portus' `security.clair.server`), with a
    /// per-request timeout (Portus' `security.clair.timeout`).
    pub fn new(url: Url, timeout: Duration) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|source| Error::Unreachable { source })?;
        Ok(ClairLegacy {
            http,
            url,
            health_url: None,
        })
    }

    /// Checks health with `GET /health` on `port` of the API's host, where Clair v2 serves it
    /// (answering 200 while its database answers); without it, health asks the API itself.
    pub fn with_health_port(mut self, port: u16) -> Result<Self, Error> {
        let mut url = self.url.join("/health").map_err(|e| Error::InvalidResponse {
            what: "clair health URL".into(),
            reason: e.to_string(),
        })?;
        url.set_port(Some(port)).map_err(|()| Error::InvalidSetting {
            key: "health_port",
            reason: format!("cannot be used with the server URL {}", self.url),
        })?;
        self.health_url = Some(url);
        Ok(self)
    }

    fn endpoint(&self, path: &str) -> Result<Url, Error> {
        self.url.join(path).map_err(|e| Error::InvalidResponse {
            what: path.into(),
            reason: e.to_string(),
        })
    }

    async fn failure(response: reqwest::Response, what: String) -> Error {
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        let message = legacy_error_message(&body);
        if status == 422 {
            // Unprocessable layer: retrying cannot help.
            return Error::Scanner { what, message };
        }
        Error::Status { status, what, message }
    }

    async fn scan_image(&self, image: &ImageRef) -> Result<ScanOutcome, Error> {
        let layers: Vec<_> = image.layers.iter().filter(|l| l.digest != EMPTY_LAYER).collect();
        if layers.is_empty() {
            return Err(Error::InvalidResponse {
                what: image.digest.clone(),
                reason: "the image has no layers".into(),
            });
        }
        let mut parent = String::new();
        for layer in layers {
            let name = chain_id(&parent, &layer.digest);
            let body = LayerEnvelope {
                layer: PostLayer {
                    name: &name,
                    path: &layer.url,
                    headers: image
                        .registry_authorization
                        .as_deref()
                        .map(|authorization| Headers { authorization }),
                    parent_name: &parent,
                    format: "Docker",
                },
            };
            let response = self
                .http
                .post(self.endpoint("v1/layers")?)
                .json(&body)
                .send()
                .await
                .map_err(|source| Error::Unreachable { source })?;
            if !matches!(response.status(), StatusCode::CREATED | StatusCode::OK) {
                return Err(Self::failure(response, format!("clair layer {}", layer.digest)).await);
            }
            parent = name;
        }
        let mut url = self.endpoint(&format!("v1/layers/{parent}"))?;
        url.set_query(Some("features&vulnerabilities"));
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|source| Error::Unreachable { source })?;
        let what = format!("clair report {}", image.digest);
        if response.status() != StatusCode::OK {
            return Err(Self::failure(response, what).await);
        }
        let report = read_answer(response, &what, parse_layer_report).await?;
        let report = report.ok_or_else(|| Error::Scanner {
            what,
            message: "Clair returned no features for the image".into(),
        })?;
        Ok(ScanOutcome::Finished(report))
    }
}

/// Reads Clair's answer to `GET /v1/layers/{name}?features&vulnerabilities`: one finding per
/// (feature, vulnerability). `Ok(None)` when the answer has no layer or `Features: null`:
/// Portus took that for "no vulnerabilities", but it means Clair did not analyse the image.
pub fn parse_layer_report(body: &[u8]) -> Result<Option<ScanReport>, serde_json::Error> {
    let parsed: LayerResponse = serde_json::from_slice(body)?;
    Ok(parsed.layer.and_then(|l| l.features).map(convert))
}

/// The name of a layer in its chain: sha256 of the parent's name and the layer's digest.
fn chain_id(parent: &str, layer: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("{parent} {layer}").as_bytes());
    format!("sha256:{}", HEXLOWER.encode(digest.as_ref()))
}

fn convert(features: Vec<Feature>) -> ScanReport {
    let mut vulnerabilities: Vec<Vulnerability> = features
        .into_iter()
        .flat_map(|feature| {
            let (package, version) = (feature.name, feature.version);
            feature.vulnerabilities.into_iter().map(move |v| Vulnerability {
                id: v.name,
                severity: Severity::from_vendor_opt(v.severity.as_deref()),
                package: Some(package.clone()),
                package_version: version.clone(),
                fixed_in: v.fixed_by.filter(|f| !f.is_empty()),
                links: v.link.into_iter().filter(|l| !l.is_empty()).collect(),
                description: v.description.filter(|d| !d.is_empty()),
            })
        })
        .collect();
    vulnerabilities.sort_by(|a, b| (&a.id, &a.package).cmp(&(&b.id, &b.package)));
    ScanReport { vulnerabilities }
}

#[async_trait]
impl SecurityBackend for ClairLegacy {
    fn name(&self) -> &str {
        "clair-legacy"
    }

    async fn scan(&self, image: &ImageRef) -> portus_core::Result<ScanOutcome> {
        self.scan_image(image)
            .await
            .map_err(|e| e.into_core("security scanner"))
    }

    async fn health(&self) -> portus_core::Result<()> {
        let scanner = |e: Error| e.into_core("security scanner");
        let (url, what) = match &self.health_url {
            Some(url) => (url.clone(), "clair health"),
            None => (self.endpoint("v1/namespaces").map_err(scanner)?, "clair namespaces"),
        };
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|source| scanner(Error::Unreachable { source }))?;
        if response.status() == StatusCode::OK {
            Ok(())
        } else {
            Err(scanner(Self::failure(response, what.into()).await))
        }
    }
}

#[cfg(test)]
#[path = "clair_legacy_tests.rs"]
mod tests;
