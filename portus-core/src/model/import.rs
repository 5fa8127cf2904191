use chrono::{DateTime, Utc};

use super::{Role, Visibility};

/// A set of rows from another installation, written by
/// [`ImportStore::import_batch`](crate::traits::ImportStore::import_batch) in one transaction.
///
/// Rows refer to each other by name (user, team, namespace and repository names), as the
/// source's ids mean nothing here. Every row carries a `source_key` (its identity at the source,
/// e.g. the Portus id), recorded in the import ledger with the row: a row the ledger knows is
/// never written again (importing twice writes nothing, and what was deleted here after an
/// import stays deleted). An account row (user, team, namespace, membership, token) whose name
/// is taken here by something this import did not bring fails the batch with `Conflict`:
/// an import never hands its rights to a local account of the same name. Catalog rows
/// (repositories, tags, stars) that exist already — the registry's notifications may have
/// recorded them first — are adopted as they are, and namespaces the registry's pushes created
/// without a team are adopted and given the imported team, visibility and description.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ImportBatch {
    /// Names the source installation in the import ledger (for example `portus`).
    pub source: String,
    /// Accounts.
    pub users: Vec<ImportedUser>,
    /// Teams, hidden personal teams included.
    pub teams: Vec<ImportedTeam>,
    /// Namespaces; the global namespace is updated, never created.
    pub namespaces: Vec<ImportedNamespace>,
    /// Team memberships.
    pub memberships: Vec<ImportedMembership>,
    /// Repositories.
    pub repositories: Vec<ImportedRepository>,
    /// Tags.
    pub tags: Vec<ImportedTag>,
    /// Stars.
    pub stars: Vec<ImportedStar>,
    /// Comments.
    pub comments: Vec<ImportedComment>,
    /// Application tokens.
    pub app_tokens: Vec<ImportedAppToken>,
    /// Outgoing webhooks with their headers and deliveries.
    pub webhooks: Vec<ImportedWebhook>,
    /// Activity log entries.
    pub activities: Vec<ImportedActivity>,
}

impl ImportBatch {
    /// An empty batch from `source`.
    pub fn new(source: impl Into<String>) -> Self {
        ImportBatch {
            source: source.into(),
            ..ImportBatch::default()
        }
    }

    /// The number of rows in the batch.
    pub fn len(&self) -> usize {
        self.users.len()
            + self.teams.len()
            + self.namespaces.len()
            + self.memberships.len()
            + self.repositories.len()
            + self.tags.len()
            + self.stars.len()
            + self.comments.len()
            + self.app_tokens.len()
            + self.webhooks.len()
            + self.activities.len()
    }

