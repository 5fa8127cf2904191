//! Local passwords (bcrypt), application and refresh token secrets, and the
//! [`LocalAuthenticator`].
//!
//! Passwords are bcrypt hashes, so hashes created by Portus (Devise, `$2a$10$...`) verify
//! unchanged. Application and refresh tokens are 256-bit random secrets; they are stored as
//! SHA-256 digests, which is safe for secrets of that entropy and lets the store find a token
//! by its digest in one indexed lookup.
//!
//! Application tokens imported from Portus are stored by Portus' bcrypt hash and have no
//! prefix: they are verified one by one against the user's imported hashes (as Portus did) and,
//! on the first match, re-stored as a digest, so from then on they cost one lookup too.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use data_encoding::{BASE64URL_NOPAD, HEXLOWER};
use portus_core::model::{AppTokenId, PasswordHash, User};
use portus_core::prelude::*;
use portus_core::traits::{AuthMethod, AuthOutcome, Authenticator, Identity, Secret};
use portus_core::{Error as CoreError, PolicyStore};

use crate::{Error, Result};

/// bcrypt cost used for new password hashes (Devise's default stretch).
pub const DEFAULT_BCRYPT_COST: u32 = 10;

/// Minimum length of a new local password.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Bytes of a password bcrypt reads; a longer one would be cut silently.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// Why a new password is refused before any hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordLength {
    /// Fewer than [`MIN_PASSWORD_LEN`] characters.
    TooShort,
    /// More than [`MAX_PASSWORD_BYTES`] bytes.
    TooLong,
}

/// The length rule of new passwords, in the units people and bcrypt count: at least
/// [`MIN_PASSWORD_LEN`] characters, at most [`MAX_PASSWORD_BYTES`] bytes.
pub fn check_password_length(password: &str) -> std::result::Result<(), PasswordLength> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(PasswordLength::TooShort);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordLength::TooLong);
    }
    Ok(())
}

/// Prefix of application token secrets, so they are recognisable in logs and secret scanners.
pub const APP_TOKEN_PREFIX: &str = "pat_";
/// Prefix of refresh token secrets.
pub const REFRESH_TOKEN_PREFIX: &str = "prt_";

/// Hashes a new password with bcrypt, off the async executor.
pub async fn hash_password(password: &Secret, cost: u32) -> Result<PasswordHash> {
    let length = password.expose().chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_BYTES).contains(&password.expose().len()) {
        return Err(Error::InvalidRequest(format!(
            "password must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_BYTES} bytes long (got {length} characters)"
        )));
    }
    let password = password.clone();
    tokio::task::spawn_blocking(move || bcrypt::hash(password.expose(), cost))
        .await
        .map_err(|e| Error::InvalidRequest(format!("hashing task failed: {e}")))?
        .map(PasswordHash)
        .map_err(|e| Error::InvalidRequest(format!("cannot hash password: {e}")))
}

/// Verifies a password against a bcrypt hash, off the async executor. Malformed hashes never
/// verify.
pub async fn verify_password(password: &Secret, hash: &PasswordHash) -> bool {
    let (password, hash) = (password.clone(), hash.0.clone());
    tokio::task::spawn_blocking(move || bcrypt::verify(password.expose(), &hash).unwrap_or(false))
        .await
        .unwrap_or(false)
}

/// A freshly generated secret: the plain value (shown to the user once) and its digest (stored).
#[derive(Debug)]
pub struct GeneratedSecret {
    /// The secret to hand out.
    pub plain: Secret,
    /// Its digest, see [`secret_digest`].
    pub digest: String,
}

/// Generates a 256-bit random secret with the given prefix.
pub fn generate_secret(prefix: &str) -> Result<GeneratedSecret> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes).map_err(|_| Error::Signing)?;
    let plain = Secret::new(format!("{prefix}{}", BASE64URL_NOPAD.encode(&bytes)));
    let digest = secret_digest(&plain);
    Ok(GeneratedSecret { plain, digest })
}

/// The stored form of a token secret: `sha256:<hex>`.
pub fn secret_digest(secret: &Secret) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.expose().as_bytes());
    format!("sha256:{}", HEXLOWER.encode(digest.as_ref()))
}

