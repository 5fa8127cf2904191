//! Sign in with OpenID Connect (feature `oidc`): the authorization code flow with PKCE, a
//! random `state` and `nonce` per attempt, ID tokens verified against the provider's published
//! keys (signature, issuer, audience, expiry, nonce, access-token hash), and the local user
//! found by the identity the token proves: `(oidc, iss, sub)`, linked at the first sign-in or by
//! an administrator beforehand.
//!
//! Only `iss` and `sub` together identify someone (OpenID Connect Core §5.7); names and e-mail
//! addresses may change or be chosen freely at the provider, so they never select an existing
//! account. A first sign-in creates a new user (when `create_users` allows it) named by a
//! configurable claim, or with Portus' `_NN` suffix when that name is taken; without
//! `create_users` it is refused until an administrator links the identity
//! (`portus user link-identity`).
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
use portus_core::model::{ExternalIdentity, NewUser, User};
use portus_core::prelude::*;
use portus_core::{ErrorKind, PolicyStore, ops};
use serde::Deserialize;
use tokio::sync::Mutex;
use tracing::{info, warn};

use crate::error::{Error, Result};

/// The provider kind of OpenID Connect identities in the store; the issuer is the ID token's
/// `iss`, the subject its `sub`.
pub const PROVIDER: &str = "oidc";

/// The provider name Portus gave its OpenID Connect sign-ups (`users.provider`), imported
/// without an issuer: such an identity is taken to be `sub` of the configured issuer.
const PORTUS_PROVIDER: &str = "openid_connect";

/// The actor of what a sign-in writes, and its name in the log.
const SOURCE: &str = "OpenID Connect";

/// Which ID token claim names a new local user at the first sign-in.
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
    /// The claim that names a new local user.
    pub username_claim: UsernameClaim,
    /// Create a local user (without password) at an identity's first sign-in; otherwise only
    /// identities an administrator linked may sign in.
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
    /// Claim naming a new local user: `preferred_username`, `email_local_part` or `sub`.
    #[serde(default = "OidcSettings::default_claim")]
    pub username_claim: UsernameClaim,
    /// Create a local user at an identity's first sign-in (otherwise an administrator links
    /// identities beforehand).
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
    /// A provider for `config`; identities are looked up in, and users created in, `store`.
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
    /// the enabled, unlocked local user linked to the identity the verified ID token proves
    /// (created and linked now if it is the identity's first sign-in and `create_users` is
    /// on; [`Error::NotLinked`] if it is not).
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
        let identity = ExternalIdentity::new(PROVIDER, claims.issuer().as_str(), claims.subject().as_str());
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
        };
        let user = match self.store.user_by_identity(&identity).await? {
            Some(user) => user,
            None => self.first_sign_in(&identity, username, verified_email).await?,
        };
        if let Err(refusal) = portus_core::account::check_usable(&user, portus_core::model::now()) {
            info!(user = %user.username, %refusal, "OpenID Connect sign-in refused");
            return Err(Error::InvalidCredentials);
        }
        Ok(user)
    }

    /// The local user of an identity that no user is linked to yet: the account Portus made
    /// for it (imported), else a new user if `create_users` allows, else none.
    async fn first_sign_in(
        &self,
        identity: &ExternalIdentity,
        username: Option<String>,
        email: Option<String>,
    ) -> Result<User> {
        let imported = ExternalIdentity::new(PORTUS_PROVIDER, "", identity.subject.as_str());
        if let Some(user) = self.store.user_by_identity(&imported).await? {
            return self.link(user, identity, &imported).await;
        }
        if !self.config.create_users {
            // Never the existing user of the same name or e-mail: the provider may let anyone
            // choose those. The administrator learns what to link.
            warn!(
                issuer = %identity.issuer,
                subject = %identity.subject,
                claimed_name = username.as_deref().unwrap_or(""),
                "OpenID Connect sign-in refused: no user is linked to this identity and create_users is off; \
                 an administrator must link it: portus user link-identity USER --provider {PROVIDER} \
                 --issuer {} --subject {}",
                identity.issuer,
                identity.subject,
            );
            return Err(Error::NotLinked);
        }
        let username = username.ok_or_else(|| {
            refused(
                "no user name claim",
                format!("{:?} missing", self.config.username_claim),
            )
        })?;
        portus_core::naming::validate_username(&username)
            .map_err(|e| refused("the provider's user name is not a valid portus name", e))?;
        self.create(identity, &username, email).await
    }

    /// Links `identity` to `user`, whose imported Portus identity `imported` is, in its place:
    /// from now on the link is the issuer's, and unlinking it ends these sign-ins.
    async fn link(&self, user: User, identity: &ExternalIdentity, imported: &ExternalIdentity) -> Result<User> {
        let store = self.store.as_ref();
        match ops::users::link_identity(store, Some(SOURCE), &user, identity).await {
            Ok(_) => {}
            // A sign-in at the same moment linked it: to whom, the store says.
            Err(error) if error.kind() == ErrorKind::Conflict => {
                return Ok(self.store.user_by_identity(identity).await?.ok_or(error)?);
            }
            Err(error) => return Err(error.into()),
        }
        match ops::users::unlink_identity(store, Some(SOURCE), &user, imported).await {
            // Another sign-in of the same identity replaced it meanwhile.
            Err(error) if error.kind() != ErrorKind::NotFound => return Err(error.into()),
            _ => {}
        }
        info!(user = %user.username, "OpenID Connect identity imported from Portus linked to its issuer");
        Ok(user)
    }

    /// A new user for `identity`, named `username` or, when taken, the first free of Portus'
    /// `username_01` ... `username_998`, linked to it in the same transaction.
    async fn create(&self, identity: &ExternalIdentity, username: &str, mut email: Option<String>) -> Result<User> {
        let mut names = portus_core::naming::suffixed_user_names(username);
        let mut candidate = names.next();
        while let Some(name) = candidate.take() {
            if self.store.user_by_name(&name).await?.is_some() {
                candidate = names.next();
                continue;
            }
            let new = NewUser {
                username: name.clone(),
                email: email.clone(),
                admin: false,
                password_hash: None,
                bot: false,
            };
            match ops::users::create_with_identity(self.store.as_ref(), Some(SOURCE), new, identity).await {
                Ok(user) => {
                    info!(user = %user.username, claimed_name = username, "created local user at an OpenID Connect identity's first sign-in");
                    return Ok(user);
                }
                Err(error) if error.kind() == ErrorKind::Conflict => {
                    // Either another sign-in of this identity won (then that user it is) or
                    // someone took the name meanwhile (then the next one).
                    if let Some(user) = self.store.user_by_identity(identity).await? {
                        return Ok(user);
                    }
                    if self.store.user_by_name(&name).await?.is_none() {
                        return Err(error.into());
                    }
                    candidate = names.next();
                }
                Err(error) if error.kind() == ErrorKind::Invalid && email.is_some() => {
                    warn!(user = %name, %error, "e-mail refused; creating the user without e-mail");
                    email = None;
                    candidate = Some(name);
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(refused(
            "no free user name",
            format!("'{username}' and its _01 to _998 are taken"),
        ))
    }
}
