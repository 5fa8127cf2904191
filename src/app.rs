//! Assembling a running portus from a [`Config`]: data directory, store, signing key,
//! authenticators and the token service.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use portus_auth::password::generate_secret;
use portus_auth::token::generate_key_and_certificate;
use portus_auth::{LocalAuthenticator, SigningAlgorithm, SigningKey, TokenIssuer, TokenService, TokenServiceConfig};
use portus_core::traits::Authenticator;
use portus_core::{PolicyStore, RegistryClient};
use portus_scan::events::EventPipeline;
use portus_scan::registry::{ClientOptions, HttpRegistryClient, TokenMinter};

use crate::Error;
use crate::config::Config;
use portus_http::{AppState, HttpLimits, Webhook};

/// Default data directory, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "portus-data";

/// Where portus keeps its files.
#[derive(Debug, Clone)]
pub struct DataPaths {
    /// The data directory itself.
    pub dir: PathBuf,
    /// Private signing key.
    pub key: PathBuf,
    /// Certificate chain of the key, if one exists or will be generated.
    pub certificate: Option<PathBuf>,
    /// Database URL.
    pub database_url: String,
    /// Most database connections (PostgreSQL).
    pub database_max_connections: u32,
    /// Shared secret the registry sends with notifications.
    pub webhook_secret: PathBuf,
    /// Whether key and certificate are ours to generate.
    generated_key: bool,
}

impl DataPaths {
    /// The data directory `resolve` would use, without creating it.
    pub fn planned_dir(config: &Config, data_dir: Option<&Path>) -> PathBuf {
        data_dir
            .map(Path::to_path_buf)
            .or_else(|| config.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
    }

    /// Whether the installation `resolve` would open exists already: the SQLite file is there,
    /// or the data directory holds the webhook secret that `config registry` (the first set-up
    /// step, before any store is opened) writes. A server database such as PostgreSQL is taken
    /// to exist; its migrations set it up.
    pub fn store_exists(config: &Config, data_dir: Option<&Path>) -> bool {
        let dir = Self::planned_dir(config, data_dir);
        match &config.database.url {
            None => dir.join("portus.db").exists() || dir.join("webhook.secret").exists(),
            Some(url) => sqlite_file(url).is_none_or(|file| file.exists()) || dir.join("webhook.secret").exists(),
        }
    }

    /// Resolves the file locations for `config`, with `data_dir` (the `--data-dir` flag)
    /// taking precedence over `config.data_dir`.
    pub fn resolve(config: &Config, data_dir: Option<&Path>) -> Result<Self, Error> {
        let dir = Self::planned_dir(config, data_dir);
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        set_private_permissions(&dir, 0o700)?;
        let dir = dir.canonicalize().map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let generated_key = config.token.key.is_none();
        let key = config.token.key.clone().unwrap_or_else(|| dir.join("token.key"));
        let certificate = match (&config.token.certificate, generated_key) {
            (Some(path), _) => Some(path.clone()),
            (None, true) => Some(dir.join("token.crt")),
            (None, false) => None,
        };
        let database_url = config
            .database
            .url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.join("portus.db").display()));
        Ok(DataPaths {
            webhook_secret: dir.join("webhook.secret"),
            dir,
            key,
            certificate,
            database_url,
            database_max_connections: config.database.max_connections,
            generated_key,
        })
    }

    /// Loads the signing key (and certificate chain), generating an ES256 key and a
    /// self-signed certificate on first use when no key was configured.
    pub fn signing_key(&self, issuer: &str) -> Result<SigningKey, Error> {
        if self.generated_key && !self.key.exists() {
            let cert = self
                .certificate
                .as_ref()
                .expect("generated keys have a certificate path");
            // A certificate someone configured belongs to a key of theirs (Portus' key, for one,
            // that the registry trusts): never replace it with the generated key's.
            if *cert != self.dir.join("token.crt") && cert.exists() {
                return Err(Error::Config(format!(
                    "token.certificate {} is set but token.key is not: set token.key to the certificate's \
                     key (Portus: PORTUS_KEY_PATH), or remove token.certificate to use a generated key",
                    cert.display()
                )));
            }
            let (key_pem, cert_pem) = generate_key_and_certificate(SigningAlgorithm::Es256, issuer)?;
            write_private(&self.key, key_pem.as_bytes())?;
            std::fs::write(cert, cert_pem).map_err(|source| Error::Io {
                path: cert.clone(),
                source,
            })?;
            tracing::info!(key = %self.key.display(), "generated a new ES256 signing key and self-signed certificate");
        }
        let key = SigningKey::from_pem_file(&self.key)?;
        match &self.certificate {
            Some(path) => {
                let pem = std::fs::read_to_string(path).map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
                key.with_certificate_chain_pem(&pem)
                    .map_err(|e| Error::Config(format!("{}: {e}", path.display())))
            }
            None => Ok(key),
        }
    }

    /// The notification secret, generated on first use.
    pub fn webhook_secret(&self) -> Result<String, Error> {
        if !self.webhook_secret.exists() {
            let secret = generate_secret("")?;
            write_private(&self.webhook_secret, secret.plain.expose().as_bytes())?;
        }
        let text = std::fs::read_to_string(&self.webhook_secret).map_err(|source| Error::Io {
            path: self.webhook_secret.clone(),
            source,
        })?;
        Ok(text.trim().to_owned())
    }
}

