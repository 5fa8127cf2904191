//! Pure decisions for the management API (Portus' UI/API policies and `user_permission`
//! knobs): who may see and change users, teams, namespaces and repositories.
//!
//! Registry actions (pull, push, delete) are decided by [`crate::policy::authorize`]; these
//! functions cover everything else. Each returns a [`Permission`]: objects the caller may not
//! even see are reported as hidden, so callers answer "not found" and leak no names.

use crate::model::{Role, Team, TeamFilter, UserId};
use crate::policy::{Caller, PolicyConfig};

/// The answer to "may the caller do this?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Allowed.
    Allow,
    /// The caller may see the object but not do this (HTTP 403).
    Forbidden,
    /// The caller may not even know the object exists (HTTP 404).
    Hidden,
}

fn allow_if(condition: bool) -> Permission {
    if condition {
        Permission::Allow
    } else {
        Permission::Forbidden
    }
}

/// What the management decisions need to know about a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamespaceView {
    /// Whether the caller may see it (pull it; [`crate::policy::authorize`] with `Pull`).
    pub visible: bool,
    /// Whether it is the global namespace.
    pub global: bool,
    /// Whether it is someone's personal namespace.
    pub personal: bool,
    /// The caller's role in its team.
    pub role: Option<Role>,
}

/// Listing, showing, creating, enabling and deleting users: administrators only; a user may see
/// themself.
pub fn view_user(caller: Caller, user: UserId) -> Permission {
    match caller {
        Caller::User { admin: true, .. } => Permission::Allow,
        Caller::User { id, .. } if id == user => Permission::Allow,
        Caller::User { .. } => Permission::Hidden,
        Caller::Anonymous => Permission::Hidden,
    }
}

/// Changing a user's e-mail or password: the user themself or an administrator.
pub fn edit_user(caller: Caller, user: UserId) -> Permission {
    view_user(caller, user)
}

/// Creating, deleting, enabling or disabling users and granting admin rights: administrators
/// only, and never on themselves (so the last administrator cannot lock everyone out).
pub fn administer_user(caller: Caller, user: UserId) -> Permission {
    match caller {
        Caller::User { admin: true, id } => allow_if(id != user),
        other => match view_user(other, user) {
            Permission::Allow => Permission::Forbidden,
            denied => denied,
        },
    }
}

/// Listing, creating and revoking a user's application tokens: the owner or an administrator
/// (Portus let any authenticated user do this for any user id; we do not).
pub fn manage_tokens(caller: Caller, owner: UserId) -> Permission {
    view_user(caller, owner)
}

/// Seeing a team and its members: administrators and members; hidden (personal) teams only
/// administrators.
pub fn view_team(caller: Caller, team: &Team, role: Option<Role>) -> Permission {
    match caller {
        Caller::User { admin: true, .. } => Permission::Allow,
        Caller::User { .. } if !team.hidden && role.is_some() => Permission::Allow,
        _ => Permission::Hidden,
    }
}

/// The teams a team list shows `caller`: the teams [`view_team`] lets them see, less the
/// hidden (personal) ones, which are not listed as teams; `None` when they see none.
pub fn listed_teams(caller: Caller) -> Option<TeamFilter> {
    match caller {
        Caller::User { admin: true, .. } => Some(TeamFilter::default()),
        Caller::User { id, .. } => Some(TeamFilter {
            include_hidden: false,
            member: Some(id),
        }),
        Caller::Anonymous => None,
    }
}

/// Creating a team: any user unless `create_team` is off, then administrators only.
pub fn create_team(caller: Caller, config: &PolicyConfig) -> Permission {
    match caller {
        Caller::Anonymous => Permission::Forbidden,
        Caller::User { admin, .. } => allow_if(admin || config.create_team),
    }
}

/// Renaming or describing a team: owners (unless `manage_team` is off) and administrators;
/// hidden teams never.
pub fn edit_team(caller: Caller, team: &Team, role: Option<Role>, config: &PolicyConfig) -> Permission {
    match view_team(caller, team, role) {
        Permission::Allow if team.hidden => Permission::Forbidden,
        Permission::Allow => allow_if(caller.is_admin() || (config.manage_team && role == Some(Role::Owner))),
        denied => denied,
    }
}

/// Adding, removing and changing members: team owners and administrators; hidden teams never.
pub fn manage_members(caller: Caller, team: &Team, role: Option<Role>) -> Permission {
    match view_team(caller, team, role) {
        Permission::Allow if team.hidden => Permission::Forbidden,
        Permission::Allow => allow_if(caller.is_admin() || role == Some(Role::Owner)),
        denied => denied,
    }
}

