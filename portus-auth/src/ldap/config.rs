//! The `[ldap]` configuration: [`LdapConfig`] and its sections, and its validation.

use std::path::PathBuf;

use portus_core::model::Role;
use portus_core::traits::Secret;
use serde::{Deserialize, Deserializer};

use super::search::user_filter;

/// Settings of the [`LdapAuthenticator`](super::LdapAuthenticator): the `[ldap]` section of the
/// configuration.
///
/// Keys and defaults follow Portus' `ldap.*` settings. Unknown keys are rejected. Empty
/// strings, which Portus configurations use for "unset", count as unset. Portus keys that do
/// not exist here: `enabled` and `authentication.enabled` (the presence of the section decides),
/// `encryption.options` (use `encryption.ca_file`; TLS 1.2 or 1.3 is always used) and
/// `group_sync` (replaced by the explicit `groups` mappings and the `sync` section, whose
/// background pass also removes memberships; see the `ldap` module documentation).
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
///     sync = false                    # sign-ins grant it; the background sync leaves it alone
///
///     [sync]
///     enabled = true
///     interval_secs = 600
/// "#).unwrap();
/// assert_eq!(config.encryption.method, TlsMethod::StartTls);
/// assert_eq!((config.port, config.timeout, config.uid.as_str()), (None, 5, "uid"));
/// assert!(config.sync.enabled && config.groups[0].sync && !config.groups[1].sync);
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
    /// The background group sync, which also removes memberships (`[ldap.sync]`).
    #[serde(default)]
    pub sync: GroupSync,
}

/// The background group sync (`[ldap.sync]`): every `interval_secs`, the teams of the `groups`
/// mappings are brought in line with the directory (see the `ldap` module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSync {
    /// Off by default: memberships are then only added, at sign-in.
    #[serde(default)]
    pub enabled: bool,
    /// Seconds between two passes (default 3600, at least 1); the first pass runs shortly
    /// after the server starts.
    #[serde(default = "default_sync_interval")]
    pub interval_secs: u64,
}

impl Default for GroupSync {
    fn default() -> Self {
        GroupSync {
            enabled: false,
            interval_secs: default_sync_interval(),
        }
    }
}

fn default_sync_interval() -> u64 {
    3600
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
    /// Whether the background sync manages the team (default true). With `false` (Portus'
    /// per-team `ldap_check` exclusion) sign-ins still grant it, but the sync neither adds
    /// nor removes anyone there, so memberships given by hand stay.
    #[serde(default = "default_true")]
    pub sync: bool,
}

fn default_true() -> bool {
    true
}

fn default_role() -> Role {
    Role::Viewer
}

/// A configuration the [`LdapAuthenticator`](super::LdapAuthenticator) cannot work with.
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

impl LdapConfig {
    /// Checks every setting that needs neither a file nor the network; the TLS settings are
    /// checked (and the CA file read) when the connector is built.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        let hostname = self.hostname.trim();
        if hostname.is_empty()
            || !hostname
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        {
            return invalid(format!("hostname {:?} is not a host name or IP address", self.hostname));
        }
        if self.base.trim().is_empty() {
            return invalid("base must name the subtree where users are searched".into());
        }
        if let Some(account) = &self.authentication
            && (account.bind_dn.trim().is_empty() || account.password.expose().is_empty())
        {
            // An empty password would make the service bind an anonymous one that "succeeds".
            return invalid("authentication needs a bind_dn and a non-empty password".into());
        }
        if self.timeout == 0 {
            return invalid("timeout must be at least 1 second".into());
        }
        if self.sync.interval_secs == 0 {
            return invalid("sync.interval_secs must be at least 1 second".into());
        }
        if self.sync.enabled && self.groups.is_empty() {
            return invalid("sync.enabled needs at least one [[ldap.groups]] mapping to sync".into());
        }
        if !is_attribute_name(&self.uid) {
            return invalid(format!("uid {:?} is not an attribute name", self.uid));
        }
        if !self.guess_email.attr.is_empty() && !is_attribute_name(&self.guess_email.attr) {
            return invalid(format!(
                "guess_email.attr {:?} is not an attribute name",
                self.guess_email.attr
            ));
        }
        if ldap3::parse_filter(user_filter(&self.uid, "probe", &self.extra_filter())).is_err() {
            return invalid(format!(
                "filter {:?} is not a valid LDAP filter",
                self.filter.as_deref().unwrap_or_default()
            ));
        }
        let group_base = non_empty(self.group_base.as_deref());
        for mapping in &self.groups {
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
        Ok(())
    }

    /// `filter` with its parentheses, ready to be ANDed to the user search; empty when unset.
    pub(super) fn extra_filter(&self) -> String {
        match non_empty(self.filter.as_deref()) {
            Some(f) if f.starts_with('(') => f,
            Some(f) => format!("({f})"),
            None => String::new(),
        }
    }
}

/// Whether `attribute` can be pasted into a filter: a descriptor or a numeric OID, options
/// allowed (RFC 4512 section 2.5).
fn is_attribute_name(attribute: &str) -> bool {
    !attribute.is_empty()
        && attribute
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ';'))
}

/// `value` trimmed, or `None` when it is unset or blank (Portus writes `""` for unset).
pub(super) fn non_empty(value: Option<&str>) -> Option<String> {
    value.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::super::tests::{build, minimal};
    use super::*;

    fn parse(toml_text: &str) -> Result<LdapConfig, toml::de::Error> {
        toml::from_str(toml_text)
    }

    #[test]
    fn defaults_follow_portus() {
        let config = minimal();
        assert_eq!(config.port, None);
        assert_eq!(config.timeout, 5);
        assert_eq!(config.uid, "uid");
        assert_eq!(config.encryption.method, TlsMethod::None);
        assert!(config.authentication.is_none() && config.groups.is_empty());
        assert_eq!(config.sync, GroupSync::default());
        assert!(
            !config.sync.enabled && config.sync.interval_secs == 3600,
            "group sync is off by default"
        );
        assert!(!config.guess_email.enabled);
        let ldap = build(config).unwrap();
        assert_eq!(ldap.url(), "ldap://127.0.0.1:389");
        assert_eq!(ldap.connector.timeout, Duration::from_secs(5));
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
            "hostname = \"h\"\nbase = \"dc=x\"\n[sync]\nenable = true",
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
        let cases: [(&str, Change); 12] = [
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
                    sync: true,
                })
            }),
            ("group_base", |c| {
                c.groups.push(GroupMapping {
                    dn: None,
                    cn: Some("devs".into()),
                    team: "t".into(),
                    role: Role::Viewer,
                    sync: true,
                })
            }),
            ("guess_email.attr", |c| c.guess_email.attr = "mail)(x".into()),
            ("sync.interval_secs", |c| c.sync.interval_secs = 0),
            ("at least one", |c| c.sync.enabled = true),
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
        assert!(ldap.connector.tls.is_none());
    }
}
