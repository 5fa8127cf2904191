//! The domain model: users, teams, roles, namespaces, repositories, tags and credentials.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Error;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// Identifier of a [`User`].
    UserId
);
id_type!(
    /// Identifier of a [`Team`].
    TeamId
);
id_type!(
    /// Identifier of a [`Namespace`].
    NamespaceId
);
id_type!(
    /// Identifier of an [`AppToken`].
    AppTokenId
);
id_type!(
    /// Identifier of a [`RefreshToken`].
    RefreshTokenId
);
id_type!(
    /// Identifier of a [`Repository`].
    RepositoryId
);
id_type!(
    /// Identifier of a [`Tag`].
    TagId
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
    /// Creation time.
    pub created_at: DateTime<Utc>,
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

/// Role of a user inside a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read access: pull.
    Viewer,
    /// Read/write access: pull and push.
    Contributor,
    /// Read/write access and team management; may delete.
    Owner,
}

impl Role {
    /// The lower-case name used in configuration, the CLI and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Contributor => "contributor",
            Role::Owner => "owner",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "contributor" => Ok(Role::Contributor),
            "owner" => Ok(Role::Owner),
            other => Err(Error::Invalid(format!(
                "unknown role '{other}' (expected viewer, contributor or owner)"
            ))),
        }
    }
}

/// Who may pull from a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Team members only.
    Private,
    /// Any authenticated user may pull.
    Protected,
    /// Anyone, including anonymous callers, may pull.
    Public,
}

impl Visibility {
    /// The lower-case name used in configuration, the CLI and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Protected => "protected",
            Visibility::Public => "public",
        }
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Visibility {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "private" => Ok(Visibility::Private),
            "protected" => Ok(Visibility::Protected),
            "public" => Ok(Visibility::Public),
            other => Err(Error::Invalid(format!(
                "unknown visibility '{other}' (expected private, protected or public)"
            ))),
        }
    }
}

/// A group of users with roles; owns namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    /// Store identifier.
    pub id: TeamId,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Hidden teams back personal namespaces and are not listed or edited as teams.
    pub hidden: bool,
}

/// A membership of a user in a team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMember {
    /// The member.
    pub user_id: UserId,
    /// The member's login name.
    pub username: String,
    /// The member's role.
    pub role: Role,
}

/// A namespace: the first path component of repository names (`alice` in `alice/app`), or the
/// global namespace that holds repositories without a `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// Store identifier.
    pub id: NamespaceId,
    /// Unique name; empty for the global namespace.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Owning team; `None` for the global namespace, which administrators own.
    pub team_id: Option<TeamId>,
    /// Who may pull.
    pub visibility: Visibility,
    /// Whether this is the global namespace.
    pub global: bool,
    /// For personal namespaces: the user they belong to.
    pub personal_owner: Option<UserId>,
}

/// Data needed to create a [`Namespace`].
#[derive(Debug, Clone)]
pub struct NewNamespace {
    /// Unique name (validated with [`crate::naming::validate_namespace_name`]).
    pub name: String,
    /// Owning team.
    pub team_id: TeamId,
    /// Who may pull.
    pub visibility: Visibility,
    /// Free text.
    pub description: Option<String>,
}

/// Which namespace a repository name lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NamespaceRef<'a> {
    /// Repository names without `/`.
    Global,
    /// The namespace with this name.
    Named(&'a str),
}

impl<'a> NamespaceRef<'a> {
    /// The namespace a repository name belongs to: the text before the first `/`, or the
    /// global namespace. Returns the namespace and the repository name inside it.
    pub fn of_repository(full_name: &'a str) -> (NamespaceRef<'a>, &'a str) {
        match full_name.split_once('/') {
            Some((namespace, repository)) => (NamespaceRef::Named(namespace), repository),
            None => (NamespaceRef::Global, full_name),
        }
    }
}

/// A namespace together with the caller's role in its team: what authorization needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceAccess {
    /// The namespace.
    pub namespace: Namespace,
    /// The caller's role in the owning team, if a member.
    pub role: Option<Role>,
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

/// A repository inside a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// Store identifier.
    pub id: RepositoryId,
    /// Owning namespace.
    pub namespace_id: NamespaceId,
    /// Name inside the namespace (may contain `/`).
    pub name: String,
}

/// A tag of a repository, pointing at a manifest digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// Store identifier.
    pub id: TagId,
    /// Owning repository.
    pub repository_id: RepositoryId,
    /// Tag name.
    pub name: String,
    /// Manifest digest (`sha256:...`).
    pub digest: String,
}
