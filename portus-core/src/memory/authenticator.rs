//! An [`Authenticator`] over a fixed table of user names and secrets.

use std::collections::HashMap;

use async_trait::async_trait;

use crate::Result;
use crate::traits::{AuthMethod, AuthOutcome, Authenticator, Identity, Secret};

/// Checks secrets against a fixed table, e.g. one an embedding program loads from its own
/// configuration, or one a test sets up. Users it accepts must still exist (and be enabled) in
/// the policy store, which decides access.
///
/// Secrets are compared in constant time, and an unknown user costs one comparison too, as the
/// [`Authenticator`] contract asks.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use portus_core::memory::StaticAuthenticator;
/// use portus_core::traits::{AuthOutcome, Authenticator, Secret};
///
/// let auth = StaticAuthenticator::new([("demo", "demo-secret")]);
/// let ok = auth.authenticate("demo", &Secret::new("demo-secret")).await.unwrap();
/// assert!(matches!(ok, AuthOutcome::Authenticated(id) if id.username == "demo"));
/// let wrong = auth.authenticate("demo", &Secret::new("nope")).await.unwrap();
/// assert_eq!(wrong, AuthOutcome::InvalidCredentials);
/// # });
/// ```
#[derive(Clone)]
pub struct StaticAuthenticator {
    name: String,
    secrets: HashMap<String, Secret>,
}

impl std::fmt::Debug for StaticAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The user names only: secrets never reach a log.
        let mut users: Vec<&String> = self.secrets.keys().collect();
        users.sort();
        f.debug_struct("StaticAuthenticator")
            .field("name", &self.name)
            .field("users", &users)
            .finish()
    }
}

impl StaticAuthenticator {
    /// An authenticator named "static" accepting each (user, secret) pair.
    pub fn new<U: Into<String>, S: Into<String>>(users: impl IntoIterator<Item = (U, S)>) -> Self {
        StaticAuthenticator {
            name: "static".to_owned(),
            secrets: users
                .into_iter()
                .map(|(user, secret)| (user.into(), Secret::new(secret)))
                .collect(),
        }
    }

    /// The same authenticator under another name (its [`AuthMethod::External`] and logs).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
}

/// Whether `given` equals `expected`, in time that depends only on `expected`'s length (not on
/// where they differ, nor on `given`'s length).
pub fn constant_time_eq(expected: &[u8], given: &[u8]) -> bool {
    let mut difference = u8::from(expected.len() != given.len());
    for (i, byte) in expected.iter().enumerate() {
        // Past the end of `given` compare with 0: the loop length must not follow `given`.
        let other = given.get(i).copied().unwrap_or(0);
        difference |= std::hint::black_box(byte ^ other);
    }
    difference == 0
}

#[async_trait]
impl Authenticator for StaticAuthenticator {
    fn name(&self) -> &str {
        &self.name
    }

    async fn authenticate(&self, username: &str, secret: &Secret) -> Result<AuthOutcome> {
        let Some(expected) = self.secrets.get(username) else {
            // Same work as a wrong secret, so timing does not reveal which names exist.
            let _ = constant_time_eq(secret.expose().as_bytes(), secret.expose().as_bytes());
            return Ok(AuthOutcome::UnknownUser);
        };
        if constant_time_eq(expected.expose().as_bytes(), secret.expose().as_bytes()) {
            Ok(AuthOutcome::Authenticated(Identity {
                username: username.to_owned(),
                method: AuthMethod::External(self.name.clone()),
            }))
        } else {
            Ok(AuthOutcome::InvalidCredentials)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_only_when_equal() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret-longer"));
        assert!(!constant_time_eq(b"secret", b"sec"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }

    #[tokio::test]
    async fn known_unknown_and_wrong() {
        let auth = StaticAuthenticator::new([("demo", "pw")]).named("table");
        assert_eq!(auth.name(), "table");
        assert_eq!(
            auth.authenticate("demo", &Secret::new("pw")).await.unwrap(),
            AuthOutcome::Authenticated(Identity {
                username: "demo".into(),
                method: AuthMethod::External("table".into()),
            })
        );
        assert_eq!(
            auth.authenticate("demo", &Secret::new("pw2")).await.unwrap(),
            AuthOutcome::InvalidCredentials
        );
        assert_eq!(
            auth.authenticate("nobody", &Secret::new("pw")).await.unwrap(),
            AuthOutcome::UnknownUser
        );
        assert!(!format!("{auth:?}").contains("pw"), "{auth:?}");
    }
}
