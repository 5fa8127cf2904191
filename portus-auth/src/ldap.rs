//! The [`LdapAuthenticator`]: users log in with their directory password (feature `ldap`).
//!
//! # Login flow
//!
//! 1. An empty user name or password is refused at once: an LDAP simple bind with an empty
//!    password is an *unauthenticated* bind, which servers answer with success.
//! 2. Connect (TCP, then TLS or StartTLS as configured) and bind with the service account, if
//!    one is configured; otherwise search anonymously.
//! 3. Search `(&(<uid>=<escaped user name>)<filter>)` under `admin_base` (if set), then under
//!    `base`. No entry: [`AuthOutcome::UnknownUser`]. More than one: the login is refused.
//! 4. Read the configured groups of the entry (with the service account, never with the user's
//!    own rights), then bind as the entry's DN with the user's password.
//! 5. On success, find the local user of the same name or create it without a local password
//!    (e-mail per `guess_email`, administrator if the entry was found under `admin_base`), add
//!    it to the teams of its groups, and return [`AuthMethod::External`]`("ldap")`.
//!
//! The name the user typed must equal a value of the entry's `uid` attribute exactly. Directory
//! attributes such as `uid` usually match case-insensitively, but local user names do not;
//! accepting `ALICE` for `uid=alice` would create a second local user for the same person.
//!
//! # Chaining with local accounts
//!
//! The embedding program lists the authenticators as `[local, ldap]`
//! (see [`TokenService::new`](crate::TokenService::new)). Users with a local password are
//! verified locally, so they (typically the administrators and bots) keep working while the
//! directory is down. Users unknown locally, or known but without a local password (those
//! created here), fall through to LDAP.
//!
//! # Failures
//!
//! An unreachable or silent server, a TLS failure, a refused service bind and a timeout are
//! errors ([`portus_core::Error::Unavailable`], HTTP 503 upstream), never
//! [`AuthOutcome::UnknownUser`]: a broken directory must not let the next authenticator decide
//! (fail closed). Passwords are never logged.
//!
//! # Group to team mapping
//!
//! Each entry of `groups` names an LDAP group (`dn`, or `cn` searched under `group_base`) of
//! class `groupOfNames` or `groupOfUniqueNames`, a team and a role. At every successful login
//! the user becomes a member of the team of each group that lists the user's DN in `member` or
//! `uniqueMember`, with at least the configured role (a higher role given in portus is kept).
//! Memberships are only **added, never removed**: leaving the LDAP group does not remove the
//! user from the team, so that memberships granted in portus by hand are never lost. Remove
//! them in portus when someone leaves. Teams are not created; a mapping to a missing team (or
//! to a hidden personal team) is logged and skipped.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, LdapResult, Scope, SearchEntry, SearchOptions};
use portus_core::model::{Role, User};
use portus_core::naming::validate_username;
use portus_core::prelude::*;
use portus_core::traits::{AuthMethod, AuthOutcome, Authenticator, Identity, Secret};
use portus_core::{Error as CoreError, PolicyStore};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::{Deserialize, Deserializer};
use tracing::{debug, info, warn};

/// What [`portus_core::Error::Unavailable`] names when the directory fails.
const WHAT: &str = "LDAP server";
/// The actor of the activities LDAP sign-ins record (users created, group memberships).
const LDAP_ACTOR: &str = "ldap";

// LDAP result codes (RFC 4511, appendix A) this module acts on.
const RC_SIZE_LIMIT_EXCEEDED: u32 = 4;
const RC_REFERRAL: u32 = 10;
const RC_NO_SUCH_OBJECT: u32 = 32;
const RC_INVALID_CREDENTIALS: u32 = 49;
const RC_BUSY: u32 = 51;
const RC_UNAVAILABLE: u32 = 52;