fn write_private(path: &Path, contents: &[u8]) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(contents).map_err(io)
}

fn set_private_permissions(path: &Path, mode: u32) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// The file a `sqlite:` database URL names (`None` for other databases and in-memory ones).
pub fn sqlite_file(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite:")?;
    let path = rest.strip_prefix("//").unwrap_or(rest);
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// The store a database URL names, for people: the SQLite file, or the URL without its
/// password.
pub fn store_label(database_url: &str) -> String {
    if let Some(file) = sqlite_file(database_url) {
        return format!("SQLite {}", file.display());
    }
    match url::Url::parse(database_url) {
        Ok(mut url) if url.has_host() => {
            if url.password().is_some() {
                let _ = url.set_password(None);
            }
            url.to_string()
        }
        // Anything else: the scheme alone cannot leak a password.
        _ => format!("{}:", database_url.split(':').next().unwrap_or_default()),
    }
}

const SUPPORTED_DATABASES: &[&str] = &[
    #[cfg(feature = "sqlite")]
    "sqlite",
    #[cfg(feature = "postgres")]
    "postgres",
];

mod store;

/// Opens the policy store named by `paths.database_url`.
pub async fn open_store(paths: &DataPaths) -> Result<Arc<dyn PolicyStore>, Error> {
    store::open_store_with_pool(paths).await.map(|(store, _)| store)
}

/// Everything `portus serve` runs.
#[derive(Debug)]
pub struct App {
    /// Handler state.
    pub state: AppState,
    /// HTTP limits.
    pub limits: HttpLimits,
    /// The policy store.
    pub store: Arc<dyn PolicyStore>,
    /// Registry notification events, persisted then applied.
    pub pipeline: Arc<EventPipeline>,
    /// The registry, when `registry.url` is configured.
    pub registry: Option<Arc<dyn RegistryClient>>,
    /// The configured security backends (none: scanning is off).
    pub scanner: portus_scan::scanner::Scanner,
    /// Delivers the outgoing webhooks' queue.
    pub dispatcher: Arc<portus_scan::webhooks::Dispatcher>,
    /// The LDAP authenticator, when `[ldap]` is configured; it runs the group sync.
    #[cfg(feature = "ldap")]
    pub ldap: Option<Arc<portus_auth::LdapAuthenticator>>,
}

/// Builds the token service and HTTP state for `config`.
pub async fn build(config: &Config, paths: &DataPaths) -> Result<App, Error> {
    let (store, pool) = store::open_store_with_pool(paths).await?;
    let metrics = config
        .metrics
        .enabled
        .then(|| portus_http::metrics::Metrics::new(config.metrics.bearer_token.clone(), pool));
    let key = paths.signing_key(&config.token.issuer)?;
    let issuer = TokenIssuer::new(
        key,
        config.token.issuer.clone(),
        Duration::from_secs(config.token.lifetime_secs),
        config.token.x5c,
    )?;
    let local: Arc<dyn Authenticator> = Arc::new(LocalAuthenticator::new(store.clone(), config.auth.bcrypt_cost)?);
    let service_config = TokenServiceConfig {
        service: config.token.service.clone(),
        policy: config.policy,
        max_scopes: config.token.max_scopes,
        lockout: portus_auth::LockoutPolicy {
            max_failures: config.auth.lockout_attempts,
            lock_for: Duration::from_secs(config.auth.lockout_secs),
        },
        credential_cache_ttl: Duration::from_secs(config.auth.credential_cache_secs),
        password_docker_login: config.auth.password_docker_login,
    };
    // Local passwords first: local users keep working when the directory is down, and users
    // without a local password fall through to LDAP.
    #[allow(unused_mut)]
    let mut authenticators = vec![local];
    #[allow(unused_mut)]
    let mut health_checks: Vec<Arc<dyn portus_http::HealthCheck>> = Vec::new();
    #[cfg(feature = "ldap")]
    let ldap = match config.ldap.clone() {
        Some(ldap) => {
            let ldap = Arc::new(
                portus_auth::LdapAuthenticator::new(ldap, store.clone())
                    .map_err(|e| Error::Config(format!("[ldap]: {e}")))?,
            );
            authenticators.push(ldap.clone());
            health_checks.push(Arc::new(LdapHealth(ldap.clone())));
            Some(ldap)
        }
        None => None,
    };
    let tokens = Arc::new(TokenService::new(store.clone(), authenticators, issuer, service_config));
    let limits = HttpLimits {
        max_body_bytes: config.http.max_body_bytes,
        request_timeout: Duration::from_secs(config.http.request_timeout_secs),
        max_envelope_bytes: config.sync.max_envelope_bytes,
    };
    let pipeline = EventPipeline::new(store.clone(), config.sync.missing_namespaces);
    pipeline.set_own_account(&config.registry.service_account);
    let sealer = Arc::new(webhook_sealer(config, paths)?);
    let dispatcher = portus_scan::webhooks::Dispatcher::new(store.clone(), sealer.clone(), config.webhooks.dispatch())
        .map_err(|e| Error::Config(format!("webhooks: {e}")))?;
    pipeline.set_webhooks(store.clone(), Some(dispatcher.clone()));
    if let Some(metrics) = &metrics {
        let observer: Arc<dyn portus_core::observe::Observer> = metrics.clone();
        tokens.set_observer(observer.clone());
        pipeline.set_observer(observer.clone());
        dispatcher.set_observer(observer);
    }
    let outgoing = portus_http::OutgoingWebhooks {
        sealer,
        allow_private_targets: config.webhooks.allow_private_targets,
        dispatcher: Some(dispatcher.clone()),
    };
    let webhook = Webhook {
        pipeline: pipeline.clone(),
        authorization: format!("Bearer {}", paths.webhook_secret()?).into(),
    };
    let registry = registry_client(config, &tokens)?;
    if let Some(registry) = &registry {
        // Pushed manifests are read to tell images from charts, signatures and other
        // artifacts, and images are measured, in the registry they were pushed to.
        pipeline.set_registry(registry.clone());
    }
    let scanner = scanner(config)?;
    let password_resets = match &config.email {
        Some(email) => {
            let mailer: Arc<dyn portus_http::mail::Mailer> = Arc::new(crate::mail::SmtpMailer::new(email)?);
            tracing::info!(server = %email.server_label(), "password resets by e-mail are on");
            Some(portus_http::mail::PasswordResets::new(mailer, &config.public_url()))
        }
        None => None,
    };
    Ok(App {
        state: AppState {
            webhook: Some(webhook),
            scanner: scanner.clone(),
            registry: registry.clone(),
            external_hostname: config.registry.pull_host(),
            bcrypt_cost: config.auth.bcrypt_cost,
            max_app_tokens: config.auth.max_app_tokens,
            first_user_admin: config.auth.first_user_admin,
            health_checks,
            password_resets,
            outgoing,
            metrics,
            ..AppState::new(tokens)
        },
        limits,
        store,
        pipeline,
        registry,
        scanner,
        dispatcher,
        #[cfg(feature = "ldap")]
        ldap,
    })
}

/// `/api/v1/health`'s `ldap` (the service bind, as Portus' check) and, with group sync on,
/// `ldap_sync` (the last pass of this process).
#[cfg(feature = "ldap")]
#[derive(Debug)]
struct LdapHealth(Arc<portus_auth::LdapAuthenticator>);

#[cfg(feature = "ldap")]
impl portus_http::HealthCheck for LdapHealth {
    fn check(&self) -> portus_http::HealthFuture<'_> {
        Box::pin(async move {
            let reachable = self.0.health().await.map(|()| "ok".to_owned()).map_err(|e| {
                // The source names what failed (connect, service bind...); never a password.
                std::iter::successors(std::error::Error::source(&e), |s| s.source())
                    .fold(e.to_string(), |text, source| format!("{text}: {source}"))
            });
            let mut components = vec![("ldap".to_owned(), reachable)];
            if self.0.config().sync.enabled {
                let last = match self.0.last_sync() {
                    None => Ok("no pass yet".to_owned()),
                    Some(status) => {
                        let at = status.finished_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                        match status.outcome {
                            Ok(summary) => Ok(format!("last pass {at}: {summary}")),
                            Err(error) => Err(format!("last pass {at} failed, nothing changed: {error}")),
                        }
                    }
                };
                components.push(("ldap_sync".to_owned(), last));
            }
            components
        })
    }
}

