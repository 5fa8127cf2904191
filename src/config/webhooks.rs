//! `[webhooks]`: delivering the outgoing webhooks of namespaces (docs/webhooks.md).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::Error;

/// The delivery settings and the key webhook secrets are sealed with.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Whether webhooks may target loopback, link-local and private addresses (off: refused
    /// when saved and at connect time).
    pub allow_private_targets: bool,
    /// The sealing key, 32 bytes in base64; by default `webhooks.key` in the data directory,
    /// generated on first use.
    pub key: Option<String>,
    /// Seconds one delivery attempt may take.
    pub timeout_secs: u64,
    /// Seconds before the first retry of a failed delivery; each further retry waits twice as
    /// long, at most `max_retry_secs`.
    pub first_retry_secs: u64,
    /// The longest wait between two retries, in seconds.
    pub max_retry_secs: u64,
    /// A delivery still failing this many seconds after it was queued is given up.
    pub give_up_after_secs: u64,
}

impl std::fmt::Debug for WebhooksConfig {
    // The key seals every webhook's secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhooksConfig")
            .field("allow_private_targets", &self.allow_private_targets)
            .field("key", &self.key.as_ref().map(|_| "[hidden]"))
            .field("timeout_secs", &self.timeout_secs)
            .field("first_retry_secs", &self.first_retry_secs)
            .field("max_retry_secs", &self.max_retry_secs)
            .field("give_up_after_secs", &self.give_up_after_secs)
            .finish()
    }
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            allow_private_targets: false,
            key: None,
            timeout_secs: 10,
            first_retry_secs: 2,
            max_retry_secs: 300,
            give_up_after_secs: 86_400,
        }
    }
}

impl WebhooksConfig {
    /// Checks the values at load time.
    pub fn validate(&self) -> Result<(), Error> {
        if self.timeout_secs == 0 || self.first_retry_secs == 0 {
            return Err(Error::Config(
                "webhooks.timeout_secs and webhooks.first_retry_secs must be at least 1".into(),
            ));
        }
        if self.max_retry_secs < self.first_retry_secs {
            return Err(Error::Config(
                "webhooks.max_retry_secs must be at least webhooks.first_retry_secs".into(),
            ));
        }
        if let Some(key) = &self.key {
            portus_scan::webhooks::Sealer::from_base64(key)
                .map_err(|_| Error::Config("webhooks.key must be 32 bytes in base64".into()))?;
        }
        Ok(())
    }

    /// The dispatcher's settings.
    pub fn dispatch(&self) -> portus_scan::webhooks::DispatchConfig {
        portus_scan::webhooks::DispatchConfig {
            allow_private: self.allow_private_targets,
            timeout: Duration::from_secs(self.timeout_secs),
            first_retry: Duration::from_secs(self.first_retry_secs),
            max_retry: Duration::from_secs(self.max_retry_secs),
            give_up_after: Duration::from_secs(self.give_up_after_secs),
            ..portus_scan::webhooks::DispatchConfig::default()
        }
    }
}
