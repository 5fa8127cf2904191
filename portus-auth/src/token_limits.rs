//! Application tokens with limits at the token server: an expired token signs nobody in, a
//! scoped one gets the intersection of its owner's rights and its scope, and neither reaches the
//! REST API or the web pages beyond what it may (see [`TokenLimits::is_limited`]).

use portus_core::model::{AppToken, AppTokenId, TokenLimits, User};
use portus_core::prelude::*;
use portus_core::traits::{AuthMethod, Secret};
use tracing::info;

use crate::service::TokenService;
use crate::{Error, Result};

/// A token's last use is written at most this often, so repeated docker logins with one token
/// do not each cost a write.
const LAST_USE_PRECISION: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Whether `token` may still sign in at `now`; logs why not.
pub(crate) fn token_usable(token: &AppToken, now: chrono::DateTime<chrono::Utc>) -> bool {
    let expired = token.limits.expired(now);
    if expired {
        info!(token = %token.label, reason = "expired application token", "login refused");
    }
    !expired
}

impl TokenService {
    /// The limits of `user`'s application token `id`, as it signs in now: `InvalidCredentials`
    /// when it was revoked or has expired meanwhile. Records its use.
    pub(crate) async fn limits_of_app_token(&self, user: &User, id: AppTokenId) -> Result<TokenLimits> {
        let now = portus_core::model::now();
        let token = self
            .store()
            .list_app_tokens(user.id)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or(Error::InvalidCredentials)?;
        if !token_usable(&token, now) {
            return Err(Error::InvalidCredentials);
        }
        if token.last_used_at.is_none_or(|at| now - at >= LAST_USE_PRECISION) {
            self.store().touch_app_token(id, now).await?;
        }
        Ok(token.limits)
    }

    /// Refuses a password (local or directory) where `auth.password_docker_login` is off (what
    /// `/v2/token` and `/v2/` ask after authenticating): the
    /// registry then takes application tokens only. Answered as wrong credentials, so the
    /// refusal does not tell whether the password was right.
    pub fn check_docker_login_method(&self, user: &User, method: &AuthMethod) -> Result<()> {
        if self.config().password_docker_login || matches!(method, AuthMethod::AppToken(_)) {
            return Ok(());
        }
        info!(user = %user.username, reason = "passwords are turned off for docker logins", "login refused");
        Err(Error::InvalidCredentials)
    }

    /// [`authenticate`](Self::authenticate) for a web session: a token with a scope is refused
    /// (a session acts with the owner's full rights), as wrong credentials are.
    pub async fn authenticate_for_session(&self, username: &str, secret: &Secret) -> Result<User> {
        let (user, method) = self.authenticate(username, secret).await?;
        if let AuthMethod::AppToken(id) = method
            && self.limits_of_app_token(&user, id).await?.is_limited()
        {
            info!(user = %user.username, reason = "a scoped application token opens no session", "login refused");
            return Err(Error::InvalidCredentials);
        }
        Ok(user)
    }
}

