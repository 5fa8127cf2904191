//! Sign in with GitHub, GitLab or Bitbucket Cloud (feature `oidc`): the OAuth 2.0
//! authorization-code flow these providers speak (none of them is an OpenID Connect issuer as
//! Portus used them), with Portus' restrictions (GitHub organization and team, GitLab group,
//! Bitbucket workspace) checked with the fresh token at every sign-in.
//!
//! The flow is shared ([`OAuthProvider`]): a random `state` per attempt, compared in constant
//! time and usable once; PKCE (S256) where the provider has it (GitHub, GitLab); an attempt
//! lifetime; HTTP through reqwest without following redirects and with a time limit; tokens
//! only in the `Authorization` header, never logged and dropped after the checks. Each
//! provider's module reads the account and checks its restriction, giving an
//! [`ExternalProfile`]; [`crate::external_sign_in`] then applies the section's rules and finds
//! the local user by the identity (provider, base URL, the provider's numeric id or uuid),
//! never by a name or an e-mail.
//!
//! A provider that cannot be reached (or answers 5xx or 429) is
//! [`portus_core::Error::Unavailable`]; anything it does not vouch for, and a refused
//! restriction, is [`Error::InvalidCredentials`], with a `warn!` saying why.

pub mod bitbucket;
pub mod github;
pub mod gitlab;

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use data_encoding::BASE64URL_NOPAD;
use portus_core::PolicyStore;
use portus_core::model::User;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, USER_AGENT};
use serde::Deserialize;
use serde_json::Value;
use tracing::warn;

use crate::error::{Error, Result};

pub use crate::external_sign_in::{ExternalProfile, GroupTeam, SignInRules};

/// How long a browser may take at the provider.
pub const ATTEMPT_LIFETIME: Duration = Duration::from_secs(600);

/// The provider kinds, as in the path of their pages (`/sign_in/github`) and in identities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// GitHub or GitHub Enterprise Server.
    Github,
    /// GitLab.com or a self-managed GitLab.
    Gitlab,
    /// Bitbucket Cloud.
    Bitbucket,
}

impl Kind {
    /// The name in paths and identities: `github`, `gitlab`, `bitbucket`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Github => "github",
            Kind::Gitlab => "gitlab",
            Kind::Bitbucket => "bitbucket",
        }
    }

    /// The kind named `name` in a path.
    pub fn from_name(name: &str) -> Option<Kind> {
        [Kind::Github, Kind::Gitlab, Kind::Bitbucket]
            .into_iter()
            .find(|k| k.as_str() == name)
    }

    /// The provider's name in logs and as the actor of what a sign-in writes.
    fn source(self) -> &'static str {
        match self {
            Kind::Github => "GitHub",
            Kind::Gitlab => "GitLab",
            Kind::Bitbucket => "Bitbucket",
        }
    }
}

/// What a sign-in attempt remembers between leaving for the provider and coming back.
/// Serializable, so any instance sharing the store can finish what another began.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct PendingOAuth {
    kind: Kind,
    state: String,
    verifier: Option<String>,
    started: chrono::DateTime<chrono::Utc>,
}

impl std::fmt::Debug for PendingOAuth {
    // State and PKCE verifier are secrets of the attempt.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingOAuth")
            .field("kind", &self.kind)
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

/// The provider-specific part: how to read the account and check its restriction.
#[derive(Debug)]
enum Profiler {
    Github(github::Github),
    Gitlab(gitlab::Gitlab),
    Bitbucket(bitbucket::Bitbucket),
}

/// This client's registration and the provider's endpoints.
pub(crate) struct Client {
    kind: Kind,
    http: reqwest::Client,
    client_id: String,
    client_secret: String,
    authorize_url: url::Url,
    token_url: String,
    redirect_url: String,
    scopes: Vec<String>,
    pkce: bool,
    /// Client authentication at the token endpoint with HTTP Basic (Bitbucket) rather than in
    /// the form.
    basic_auth: bool,
}

impl std::fmt::Debug for Client {
    // The client secret stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("kind", &self.kind)
            .field("client_id", &self.client_id)
            .field("token_url", &self.token_url)
            .finish_non_exhaustive()
    }
}

/// Signs users in through one OAuth 2.0 provider (GitHub, GitLab or Bitbucket).
pub struct OAuthProvider {
    client: Client,
    profiler: Profiler,
    rules: SignInRules,
    store: Arc<dyn PolicyStore>,
}

