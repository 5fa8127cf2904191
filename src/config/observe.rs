//! `[metrics]` and `[log]`: what `portus serve` shows of itself.

use serde::{Deserialize, Serialize};

/// `[metrics]`: Prometheus metrics at `/metrics` of `portus serve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Whether `/metrics` is served (and anything counted).
    pub enabled: bool,
    /// When set, `/metrics` wants `Authorization: Bearer <token>` (else 401).
    pub bearer_token: Option<String>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            bearer_token: None,
        }
    }
}

/// `[log]`: the log's format (its level is `PORTUS_LOG`, read before any configuration).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` (for people) or `json` (one object per line, for log collectors).
    pub format: LogFormat,
}

/// The log's format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn log_format_and_metrics_read_from_the_file_and_the_environment() {
        let config = Config::parse("[log]\nformat = \"json\"\n", "t", []).unwrap();
        assert_eq!(config.log.format, LogFormat::Json);
        assert!(config.metrics.enabled && config.metrics.bearer_token.is_none());
        let env = [
            ("PORTUS_METRICS_ENABLED", "false"),
            ("PORTUS_HTTP_SHUTDOWN_TIMEOUT_SECS", "5"),
        ];
        let config = Config::parse("", "t", env.map(|(k, v)| (k.to_owned(), v.to_owned()))).unwrap();
        assert!(!config.metrics.enabled);
        assert_eq!(config.http.shutdown_timeout_secs, 5);
        let wrong = Config::parse("[log]\nformat = \"xml\"\n", "t", [])
            .unwrap_err()
            .to_string();
        assert!(wrong.contains("unknown variant `xml`"), "{wrong}");
    }
}
