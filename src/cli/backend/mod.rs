//! Where the resource commands act: the local store ([`Local`], every write through
//! `portus_core::ops`) or a running server's REST API ([`Rest`], with `--server`).
//!
//! Each command is written once against [`Backend`]; both implementations name objects the
//! same way (users, teams, namespaces and repositories by name, tags as `REPOSITORY:TAG`) and
//! report a missing object with the same message, so a script sees no difference.

mod local;
mod rest;
mod server_url;

pub(crate) use local::Local;
pub(crate) use rest::Rest;

use portus_core::model::{ExternalIdentity, Role, TokenLimits, Visibility};
use portus_core::traits::Secret;

use super::views::{MemberView, NamespaceView, RepositoryView, TagView, TeamView, TokenView, UserView};
use super::webhooks::{DeliveryView, WebhookView};
use crate::Error;

/// A user to create.
#[derive(Debug)]
pub(crate) struct NewUserInput {
    pub(crate) name: String,
    pub(crate) email: Option<String>,
    pub(crate) admin: bool,
    pub(crate) password: Option<Secret>,
    /// A bot: no personal namespace, application tokens only.
    pub(crate) bot: bool,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub(crate) struct UserChanges {
    /// `Some(None)` removes the e-mail address.
    pub(crate) email: Option<Option<String>>,
    pub(crate) password: Option<Secret>,
    /// The caller's present password, which the server asks for when users change their own
    /// e-mail or password (ignored on the server's own shell, where the operator is trusted).
    pub(crate) current_password: Option<Secret>,
    pub(crate) admin: Option<bool>,
    pub(crate) enabled: Option<bool>,
    pub(crate) unlock: bool,
}

impl UserChanges {
    /// Whether nothing would change.
    pub(crate) fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.password.is_none()
            && self.admin.is_none()
            && self.enabled.is_none()
            && !self.unlock
    }
}

/// Changes to a team.
#[derive(Debug, Default)]
pub(crate) struct TeamChanges {
    pub(crate) name: Option<String>,
    pub(crate) description: Option<String>,
}

/// A namespace to create.
#[derive(Debug)]
pub(crate) struct NewNamespaceInput {
    pub(crate) name: String,
    pub(crate) team: String,
    pub(crate) visibility: Visibility,
    pub(crate) description: Option<String>,
}

/// Changes to a namespace.
#[derive(Debug, Default)]
pub(crate) struct NamespaceChanges {
    pub(crate) description: Option<String>,
    /// The new owning team's name.
    pub(crate) team: Option<String>,
    pub(crate) visibility: Option<Visibility>,
}

/// An application token of a user, by name or by id.
#[derive(Debug, Clone)]
pub(crate) enum TokenRef {
    Name(String),
    Id(i64),
}

impl TokenRef {
    /// Whether `token` is the one meant.
    pub(crate) fn matches(&self, token: &TokenView) -> bool {
        match self {
            TokenRef::Name(name) => &token.application == name,
            TokenRef::Id(id) => token.id == *id,
        }
    }

    /// "no application token ... of user ..." for a token that is not there.
    pub(crate) fn missing(&self, user: &str) -> Error {
        match self {
            TokenRef::Name(name) => Error::Usage(format!("user '{user}' has no application token named '{name}'")),
            TokenRef::Id(id) => Error::Usage(format!("user '{user}' has no application token with id {id}")),
        }
    }
}

/// What a tag deletion removed: the manifest and every tag that pointed at it.
#[derive(Debug)]
pub(crate) struct DeletedTags {
    pub(crate) digest: String,
    pub(crate) tags: Vec<String>,
}

// The "no such object" messages both backends give.

pub(crate) fn no_user(name: &str) -> Error {
    Error::Usage(format!("no user named '{name}'"))
}

pub(crate) fn no_team(name: &str) -> Error {
    Error::Usage(format!("no team named '{name}'"))
}

pub(crate) fn no_namespace(name: &str) -> Error {
    Error::Usage(format!("no namespace named '{name}'"))
}

pub(crate) fn no_repository(name: &str) -> Error {
    Error::Usage(format!("no repository named '{name}'"))
}

pub(crate) fn no_tag(repository: &str, tag: &str) -> Error {
    Error::Usage(format!("no tag {repository}:{tag}"))
}

pub(crate) fn not_a_member(team: &str, user: &str) -> Error {
    Error::Usage(format!("'{user}' is not a member of team '{team}'"))
}

/// The "share the manifest" refusal of a tag deletion, with the way out.
pub(crate) fn siblings_hint(message: &str) -> Error {
    Error::Usage(format!("{message}. Re-run with --with-siblings to delete them all"))
}

/// The users, teams, members, namespaces, application tokens, repositories and tags one can
/// list, show, create, change and delete. Lists come in the order the store or server gives.
pub(crate) trait Backend {
    /// Every user.
    async fn users(&self) -> Result<Vec<UserView>, Error>;
    /// One user by name.
    async fn user(&self, name: &str) -> Result<UserView, Error>;
    /// Creates a user; also returns their personal namespace's name.
    async fn create_user(&self, new: NewUserInput) -> Result<(UserView, Option<String>), Error>;
    /// Changes a user: every change is checked before any is made.
    async fn update_user(&self, name: &str, changes: UserChanges) -> Result<UserView, Error>;
    /// Deletes a user.
    async fn delete_user(&self, name: &str) -> Result<(), Error>;
    /// The accounts at other identity providers linked to a user.
    async fn identities(&self, user: &str) -> Result<Vec<ExternalIdentity>, Error>;
    /// Links an identity to a user; `false` if it was linked to them already.
    async fn link_identity(&self, user: &str, identity: &ExternalIdentity) -> Result<bool, Error>;
    /// Unlinks an identity from a user.
    async fn unlink_identity(&self, user: &str, identity: &ExternalIdentity) -> Result<(), Error>;