/// The registry client for `registry.url`, authenticating with tokens for the service
/// account; `None` when no registry URL is configured.
pub fn registry_client(config: &Config, tokens: &Arc<TokenService>) -> Result<Option<Arc<dyn RegistryClient>>, Error> {
    let Some(url) = config.registry.url.clone() else {
        return Ok(None);
    };
    let tokens = Arc::clone(tokens);
    let subject = config.registry.service_account.clone();
    let minter: TokenMinter = Arc::new(move |scopes: &[String]| {
        tokens
            .service_account_token(&subject, scopes)
            .map_err(|e| portus_core::Error::Backend {
                what: "token signing",
                source: Box::new(e),
            })
    });
    let options = ClientOptions {
        connect_timeout: Duration::from_secs(config.registry.connect_timeout_secs),
        request_timeout: Duration::from_secs(config.registry.request_timeout_secs),
        page_size: config.registry.page_size,
        ..ClientOptions::default()
    };
    let client = HttpRegistryClient::new(url, minter, options)?;
    Ok(Some(Arc::new(client)))
}

/// The security scanners configured in `[security]`; scanning is off when none is. A backend
/// configured in a build without its feature is refused, never silently skipped.
pub(crate) fn scanner(config: &Config) -> Result<portus_scan::scanner::Scanner, Error> {
    let security = &config.security;
    let scan_timeout = Duration::from_secs(security.scan_timeout_secs);
    #[allow(unused_mut)]
    let mut scanner = portus_scan::scanner::Scanner::new(scan_timeout);
    #[cfg(feature = "clair-legacy")]
    if let Some(clair) = security
        .clair
        .build()
        .map_err(|e| crate::config::setting_error("security.clair", e))?
    {
        scanner.register(Arc::new(clair))?;
    }
    #[cfg(not(feature = "clair-legacy"))]
    security.clair.refuse_server("security.clair", "clair-legacy")?;
    #[cfg(feature = "clair-v4")]
    if let Some(clair) = security
        .clair_v4
        .build()
        .map_err(|e| crate::config::setting_error("security.clair_v4", e))?
    {
        scanner.register(Arc::new(clair))?;
    }
    #[cfg(not(feature = "clair-v4"))]
    security.clair_v4.refuse_server("security.clair_v4", "clair-v4")?;
    #[cfg(feature = "zypper")]
    if let Some(zypper) = security
        .zypper
        .build(scan_timeout)
        .map_err(|e| crate::config::setting_error("security.zypper", e))?
    {
        scanner.register(Arc::new(zypper))?;
    }
    #[cfg(not(feature = "zypper"))]
    security.zypper.refuse_server("security.zypper", "zypper")?;
    #[cfg(feature = "harbor")]
    if let Some(harbor) = security
        .harbor
        .build()
        .map_err(|e| crate::config::setting_error("security.harbor", e))?
    {
        scanner.register(Arc::new(harbor))?;
    }
    #[cfg(not(feature = "harbor"))]
    security.harbor.refuse_server("security.harbor", "harbor")?;
    #[cfg(feature = "dummy")]
    if let Some(dummy) = security.dummy.build() {
        scanner.register(Arc::new(dummy))?;
    }
    #[cfg(not(feature = "dummy"))]
    security.dummy.refuse_server("security.dummy", "dummy")?;
    Ok(scanner)
}

