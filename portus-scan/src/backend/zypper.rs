//! zypper-docker's server, as Portus called it: `GET /images?image=REPO:TAG`; 200 with the
//! patch list (security patches counted in `Security`, flagged `IsSecurity`), 202 while it is
//! still working. Any other answer is an error, never a clean report.

use std::time::Duration;

use async_trait::async_trait;
use portus_core::traits::{ImageRef, ScanOutcome, ScanReport, SecurityBackend, Severity, Vulnerability};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use url::Url;

use super::{legacy_error_message, read_answer, server_url};
use crate::Error;

/// Portus' `security.zypper` keys: the configuration section of [`ZypperBackend`].
///
/// ```
/// use std::time::Duration;
/// use portus_scan::backend::zypper::ZypperSettings;
///
/// let settings: ZypperSettings = serde_json::from_str(r#"{"server": "http://zypper:8080"}"#).unwrap();
/// assert!(settings.build(Duration::from_secs(60)).unwrap().is_some());
/// assert!(ZypperSettings::default().build(Duration::from_secs(60)).unwrap().is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZypperSettings {
    /// zypper-docker's server URL; empty disables the backend.
    pub server: String,
}

impl ZypperSettings {
    /// Whether the section turns the backend on (a non-empty `server`).
    pub fn is_enabled(&self) -> bool {
        !self.server.is_empty()
    }

    /// Checks what the types cannot: `server` is empty or an `http`/`https` URL.
    pub fn validate(&self) -> Result<(), Error> {
        self.build_url().map(drop)
    }

    /// The backend with a per-request `timeout` (Portus has no zypper timeout of its own; the
    /// program passes its scan timeout), or `None` when `server` is empty.
    pub fn build(&self, timeout: Duration) -> Result<Option<ZypperBackend>, Error> {
        self.build_url()?
            .map(|url| ZypperBackend::new(url, timeout))
            .transpose()
    }

    fn build_url(&self) -> Result<Option<Url>, Error> {
        self.is_enabled().then(|| server_url(&self.server)).transpose()
    }
}

/// The zypper-docker backend.
#[derive(Debug)]
pub struct ZypperBackend {
    http: reqwest::Client,
    url: Url,
    retry_after: Duration,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Patches {
    #[serde(default)]
    security: u64,
    #[serde(default)]
    list: Vec<Patch>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Patch {
    name: String,
    #[serde(default)]
    is_security: bool,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    summary: Option<String>,
}

impl ZypperBackend {
    /// A backend for the zypper-docker server at `url` (Portus' `security.zypper.server`).
    pub fn new(url: Url, timeout: Duration) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|source| Error::Unreachable { source })?;
        Ok(ZypperBackend {
            http,
            url,
            retry_after: Duration::from_secs(30),
        })
    }

    async fn scan_image(&self, image: &ImageRef) -> Result<ScanOutcome, Error> {
        let mut url = self.url.join("images").map_err(|e| Error::InvalidResponse {
            what: "images".into(),
            reason: e.to_string(),
        })?;
        url.query_pairs_mut()
            .append_pair("image", &format!("{}:{}", image.repository, image.tag));
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|source| Error::Unreachable { source })?;
        let what = format!("zypper-docker {}:{}", image.repository, image.tag);
        match response.status() {
            StatusCode::OK => {}
            StatusCode::ACCEPTED => {
                return Ok(ScanOutcome::Pending {
                    retry_after: self.retry_after,
                });
            }
            status => {
                let body = response.text().await.unwrap_or_default();
                return Err(Error::Status {
                    status: status.as_u16(),
                    what,
                    message: legacy_error_message(&body),
                });
            }
        }
        let report = read_answer(response, &what, parse_patches).await?;
        Ok(ScanOutcome::Finished(report))
    }
}

/// Reads zypper-docker's answer for an image: its security patches are the findings.
pub fn parse_patches(body: &[u8]) -> Result<ScanReport, serde_json::Error> {
    serde_json::from_slice::<Patches>(body).map(convert)
}

/// The security patches of a zypper-docker answer (`Security: 0` means none, whatever `List`
/// says, as Portus read it).
fn convert(patches: Patches) -> ScanReport {
    let vulnerabilities = if patches.security == 0 {
        Vec::new()
    } else {
        patches
            .list
            .into_iter()
            .filter(|p| p.is_security)
            .map(|p| Vulnerability {
                id: p.name,
                severity: Severity::from_vendor_opt(p.severity.as_deref()),
                package: None,
                package_version: None,
                fixed_in: None,
                links: Vec::new(),
                description: p.summary,
            })
            .collect()
    };
    ScanReport { vulnerabilities }
}

#[async_trait]
impl SecurityBackend for ZypperBackend {
    fn name(&self) -> &str {
        "zypper"
    }

    async fn scan(&self, image: &ImageRef) -> portus_core::Result<ScanOutcome> {
        self.scan_image(image)
            .await
            .map_err(|e| e.into_core("security scanner"))
    }

