//! Pure authorization: who may do which registry action on which namespace.
//!
//! [`authorize`] implements the Portus decision table (namespace visibility, team roles, push
//! policy, delete settings, catalog access) for ONE action. Callers check every requested action
//! on its own; `*` is granted only when pull, push and delete would all be granted, because the
//! registry treats a `*` grant as every action.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::model::{Role, TeamId, Visibility, VisibleNamespaces};
use crate::{Error, model::UserId};

/// Who may push images (Portus' `user_permission.push_images.policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PushPolicy {
    /// Administrators, and owners or contributors of the namespace's team.
    #[default]
    AllowTeams,
    /// Administrators, and each user into their own personal namespace only.
    AllowPersonal,
    /// Administrators only.
    AdminOnly,
}

impl FromStr for PushPolicy {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "allow-teams" => Ok(PushPolicy::AllowTeams),
            "allow-personal" => Ok(PushPolicy::AllowPersonal),
            "admin-only" => Ok(PushPolicy::AdminOnly),
            other => Err(Error::Invalid(format!(
                "unknown push policy '{other}' (expected allow-teams, allow-personal or admin-only)"
            ))),
        }
    }
}

/// The authorization settings (Portus' `user_permission.push_images` and `delete` sections).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Who may push.
    pub push_images: PushPolicy,
    /// Whether anyone may delete (`delete.enabled`).
    pub delete_enabled: bool,
    /// Whether contributors may delete as well as owners (`delete.contributors`).
    pub delete_contributors: bool,
    /// Whether anonymous callers may pull public namespaces.
    pub anonymous_pull: bool,
    /// Portus' `user_permission.change_visibility`: team owners may change their namespaces'
    /// visibility (otherwise administrators only).
    pub change_visibility: bool,
    /// `user_permission.create_team`: any user may create teams (otherwise administrators only).
    pub create_team: bool,
    /// `user_permission.manage_team`: team owners may edit their teams (otherwise administrators
    /// only).
    pub manage_team: bool,
    /// `user_permission.create_namespace`: team owners and contributors may create namespaces
    /// for their teams (otherwise administrators only).
    pub create_namespace: bool,
    /// `user_permission.manage_namespace`: team owners may edit their namespaces and move them
    /// to another team (otherwise administrators only).
    pub manage_namespace: bool,
    /// `user_permission.create_webhook`: team owners may create and delete their namespaces'
    /// webhooks (otherwise administrators only).
    pub create_webhook: bool,
    /// `user_permission.manage_webhook`: team owners may change and enable or disable their
    /// namespaces' webhooks (otherwise administrators only).
    pub manage_webhook: bool,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            push_images: PushPolicy::AllowTeams,
            delete_enabled: true,
            delete_contributors: false,
            anonymous_pull: true,
            change_visibility: true,
            create_team: true,
            manage_team: true,
            create_namespace: true,
            manage_namespace: true,
            create_webhook: true,
            manage_webhook: true,
        }
    }
}

/// The authenticated caller, as far as policy is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// No credentials were presented.
    Anonymous,
    /// An authenticated, enabled user.
    User {
        /// The user's id.
        id: UserId,
        /// Whether the user is an administrator.
        admin: bool,
    },
}

impl Caller {
    /// The user's id; `None` for anonymous callers.
    pub fn user_id(self) -> Option<UserId> {
        match self {
            Caller::User { id, .. } => Some(id),
            Caller::Anonymous => None,
        }
    }

    /// Whether the caller is an administrator.
    pub fn is_admin(self) -> bool {
        matches!(self, Caller::User { admin: true, .. })
    }
}

/// What policy needs to know about the target namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamespaceFacts {
    /// Namespace visibility.
    pub visibility: Visibility,
    /// Whether it is the global namespace (owned by administrators).
    pub global: bool,
    /// The caller's role in the owning team, if a member.
    pub role: Option<Role>,
    /// Whether it is the caller's own personal namespace.
    pub personal_of_caller: bool,
}

