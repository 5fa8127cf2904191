//! The token endpoint's logic, independent of HTTP: authenticate the caller, authorize every
//! requested scope action against the policy store, sign the token, and manage refresh tokens.

use std::sync::Arc;

use portus_core::access::{GrantedAccess, authorize_scopes, decide_scopes, wanted_namespaces};
use portus_core::account::check_usable;
use portus_core::kept_access::KeptAccess;
use portus_core::model::{NamespaceAccess, NamespaceRef, PasswordHash, TokenScope, User};
use portus_core::observe::LoginMethod;
use portus_core::policy::{Caller, PolicyConfig};
use portus_core::prelude::*;
use portus_core::scope::{Scope, parse_scopes};
use portus_core::traits::{AuthMethod, AuthOutcome, Authenticator, Secret};
use portus_core::{Error as CoreError, PolicyStore};
use tracing::{debug, info, warn};

use crate::cache::{CredentialCache, Proof};
use crate::password::{REFRESH_TOKEN_PREFIX, generate_secret, secret_digest};
use crate::token::{IssuedToken, TokenIssuer};
use crate::{Error, Result};

mod observed;

/// Settings of the token service.
#[derive(Debug, Clone)]
pub struct TokenServiceConfig {
    /// The registry's `auth.token.service`; requests for any other service are refused.
    pub service: String,
    /// Authorization settings.
    pub policy: PolicyConfig,
    /// Most scopes accepted in one request.
    pub max_scopes: usize,
    /// Account lockout after repeated failed logins.
    pub lockout: LockoutPolicy,
    /// How long a verified user name and secret skip the password check (zero: always check).
    /// Every hit is still checked against the store: see the `cache` module.
    pub credential_cache_ttl: std::time::Duration,
    /// Whether docker logins (`/v2/token`, `/v2/`) take passwords; `false`: application tokens
    /// only (`auth.password_docker_login`).
    pub password_docker_login: bool,
}

/// Account lockout: after `max_failures` consecutive failed logins (docker logins included) the
/// account refuses every login, even with the right password, for `lock_for`; then it unlocks
/// by itself. `max_failures == 0` turns lockout off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failed logins that lock the account.
    pub max_failures: u32,
    /// How long the account stays locked.
    pub lock_for: std::time::Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            max_failures: 10,
            lock_for: std::time::Duration::from_secs(15 * 60),
        }
    }
}

impl TokenServiceConfig {
    /// Defaults for `service`: default policy, at most 100 scopes per request.
    pub fn new(service: impl Into<String>) -> Self {
        TokenServiceConfig {
            service: service.into(),
            policy: PolicyConfig::default(),
            max_scopes: 100,
            lockout: LockoutPolicy::default(),
            credential_cache_ttl: std::time::Duration::from_secs(60),
            password_docker_login: true,
        }
    }
}

/// How the caller presented itself.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// No credentials.
    Anonymous,
    /// HTTP Basic or OAuth2 password grant.
    Password {
        /// User name.
        username: String,
        /// Password or application token.
        secret: Secret,
    },
}

/// A token request as the registry's clients send it (GET query or OAuth2 POST form).
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// `service` parameter; `None` means the configured service.
    pub service: Option<String>,
    /// Raw `scope` parameters; each may hold several space-separated scopes.
    pub scopes: Vec<String>,
    /// `account` parameter; must match the authenticated user when both are present.
    pub account: Option<String>,
    /// The caller's credentials.
    pub credentials: Credentials,
    /// Whether a refresh token is wanted (`offline_token=true`, `access_type=offline`).
    pub offline: bool,
}

/// The result of a successful token request.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    /// The signed access token.
    pub token: IssuedToken,
    /// What it grants.
    pub access: Vec<GrantedAccess>,
    /// A refresh token, when one was asked for (or exchanged).
    pub refresh_token: Option<Secret>,
}

/// Answers token requests: authenticate, authorize every action of every scope, sign.
pub struct TokenService {
    store: Arc<dyn PolicyStore>,
    authenticators: Vec<Arc<dyn Authenticator>>,
    issuer: TokenIssuer,
    config: TokenServiceConfig,
    cache: Option<CredentialCache>,
    /// The store's namespace role as repeated logins ask it: decorated with [`KeptAccess`]
    /// while verified credentials are cached, so a repeated login may skip the lookup while
    /// the store's change marker stands still.
    access: Arc<dyn NamespaceStore>,
    observer: portus_core::observe::ObserverSlot, // logins and lockouts are reported there
}

impl std::fmt::Debug for TokenService {
    // The issuer's key and the credential cache's contents stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("service", &self.config.service)
            .field("store", &self.store)
            .field("authenticators", &self.authenticators)
            .field("credential_cache", &self.cache.is_some())
            .finish_non_exhaustive()
    }
}

/// Most cached credentials (a few MiB at most).
const CREDENTIAL_CACHE_CAPACITY: usize = 50_000;

/// Most kept lookups of repeated logins (a few MiB at most).
const KEPT_ACCESS_CAPACITY: usize = 10_000;

/// The namespaces a request's scopes name and the caller's access to each, looked up ahead
/// of the decision.
type Prefetched<'s> = (Vec<NamespaceRef<'s>>, Vec<Option<NamespaceAccess>>);