/// Seeing a namespace: whoever may pull from it.
pub fn view_namespace(namespace: &NamespaceView) -> Permission {
    if namespace.visible {
        Permission::Allow
    } else {
        Permission::Hidden
    }
}

/// Creating a namespace for a team: its owners and contributors (unless `create_namespace` is
/// off) and administrators.
pub fn create_namespace(caller: Caller, team_role: Option<Role>, config: &PolicyConfig) -> Permission {
    match caller {
        Caller::Anonymous => Permission::Forbidden,
        Caller::User { admin, .. } => {
            allow_if(admin || (config.create_namespace && matches!(team_role, Some(Role::Owner | Role::Contributor))))
        }
    }
}

/// Changing a namespace's description or team: its team's owners (unless `manage_namespace` is
/// off) and administrators; the global namespace only administrators.
pub fn edit_namespace(caller: Caller, namespace: &NamespaceView, config: &PolicyConfig) -> Permission {
    match view_namespace(namespace) {
        Permission::Allow => allow_if(
            caller.is_admin() || (config.manage_namespace && !namespace.global && namespace.role == Some(Role::Owner)),
        ),
        denied => denied,
    }
}

/// Changing a namespace's visibility: its team's owners (unless `change_visibility` is off) and
/// administrators; the global namespace only administrators.
pub fn change_visibility(caller: Caller, namespace: &NamespaceView, config: &PolicyConfig) -> Permission {
    match view_namespace(namespace) {
        Permission::Allow => allow_if(
            caller.is_admin() || (config.change_visibility && !namespace.global && namespace.role == Some(Role::Owner)),
        ),
        denied => denied,
    }
}

/// Deleting a team (with `new_team`, handing its namespaces over): as changing it, its owners
/// (unless `manage_team` is off) and administrators; hidden (personal) teams never.
pub fn delete_team(caller: Caller, team: &Team, role: Option<Role>, config: &PolicyConfig) -> Permission {
    edit_team(caller, team, role, config)
}

/// Deleting a namespace: as changing it, its team's owners (unless `manage_namespace` is off)
/// and administrators. Its images go with it, so the caller also needs the registry's delete
/// right on it when it holds any (the adapter asks [`crate::policy::authorize`]).
pub fn delete_namespace(caller: Caller, namespace: &NamespaceView, config: &PolicyConfig) -> Permission {
    edit_namespace(caller, namespace, config)
}

/// Seeing a namespace's webhooks and their delivery logs (Portus' rule): administrators and
/// the members of its team; others who may see the namespace are forbidden, the rest hidden.
pub fn view_webhooks(caller: Caller, namespace: &NamespaceView) -> Permission {
    match view_namespace(namespace) {
        Permission::Allow => allow_if(caller.is_admin() || namespace.role.is_some()),
        denied => denied,
    }
}

/// Creating and deleting a namespace's webhooks: its team's owners (unless `create_webhook` is
/// off) and administrators.
pub fn create_webhook(caller: Caller, namespace: &NamespaceView, config: &PolicyConfig) -> Permission {
    match view_namespace(namespace) {
        Permission::Allow => {
            allow_if(caller.is_admin() || (config.create_webhook && namespace.role == Some(Role::Owner)))
        }
        denied => denied,
    }
}

/// Changing, enabling, disabling and re-sending a namespace's webhooks: its team's owners
/// (unless `manage_webhook` is off) and administrators.
pub fn manage_webhook(caller: Caller, namespace: &NamespaceView, config: &PolicyConfig) -> Permission {
    match view_namespace(namespace) {
        Permission::Allow => {
            allow_if(caller.is_admin() || (config.manage_webhook && namespace.role == Some(Role::Owner)))
        }
        denied => denied,
    }
}

/// Writing a comment on a repository (Portus' rule): any signed-in user who may see it, which
/// is administrators, its team's members and, in public and protected namespaces, everyone.
pub fn comment(caller: Caller, namespace: &NamespaceView) -> Permission {
    match view_namespace(namespace) {
        Permission::Allow => allow_if(!matches!(caller, Caller::Anonymous)),
        denied => denied,
    }
}

/// Deleting a comment (Portus' rule): its author and administrators, where they may see it.
pub fn delete_comment(caller: Caller, namespace: &NamespaceView, is_author: bool) -> Permission {
    match comment(caller, namespace) {
        Permission::Allow => allow_if(caller.is_admin() || is_author),
        denied => denied,
    }
}

