use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::Result;
use crate::model::AppTokenId;

/// A secret (password or token) whose `Debug` output never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// How an identity was proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// The local password.
    Password,
    /// An application token (its id, so derived credentials can be revoked with it).
    AppToken(AppTokenId),
    /// An external authenticator (LDAP, a custom one), by name.
    External(String),
}

/// A proven identity: the user name as known to the policy store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user's login name in the policy store.
    pub username: String,
    /// How the identity was proven.
    pub method: AuthMethod,
}

/// The answer of an [`Authenticator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The credentials are valid.
    Authenticated(Identity),
    /// The user is known to this authenticator but the secret is wrong: stop, do not try others.
    InvalidCredentials,
    /// This authenticator does not know the user: the next one in a chain may.
    UnknownUser,
}

/// Checks a user name and secret (HTTP Basic credentials, a login form).
///
/// Implementations must take about the same time for unknown users as for wrong secrets, and
/// must not decide whether the user is enabled: the caller checks that in the policy store.
#[async_trait]
pub trait Authenticator: std::fmt::Debug + Send + Sync {
    /// Short name for logs and health reports ("local", "ldap", ...).
    fn name(&self) -> &str;

    /// Verifies the credentials.
    async fn authenticate(&self, username: &str, secret: &Secret) -> Result<AuthOutcome>;
}

#[async_trait]
impl<T: Authenticator + ?Sized> Authenticator for Arc<T> {
    fn name(&self) -> &str {
        (**self).name()
    }
    async fn authenticate(&self, username: &str, secret: &Secret) -> Result<AuthOutcome> {
        (**self).authenticate(username, secret).await
    }
}

#[async_trait]
impl<T: Authenticator + ?Sized> Authenticator for Box<T> {
    fn name(&self) -> &str {
        (**self).name()
    }
    async fn authenticate(&self, username: &str, secret: &Secret) -> Result<AuthOutcome> {
        (**self).authenticate(username, secret).await
    }
}