/// Whether a cached password proof still holds for `user`: same password hash. Whether the
/// account may be used is [`check_usable`]'s to say, not the proof's.
fn password_proof_holds(user: &User, hash: &PasswordHash) -> bool {
    user.password_hash.as_ref() == Some(hash)
}

/// The one account-state rule ([`check_usable`]) as the credential paths answer it: a disabled
/// or locked account is refused exactly like wrong credentials; the reason goes to the log.
fn usable(user: &User, now: chrono::DateTime<chrono::Utc>, credential: &'static str) -> Result<()> {
    check_usable(user, now).map_err(|refusal| {
        info!(user = %user.username, credential, %refusal, "login refused");
        Error::InvalidCredentials
    })
}

/// Whether `user` has failed logins counted or a lock set (expired or not).
fn has_lockout_state(user: &User) -> bool {
    user.failed_logins > 0 || user.locked_until.is_some()
}

impl TokenService {
    /// A service over `store` that tries `authenticators` in order (the first that knows the
    /// user decides) and signs with `issuer`.
    pub fn new(
        store: Arc<dyn PolicyStore>,
        authenticators: Vec<Arc<dyn Authenticator>>,
        issuer: TokenIssuer,
        config: TokenServiceConfig,
    ) -> Self {
        let cache = CredentialCache::new(config.credential_cache_ttl, CREDENTIAL_CACHE_CAPACITY);
        // Lookups are kept no longer than verified credentials: with no credential cache,
        // repeated logins take the full path and never ask this role.
        let access: Arc<dyn NamespaceStore> = if config.credential_cache_ttl.is_zero() {
            store.clone()
        } else {
            Arc::new(KeptAccess::new(
                store.clone(),
                config.credential_cache_ttl,
                KEPT_ACCESS_CAPACITY,
            ))
        };
        TokenService {
            store,
            authenticators,
            issuer,
            config,
            cache,
            access,
            observer: Default::default(),
        }
    }

    /// The configured service name.
    pub fn service(&self) -> &str {
        &self.config.service
    }

    /// The token issuer.
    pub fn issuer(&self) -> &TokenIssuer {
        &self.issuer
    }

    /// The policy store.
    pub fn store(&self) -> &Arc<dyn PolicyStore> {
        &self.store
    }

    async fn authenticate_unobserved(&self, username: &str, secret: &Secret) -> Result<(User, AuthMethod)> {
        let outcome = self.check_credentials(username, secret).await?;
        // The account's state is decided after the credentials were checked, so a disabled or
        // locked account costs the same time as any other and its state cannot be probed by
        // timing.
        let now = portus_core::model::now();
        match outcome {
            Some((user, method)) => {
                usable(&user, now, "password or application token")?;
                if has_lockout_state(&user) {
                    self.store.set_user_lock(user.id, None).await?;
                }
                Ok((user, method))
            }
            None => {
                self.count_failure(username, now).await?;
                Err(Error::InvalidCredentials)
            }
        }
    }

    /// Counts a failed login of a known user and locks the account at the threshold.
    async fn count_failure(&self, username: &str, now: chrono::DateTime<chrono::Utc>) -> Result<()> {
        let lockout = self.config.lockout;
        if lockout.max_failures == 0 {
            return Ok(());
        }
        let Some(user) = self.store.user_by_name(username).await? else {
            return Ok(());
        };
        if user.is_locked(now) {
            return Ok(());
        }
        if user.locked_until.is_some() {
            // The lock expired: counting starts over, as if an administrator had unlocked it.
            self.store.set_user_lock(user.id, None).await?;
        }
        let failures = self.store.record_login_failure(user.id).await?;
        if failures >= lockout.max_failures {
            let until = now + chrono::Duration::from_std(lockout.lock_for).unwrap_or(chrono::Duration::minutes(15));
            self.store.set_user_lock(user.id, Some(until)).await?;
            warn!(user = username, failures, %until, "account locked after repeated failed logins");
            self.observer().account_locked();
        }
        Ok(())
    }

    /// Runs the authenticators (or finds a still-valid earlier verification); `Some` for valid
    /// credentials of a user in the store, whatever the account's state.
    async fn check_credentials(&self, username: &str, secret: &Secret) -> Result<Option<(User, AuthMethod)>> {
        if let Some(cache) = &self.cache
            && let Some(proof) = cache.get(username, secret)
        {
            if let Some(user) = self.cached_proof_holds(username, &proof).await? {
                return Ok(Some((user, proof.method())));
            }
            cache.remove(username, secret);
        }
        let verified = self.run_authenticators(username, secret).await?;
        if let (Some(cache), Some((user, method))) = (&self.cache, &verified)
            && let Some(proof) = Proof::of(method, user.password_hash.as_ref())
        {
            cache.insert(username, secret, proof);
        }
        Ok(verified)
    }

    /// The user, when what a cached verification proved still holds in the store: same
    /// password hash, application token not revoked (and still theirs).
    async fn cached_proof_holds(&self, username: &str, proof: &Proof) -> Result<Option<User>> {
        let Some(user) = self.store.user_by_name(username).await? else {
            return Ok(None);
        };
        let holds = match proof {
            Proof::Password(hash) => password_proof_holds(&user, hash),
            Proof::AppToken(id) => {
                let now = portus_core::model::now();
                let tokens = self.store.list_app_tokens(user.id).await?;
                tokens.iter().any(|t| t.id == *id && !t.limits.expired(now))
            }
        };
        Ok(holds.then_some(user))
    }