impl std::fmt::Debug for OAuthProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthProvider")
            .field("client", &self.client)
            .field("profiler", &self.profiler)
            .finish_non_exhaustive()
    }
}

/// The endpoints and registration [`OAuthProvider::new`] builds a client from.
pub(crate) struct Endpoints {
    pub(crate) authorize_url: String,
    pub(crate) token_url: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) pkce: bool,
    pub(crate) basic_auth: bool,
}

/// The registration every provider section shares.
pub(crate) struct Registration<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) client_secret: &'a str,
    pub(crate) redirect_url: String,
    pub(crate) timeout: Duration,
}

impl OAuthProvider {
    fn new(
        kind: Kind,
        registration: Registration<'_>,
        endpoints: Endpoints,
        profiler: Profiler,
        rules: SignInRules,
        store: Arc<dyn PolicyStore>,
    ) -> Result<Self> {
        let section = kind.as_str();
        let authorize_url = url::Url::parse(&endpoints.authorize_url).map_err(|e| {
            Error::InvalidRequest(format!("{section} authorize URL '{}': {e}", endpoints.authorize_url))
        })?;
        url::Url::parse(&endpoints.token_url)
            .map_err(|e| Error::InvalidRequest(format!("{section} token URL '{}': {e}", endpoints.token_url)))?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(registration.timeout)
            .build()
            .map_err(|e| Error::InvalidRequest(format!("HTTP client: {e}")))?;
        Ok(OAuthProvider {
            client: Client {
                kind,
                http,
                client_id: registration.client_id.to_owned(),
                client_secret: registration.client_secret.to_owned(),
                authorize_url,
                token_url: endpoints.token_url,
                redirect_url: registration.redirect_url,
                scopes: endpoints.scopes,
                pkce: endpoints.pkce,
                basic_auth: endpoints.basic_auth,
            },
            profiler,
            rules,
            store,
        })
    }

    /// The provider's kind.
    pub fn kind(&self) -> Kind {
        self.client.kind
    }

    /// Starts a sign-in: the provider URL to send the browser to, and what to remember.
    pub fn begin(&self) -> (url::Url, PendingOAuth) {
        let client = &self.client;
        let state = random_secret();
        let verifier = client.pkce.then(random_secret);
        let mut url = client.authorize_url.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("client_id", &client.client_id)
                .append_pair("redirect_uri", &client.redirect_url)
                .append_pair("response_type", "code")
                .append_pair("state", &state);
            if !client.scopes.is_empty() {
                query.append_pair("scope", &client.scopes.join(" "));
            }
            if let Some(verifier) = &verifier {
                query
                    .append_pair("code_challenge", &pkce_challenge(verifier))
                    .append_pair("code_challenge_method", "S256");
            }
        }
        let pending = PendingOAuth {
            kind: client.kind,
            state,
            verifier,
            started: chrono::Utc::now(),
        };
        (url, pending)
    }

    /// Finishes a sign-in when the provider sent the browser back with `state` and `code`: the
    /// enabled, unlocked local user linked to the account the provider vouches for, after its
    /// restriction (created and linked now at the account's first sign-in when `create_users`
    /// allows; [`Error::NotLinked`] when it does not).
    pub async fn finish(&self, pending: PendingOAuth, state: &str, code: &str) -> Result<User> {
        let profile = self.profile(pending, state, code).await?;
        crate::external_sign_in::sign_in(self.store.as_ref(), self.client.kind.source(), &self.rules, profile).await
    }

    /// The flow up to the provider's verified profile (state, code exchange, account,
    /// restriction).
    pub async fn profile(&self, pending: PendingOAuth, state: &str, code: &str) -> Result<ExternalProfile> {
        let kind = self.client.kind;
        if pending.kind != kind {
            return Err(refused(kind, "the attempt was started for another provider"));
        }
        if (chrono::Utc::now() - pending.started)
            .to_std()
            .is_ok_and(|age| age > ATTEMPT_LIFETIME)
        {
            return Err(refused(
                kind,
                "the attempt expired (more than 10 minutes at the provider)",
            ));
        }
        if !crate::password::secrets_equal(state.as_bytes(), pending.state.as_bytes()) {
            return Err(refused(kind, "state mismatch: the answer belongs to another attempt"));
        }
        if code.is_empty() {
            return Err(refused(kind, "no code in the answer"));
        }
        let token = self.client.exchange(code, pending.verifier.as_deref()).await?;
        let api = Api {
            kind,
            http: &self.client.http,
            token: &token,
        };
        match &self.profiler {
            Profiler::Github(github) => github.profile(&api).await,
            Profiler::Gitlab(gitlab) => gitlab.profile(&api).await,
            Profiler::Bitbucket(bitbucket) => bitbucket.profile(&api).await,
        }
    }
}