/// Settings of the [`LdapAuthenticator`]: the `[ldap]` section of the configuration.
///
/// Keys and defaults follow Portus' `ldap.*` settings. Unknown keys are rejected. Empty
/// strings, which Portus configurations use for "unset", count as unset. Portus keys that do
/// not exist here: `enabled` and `authentication.enabled` (the presence of the section decides),
/// `encryption.options` (use `encryption.ca_file`; TLS 1.2 or 1.3 is always used) and
/// `group_sync` (replaced by the explicit `groups` mappings).
///
/// ```
/// use portus_auth::ldap::{LdapConfig, TlsMethod};
///
/// let config: LdapConfig = toml::from_str(r#"
///     hostname = "ldap.example.org"
///     base = "ou=people,dc=example,dc=org"
///     admin_base = "ou=admins,dc=example,dc=org"
///     filter = "(objectClass=inetOrgPerson)"
///     group_base = "ou=groups,dc=example,dc=org"
///
///     [encryption]
///     method = "start_tls"            # Portus spelling, same as "starttls"
///     ca_file = "/etc/portus/ldap-ca.pem"
///
///     [authentication]
///     bind_dn = "cn=portus,ou=services,dc=example,dc=org"
///     password = "service-secret"
///
///     [guess_email]
///     enabled = true
///     attr = "mail"
///
///     [[groups]]
///     dn = "cn=developers,ou=groups,dc=example,dc=org"
///     team = "devs"
///     role = "contributor"
///
///     [[groups]]
///     cn = "ops"
///     team = "operations"
/// "#).unwrap();
/// assert_eq!(config.encryption.method, TlsMethod::StartTls);
/// assert_eq!((config.port, config.timeout, config.uid.as_str()), (None, 5, "uid"));
/// assert!(!format!("{config:?}").contains("service-secret"));
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapConfig {
    /// Host name or IP address of the server.
    pub hostname: String,
    /// TCP port; by default 389, or 636 with `encryption.method = "ldaps"`.
    #[serde(default)]
    pub port: Option<u16>,
    /// Seconds allowed for connecting (TCP and TLS) and again for each LDAP operation
    /// (default 5).
    #[serde(default = "default_timeout")]
    pub timeout: u64,
    /// Transport security.
    #[serde(default)]
    pub encryption: Encryption,
    /// Where users are searched (subtree).
    pub base: String,
    /// Searched before `base`: users found here become administrators when their local user
    /// is created (an existing user's rights are never changed).
    #[serde(default)]
    pub admin_base: Option<String>,
    /// Extra filter ANDed to the user search, e.g. `(objectClass=person)`; the parentheses
    /// may be omitted.
    #[serde(default)]
    pub filter: Option<String>,
    /// Attribute holding the login name (default `uid`; `sAMAccountName` for Active
    /// Directory).
    #[serde(default = "default_uid")]
    pub uid: String,
    /// Service account for searching; without it the search is anonymous.
    #[serde(default)]
    pub authentication: Option<ServiceAccount>,
    /// How the e-mail of a new local user is filled in.
    #[serde(default)]
    pub guess_email: GuessEmail,
    /// Where groups given by `cn` in `groups` are searched (subtree).
    #[serde(default)]
    pub group_base: Option<String>,
    /// LDAP group to team mappings, applied at every login (see the module documentation).
    #[serde(default)]
    pub groups: Vec<GroupMapping>,
}

fn default_timeout() -> u64 {
    5
}

fn default_uid() -> String {
    "uid".into()
}

/// Transport security settings (`encryption`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encryption {
    /// `none` (default), `starttls` or `ldaps`.
    #[serde(default)]
    pub method: TlsMethod,
    /// PEM file with the CA certificates that may sign the server's certificate. It replaces
    /// the system's trusted roots. Read once, when the authenticator is built.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// How the connection is secured. Portus' spellings are accepted: `""` for `none`,
/// `start_tls` for `starttls` and `simple_tls` for `ldaps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum TlsMethod {
    /// Plain LDAP: passwords cross the network in clear text.
    #[default]
    #[serde(rename = "none", alias = "")]
    None,
    /// Plain LDAP upgraded with the StartTLS extended operation before anything is sent.
    #[serde(rename = "starttls", alias = "start_tls")]
    StartTls,
    /// LDAP over TLS from the first byte (`ldaps://`).
    #[serde(rename = "ldaps", alias = "simple_tls")]
    Ldaps,
}

/// The service account used for searching (`authentication`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceAccount {
    /// DN to bind as.
    pub bind_dn: String,
    /// Its password (redacted in `Debug`).
    #[serde(deserialize_with = "deserialize_secret")]
    pub password: Secret,
}

fn deserialize_secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
    String::deserialize(deserializer).map(Secret::new)
}

/// How the e-mail of a new local user is derived (`guess_email`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuessEmail {
    /// Off by default: users then have no e-mail.
    #[serde(default)]
    pub enabled: bool,
    /// Attribute to take the first value of (e.g. `mail`). Empty: `<user>@<domain>`, the
    /// domain made of the entry DN's `dc` parts (`uid=alice,ou=people,dc=example,dc=org` →
    /// `alice@example.org`).
    #[serde(default)]
    pub attr: String,
}

/// One LDAP group to team mapping (`[[groups]]`). Exactly one of `dn` and `cn` is given.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupMapping {
    /// The group's DN.
    #[serde(default)]
    pub dn: Option<String>,
    /// The group's `cn`, searched under `group_base`.
    #[serde(default)]
    pub cn: Option<String>,
    /// Name of the (existing) portus team.
    pub team: String,
    /// Role the members get (default `viewer`, Portus' `group_sync.default_role`).
    #[serde(default = "default_role")]
    pub role: Role,
}