    async fn run_authenticators(&self, username: &str, secret: &Secret) -> Result<Option<(User, AuthMethod)>> {
        for authenticator in &self.authenticators {
            match authenticator.authenticate(username, secret).await? {
                AuthOutcome::Authenticated(identity) => {
                    let user = self.store.user_by_name(&identity.username).await?;
                    return Ok(match user {
                        Some(user) => Some((user, identity.method)),
                        None => {
                            info!(
                                user = username,
                                authenticator = authenticator.name(),
                                "login refused: no such user in the store"
                            );
                            None
                        }
                    });
                }
                AuthOutcome::InvalidCredentials => {
                    // In the log only: the answer is the same for a wrong password and an
                    // unknown user, so nobody learns which names exist.
                    info!(
                        user = username,
                        authenticator = authenticator.name(),
                        reason = "wrong password or application token",
                        "login refused"
                    );
                    return Ok(None);
                }
                AuthOutcome::UnknownUser => continue,
            }
        }
        info!(user = username, reason = "no such user", "login refused");
        Ok(None)
    }

    async fn authenticate_app_token_unobserved(&self, secret: &Secret) -> Result<User> {
        let token = self
            .store
            .app_token_by_hash(&secret_digest(secret))
            .await?
            .ok_or(Error::InvalidCredentials)?;
        crate::token_limits::usable_on_the_api(&token)?;
        let user = self
            .store
            .user_by_id(token.user_id)
            .await?
            .ok_or(Error::InvalidCredentials)?;
        usable(&user, portus_core::model::now(), "application token")?;
        Ok(user)
    }

    /// The usable user `username` whose application token `secret` is (Portus' `Portus-Auth:
    /// <user>:<token>`): found by digest, or among the user's imported Portus token hashes.
    /// Anything else gives [`Error::InvalidCredentials`].
    pub async fn authenticate_user_app_token(&self, username: &str, secret: &Secret) -> Result<User> {
        if let Some(token) = self.store.app_token_by_hash(&secret_digest(secret)).await? {
            crate::token_limits::usable_on_the_api(&token)?;
            let user = self
                .store
                .user_by_id(token.user_id)
                .await?
                .filter(|u| u.username == username)
                .ok_or(Error::InvalidCredentials)?;
            usable(&user, portus_core::model::now(), "application token")?;
            return Ok(user);
        }
        let user = self
            .store
            .user_by_name(username)
            .await?
            .ok_or(Error::InvalidCredentials)?;
        crate::password::verify_legacy_app_token(&*self.store, &user, secret)
            .await?
            .ok_or(Error::InvalidCredentials)?;
        usable(&user, portus_core::model::now(), "application token")?;
        Ok(user)
    }

    /// The account lockout settings.
    pub fn lockout(&self) -> LockoutPolicy {
        self.config.lockout
    }

    /// The settings.
    pub(crate) fn config(&self) -> &TokenServiceConfig {
        &self.config
    }

    /// The authorization settings.
    pub fn policy(&self) -> &PolicyConfig {
        &self.config.policy
    }

    /// Answers a token request (GET /v2/token or the OAuth2 password grant).
    pub async fn issue(&self, request: TokenRequest) -> Result<TokenGrant> {
        self.check_service(request.service.as_deref())?;
        let scopes = self.parse_scopes(&request.scopes)?;
        let (user, method, prefetched) = match &request.credentials {
            Credentials::Anonymous => {
                self.observer().login(LoginMethod::Anonymous, true);
                (None, None, None)
            }
            Credentials::Password { username, secret } => match self.repeated_login(username, secret, &scopes).await? {
                Some((user, prefetched)) => {
                    self.observer().login(LoginMethod::Password, true);
                    (Some(user), Some(AuthMethod::Password), Some(prefetched))
                }
                None => {
                    let (user, method) = self.authenticate(username, secret).await?;
                    (Some(user), Some(method), None)
                }
            },
        };
        let mut scope = None;
        if let (Some(user), Some(method)) = (&user, &method) {
            self.check_docker_login_method(user, method)?;
            if let AuthMethod::AppToken(id) = method {
                scope = self.limits_of_app_token(user, *id).await?.scope;
            }
        }
        if let (Some(account), Some(user)) = (request.account.as_deref(), user.as_ref())
            && !account.is_empty()
            && account != user.username
        {
            return Err(Error::InvalidRequest(format!(
                "account '{account}' does not match the authenticated user"
            )));
        }
        let refresh_token = match (&user, request.offline) {
            (Some(user), true) => {
                let app_token = match method {
                    Some(AuthMethod::AppToken(id)) => Some(id),
                    _ => None,
                };
                let secret = generate_secret(REFRESH_TOKEN_PREFIX)?;
                self.store
                    .create_refresh_token(user.id, &self.config.service, app_token, &secret.digest)
                    .await?;
                Some(secret.plain)
            }
            _ => None,
        };
        self.grant(user.as_ref(), &scopes, scope.as_ref(), refresh_token, prefetched)
            .await
    }