/// The token answer's fields we read (GitHub answers errors with 200, so `error` is checked
/// before anything else).
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

impl Client {
    /// Exchanges `code` (with the PKCE `verifier`) for an access token.
    async fn exchange(&self, code: &str, verifier: Option<&str>) -> Result<String> {
        // The serializer is not `Send`: the body is made before anything is awaited.
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "authorization_code")
                .append_pair("code", code)
                .append_pair("redirect_uri", &self.redirect_url);
            if let Some(verifier) = verifier {
                form.append_pair("code_verifier", verifier);
            }
            if !self.basic_auth {
                form.append_pair("client_id", &self.client_id)
                    .append_pair("client_secret", &self.client_secret);
            }
            form.finish()
        };
        let mut request = self
            .http
            .post(&self.token_url)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, "portus")
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if self.basic_auth {
            request = request.basic_auth(&self.client_id, Some(&self.client_secret));
        }
        let response = request.body(body).send().await.map_err(|e| unavailable(self.kind, e))?;
        let status = response.status();
        if is_temporary(status) {
            return Err(unavailable_status(self.kind, "token endpoint", status));
        }
        let body = response.bytes().await.map_err(|e| unavailable(self.kind, e))?;
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|_| refused(self.kind, format!("the token endpoint answered {status} without JSON")))?;
        if let Some(error) = answer.error {
            let description = answer.error_description.unwrap_or_default();
            return Err(refused(
                self.kind,
                format!("the code was not accepted: {error} {description} ({status})"),
            ));
        }
        match answer.access_token {
            Some(token) if status.is_success() && !token.is_empty() => Ok(token),
            _ => Err(refused(
                self.kind,
                format!("the token endpoint answered {status} without an access token"),
            )),
        }
    }
}

/// An answer of the provider's API.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

/// The provider's API as the signed-in account (the token only in the `Authorization` header).
pub(crate) struct Api<'a> {
    kind: Kind,
    http: &'a reqwest::Client,
    token: &'a str,
}

impl Api<'_> {
    /// `GET url`; 5xx, 429 and transport failures are [`portus_core::Error::Unavailable`],
    /// other statuses are the caller's to judge.
    pub(crate) async fn get(&self, url: &str) -> Result<Answer> {
        let response = self
            .http
            .get(url)
            .header(AUTHORIZATION, format!("Bearer {}", self.token))
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, "portus")
            .send()
            .await
            .map_err(|e| unavailable(self.kind, e))?;
        let status = response.status();
        if is_temporary(status) {
            return Err(unavailable_status(self.kind, url_path(url), status));
        }
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(|e| unavailable(self.kind, e))?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer { status, headers, body })
    }

    /// `GET url`, which must answer 200: its JSON, else a refusal saying `what` failed.
    pub(crate) async fn get_ok(&self, url: &str, what: &str) -> Result<Value> {
        let answer = self.get(url).await?;
        if answer.status != StatusCode::OK {
            return Err(self.refused(format!("{what}: {} answered {}", url_path(url), answer.status)));
        }
        Ok(answer.body)
    }

    /// The items of a paged list starting at `url` (at most [`MAX_PAGES`] pages): `items`
    /// picks a page's items from its answer, `next` the following page's URL, which is only
    /// followed on `origin` (the token goes nowhere else). `None` when a page is refused (e.g.
    /// a scope the user did not grant).
    pub(crate) async fn list(
        &self,
        url: String,
        origin: &str,
        items: impl Fn(&Value) -> Vec<Value>,
        next: impl Fn(&Answer) -> Option<String>,
    ) -> Result<Option<Vec<Value>>> {
        let mut all = Vec::new();
        let mut url = url;
        for _ in 0..MAX_PAGES {
            let answer = self.get(&url).await?;
            if answer.status != StatusCode::OK {
                tracing::info!(status = %answer.status, path = url_path(&url), "the provider did not list it");
                return Ok(None);
            }
            all.extend(items(&answer.body));
            match next(&answer) {
                Some(following) if following.starts_with(&format!("{origin}/")) => url = following,
                _ => return Ok(Some(all)),
            }
        }
        warn!(
            path = url_path(&url),
            "more than {MAX_PAGES} pages; the rest is not read"
        );
        Ok(Some(all))
    }

    /// A refusal of this provider's sign-in, logged with `why`.
    pub(crate) fn refused(&self, why: impl std::fmt::Display) -> Error {
        refused(self.kind, why)
    }
}

