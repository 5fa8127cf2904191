//! The rows of a Portus database this importer reads, as Portus stores them (see
//! `portus-database.md`): integer ids, integer enums, naive UTC timestamps.

use chrono::NaiveDateTime;

/// Everything read from one Portus database.
#[derive(Debug, Clone, Default)]
pub struct PortusSnapshot {
    /// `users`.
    pub users: Vec<PortusUser>,
    /// `teams`.
    pub teams: Vec<PortusTeam>,
    /// `team_users`.
    pub team_users: Vec<PortusTeamUser>,
    /// `registries` (Portus supports one).
    pub registries: Vec<PortusRegistry>,
    /// `namespaces`.
    pub namespaces: Vec<PortusNamespace>,
    /// `repositories`.
    pub repositories: Vec<PortusRepository>,
    /// `tags`.
    pub tags: Vec<PortusTag>,
    /// `stars`: (user id, repository id).
    pub stars: Vec<(i64, i64)>,
    /// `comments`.
    pub comments: Vec<PortusComment>,
    /// `application_tokens`.
    pub application_tokens: Vec<PortusApplicationToken>,
    /// `webhooks`.
    pub webhooks: Vec<PortusWebhook>,
    /// `webhook_headers`: (webhook id, name, value).
    pub webhook_headers: Vec<(i64, String, String)>,
    /// `webhook_deliveries`.
    pub webhook_deliveries: Vec<PortusDelivery>,
    /// `activities`.
    pub activities: Vec<PortusActivity>,
}

/// A row of `users`.
#[derive(Debug, Clone, Default)]
pub struct PortusUser {
    /// id.
    pub id: i64,
    /// username.
    pub username: String,
    /// email ("" for none).
    pub email: Option<String>,
    /// Devise bcrypt hash ("" for none).
    pub encrypted_password: String,
    /// admin.
    pub admin: bool,
    /// enabled.
    pub enabled: bool,
    /// ldap_name.
    pub ldap_name: Option<String>,
    /// locked_at.
    pub locked_at: Option<NaiveDateTime>,
    /// namespace_id: the personal namespace.
    pub namespace_id: Option<i64>,
    /// display_name.
    pub display_name: Option<String>,
    /// provider (OAuth).
    pub provider: Option<String>,
    /// uid (OAuth).
    pub uid: Option<String>,
    /// bot.
    pub bot: bool,
    /// created_at.
    pub created_at: Option<NaiveDateTime>,
}

/// A row of `teams`.
#[derive(Debug, Clone, Default)]
pub struct PortusTeam {
    /// id.
    pub id: i64,
    /// name.
    pub name: String,
    /// hidden.
    pub hidden: bool,
    /// description.
    pub description: Option<String>,
}

/// A row of `team_users`.
#[derive(Debug, Clone, Default)]
pub struct PortusTeamUser {
    /// user_id.
    pub user_id: i64,
    /// team_id.
    pub team_id: i64,
    /// role: 0 viewer, 1 contributor, 2 owner.
    pub role: i64,
}

/// A row of `registries`.
#[derive(Debug, Clone, Default)]
pub struct PortusRegistry {
    /// name.
    pub name: String,
    /// hostname (`host[:port]`).
    pub hostname: String,
    /// use_ssl.
    pub use_ssl: bool,
    /// external_hostname.
    pub external_hostname: Option<String>,
}

/// A row of `namespaces`.
#[derive(Debug, Clone, Default)]
pub struct PortusNamespace {
    /// id.
    pub id: i64,
    /// name.
    pub name: String,
    /// team_id.
    pub team_id: Option<i64>,
    /// global.
    pub global: bool,
    /// description.
    pub description: Option<String>,
    /// visibility: 0 private, 1 protected, 2 public.
    pub visibility: Option<i64>,
}

/// A row of `repositories`.
#[derive(Debug, Clone, Default)]
pub struct PortusRepository {
    /// id.
    pub id: i64,
    /// name (may contain `/`).
    pub name: String,
    /// namespace_id.
    pub namespace_id: Option<i64>,
    /// marked (being deleted).
    pub marked: bool,
    /// description.
    pub description: Option<String>,
    /// created_at.
    pub created_at: Option<NaiveDateTime>,
}