/// The background scan worker, when a backend and the registry are configured.
pub fn scan_worker(config: &Config, app: &App) -> Result<Option<portus_scan::worker::ScanWorker>, Error> {
    let scanner = app.scanner.clone();
    let (Some(registry), Some(url)) = (app.registry.clone(), config.registry.url.as_ref()) else {
        if scanner.is_enabled() {
            // Scanners read images from the registry: without its address nothing is scanned.
            tracing::warn!(
                "security scanners are configured but registry.url is not set: portus cannot read images, \
                 so nothing will be scanned; set registry.url to the registry's API URL"
            );
        }
        return Ok(None);
    };
    if !scanner.is_enabled() {
        return Ok(None);
    }
    let tokens = app.state.tokens.clone();
    let subject = config.registry.service_account.clone();
    let authorization: portus_scan::worker::PullAuthorization = Arc::new(move |repository: &str| {
        let token = tokens
            .service_account_token(&subject, &[format!("repository:{repository}:pull")])
            .map_err(|e| portus_core::Error::Backend {
                what: "token signing",
                source: Box::new(e),
            })?;
        Ok(format!("Bearer {token}"))
    });
    let worker_config = portus_scan::worker::WorkerConfig {
        concurrency: config.security.concurrency,
        retry_base: Duration::from_secs(config.security.retry_after_secs),
        retry_max: Duration::from_secs(3600),
        rescan_after: Duration::from_secs(config.security.rescan_after_secs),
        registry_url: url.as_str().to_owned(),
        // Longer than the whole per-backend budget: a live worker always finishes first.
        lease: config.security.claim_lease(),
    };
    let worker =
        portus_scan::worker::ScanWorker::new(app.store.clone(), registry, scanner, authorization, worker_config);
    worker.set_webhooks(app.store.clone(), Some(app.dispatcher.clone()));
    if let Some(metrics) = &app.state.metrics {
        worker.set_observer(metrics.clone());
    }
    Ok(Some(worker))
}

