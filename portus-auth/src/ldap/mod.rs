//! The [`LdapAuthenticator`]: users log in with their directory password (feature `ldap`).
//!
//! # Login flow
//!
//! 1. An empty user name or password is refused at once: an LDAP simple bind with an empty
//!    password is an *unauthenticated* bind, which servers answer with success.
//! 2. Connect (TCP, then TLS or StartTLS as configured) and bind with the service account, if
//!    one is configured; otherwise search anonymously.
//! 3. Search `(&(<uid>=<escaped user name>)<filter>)` under `admin_base` (if set), then under
//!    `base`. No entry: [`AuthOutcome::UnknownUser`]. More than one: the login is refused.
//! 4. Read the configured groups of the entry (with the service account, never with the user's
//!    own rights), then bind as the entry's DN with the user's password.
//! 5. On success, find the local user of the same name or create it without a local password
//!    (e-mail per `guess_email`, administrator if the entry was found under `admin_base`), add
//!    it to the teams of its groups, and return [`AuthMethod::External`]`("ldap")`.
//!
//! The name the user typed must equal a value of the entry's `uid` attribute exactly. Directory
//! attributes such as `uid` usually match case-insensitively, but local user names do not;
//! accepting `ALICE` for `uid=alice` would create a second local user for the same person.
//!
//! # Chaining with local accounts
//!
//! The embedding program lists the authenticators as `[local, ldap]`
//! (see [`TokenService::new`](crate::TokenService::new)). Users with a local password are
//! verified locally, so they (typically the administrators and bots) keep working while the
//! directory is down. Users unknown locally, or known but without a local password (those
//! created here), fall through to LDAP.
//!
//! # Failures
//!
//! An unreachable or silent server, a TLS failure, a refused service bind and a timeout are
//! errors ([`portus_core::Error::Unavailable`], HTTP 503 upstream), never
//! [`AuthOutcome::UnknownUser`]: a broken directory must not let the next authenticator decide
//! (fail closed). Passwords are never logged.
//!
//! # Group to team mapping
//!
//! Each entry of `groups` names an LDAP group (`dn`, or `cn` searched under `group_base`) of
//! class `groupOfNames` or `groupOfUniqueNames`, a team and a role. At every successful login
//! the user becomes a member of the team of each group that lists the user's DN in `member` or
//! `uniqueMember`, with at least the configured role (a higher role given in portus is kept).
//! Sign-ins only **add**: leaving the LDAP group does not remove the user from the team at the
//! next sign-in. Teams are not created; a mapping to a missing team (or to a hidden personal
//! team) is logged and skipped.
//!
//! # Group sync
//!
//! With `[ldap.sync] enabled = true` a background pass runs every `interval_secs`
//! ([`LdapAuthenticator::spawn_group_sync`]; `portus ldap sync` runs one now with
//! [`LdapAuthenticator::sync_groups`]). It also **removes** memberships:
//!
//! 1. It reads everything first, on one connection bound with the service account: that `base`
//!    (and `admin_base`) exist, the `member` and `uniqueMember` values of every mapped group,
//!    and the entry of every local LDAP user, found as at sign-in. Any failure (server down,
//!    timeout, refused bind, an error result, Active Directory's ranged `member;range=` lists)
//!    fails the pass before anything is written: **a directory that cannot answer changes
//!    nothing**.
//! 2. Local LDAP users are those without a local password, not bots, with no linked external
//!    identity: the users LDAP sign-ins create. Nobody else is ever touched.
//! 3. Per user and synced team: member with the highest role of the team's groups that list the
//!    user's DN (compared without case and spaces), else not a member. A user the directory no
//!    longer has is in no group; a name with several entries is skipped. Teams with a
//!    `sync = false` mapping (Portus' per-team `ldap_check` exclusion) are left alone, and a
//!    team one of whose groups is not found loses nobody (logged).
//! 4. [`portus_core::ops::teams::sync_memberships`] applies it as actor `ldap`: higher roles
//!    given by hand, teams no mapping names and a team's last owner stay.