/// Whether a token found for the REST API may act there: not expired, not scoped.
pub(crate) fn usable_on_the_api(token: &AppToken) -> Result<()> {
    if !token_usable(token, portus_core::model::now()) {
        return Err(Error::InvalidCredentials);
    }
    if token.limits.is_limited() {
        info!(token = %token.label, reason = "a scoped application token reaches the registry only", "API call refused");
        return Err(Error::InvalidCredentials);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use portus_core::InMemoryStore;
    use portus_core::model::{NewNamespace, NewUser, TokenScope, Visibility};
    use portus_core::traits::Authenticator;

    use super::*;
    use crate::LocalAuthenticator;
    use crate::password::{APP_TOKEN_PREFIX, generate_secret, hash_password};
    use crate::service::{Credentials, TokenRequest, TokenServiceConfig};
    use crate::token::{SigningKey, TokenIssuer};

    /// alice (password `alicepass`) owns team `devs` with namespaces `devs` and `ops`.
    async fn setup(config: impl FnOnce(&mut TokenServiceConfig)) -> (TokenService, Arc<InMemoryStore>, User) {
        let store = Arc::new(InMemoryStore::new());
        let alice = store
            .create_user(NewUser {
                username: "alice".into(),
                password_hash: Some(hash_password(&Secret::new("alicepass"), 4).await.unwrap()),
                ..NewUser::default()
            })
            .await
            .unwrap();
        let team = store.create_team("devs", alice.id, None).await.unwrap();
        for name in ["devs", "ops"] {
            store
                .create_namespace(NewNamespace {
                    name: name.into(),
                    team_id: team.id,
                    visibility: Visibility::Private,
                    description: None,
                })
                .await
                .unwrap();
        }
        let key = SigningKey::from_pem(include_str!("../testdata/ec-pkcs8.key")).unwrap();
        let issuer = TokenIssuer::new(key, "portus.test", Duration::from_secs(300), false).unwrap();
        let local: Arc<dyn Authenticator> = Arc::new(LocalAuthenticator::new(store.clone(), 4).unwrap());
        let mut settings = TokenServiceConfig::new("registry.local");
        config(&mut settings);
        let service = TokenService::new(store.clone(), vec![local], issuer, settings);
        (service, store, alice)
    }

    async fn token(store: &InMemoryStore, owner: &User, label: &str, limits: TokenLimits) -> Secret {
        let secret = generate_secret(APP_TOKEN_PREFIX).unwrap();
        store
            .create_app_token(owner.id, label, &secret.digest, &limits)
            .await
            .unwrap();
        secret.plain
    }

    fn scoped(rules: &[&str]) -> TokenLimits {
        TokenLimits {
            expires_at: None,
            scope: Some(TokenScope::parse(rules).unwrap()),
        }
    }

    fn request(secret: &Secret, scopes: &[&str], offline: bool) -> TokenRequest {
        TokenRequest {
            service: None,
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            account: None,
            credentials: Credentials::Password {
                username: "alice".into(),
                secret: secret.clone(),
            },
            offline,
        }
    }

    fn granted(grant: &crate::TokenGrant) -> Vec<String> {
        grant.access.iter().flat_map(|a| a.scope_strings()).collect()
    }

    #[tokio::test]
    async fn a_scoped_token_gets_what_both_its_owner_and_its_scope_allow() {
        let (service, store, alice) = setup(|_| {}).await;
        let pull_only = token(&store, &alice, "ci", scoped(&["devs/*:pull"])).await;
        let wanted = [
            "repository:devs/app:pull,push",
            "repository:ops/app:pull",
            "registry:catalog:*",
        ];
        let grant = service.issue(request(&pull_only, &wanted, false)).await.unwrap();
        assert_eq!(granted(&grant), ["repository:devs/app:pull"]);
        // Unlimited, the owner gets push and ops too (the scope is what took them away).
        let full = token(&store, &alice, "laptop", TokenLimits::default()).await;
        let grant = service.issue(request(&full, &wanted, false)).await.unwrap();
        assert_eq!(
            granted(&grant),
            [
                "repository:devs/app:pull",
                "repository:devs/app:push",
                "repository:ops/app:pull"
            ]
        );
        // A scope wider than the owner's rights adds nothing.
        let wide = token(&store, &alice, "wide", scoped(&["*:*"])).await;
        let grant = service
            .issue(request(&wide, &["repository:elsewhere/app:pull"], false))
            .await
            .unwrap();
        assert!(grant.access.is_empty());
        // Its use is recorded.
        let listed = store.list_app_tokens(alice.id).await.unwrap();
        assert!(listed.iter().find(|t| t.label == "ci").unwrap().last_used_at.is_some());
    }

    #[tokio::test]
    async fn a_refresh_token_keeps_the_scope_of_its_token() {
        let (service, store, alice) = setup(|_| {}).await;
        let pull_only = token(&store, &alice, "ci", scoped(&["devs/*:pull"])).await;
        let grant = service.issue(request(&pull_only, &[], true)).await.unwrap();
        let refresh = grant.refresh_token.unwrap();
        let again = service
            .refresh(&refresh, None, &["repository:devs/app:pull,push".to_owned()])
            .await
            .unwrap();
        assert_eq!(granted(&again), ["repository:devs/app:pull"]);
    }

    #[tokio::test]
    async fn an_expired_token_signs_nobody_in_anywhere() {
        let (service, store, alice) = setup(|_| {}).await;
        let past = TokenLimits {
            expires_at: Some(portus_core::model::now() - chrono::Duration::seconds(1)),
            scope: None,
        };
        let expired = token(&store, &alice, "old", past).await;
        let refused = service
            .issue(request(&expired, &["repository:devs/app:pull"], false))
            .await;
        assert!(matches!(refused, Err(Error::InvalidCredentials)), "{refused:?}");
        assert!(matches!(
            service.authenticate_app_token(&expired).await,
            Err(Error::InvalidCredentials)
        ));
        assert!(matches!(
            service.authenticate_for_session("alice", &expired).await,
            Err(Error::InvalidCredentials)
        ));
    }

    #[tokio::test]
    async fn a_scoped_token_opens_no_session_and_reaches_no_api() {
        let (service, store, alice) = setup(|_| {}).await;
        let pull_only = token(&store, &alice, "ci", scoped(&["devs/*:pull"])).await;
        assert!(matches!(
            service.authenticate_for_session("alice", &pull_only).await,
            Err(Error::InvalidCredentials)
        ));
        assert!(matches!(
            service.authenticate_app_token(&pull_only).await,
            Err(Error::InvalidCredentials)
        ));
        assert!(matches!(
            service.authenticate_user_app_token("alice", &pull_only).await,
            Err(Error::InvalidCredentials)
        ));
        let full = token(&store, &alice, "laptop", TokenLimits::default()).await;
        assert_eq!(service.authenticate_app_token(&full).await.unwrap().id, alice.id);
        assert_eq!(
            service.authenticate_for_session("alice", &full).await.unwrap().id,
            alice.id
        );
    }

    #[tokio::test]
    async fn without_password_docker_logins_only_tokens_get_tokens() {
        let (service, store, alice) = setup(|c| c.password_docker_login = false).await;
        let password = Secret::new("alicepass");
        let refused = service
            .issue(request(&password, &["repository:devs/app:pull"], false))
            .await;
        assert!(matches!(refused, Err(Error::InvalidCredentials)), "{refused:?}");
        let full = token(&store, &alice, "laptop", TokenLimits::default()).await;
        let grant = service
            .issue(request(&full, &["repository:devs/app:pull"], false))
            .await
            .unwrap();
        assert_eq!(granted(&grant), ["repository:devs/app:pull"]);
        // The web pages still take the password.
        assert!(service.authenticate_for_session("alice", &password).await.is_ok());
    }
}