    /// A repeated password login the credential cache vouches for, answered with one store
    /// lookup for the user and the namespaces the scopes name (instead of one for the user,
    /// then one for the namespaces), or with none while the store's change marker shows that
    /// nothing was committed since the same lookup was made (the [`KeptAccess`] decorator of
    /// `self.access`). Only the case where [`authenticate`](Self::authenticate)
    /// would succeed without side effects is served here: the cached password hash is still
    /// the user's, the account is usable ([`check_usable`]) and has no failed logins counted. Anything
    /// else (`None`) takes the full path, which decides, refuses and counts.
    async fn repeated_login<'s>(
        &self,
        username: &str,
        secret: &Secret,
        scopes: &'s [Scope],
    ) -> Result<Option<(User, Prefetched<'s>)>> {
        let Some(cache) = &self.cache else {
            return Ok(None);
        };
        let Some(Proof::Password(hash)) = cache.get(username, secret) else {
            return Ok(None);
        };
        let wanted = wanted_namespaces(scopes);
        let Some((user, access)) = self.access.user_and_namespaces_access(username, &wanted).await? else {
            return Ok(None);
        };
        let clean = password_proof_holds(&user, &hash)
            && check_usable(&user, portus_core::model::now()).is_ok()
            && !has_lockout_state(&user);
        Ok(clean.then_some((user, (wanted, access))))
    }

    /// Exchanges a refresh token (OAuth2 `grant_type=refresh_token`) for an access token. The
    /// same refresh token is returned, as the distribution OAuth2 specification says.
    pub async fn refresh(
        &self,
        refresh_token: &Secret,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<TokenGrant> {
        self.check_service(service)?;
        let scopes = self.parse_scopes(scopes)?;
        let stored = self
            .store
            .refresh_token_by_hash(&secret_digest(refresh_token))
            .await?
            .filter(|t| t.service == self.config.service)
            .ok_or(Error::InvalidRefreshToken)?;
        let user = self
            .store
            .user_by_id(stored.user_id)
            .await?
            .ok_or(Error::InvalidRefreshToken)?;
        // Refused like an unknown refresh token: the caller cannot tell the account's state.
        usable(&user, portus_core::model::now(), "refresh token").map_err(|_| Error::InvalidRefreshToken)?;
        // Obtained with an application token: that token's expiry and scope hold for it too.
        let scope = match stored.app_token_id {
            Some(id) => {
                self.limits_of_app_token(&user, id)
                    .await
                    .map_err(|_| Error::InvalidRefreshToken)?
                    .scope
            }
            None => None,
        };
        self.grant(Some(&user), &scopes, scope.as_ref(), Some(refresh_token.clone()), None)
            .await
    }

    /// Signs a token for what policy grants `user` of `scopes`, cut down to the application
    /// token's `scope` if it has one; `prefetched` is the user's access to the scopes'
    /// namespaces when it was already looked up.
    async fn grant(
        &self,
        user: Option<&User>,
        scopes: &[Scope],
        scope: Option<&TokenScope>,
        refresh_token: Option<Secret>,
        prefetched: Option<Prefetched<'_>>,
    ) -> Result<TokenGrant> {
        let caller = match user {
            Some(u) => Caller::User {
                id: u.id,
                admin: u.admin,
            },
            None => Caller::Anonymous,
        };
        let access = match prefetched {
            Some((wanted, found)) => decide_scopes(caller, scopes, &wanted, found, &self.config.policy),
            None => authorize_scopes(self.store.as_ref(), caller, scopes, &self.config.policy).await?,
        };
        let access = match scope {
            Some(scope) => scope.restrict(access),
            None => access,
        };
        let subject = user.map(|u| u.username.as_str()).unwrap_or("");
        let token = self.issuer.issue(subject, &self.config.service, &access)?;
        debug!(
            subject,
            requested = scopes.len(),
            granted = access.len(),
            "token issued"
        );
        Ok(TokenGrant {
            token,
            access,
            refresh_token,
        })
    }

    /// Signs a token granting exactly `scopes` to `subject`, without any policy check. Only
    /// for portus' own requests to the registry (catalog sync, tag deletion); never exposed
    /// over HTTP.
    pub fn service_account_token(&self, subject: &str, scopes: &[String]) -> Result<String> {
        let access: Vec<GrantedAccess> = self
            .parse_scopes(scopes)?
            .into_iter()
            .map(|s| GrantedAccess {
                resource_type: s.resource_type,
                name: s.name,
                actions: s.actions,
            })
            .collect();
        Ok(self.issuer.issue(subject, &self.config.service, &access)?.token)
    }

    fn check_service(&self, service: Option<&str>) -> Result<()> {
        match service {
            None => Ok(()),
            Some(s) if s == self.config.service => Ok(()),
            Some(other) => Err(Error::InvalidRequest(format!(
                "unknown service '{other}': this token server serves '{}'",
                self.config.service
            ))),
        }
    }

    fn parse_scopes(&self, raw: &[String]) -> Result<Vec<Scope>> {
        let mut scopes = Vec::new();
        for param in raw {
            scopes.extend(parse_scopes(param).map_err(CoreError::from)?);
            if scopes.len() > self.config.max_scopes {
                return Err(Error::InvalidRequest(format!(
                    "too many scopes: at most {} per request",
                    self.config.max_scopes
                )));
            }
        }
        Ok(scopes)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use portus_core::InMemoryStore;
    use portus_core::model::NewUser;

    use super::*;
    use crate::LocalAuthenticator;
    use crate::password::hash_password;
    use crate::token::SigningKey;

    fn issuer() -> TokenIssuer {
        let key = SigningKey::from_pem(include_str!("../testdata/ec-pkcs8.key")).unwrap();
        TokenIssuer::new(key, "portus.test", Duration::from_secs(300), false).unwrap()
    }

    fn service(store: Arc<dyn PolicyStore>) -> TokenService {
        let local: Arc<dyn Authenticator> = Arc::new(LocalAuthenticator::new(store.clone(), 4).unwrap());
        TokenService::new(store, vec![local], issuer(), TokenServiceConfig::new("registry.local"))
    }

    async fn store_with_alice() -> Arc<InMemoryStore> {
        let store = Arc::new(InMemoryStore::new());
        user_with_password(store.as_ref(), "alice", Some("alicepass")).await;
        store
    }

    /// Creates user `name` with `password` (none: application tokens only).
    async fn user_with_password(
        store: &dyn PolicyStore,
        name: &str,
        password: Option<&str>,
    ) -> portus_core::model::User {
        let password_hash = match password {
            Some(password) => Some(hash_password(&Secret::new(password), 4).await.unwrap()),
            None => None,
        };
        store
            .create_user(NewUser {
                username: name.into(),
                password_hash,
                ..NewUser::default()
            })
            .await
            .unwrap()
    }

    fn request(credentials: Credentials, scopes: &[&str]) -> TokenRequest {
        TokenRequest {
            service: Some("registry.local".into()),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            account: None,
            credentials,
            offline: false,
        }
    }

    fn alice(password: &str) -> Credentials {
        Credentials::Password {
            username: "alice".into(),
            secret: Secret::new(password),
        }
    }

    #[tokio::test]
    async fn grants_only_what_policy_allows_per_action() {
        let svc = service(store_with_alice().await);
        let grant = svc
            .issue(request(
                alice("alicepass"),
                &["repository:alice/app:pull,push", "repository:bob/app:*,push,pull"],
            ))
            .await
            .unwrap();
        assert_eq!(
            grant.access.len(),
            1,
            "nothing on a namespace that does not exist: {:?}",
            grant.access
        );
        assert_eq!(grant.access[0].actions, ["pull", "push"]);
    }

    /// Counts how often the wrapped authenticator really checks credentials. Kept rather than
    /// `portus_core::StaticAuthenticator`: the test changes the password and revokes tokens in
    /// the store, so the authenticator it counts must be the real store-backed one.
    #[derive(Debug)]
    struct Counting {
        inner: Arc<dyn Authenticator>,
        calls: std::sync::atomic::AtomicUsize,
    }

    #[async_trait::async_trait]
    impl Authenticator for Counting {
        fn name(&self) -> &str {
            "counting"
        }
        async fn authenticate(&self, username: &str, secret: &Secret) -> portus_core::Result<AuthOutcome> {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.inner.authenticate(username, secret).await
        }
    }

    #[tokio::test]
    async fn verified_credentials_are_cached_but_every_change_takes_effect_at_once() {
        let store = store_with_alice().await;
        let counting = Arc::new(Counting {
            inner: Arc::new(LocalAuthenticator::new(store.clone(), 4).unwrap()),
            calls: Default::default(),
        });
        let calls = || counting.calls.load(std::sync::atomic::Ordering::SeqCst);
        let svc = TokenService::new(
            store.clone(),
            vec![counting.clone()],
            issuer(),
            TokenServiceConfig::new("registry.local"),
        );
        let alice_id = store.user_by_name("alice").await.unwrap().unwrap().id;
        for _ in 0..3 {
            svc.issue(request(alice("alicepass"), &[])).await.unwrap();
        }
        assert_eq!(calls(), 1, "verified once, then served from the cache");
        assert!(svc.issue(request(alice("wrong"), &[])).await.is_err());
        assert_eq!(calls(), 2, "failures are never cached");

        // Disabled: refused at once, although the credentials are cached.
        store.set_user_enabled(alice_id, false).await.unwrap();
        assert!(matches!(
            svc.issue(request(alice("alicepass"), &[])).await,
            Err(Error::InvalidCredentials)
        ));
        store.set_user_enabled(alice_id, true).await.unwrap();
        svc.issue(request(alice("alicepass"), &[])).await.unwrap();

        // Locked: refused at once.
        let until = portus_core::model::now() + chrono::Duration::minutes(5);
        store.set_user_lock(alice_id, Some(until)).await.unwrap();
        assert!(svc.issue(request(alice("alicepass"), &[])).await.is_err());
        store.set_user_lock(alice_id, None).await.unwrap();

        // A new password: the old one stops working at once, the new one is verified.
        let new_hash = hash_password(&Secret::new("newpass-123"), 4).await.unwrap();
        store.set_password_hash(alice_id, Some(new_hash)).await.unwrap();
        let before = calls();
        assert!(svc.issue(request(alice("alicepass"), &[])).await.is_err());
        assert_eq!(calls(), before + 1, "the cached proof no longer holds: checked again");
        svc.issue(request(alice("newpass-123"), &[])).await.unwrap();

        // An application token: revoked means refused at once.
        let token = generate_secret(crate::password::APP_TOKEN_PREFIX).unwrap();
        let created = store
            .create_app_token(alice_id, "ci", &token.digest, &Default::default())
            .await
            .unwrap();
        let with_token = || Credentials::Password {
            username: "alice".into(),
            secret: token.plain.clone(),
        };
        svc.issue(request(with_token(), &[])).await.unwrap();
        svc.issue(request(with_token(), &[])).await.unwrap();
        store.revoke_app_token(created.id).await.unwrap();
        assert!(svc.issue(request(with_token(), &[])).await.is_err());
    }

    #[tokio::test]
    async fn a_repeated_login_is_decided_like_the_first() {
        let store = store_with_alice().await;
        let svc = service(store.clone());
        let scopes = [
            "repository:alice/app:pull,push",
            "repository:bob/app:*,push,pull",
            "repository:library:pull",
            "repository:alice/other:delete,pull",
        ];
        let first = svc.issue(request(alice("alicepass"), &scopes)).await.unwrap();
        assert!(!first.access.is_empty());
        let repeated = svc.issue(request(alice("alicepass"), &scopes)).await.unwrap();
        assert_eq!(repeated.access, first.access, "served from the cache, decided the same");
        let named_only = &scopes[..2];
        let first_named = svc.issue(request(alice("alicepass"), named_only)).await.unwrap();
        let repeated_named = svc.issue(request(alice("alicepass"), named_only)).await.unwrap();
        assert_eq!(repeated_named.access, first_named.access);
        // A failure counted meanwhile: the next login takes the full path, which clears it.
        let alice_id = store.user_by_name("alice").await.unwrap().unwrap().id;
        store.record_login_failure(alice_id).await.unwrap();
        let after = svc.issue(request(alice("alicepass"), named_only)).await.unwrap();
        assert_eq!(after.access, first_named.access);
        assert_eq!(store.user_by_id(alice_id).await.unwrap().unwrap().failed_logins, 0);
        // A wrong password is never served from the cache of the right one.
        assert!(svc.issue(request(alice("wrong"), named_only)).await.is_err());
    }

    /// A repeated login may reuse what it read while SQLite's change marker stands still; a
    /// commit by anyone (here another pool on the same file, as the CLI would be) ends that.
    #[tokio::test]
    async fn kept_lookups_end_with_any_commit_even_of_another_process() {
        use portus_core::model::{NewNamespace, Role, Visibility};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portus.db");
        let store = Arc::new(portus_core::store::SqliteStore::open(&path).await.unwrap());
        let alice_user = user_with_password(store.as_ref(), "alice", Some("alicepass")).await;
        let bob = user_with_password(store.as_ref(), "bob", None).await;
        let team = store.create_team("devs", bob.id, None).await.unwrap();
        store
            .set_team_member(team.id, alice_user.id, Role::Contributor)
            .await
            .unwrap();
        store
            .create_namespace(NewNamespace {
                name: "devs".into(),
                team_id: team.id,
                visibility: Visibility::Private,
                description: None,
            })
            .await
            .unwrap();
        let svc = service(store.clone());
        let scopes = ["repository:devs/app:pull,push"];
        let actions = |grant: &TokenGrant| grant.access.first().map(|a| a.actions.clone()).unwrap_or_default();
        for _ in 0..3 {
            let grant = svc.issue(request(alice("alicepass"), &scopes)).await.unwrap();
            assert_eq!(actions(&grant), ["pull", "push"]);
        }
        assert!(store.change_marker().is_some(), "the kept path is in use");

        let other = portus_core::store::SqliteStore::open(&path).await.unwrap();
        other
            .set_team_member(team.id, alice_user.id, Role::Viewer)
            .await
            .unwrap();
        let grant = svc.issue(request(alice("alicepass"), &scopes)).await.unwrap();
        assert_eq!(actions(&grant), ["pull"], "a role changed elsewhere counts at once");

        other.set_user_enabled(alice_user.id, false).await.unwrap();
        assert!(
            matches!(
                svc.issue(request(alice("alicepass"), &scopes)).await,
                Err(Error::InvalidCredentials)
            ),
            "disabled elsewhere: refused at once"
        );
        other.set_user_enabled(alice_user.id, true).await.unwrap();
        assert_eq!(
            actions(&svc.issue(request(alice("alicepass"), &scopes)).await.unwrap()),
            ["pull"]
        );

        let new_hash = hash_password(&Secret::new("newpass-123"), 4).await.unwrap();
        other.set_password_hash(alice_user.id, Some(new_hash)).await.unwrap();
        assert!(
            svc.issue(request(alice("alicepass"), &scopes)).await.is_err(),
            "the old password stops at once"
        );
    }

    #[tokio::test]
    async fn repeated_failures_lock_the_account_then_it_unlocks() {
        let store = store_with_alice().await;
        let local: Arc<dyn Authenticator> = Arc::new(LocalAuthenticator::new(store.clone(), 4).unwrap());
        let mut config = TokenServiceConfig::new("registry.local");
        config.lockout = LockoutPolicy {
            max_failures: 3,
            lock_for: Duration::from_secs(600),
        };
        let svc = TokenService::new(store.clone(), vec![local], issuer(), config);
        // Two failures, then a success: the count starts over.
        for _ in 0..2 {
            assert!(svc.issue(request(alice("wrong"), &[])).await.is_err());
        }
        svc.issue(request(alice("alicepass"), &[])).await.unwrap();
        let alice_id = store.user_by_name("alice").await.unwrap().unwrap().id;
        assert_eq!(store.user_by_id(alice_id).await.unwrap().unwrap().failed_logins, 0);
        // Three failures in a row lock it: now even the right password is refused.
        for _ in 0..3 {
            assert!(svc.issue(request(alice("wrong"), &[])).await.is_err());
        }
        let locked = store.user_by_id(alice_id).await.unwrap().unwrap();
        assert!(locked.is_locked(portus_core::model::now()), "{locked:?}");
        assert!(matches!(
            svc.issue(request(alice("alicepass"), &[])).await,
            Err(Error::InvalidCredentials)
        ));
        // Unknown users are not counted anywhere (and cannot be locked).
        let nobody = Credentials::Password {
            username: "nobody".into(),
            secret: Secret::new("x"),
        };
        assert!(svc.issue(request(nobody, &[])).await.is_err());
        // When the lock has expired the right password works again and clears the count.
        let past = portus_core::model::now() - chrono::Duration::seconds(1);
        store.set_user_lock(alice_id, Some(past)).await.unwrap();
        svc.issue(request(alice("alicepass"), &[])).await.unwrap();
        let unlocked = store.user_by_id(alice_id).await.unwrap().unwrap();
        assert_eq!((unlocked.failed_logins, unlocked.locked_until), (0, None));
    }

    #[tokio::test]
    async fn sub_is_the_authenticated_user_and_account_must_match() {
        let svc = service(store_with_alice().await);
        let mut req = request(alice("alicepass"), &[]);
        req.account = Some("mallory".into());
        let err = svc.issue(req).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidRequest(ref m) if m.contains("does not match")),
            "{err}"
        );
        let mut req = request(Credentials::Anonymous, &["repository:alice/app:pull"]);
        req.account = Some("alice".into());
        let grant = svc.issue(req).await.unwrap();
        assert!(
            grant.access.is_empty(),
            "an anonymous caller naming an account gets nothing of it"
        );
    }

    #[tokio::test]
    async fn bad_credentials_disabled_users_and_bad_requests() {
        let store = store_with_alice().await;
        let svc = service(store.clone());
        assert!(matches!(
            svc.issue(request(alice("nope"), &[])).await,
            Err(Error::InvalidCredentials)
        ));
        let bob = Credentials::Password {
            username: "bob".into(),
            secret: Secret::new("x"),
        };
        assert!(matches!(
            svc.issue(request(bob, &[])).await,
            Err(Error::InvalidCredentials)
        ));
        let mut other = request(alice("alicepass"), &[]);
        other.service = Some("elsewhere".into());
        assert!(matches!(svc.issue(other).await, Err(Error::InvalidRequest(m)) if m.contains("unknown service")));
        let bad_scope = svc
            .issue(request(alice("alicepass"), &["repository:Bad:pull"]))
            .await
            .unwrap_err();
        assert!(bad_scope.to_string().contains("invalid resource name"), "{bad_scope}");
        let many: Vec<String> = (0..101).map(|i| format!("repository:a/r{i}:pull")).collect();
        let many_refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let err = svc
            .issue(request(Credentials::Anonymous, &many_refs))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("too many scopes"), "{err}");
        let user = store.user_by_name("alice").await.unwrap().unwrap();
        store.set_user_enabled(user.id, false).await.unwrap();
        assert!(matches!(
            svc.issue(request(alice("alicepass"), &[])).await,
            Err(Error::InvalidCredentials)
        ));
    }

    #[tokio::test]
    async fn refresh_tokens_are_bound_and_revocable() {
        let store = store_with_alice().await;
        let svc = service(store.clone());
        let mut req = request(alice("alicepass"), &[]);
        req.offline = true;
        let refresh = svc.issue(req).await.unwrap().refresh_token.expect("refresh token");
        let grant = svc
            .refresh(&refresh, Some("registry.local"), &["repository:alice/app:push".into()])
            .await
            .unwrap();
        assert_eq!(grant.access[0].actions, ["push"]);
        assert_eq!(grant.refresh_token.as_ref(), Some(&refresh));
        assert!(matches!(
            svc.refresh(&Secret::new("prt_forged"), None, &[]).await,
            Err(Error::InvalidRefreshToken)
        ));
        let user = store.user_by_name("alice").await.unwrap().unwrap();
        store.set_user_enabled(user.id, false).await.unwrap();
        assert!(matches!(
            svc.refresh(&refresh, None, &[]).await,
            Err(Error::InvalidRefreshToken)
        ));
        store.set_user_enabled(user.id, true).await.unwrap();
        store.revoke_refresh_tokens(user.id).await.unwrap();
        assert!(matches!(
            svc.refresh(&refresh, None, &[]).await,
            Err(Error::InvalidRefreshToken)
        ));
    }

    /// Locks alice the way the issue describes: `max_failures` wrong passwords in a row.
    async fn lock_by_failed_logins(svc: &TokenService, store: &InMemoryStore) -> portus_core::model::UserId {
        for _ in 0..svc.lockout().max_failures {
            assert!(svc.issue(request(alice("wrong"), &[])).await.is_err());
        }
        let user = store.user_by_name("alice").await.unwrap().unwrap();
        assert!(user.is_locked(portus_core::model::now()), "{user:?}");
        user.id
    }

    #[tokio::test]
    async fn a_refresh_token_issued_before_a_lock_gets_nothing_while_locked() {
        let store = store_with_alice().await;
        let svc = service(store.clone());
        let mut req = request(alice("alicepass"), &[]);
        req.offline = true;
        let refresh = svc.issue(req).await.unwrap().refresh_token.expect("refresh token");
        let scopes = ["repository:alice/app:pull".to_owned()];
        svc.refresh(&refresh, None, &scopes).await.unwrap();

        let alice_id = lock_by_failed_logins(&svc, &store).await;
        let refused = svc.refresh(&refresh, None, &scopes).await;
        assert!(
            matches!(refused, Err(Error::InvalidRefreshToken)),
            "refused exactly like a forged refresh token: {refused:?}"
        );
        // The refusal is the account's state, nothing else: unlocked, the token works again.
        store.set_user_lock(alice_id, None).await.unwrap();
        svc.refresh(&refresh, None, &scopes).await.unwrap();
    }

    /// alice with an application token `ci`, and a service over her store.
    async fn alice_with_app_token() -> (
        Arc<InMemoryStore>,
        TokenService,
        portus_core::model::UserId,
        crate::password::GeneratedSecret,
    ) {
        let store = store_with_alice().await;
        let svc = service(store.clone());
        let alice_id = store.user_by_name("alice").await.unwrap().unwrap().id;
        let token = generate_secret(crate::password::APP_TOKEN_PREFIX).unwrap();
        store
            .create_app_token(alice_id, "ci", &token.digest, &Default::default())
            .await
            .unwrap();
        (store, svc, alice_id, token)
    }

    #[tokio::test]
    async fn an_application_token_of_a_locked_user_gets_nothing() {
        let (store, svc, alice_id, token) = alice_with_app_token().await;
        let as_password = || alice(token.plain.expose());
        svc.issue(request(as_password(), &[])).await.unwrap();
        svc.authenticate_app_token(&token.plain).await.unwrap();

        lock_by_failed_logins(&svc, &store).await;
        assert!(
            matches!(
                svc.issue(request(as_password(), &[])).await,
                Err(Error::InvalidCredentials)
            ),
            "as docker password"
        );
        assert!(
            matches!(
                svc.authenticate_app_token(&token.plain).await,
                Err(Error::InvalidCredentials)
            ),
            "as API credential"
        );
        store.set_user_lock(alice_id, None).await.unwrap();
        svc.issue(request(as_password(), &[])).await.unwrap();
        svc.authenticate_app_token(&token.plain).await.unwrap();
    }

    #[tokio::test]
    async fn an_application_token_of_a_disabled_user_gets_nothing() {
        let (store, svc, alice_id, token) = alice_with_app_token().await;
        let as_password = || alice(token.plain.expose());
        svc.issue(request(as_password(), &[])).await.unwrap();
        store.set_user_enabled(alice_id, false).await.unwrap();
        assert!(matches!(
            svc.issue(request(as_password(), &[])).await,
            Err(Error::InvalidCredentials)
        ));
        assert!(matches!(
            svc.authenticate_app_token(&token.plain).await,
            Err(Error::InvalidCredentials)
        ));
        // Refused without counting a failure: the secret was right, the account is not usable.
        assert_eq!(store.user_by_id(alice_id).await.unwrap().unwrap().failed_logins, 0);
    }

    #[tokio::test]
    async fn service_account_tokens_grant_exactly_what_is_asked() {
        let svc = service(Arc::new(InMemoryStore::new()));
        let token = svc
            .service_account_token("portus", &["registry:catalog:*".into()])
            .unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&data_encoding::BASE64URL_NOPAD.decode(payload.as_bytes()).unwrap()).unwrap();
        assert_eq!(claims["sub"], "portus");
        assert_eq!(
            claims["access"],
            serde_json::json!([{"type": "registry", "name": "catalog", "actions": ["*"]}])
        );
        assert!(svc.service_account_token("portus", &["bad scope".into()]).is_err());
    }

    /// A real SQLite store whose connections are closed: every lookup fails as unavailable.
    async fn unavailable_store() -> Arc<dyn PolicyStore> {
        let store = portus_core::store::SqliteStore::connect("sqlite::memory:")
            .await
            .unwrap();
        store.pool().close().await;
        Arc::new(store)
    }

    #[tokio::test]
    async fn store_failure_never_yields_a_token() {
        let svc = service(unavailable_store().await);
        let err = svc
            .issue(request(Credentials::Anonymous, &["repository:public/app:pull"]))
            .await
            .unwrap_err();
        assert!(err.is_temporary(), "{err}");
    }

    #[tokio::test]
    async fn authenticator_failure_is_reported_not_skipped() {
        let svc = service(unavailable_store().await);
        let err = svc.issue(request(alice("pat_whatever"), &[])).await.unwrap_err();
        assert!(err.is_temporary(), "{err}");
    }
}