/// Compares two secrets in time independent of where they differ (and of their lengths, which
/// are hidden by hashing both first).
pub fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    let digest = |x: &[u8]| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, x);
    let (a, b) = (digest(a), digest(b));
    a.as_ref().iter().zip(b.as_ref()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Verifies `secret` against `user`'s application tokens stored with another installation's
/// hash (Portus' bcrypt). A match is re-stored as this project's digest, so the next use is one
/// indexed lookup; returns the token's id.
pub async fn verify_legacy_app_token(
    store: &dyn AccountStore,
    user: &User,
    secret: &Secret,
) -> std::result::Result<Option<AppTokenId>, CoreError> {
    for (token, hash) in store.legacy_app_tokens(user.id).await? {
        if verify_password(secret, &PasswordHash(hash)).await {
            match store.set_app_token_hash(token.id, &secret_digest(secret)).await {
                // Another request re-stored it first, or the same secret is stored twice
                // (then the other copy answers by digest): either way the secret is valid.
                Ok(()) | Err(CoreError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
            return Ok(Some(token.id));
        }
    }
    Ok(None)
}

/// Authenticates users of the policy store by application token or local password.
///
/// An unknown user, a user without a local password and a wrong password all cost one bcrypt
/// verification at the same cost, so response times do not reveal which names exist. Users
/// without a local password give [`AuthOutcome::UnknownUser`], like unknown users, so that a
/// chain `[local, ldap]` lets LDAP decide for them.
#[derive(Debug)]
pub struct LocalAuthenticator {
    store: Arc<dyn PolicyStore>,
    dummy_hash: PasswordHash,
}

impl LocalAuthenticator {
    /// An authenticator over `store`; `bcrypt_cost` should match the cost of stored hashes.
    pub fn new(store: Arc<dyn PolicyStore>, bcrypt_cost: u32) -> Result<Self> {
        let dummy = bcrypt::hash("portus-timing-equaliser", bcrypt_cost)
            .map_err(|e| Error::InvalidRequest(format!("invalid bcrypt cost {bcrypt_cost}: {e}")))?;
        Ok(LocalAuthenticator {
            store,
            dummy_hash: PasswordHash(dummy),
        })
    }
}

#[async_trait]
impl Authenticator for LocalAuthenticator {
    fn name(&self) -> &str {
        "local"
    }

    async fn authenticate(&self, username: &str, secret: &Secret) -> Result<AuthOutcome, CoreError> {
        // Any secret may be a token: imported Portus tokens have no prefix.
        if let Some(token) = self.store.app_token_by_hash(&secret_digest(secret)).await? {
            let owner = self.store.user_by_id(token.user_id).await?;
            if owner.is_some_and(|u| u.username == username) {
                if !crate::token_limits::token_usable(&token, portus_core::model::now()) {
                    return Ok(AuthOutcome::InvalidCredentials);
                }
                return Ok(AuthOutcome::Authenticated(Identity {
                    username: username.to_owned(),
                    method: AuthMethod::AppToken(token.id),
                }));
            }
        }
        let user = self.store.user_by_name(username).await?;
        let app_token = |id| {
            Ok(AuthOutcome::Authenticated(Identity {
                username: username.to_owned(),
                method: AuthMethod::AppToken(id),
            }))
        };
        let Some(hash) = user.as_ref().and_then(|u| u.password_hash.as_ref()) else {
            verify_password(secret, &self.dummy_hash).await;
            if let Some(user) = &user
                && let Some(id) = verify_legacy_app_token(&*self.store, user, secret).await?
            {
                return app_token(id);
            }
            // Users without a local password (created by an external authenticator such as
            // LDAP) are not ours to judge: the next authenticator in the chain decides. Bots
            // are ours alone: they sign in with their tokens, never through the directory.
            if user.as_ref().is_some_and(|u| u.bot) {
                return Ok(AuthOutcome::InvalidCredentials);
            }
            return Ok(AuthOutcome::UnknownUser);
        };
        if verify_password(secret, hash).await {
            Ok(AuthOutcome::Authenticated(Identity {
                username: username.to_owned(),
                method: AuthMethod::Password,
            }))
        } else if let Some(user) = &user
            && let Some(id) = verify_legacy_app_token(&*self.store, user, secret).await?
        {
            app_token(id)
        } else {
            Ok(AuthOutcome::InvalidCredentials)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portus_core::InMemoryStore;
    use portus_core::model::NewUser;

    #[tokio::test]
    async fn verifies_portus_devise_hashes() {
        // Devise writes `$2a$` hashes with cost 10; build one in that exact format.
        let hash = PasswordHash(
            bcrypt::hash_with_salt("portus123", 10, *b"0123456789abcdef")
                .unwrap()
                .format_for_version(bcrypt::Version::TwoA),
        );
        assert!(hash.0.starts_with("$2a$10$"));
        assert!(verify_password(&Secret::new("portus123"), &hash).await);
        assert!(!verify_password(&Secret::new("portus124"), &hash).await);
        assert!(!verify_password(&Secret::new("portus123"), &PasswordHash("$2a$xx$malformed".into())).await);
    }

    #[tokio::test]
    async fn password_length_is_enforced() {
        assert!(hash_password(&Secret::new("short"), 4).await.is_err());
        assert!(hash_password(&Secret::new("x".repeat(73)), 4).await.is_err());
        let hash = hash_password(&Secret::new("long enough"), 4).await.unwrap();
        assert!(verify_password(&Secret::new("long enough"), &hash).await);
    }

    #[test]
    fn secret_comparison() {
        assert!(secrets_equal(b"Bearer abc", b"Bearer abc"));
        assert!(!secrets_equal(b"Bearer abc", b"Bearer abd"));
        assert!(!secrets_equal(b"Bearer abc", b"Bearer abcd"));
        assert!(!secrets_equal(b"", b"x"));
    }

    #[test]
    fn secrets_are_random_and_digested() {
        let a = generate_secret(APP_TOKEN_PREFIX).unwrap();
        let b = generate_secret(APP_TOKEN_PREFIX).unwrap();
        assert_ne!(a.plain, b.plain);
        assert!(a.plain.expose().starts_with("pat_"));
        assert_eq!(a.plain.expose().len(), 4 + 43);
        assert_eq!(a.digest, secret_digest(&a.plain));
        assert!(a.digest.starts_with("sha256:") && a.digest.len() == 7 + 64);
        assert!(
            !format!("{a:?}").contains(&a.plain.expose()[4..]),
            "Debug must not leak the secret"
        );
    }

    async fn setup() -> (Arc<InMemoryStore>, LocalAuthenticator) {
        let store = Arc::new(InMemoryStore::new());
        let hash = hash_password(&Secret::new("alicepass"), 4).await.unwrap();
        store
            .create_user(NewUser {
                username: "alice".into(),
                password_hash: Some(hash),
                ..NewUser::default()
            })
            .await
            .unwrap();
        store
            .create_user(NewUser {
                username: "ldap-only".into(),
                ..NewUser::default()
            })
            .await
            .unwrap();
        let auth = LocalAuthenticator::new(store.clone(), 4).unwrap();
        (store, auth)
    }

    #[tokio::test]
    async fn password_outcomes() {
        let (_, auth) = setup().await;
        let outcome = auth.authenticate("alice", &Secret::new("alicepass")).await.unwrap();
        assert_eq!(
            outcome,
            AuthOutcome::Authenticated(Identity {
                username: "alice".into(),
                method: AuthMethod::Password
            })
        );
        assert_eq!(
            auth.authenticate("alice", &Secret::new("wrong")).await.unwrap(),
            AuthOutcome::InvalidCredentials
        );
        assert_eq!(
            auth.authenticate("nobody", &Secret::new("x")).await.unwrap(),
            AuthOutcome::UnknownUser
        );
        for password in ["", "alicepass", "anything"] {
            assert_eq!(
                auth.authenticate("ldap-only", &Secret::new(password)).await.unwrap(),
                AuthOutcome::UnknownUser,
                "a user without a local password never authenticates locally; the next authenticator decides"
            );
        }
    }

    #[tokio::test]
    async fn a_bot_is_judged_here_with_its_tokens_never_by_the_next_authenticator() {
        let (store, auth) = setup().await;
        let bot = store
            .create_user(NewUser {
                username: "ci-bot".into(),
                bot: true,
                ..NewUser::default()
            })
            .await
            .unwrap();
        assert_eq!(
            auth.authenticate("ci-bot", &Secret::new("a-directory-password"))
                .await
                .unwrap(),
            AuthOutcome::InvalidCredentials,
            "LDAP is not asked about a bot"
        );
        let secret = crate::password::generate_secret(crate::password::APP_TOKEN_PREFIX).unwrap();
        store
            .create_app_token(bot.id, "default", &secret.digest, &Default::default())
            .await
            .unwrap();
        assert!(matches!(
            auth.authenticate("ci-bot", &secret.plain).await.unwrap(),
            AuthOutcome::Authenticated(Identity {
                method: AuthMethod::AppToken(_),
                ..
            })
        ));
    }

    #[tokio::test]
    async fn users_without_a_local_password_cost_one_bcrypt_verification() {
        // Cost 10: one verification takes tens of milliseconds, far above the store lookup, so
        // a skipped verification would show up as a much faster answer.
        let store = Arc::new(InMemoryStore::new());
        let hash = hash_password(&Secret::new("alicepass"), 10).await.unwrap();
        for (name, password_hash) in [("alice", Some(hash)), ("ldap-only", None)] {
            store
                .create_user(NewUser {
                    username: name.into(),
                    password_hash,
                    ..NewUser::default()
                })
                .await
                .unwrap();
        }
        let auth = LocalAuthenticator::new(store, 10).unwrap();
        let time = |user: &'static str| {
            let auth = &auth;
            async move {
                let start = std::time::Instant::now();
                auth.authenticate(user, &Secret::new("wrong")).await.unwrap();
                start.elapsed()
            }
        };
        let wrong_password = time("alice").await;
        let no_password = time("ldap-only").await;
        assert!(
            no_password * 3 > wrong_password,
            "no local password: {no_password:?}, wrong password: {wrong_password:?}"
        );
    }

    #[tokio::test]
    async fn application_tokens_work_only_for_their_owner() {
        let (store, auth) = setup().await;
        let alice = store.user_by_name("alice").await.unwrap().unwrap();
        let secret = generate_secret(APP_TOKEN_PREFIX).unwrap();
        let token = store
            .create_app_token(alice.id, "ci", &secret.digest, &Default::default())
            .await
            .unwrap();
        assert_eq!(
            auth.authenticate("alice", &secret.plain).await.unwrap(),
            AuthOutcome::Authenticated(Identity {
                username: "alice".into(),
                method: AuthMethod::AppToken(token.id)
            })
        );
        assert_eq!(
            auth.authenticate("ldap-only", &secret.plain).await.unwrap(),
            AuthOutcome::UnknownUser,
            "another user's token is no credential of ldap-only's"
        );
        store.revoke_app_token(token.id).await.unwrap();
        assert_eq!(
            auth.authenticate("alice", &secret.plain).await.unwrap(),
            AuthOutcome::InvalidCredentials
        );
    }

    /// A Portus application token: 20 URL-safe characters, stored as a bcrypt hash made with a
    /// salt of its own (`token_hash`), exactly as Portus' `ApplicationToken` does.
    async fn portus_token(store: &InMemoryStore, owner: &str, plain: &str) -> AppTokenId {
        let mut batch = portus_core::model::ImportBatch::new("portus");
        let hash = bcrypt::hash_with_salt(plain, 10, *b"fedcba9876543210")
            .unwrap()
            .format_for_version(bcrypt::Version::TwoA);
        batch.app_tokens.push(portus_core::model::ImportedAppToken {
            source_key: "1".into(),
            username: owner.into(),
            label: "portus-ci".into(),
            secret_hash: hash,
        });
        store.import_batch(&batch).await.unwrap();
        let owner = store.user_by_name(owner).await.unwrap().unwrap();
        store.legacy_app_tokens(owner.id).await.unwrap()[0].0.id
    }

    #[tokio::test]
    async fn portus_application_tokens_verify_and_are_restored_as_digests() {
        let (store, auth) = setup().await;
        let id = portus_token(&store, "alice", "xK3_q9ZpL0aB7cD2eF4g").await;
        let plain = Secret::new("xK3_q9ZpL0aB7cD2eF4g");
        assert_eq!(
            auth.authenticate("ldap-only", &plain).await.unwrap(),
            AuthOutcome::UnknownUser,
            "alice's token is no credential of another user"
        );
        assert_eq!(
            auth.authenticate("alice", &Secret::new("xK3_q9ZpL0aB7cD2eF4h"))
                .await
                .unwrap(),
            AuthOutcome::InvalidCredentials
        );
        let alice = store.user_by_name("alice").await.unwrap().unwrap();
        assert_eq!(
            store.legacy_app_tokens(alice.id).await.unwrap().len(),
            1,
            "not re-stored on failure"
        );
        let expected = AuthOutcome::Authenticated(Identity {
            username: "alice".into(),
            method: AuthMethod::AppToken(id),
        });
        assert_eq!(auth.authenticate("alice", &plain).await.unwrap(), expected);
        assert!(store.legacy_app_tokens(alice.id).await.unwrap().is_empty());
        assert_eq!(
            store
                .app_token_by_hash(&secret_digest(&plain))
                .await
                .unwrap()
                .map(|t| t.id),
            Some(id),
            "re-stored as a digest on first use"
        );
        assert_eq!(auth.authenticate("alice", &plain).await.unwrap(), expected);
    }

    #[tokio::test]
    async fn portus_application_tokens_of_users_without_a_password() {
        let (store, auth) = setup().await;
        let id = portus_token(&store, "ldap-only", "AbCdEfGhIjKlMnOpQrSt").await;
        assert_eq!(
            auth.authenticate("ldap-only", &Secret::new("AbCdEfGhIjKlMnOpQrSt"))
                .await
                .unwrap(),
            AuthOutcome::Authenticated(Identity {
                username: "ldap-only".into(),
                method: AuthMethod::AppToken(id),
            })
        );
        assert_eq!(
            auth.authenticate("ldap-only", &Secret::new("wrong")).await.unwrap(),
            AuthOutcome::UnknownUser,
            "LDAP still decides for other secrets"
        );
    }
}
