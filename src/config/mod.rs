//! Typed configuration: one TOML file, `PORTUS_*` environment overrides, validated at load.
//!
//! Every key can be overridden by an environment variable named after its path:
//! `token.service` is `PORTUS_TOKEN_SERVICE`, `listen` is `PORTUS_LISTEN`. Values are read as
//! TOML scalars (`true`, `900`) or, failing that, as strings.
//!
//! The sections of pluggable parts are the parts' own types, composed here: each scanner's
//! (`security.clair`, `security.clair_v4`, `security.zypper`, `security.harbor`,
//! `security.dummy`) lives with its backend in `portus_scan::backend`, `[ldap]` is
//! `portus_auth::LdapConfig` and `[web.oidc]` is `portus_auth::oidc::OidcSettings`. In a build
//! without a part's cargo feature its section is an [`Unsupported`] table: accepted when it
//! leaves the part off, refused with the feature named when it turns it on.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use portus_core::model::MissingNamespace;
use portus_core::policy::PolicyConfig;
use portus_scan::sync::SyncStrategy;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize};
use url::Url;

use crate::Error;

mod auth;
mod email;
mod http;
mod observe;
pub mod portus_import;
mod registry;
mod retention;
mod security;
mod web;
mod webhooks;

pub use auth::AuthConfig;
pub use email::{EmailConfig, SmtpServer};
pub use http::HttpConfig;
pub use observe::{LogConfig, LogFormat, MetricsConfig};
pub use registry::RegistryConfig;
pub use retention::{RetentionConfig, RuleConfig};
pub use security::{
    ClairLegacySettings, ClairV4Settings, DummySettings, HarborSettings, SecurityConfig, ZypperSettings, setting_error,
};
pub use web::{BitbucketSettings, GithubSettings, GitlabSettings, GoogleSettings, OidcSettings, WebSettings};
pub use webhooks::WebhooksConfig;

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// URL clients and the registry use to reach this server; default `http://<listen>`.
    pub public_url: Option<Url>,
    /// Directory for the SQLite file, the generated key and secrets; `--data-dir` overrides it.
    pub data_dir: Option<PathBuf>,
    /// Token signing.
    pub token: TokenConfig,
    /// Authorization rules.
    pub policy: PolicyConfig,
    /// The policy store.
    pub database: DatabaseConfig,
    /// Local authentication.
    pub auth: AuthConfig,
    /// HTTP limits.
    pub http: HttpConfig,
    /// The web pages under `/`.
    pub web: WebSettings,
    /// The registry portus guards.
    pub registry: RegistryConfig,
    /// Keeping the store in step with the registry.
    pub sync: SyncConfig,
    /// Security scanners; scanning is off unless one is configured. Portus' own keys
    /// (`clair.server`, `zypper.server`, `dummy.server`) are accepted as they are.
    pub security: SecurityConfig,
    /// LDAP authentication (feature `ldap`), off when absent.
    #[serde(deserialize_with = "ldap_section", skip_serializing)]
    pub ldap: Option<LdapSettings>,
    /// Sending mail (password resets), off when absent.
    pub email: Option<EmailConfig>,
    /// Delivering the outgoing webhooks of namespaces.
    pub webhooks: WebhooksConfig,
    /// Which tags expire, and how often `portus serve` removes them.
    pub retention: RetentionConfig,
    /// Prometheus metrics at `/metrics`.
    pub metrics: MetricsConfig,
    /// How the log is written.
    pub log: LogConfig,
}

/// `[ldap]`: the LDAP authenticator's own configuration.
#[cfg(feature = "ldap")]
pub type LdapSettings = portus_auth::LdapConfig;
/// `[ldap]`: this build has no LDAP (feature `ldap`), so the section is refused.
#[cfg(not(feature = "ldap"))]
pub type LdapSettings = Unsupported;

/// The section of a part this build lacks (its cargo feature is off), kept as written: a
/// section that turns the part on is refused with the feature named, one that leaves it off
/// (no `server`, or an empty one) is accepted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Unsupported(toml::Table);

impl Unsupported {
    /// Refuses a scanner section with a non-empty `server` (the key that turns every scanner
    /// on); `section` is its path, `feature` the missing cargo feature.
    pub fn refuse_server(&self, section: &str, feature: &str) -> Result<(), Error> {
        match self.0.get("server") {
            Some(toml::Value::String(server)) if server.is_empty() => Ok(()),
            None => Ok(()),
            Some(_) => Err(Error::Config(format!(
                "{section}.server: this build has no '{feature}' scanner (cargo feature '{feature}')"
            ))),
        }
    }
}