/// Pages of a list read at most (100 items each).
const MAX_PAGES: usize = 10;

/// The `rel="next"` URL of a `Link` header (GitHub, GitLab paging).
pub(crate) fn link_next(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(reqwest::header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| p.trim() == "rel=\"next\"");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_owned())
    })
}

/// The path of `url`, for messages (queries may carry paging state, never secrets; left out).
fn url_path(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

fn is_temporary(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

fn unavailable(kind: Kind, error: impl std::error::Error + Send + Sync + 'static) -> Error {
    warn!(provider = kind.source(), %error, "sign-in provider unreachable");
    Error::Core(portus_core::Error::Unavailable {
        what: "sign-in provider",
        source: Box::new(error),
    })
}

fn unavailable_status(kind: Kind, what: &str, status: StatusCode) -> Error {
    #[derive(Debug, thiserror::Error)]
    #[error("{0} answered {1}")]
    struct Status(String, StatusCode);
    unavailable(kind, Status(what.to_owned(), status))
}

fn refused(kind: Kind, why: impl std::fmt::Display) -> Error {
    warn!(provider = kind.source(), "sign-in refused: {why}");
    Error::InvalidCredentials
}

/// 32 random bytes, URL-safe base64 (state, PKCE verifier).
fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random generator works");
    BASE64URL_NOPAD.encode(&bytes)
}

/// The S256 PKCE challenge of `verifier` (RFC 7636).
fn pkce_challenge(verifier: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    BASE64URL_NOPAD.encode(digest.as_ref())
}

/// `base` without trailing slashes (base URLs are identity issuers: one spelling each).
pub(crate) fn trim_base(base: &str) -> String {
    base.trim_end_matches('/').to_owned()
}

/// Checks a base URL setting: absolute http(s), no query.
pub(crate) fn check_base_url(key: &str, value: &str) -> std::result::Result<(), String> {
    let url = url::Url::parse(value).map_err(|e| format!("{key} '{value}': {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.query().is_some() || url.host().is_none() {
        return Err(format!("{key} '{value}': an http(s) URL without query"));
    }
    Ok(())
}

/// Checks the settings every provider section shares, and its rules.
pub(crate) fn check_common(
    section: &str,
    client_id: &str,
    client_secret: &str,
    timeout_secs: u64,
    rules: &SignInRules,
) -> std::result::Result<(), String> {
    if client_id.trim().is_empty() {
        return Err(format!("[web.{section}] client_id must not be empty"));
    }
    if client_secret.trim().is_empty() {
        return Err(format!("[web.{section}] client_secret must not be empty"));
    }
    if !(1..=300).contains(&timeout_secs) {
        return Err(format!("[web.{section}] timeout_secs must be between 1 and 300"));
    }
    rules.validate().map_err(|e| format!("[web.{section}] {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_rfc_7636s() {
        // RFC 7636 appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_ne!(random_secret(), random_secret());
    }

    /// The web handlers need `Send` futures.
    #[allow(dead_code)]
    fn finishing_is_send(provider: &OAuthProvider, pending: PendingOAuth) {
        fn is_send<T: Send>(_: T) {}
        is_send(provider.finish(pending, "", ""));
    }

    #[test]
    fn link_headers_give_the_next_page() {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::LINK,
            "<https://api.github.com/user/teams?page=1>; rel=\"prev\", <https://api.github.com/user/teams?page=3>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            link_next(&headers).as_deref(),
            Some("https://api.github.com/user/teams?page=3")
        );
        headers.insert(
            reqwest::header::LINK,
            "<https://x/?page=1>; rel=\"first\"".parse().unwrap(),
        );
        assert_eq!(link_next(&headers), None);
    }

    #[test]
    fn kinds_round_trip_and_base_urls_are_checked() {
        for kind in [Kind::Github, Kind::Gitlab, Kind::Bitbucket] {
            assert_eq!(Kind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::from_name("oidc"), None);
        assert!(check_base_url("k", "https://gitlab.example.org/gitlab").is_ok());
        assert!(check_base_url("k", "ftp://x").is_err());
        assert!(check_base_url("k", "gitlab.example.org").is_err());
        assert_eq!(trim_base("https://x.org/"), "https://x.org");
    }
}