/// Writes `<data_dir>/rootcertbundle.pem` (the current certificate, then the previous ones)
/// and `<data_dir>/jwks.json` (their keys under their libtrust `kid`, for Distribution 3
/// when tokens carry no `x5c`); answers the bundle's path, `None` when the current
/// certificate alone is the bundle.
fn write_trust_files(current: &Path, previous: &[PathBuf], paths: &DataPaths) -> Result<Option<PathBuf>, Error> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let write = |path: PathBuf, text: String| {
        std::fs::write(&path, text).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })
    };
    let mut texts = vec![(current.display().to_string(), read(current)?)];
    for path in previous {
        texts.push((path.display().to_string(), read(path)?));
    }
    let named: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let jwks = portus_auth::jwks::jwks_json(&named).map_err(|e| Error::Config(format!("token certificates: {e}")))?;
    write(paths.dir.join("jwks.json"), jwks)?;
    if previous.is_empty() {
        return Ok(None);
    }
    let bundle_pem = portus_auth::token::certificate_bundle_pem(&named)
        .map_err(|e| Error::Config(format!("token.previous_certificates: {e}")))?;
    let bundle = paths.dir.join("rootcertbundle.pem");
    write(bundle.clone(), bundle_pem)?;
    Ok(Some(bundle))
}