/// Reads the `[ldap]` section through a table so that its errors name it.
fn ldap_section<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<LdapSettings>, D::Error> {
    named_section(deserializer, "[ldap]")
}

fn named_section<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    deserializer: D,
    name: &str,
) -> Result<Option<T>, D::Error> {
    Option::<toml::Table>::deserialize(deserializer)?
        .map(|table| {
            toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| D::Error::custom(format!("{name}: {}", e.message())))
        })
        .transpose()
}

/// Notification and catalog sync settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// Strategy of the periodic catalog sync.
    pub strategy: SyncStrategy,
    /// Seconds between periodic syncs in `portus serve`; 0 turns them off.
    pub interval_secs: u64,
    /// Registry requests in flight during a sync.
    pub concurrency: usize,
    /// Pushes into namespaces that do not exist: `create` (private, administrators only) or
    /// `ignore`.
    pub missing_namespaces: MissingNamespace,
    /// Largest accepted notification envelope in bytes.
    pub max_envelope_bytes: usize,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            strategy: SyncStrategy::Update,
            interval_secs: 600,
            concurrency: 16,
            missing_namespaces: MissingNamespace::Create,
            max_envelope_bytes: 4 * 1024 * 1024,
        }
    }
}

/// Token signing settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenConfig {
    /// The registry's `auth.token.service`: tokens are issued for this audience only.
    pub service: String,
    /// The `iss` claim; the registry's `auth.token.issuer`.
    pub issuer: String,
    /// Token lifetime in seconds (at least 60).
    pub lifetime_secs: u64,
    /// PEM private key (RSA for RS256, EC P-256 for ES256); default `<data_dir>/token.key`,
    /// generated (ES256) when missing.
    pub key: Option<PathBuf>,
    /// PEM certificate chain of the key (leaf first): the registry's `rootcertbundle` and the
    /// `x5c` header; default `<data_dir>/token.crt`.
    pub certificate: Option<PathBuf>,
    /// Send the certificate chain as `x5c` (registry 3.x needs it or a matching `kid`).
    pub x5c: bool,
    /// Certificates of signing keys being rotated out (or still used by instances not yet
    /// restarted): `portus config registry` adds them to the registry's `rootcertbundle` after
    /// the current certificate, so tokens they signed stay valid until they expire.
    pub previous_certificates: Vec<PathBuf>,
    /// Most scopes accepted in one token request.
    pub max_scopes: usize,
}

/// Policy store settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Database URL: `sqlite://<file>` (default `sqlite://<data_dir>/portus.db`) or
    /// `postgres://user:password@host:port/database` (several instances may share it).
    pub url: Option<String>,
    /// Most connections one instance opens (PostgreSQL; SQLite uses a fixed small pool).
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: None,
            max_connections: 10,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 5001)),
            public_url: None,
            data_dir: None,
            token: TokenConfig::default(),
            policy: PolicyConfig::default(),
            database: DatabaseConfig::default(),
            auth: AuthConfig::default(),
            http: HttpConfig::default(),
            web: WebSettings::default(),
            registry: RegistryConfig::default(),
            sync: SyncConfig::default(),
            security: SecurityConfig::default(),
            ldap: None,
            email: None,
            webhooks: WebhooksConfig::default(),
            retention: RetentionConfig::default(),
            metrics: MetricsConfig::default(),
            log: LogConfig::default(),
        }
    }
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            service: "registry".into(),
            issuer: "portus".into(),
            lifetime_secs: 900,
            key: None,
            certificate: None,
            x5c: true,
            previous_certificates: Vec::new(),
            max_scopes: 100,
        }
    }
}