fn default_role() -> Role {
    Role::Viewer
}

/// A configuration the [`LdapAuthenticator`] cannot work with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A setting is missing or malformed; the message names it.
    #[error("ldap: {0}")]
    Invalid(String),
    /// `encryption.ca_file` cannot be read.
    #[error("ldap: cannot read encryption.ca_file {path}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why it cannot be read.
        #[source]
        source: std::io::Error,
    },
    /// `encryption.ca_file` is not PEM or holds a certificate rustls cannot use.
    #[error("ldap: encryption.ca_file {path} is not a usable PEM certificate file")]
    CaCertificate {
        /// The file.
        path: PathBuf,
        /// The parse or certificate error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// TLS is configured without `ca_file` and the system has no trusted roots.
    #[error("ldap: no trusted CA certificates found on this system; set encryption.ca_file")]
    NoSystemRoots,
    /// The TLS client could not be set up.
    #[error("ldap: TLS setup failed")]
    Tls(#[source] rustls::Error),
}

/// Why the directory could not answer; the source of [`portus_core::Error::Unavailable`] (and
/// of [`portus_core::Error::Backend`] for unexpected result codes).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LdapServerError {
    /// TCP connection, TLS handshake or StartTLS failed.
    #[error("cannot connect to {url}")]
    Connect {
        /// The server URL.
        url: String,
        /// The underlying failure.
        #[source]
        source: LdapError,
    },
    /// The server did not answer in time.
    #[error("{operation} timed out after {timeout:?}")]
    Timeout {
        /// What was being done (`connect`, `service bind`, `user search`, ...).
        operation: &'static str,
        /// The configured timeout.
        timeout: Duration,
    },
    /// The connection failed during an operation.
    #[error("{operation} failed")]
    Operation {
        /// What was being done.
        operation: &'static str,
        /// The underlying failure.
        #[source]
        source: LdapError,
    },
    /// The server answered with an error result code.
    #[error("{operation} refused by the server: result code {code} {text:?}")]
    Refused {
        /// What was being done.
        operation: &'static str,
        /// The LDAP result code (49: invalid credentials, 52: unavailable, ...).
        code: u32,
        /// The server's diagnostic message.
        text: String,
    },
}

impl LdapServerError {
    fn refused(operation: &'static str, result: &LdapResult) -> Self {
        LdapServerError::Refused {
            operation,
            code: result.rc,
            text: result.text.clone(),
        }
    }
}

fn unavailable(error: LdapServerError) -> CoreError {
    CoreError::Unavailable {
        what: WHAT,
        source: Box::new(error),
    }
}

/// A result code that is neither success nor handled by the caller: temporary conditions are
/// `Unavailable`, anything else (insufficient access, a bad filter...) a configuration problem.
fn result_error(operation: &'static str, result: &LdapResult) -> CoreError {
    let error = LdapServerError::refused(operation, result);
    match result.rc {
        RC_BUSY | RC_UNAVAILABLE => unavailable(error),
        _ => CoreError::Backend {
            what: WHAT,
            source: Box::new(error),
        },
    }
}

/// Authenticates users against an LDAP directory and provisions them in the policy store.
///
/// See the [module documentation](self) for the flow, the chain order and group mapping.
///
/// ```
/// use std::sync::Arc;
/// use portus_auth::ldap::{LdapAuthenticator, LdapConfig};
/// use portus_core::{Authenticator, InMemoryStore};
///
/// let config: LdapConfig = toml::from_str(r#"
///     hostname = "127.0.0.1"
///     base = "dc=example,dc=org"
/// "#).unwrap();
/// let ldap = LdapAuthenticator::new(config, Arc::new(InMemoryStore::new())).unwrap();
/// assert_eq!(ldap.name(), "ldap");
/// assert_eq!(ldap.url(), "ldap://127.0.0.1:389");
/// ```
pub struct LdapAuthenticator {
    config: LdapConfig,
    store: Arc<dyn PolicyStore>,
    url: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
    admin_base: Option<String>,
    extra_filter: String,
}

impl fmt::Debug for LdapAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapAuthenticator")
            .field("url", &self.url)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The user search filter; the user name is escaped so it can only ever be a literal value.
fn user_filter(uid: &str, username: &str, extra_filter: &str) -> String {
    format!("(&({uid}={}){extra_filter})", ldap3::ldap_escape(username))
}

