//! The dummy backend: the same three findings for every image, as Portus' `dummy` backend
//! (`lib/portus/security_backends/fixtures/dummy.json`). For development and tests.

use async_trait::async_trait;
use portus_core::traits::{ImageRef, ScanOutcome, ScanReport, SecurityBackend, Severity, Vulnerability};
use serde::{Deserialize, Serialize};

/// Portus' `security.dummy` keys: any non-empty `server` turns the dummy backend on (it
/// contacts nothing).
///
/// ```
/// use portus_scan::backend::dummy::DummySettings;
///
/// let settings: DummySettings = serde_json::from_str(r#"{"server": "x"}"#).unwrap();
/// assert!(settings.build().is_some());
/// assert!(DummySettings::default().build().is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DummySettings {
    /// Any non-empty value enables the backend.
    pub server: String,
}

impl DummySettings {
    /// Whether the section turns the backend on (a non-empty `server`).
    pub fn is_enabled(&self) -> bool {
        !self.server.is_empty()
    }

    /// The backend, or `None` when `server` is empty.
    pub fn build(&self) -> Option<DummyBackend> {
        self.is_enabled().then_some(DummyBackend)
    }
}

/// Reports CVE-2016-6304 (High), CVE-2016-7052 (Medium) and CVE-2016-2178 (Low) for every
/// image.
#[derive(Debug, Clone, Default)]
pub struct DummyBackend;

fn finding(id: &str, severity: Severity) -> Vulnerability {
    Vulnerability {
        id: id.to_owned(),
        severity,
        package: Some("openssl".into()),
        package_version: None,
        fixed_in: None,
        links: vec![format!("https://cve.mitre.org/cgi-bin/cvename.cgi?name={id}")],
        description: None,
    }
}

#[async_trait]
impl SecurityBackend for DummyBackend {
    fn name(&self) -> &str {
        "dummy"
    }

    async fn scan(&self, _image: &ImageRef) -> portus_core::Result<ScanOutcome> {
        Ok(ScanOutcome::Finished(ScanReport {
            vulnerabilities: vec![
                finding("CVE-2016-6304", Severity::High),
                finding("CVE-2016-7052", Severity::Medium),
                finding("CVE-2016-2178", Severity::Low),
            ],
        }))
    }

    async fn health(&self) -> portus_core::Result<()> {
        Ok(())
    }
}

/// The shared `SecurityBackend` suite: the dummy backend has no remote side, so only the
/// checks of a healthy scanner apply (the others have no state to put it in).
#[cfg(test)]
mod conformance {
    use std::sync::Arc;

    use async_trait::async_trait;
    use portus_core::testing::{ScannerFixture, ScannerState};

    use super::*;

    struct Dummy;

    #[async_trait]
    impl ScannerFixture for Dummy {
        async fn backend(&self, state: ScannerState) -> Option<Arc<dyn SecurityBackend>> {
            (state == ScannerState::Healthy).then(|| Arc::new(DummyBackend) as Arc<dyn SecurityBackend>)
        }

        fn image(&self) -> ImageRef {
            portus_core::testing::image("alice/app", "1.0", "sha256:aa")
        }
    }

    portus_core::security_backend_conformance!(async { Dummy });
}
