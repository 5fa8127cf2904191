//! The `[security]` section: the scan settings, composed with each scanner's own section from
//! `portus_scan::backend` (or [`Unsupported`] when the build lacks the scanner's feature).

use serde::{Deserialize, Serialize};

#[cfg(not(all(
    feature = "clair-legacy",
    feature = "clair-v4",
    feature = "zypper",
    feature = "harbor",
    feature = "dummy"
)))]
use super::Unsupported;
use crate::Error;

/// `[security.clair]` (Clair v2).
#[cfg(feature = "clair-legacy")]
pub type ClairLegacySettings = portus_scan::backend::clair_legacy::ClairLegacySettings;
/// `[security.clair]`: this build has no Clair v2 backend (feature `clair-legacy`).
#[cfg(not(feature = "clair-legacy"))]
pub type ClairLegacySettings = Unsupported;
/// `[security.clair_v4]`.
#[cfg(feature = "clair-v4")]
pub type ClairV4Settings = portus_scan::backend::clair_v4::ClairV4Settings;
/// `[security.clair_v4]`: this build has no Clair v4 backend (feature `clair-v4`).
#[cfg(not(feature = "clair-v4"))]
pub type ClairV4Settings = Unsupported;
/// `[security.zypper]`.
#[cfg(feature = "zypper")]
pub type ZypperSettings = portus_scan::backend::zypper::ZypperSettings;
/// `[security.zypper]`: this build has no zypper-docker backend (feature `zypper`).
#[cfg(not(feature = "zypper"))]
pub type ZypperSettings = Unsupported;
/// `[security.harbor]`.
#[cfg(feature = "harbor")]
pub type HarborSettings = portus_scan::backend::harbor::HarborSettings;
/// `[security.harbor]`: this build has no Harbor scanner adapter backend (feature `harbor`).
#[cfg(not(feature = "harbor"))]
pub type HarborSettings = Unsupported;
/// `[security.dummy]`.
#[cfg(feature = "dummy")]
pub type DummySettings = portus_scan::backend::dummy::DummySettings;
/// `[security.dummy]`: this build has no dummy backend (feature `dummy`).
#[cfg(not(feature = "dummy"))]
pub type DummySettings = Unsupported;

/// Security scanner settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Clair v2 (the "v1" layer API Portus used).
    pub clair: ClairLegacySettings,
    /// Clair v4 (indexer and matcher API).
    pub clair_v4: ClairV4Settings,
    /// zypper-docker's server.
    pub zypper: ZypperSettings,
    /// A Harbor Pluggable Scanner API adapter (Trivy's, Grype's...).
    pub harbor: HarborSettings,
    /// The dummy backend: any non-empty `server` enables it.
    pub dummy: DummySettings,
    /// Longest wait for one backend's answer to one scan, in seconds.
    pub scan_timeout_secs: u64,
    /// Seconds between scan passes in `portus serve`.
    pub interval_secs: u64,
    /// Digests scanned at the same time.
    pub concurrency: usize,
    /// Finished scans are repeated after this many seconds, so new vulnerabilities show up.
    pub rescan_after_secs: u64,
    /// First retry delay after a failed or pending scan, in seconds (doubled per attempt, at
    /// most an hour).
    pub retry_after_secs: u64,
    /// Seconds a scan one instance claimed stays its own: an instance that dies holds its
    /// claims this long before another takes them over. Default: twice `scan_timeout_secs`,
    /// at least 60; more than `scan_timeout_secs`, so that a live instance always finishes
    /// first.
    pub claim_lease_secs: Option<u64>,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            clair: ClairLegacySettings::default(),
            clair_v4: ClairV4Settings::default(),
            zypper: ZypperSettings::default(),
            harbor: HarborSettings::default(),
            dummy: DummySettings::default(),
            scan_timeout_secs: 900,
            interval_secs: 10,
            concurrency: 8,
            rescan_after_secs: 24 * 3600,
            retry_after_secs: 30,
            claim_lease_secs: None,
        }
    }
}

impl SecurityConfig {
    /// How long a scan claim lasts ([`claim_lease_secs`](Self::claim_lease_secs)).
    pub fn claim_lease(&self) -> std::time::Duration {
        let default = self.scan_timeout_secs.saturating_mul(2).max(60);
        std::time::Duration::from_secs(self.claim_lease_secs.unwrap_or(default))
    }

    /// Checks the scanner sections (each by its backend's own rules) and the scan settings.
    /// Sections of backends this build lacks are refused when the scanner is built.
    pub fn validate(&self) -> Result<(), Error> {
        #[cfg(feature = "clair-legacy")]
        self.clair.validate().map_err(|e| setting_error("security.clair", e))?;
        #[cfg(feature = "clair-v4")]
        self.clair_v4
            .validate()
            .map_err(|e| setting_error("security.clair_v4", e))?;
        #[cfg(feature = "zypper")]
        self.zypper
            .validate()
            .map_err(|e| setting_error("security.zypper", e))?;
        #[cfg(feature = "harbor")]
        self.harbor
            .validate()
            .map_err(|e| setting_error("security.harbor", e))?;
        if self.scan_timeout_secs == 0 || self.interval_secs == 0 {
            return Err(Error::Config(
                "security.scan_timeout_secs and security.interval_secs must be positive".into(),
            ));
        }
        if self
            .claim_lease_secs
            .is_some_and(|lease| lease <= self.scan_timeout_secs)
        {
            return Err(Error::Config(
                "security.claim_lease_secs must be more than security.scan_timeout_secs".into(),
            ));
        }
        if !(1..=1024).contains(&self.concurrency) {
            return Err(Error::Config("security.concurrency must be between 1 and 1024".into()));
        }
        Ok(())
    }
}

/// A backend's error about its own section at `section` (`security.clair`): a bad setting
/// becomes a configuration error naming the full key, anything else stays what it is.
pub fn setting_error(section: &str, error: portus_scan::Error) -> Error {
    match error {
        portus_scan::Error::InvalidSetting { key, reason } => Error::Config(format!("{section}.{key} {reason}")),
        other => Error::Sync(other),
    }
}