/// Whether `attribute` can be pasted into a filter: a descriptor or a numeric OID, options
/// allowed (RFC 4512 section 2.5).
fn is_attribute_name(attribute: &str) -> bool {
    !attribute.is_empty()
        && attribute
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ';'))
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// `<username>@<dc parts joined by dots>`, or `None` when the DN has no `dc` part.
fn email_from_dn(username: &str, dn: &str) -> Option<String> {
    if username.contains('@') {
        return None;
    }
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in dn.chars().chain([',']) {
        match c {
            _ if escaped => {
                current.push(c);
                escaped = false;
            }
            '\\' => {
                current.push(c);
                escaped = true;
            }
            ',' | '+' => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    let domain: Vec<&str> = parts
        .iter()
        .filter_map(|part| part.split_once('='))
        .filter(|(kind, value)| kind.trim().eq_ignore_ascii_case("dc") && !value.trim().is_empty())
        .map(|(_, value)| value.trim())
        .collect();
    (!domain.is_empty()).then(|| format!("{username}@{}", domain.join(".")))
}

/// Values of `attribute` in `entry` (servers may answer with another letter case).
fn values<'a>(entry: &'a SearchEntry, attribute: &str) -> impl Iterator<Item = &'a String> {
    entry
        .attrs
        .iter()
        .filter(move |(name, _)| name.eq_ignore_ascii_case(attribute))
        .flat_map(|(_, values)| values)
}

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

/// The outcome of the user search.
enum UserSearch {
    NotFound,
    /// The entry, and whether it was found under `admin_base`.
    Found(SearchEntry, bool),
    /// More than one entry has this user name: refuse rather than pick one.
    Ambiguous,
}

/// The directory's verdict on a login, before anything is written to the store.
enum Verdict {
    Unknown,
    Refused,
    Accepted {
        admin: bool,
        email: Option<String>,
        teams: Vec<(String, Role)>,
    },
}

