//! `[http]`: limits of every request, and how long a shutdown waits for them.

use serde::{Deserialize, Serialize};

/// HTTP limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Requests taking longer are answered with 408.
    pub request_timeout_secs: u64,
    /// On SIGTERM or Ctrl-C, how long requests in flight may take to finish before the
    /// server exits anyway.
    pub shutdown_timeout_secs: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: 64 * 1024,
            request_timeout_secs: 30,
            shutdown_timeout_secs: 30,
        }
    }
}
