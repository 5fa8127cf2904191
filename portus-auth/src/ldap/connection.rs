//! Reaching the directory: the TLS client, connecting (plain, StartTLS or LDAPS), binding, and
//! a timeout on every step.
//!
//! The ldap3 trap: a refused bind is `Ok(LdapResult)` with a non-zero result code, not an
//! `Err`. [`Connector::bind`] hands that result back as it is and every caller matches on its
//! `rc`; [`Connector::service_bind`] checks it itself. Nothing here takes `Ok` for success, or
//! LDAP logins would fail open.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapResult};
use portus_core::Error as CoreError;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tracing::{debug, warn};

use super::config::{ConfigError, LdapConfig, ServiceAccount, TlsMethod};
use super::error::{LdapServerError, unavailable};

/// How the server is reached, fixed when the authenticator is built: its URL, the TLS client
/// (with StartTLS or LDAPS) and the timeout of each step.
pub(super) struct Connector {
    pub(super) url: String,
    pub(super) tls: Option<Arc<rustls::ClientConfig>>,
    starttls: bool,
    pub(super) timeout: Duration,
}

impl Connector {
    /// The server URL and TLS client of a validated `config`. The CA file is read here, so a
    /// missing or unreadable one is reported at start-up.
    pub(super) fn new(config: &LdapConfig) -> Result<Self, ConfigError> {
        let ca_file = config
            .encryption
            .ca_file
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty());
        let method = config.encryption.method;
        let tls = match method {
            TlsMethod::None if ca_file.is_some() => {
                return Err(ConfigError::Invalid(
                    "encryption.ca_file is set but encryption.method is none".into(),
                ));
            }
            TlsMethod::None => None,
            TlsMethod::StartTls | TlsMethod::Ldaps => Some(tls_config(ca_file)?),
        };
        let (scheme, default_port) = match method {
            TlsMethod::Ldaps => ("ldaps", 636),
            TlsMethod::None | TlsMethod::StartTls => ("ldap", 389),
        };
        let hostname = config.hostname.trim();
        let host = if hostname.contains(':') {
            format!("[{hostname}]")
        } else {
            hostname.to_owned()
        };
        let url = format!("{scheme}://{host}:{}", config.port.unwrap_or(default_port));
        Ok(Connector {
            url,
            tls,
            starttls: method == TlsMethod::StartTls,
            timeout: Duration::from_secs(config.timeout),
        })
    }

    /// Runs one step against the server within the configured timeout.
    pub(super) async fn within<T>(
        &self,
        operation: &'static str,
        step: impl Future<Output = ldap3::result::Result<T>>,
    ) -> Result<T, LdapServerError> {
        match tokio::time::timeout(self.timeout, step).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => Err(LdapServerError::Operation { operation, source }),
            Err(_) => Err(LdapServerError::Timeout {
                operation,
                timeout: self.timeout,
            }),
        }
    }

    pub(super) async fn connect(&self) -> Result<Ldap, CoreError> {
        let mut settings = LdapConnSettings::new();
        if let Some(tls) = &self.tls {
            settings = settings.set_config(tls.clone()).set_starttls(self.starttls);
        }
        let (connection, ldap) = self
            .within("connect", LdapConnAsync::with_settings(settings, &self.url))
            .await
            .map_err(|error| match error {
                LdapServerError::Operation { source, .. } => LdapServerError::Connect {
                    url: self.url.clone(),
                    source,
                },
                other => other,
            })
            .map_err(unavailable)?;
        ldap3::drive!(connection);
        Ok(ldap)
    }

    /// Ends the session; the connection task exits once the socket is closed.
    pub(super) async fn close(&self, mut ldap: Ldap) {
        if let Err(error) = self.within("unbind", ldap.unbind()).await {
            debug!(%error, "LDAP unbind failed");
        }
    }

    /// A simple bind. Its `Ok` carries the server's result, which may be a refusal (code 49
    /// for a wrong password): the caller must check `rc`.
    pub(super) async fn bind(
        &self,
        ldap: &mut Ldap,
        operation: &'static str,
        dn: &str,
        password: &str,
    ) -> Result<LdapResult, CoreError> {
        self.within(operation, ldap.simple_bind(dn, password))
            .await
            .map_err(unavailable)
    }

    /// Binds with the service account if there is one; `Ok(false)` when there is none. A
    /// refused service bind is an error (the directory is misconfigured, not the user wrong).
    pub(super) async fn service_bind(
        &self,
        ldap: &mut Ldap,
        account: Option<&ServiceAccount>,
    ) -> Result<bool, CoreError> {
        let Some(account) = account else {
            return Ok(false);
        };
        let result = self
            .bind(ldap, "service bind", &account.bind_dn, account.password.expose())
            .await?;
        if result.rc != 0 {
            warn!(bind_dn = %account.bind_dn, code = result.rc, text = %result.text, "LDAP service bind refused");
            return Err(unavailable(LdapServerError::refused("service bind", &result)));
        }
        Ok(true)
    }
}

/// The TLS client: trusting the certificates of `ca_file`, or the system's roots without one.
fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, ConfigError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|source| ConfigError::CaFile {
                path: path.to_owned(),
                source,
            })?;
            let bad = |source: Box<dyn std::error::Error + Send + Sync>| ConfigError::CaCertificate {
                path: path.to_owned(),
                source,
            };
            for cert in CertificateDer::pem_slice_iter(&pem) {
                roots
                    .add(cert.map_err(|e| bad(Box::new(e)))?)
                    .map_err(|e| bad(Box::new(e)))?;
            }
            if roots.is_empty() {
                return Err(bad("no CERTIFICATE block found".into()));
            }
        }
        None => {
            let (added, _) = roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            if added == 0 {
                return Err(ConfigError::NoSystemRoots);
            }
        }
    }
    // An explicit provider: `ClientConfig::builder()` panics when the dependency graph enables
    // more than one rustls crypto provider.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(ConfigError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::tests::{build, minimal};
    use super::*;

    #[test]
    fn ports_follow_the_encryption_method() {
        let mut config = minimal();
        config.encryption.method = TlsMethod::Ldaps;
        config.encryption.ca_file = Some(PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/rsa.crt")));
        assert_eq!(build(config.clone()).unwrap().url(), "ldaps://127.0.0.1:636");
        config.port = Some(1636);
        assert_eq!(build(config.clone()).unwrap().url(), "ldaps://127.0.0.1:1636");
        config.encryption.method = TlsMethod::StartTls;
        config.port = None;
        assert_eq!(build(config).unwrap().url(), "ldap://127.0.0.1:389");
        let mut v6 = minimal();
        v6.hostname = "::1".into();
        assert_eq!(build(v6).unwrap().url(), "ldap://[::1]:389");
    }
}
