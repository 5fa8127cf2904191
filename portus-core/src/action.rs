//! The names of the activity log's entries.

use std::fmt;

/// What an activity records. Every write that records an activity names it with one of these,
/// so the same act always has the same name, whichever adapter (REST API, web, CLI, LDAP, OpenID
/// Connect, registry notifications, catalog sync) made it.
///
/// The stored name ([`as_str`](Self::as_str)) is Portus-like and stable: filters and imported
/// logs rely on it. Stored activities keep their name as a string, so entries written by other
/// programs (an imported Portus log) are kept as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ActivityAction {
    /// A user was created.
    UserCreate,
    /// A user was deleted.
    UserDelete,
    /// A user was enabled.
    UserEnable,
    /// A user was disabled.
    UserDisable,
    /// A user's password was set or changed.
    UserPassword,
    /// A user's e-mail was set, changed or removed.
    UserEmail,
    /// A user's display name was set, changed or removed.
    UserDisplayName,
    /// A user became an administrator.
    UserAdminGrant,
    /// A user stopped being an administrator.
    UserAdminRevoke,
    /// A locked account was unlocked.
    UserUnlock,
    /// An account at another identity provider was linked to a user (by an administrator, or
    /// at its first sign-in to an existing account).
    UserIdentityLink,
    /// An account at another identity provider was unlinked from a user.
    UserIdentityUnlink,
    /// A team was created.
    TeamCreate,
    /// A team was renamed or described.
    TeamUpdate,
    /// A member joined a team.
    TeamMemberAdd,
    /// A member's role changed.
    TeamMemberChangeRole,
    /// A member left a team.
    TeamMemberRemove,
    /// A team was deleted (its namespaces deleted or handed to another team first).
    TeamDelete,
    /// A namespace was created.
    NamespaceCreate,
    /// A namespace's description or team changed.
    NamespaceUpdate,
    /// A namespace's visibility changed.
    NamespaceChangeVisibility,
    /// A namespace was deleted with its repositories.
    NamespaceDelete,
    /// An application token was created.
    ApplicationTokenCreate,
    /// An application token was revoked.
    ApplicationTokenDestroy,
    /// A user starred a repository.
    RepositoryStar,
    /// A user unstarred a repository.
    RepositoryUnstar,
    /// A repository's description changed.
    RepositoryUpdate,
    /// A repository was deleted.
    RepositoryDelete,
    /// A comment was written on a repository.
    RepositoryComment,
    /// A comment on a repository was deleted.
    RepositoryCommentDelete,
    /// A tag was pushed (or moved by a push).
    TagPush,
    /// A tag was deleted.
    TagDelete,
    /// A tag the store did not know was found (by a pull or a catalog sync).
    TagDiscovered,
    /// A catalog sync found a tag pointing at another manifest.
    TagMoved,
    /// An outgoing webhook was created.
    WebhookCreate,
    /// An outgoing webhook's settings changed.
    WebhookUpdate,
    /// An outgoing webhook was deleted.
    WebhookDelete,
    /// An outgoing webhook was enabled.
    WebhookEnable,
    /// An outgoing webhook was disabled.
    WebhookDisable,
}

impl ActivityAction {
    /// Every action, for listings and round-trip tests.
    pub const ALL: [ActivityAction; 39] = [
        ActivityAction::UserCreate,
        ActivityAction::UserDelete,
        ActivityAction::UserEnable,
        ActivityAction::UserDisable,
        ActivityAction::UserPassword,
        ActivityAction::UserEmail,
        ActivityAction::UserDisplayName,
        ActivityAction::UserAdminGrant,
        ActivityAction::UserAdminRevoke,
        ActivityAction::UserUnlock,
        ActivityAction::UserIdentityLink,
        ActivityAction::UserIdentityUnlink,
        ActivityAction::TeamCreate,
        ActivityAction::TeamUpdate,
        ActivityAction::TeamMemberAdd,
        ActivityAction::TeamMemberChangeRole,
        ActivityAction::TeamMemberRemove,
        ActivityAction::TeamDelete,
        ActivityAction::NamespaceCreate,
        ActivityAction::NamespaceUpdate,
        ActivityAction::NamespaceChangeVisibility,
        ActivityAction::NamespaceDelete,
        ActivityAction::ApplicationTokenCreate,
        ActivityAction::ApplicationTokenDestroy,
        ActivityAction::RepositoryStar,
        ActivityAction::RepositoryUnstar,
        ActivityAction::RepositoryUpdate,
        ActivityAction::RepositoryDelete,
        ActivityAction::RepositoryComment,
        ActivityAction::RepositoryCommentDelete,
        ActivityAction::TagPush,
        ActivityAction::TagDelete,
        ActivityAction::TagDiscovered,
        ActivityAction::TagMoved,
        ActivityAction::WebhookCreate,
        ActivityAction::WebhookUpdate,
        ActivityAction::WebhookDelete,
        ActivityAction::WebhookEnable,
        ActivityAction::WebhookDisable,
    ];

