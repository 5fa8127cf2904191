//! Sign in with OpenID Connect (feature `oidc`): the authorization code flow with PKCE, a
//! random `state` and `nonce` per attempt, ID tokens verified against the provider's published
//! keys (signature, issuer, audience, expiry, nonce, access-token hash), and the local user
//! found, or created on first sign-in, by a configurable claim.
//!
//! The provider is discovered (`/.well-known/openid-configuration`) on first use and the
//! answer kept; a provider that cannot be reached is [`portus_core::Error::Unavailable`], a
//! sign-in the provider or its token does not vouch for is [`Error::InvalidCredentials`].
//! HTTP goes through reqwest without following redirects (no SSRF through the provider's
//! answers).

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpRequest, HttpResponse, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use portus_core::PolicyStore;
use portus_core::model::User;
use portus_core::prelude::*;
use serde::Deserialize;
use tokio::sync::Mutex;
use tracing::{info, warn};

use crate::error::{Error, Result};

/// Which ID token claim names the local user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UsernameClaim {
    /// `preferred_username` (the default).
    PreferredUsername,
    /// The part of a verified `email` before the `@`.
    EmailLocalPart,
    /// `sub`, the provider's stable identifier.
    Sub,
}

/// An OpenID Connect provider and this client's registration with it.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The issuer URL (discovery document at `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    /// The client identifier registered with the provider.
    pub client_id: String,
    /// The client secret (none for a public client).
    pub client_secret: Option<String>,
    /// Where the provider sends the browser back (`{public_url}/sign_in/oidc/callback`).
    pub redirect_url: String,
    /// Scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    /// The claim that names the local user.
    pub username_claim: UsernameClaim,
    /// Create a local user (without password) on first sign-in; otherwise only existing users
    /// may sign in this way.
    pub create_users: bool,
    /// Time limit of each request to the provider.
    pub timeout: Duration,
}

/// The `[web.oidc]` section: a provider for the sign-in page, with the name on its button.
///
/// ```
/// use portus_auth::oidc::{OidcSettings, UsernameClaim};
///
/// let settings: OidcSettings =
///     serde_json::from_str(r#"{"issuer": "https://id.example.org", "client_id": "portus"}"#).unwrap();
/// assert_eq!(settings.username_claim, UsernameClaim::PreferredUsername);
/// let config = settings.config("https://portus.example.org/sign_in/oidc/callback".into());
/// assert_eq!((config.scopes.len(), config.timeout.as_secs()), (2, 10));
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// Issuer URL; its discovery document is read on first use.
    pub issuer: String,
    /// Client identifier registered with the provider.
    pub client_id: String,
    /// Client secret (none for a public client).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Name on the sign-in button ("Sign in with ...").
    #[serde(default = "OidcSettings::default_name")]
    pub name: String,
    /// Scopes besides `openid`.
    #[serde(default = "OidcSettings::default_scopes")]
    pub scopes: Vec<String>,
    /// Claim naming the local user: `preferred_username`, `email_local_part` or `sub`.
    #[serde(default = "OidcSettings::default_claim")]
    pub username_claim: UsernameClaim,
    /// Create a local user on first sign-in.
    #[serde(default = "OidcSettings::default_create")]
    pub create_users: bool,
    /// Time limit of each request to the provider, in seconds.
    #[serde(default = "OidcSettings::default_timeout")]
    pub timeout_secs: u64,
}

impl OidcSettings {
    fn default_name() -> String {
        "OpenID Connect".into()
    }
    fn default_scopes() -> Vec<String> {
        vec!["profile".into(), "email".into()]
    }
    fn default_claim() -> UsernameClaim {
        UsernameClaim::PreferredUsername
    }
    fn default_create() -> bool {
        true
    }
    fn default_timeout() -> u64 {
        10
    }

    /// The provider configuration, with the browser sent back to `redirect_url`
    /// (`{public_url}/sign_in/oidc/callback`).
    pub fn config(&self, redirect_url: String) -> OidcConfig {
        OidcConfig {
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            redirect_url,
            scopes: self.scopes.clone(),
            username_claim: self.username_claim,
            create_users: self.create_users,
            timeout: Duration::from_secs(self.timeout_secs),
        }
    }
}

/// What a sign-in attempt must remember between leaving for the provider and coming back.
pub struct PendingLogin {
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
    started: Instant,
}

impl std::fmt::Debug for PendingLogin {
    // State, nonce and PKCE verifier are secrets of the attempt.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

/// How long a browser may take at the provider.
pub const ATTEMPT_LIFETIME: Duration = Duration::from_secs(600);

/// Signs users in through one OpenID Connect provider.
pub struct OidcProvider {
    config: OidcConfig,
    issuer: IssuerUrl,
    redirect: RedirectUrl,
    http: Http,
    metadata: Mutex<Option<CoreProviderMetadata>>,
    store: Arc<dyn PolicyStore>,
}

impl std::fmt::Debug for OidcProvider {
    // The client secret in the configuration stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("issuer", &self.issuer.as_str())
            .field("redirect", &self.redirect.as_str())
            .finish_non_exhaustive()
    }
}

/// reqwest as the HTTP client of `openidconnect` (which would otherwise bring its own,
/// older reqwest).
struct Http(reqwest::Client);

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = reqwest::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = std::result::Result<HttpResponse, reqwest::Error>> + Send + 'c>,
    >;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let response = self
                .0
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?.to_vec();
            let mut answer = HttpResponse::new(body);
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok(answer)
        })
    }
}