    async fn health(&self) -> portus_core::Result<()> {
        self.http
            .get(self.url.clone())
            .send()
            .await
            .map(|_| ())
            .map_err(|source| Error::Unreachable { source }.into_core("security scanner"))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::extract::{Query, State};
    use axum::http::StatusCode as Status;
    use axum::response::IntoResponse;
    use serde_json::json;

    use super::*;

    async fn fake(answer: Arc<Mutex<u16>>) -> Url {
        async fn images(
            State(answer): State<Arc<Mutex<u16>>>,
            Query(q): Query<std::collections::HashMap<String, String>>,
        ) -> axum::response::Response {
            assert_eq!(q.get("image").map(String::as_str), Some("alice/app:1.0"));
            let code = *answer.lock().unwrap();
            match code {
                200 => axum::Json(json!({"Count": 3, "Security": 2, "List": [
                    {"Name": "SUSE-2016-1", "IsSecurity": true, "Severity": "important", "Summary": "openssl"},
                    {"Name": "SUSE-2016-2", "IsSecurity": true, "Severity": "low"},
                    {"Name": "SUSE-2016-3", "IsSecurity": false}]}))
                .into_response(),
                202 => Status::ACCEPTED.into_response(),
                // A slow answer, then malformed JSON.
                1 => {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    Status::ACCEPTED.into_response()
                }
                2 => (Status::OK, "{\"Security\": 1, \"List\": [").into_response(),
                code => (
                    Status::from_u16(code).unwrap(),
                    axum::Json(json!({"Error": "zypper failed"})),
                )
                    .into_response(),
            }
        }
        let app = axum::Router::new()
            .route("/images", axum::routing::get(images))
            .with_state(answer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap()).parse().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    fn image() -> ImageRef {
        ImageRef {
            repository: "alice/app".into(),
            tag: "1.0".into(),
            digest: "sha256:x".into(),
            layers: vec![],
            registry_authorization: None,
        }
    }

    #[tokio::test]
    async fn security_patches_pending_and_errors() {
        let answer = Arc::new(Mutex::new(200));
        let zypper = ZypperBackend::new(fake(answer.clone()).await, Duration::from_secs(5)).unwrap();
        let ScanOutcome::Finished(report) = zypper.scan(&image()).await.unwrap() else {
            panic!()
        };
        let ids: Vec<(&str, Severity)> = report
            .vulnerabilities
            .iter()
            .map(|v| (v.id.as_str(), v.severity))
            .collect();
        assert_eq!(ids, [("SUSE-2016-1", Severity::High), ("SUSE-2016-2", Severity::Low)]);
        *answer.lock().unwrap() = 202;
        assert!(matches!(
            zypper.scan(&image()).await.unwrap(),
            ScanOutcome::Pending { .. }
        ));
        *answer.lock().unwrap() = 500;
        let err = zypper.scan(&image()).await.unwrap_err();
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert_eq!(err.to_string(), "security scanner is unavailable");
        assert!(err.is_temporary());
        assert!(
            source.contains("zypper-docker alice/app:1.0 answered HTTP 500: zypper failed"),
            "{source}"
        );
    }

    /// The shared `SecurityBackend` suite; the fake's answer code is the scanner state.
    mod conformance {
        use async_trait::async_trait;
        use portus_core::testing::{ScannerFixture, ScannerState};

        use super::*;

        struct FakeZypper(Url, Arc<Mutex<u16>>);

        #[async_trait]
        impl ScannerFixture for FakeZypper {
            async fn backend(&self, state: ScannerState) -> Option<Arc<dyn SecurityBackend>> {
                let code = match state {
                    ScannerState::Healthy => 200,
                    ScannerState::Pending => 202,
                    ScannerState::ServerError => 500,
                    ScannerState::InvalidResponse => 2,
                    ScannerState::Unreachable => {
                        let down = ZypperBackend::new(crate::backend::closed_url(), Duration::from_secs(5));
                        return Some(Arc::new(down.unwrap()));
                    }
                    _ => return None,
                };
                *self.1.lock().unwrap() = code;
                Some(Arc::new(
                    ZypperBackend::new(self.0.clone(), Duration::from_secs(5)).unwrap(),
                ))
            }

            fn image(&self) -> ImageRef {
                image()
            }
        }

        portus_core::security_backend_conformance!(async {
            let answer = Arc::new(Mutex::new(200));
            FakeZypper(fake(answer.clone()).await, answer)
        });
    }

    proptest::proptest! {
        /// Any JSON zypper-docker might send: a report or a parse error, never a panic; only
        /// security patches are findings.
        #[test]
        fn any_answer_is_a_report_or_an_error(value in crate::backend::arbitrary_json(&["Count", "Security", "List", "Name", "IsSecurity", "Severity", "Summary"])) {
            if let Ok(patches) = serde_json::from_value::<Patches>(value.clone()) {
                let security_patches = value["List"].as_array().map_or(0, |l| l.iter().filter(|p| p["IsSecurity"] == true).count());
                let report = convert(patches);
                let expected = if value["Security"] == 0 || value.get("Security").is_none() { 0 } else { security_patches };
                proptest::prop_assert_eq!(report.vulnerabilities.len(), expected);
            }
        }
    }
}