/// Reading the activity log: administrators read all of it, other users only their own
/// activities.
pub fn read_all_activities(caller: Caller) -> bool {
    caller.is_admin()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TeamId;

    const ADMIN: Caller = Caller::User {
        id: UserId(1),
        admin: true,
    };
    const BOB: Caller = Caller::User {
        id: UserId(2),
        admin: false,
    };

    fn team(hidden: bool) -> Team {
        Team {
            id: TeamId(1),
            name: "t".into(),
            description: None,
            hidden,
        }
    }

    fn namespace(role: Option<Role>, global: bool) -> NamespaceView {
        NamespaceView {
            visible: true,
            global,
            personal: false,
            role,
        }
    }

    #[test]
    fn users_are_administered_by_admins_but_not_on_themselves() {
        assert_eq!(view_user(BOB, UserId(2)), Permission::Allow);
        assert_eq!(view_user(BOB, UserId(3)), Permission::Hidden);
        assert_eq!(view_user(Caller::Anonymous, UserId(2)), Permission::Hidden);
        assert_eq!(administer_user(ADMIN, UserId(2)), Permission::Allow);
        assert_eq!(administer_user(ADMIN, UserId(1)), Permission::Forbidden);
        assert_eq!(administer_user(BOB, UserId(2)), Permission::Forbidden);
        assert_eq!(administer_user(BOB, UserId(3)), Permission::Hidden);
        assert_eq!(manage_tokens(BOB, UserId(3)), Permission::Hidden, "Portus' token bug");
    }

    /// A team is listed exactly when it may be seen and is not hidden.
    #[test]
    fn listed_teams_are_the_visible_ones() {
        for caller in [ADMIN, BOB, Caller::Anonymous] {
            for hidden in [false, true] {
                for role in [None, Some(Role::Viewer), Some(Role::Owner)] {
                    let team = team(hidden);
                    let listed = listed_teams(caller).is_some_and(|f| f.admits(&team, role.is_some()));
                    let expected = !hidden && view_team(caller, &team, role) == Permission::Allow;
                    assert_eq!(listed, expected, "{caller:?} hidden={hidden} {role:?}");
                }
            }
        }
    }

    #[test]
    fn teams_follow_roles_and_knobs() {
        let config = PolicyConfig::default();
        let no_manage = PolicyConfig {
            manage_team: false,
            ..config
        };
        let visible = team(false);
        assert_eq!(view_team(BOB, &visible, None), Permission::Hidden);
        assert_eq!(view_team(BOB, &visible, Some(Role::Viewer)), Permission::Allow);
        assert_eq!(view_team(BOB, &team(true), Some(Role::Owner)), Permission::Hidden);
        assert_eq!(edit_team(BOB, &visible, Some(Role::Owner), &config), Permission::Allow);
        assert_eq!(
            edit_team(BOB, &visible, Some(Role::Owner), &no_manage),
            Permission::Forbidden
        );
        assert_eq!(
            edit_team(BOB, &visible, Some(Role::Contributor), &config),
            Permission::Forbidden
        );
        assert_eq!(edit_team(ADMIN, &team(true), None, &config), Permission::Forbidden);
        assert_eq!(manage_members(BOB, &visible, Some(Role::Owner)), Permission::Allow);
        assert_eq!(manage_members(BOB, &visible, Some(Role::Viewer)), Permission::Forbidden);
        assert_eq!(create_team(BOB, &config), Permission::Allow);
        let no_create = PolicyConfig {
            create_team: false,
            ..config
        };
        assert_eq!(create_team(BOB, &no_create), Permission::Forbidden);
        assert_eq!(create_team(ADMIN, &no_create), Permission::Allow);
        assert_eq!(create_team(Caller::Anonymous, &config), Permission::Forbidden);
        assert_eq!(
            delete_team(BOB, &visible, Some(Role::Owner), &config),
            Permission::Allow
        );
        assert_eq!(
            delete_team(BOB, &visible, Some(Role::Owner), &no_manage),
            Permission::Forbidden
        );
        assert_eq!(delete_team(BOB, &visible, None, &config), Permission::Hidden);
        assert_eq!(delete_team(ADMIN, &team(true), None, &config), Permission::Forbidden);
    }

    #[test]
    fn namespaces_follow_roles_and_knobs() {
        let config = PolicyConfig::default();
        let owner = namespace(Some(Role::Owner), false);
        let contributor = namespace(Some(Role::Contributor), false);
        assert_eq!(edit_namespace(BOB, &owner, &config), Permission::Allow);
        assert_eq!(edit_namespace(BOB, &contributor, &config), Permission::Forbidden);
        assert_eq!(
            edit_namespace(
                BOB,
                &owner,
                &PolicyConfig {
                    manage_namespace: false,
                    ..config
                }
            ),
            Permission::Forbidden
        );
        assert_eq!(change_visibility(BOB, &owner, &config), Permission::Allow);
        assert_eq!(
            change_visibility(
                BOB,
                &owner,
                &PolicyConfig {
                    change_visibility: false,
                    ..config
                }
            ),
            Permission::Forbidden
        );
        assert_eq!(
            change_visibility(BOB, &namespace(Some(Role::Owner), true), &config),
            Permission::Forbidden
        );
        assert_eq!(
            change_visibility(ADMIN, &namespace(None, true), &config),
            Permission::Allow
        );
        let hidden = NamespaceView {
            visible: false,
            ..owner
        };
        assert_eq!(edit_namespace(BOB, &hidden, &config), Permission::Hidden);
        assert_eq!(
            create_namespace(BOB, Some(Role::Contributor), &config),
            Permission::Allow
        );
        assert_eq!(
            create_namespace(BOB, Some(Role::Viewer), &config),
            Permission::Forbidden
        );
        assert_eq!(
            create_namespace(
                BOB,
                Some(Role::Owner),
                &PolicyConfig {
                    create_namespace: false,
                    ..config
                }
            ),
            Permission::Forbidden
        );
        assert_eq!(delete_namespace(BOB, &owner, &config), Permission::Allow);
        assert_eq!(
            delete_namespace(BOB, &namespace(Some(Role::Contributor), false), &config),
            Permission::Forbidden
        );
        assert_eq!(
            delete_namespace(ADMIN, &namespace(None, true), &config),
            Permission::Allow
        );
    }

    #[test]
    fn webhooks_follow_roles_and_knobs() {
        let config = PolicyConfig::default();
        let owner = namespace(Some(Role::Owner), false);
        let contributor = namespace(Some(Role::Contributor), false);
        let outsider = namespace(None, false);
        assert_eq!(view_webhooks(BOB, &contributor), Permission::Allow);
        assert_eq!(view_webhooks(BOB, &outsider), Permission::Forbidden);
        assert_eq!(view_webhooks(ADMIN, &outsider), Permission::Allow);
        let hidden = NamespaceView {
            visible: false,
            ..owner
        };
        assert_eq!(view_webhooks(BOB, &hidden), Permission::Hidden);
        assert_eq!(create_webhook(BOB, &hidden, &config), Permission::Hidden);
        for decide in [create_webhook, manage_webhook] {
            assert_eq!(decide(BOB, &owner, &config), Permission::Allow);
            assert_eq!(decide(BOB, &contributor, &config), Permission::Forbidden);
            assert_eq!(decide(ADMIN, &outsider, &config), Permission::Allow);
        }
        let no_create = PolicyConfig {
            create_webhook: false,
            ..config
        };
        assert_eq!(create_webhook(BOB, &owner, &no_create), Permission::Forbidden);
        assert_eq!(manage_webhook(BOB, &owner, &no_create), Permission::Allow);
        let no_manage = PolicyConfig {
            manage_webhook: false,
            ..config
        };
        assert_eq!(manage_webhook(BOB, &owner, &no_manage), Permission::Forbidden);
        assert_eq!(create_webhook(ADMIN, &owner, &no_manage), Permission::Allow);
    }

    #[test]
    fn comments_follow_portus() {
        let seen = NamespaceView {
            visible: true,
            global: false,
            personal: false,
            role: None,
        };
        let hidden = NamespaceView { visible: false, ..seen };
        assert_eq!(comment(BOB, &seen), Permission::Allow);
        assert_eq!(comment(Caller::Anonymous, &seen), Permission::Forbidden);
        assert_eq!(comment(BOB, &hidden), Permission::Hidden);
        assert_eq!(delete_comment(BOB, &seen, true), Permission::Allow);
        assert_eq!(delete_comment(BOB, &seen, false), Permission::Forbidden);
        assert_eq!(delete_comment(ADMIN, &seen, false), Permission::Allow);
        assert_eq!(delete_comment(BOB, &hidden, true), Permission::Hidden);
    }
}