fn unavailable(error: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Core(portus_core::Error::Unavailable {
        what: "OpenID Connect provider",
        source: Box::new(error),
    })
}

fn refused(what: &str, error: impl std::fmt::Display) -> Error {
    warn!(%error, "OpenID Connect sign-in refused: {what}");
    Error::InvalidCredentials
}

impl OidcProvider {
    /// A provider for `config`; users are looked up in, and created in, `store`.
    pub fn new(config: OidcConfig, store: Arc<dyn PolicyStore>) -> Result<Self> {
        let issuer = IssuerUrl::new(config.issuer.clone())
            .map_err(|e| Error::InvalidRequest(format!("oidc.issuer '{}': {e}", config.issuer)))?;
        let redirect = RedirectUrl::new(config.redirect_url.clone())
            .map_err(|e| Error::InvalidRequest(format!("oidc redirect URL '{}': {e}", config.redirect_url)))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .build()
            .map_err(|e| Error::InvalidRequest(format!("HTTP client: {e}")))?;
        Ok(OidcProvider {
            config,
            issuer,
            redirect,
            http: Http(http),
            metadata: Mutex::new(None),
            store,
        })
    }

    async fn metadata(&self) -> Result<CoreProviderMetadata> {
        let mut cached = self.metadata.lock().await;
        if let Some(metadata) = cached.as_ref() {
            return Ok(metadata.clone());
        }
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(unavailable)?;
        *cached = Some(metadata.clone());
        Ok(metadata)
    }

    /// This client at the provider `metadata` describes.
    fn client(
        &self,
        metadata: CoreProviderMetadata,
    ) -> CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            self.config.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// Starts a sign-in: the provider URL to send the browser to, and what to remember.
    pub async fn begin(&self) -> Result<(url::Url, PendingLogin)> {
        let client = self.client(self.metadata().await?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok((
            url,
            PendingLogin {
                state,
                nonce,
                verifier,
                started: Instant::now(),
            },
        ))
    }

    /// Finishes a sign-in when the provider sent the browser back with `state` and `code`:
    /// the enabled, unlocked local user the verified ID token names.
    pub async fn finish(&self, pending: PendingLogin, state: &str, code: &str) -> Result<User> {
        if pending.started.elapsed() > ATTEMPT_LIFETIME {
            return Err(refused("the attempt expired", "more than 10 minutes at the provider"));
        }
        if !crate::password::secrets_equal(state.as_bytes(), pending.state.secret().as_bytes()) {
            return Err(refused("state mismatch", "the answer belongs to another attempt"));
        }
        let metadata = self.metadata().await?;
        let algorithms = metadata.id_token_signing_alg_values_supported().clone();
        let client = self.client(metadata);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| Error::InvalidRequest(e.to_string()))?
            .set_pkce_verifier(pending.verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::Request(inner) => unavailable(inner),
                other => refused("the code was not accepted", other),
            })?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| refused("no ID token", "the token answer has none"))?;
        let verifier = client.id_token_verifier().set_allowed_algs(algorithms);
        let claims = id_token
            .claims(&verifier, &pending.nonce)
            .map_err(|e| refused("the ID token did not verify", e))?;
        if let Some(expected) = claims.access_token_hash() {
            let algorithm = id_token.signing_alg().map_err(|e| refused("ID token algorithm", e))?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(|e| refused("ID token key", e))?;
            let actual = AccessTokenHash::from_token(tokens.access_token(), algorithm, key)
                .map_err(|e| refused("access token hash", e))?;
            if actual != *expected {
                return Err(refused("access token hash mismatch", "substituted access token"));
            }
        }
        let verified_email = claims
            .email()
            .filter(|_| claims.email_verified() == Some(true))
            .map(|e| e.as_str().to_owned());
        let username = match self.config.username_claim {
            UsernameClaim::PreferredUsername => claims.preferred_username().map(|u| u.as_str().to_owned()),
            UsernameClaim::EmailLocalPart => verified_email
                .as_deref()
                .and_then(|e| e.split_once('@'))
                .map(|(local, _)| local.to_owned()),
            UsernameClaim::Sub => Some(claims.subject().as_str().to_owned()),
        }
        .ok_or_else(|| {
            refused(
                "no user name claim",
                format!("{:?} missing", self.config.username_claim),
            )
        })?;
        portus_core::naming::validate_username(&username)
            .map_err(|e| refused("the provider's user name is not a valid portus name", e))?;
        let user = self.local_user(&username, verified_email).await?;
        if let Err(refusal) = portus_core::account::check_usable(&user, portus_core::model::now()) {
            info!(user = %user.username, %refusal, "OpenID Connect sign-in refused");
            return Err(Error::InvalidCredentials);
        }
        Ok(user)
    }

    async fn local_user(&self, username: &str, email: Option<String>) -> Result<User> {
        if let Some(user) = self.store.user_by_name(username).await? {
            return Ok(user);
        }
        if !self.config.create_users {
            return Err(refused("no such local user", username));
        }
        let source = "OpenID Connect";
        Ok(crate::external_user::find_or_create(self.store.as_ref(), username, email, false, source).await?)
    }
}