    /// The stored name (`user.create`, `tag.push`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityAction::UserCreate => "user.create",
            ActivityAction::UserDelete => "user.delete",
            ActivityAction::UserEnable => "user.enable",
            ActivityAction::UserDisable => "user.disable",
            ActivityAction::UserPassword => "user.password",
            ActivityAction::UserEmail => "user.email",
            ActivityAction::UserDisplayName => "user.display_name",
            ActivityAction::UserAdminGrant => "user.admin.grant",
            ActivityAction::UserAdminRevoke => "user.admin.revoke",
            ActivityAction::UserUnlock => "user.unlock",
            ActivityAction::UserIdentityLink => "user.identity.link",
            ActivityAction::UserIdentityUnlink => "user.identity.unlink",
            ActivityAction::TeamCreate => "team.create",
            ActivityAction::TeamUpdate => "team.update",
            ActivityAction::TeamMemberAdd => "team.member.add",
            ActivityAction::TeamMemberChangeRole => "team.member.change_role",
            ActivityAction::TeamMemberRemove => "team.member.remove",
            ActivityAction::TeamDelete => "team.delete",
            ActivityAction::NamespaceCreate => "namespace.create",
            ActivityAction::NamespaceUpdate => "namespace.update",
            ActivityAction::NamespaceChangeVisibility => "namespace.change_visibility",
            ActivityAction::NamespaceDelete => "namespace.delete",
            ActivityAction::ApplicationTokenCreate => "application_token.create",
            ActivityAction::ApplicationTokenDestroy => "application_token.destroy",
            ActivityAction::RepositoryStar => "repository.star",
            ActivityAction::RepositoryUnstar => "repository.unstar",
            ActivityAction::RepositoryUpdate => "repository.update",
            ActivityAction::RepositoryDelete => "repository.delete",
            ActivityAction::RepositoryComment => "repository.comment",
            ActivityAction::RepositoryCommentDelete => "repository.comment.delete",
            ActivityAction::TagPush => "tag.push",
            ActivityAction::TagDelete => "tag.delete",
            ActivityAction::TagDiscovered => "tag.discovered",
            ActivityAction::TagMoved => "tag.moved",
            ActivityAction::WebhookCreate => "webhook.create",
            ActivityAction::WebhookUpdate => "webhook.update",
            ActivityAction::WebhookDelete => "webhook.delete",
            ActivityAction::WebhookEnable => "webhook.enable",
            ActivityAction::WebhookDisable => "webhook.disable",
        }
    }
}

impl fmt::Display for ActivityAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ActivityAction {
    type Err = crate::Error;

    fn from_str(name: &str) -> crate::Result<Self> {
        ActivityAction::ALL
            .into_iter()
            .find(|action| action.as_str() == name)
            .ok_or_else(|| crate::Error::Invalid(format!("unknown activity action '{name}'")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut names: Vec<&str> = ActivityAction::ALL.iter().map(|a| a.as_str()).collect();
        for action in ActivityAction::ALL {
            assert_eq!(action.as_str().parse::<ActivityAction>().unwrap(), action);
            assert_eq!(action.to_string(), action.as_str());
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ActivityAction::ALL.len());
        assert!("team.set_member".parse::<ActivityAction>().is_err());
    }
}