impl NamespaceFacts {
    /// The facts of `namespace` for the user `caller` (if any), whose role in its team is `role`.
    pub fn of(namespace: &crate::model::Namespace, role: Option<Role>, caller: Option<UserId>) -> Self {
        NamespaceFacts {
            visibility: namespace.visibility,
            global: namespace.global,
            role,
            personal_of_caller: caller.is_some() && namespace.personal_owner == caller,
        }
    }
}

/// A registry action the policy knows about. Unknown action strings have no variant: they are
/// never granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `pull` on a repository.
    Pull,
    /// `push` on a repository.
    Push,
    /// `delete` on a repository.
    Delete,
    /// `*` on a repository: every action.
    All,
}

impl Action {
    /// Maps a scope action string to a known action; `None` for anything else.
    pub fn from_scope(action: &str) -> Option<Action> {
        match action {
            "pull" => Some(Action::Pull),
            "push" => Some(Action::Push),
            "delete" => Some(Action::Delete),
            "*" => Some(Action::All),
            _ => None,
        }
    }

    /// The scope spelling of the action.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
            Action::All => "*",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an action was denied (for logs and tests; never shown to the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// The action needs an authenticated caller.
    NotAuthenticated,
    /// The namespace does not exist and the caller is not an administrator.
    NoSuchNamespace,
    /// The namespace is not visible to the caller.
    NotVisible,
    /// The push policy does not allow this caller to push here.
    PushNotAllowed,
    /// Deletion is disabled in the configuration.
    DeleteDisabled,
    /// The caller's role does not allow deletion.
    DeleteNotAllowed,
    /// Only administrators may do this.
    AdminOnly,
    /// Anonymous access is disabled.
    AnonymousDisabled,
}

/// Outcome of one authorization check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The action is granted.
    Allow,
    /// The action is refused.
    Deny(DenyReason),
}