/// The `auth` and `notifications` sections for the registry's `config.yml`.
pub fn registry_config_yaml(config: &Config, paths: &DataPaths) -> Result<String, Error> {
    paths.signing_key(&config.token.issuer)?;
    let bundle = paths.certificate.as_ref().ok_or_else(|| {
        Error::Config("token.certificate must be set when token.key is: the registry needs it as rootcertbundle".into())
    })?;
    let mut bundle = bundle.canonicalize().map_err(|source| Error::Io {
        path: bundle.clone(),
        source,
    })?;
    if let Some(rotation) = write_trust_files(&bundle, &config.token.previous_certificates, paths)? {
        bundle = rotation;
    }
    let jwks = paths.dir.join("jwks.json").canonicalize().map_err(|source| Error::Io {
        path: paths.dir.join("jwks.json"),
        source,
    })?;
    let secret = paths.webhook_secret()?;
    let base = config.public_url();
    // Scalars are written as JSON strings, which YAML reads as double-quoted strings.
    let q = |s: &str| serde_json::to_string(s).expect("strings serialize");
    Ok(format!(
        "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {bundle}\n    jwks: {jwks}\n\
         notifications:\n  endpoints:\n    - name: portus\n      url: {url}\n      headers:\n        Authorization: [{auth}]\n\
         \x20     timeout: 2s\n      threshold: 5\n      backoff: 1s\n      ignoredmediatypes:\n        - application/octet-stream\n",
        realm = q(&format!("{base}/v2/token")),
        service = q(&config.token.service),
        issuer = q(&config.token.issuer),
        bundle = q(&bundle.display().to_string()),
        jwks = q(&jwks.display().to_string()),
        url = q(&format!("{base}/v2/webhooks/events")),
        auth = q(&format!("Bearer {secret}")),
    ))
}

/// The key that seals webhook secrets: `webhooks.key`, else the data directory's
/// `webhooks.key` file (generated on first use).
pub(crate) fn webhook_sealer(config: &Config, paths: &DataPaths) -> Result<portus_scan::webhooks::Sealer, Error> {
    match &config.webhooks.key {
        Some(key) => portus_scan::webhooks::Sealer::from_base64(key),
        None => portus_scan::webhooks::Sealer::from_file_or_generate(&paths.dir.join("webhooks.key")),
    }
    .map_err(|e| Error::Config(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::{sqlite_file, store_label};
    use std::path::PathBuf;

    #[test]
    fn stores_are_named_without_passwords() {
        assert_eq!(
            sqlite_file("sqlite:///srv/p/portus.db?mode=rwc"),
            Some(PathBuf::from("/srv/p/portus.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://u:pw@db/portus"), None);
        assert_eq!(store_label("sqlite:///srv/p/portus.db"), "SQLite /srv/p/portus.db");
        let label = store_label("postgres://portus:hunter2@db.example:5432/portus");
        assert_eq!(label, "postgres://portus@db.example:5432/portus");
        assert!(!store_label("nonsense:hunter2@x").contains("hunter2"));
    }
}