/// Every configuration key, for the environment overrides (a test checks it is complete).
pub const KEYS: &[&str] = &[
    "listen",
    "public_url",
    "data_dir",
    "token.service",
    "token.issuer",
    "token.lifetime_secs",
    "token.key",
    "token.certificate",
    "token.x5c",
    "token.previous_certificates",
    "token.max_scopes",
    "policy.push_images",
    "policy.delete_enabled",
    "policy.delete_contributors",
    "policy.anonymous_pull",
    "policy.change_visibility",
    "policy.create_team",
    "policy.manage_team",
    "policy.create_namespace",
    "policy.manage_namespace",
    "policy.create_webhook",
    "policy.manage_webhook",
    "database.url",
    "database.max_connections",
    "auth.bcrypt_cost",
    "auth.lockout_attempts",
    "auth.lockout_secs",
    "auth.credential_cache_secs",
    "auth.max_app_tokens",
    "auth.first_user_admin",
    "auth.password_docker_login",
    "http.max_body_bytes",
    "http.request_timeout_secs",
    "http.shutdown_timeout_secs",
    "metrics.enabled",
    "metrics.bearer_token",
    "log.format",
    "web.enabled",
    "web.signup",
    "web.anonymous_browsing",
    "web.local_login",
    "web.session_secs",
    "web.secure_cookies",
    "web.google.client_id",
    "web.google.client_secret",
    "web.google.hosted_domains",
    "web.google.create_users",
    "web.google.timeout_secs",
    "web.google.issuer",
    "web.oidc.issuer",
    "web.oidc.client_id",
    "web.oidc.client_secret",
    "web.oidc.name",
    "web.oidc.scopes",
    "web.oidc.username_claim",
    "web.oidc.create_users",
    "web.oidc.timeout_secs",
    "web.oidc.allowed_domains",
    "web.oidc.groups_claim",
    "web.oidc.required_groups",
    "web.oidc.teams",
    "web.oidc.admin_group",
    "web.github.client_id",
    "web.github.client_secret",
    "web.github.base_url",
    "web.github.organization",
    "web.github.team",
    "web.github.name",
    "web.github.create_users",
    "web.github.allowed_domains",
    "web.github.required_groups",
    "web.github.teams",
    "web.github.admin_group",
    "web.github.timeout_secs",
    "web.gitlab.client_id",
    "web.gitlab.client_secret",
    "web.gitlab.base_url",
    "web.gitlab.group",
    "web.gitlab.name",
    "web.gitlab.create_users",
    "web.gitlab.allowed_domains",
    "web.gitlab.required_groups",
    "web.gitlab.teams",
    "web.gitlab.admin_group",
    "web.gitlab.timeout_secs",
    "web.bitbucket.client_id",
    "web.bitbucket.client_secret",
    "web.bitbucket.site_url",
    "web.bitbucket.api_url",
    "web.bitbucket.workspace",
    "web.bitbucket.name",
    "web.bitbucket.create_users",
    "web.bitbucket.allowed_domains",
    "web.bitbucket.required_groups",
    "web.bitbucket.teams",
    "web.bitbucket.admin_group",
    "web.bitbucket.timeout_secs",
    "email.smtp_url",
    "email.from",
    "registry.url",
    "registry.external_hostname",
    "registry.service_account",
    "registry.connect_timeout_secs",
    "registry.request_timeout_secs",
    "registry.page_size",
    "sync.strategy",
    "sync.interval_secs",
    "sync.concurrency",
    "sync.missing_namespaces",
    "sync.max_envelope_bytes",
    "retention.interval_secs",
    "retention.rules",
    "security.clair.server",
    "security.clair.timeout",
    "security.clair.health_port",
    "security.clair_v4.server",
    "security.clair_v4.psk_key",
    "security.clair_v4.psk_issuer",
    "security.clair_v4.timeout_secs",
    "security.zypper.server",
    "security.harbor.server",
    "security.harbor.username",
    "security.harbor.password",
    "security.harbor.token",
    "security.harbor.timeout_secs",
    "security.dummy.server",
    "security.scan_timeout_secs",
    "security.interval_secs",
    "security.concurrency",
    "security.rescan_after_secs",
    "security.claim_lease_secs",
    "security.retry_after_secs",
    "webhooks.allow_private_targets",
    "webhooks.key",
    "webhooks.timeout_secs",
    "webhooks.first_retry_secs",
    "webhooks.max_retry_secs",
    "webhooks.give_up_after_secs",
    "ldap.sync.enabled",
    "ldap.sync.interval_secs",
];

/// How to convert a Portus configuration, for the errors that meet one.
const CONVERT_HINT: &str = "convert a Portus configuration with `portus config import-portus config.yml \
     [config-local.yml] > portus.toml` (see docs/migrating-from-portus.md)";

/// The environment variable that overrides `key`.
pub fn env_name(key: &str) -> String {
    format!("PORTUS_{}", key.replace('.', "_").to_ascii_uppercase())
}

