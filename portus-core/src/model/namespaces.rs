//! Namespaces, who may pull from them, and the caller's access to them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Role, TeamId, UserId};
use crate::Error;

id_type!(
    /// Identifier of a [`Namespace`].
    NamespaceId
);

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

/// The orders of namespace lists; each ends with the id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum NamespaceSort {
    /// The global namespace first, then by name (the default).
    #[default]
    Name,
    /// By id: in creation order.
    Id,
}

/// The namespaces a caller may see, as a store can select them: what
/// [`crate::policy::visible_namespaces`] computes from the pull rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum VisibleNamespaces {
    /// Every namespace (administrators).
    #[default]
    All,
    /// The namespaces of one of `visibilities`, the global namespace when `global`, and the
    /// namespaces of the teams `teams`.
    Some {
        /// Visibilities anyone (of the caller's kind) may see.
        visibilities: Vec<Visibility>,
        /// The global namespace whatever its visibility.
        global: bool,
        /// Teams whose namespaces the caller sees (those they are a member of).
        teams: Vec<TeamId>,
    },
}

impl VisibleNamespaces {
    /// Whether `namespace` is among them: what stores filtering in memory ask.
    pub fn admits(&self, namespace: &Namespace) -> bool {
        match self {
            VisibleNamespaces::All => true,
            VisibleNamespaces::Some {
                visibilities,
                global,
                teams,
            } => {
                visibilities.contains(&namespace.visibility)
                    || (*global && namespace.global)
                    || namespace.team_id.is_some_and(|t| teams.contains(&t))
            }
        }
    }
}

/// Which namespaces a namespace list holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceFilter {
    /// The namespaces the caller may see.
    pub visible: VisibleNamespaces,
    /// Only the namespaces of this team.
    pub team: Option<TeamId>,
    /// Only the namespaces whose names contain this text, ignoring ASCII case (`%` and `_`
    /// are plain characters).
    pub name_contains: Option<String>,
}

impl NamespaceFilter {
    /// Every namespace.
    pub fn every() -> Self {
        NamespaceFilter {
            visible: VisibleNamespaces::All,
            team: None,
            name_contains: None,
        }
    }

    /// Whether `namespace` is on the list.
    pub fn admits(&self, namespace: &Namespace) -> bool {
        self.visible.admits(namespace)
            && self.team.is_none_or(|t| namespace.team_id == Some(t))
            && self
                .name_contains
                .as_deref()
                .is_none_or(|text| namespace.name.to_ascii_lowercase().contains(&text.to_ascii_lowercase()))
    }
}