    /// Whether the batch holds no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An account.
#[derive(Clone, Default)]
pub struct ImportedUser {
    /// Identity at the source (for the import ledger).
    pub source_key: String,
    /// Login name.
    pub username: String,
    /// E-mail.
    pub email: Option<String>,
    /// Administrator.
    pub admin: bool,
    /// Disabled accounts cannot sign in.
    pub enabled: bool,
    /// Locked accounts stay locked until this time (an administrator can unlock them earlier).
    pub locked_until: Option<DateTime<Utc>>,
    /// A bcrypt hash (`$2a$`, `$2b$`, `$2y$`) kept as it is; `None` = no local password.
    pub password_hash: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Bot account.
    pub bot: bool,
    /// External identities: (provider, issuer, subject), e.g. `("ldap", "", "uid=alice,…")`.
    pub identities: Vec<(String, String, String)>,
    /// When the account was created at the source.
    pub created_at: Option<DateTime<Utc>>,
}

/// A team.
#[derive(Debug, Clone, Default)]
pub struct ImportedTeam {
    /// Identity at the source (for the import ledger).
    pub source_key: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Hidden (a personal team).
    pub hidden: bool,
}

/// A namespace.
#[derive(Debug, Clone)]
pub struct ImportedNamespace {
    /// Identity at the source (for the import ledger).
    pub source_key: String,
    /// Name; empty for the global namespace.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Visibility.
    pub visibility: Visibility,
    /// The owning team's name.
    pub team: Option<String>,
    /// For a personal namespace, its owner's user name.
    pub personal_owner: Option<String>,
    /// The global namespace (only its description and visibility are imported).
    pub global: bool,
}

/// A team membership.
#[derive(Debug, Clone)]
pub struct ImportedMembership {
    /// Identity at the source (for the import ledger).
    pub source_key: String,
    /// Team name.
    pub team: String,
    /// User name.
    pub username: String,
    /// Role.
    pub role: Role,
}

/// A repository.
#[derive(Debug, Clone, Default)]
pub struct ImportedRepository {
    /// Identity at the source (for the import ledger).
    pub source_key: String,
    /// Full name (`namespace/name`, or `name` in the global namespace).
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// When it was created at the source.
    pub created_at: Option<DateTime<Utc>>,
}

/// A tag.
#[derive(Debug, Clone, Default)]
pub struct ImportedTag {
    /// Identity at the source (for the import ledger).
    pub source_key: String,
    /// Repository full name.
    pub repository: String,
    /// Tag name.
    pub name: String,
    /// Manifest digest (`sha256:…`).
    pub digest: String,
    /// Manifest media type when known.
    pub media_type: Option<String>,
    /// Image id (config digest).
    pub image_id: Option<String>,
    /// Image size in bytes.
    pub image_size: Option<u64>,
    /// Who pushed it.
    pub pushed_by: Option<String>,
    /// First push.
    pub created_at: Option<DateTime<Utc>>,
    /// Latest push.
    pub updated_at: Option<DateTime<Utc>>,
    /// Latest pull.
    pub pulled_at: Option<DateTime<Utc>>,
}

/// A star.
#[derive(Debug, Clone, Default)]
pub struct ImportedStar {
    /// Identity at the source (for the import ledger).
    pub source_key: String,
    /// User name.
    pub username: String,
    /// Repository full name.
    pub repository: String,
}

/// A comment on a repository.
#[derive(Debug, Clone, Default)]
pub struct ImportedComment {
    /// Identity at the source (for the import ledger).
    pub source_key: String,
    /// Repository full name.
    pub repository: String,
    /// Author name.
    pub author: Option<String>,
    /// Markdown text.
    pub body: String,
    /// When it was written.
    pub created_at: Option<DateTime<Utc>>,
}

/// An application token, kept by its hash.
#[derive(Clone, Default)]
pub struct ImportedAppToken {
    /// Identity at the source (for the import ledger).
    pub source_key: String,
    /// Owner's user name.
    pub username: String,
    /// Label.
    pub label: String,
    /// The stored hash: this project's `sha256:…` digest or a bcrypt hash from Portus, which
    /// is verified on use and then re-stored as a digest.
    pub secret_hash: String,
}

/// An outgoing webhook of a namespace.
#[derive(Clone, Default)]
pub struct ImportedWebhook {
    /// Identity at the source (for the import ledger).
    pub source_key: String,
    /// Namespace name (empty for the global namespace).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Target URL.
    pub url: String,
    /// `GET` or `POST`.
    pub method: String,
    /// Request content type.
    pub content_type: String,
    /// HTTP Basic user name.
    pub username: Option<String>,
    /// HTTP Basic password.
    pub password: Option<String>,
    /// Whether it fires.
    pub enabled: bool,
    /// Extra request headers (name, value).
    pub headers: Vec<(String, String)>,
    /// Past deliveries.
    pub deliveries: Vec<ImportedDelivery>,
    /// When it was created.
    pub created_at: Option<DateTime<Utc>>,
}

/// One past delivery of a webhook.
#[derive(Debug, Clone, Default)]
pub struct ImportedDelivery {
    /// Delivery id, unique per webhook.
    pub uuid: String,
    /// HTTP status answered.
    pub status: Option<i64>,
    /// Request headers as the source recorded them.
    pub request_header: Option<String>,
    /// Request body.
    pub request_body: Option<String>,
    /// Response headers.
    pub response_header: Option<String>,
    /// Response body.
    pub response_body: Option<String>,
    /// When it was sent.
    pub created_at: Option<DateTime<Utc>>,
}

/// An activity log entry.
#[derive(Debug, Clone, Default)]
pub struct ImportedActivity {
    /// Identity at the source (for the import ledger).
    pub source_key: String,
    /// When it happened.
    pub at: Option<DateTime<Utc>>,
    /// Actor name.
    pub actor: Option<String>,
    /// This project's action name.
    pub action: String,
    /// Target.
    pub target: String,
    /// Details.
    pub details: Option<String>,
}

/// How many rows of each kind an import wrote; rows already present are not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportCounts {
    /// Users.
    pub users: u64,
    /// Teams.
    pub teams: u64,
    /// Namespaces (created or, for the global one, updated).
    pub namespaces: u64,
    /// Memberships.
    pub memberships: u64,
    /// Repositories.
    pub repositories: u64,
    /// Tags.
    pub tags: u64,
    /// Stars.
    pub stars: u64,
    /// Comments.
    pub comments: u64,
    /// Application tokens.
    pub app_tokens: u64,
    /// Webhooks.
    pub webhooks: u64,
    /// Activities.
    pub activities: u64,
}

impl ImportCounts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: ImportCounts) {
        self.users += other.users;
        self.teams += other.teams;
        self.namespaces += other.namespaces;
        self.memberships += other.memberships;
        self.repositories += other.repositories;
        self.tags += other.tags;
        self.stars += other.stars;
        self.comments += other.comments;
        self.app_tokens += other.app_tokens;
        self.webhooks += other.webhooks;
        self.activities += other.activities;
    }

    /// The total number of rows written.
    pub fn total(&self) -> u64 {
        self.users
            + self.teams
            + self.namespaces
            + self.memberships
            + self.repositories
            + self.tags
            + self.stars
            + self.comments
            + self.app_tokens
            + self.webhooks
            + self.activities
    }
}

impl std::fmt::Debug for ImportedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportedUser")
            .field("source_key", &self.source_key)
            .field("username", &self.username)
            .field("admin", &self.admin)
            .field("enabled", &self.enabled)
            .field("has_password", &self.password_hash.is_some())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ImportedAppToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportedAppToken")
            .field("source_key", &self.source_key)
            .field("username", &self.username)
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ImportedWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportedWebhook")
            .field("source_key", &self.source_key)
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("url", &self.url)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// The error of an account row whose name is taken here by something the import did not
/// bring: an import never hands its rights to a local account of the same name.
pub(crate) fn import_name_taken(kind: &str, name: &str) -> crate::Error {
    crate::Error::Conflict(format!(
        "{kind} '{name}' exists here already and was not brought by this import: \
         rename or remove it here, then import again"
    ))
}