impl Config {
    /// Loads the TOML file at `path` (if any), applies overrides from `env` and validates.
    pub fn load(path: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, Error> {
        let (text, origin) = match path {
            Some(path) => (
                std::fs::read_to_string(path).map_err(|source| Error::Io {
                    path: path.into(),
                    source,
                })?,
                path.display().to_string(),
            ),
            None => (String::new(), "configuration".to_owned()),
        };
        Config::parse(&text, &origin, env)
    }

    /// Reads TOML `text` (named `origin` in messages), applies overrides from `env` and
    /// validates. Portus' variables with an exact equivalent
    /// ([`portus_import::startup_environment`]) apply before this program's own, which win. A
    /// Portus `config.yml`, or Portus settings in the TOML, are refused with a pointer to the
    /// converter.
    pub fn parse(text: &str, origin: &str, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, Error> {
        let mut tree = match text.parse::<toml::Table>() {
            Ok(tree) => tree,
            Err(_) if portus_import::looks_like_portus_yaml(text) => {
                return Err(Error::Config(format!(
                    "{origin} is a Portus configuration (YAML); this program reads TOML: {CONVERT_HINT}"
                )));
            }
            Err(e) => return Err(Error::Config(format!("{origin}: {e}"))),
        };
        if let Some(key) = portus_import::portus_setting_in(&tree) {
            return Err(Error::Config(format!(
                "{origin}: `{key}` is a Portus setting, not one of this program's: {CONVERT_HINT}"
            )));
        }
        let env: Vec<(String, String)> = env.into_iter().collect();
        for (key, value) in portus_import::startup_environment(&env)?.overrides {
            set_path(&mut tree, &key, value);
        }
        for key in KEYS {
            let name = env_name(key);
            if let Some((_, raw)) = env.iter().find(|(k, _)| *k == name) {
                set_path(&mut tree, key, scalar(raw));
            }
        }
        let config: Config = toml::Value::Table(tree)
            .try_into()
            .map_err(|e: toml::de::Error| Error::Config(format!("{origin}: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that types alone cannot.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |m: String| Err(Error::Config(m));
        if self.web.signup && self.ldap.is_some() {
            return invalid("web.signup cannot be on with [ldap]: the directory owns the accounts".into());
        }
        if !self.web.local_login && !self.web.external_sign_in() {
            return invalid(
                "web.local_login = false needs [web.oidc], [web.google], [web.github], [web.gitlab] or [web.bitbucket]: nobody could \
                 sign in to the web pages"
                    .into(),
            );
        }
        self.web.validate_sign_in()?;
        if !self.web.local_login && self.web.signup {
            return invalid("web.signup needs web.local_login: signed-up accounts sign in with a password".into());
        }
        #[cfg(not(feature = "ldap"))]
        if self.ldap.is_some() {
            return invalid("[ldap]: this build has no LDAP support (feature `ldap`)".into());
        }
        #[cfg(not(feature = "oidc"))]
        if self.web.oidc.is_some() {
            return invalid("[web.oidc]: this build has no OpenID Connect support (feature `oidc`)".into());
        }
        #[cfg(feature = "oidc")]
        if let Some(oidc) = &self.web.oidc {
            oidc.validate().map_err(|e| Error::Config(format!("[web.oidc]: {e}")))?;
        }
        if self.token.service.trim().is_empty() {
            return invalid("token.service must not be empty".into());
        }
        if self.token.issuer.trim().is_empty() {
            return invalid("token.issuer must not be empty".into());
        }
        if self.token.lifetime_secs < 60 {
            return invalid(format!(
                "token.lifetime_secs must be at least 60 (got {})",
                self.token.lifetime_secs
            ));
        }
        if !(1..=10_000).contains(&self.token.max_scopes) {
            return invalid("token.max_scopes must be between 1 and 10000".into());
        }
        if !(4..=31).contains(&self.auth.bcrypt_cost) {
            return invalid(format!(
                "auth.bcrypt_cost must be between 4 and 31 (got {})",
                self.auth.bcrypt_cost
            ));
        }
        if !(1..=1000).contains(&self.auth.max_app_tokens) {
            return invalid(format!(
                "auth.max_app_tokens must be between 1 and 1000 (got {})",
                self.auth.max_app_tokens
            ));
        }
        if self.http.max_body_bytes < 1024 {
            return invalid("http.max_body_bytes must be at least 1024".into());
        }
        if self.http.request_timeout_secs == 0 {
            return invalid("http.request_timeout_secs must be positive".into());
        }
        if !(1..=256).contains(&self.sync.concurrency) {
            return invalid("sync.concurrency must be between 1 and 256".into());
        }
        self.registry.validate()?;
        self.security.validate()?;
        self.webhooks.validate()?;
        self.retention.validate()?;
        if let Some(email) = &self.email {
            email.validate()?;
        }
        if let Some(url) = &self.public_url
            && !matches!(url.scheme(), "http" | "https")
        {
            return invalid(format!("public_url must be an http or https URL (got {url})"));
        }
        Ok(())
    }

    /// Whether cookies get `Secure`: `web.secure_cookies`, else whether `public_url` is HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.web
            .secure_cookies
            .unwrap_or_else(|| self.public_url().starts_with("https://"))
    }

    /// The URL clients reach this server at, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// A warning when the URL clients are sent to cannot be reached: no `public_url` while
    /// `listen` is an unspecified address (`0.0.0.0`, `[::]`), which would go into the
    /// registry's realm as it is.
    pub fn unreachable_public_url(&self) -> Option<String> {
        if self.public_url.is_some() || !self.listen.ip().is_unspecified() {
            return None;
        }
        Some(format!(
            "listen = \"{}\" without public_url: clients would be sent to {}/v2/token, which none can \
             reach; set public_url to the address clients and the registry use (http://HOST:{})",
            self.listen,
            self.public_url(),
            self.listen.port()
        ))
    }
}

fn scalar(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_table() && !v.is_array())
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

pub(crate) fn set_path(tree: &mut toml::Table, key: &str, value: toml::Value) {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().expect("keys are not empty");
    let mut table = tree;
    for part in parts {
        let entry = table
            .entry(part)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        table = entry.as_table_mut().expect("just made a table");
    }
    table.insert(last.to_owned(), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use portus_core::policy::PushPolicy;

    fn load(toml_text: &str, env: &[(&str, &str)]) -> Result<Config, Error> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portus.toml");
        std::fs::write(&path, toml_text).unwrap();
        Config::load(Some(&path), env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn defaults_without_a_file() {
        let config = Config::load(None, []).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.public_url(), "http://127.0.0.1:5001");
    }

    #[test]
    fn an_unspecified_listen_address_without_public_url_is_warned_about() {
        for listen in ["0.0.0.0:5001", "[::]:5001"] {
            let config = load(&format!("listen = \"{listen}\"\n"), &[]).unwrap();
            let warning = config.unreachable_public_url().expect(listen);
            assert!(
                warning.contains("public_url") && warning.contains("/v2/token"),
                "{warning}"
            );
            let set = load(
                &format!("listen = \"{listen}\"\npublic_url = \"http://portus.example:5001\"\n"),
                &[],
            );
            assert_eq!(set.unwrap().unreachable_public_url(), None);
        }
        assert_eq!(Config::default().unreachable_public_url(), None);
    }

    #[test]
    fn file_and_environment_values() {
        let config = load(
            "listen = \"127.0.0.1:6001\"\n[token]\nservice = \"registry.local\"\n[policy]\npush_images = \"admin-only\"\n",
            &[("PORTUS_TOKEN_LIFETIME_SECS", "120"), ("PORTUS_POLICY_DELETE_ENABLED", "false"), ("PORTUS_TOKEN_ISSUER", "my issuer")],
        )
        .unwrap();
        assert_eq!(config.listen.port(), 6001);
        assert_eq!(config.token.service, "registry.local");
        assert_eq!(config.token.lifetime_secs, 120);
        assert_eq!(config.token.issuer, "my issuer");
        assert_eq!(config.policy.push_images, PushPolicy::AdminOnly);
        assert!(!config.policy.delete_enabled);
    }

    #[test]
    fn partial_tables_keep_the_other_defaults() {
        let config = load(
            "[registry]\nurl = \"http://127.0.0.1:5000\"\n[sync]\ninterval_secs = 0\n",
            &[],
        )
        .unwrap();
        assert_eq!(config.registry.service_account, "portus");
        assert_eq!(config.sync.concurrency, SyncConfig::default().concurrency);
        assert_eq!(config.registry.url.unwrap().as_str(), "http://127.0.0.1:5000/");
    }

    #[test]
    fn portus_security_keys_are_accepted() {
        let config = load(
            "[security.clair]\nserver = \"http://clair:6060\"\nhealth_port = 6061\ntimeout = 900\n[security.dummy]\nserver = \"x\"\n",
            &[("PORTUS_SECURITY_ZYPPER_SERVER", "http://zypper:8080")],
        )
        .unwrap();
        assert_eq!(config.security.clair.server, "http://clair:6060");
        assert_eq!(config.security.dummy.server, "x");
        assert_eq!(config.security.zypper.server, "http://zypper:8080");
        assert!(
            load("[security.clair]\nserver = \"clair:6060\"\n", &[])
                .unwrap_err()
                .to_string()
                .contains("security.clair.server")
        );
    }

    #[test]
    #[cfg(feature = "ldap")]
    fn ldap_section_is_checked_at_load() {
        let config = load(
            "[ldap]\nhostname = \"127.0.0.1\"\nbase = \"ou=people,dc=example,dc=org\"\n[ldap.encryption]\nmethod = \"start_tls\"\n",
            &[],
        )
        .unwrap();
        let ldap = config.ldap.expect("configured");
        assert_eq!(ldap.hostname, "127.0.0.1");
        assert!(load("", &[]).unwrap().ldap.is_none(), "off by default");
        let err = load("[ldap]\nhostname = \"h\"\nbase = \"b\"\nbogus = 1\n", &[]).unwrap_err();
        assert!(
            err.to_string().contains("[ldap]") && err.to_string().contains("bogus"),
            "{err}"
        );
    }

    #[test]
    fn backend_sections_are_checked_by_their_backends() {
        let cases = [
            ("[security.clair]\nsever = \"x\"", "security.clair"),
            #[cfg(feature = "clair-v4")]
            (
                "[security.clair_v4]\nserver = \"http://c\"\npsk_key = \"!!\"",
                "security.clair_v4.psk_key must be base64",
            ),
            ("[security.zypper]\nserver = \"zypper\"", "security.zypper.server"),
            #[cfg(feature = "harbor")]
            (
                "[security.harbor]\nserver = \"http://a\"\nusername = \"u\"",
                "security.harbor.username and password go together",
            ),
            #[cfg(feature = "oidc")]
            (
                "[web.oidc]\nissuer = \"https://id\"\nclient_id = \"c\"\nusername_claim = \"nick\"",
                "[web.oidc]: unknown variant `nick`",
            ),
        ];
        for (text, expected) in cases {
            let err = load(text, &[]).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: got '{err}'");
        }
    }

    #[test]
    fn sections_of_missing_features_are_refused_only_when_they_turn_something_on() {
        let section = |text: &str| -> Unsupported { toml::from_str(text).unwrap() };
        assert!(
            Unsupported::default()
                .refuse_server("security.zypper", "zypper")
                .is_ok()
        );
        assert!(
            section("server = \"\"")
                .refuse_server("security.zypper", "zypper")
                .is_ok()
        );
        let err = section("server = \"http://z\"")
            .refuse_server("security.zypper", "zypper")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("security.zypper.server") && err.contains("cargo feature 'zypper'"),
            "{err}"
        );
    }

    #[test]
    fn misuse_gets_a_clear_error() {
        let cases = [
            ("listen = 5", "listen"),
            ("lisen = \"x\"", "unknown field `lisen`"),
            ("[token]\nlifetime_secs = 10", "at least 60"),
            ("[policy]\npush_images = \"nobody\"", "unknown variant `nobody`"),
            ("[auth]\nbcrypt_cost = 40", "bcrypt_cost"),
            (
                "[auth]\nmax_app_tokens = 0",
                "auth.max_app_tokens must be between 1 and 1000",
            ),
            (
                "[web]\nlocal_login = false",
                "web.local_login = false needs [web.oidc], [web.google], [web.github]",
            ),
            ("public_url = \"ftp://x\"", "http or https"),
            ("[token\n", "portus.toml"),
        ];
        for (text, expected) in cases {
            let err = load(text, &[]).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: got '{err}'");
        }
        let err = Config::load(Some(Path::new("/nonexistent/portus.toml")), [])
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/portus.toml"), "{err}");
    }

    #[test]
    #[cfg(all(
        feature = "oidc",
        feature = "clair-legacy",
        feature = "clair-v4",
        feature = "zypper",
        feature = "harbor",
        feature = "dummy"
    ))]
    fn every_key_has_an_environment_override() {
        let full = Config {
            public_url: Some("http://x".parse().unwrap()),
            data_dir: Some("d".into()),
            token: TokenConfig {
                key: Some("k".into()),
                certificate: Some("c".into()),
                ..TokenConfig::default()
            },
            database: DatabaseConfig {
                url: Some("sqlite://x".into()),
                ..DatabaseConfig::default()
            },
            registry: RegistryConfig {
                url: Some("http://r".parse().unwrap()),
                external_hostname: Some("registry.example.com".into()),
                service_account: "p".into(),
                ..RegistryConfig::default()
            },
            security: SecurityConfig {
                clair_v4: ClairV4Settings {
                    psk_key: Some("k".into()),
                    ..ClairV4Settings::default()
                },
                // Not a valid combination, but every key is shown.
                harbor: HarborSettings {
                    username: Some("u".into()),
                    password: Some("p".into()),
                    token: Some("t".into()),
                    ..HarborSettings::default()
                },
                claim_lease_secs: Some(1800),
                ..SecurityConfig::default()
            },
            web: WebSettings {
                secure_cookies: Some(true),
                oidc: Some(OidcSettings {
                    issuer: "https://id".into(),
                    client_id: "c".into(),
                    client_secret: Some("s".into()),
                    name: "n".into(),
                    scopes: vec![],
                    username_claim: portus_auth::oidc::UsernameClaim::Sub,
                    create_users: true,
                    timeout_secs: 1,
                    allowed_domains: vec![],
                    groups_claim: Some("groups".into()),
                    required_groups: vec![],
                    teams: vec![],
                    admin_group: Some("admins".into()),
                }),
                google: Some(toml::from_str("client_id = 'c'\nclient_secret = 's'").unwrap()),
                github: Some(
                    toml::from_str(
                        "client_id = 'c'\nclient_secret = 's'\norganization = 'o'\nteam = 't'\nadmin_group = 'a'",
                    )
                    .unwrap(),
                ),
                gitlab: Some(
                    toml::from_str("client_id = 'c'\nclient_secret = 's'\ngroup = 'g'\nadmin_group = 'a'").unwrap(),
                ),
                bitbucket: Some(
                    toml::from_str("client_id = 'c'\nclient_secret = 's'\nworkspace = 'w'\nadmin_group = 'a'").unwrap(),
                ),
                ..WebSettings::default()
            },
            email: Some(EmailConfig {
                smtp_url: "smtp://mail.example.org".into(),
                from: "portus@example.org".into(),
            }),
            webhooks: WebhooksConfig {
                key: Some("a2V5".into()),
                ..WebhooksConfig::default()
            },
            metrics: MetricsConfig {
                bearer_token: Some("t".into()),
                ..MetricsConfig::default()
            },
            ..Config::default()
        };
        let tree = toml::Value::try_from(&full).unwrap();
        let mut paths = Vec::new();
        fn walk(prefix: &str, value: &toml::Value, out: &mut Vec<String>) {
            match value.as_table() {
                Some(table) => {
                    for (k, v) in table {
                        let path = if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        walk(&path, v, out);
                    }
                }
                None => out.push(prefix.to_owned()),
            }
        }
        walk("", &tree, &mut paths);
        paths.sort();
        // [ldap] is not serialized (its type is portus-auth's); its keys are checked below.
        let mut keys: Vec<String> = KEYS
            .iter()
            .filter(|k| !k.starts_with("ldap."))
            .map(|k| k.to_string())
            .collect();
        keys.sort();
        assert_eq!(paths, keys);
        #[cfg(feature = "ldap")]
        {
            let text = "[ldap]\nhostname = \"h\"\nbase = \"dc=x\"\n[[ldap.groups]]\ncn = \"g\"\nteam = \"t\"\n";
            let env = [
                ("PORTUS_LDAP_SYNC_ENABLED", "true"),
                ("PORTUS_LDAP_SYNC_INTERVAL_SECS", "60"),
            ];
            let env = env.map(|(k, v)| (k.to_owned(), v.to_owned()));
            let sync = Config::parse(text, "t", env).unwrap().ldap.unwrap().sync;
            assert!(sync.enabled && sync.interval_secs == 60, "{sync:?}");
        }
    }
}