impl LdapAuthenticator {
    /// Checks `config` and builds the authenticator; nothing is contacted yet. The CA file is
    /// read here, so a missing or unreadable one is reported at start-up.
    pub fn new(config: LdapConfig, store: Arc<dyn PolicyStore>) -> Result<Self, ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        let hostname = config.hostname.trim();
        if hostname.is_empty()
            || !hostname
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        {
            return invalid(format!(
                "hostname {:?} is not a host name or IP address",
                config.hostname
            ));
        }
        if config.base.trim().is_empty() {
            return invalid("base must name the subtree where users are searched".into());
        }
        if let Some(account) = &config.authentication
            && (account.bind_dn.trim().is_empty() || account.password.expose().is_empty())
        {
            // An empty password would make the service bind an anonymous one that "succeeds".
            return invalid("authentication needs a bind_dn and a non-empty password".into());
        }
        if config.timeout == 0 {
            return invalid("timeout must be at least 1 second".into());
        }
        if !is_attribute_name(&config.uid) {
            return invalid(format!("uid {:?} is not an attribute name", config.uid));
        }
        if !config.guess_email.attr.is_empty() && !is_attribute_name(&config.guess_email.attr) {
            return invalid(format!(
                "guess_email.attr {:?} is not an attribute name",
                config.guess_email.attr
            ));
        }
        let extra_filter = match non_empty(config.filter.as_deref()) {
            Some(f) if f.starts_with('(') => f,
            Some(f) => format!("({f})"),
            None => String::new(),
        };
        if ldap3::parse_filter(user_filter(&config.uid, "probe", &extra_filter)).is_err() {
            return invalid(format!(
                "filter {:?} is not a valid LDAP filter",
                config.filter.unwrap_or_default()
            ));
        }
        let group_base = non_empty(config.group_base.as_deref());
        for mapping in &config.groups {
            let dn = non_empty(mapping.dn.as_deref());
            let cn = non_empty(mapping.cn.as_deref());
            if dn.is_some() == cn.is_some() {
                return invalid(format!(
                    "the group mapping for team {:?} needs exactly one of dn and cn",
                    mapping.team
                ));
            }
            if cn.is_some() && group_base.is_none() {
                return invalid(format!(
                    "the group mapping for team {:?} gives a cn, which needs group_base",
                    mapping.team
                ));
            }
            if mapping.team.trim().is_empty() {
                return invalid("a group mapping has an empty team".into());
            }
        }
        let ca_file = config
            .encryption
            .ca_file
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty());
        let method = config.encryption.method;
        let tls = match method {
            TlsMethod::None if ca_file.is_some() => {
                return invalid("encryption.ca_file is set but encryption.method is none".into());
            }
            TlsMethod::None => None,
            TlsMethod::StartTls | TlsMethod::Ldaps => Some(tls_config(ca_file)?),
        };
        let (scheme, default_port) = match method {
            TlsMethod::Ldaps => ("ldaps", 636),
            TlsMethod::None | TlsMethod::StartTls => ("ldap", 389),
        };
        let host = if hostname.contains(':') {
            format!("[{hostname}]")
        } else {
            hostname.to_owned()
        };
        let url = format!("{scheme}://{host}:{}", config.port.unwrap_or(default_port));
        Ok(LdapAuthenticator {
            admin_base: non_empty(config.admin_base.as_deref()),
            timeout: Duration::from_secs(config.timeout),
            config,
            store,
            url,
            tls,
            extra_filter,
        })
    }

    /// The server URL (`ldap://host:port` or `ldaps://host:port`), for logs and health reports.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The configuration in use.
    pub fn config(&self) -> &LdapConfig {
        &self.config
    }

    /// Connects and binds with the service account (anonymously without one), as Portus' LDAP
    /// health check. `Err` is [`portus_core::Error::Unavailable`].
    pub async fn health(&self) -> Result<(), CoreError> {
        let mut ldap = self.connect().await?;
        let result = match self.service_bind(&mut ldap).await {
            Ok(true) => Ok(()),
            Ok(false) => self.bind(&mut ldap, "anonymous bind", "", "").await.and_then(|result| {
                if result.rc == 0 {
                    Ok(())
                } else {
                    Err(unavailable(LdapServerError::refused("anonymous bind", &result)))
                }
            }),
            Err(e) => Err(e),
        };
        self.close(ldap).await;
        result
    }

    /// Runs one step against the server within the configured timeout.
    async fn within<T>(
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

    async fn connect(&self) -> Result<Ldap, CoreError> {
        let mut settings = LdapConnSettings::new();
        if let Some(tls) = &self.tls {
            settings = settings
                .set_config(tls.clone())
                .set_starttls(self.config.encryption.method == TlsMethod::StartTls);
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
    async fn close(&self, mut ldap: Ldap) {
        if let Err(error) = self.within("unbind", ldap.unbind()).await {
            debug!(%error, "LDAP unbind failed");
        }
    }

    async fn bind(
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

    /// Binds with the service account if there is one; `Ok(false)` when there is none.
    async fn service_bind(&self, ldap: &mut Ldap) -> Result<bool, CoreError> {
        let Some(account) = &self.config.authentication else {
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

    /// Searches the user under `admin_base`, then `base`.
    async fn find_user(&self, ldap: &mut Ldap, username: &str) -> Result<UserSearch, CoreError> {
        let filter = user_filter(&self.config.uid, username, &self.extra_filter);
        let mut attributes = vec![self.config.uid.clone()];
        if self.config.guess_email.enabled && !self.config.guess_email.attr.is_empty() {
            attributes.push(self.config.guess_email.attr.clone());
        }
        let bases = self
            .admin_base
            .iter()
            .map(|base| (base.as_str(), true))
            .chain([(self.config.base.as_str(), false)]);
        for (base, admin) in bases {
            // Two entries are enough to know the name is ambiguous.
            let timelimit = i32::try_from(self.config.timeout).unwrap_or(i32::MAX);
            ldap.with_search_options(SearchOptions::new().sizelimit(2).timelimit(timelimit));
            let ldap3::SearchResult(entries, result) = self
                .within("user search", ldap.search(base, Scope::Subtree, &filter, &attributes))
                .await
                .map_err(unavailable)?;
            match result.rc {
                0 => {}
                RC_SIZE_LIMIT_EXCEEDED => return Ok(UserSearch::Ambiguous),
                RC_NO_SUCH_OBJECT | RC_REFERRAL => {
                    warn!(base, code = result.rc, "LDAP search base does not exist on this server");
                    continue;
                }
                _ => return Err(result_error("user search", &result)),
            }
            let mut entries = entries.into_iter();
            match (entries.next(), entries.next()) {
                (None, _) => continue,
                (Some(entry), None) => return Ok(UserSearch::Found(SearchEntry::construct(entry), admin)),
                (Some(_), Some(_)) => return Ok(UserSearch::Ambiguous),
            }
        }
        Ok(UserSearch::NotFound)
    }

    /// The teams (with roles) of the mapped groups that list `user_dn` as a member.
    async fn group_teams(&self, ldap: &mut Ldap, user_dn: &str) -> Result<Vec<(String, Role)>, CoreError> {
        let member = format!("(|(member={0})(uniqueMember={0}))", ldap3::ldap_escape(user_dn));
        let group_base = non_empty(self.config.group_base.as_deref()).unwrap_or_default();
        let mut teams: Vec<(String, Role)> = Vec::new();
        for mapping in &self.config.groups {
            let (base, scope, filter) = match (non_empty(mapping.dn.as_deref()), non_empty(mapping.cn.as_deref())) {
                (Some(dn), _) => (dn, Scope::Base, member.clone()),
                (None, Some(cn)) => (
                    group_base.clone(),
                    Scope::Subtree,
                    format!("(&(cn={}){member})", ldap3::ldap_escape(cn.as_str())),
                ),
                (None, None) => continue,
            };
            let ldap3::SearchResult(entries, result) = self
                .within("group search", ldap.search(&base, scope, &filter, vec!["1.1"]))
                .await
                .map_err(unavailable)?;
            match result.rc {
                0 | RC_SIZE_LIMIT_EXCEEDED => {}
                RC_NO_SUCH_OBJECT => {
                    warn!(group = %base, team = %mapping.team, "mapped LDAP group does not exist; skipped");
                    continue;
                }
                code => {
                    warn!(group = %base, team = %mapping.team, code, text = %result.text, "cannot read mapped LDAP group; skipped");
                    continue;
                }
            }
            if entries.is_empty() {
                continue;
            }
            match teams.iter_mut().find(|(team, _)| *team == mapping.team) {
                Some((_, role)) => *role = (*role).max(mapping.role),
                None => teams.push((mapping.team.clone(), mapping.role)),
            }
        }
        Ok(teams)
    }

    /// Everything that needs the directory, on one connection.
    async fn verdict(&self, ldap: &mut Ldap, username: &str, secret: &Secret) -> Result<Verdict, CoreError> {
        self.service_bind(ldap).await?;
        let (entry, admin) = match self.find_user(ldap, username).await? {
            UserSearch::Found(entry, admin) => (entry, admin),
            UserSearch::NotFound => return Ok(Verdict::Unknown),
            UserSearch::Ambiguous => {
                warn!(
                    user = username,
                    "several LDAP entries match this user name; login refused"
                );
                return Ok(Verdict::Refused);
            }
        };
        if !values(&entry, &self.config.uid).any(|value| value == username) {
            debug!(user = username, dn = %entry.dn, "LDAP entry matches the user name only up to letter case");
            return Ok(Verdict::Unknown);
        }
        let teams = self.group_teams(ldap, &entry.dn).await?;
        let result = self.bind(ldap, "user bind", &entry.dn, secret.expose()).await?;
        match result.rc {
            0 => {}
            RC_INVALID_CREDENTIALS => return Ok(Verdict::Refused),
            RC_BUSY | RC_UNAVAILABLE => return Err(unavailable(LdapServerError::refused("user bind", &result))),
            code => {
                warn!(user = username, dn = %entry.dn, code, text = %result.text, "LDAP refused the user bind");
                return Ok(Verdict::Refused);
            }
        }
        let email = match &self.config.guess_email {
            GuessEmail { enabled: false, .. } => None,
            GuessEmail { attr, .. } if attr.is_empty() => email_from_dn(username, &entry.dn),
            GuessEmail { attr, .. } => values(&entry, attr).next().cloned(),
        };
        Ok(Verdict::Accepted { admin, email, teams })
    }

    async fn join_teams(&self, user: &User, teams: &[(String, Role)]) -> Result<(), CoreError> {
        for (name, role) in teams {
            let Some(team) = self.store.team_by_name(name).await? else {
                warn!(team = %name, "team of an LDAP group mapping does not exist; skipped");
                continue;
            };
            if team.hidden {
                warn!(team = %name, "LDAP group mapping names a personal team; skipped");
                continue;
            }
            // Administrators become owners, and a role is raised, never lowered: the same rules
            // as every other membership change.
            if !portus_core::ops::teams::grant_at_least(self.store.as_ref(), Some(LDAP_ACTOR), &team, user, *role)
                .await?
            {
                continue;
            }
            info!(user = %user.username, team = %name, %role, "team membership from LDAP group");
        }
        Ok(())
    }
}

#[async_trait]
impl Authenticator for LdapAuthenticator {
    fn name(&self) -> &str {
        "ldap"
    }

    async fn authenticate(&self, username: &str, secret: &Secret) -> Result<AuthOutcome, CoreError> {
        if username.is_empty() || secret.expose().is_empty() || validate_username(username).is_err() {
            return Ok(AuthOutcome::InvalidCredentials);
        }
        let mut ldap = self.connect().await?;
        let verdict = self.verdict(&mut ldap, username, secret).await;
        self.close(ldap).await;
        let (admin, email, teams) = match verdict? {
            Verdict::Unknown => return Ok(AuthOutcome::UnknownUser),
            Verdict::Refused => return Ok(AuthOutcome::InvalidCredentials),
            Verdict::Accepted { admin, email, teams } => (admin, email, teams),
        };
        let user = crate::external_user::find_or_create(self.store.as_ref(), username, email, admin, "LDAP").await?;
        self.join_teams(&user, &teams).await?;
        Ok(AuthOutcome::Authenticated(Identity {
            username: user.username,
            method: AuthMethod::External("ldap".into()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use portus_core::InMemoryStore;

    use super::*;

    fn parse(toml_text: &str) -> Result<LdapConfig, toml::de::Error> {
        toml::from_str(toml_text)
    }

    fn minimal() -> LdapConfig {
        parse("hostname = \"127.0.0.1\"\nbase = \"dc=example,dc=org\"").unwrap()
    }

    fn build(config: LdapConfig) -> Result<LdapAuthenticator, ConfigError> {
        LdapAuthenticator::new(config, Arc::new(InMemoryStore::new()))
    }

    #[test]
    fn defaults_follow_portus() {
        let config = minimal();
        assert_eq!(config.port, None);
        assert_eq!(config.timeout, 5);
        assert_eq!(config.uid, "uid");
        assert_eq!(config.encryption.method, TlsMethod::None);
        assert!(config.authentication.is_none() && config.groups.is_empty());
        assert!(!config.guess_email.enabled);
        let ldap = build(config).unwrap();
        assert_eq!(ldap.url(), "ldap://127.0.0.1:389");
        assert_eq!(ldap.timeout, Duration::from_secs(5));
    }

    #[test]
    fn encryption_accepts_portus_spellings() {
        let cases = [
            ("", TlsMethod::None),
            ("none", TlsMethod::None),
            ("starttls", TlsMethod::StartTls),
            ("start_tls", TlsMethod::StartTls),
            ("ldaps", TlsMethod::Ldaps),
            ("simple_tls", TlsMethod::Ldaps),
        ];
        for (spelling, method) in cases {
            let config = parse(&format!(
                "hostname = \"h\"\nbase = \"dc=x\"\n[encryption]\nmethod = \"{spelling}\""
            ))
            .unwrap();
            assert_eq!(config.encryption.method, method, "{spelling:?}");
        }
        let err = parse("hostname = \"h\"\nbase = \"dc=x\"\n[encryption]\nmethod = \"tls\"").unwrap_err();
        assert!(err.to_string().contains("unknown variant"), "{err}");
    }

    #[test]
    fn unknown_keys_are_rejected_at_every_level() {
        for text in [
            "hostname = \"h\"\nbase = \"dc=x\"\nhost = \"typo\"",
            "hostname = \"h\"\nbase = \"dc=x\"\n[encryption]\nca = \"/x\"",
            "hostname = \"h\"\nbase = \"dc=x\"\n[authentication]\nbind_dn = \"cn=a\"\npassword = \"p\"\nenabled = true",
            "hostname = \"h\"\nbase = \"dc=x\"\n[guess_email]\nattribute = \"mail\"",
            "hostname = \"h\"\nbase = \"dc=x\"\n[[groups]]\ndn = \"cn=g\"\nteam = \"t\"\nrol = \"owner\"",
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.to_string().contains("unknown field"), "{text}: {err}");
        }
        assert!(parse("hostname = \"h\"").is_err(), "base is required");
    }

    #[test]
    fn debug_never_shows_the_service_password() {
        let config = parse(
            "hostname = \"h\"\nbase = \"dc=x\"\n[authentication]\nbind_dn = \"cn=svc\"\npassword = \"s3cr3t-pw\"",
        )
        .unwrap();
        assert_eq!(config.authentication.as_ref().unwrap().password.expose(), "s3cr3t-pw");
        let ldap = build(config.clone()).unwrap();
        for debug in [format!("{config:?}"), format!("{ldap:?}")] {
            assert!(!debug.contains("s3cr3t-pw"), "{debug}");
            assert!(debug.contains("cn=svc"), "{debug}");
        }
    }

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

    #[test]
    fn bad_configurations_fail_at_start_up() {
        let missing = PathBuf::from("/nonexistent/ldap-ca.pem");
        let mut config = minimal();
        config.encryption.method = TlsMethod::StartTls;
        config.encryption.ca_file = Some(missing.clone());
        match build(config.clone()) {
            Err(ConfigError::CaFile { path, .. }) => assert_eq!(path, missing),
            other => panic!("expected CaFile, got {other:?}"),
        }
        let not_pem = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/rsa.kid");
        config.encryption.ca_file = Some(not_pem.into());
        assert!(matches!(build(config.clone()), Err(ConfigError::CaCertificate { .. })));

        config.encryption.method = TlsMethod::None;
        config.encryption.ca_file = Some("/etc/ssl/certs/ca-certificates.crt".into());
        assert!(matches!(build(config), Err(ConfigError::Invalid(m)) if m.contains("ca_file")));

        type Change = fn(&mut LdapConfig);
        let cases: [(&str, Change); 10] = [
            ("hostname", |c| c.hostname = "ldap://x".into()),
            ("base", |c| c.base = " ".into()),
            ("timeout", |c| c.timeout = 0),
            ("uid", |c| c.uid = "uid=*)(x".into()),
            ("filter", |c| c.filter = Some("(objectClass=person".into())),
            ("exactly one", |c| {
                c.groups.push(GroupMapping {
                    dn: None,
                    cn: None,
                    team: "t".into(),
                    role: Role::Viewer,
                })
            }),
            ("group_base", |c| {
                c.groups.push(GroupMapping {
                    dn: None,
                    cn: Some("devs".into()),
                    team: "t".into(),
                    role: Role::Viewer,
                })
            }),
            ("guess_email.attr", |c| c.guess_email.attr = "mail)(x".into()),
            ("non-empty password", |c| {
                c.authentication = Some(ServiceAccount {
                    bind_dn: "cn=svc".into(),
                    password: Secret::new(""),
                })
            }),
            ("bind_dn", |c| {
                c.authentication = Some(ServiceAccount {
                    bind_dn: "".into(),
                    password: Secret::new("pw"),
                })
            }),
        ];
        for (needle, change) in cases {
            let mut config = minimal();
            change(&mut config);
            match build(config) {
                Err(ConfigError::Invalid(message)) => assert!(message.contains(needle), "{needle}: {message}"),
                other => panic!("{needle}: expected Invalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn filters_without_parentheses_and_empty_strings_are_accepted() {
        let config = parse(
            "hostname = \"h\"\nbase = \"dc=x\"\nfilter = \"objectClass=person\"\nadmin_base = \"\"\n[encryption]\nmethod = \"\"\nca_file = \"\"",
        )
        .unwrap();
        let ldap = build(config).unwrap();
        assert_eq!(ldap.extra_filter, "(objectClass=person)");
        assert_eq!(ldap.admin_base, None);
        assert!(ldap.tls.is_none());
    }

    #[test]
    fn user_names_are_escaped_in_the_filter() {
        assert_eq!(user_filter("uid", "alice", ""), "(&(uid=alice))");
        assert_eq!(
            user_filter("uid", "*)(uid=*", "(objectClass=person)"),
            r"(&(uid=\2a\29\28uid=\2a)(objectClass=person))"
        );
        assert_eq!(user_filter("uid", r"a\b", ""), r"(&(uid=a\5cb))");
        for hostile in ["*", "alice)(uid=*", "*)(|(uid=*", r"\", "a\0b"] {
            let filter = user_filter("uid", hostile, "(objectClass=person)");
            assert!(ldap3::parse_filter(&filter).is_ok(), "{filter}");
            let value = &filter["(&(uid=".len()..filter.len() - ")(objectClass=person))".len()];
            assert!(!value.contains(['*', '(', ')', '\0']), "unescaped: {filter}");
        }
    }

    #[test]
    fn email_is_guessed_from_the_dn() {
        assert_eq!(
            email_from_dn("alice", "uid=alice,ou=people,dc=example,dc=org").as_deref(),
            Some("alice@example.org")
        );
        assert_eq!(
            email_from_dn("bob", "CN=Bob\\, Jr,OU=Users,DC=corp,DC=example,DC=com").as_deref(),
            Some("bob@corp.example.com")
        );
        assert_eq!(email_from_dn("carol", "uid=carol,o=acme"), None);
        assert_eq!(
            email_from_dn("dave", "uid=dave, dc = acme , dc=io").as_deref(),
            Some("dave@acme.io")
        );
        assert_eq!(email_from_dn("e@x", "uid=e,dc=example,dc=org"), None);
    }

    #[tokio::test]
    async fn empty_credentials_never_reach_the_server() {
        // Port 1 on loopback is closed: contacting it would be an Unavailable error.
        let mut config = minimal();
        config.port = Some(1);
        let ldap = build(config).unwrap();
        for (user, password) in [("alice", ""), ("", "pw"), ("bad name", "pw"), ("a:b", "pw")] {
            assert_eq!(
                ldap.authenticate(user, &Secret::new(password)).await.unwrap(),
                AuthOutcome::InvalidCredentials,
                "{user:?}/{password:?}"
            );
        }
        let err = ldap.authenticate("alice", &Secret::new("pw")).await.unwrap_err();
        assert_eq!(err.kind(), portus_core::ErrorKind::Unavailable, "{err}");
    }
}
