//! The state every handler shares, and the limits applied to every request.

use std::sync::Arc;
use std::time::Duration;

use portus_auth::TokenService;
use portus_core::model::User;
use portus_core::policy::PolicyConfig;
use portus_core::{PolicyStore, RegistryClient};
use portus_scan::events::EventPipeline;
use portus_scan::scanner::Scanner;

/// Limits applied to every request.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Time after which a request is answered with 408.
    pub request_timeout: Duration,
    /// Largest accepted notification envelope in bytes.
    pub max_envelope_bytes: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            max_envelope_bytes: 4 << 20,
        }
    }
}

/// The registry notification endpoint: where events go and the `Authorization` header value
/// the registry must send.
#[derive(Clone)]
pub struct Webhook {
    /// Stores and applies the events.
    pub pipeline: Arc<EventPipeline>,
    /// Expected `Authorization` header value (`Bearer <secret>`).
    pub authorization: Arc<str>,
}

impl std::fmt::Debug for Webhook {
    // The expected header value is the registry's secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("pipeline", &self.pipeline)
            .field("authorization", &"<redacted>")
            .finish()
    }
}

/// A part of the embedding program that `/api/v1/health` reports besides the store, the
/// registry and the scanners (the LDAP directory and its group sync, for one).
pub trait HealthCheck: Send + Sync + std::fmt::Debug {
    /// Each of its components by name, with its state: `Ok(message)` (`ok`, or what it last
    /// did) or `Err(what is wrong)`. Never a secret.
    fn check(&self) -> HealthFuture<'_>;
}

/// What [`HealthCheck::check`] returns.
pub type HealthFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Vec<(String, Result<String, String>)>> + Send + 'a>>;

/// State shared by the handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The token service answering `/v2/token` (and checking API credentials).
    pub tokens: Arc<TokenService>,
    /// The store the REST API and the pages read; writes go through `portus_core::ops`.
    pub store: Arc<dyn PolicyStore>,
    /// The authorization settings the REST API decides with (the token service's own).
    pub policy: PolicyConfig,
    /// The notification endpoint; `None` answers 404 there.
    pub webhook: Option<Webhook>,
    /// The security backends (none: scanning is off).
    pub scanner: Scanner,
    /// The registry, for deletions and health; `None` when `registry.url` is not configured.
    pub registry: Option<Arc<dyn RegistryClient>>,
    /// The registry's host (and port) as users pull from it (`registry.external_hostname`,
    /// else the host of `registry.url`), for the pull commands pages show; `None` when
    /// neither is configured.
    pub external_hostname: Option<String>,
    /// bcrypt cost for passwords set through the API.
    pub bcrypt_cost: u32,
    /// Most application tokens a user may hold (`auth.max_app_tokens`).
    pub max_app_tokens: usize,
    /// Whether `POST /api/v1/users/bootstrap` may make the first administrator
    /// (`auth.first_user_admin`).
    pub first_user_admin: bool,
    /// Password resets by e-mail (`[email]`); `None`: off, their endpoints answer 404.
    pub password_resets: Option<crate::mail::PasswordResets>,
    /// Set once the store counts the configured scanners in its kept figures.
    pub scan_scope_synced: Arc<tokio::sync::OnceCell<()>>,
    /// More components for `/api/v1/health` (LDAP, when configured).
    pub health_checks: Vec<Arc<dyn HealthCheck>>,
    /// Outgoing webhooks: how their secrets are sealed and where they may point.
    pub outgoing: OutgoingWebhooks,
    /// Prometheus metrics, served at `/metrics`; `None`: off (nothing counted, 404 there).
    pub metrics: Option<Arc<crate::metrics::Metrics>>,
}

/// What the webhook endpoints need beyond the store.
#[derive(Debug, Clone)]
pub struct OutgoingWebhooks {
    /// Seals and opens webhook secrets.
    pub sealer: Arc<portus_scan::webhooks::Sealer>,
    /// `webhooks.allow_private_targets`.
    pub allow_private_targets: bool,
    /// The dispatcher to wake after a re-send (none: deliveries wait for its next look).
    pub dispatcher: Option<Arc<portus_scan::webhooks::Dispatcher>>,
}

impl OutgoingWebhooks {
    /// A sealer over a random key that lives as long as the process (tests, embedders that
    /// configure nothing), private targets refused, no dispatcher.
    pub fn ephemeral() -> Self {
        let key = portus_scan::webhooks::WebhookSecrets::generate_secret().unwrap_or_default();
        let key: Vec<u8> = key.bytes().take(32).collect();
        OutgoingWebhooks {
            sealer: Arc::new(portus_scan::webhooks::Sealer::new(&key).expect("a 32-byte key")),
            allow_private_targets: false,
            dispatcher: None,
        }
    }
}

impl AppState {
    /// State for `tokens` alone: no webhook, no registry, no scanners.
    pub fn new(tokens: Arc<TokenService>) -> Self {
        AppState {
            store: tokens.store().clone(),
            policy: *tokens.policy(),
            tokens,
            webhook: None,
            scanner: Scanner::new(Duration::from_secs(30)),
            registry: None,
            external_hostname: None,
            bcrypt_cost: portus_auth::password::DEFAULT_BCRYPT_COST,
            max_app_tokens: portus_core::ops::MAX_APP_TOKENS,
            first_user_admin: true,
            password_resets: None,
            scan_scope_synced: Arc::default(),
            health_checks: Vec::new(),
            outgoing: OutgoingWebhooks::ephemeral(),
            metrics: None,
        }
    }

    /// Makes the store count exactly the configured scanners in its kept per-repository
    /// figures (rebuilding them when that changes), once per state: lists call it before
    /// reading figures. `portus serve` does it at start-up, so the rebuild happens there.
    pub async fn sync_scan_scope(&self) -> portus_core::Result<()> {
        self.scan_scope_synced
            .get_or_try_init(|| async {
                let names: Vec<String> = self.scan_backends().into_iter().map(str::to_owned).collect();
                self.store.set_scan_scope(&names).await.map(|_| ())
            })
            .await
            .map(|_| ())
    }

    /// The configured backends' names.
    pub fn scan_backends(&self) -> Vec<&str> {
        self.scanner.backend_names()
    }
}

/// The signed-in user of a web session, attached by the web pages to the requests they make
/// to the REST API in process (an extension, so it can never come from the network). The API
/// then decides for the pages exactly as it does for API clients.
#[derive(Debug, Clone)]
pub struct SessionUser(pub User);
