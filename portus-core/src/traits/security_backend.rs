use std::fmt;
use std::sync::Arc;
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
    /// Manifest digest (of a single-platform image manifest).
    pub digest: String,
    /// Layers, base first.
    pub layers: Vec<Layer>,
    /// `Authorization` header value the scanner must send to download the layers.
    pub registry_authorization: Option<String>,
}

/// One layer of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// Blob digest.
    pub digest: String,
    /// Where the scanner downloads it (the registry's blob URL).
    pub url: String,
    /// Layer media type, if known.
    pub media_type: Option<String>,
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
    /// Critical (includes Clair v2's `Defcon1`).
    Critical,
}

impl Severity {
    /// All severities, lowest first.
    pub const ALL: [Severity; 6] = [
        Severity::Unknown,
        Severity::Negligible,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// [`from_vendor`](Self::from_vendor) of a severity a report may leave out (absent is
    /// unknown).
    pub fn from_vendor_opt(name: Option<&str>) -> Severity {
        name.map(Severity::from_vendor).unwrap_or(Severity::Unknown)
    }

    /// Normalizes a scanner's severity name (case-insensitive; `Defcon1` is critical, anything
    /// unrecognised is unknown).
    pub fn from_vendor(name: &str) -> Severity {
        match name.trim().to_ascii_lowercase().as_str() {
            "negligible" => Severity::Negligible,
            "low" => Severity::Low,
            "medium" | "moderate" => Severity::Medium,
            "high" | "important" => Severity::High,
            "critical" | "defcon1" => Severity::Critical,
            _ => Severity::Unknown,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// One finding of one scanner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vulnerability {
    /// Identifier (`CVE-2016-6304`).
    pub id: String,
    /// Normalized severity.
    pub severity: Severity,
    /// Affected package name, if known.
    pub package: Option<String>,
    /// Installed version of that package, if known.
    pub package_version: Option<String>,
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

/// What a scanner says about its vulnerability data (an air-gapped scanner's data is only as
/// fresh as its last manual import).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[non_exhaustive]
pub enum VulnerabilityData {
    /// The scanner does not say.
    Unknown,
    /// The scanner has no vulnerability data yet: its reports would be empty, not clean.
    Missing,
    /// The data was last updated at this time.
    UpdatedAt {
        /// When the newest data was loaded or published.
        at: chrono::DateTime<chrono::Utc>,
    },
}

/// A vulnerability scanner. A scanner that cannot answer returns an error, never an empty
/// report.
#[async_trait]
pub trait SecurityBackend: std::fmt::Debug + Send + Sync {
    /// Backend name used for attribution ("clair", "dummy", ...).
    fn name(&self) -> &str;
    /// Scans (or continues scanning) an image.
    async fn scan(&self, image: &ImageRef) -> Result<ScanOutcome>;
    /// Checks that the scanner is reachable.
    async fn health(&self) -> Result<()>;
    /// The state and age of the scanner's vulnerability data; [`VulnerabilityData::Unknown`]
    /// unless the backend can ask.
    async fn vulnerability_data(&self) -> Result<VulnerabilityData> {
        Ok(VulnerabilityData::Unknown)
    }
}

macro_rules! forward_security_backend {
    ($wrapper:ty) => {
        #[async_trait]
        impl<T: SecurityBackend + ?Sized> SecurityBackend for $wrapper {
            fn name(&self) -> &str {
                (**self).name()
            }
            async fn scan(&self, image: &ImageRef) -> Result<ScanOutcome> {
                (**self).scan(image).await
            }
            async fn health(&self) -> Result<()> {
                (**self).health().await
            }
            async fn vulnerability_data(&self) -> Result<VulnerabilityData> {
                (**self).vulnerability_data().await
            }
        }
    };
}

forward_security_backend!(Arc<T>);
forward_security_backend!(Box<T>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_normalize() {
        assert_eq!(Severity::from_vendor("Defcon1"), Severity::Critical);
        assert_eq!(Severity::from_vendor("HIGH"), Severity::High);
        assert_eq!(Severity::from_vendor(" moderate "), Severity::Medium);
        assert_eq!(Severity::from_vendor("whatever"), Severity::Unknown);
        assert!(Severity::Critical > Severity::High && Severity::Negligible > Severity::Unknown);
    }
}