impl Decision {
    /// Whether the action is granted.
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

fn allow_if(condition: bool, reason: DenyReason) -> Decision {
    if condition {
        Decision::Allow
    } else {
        Decision::Deny(reason)
    }
}

/// Decides one repository action. `namespace` is `None` when the namespace does not exist.
pub fn authorize(
    caller: Caller,
    namespace: Option<&NamespaceFacts>,
    action: Action,
    config: &PolicyConfig,
) -> Decision {
    if action == Action::All {
        // The registry reads a `*` grant as every action, so it must be as strict as all three.
        return [Action::Pull, Action::Push, Action::Delete]
            .into_iter()
            .map(|a| authorize(caller, namespace, a, config))
            .find(|d| !d.is_allowed())
            .unwrap_or(Decision::Allow);
    }
    let Some(ns) = namespace else {
        // Only administrators may act on namespaces that do not exist (yet).
        return match caller {
            Caller::Anonymous => Decision::Deny(DenyReason::NotAuthenticated),
            Caller::User { .. } if action == Action::Delete && !config.delete_enabled => {
                Decision::Deny(DenyReason::DeleteDisabled)
            }
            Caller::User { admin, .. } => allow_if(admin, DenyReason::NoSuchNamespace),
        };
    };
    match action {
        Action::Pull => pull(caller, ns, config),
        Action::Push => push(caller, ns, config),
        Action::Delete => delete(caller, ns, config),
        Action::All => unreachable!("handled above"),
    }
}

fn pull(caller: Caller, ns: &NamespaceFacts, config: &PolicyConfig) -> Decision {
    match caller {
        Caller::Anonymous => match ns.visibility {
            Visibility::Public if config.anonymous_pull => Decision::Allow,
            Visibility::Public => Decision::Deny(DenyReason::AnonymousDisabled),
            _ => Decision::Deny(DenyReason::NotAuthenticated),
        },
        Caller::User { admin, .. } => allow_if(
            admin || ns.visibility != Visibility::Private || ns.global || ns.role.is_some(),
            DenyReason::NotVisible,
        ),
    }
}

/// The namespaces `caller` may pull from, as a store selects them for a list: the pull rule
/// above turned into a filter. `teams` are the teams the caller is a member of (ignored for
/// anonymous callers and administrators). A namespace is on the list exactly when
/// [`authorize`] allows `caller` to pull from it.
pub fn visible_namespaces(
    caller: Caller,
    teams: impl IntoIterator<Item = TeamId>,
    config: &PolicyConfig,
) -> VisibleNamespaces {
    match caller {
        Caller::Anonymous => VisibleNamespaces::Some {
            visibilities: if config.anonymous_pull {
                vec![Visibility::Public]
            } else {
                Vec::new()
            },
            global: false,
            teams: Vec::new(),
        },
        Caller::User { admin: true, .. } => VisibleNamespaces::All,
        Caller::User { .. } => VisibleNamespaces::Some {
            visibilities: vec![Visibility::Public, Visibility::Protected],
            global: true,
            teams: teams.into_iter().collect(),
        },
    }
}

fn push(caller: Caller, ns: &NamespaceFacts, config: &PolicyConfig) -> Decision {
    let Caller::User { admin, .. } = caller else {
        return Decision::Deny(DenyReason::NotAuthenticated);
    };
    if admin {
        return Decision::Allow;
    }
    let allowed = match config.push_images {
        PushPolicy::AdminOnly => false,
        PushPolicy::AllowPersonal => ns.personal_of_caller,
        // The global namespace belongs to administrators, who were handled above.
        PushPolicy::AllowTeams => !ns.global && matches!(ns.role, Some(Role::Owner | Role::Contributor)),
    };
    allow_if(allowed, DenyReason::PushNotAllowed)
}

fn delete(caller: Caller, ns: &NamespaceFacts, config: &PolicyConfig) -> Decision {
    if caller == Caller::Anonymous {
        return Decision::Deny(DenyReason::NotAuthenticated);
    }
    if !config.delete_enabled {
        return Decision::Deny(DenyReason::DeleteDisabled);
    }
    let allowed = caller.is_admin()
        || (!ns.global
            && match ns.role {
                Some(Role::Owner) => true,
                Some(Role::Contributor) => config.delete_contributors,
                _ => false,
            });
    allow_if(allowed, DenyReason::DeleteNotAllowed)
}

/// Decides `registry:catalog:*`: administrators only.
pub fn authorize_catalog(caller: Caller) -> Decision {
    match caller {
        Caller::Anonymous => Decision::Deny(DenyReason::NotAuthenticated),
        Caller::User { admin, .. } => allow_if(admin, DenyReason::AdminOnly),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use Visibility::*;

    const ALICE: UserId = UserId(1);
    const USER: Caller = Caller::User {
        id: ALICE,
        admin: false,
    };
    const ADMIN: Caller = Caller::User {
        id: UserId(2),
        admin: true,
    };

    fn ns(visibility: Visibility, role: Option<Role>) -> NamespaceFacts {
        NamespaceFacts {
            visibility,
            global: false,
            role,
            personal_of_caller: false,
        }
    }

    fn personal() -> NamespaceFacts {
        NamespaceFacts {
            visibility: Private,
            global: false,
            role: Some(Role::Owner),
            personal_of_caller: true,
        }
    }

    fn global(visibility: Visibility) -> NamespaceFacts {
        NamespaceFacts {
            visibility,
            global: true,
            role: None,
            personal_of_caller: false,
        }
    }

    fn check(caller: Caller, facts: Option<NamespaceFacts>, action: Action, config: PolicyConfig) -> bool {
        authorize(caller, facts.as_ref(), action, &config).is_allowed()
    }

    /// Section 2.3 of the Portus inventory with the default configuration: one row per caller,
    /// columns pull public / pull protected / pull private / push / delete / `*`.
    #[test]
    fn decision_table_default_config() {
        let config = PolicyConfig::default();
        type Row = (&'static str, Caller, Option<Role>, [bool; 6]);
        let rows: [Row; 6] = [
            (
                "anonymous",
                Caller::Anonymous,
                None,
                [true, false, false, false, false, false],
            ),
            ("non-member", USER, None, [true, true, false, false, false, false]),
            (
                "viewer",
                USER,
                Some(Role::Viewer),
                [true, true, true, false, false, false],
            ),
            (
                "contributor",
                USER,
                Some(Role::Contributor),
                [true, true, true, true, false, false],
            ),
            ("owner", USER, Some(Role::Owner), [true, true, true, true, true, true]),
            ("admin", ADMIN, None, [true, true, true, true, true, true]),
        ];
        for (who, caller, role, expected) in rows {
            let got = [
                check(caller, Some(ns(Public, role)), Pull, config),
                check(caller, Some(ns(Protected, role)), Pull, config),
                check(caller, Some(ns(Private, role)), Pull, config),
                check(caller, Some(ns(Private, role)), Push, config),
                check(caller, Some(ns(Private, role)), Delete, config),
                check(caller, Some(ns(Private, role)), All, config),
            ];
            assert_eq!(got, expected, "row {who}");
        }
    }

    #[test]
    fn push_and_delete_do_not_depend_on_visibility() {
        let config = PolicyConfig::default();
        for visibility in [Public, Protected] {
            assert!(!check(USER, Some(ns(visibility, None)), Push, config));
            assert!(!check(USER, Some(ns(visibility, Some(Role::Viewer))), Push, config));
            assert!(check(USER, Some(ns(visibility, Some(Role::Contributor))), Push, config));
            assert!(!check(Caller::Anonymous, Some(ns(visibility, None)), Push, config));
            assert!(!check(Caller::Anonymous, Some(ns(visibility, None)), Delete, config));
        }
    }

    #[test]
    fn catalog_is_admin_only() {
        assert!(authorize_catalog(ADMIN).is_allowed());
        assert_eq!(authorize_catalog(USER), Decision::Deny(DenyReason::AdminOnly));
        assert_eq!(
            authorize_catalog(Caller::Anonymous),
            Decision::Deny(DenyReason::NotAuthenticated)
        );
    }

    #[test]
    fn global_namespace_push_and_delete_are_admin_only() {
        let config = PolicyConfig::default();
        for visibility in [Public, Protected] {
            let g = Some(global(visibility));
            assert!(check(USER, g, Pull, config));
            assert!(!check(USER, g, Push, config));
            assert!(!check(USER, g, Delete, config));
            assert!(check(ADMIN, g, Push, config));
            assert!(check(ADMIN, g, Delete, config));
        }
        assert!(check(Caller::Anonymous, Some(global(Public)), Pull, config));
        assert!(!check(Caller::Anonymous, Some(global(Protected)), Pull, config));
    }

    #[test]
    fn allow_personal_policy() {
        let config = PolicyConfig {
            push_images: PushPolicy::AllowPersonal,
            ..PolicyConfig::default()
        };
        assert!(check(USER, Some(personal()), Push, config));
        assert!(!check(USER, Some(ns(Private, Some(Role::Owner))), Push, config));
        assert!(!check(USER, Some(ns(Private, Some(Role::Contributor))), Push, config));
        assert!(check(ADMIN, Some(ns(Private, None)), Push, config));
        // Owners keep delete but, without push, never get `*`.
        assert!(check(USER, Some(ns(Private, Some(Role::Owner))), Delete, config));
        assert!(!check(USER, Some(ns(Private, Some(Role::Owner))), All, config));
    }

    #[test]
    fn admin_only_policy() {
        let config = PolicyConfig {
            push_images: PushPolicy::AdminOnly,
            ..PolicyConfig::default()
        };
        assert!(!check(USER, Some(personal()), Push, config));
        assert!(!check(USER, Some(ns(Private, Some(Role::Owner))), Push, config));
        assert!(!check(USER, Some(personal()), All, config));
        assert!(check(ADMIN, Some(ns(Private, None)), Push, config));
        assert!(check(USER, Some(personal()), Pull, config));
    }

    #[test]
    fn delete_settings() {
        let disabled = PolicyConfig {
            delete_enabled: false,
            ..PolicyConfig::default()
        };
        for caller in [ADMIN, USER] {
            assert_eq!(
                authorize(caller, Some(&ns(Private, Some(Role::Owner))), Delete, &disabled),
                Decision::Deny(DenyReason::DeleteDisabled)
            );
            assert!(!check(caller, Some(ns(Private, Some(Role::Owner))), All, disabled));
            assert!(!check(caller, None, Delete, disabled));
        }
        let contributors = PolicyConfig {
            delete_contributors: true,
            ..PolicyConfig::default()
        };
        assert!(check(
            USER,
            Some(ns(Private, Some(Role::Contributor))),
            Delete,
            contributors
        ));
        assert!(check(
            USER,
            Some(ns(Private, Some(Role::Contributor))),
            All,
            contributors
        ));
        assert!(!check(
            USER,
            Some(ns(Private, Some(Role::Viewer))),
            Delete,
            contributors
        ));
    }

    #[test]
    fn missing_namespace_is_admin_only() {
        let config = PolicyConfig::default();
        for action in [Pull, Push, Delete, All] {
            assert!(check(ADMIN, None, action, config), "{action}");
            assert!(!check(USER, None, action, config), "{action}");
            assert!(!check(Caller::Anonymous, None, action, config), "{action}");
        }
    }

    #[test]
    fn anonymous_pull_can_be_disabled() {
        let config = PolicyConfig {
            anonymous_pull: false,
            ..PolicyConfig::default()
        };
        assert_eq!(
            authorize(Caller::Anonymous, Some(&ns(Public, None)), Pull, &config),
            Decision::Deny(DenyReason::AnonymousDisabled)
        );
        assert!(check(USER, Some(ns(Public, None)), Pull, config));
    }

    /// The list filter and the pull decision agree on every kind of namespace, caller and
    /// configuration.
    #[test]
    fn visible_namespaces_is_the_pull_rule() {
        use crate::model::{Namespace, NamespaceId};
        let mine = TeamId(1);
        let other = TeamId(2);
        let mut namespaces = Vec::new();
        for visibility in [Private, Protected, Public] {
            for team in [None, Some(mine), Some(other)] {
                for global in [false, true] {
                    if global && (visibility == Private || team.is_some()) {
                        continue;
                    }
                    namespaces.push(Namespace {
                        id: NamespaceId(namespaces.len() as i64),
                        name: "n".into(),
                        description: None,
                        team_id: team,
                        visibility,
                        global,
                        personal_owner: (team == Some(mine)).then_some(ALICE),
                    });
                }
            }
        }
        for anonymous_pull in [true, false] {
            let config = PolicyConfig {
                anonymous_pull,
                ..PolicyConfig::default()
            };
            for caller in [Caller::Anonymous, USER, ADMIN] {
                let visible = visible_namespaces(caller, [mine], &config);
                for namespace in &namespaces {
                    let role = (namespace.team_id == Some(mine) && caller == USER).then_some(Role::Viewer);
                    let facts = NamespaceFacts::of(namespace, role, caller.user_id());
                    assert_eq!(
                        visible.admits(namespace),
                        authorize(caller, Some(&facts), Pull, &config).is_allowed(),
                        "{caller:?} {namespace:?} anonymous_pull={anonymous_pull}"
                    );
                }
            }
        }
    }

    #[test]
    fn action_names() {
        for action in [Pull, Push, Delete, All] {
            assert_eq!(Action::from_scope(action.as_str()), Some(action));
        }
        assert_eq!(Action::from_scope("fork"), None);
        assert_eq!(Action::from_scope("PULL"), None);
        assert!("nobody".parse::<PushPolicy>().is_err());
        assert_eq!(
            "allow-personal".parse::<PushPolicy>().unwrap(),
            PushPolicy::AllowPersonal
        );
    }
}
