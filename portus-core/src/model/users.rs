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
