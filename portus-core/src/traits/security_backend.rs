use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::Result;

/// An image to scan, with what a scanner needs to download its layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Repository name (`alice/app`).
    pub repository: String,
    /// Tag name.
    pub tag: String,
    /// Manifest digest.
    pub digest: String,
    /// Layers, base first: (digest, download URL).
    pub layers: Vec<(String, String)>,
    /// `Authorization` header value the scanner must send to download the layers.
    pub registry_authorization: Option<String>,
}

/// Normalized severity, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    /// Unknown severity.
    Unknown,
    /// Negligible.
    Negligible,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical (includes Clair's `Defcon1`).
    Critical,
}

/// One finding of one scanner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vulnerability {
    /// Identifier (`CVE-2016-6304`).
    pub id: String,
    /// Normalized severity.
    pub severity: Severity,
    /// Affected package, if known.
    pub package: Option<String>,
    /// Version that fixes it, if known.
    pub fixed_in: Option<String>,
    /// Reference links.
    pub links: Vec<String>,
    /// Free text.
    pub description: Option<String>,
}

/// A finished scan of one image by one backend.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ScanReport {
    /// All findings (possibly none: a real "clean" result).
    pub vulnerabilities: Vec<Vulnerability>,
}

/// The answer of a [`SecurityBackend`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanOutcome {
    /// The scan finished.
    Finished(ScanReport),
    /// The scanner is still working: ask again after the given delay.
    Pending {
        /// Suggested delay before asking again.
        retry_after: Duration,
    },
}

/// A vulnerability scanner. A scanner that cannot answer returns an error, never an empty
/// report.
#[async_trait]
pub trait SecurityBackend: Send + Sync {
    /// Backend name used for attribution ("clair", "dummy", ...).
    fn name(&self) -> &str;
    /// Scans (or continues scanning) an image.
    async fn scan(&self, image: &ImageRef) -> Result<ScanOutcome>;
    /// Checks that the scanner is reachable.
    async fn health(&self) -> Result<()>;
}
