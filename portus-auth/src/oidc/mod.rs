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

mod settings;

use std::sync::Arc;
use std::time::Duration;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpRequest, HttpResponse, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use portus_core::PolicyStore;
use portus_core::model::{ExternalIdentity, User};
use serde::Deserialize;
use tokio::sync::Mutex;
use tracing::warn;

use crate::error::{Error, Result};
use crate::external_sign_in::{self, ExternalProfile, SignInRules};

pub use settings::{GOOGLE_ISSUER, GoogleSettings, OidcSettings};

/// The provider kind of OpenID Connect identities in the store; the issuer is the ID token's
/// `iss`, the subject its `sub`.
pub const PROVIDER: &str = "oidc";

/// The provider kind of Google identities in the store.
pub const GOOGLE_PROVIDER: &str = "google";

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

/// Which provider this is, where that changes the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Flavour {
    /// Any OpenID Connect provider.
    Generic,
    /// Google: identities of kind `google`; `iss` may lack its scheme; an e-mail address is
    /// trusted only where Google is authoritative for it (Gmail, or a Workspace account: `hd`
    /// set); and, when `hosted_domains` is not empty, only Workspace accounts whose `hd` is one
    /// of them may sign in.
    Google {
        /// Allowed Workspace domains (none: any account).
        hosted_domains: Vec<String>,
    },
}

impl Flavour {
    /// The identity kind stored for this provider.
    fn provider(&self) -> &'static str {
        match self {
            Flavour::Generic => PROVIDER,
            Flavour::Google { .. } => GOOGLE_PROVIDER,
        }
    }

    /// The provider name Portus gave these sign-ups (`users.provider`), imported without an
    /// issuer: such an identity is taken to be `sub` of the configured issuer.
    fn portus_provider(&self) -> &'static str {
        match self {
            Flavour::Generic => "openid_connect",
            Flavour::Google { .. } => "google_oauth2",
        }
    }

    /// The actor of what a sign-in writes, and its name in the log.
    fn source(&self) -> &'static str {
        match self {
            Flavour::Generic => "OpenID Connect",
            Flavour::Google { .. } => "Google",
        }
    }
}

/// An OpenID Connect provider and this client's registration with it.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// Which provider this is.
    pub flavour: Flavour,
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
    /// Who may sign in, whether first sign-ins create users, and what groups grant.
    pub rules: SignInRules,
    /// The ID token claim listing the person's groups, if groups are read.
    pub groups_claim: Option<String>,
    /// Time limit of each request to the provider.
    pub timeout: Duration,
}

/// What a sign-in attempt must remember between leaving for the provider and coming back.
/// Serializable, so any instance sharing the store can finish what another began; its secrets
/// are as sensitive as a password reset token's.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct PendingLogin {
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
    started: chrono::DateTime<chrono::Utc>,
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

/// Whether an attempt begun at `started` is older than [`ATTEMPT_LIFETIME`].
pub(crate) fn expired(started: chrono::DateTime<chrono::Utc>) -> bool {
    (chrono::Utc::now() - started)
        .to_std()
        .is_ok_and(|age| age > ATTEMPT_LIFETIME)
}

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
                started: chrono::Utc::now(),
            },
        ))
    }

    /// Finishes a sign-in when the provider sent the browser back with `state` and `code`:
    /// the enabled, unlocked local user linked to the identity the verified ID token proves
    /// (created and linked now if it is the identity's first sign-in and `create_users` is
    /// on; [`Error::NotLinked`] if it is not).
    pub async fn finish(&self, pending: PendingLogin, state: &str, code: &str) -> Result<User> {
        if expired(pending.started) {
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
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(algorithms)
            // Google's tokens may name the issuer without its scheme: checked below.
            .require_issuer_match(matches!(self.config.flavour, Flavour::Generic));
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
        let issuer = claims.issuer().as_str();
        let extra = unverified_payload(&id_token.to_string())?;
        if let Flavour::Google { hosted_domains } = &self.config.flavour {
            let expected = self.issuer.as_str();
            if issuer != expected && Some(issuer) != expected.strip_prefix("https://") {
                return Err(refused("wrong issuer", issuer));
            }
            let hd = extra.get("hd").and_then(|v| v.as_str());
            if !hosted_domains.is_empty()
                && !hd.is_some_and(|hd| hosted_domains.iter().any(|d| d.eq_ignore_ascii_case(hd)))
            {
                return Err(refused(
                    "not an account of hosted_domains",
                    hd.unwrap_or("(no hd: a consumer account)"),
                ));
            }
        }
        let flavour = &self.config.flavour;
        // Google is authoritative only for Gmail addresses and those of Workspace accounts.
        let email_trusted = |email: &str| match flavour {
            Flavour::Google { .. } => email.to_ascii_lowercase().ends_with("@gmail.com") || extra.get("hd").is_some(),
            Flavour::Generic => true,
        };
        let verified_email = claims
            .email()
            .filter(|_| claims.email_verified() == Some(true))
            .map(|e| e.as_str().to_owned())
            .filter(|e| email_trusted(e));
        let username = match self.config.username_claim {
            UsernameClaim::PreferredUsername => claims.preferred_username().map(|u| u.as_str().to_owned()),
            UsernameClaim::EmailLocalPart => verified_email
                .as_deref()
                .and_then(|e| e.split_once('@'))
                .map(|(local, _)| local.to_owned()),
            UsernameClaim::Sub => Some(claims.subject().as_str().to_owned()),
        };
        let groups = match &self.config.groups_claim {
            Some(claim) => Some(groups_of(&extra, claim)?),
            None => None,
        };
        let subject = claims.subject().as_str();
        let profile = ExternalProfile {
            identity: ExternalIdentity::new(flavour.provider(), issuer, subject),
            preferred_username: username,
            verified_email,
            groups,
            imported_as: Some(ExternalIdentity::new(flavour.portus_provider(), "", subject)),
        };
        external_sign_in::sign_in(self.store.as_ref(), flavour.source(), &self.config.rules, profile).await
    }
}

/// The claims of a JWT whose signature was checked already, for those the `openidconnect`
/// types do not carry (`hd`, a groups claim).
fn unverified_payload(jwt: &str) -> Result<serde_json::Map<String, serde_json::Value>> {
    let payload = jwt.split('.').nth(1).unwrap_or_default();
    let bytes = data_encoding::BASE64URL_NOPAD
        .decode(payload.trim_end_matches('=').as_bytes())
        .map_err(|e| refused("ID token payload", e))?;
    serde_json::from_slice(&bytes).map_err(|e| refused("ID token payload", e))
}

/// The groups `claim` lists: an array of strings (a missing claim is no groups; anything else
/// is refused rather than guessed at).
fn groups_of(claims: &serde_json::Map<String, serde_json::Value>, claim: &str) -> Result<Vec<String>> {
    match claims.get(claim) {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| refused("groups claim", "not a list of strings"))
            })
            .collect(),
        Some(_) => Err(refused("groups claim", "not a list of strings")),
    }
}
