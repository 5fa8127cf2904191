//! The SSRF guard: webhook targets that resolve to loopback, link-local, private or other
//! internal addresses are refused unless `webhooks.allow_private_targets` is on, when a webhook
//! is saved and again at connect time (a DNS resolver that drops such addresses, so a name
//! that changes its answer after the check cannot reach them either).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::Error;

/// Whether an address is internal: loopback, unspecified, private (RFC 1918, unique local),
/// link-local, shared (RFC 6598), multicast, broadcast or reserved.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
                || v6 == Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0) // NAT64 prefix itself
        }
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space
        || a >= 240 // reserved
}

/// Checks a webhook URL: `http`/`https` with a host; when private targets are not allowed, an
/// IP literal must not be internal and a name must resolve, to no internal address.
pub async fn check_target(url: &str, allow_private: bool) -> Result<(), Error> {
    let parsed = url::Url::parse(url).map_err(|e| Error::Webhook(format!("invalid URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::Webhook("the URL must be http or https".into()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::Webhook(
            "credentials go in the webhook's username and password, not in the URL".into(),
        ));
    }
    let host = match parsed.host() {
        Some(host) => host,
        None => return Err(Error::Webhook("the URL has no host".into())),
    };
    if allow_private {
        return Ok(());
    }
    let port = parsed.port_or_known_default().unwrap_or(80);
    let addresses: Vec<IpAddr> = match host {
        url::Host::Ipv4(ip) => vec![IpAddr::V4(ip)],
        url::Host::Ipv6(ip) => vec![IpAddr::V6(ip)],
        url::Host::Domain(name) => tokio::net::lookup_host((name, port))
            .await
            .map_err(|e| Error::Webhook(format!("'{name}' does not resolve: {e}")))?
            .map(|a| a.ip())
            .collect(),
    };
    if let Some(ip) = addresses.iter().find(|ip| is_internal(**ip)) {
        return Err(Error::Webhook(format!(
            "the URL points to an internal address ({ip}); set webhooks.allow_private_targets to allow it"
        )));
    }
    Ok(())
}

/// A resolver that drops internal addresses (unless allowed), for the delivery client.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    /// `webhooks.allow_private_targets`.
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allow_private || !is_internal(a.ip()))
                .collect();
            if kept.is_empty() {
                return Err(Box::new(Error::Webhook(format!(
                    "'{host}' resolves to no address webhooks may reach"
                ))) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "172.32.0.1"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn loopback_targets_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9/",
            "http://[::1]/",
            "http://localhost:8080/x",
            "http://10.0.0.1/",
        ] {
            let error = check_target(url, false).await.unwrap_err().to_string();
            assert!(
                error.contains("internal address") || error.contains("resolve"),
                "{url}: {error}"
            );
            check_target(url, true).await.unwrap();
        }
        assert!(check_target("ftp://example.com/", true).await.is_err());
        assert!(check_target("http://user:pw@example.com/", true).await.is_err());
    }
}
