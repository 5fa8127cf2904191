//! Accounts and their credentials: users, password hashes, application and refresh tokens.

use std::fmt;

use chrono::{DateTime, Utc};

use super::NamespaceId;

id_type!(
    /// Identifier of a [`User`].
    UserId
);

id_type!(
    /// Identifier of an [`AppToken`].
    AppTokenId
);

id_type!(
    /// Identifier of a [`RefreshToken`].
    RefreshTokenId
);

/// A stored password hash (bcrypt, `$2a$`/`$2b$`/`$2y$`). Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(pub String);

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// A person or machine account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Store identifier.
    pub id: UserId,
    /// Unique login name.
    pub username: String,
    /// Contact e-mail, optional (LDAP users may have none).
    pub email: Option<String>,
    /// Administrators pass every authorization check.
    pub admin: bool,
    /// Disabled users cannot authenticate at all.
    pub enabled: bool,
    /// Local password hash; `None` for users who cannot log in with a local password.
    pub password_hash: Option<PasswordHash>,
    /// The user's personal namespace, if one was created.
    pub personal_namespace: Option<NamespaceId>,
    /// Consecutive failed logins since the last success or unlock.
    pub failed_logins: u32,
    /// Logins are refused until this time (account lockout).
    pub locked_until: Option<DateTime<Utc>>,
    /// The name shown instead of the login name, if the user chose one.
    pub display_name: Option<String>,
    /// A bot account (a CI robot): no personal namespace, signs in with application tokens.
    pub bot: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl User {
    /// Whether the account is locked at `now`.
    pub fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

/// Data needed to create a [`User`].
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// Unique login name (validated with [`crate::naming::validate_username`]).
    pub username: String,
    /// Optional e-mail.
    pub email: Option<String>,
    /// Whether the user is an administrator.
    pub admin: bool,
    /// Local password hash, if any.
    pub password_hash: Option<PasswordHash>,
    /// A robot account (Portus' bot, for CI): no personal namespace, no password, never asked
    /// of LDAP; it signs in with application tokens only.
    pub bot: bool,
}

/// An application token: a secret usable instead of the password (docker login, API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppToken {
    /// Store identifier.
    pub id: AppTokenId,
    /// Owner.
    pub user_id: UserId,
    /// Label given at creation, unique per user.
    pub label: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Its expiry and scope, set at creation.
    pub limits: super::TokenLimits,
    /// When it was last used to sign in (kept to the minute or so: see
    /// [`AccountStore::touch_app_token`](crate::traits::AccountStore::touch_app_token)).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// An OAuth2 refresh token (stored hashed), bound to one user and one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// Store identifier.
    pub id: RefreshTokenId,
    /// Subject.
    pub user_id: UserId,
    /// Audience the token may be exchanged for.
    pub service: String,
    /// Set when it was obtained with an application token: revoking that token revokes this.
    pub app_token_id: Option<AppTokenId>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// The orders of the user list (Portus' `sort_attr`); each ends with the id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum UserSort {
    /// By login name (the default).
    #[default]
    Username,
    /// By id: in creation order.
    Id,
    /// By creation time.
    CreatedAt,
}

/// The orders of a user's application tokens; each ends with the id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum AppTokenSort {
    /// By id: oldest first (the default).
    #[default]
    Id,
    /// By label (Portus' `application`).
    Label,
    /// By creation time.
    CreatedAt,
}

/// An account at another identity provider, as the provider identifies it: `(provider, issuer,
/// subject)`. Only the three together identify someone (OpenID Connect Core §5.7: `sub` is
/// unique and never reassigned within its issuer); names and e-mail addresses a provider reports
/// may change or be reused, so a local account is found by this, never by them.
///
/// ```
/// use portus_core::model::ExternalIdentity;
///
/// let identity = ExternalIdentity::new("oidc", "https://id.example.org", "248289761001");
/// assert_eq!(identity.to_string(), "oidc subject 248289761001 at https://id.example.org");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExternalIdentity {
    /// The kind of provider: `oidc` for OpenID Connect; an import keeps its source's names
    /// (`ldap`, Portus' `openid_connect`, `github`, ...).
    pub provider: String,
    /// Who vouches for the subject: the OpenID Connect issuer URL, or the provider's base URL;
    /// empty where the source recorded none (identities imported from Portus).
    pub issuer: String,
    /// The provider's stable identifier of the account (OpenID Connect `sub`).
    pub subject: String,
}

impl ExternalIdentity {
    /// The identity `subject` of `provider` at `issuer`.
    pub fn new(provider: impl Into<String>, issuer: impl Into<String>, subject: impl Into<String>) -> Self {
        ExternalIdentity {
            provider: provider.into(),
            issuer: issuer.into(),
            subject: subject.into(),
        }
    }

    /// Checks the parts: a provider of 1 to 64 and a subject of 1 to 255 characters (OpenID
    /// Connect's bound on `sub`), an issuer of at most 2,048, none with control characters.
    pub fn validate(&self) -> crate::Result<()> {
        let parts = [
            ("provider", &self.provider, 1, 64),
            ("issuer", &self.issuer, 0, 2048),
            ("subject", &self.subject, 1, 255),
        ];
        for (what, value, min, max) in parts {
            let length = value.chars().count();
            if length < min || length > max || value.chars().any(char::is_control) {
                return Err(crate::Error::Invalid(format!(
                    "identity {what} must be {min} to {max} characters without control characters"
                )));
            }
        }
        Ok(())
    }
}

impl fmt::Display for ExternalIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} subject {}", self.provider, self.subject)?;
        if !self.issuer.is_empty() {
            write!(f, " at {}", self.issuer)?;
        }
        Ok(())
    }
}