/// A row of `tags`.
#[derive(Debug, Clone, Default)]
pub struct PortusTag {
    /// id.
    pub id: i64,
    /// name.
    pub name: String,
    /// repository_id.
    pub repository_id: i64,
    /// user_id (author).
    pub user_id: Option<i64>,
    /// username (author's name, kept when the author is deleted).
    pub username: Option<String>,
    /// digest.
    pub digest: Option<String>,
    /// image_id.
    pub image_id: Option<String>,
    /// size in bytes.
    pub size: Option<i64>,
    /// marked (being deleted).
    pub marked: bool,
    /// scanned: 0 not scanned, 1 scanning, 2 done.
    pub scanned: i64,
    /// pulled_at.
    pub pulled_at: Option<NaiveDateTime>,
    /// created_at.
    pub created_at: Option<NaiveDateTime>,
    /// updated_at (the push time Portus shows).
    pub updated_at: Option<NaiveDateTime>,
}

/// A row of `comments`.
#[derive(Debug, Clone, Default)]
pub struct PortusComment {
    /// id.
    pub id: i64,
    /// body.
    pub body: String,
    /// repository_id.
    pub repository_id: i64,
    /// user_id.
    pub user_id: Option<i64>,
    /// created_at.
    pub created_at: Option<NaiveDateTime>,
}

/// A row of `application_tokens`.
#[derive(Clone, Default)]
pub struct PortusApplicationToken {
    /// id.
    pub id: i64,
    /// application (the label).
    pub application: String,
    /// token_hash: bcrypt of the plain token.
    pub token_hash: String,
    /// user_id.
    pub user_id: i64,
}

impl std::fmt::Debug for PortusApplicationToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortusApplicationToken")
            .field("id", &self.id)
            .field("application", &self.application)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// A row of `webhooks`.
#[derive(Clone, Default)]
pub struct PortusWebhook {
    /// id.
    pub id: i64,
    /// namespace_id.
    pub namespace_id: i64,
    /// name.
    pub name: String,
    /// url.
    pub url: String,
    /// username.
    pub username: Option<String>,
    /// password (plain text in Portus).
    pub password: Option<String>,
    /// request_method: 0 GET, 1 POST.
    pub request_method: i64,
    /// content_type: 0 JSON, 1 form.
    pub content_type: i64,
    /// enabled.
    pub enabled: bool,
    /// created_at.
    pub created_at: Option<NaiveDateTime>,
}

impl std::fmt::Debug for PortusWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortusWebhook")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A row of `webhook_deliveries`.
#[derive(Debug, Clone, Default)]
pub struct PortusDelivery {
    /// webhook_id.
    pub webhook_id: i64,
    /// uuid.
    pub uuid: String,
    /// status.
    pub status: Option<i64>,
    /// request_header.
    pub request_header: Option<String>,
    /// request_body.
    pub request_body: Option<String>,
    /// response_header.
    pub response_header: Option<String>,
    /// response_body.
    pub response_body: Option<String>,
    /// created_at.
    pub created_at: Option<NaiveDateTime>,
}

/// A row of `activities` (PublicActivity).
#[derive(Debug, Clone, Default)]
pub struct PortusActivity {
    /// id.
    pub id: i64,
    /// trackable_type.
    pub trackable_type: Option<String>,
    /// trackable_id.
    pub trackable_id: Option<i64>,
    /// owner_id (a user).
    pub owner_id: Option<i64>,
    /// key, e.g. `repository.push`.
    pub key: String,
    /// parameters: a Ruby hash serialized as YAML.
    pub parameters: Option<String>,
    /// recipient_type.
    pub recipient_type: Option<String>,
    /// recipient_id.
    pub recipient_id: Option<i64>,
    /// created_at.
    pub created_at: Option<NaiveDateTime>,
}