mod config;
mod connection;
mod error;
mod groups;
mod search;
mod sync;

use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ldap3::Ldap;
use portus_core::model::Role;
use portus_core::naming::validate_username;
use portus_core::traits::{AuthMethod, AuthOutcome, Authenticator, Identity, Secret};
use portus_core::{Error as CoreError, PolicyStore};
use tracing::{debug, warn};

pub use config::{ConfigError, Encryption, GroupMapping, GroupSync, GuessEmail, LdapConfig, ServiceAccount, TlsMethod};
pub use error::LdapServerError;
pub use sync::{GroupSyncStatus, GroupSyncSummary};

use config::non_empty;
use connection::Connector;
use error::{RC_BUSY, RC_INVALID_CREDENTIALS, RC_UNAVAILABLE, unavailable};
use search::{UserSearch, email_from_dn, values};

/// Authenticates users against an LDAP directory and provisions them in the policy store.
///
/// See the [module documentation](self) for the flow, the chain order and group mapping.
///
/// ```
/// use std::sync::Arc;
/// use portus_auth::ldap::{LdapAuthenticator, LdapConfig};
/// use portus_core::{Authenticator, InMemoryStore};
///
/// let config: LdapConfig = toml::from_str(r#"
///     hostname = "127.0.0.1"
///     base = "dc=example,dc=org"
/// "#).unwrap();
/// let ldap = LdapAuthenticator::new(config, Arc::new(InMemoryStore::new())).unwrap();
/// assert_eq!(ldap.name(), "ldap");
/// assert_eq!(ldap.url(), "ldap://127.0.0.1:389");
/// ```
pub struct LdapAuthenticator {
    config: LdapConfig,
    store: Arc<dyn PolicyStore>,
    connector: Connector,
    admin_base: Option<String>,
    extra_filter: String,
    /// The outcome of the last group sync pass.
    last_sync: Mutex<Option<GroupSyncStatus>>,
}

impl fmt::Debug for LdapAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapAuthenticator")
            .field("url", &self.connector.url)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The directory's verdict on a login, before anything is written to the store.
enum Verdict {
    Unknown,
    Refused,
    Accepted {
        admin: bool,
        email: Option<String>,
        teams: Vec<(String, Role)>,
    },
}

impl LdapAuthenticator {
    /// Checks `config` and builds the authenticator; nothing is contacted yet. The CA file is
    /// read here, so a missing or unreadable one is reported at start-up.
    pub fn new(config: LdapConfig, store: Arc<dyn PolicyStore>) -> Result<Self, ConfigError> {
        config.validate()?;
        let connector = Connector::new(&config)?;
        Ok(LdapAuthenticator {
            admin_base: non_empty(config.admin_base.as_deref()),
            extra_filter: config.extra_filter(),
            last_sync: Mutex::new(None),
            connector,
            config,
            store,
        })
    }

    /// The server URL (`ldap://host:port` or `ldaps://host:port`), for logs and health reports.
    pub fn url(&self) -> &str {
        &self.connector.url
    }

    /// The configuration in use.
    pub fn config(&self) -> &LdapConfig {
        &self.config
    }

