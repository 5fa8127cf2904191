//! The `[registry]` section: where portus reaches the registry, and the host name users pull
//! from.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::Error;

/// Where the registry is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// The registry's API URL as portus reaches it (`http://127.0.0.1:5000`); without it,
    /// catalog sync and tag deletion are off (notifications still work).
    pub url: Option<Url>,
    /// The registry's host name as users pull from it (`registry.example.com` or
    /// `registry.example.com:5000`: no scheme, no path), shown in the pull commands of the
    /// pages (Portus' `external_hostname`). Default: the host and port of `url`, which is often
    /// an internal address; set this when users reach the registry by another name.
    pub external_hostname: Option<String>,
    /// Subject of the tokens portus mints for its own registry requests.
    pub service_account: String,
    /// Seconds allowed to connect to the registry (Portus' `registry.timeout.value`).
    pub connect_timeout_secs: u64,
    /// Seconds one registry request may take (Portus' `registry.read_timeout.value`); a
    /// request failing for a temporary reason is tried three times.
    pub request_timeout_secs: u64,
    /// Entries asked for per page of the catalog and of tag lists (Portus'
    /// `registry.catalog_page.value`).
    pub page_size: usize,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            url: None,
            external_hostname: None,
            service_account: "portus".into(),
            connect_timeout_secs: 5,
            request_timeout_secs: 30,
            page_size: 500,
        }
    }
}

impl RegistryConfig {
    /// The host (and port) users pull from: `external_hostname`, else the host and port of
    /// `url`; `None` when neither is set.
    pub fn pull_host(&self) -> Option<String> {
        if let Some(host) = &self.external_hostname {
            return Some(host.trim().to_owned());
        }
        let url = self.url.as_ref()?;
        let host = url.host_str()?;
        Some(match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        })
    }

    /// Refuses settings the registry client or the pages could not use.
    pub(super) fn validate(&self) -> Result<(), Error> {
        let invalid = |m: String| Err(Error::Config(m));
        if self.service_account.trim().is_empty() {
            return invalid("registry.service_account must not be empty".into());
        }
        if self.connect_timeout_secs == 0 || self.request_timeout_secs == 0 {
            return invalid("registry.connect_timeout_secs and registry.request_timeout_secs must be positive".into());
        }
        if !(1..=10_000).contains(&self.page_size) {
            return invalid("registry.page_size must be between 1 and 10000".into());
        }
        if let Some(url) = &self.url
            && !matches!(url.scheme(), "http" | "https")
        {
            return invalid(format!("registry.url must be an http or https URL (got {url})"));
        }
        if let Some(host) = &self.external_hostname
            && let Err(why) = check_hostname(host.trim())
        {
            return invalid(format!(
                "registry.external_hostname must be a host name with an optional port, as in \
                 `docker pull HOST/namespace/image` (registry.example.com or registry.example.com:5000), \
                 without scheme or path: {why} (got {host:?})"
            ));
        }
        Ok(())
    }
}

/// Checks `host[:port]`: a DNS name or IPv4 address, or a bracketed IPv6 address, then an
/// optional port from 1 to 65535.
fn check_hostname(value: &str) -> Result<(), &'static str> {
    if value.is_empty() {
        return Err("it is empty");
    }
    if value.contains("://") {
        return Err("it has a scheme");
    }
    if value.contains('/') {
        return Err("it has a path");
    }
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let (address, after) = rest.split_once(']').ok_or("an IPv6 address lacks its `]`")?;
        address
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| "the IPv6 address is not valid")?;
        match after {
            "" => (None, None),
            _ => (None, Some(after.strip_prefix(':').ok_or("only a port may follow `]`")?)),
        }
    } else {
        match value.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(value), None),
        }
    };
    if let Some(host) = host {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if host.len() > 253 || !host.split('.').all(label_ok) {
            return Err("the host is not a valid name");
        }
    }
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|p| p > 0)
    {
        return Err("the port is not a number from 1 to 65535");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(url: Option<&str>, external: Option<&str>) -> RegistryConfig {
        RegistryConfig {
            url: url.map(|u| Url::parse(u).unwrap()),
            external_hostname: external.map(str::to_owned),
            ..RegistryConfig::default()
        }
    }

    #[test]
    fn the_pull_host_defaults_from_the_url() {
        assert_eq!(with(None, None).pull_host(), None);
        assert_eq!(
            with(Some("http://127.0.0.1:5000"), None).pull_host().as_deref(),
            Some("127.0.0.1:5000")
        );
        assert_eq!(
            with(Some("https://registry.internal/"), None).pull_host().as_deref(),
            Some("registry.internal")
        );
        assert_eq!(
            with(Some("http://127.0.0.1:5000"), Some("registry.example.com"))
                .pull_host()
                .as_deref(),
            Some("registry.example.com")
        );
    }

    #[test]
    fn external_hostnames_are_host_and_port_only() {
        for good in [
            "registry.example.com",
            "registry.example.com:5000",
            "10.0.0.1:443",
            "[::1]:5000",
            "localhost",
        ] {
            assert!(with(None, Some(good)).validate().is_ok(), "{good}");
        }
        for (bad, why) in [
            ("https://registry.example.com", "scheme"),
            ("registry.example.com/v2", "path"),
            ("registry.example.com:0", "port"),
            ("registry.example.com:http", "port"),
            ("registry example.com", "host"),
            ("", "empty"),
            ("[::1", "IPv6"),
        ] {
            let error = with(None, Some(bad)).validate().unwrap_err().to_string();
            assert!(
                error.contains("registry.external_hostname") && error.contains(why),
                "{bad}: {error}"
            );
        }
    }
}