    /// A user's application tokens.
    async fn tokens(&self, user: &str) -> Result<Vec<TokenView>, Error>;
    /// Creates an application token; the secret is returned once.
    async fn create_token(&self, user: &str, name: &str, limits: &TokenLimits) -> Result<(TokenView, Secret), Error>;
    /// Revokes an application token.
    async fn revoke_token(&self, user: &str, token: &TokenRef) -> Result<TokenView, Error>;

    /// Every (visible) team.
    async fn teams(&self) -> Result<Vec<TeamView>, Error>;
    /// One team by name.
    async fn team(&self, name: &str) -> Result<TeamView, Error>;
    /// Creates a team owned by `owner`.
    async fn create_team(&self, name: &str, owner: &str, description: Option<String>) -> Result<TeamView, Error>;
    /// Renames or describes a team.
    async fn update_team(&self, name: &str, changes: TeamChanges) -> Result<TeamView, Error>;
    /// Deletes a team.
    /// With `heir`, its namespaces are handed to that team; otherwise they are deleted too.
    async fn delete_team(&self, name: &str, heir: Option<&str>) -> Result<(), Error>;
    /// A team's members.
    async fn members(&self, team: &str) -> Result<Vec<MemberView>, Error>;
    /// Adds a member; returns the role given (administrators are always owners).
    async fn add_member(&self, team: &str, user: &str, role: Role) -> Result<MemberView, Error>;
    /// Changes a member's role.
    async fn update_member(&self, team: &str, user: &str, role: Role) -> Result<MemberView, Error>;
    /// Removes a member.
    async fn remove_member(&self, team: &str, user: &str) -> Result<(), Error>;

    /// Every namespace.
    async fn namespaces(&self) -> Result<Vec<NamespaceView>, Error>;
    /// One namespace by name (`(global)` for the global one).
    async fn namespace(&self, name: &str) -> Result<NamespaceView, Error>;
    /// Creates a namespace.
    async fn create_namespace(&self, new: NewNamespaceInput) -> Result<NamespaceView, Error>;
    /// Changes a namespace's description, team or visibility.
    async fn update_namespace(&self, name: &str, changes: NamespaceChanges) -> Result<NamespaceView, Error>;
    /// Deletes a namespace.
    async fn delete_namespace(&self, name: &str) -> Result<(), Error>;

    /// Every repository.
    async fn repositories(&self) -> Result<Vec<RepositoryView>, Error>;
    /// One repository by full name.
    async fn repository(&self, name: &str) -> Result<RepositoryView, Error>;
    /// Sets a repository's description.
    async fn update_repository(&self, name: &str, description: String) -> Result<RepositoryView, Error>;
    /// Deletes a repository in the registry and the store.
    async fn delete_repository(&self, name: &str) -> Result<(), Error>;
    /// Tags of one repository, or of all.
    async fn tags(&self, repository: Option<&str>) -> Result<Vec<TagView>, Error>;
    /// One tag.
    async fn tag(&self, repository: &str, tag: &str) -> Result<TagView, Error>;
    /// Deletes a tag's manifest (with its sibling tags only if `with_siblings`).
    async fn delete_tag(&self, repository: &str, tag: &str, with_siblings: bool) -> Result<DeletedTags, Error>;
}

/// A namespace's outgoing webhooks, named by namespace and webhook name.
pub(crate) trait WebhookBackend {
    /// The namespace's webhooks.
    async fn webhooks(&self, namespace: &str) -> Result<Vec<WebhookView>, Error>;
    /// Creates a webhook; returns it and its signing secret (shown this once).
    async fn create_webhook(
        &self,
        namespace: &str,
        changes: portus_scan::webhooks::WebhookChanges,
    ) -> Result<(WebhookView, String), Error>;
    /// Changes a webhook.
    async fn update_webhook(
        &self,
        namespace: &str,
        webhook: &str,
        changes: portus_scan::webhooks::WebhookChanges,
    ) -> Result<WebhookView, Error>;
    /// Gives a webhook a new signing secret; returns it (shown this once).
    async fn rotate_secret(&self, namespace: &str, webhook: &str) -> Result<String, Error>;
    /// Deletes a webhook and its deliveries.
    async fn delete_webhook(&self, namespace: &str, webhook: &str) -> Result<(), Error>;
    /// The webhook's latest deliveries, newest first.
    async fn deliveries(&self, namespace: &str, webhook: &str) -> Result<Vec<DeliveryView>, Error>;
    /// Queues delivery `delivery` again; returns the new delivery.
    async fn resend(&self, namespace: &str, webhook: &str, delivery: i64) -> Result<DeliveryView, Error>;
}

pub(crate) fn no_webhook(namespace: &str, name: &str) -> Error {
    Error::Usage(format!("namespace '{namespace}' has no webhook named '{name}'"))
}

pub(crate) fn no_delivery(webhook: &str, id: i64) -> Error {
    Error::Usage(format!("webhook '{webhook}' has no delivery {id}"))
}
