//! The domain model: users, teams, roles, namespaces, repositories, tags and credentials.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Error;
pub use crate::action::ActivityAction;

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

/// The current time at the precision every store keeps: microseconds (PostgreSQL's).
///
/// Stores stamp records with this, so a record read back equals the one returned on creation.
pub fn now() -> DateTime<Utc> {
    at_store_precision(Utc::now())
}

/// `time` truncated to microseconds, the precision every store keeps.
pub fn at_store_precision(time: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{DurationRound, TimeDelta};
    time.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(time)
}

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

/// Changes to a [`Team`]; `None` fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamUpdate {
    /// New unique name.
    pub name: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
}

/// Changes to a [`Namespace`]; `None` fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceUpdate {
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New owning team.
    pub team_id: Option<TeamId>,
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

/// A repository as portus records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    /// Store identifier.
    pub id: RepositoryId,
    /// Full name (`alice/app`, or `app` in the global namespace).
    pub name: String,
    /// The namespace it lives in.
    pub namespace_id: NamespaceId,
    /// How many users starred it.
    pub stars: u64,
    /// When it was first recorded.
    pub created_at: DateTime<Utc>,
}

/// Names matching a search, before any visibility filtering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchHits {
    /// Namespaces whose name contains the text (not the global namespace).
    pub namespaces: Vec<Namespace>,
    /// Repositories whose full name contains it.
    pub repositories: Vec<Repository>,
    /// Tags whose name contains it.
    pub tags: Vec<TagRecord>,
}

/// The four manifest media types the registry stores and portus records, plus Docker schema 1.
pub const MANIFEST_MEDIA_TYPES: [&str; 6] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.docker.distribution.manifest.v1+json",
];

/// Whether `media_type` is a manifest (not a blob) type.
pub fn is_manifest_media_type(media_type: &str) -> bool {
    MANIFEST_MEDIA_TYPES.contains(&media_type)
}

/// What a tag points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRecord {
    /// Manifest digest (`sha256:...`).
    pub digest: String,
    /// Manifest media type.
    pub media_type: String,
    /// Image size in bytes, when known.
    pub size: Option<u64>,
}

/// A tag as portus records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagRecord {
    /// Store identifier.
    pub id: TagId,
    /// Full repository name (`alice/app`, or `app` in the global namespace).
    pub repository: String,
    /// Tag name.
    pub name: String,
    /// The manifest it points at.
    pub manifest: ManifestRecord,
    /// User who pushed it last, when known.
    pub pushed_by: Option<String>,
    /// When it was first recorded.
    pub created_at: DateTime<Utc>,
    /// When its digest last changed.
    pub updated_at: DateTime<Utc>,
}

/// What [`crate::PolicyStore::put_tag`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagChange {
    /// The tag is new.
    Created,
    /// The tag moved to another manifest.
    Updated {
        /// The digest it pointed at before.
        previous_digest: String,
    },
    /// The tag already pointed at this manifest.
    Unchanged,
    /// The namespace does not exist and was not to be created: nothing was recorded.
    NamespaceMissing,
}

/// What to do when a repository's namespace does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingNamespace {
    /// Create it, private and owned by administrators only (no team), so nothing pushed is
    /// invisible.
    #[default]
    Create,
    /// Record nothing.
    Ignore,
}

/// One entry of the activity (audit) log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// Store identifier, increasing with time.
    pub id: i64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it (`None` for the registry or the system).
    pub actor: Option<String>,
    /// What happened (`tag.push`, `user.create`, ...).
    pub action: String,
    /// What it happened to (`alice/app:1.0`, a user or team name, ...).
    pub target: String,
    /// Free-form details (e.g. a digest), if any.
    pub details: Option<String>,
}

/// An activity to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewActivity {
    /// Who did it.
    pub actor: Option<String>,
    /// What happened.
    pub action: String,
    /// What it happened to.
    pub target: String,
    /// Details.
    pub details: Option<String>,
}

impl NewActivity {
    /// An activity without details.
    pub fn new(actor: Option<&str>, action: ActivityAction, target: impl Into<String>) -> Self {
        NewActivity {
            actor: actor.map(str::to_owned),
            action: action.as_str().to_owned(),
            target: target.into(),
            details: None,
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }
}

/// Which activities to list; empty fields match everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActivityFilter {
    /// Only this actor's.
    pub actor: Option<String>,
    /// Only this action (or, ending in `.`, this action prefix such as `tag.`).
    pub action: Option<String>,
    /// Only targets starting with this text (e.g. a namespace `alice/`).
    pub target_prefix: Option<String>,
    /// Only at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// At most this many, newest first (0 means 100).
    pub limit: usize,
}

/// Whether `activity` passes `filter` (for stores that filter in memory).
pub fn activity_matches(filter: &ActivityFilter, activity: &Activity) -> bool {
    filter
        .actor
        .as_ref()
        .is_none_or(|actor| activity.actor.as_ref() == Some(actor))
        && filter
            .action
            .as_ref()
            .is_none_or(|action| match action.strip_suffix('.') {
                Some(prefix) => activity.action.starts_with(prefix) && activity.action[prefix.len()..].starts_with('.'),
                None => &activity.action == action,
            })
        && filter
            .target_prefix
            .as_ref()
            .is_none_or(|prefix| activity.target.starts_with(prefix.as_str()))
        && filter.since.is_none_or(|since| activity.at >= since)
}

/// Where one backend stands for one manifest digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanState {
    /// Not finished: never scanned, or the scanner asked to come back later.
    Pending,
    /// A worker holds it until `next_attempt_at` (its lease); after that anyone may take it.
    Scanning,
    /// Finished; the report is stored.
    Done,
    /// The last attempt failed; it is retried with backoff.
    Failed,
}

impl ScanState {
    /// The lower-case name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanState::Pending => "pending",
            ScanState::Scanning => "scanning",
            ScanState::Done => "done",
            ScanState::Failed => "failed",
        }
    }
}

impl FromStr for ScanState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(ScanState::Pending),
            "scanning" => Ok(ScanState::Scanning),
            "done" => Ok(ScanState::Done),
            "failed" => Ok(ScanState::Failed),
            other => Err(Error::Invalid(format!("unknown scan state '{other}'"))),
        }
    }
}

/// One backend's scan of one manifest digest (shared by every tag pointing at it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRecord {
    /// Manifest digest.
    pub digest: String,
    /// Backend name.
    pub backend: String,
    /// State.
    pub state: ScanState,
    /// The report, when done.
    pub report: Option<crate::traits::ScanReport>,
    /// The last error, when failed (or pending after a failure).
    pub error: Option<String>,
    /// Consecutive unsuccessful attempts (drives the backoff).
    pub attempts: u32,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Not to be tried again before this time.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// A registry notification event as stored before it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Arrival order.
    pub seq: i64,
    /// The registry's event id (unique).
    pub event_id: String,
    /// The event's JSON.
    pub payload: String,
}

/// Outcome of applying a stored event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    /// Waiting to be applied.
    Pending,
    /// Applied to the store.
    Applied,
    /// Nothing to do (blob event, unknown namespace with `ignore`, ...).
    Ignored,
    /// Could not be applied; the error is kept.
    Failed,
}

impl EventStatus {
    /// The lower-case name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Pending => "pending",
            EventStatus::Applied => "applied",
            EventStatus::Ignored => "ignored",
            EventStatus::Failed => "failed",
        }
    }
}