    /// Connects and binds with the service account (anonymously without one), as Portus' LDAP
    /// health check. `Err` is [`portus_core::Error::Unavailable`].
    pub async fn health(&self) -> Result<(), CoreError> {
        let mut ldap = self.connector.connect().await?;
        let result = match self
            .connector
            .service_bind(&mut ldap, self.config.authentication.as_ref())
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => self
                .connector
                .bind(&mut ldap, "anonymous bind", "", "")
                .await
                .and_then(|result| {
                    if result.rc == 0 {
                        Ok(())
                    } else {
                        Err(unavailable(LdapServerError::refused("anonymous bind", &result)))
                    }
                }),
            Err(e) => Err(e),
        };
        self.connector.close(ldap).await;
        result
    }

    /// Everything that needs the directory, on one connection.
    async fn verdict(&self, ldap: &mut Ldap, username: &str, secret: &Secret) -> Result<Verdict, CoreError> {
        self.connector
            .service_bind(ldap, self.config.authentication.as_ref())
            .await?;
        let (entry, admin) = match self.find_user(ldap, username).await? {
            UserSearch::Found(entry, admin) => (entry, admin),
            UserSearch::NotFound => return Ok(Verdict::Unknown),
            UserSearch::Ambiguous => {
                warn!(
                    user = username,
                    "several LDAP entries match this user name; login refused"
                );
                return Ok(Verdict::Refused);
            }
        };
        if !values(&entry, &self.config.uid).any(|value| value == username) {
            debug!(user = username, dn = %entry.dn, "LDAP entry matches the user name only up to letter case");
            return Ok(Verdict::Unknown);
        }
        let teams = self.group_teams(ldap, &entry.dn).await?;
        let result = self
            .connector
            .bind(ldap, "user bind", &entry.dn, secret.expose())
            .await?;
        match result.rc {
            0 => {}
            RC_INVALID_CREDENTIALS => return Ok(Verdict::Refused),
            RC_BUSY | RC_UNAVAILABLE => return Err(unavailable(LdapServerError::refused("user bind", &result))),
            code => {
                warn!(user = username, dn = %entry.dn, code, text = %result.text, "LDAP refused the user bind");
                return Ok(Verdict::Refused);
            }
        }
        let email = match &self.config.guess_email {
            GuessEmail { enabled: false, .. } => None,
            GuessEmail { attr, .. } if attr.is_empty() => email_from_dn(username, &entry.dn),
            GuessEmail { attr, .. } => values(&entry, attr).next().cloned(),
        };
        Ok(Verdict::Accepted { admin, email, teams })
    }
}

#[async_trait]
impl Authenticator for LdapAuthenticator {
    fn name(&self) -> &str {
        "ldap"
    }

    async fn authenticate(&self, username: &str, secret: &Secret) -> Result<AuthOutcome, CoreError> {
        if username.is_empty() || secret.expose().is_empty() || validate_username(username).is_err() {
            return Ok(AuthOutcome::InvalidCredentials);
        }
        let mut ldap = self.connector.connect().await?;
        let verdict = self.verdict(&mut ldap, username, secret).await;
        self.connector.close(ldap).await;
        let (admin, email, teams) = match verdict? {
            Verdict::Unknown => return Ok(AuthOutcome::UnknownUser),
            Verdict::Refused => return Ok(AuthOutcome::InvalidCredentials),
            Verdict::Accepted { admin, email, teams } => (admin, email, teams),
        };
        let user = crate::external_user::find_or_create(self.store.as_ref(), username, email, admin, "LDAP").await?;
        self.join_teams(&user, &teams).await?;
        Ok(AuthOutcome::Authenticated(Identity {
            username: user.username,
            method: AuthMethod::External("ldap".into()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use portus_core::InMemoryStore;

    use super::*;

    pub(super) fn minimal() -> LdapConfig {
        toml::from_str("hostname = \"127.0.0.1\"\nbase = \"dc=example,dc=org\"").unwrap()
    }

    pub(super) fn build(config: LdapConfig) -> Result<LdapAuthenticator, ConfigError> {
        LdapAuthenticator::new(config, Arc::new(InMemoryStore::new()))
    }

    #[tokio::test]
    async fn empty_credentials_never_reach_the_server() {
        // Port 1 on loopback is closed: contacting it would be an Unavailable error.
        let mut config = minimal();
        config.port = Some(1);
        let ldap = build(config).unwrap();
        for (user, password) in [("alice", ""), ("", "pw"), ("bad name", "pw"), ("a:b", "pw")] {
            assert_eq!(
                ldap.authenticate(user, &Secret::new(password)).await.unwrap(),
                AuthOutcome::InvalidCredentials,
                "{user:?}/{password:?}"
            );
        }
        let err = ldap.authenticate("alice", &Secret::new("pw")).await.unwrap_err();
        assert_eq!(err.kind(), portus_core::ErrorKind::Unavailable, "{err}");
    }
}
