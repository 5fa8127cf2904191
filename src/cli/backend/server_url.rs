//! The `--server` URL: where the REST backend sends the token, so checked before anything is
//! sent.

use crate::Error;

/// The server's base URL from `--server`: http or https, without a trailing slash.
pub(crate) fn base_url(server: &str) -> Result<String, Error> {
    let url = url::Url::parse(server)
        .map_err(|e| Error::Usage(format!("--server: '{server}' is not an http:// or https:// URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::Usage(format!(
            "--server: '{server}' is not an http:// or https:// URL"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(Error::Usage(
            "--server: give the server's URL only (no credentials, query or fragment), e.g. https://portus.example.org"
                .into(),
        ));
    }
    // The token must not cross a network in clear text: plain http only to this machine.
    let loopback = match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if url.scheme() == "http" && !loopback {
        return Err(Error::Usage(format!(
            "--server: '{server}' is plain http to another host, which would send the token in clear text: use https://"
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::base_url;

    #[test]
    fn server_urls_are_http_or_https_without_extras() {
        assert_eq!(base_url("http://127.0.0.1:5001/").unwrap(), "http://127.0.0.1:5001");
        assert_eq!(
            base_url("https://portus.example.org/sub/").unwrap(),
            "https://portus.example.org/sub"
        );
        for bad in [
            "127.0.0.1:5001",
            "ftp://host",
            "http://u:p@host",
            "http://host/?x=1",
            "nonsense",
        ] {
            let error = base_url(bad).unwrap_err().to_string();
            assert!(error.starts_with("--server:"), "{bad}: {error}");
        }
        // Plain http only to this machine: elsewhere the token would travel in clear text.
        assert!(base_url("http://localhost:5001").is_ok());
        assert!(base_url("http://[::1]:5001").is_ok());
        let remote = base_url("http://portus.example.org").unwrap_err().to_string();
        assert!(remote.contains("clear text") && remote.contains("https://"), "{remote}");
    }
}
