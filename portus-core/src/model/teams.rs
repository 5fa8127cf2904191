//! Teams, their members and the members' roles.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::UserId;
use crate::Error;

id_type!(
    /// Identifier of a [`Team`].
    TeamId
);

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

/// Changes to a [`Team`]; `None` fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamUpdate {
    /// New unique name.
    pub name: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
}

/// The orders of team lists; each ends with the id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TeamSort {
    /// By name (the default).
    #[default]
    Name,
    /// By id: in creation order.
    Id,
}

/// Which teams a team list holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TeamFilter {
    /// Hidden (personal) teams too.
    pub include_hidden: bool,
    /// Only the teams this user is a member of.
    pub member: Option<UserId>,
}

impl TeamFilter {
    /// Every team, hidden ones included.
    pub fn every() -> Self {
        TeamFilter {
            include_hidden: true,
            member: None,
        }
    }

    /// Whether `team` (of which `is_member` says whether [`member`](Self::member) belongs to
    /// it) is on the list: what stores filtering in memory ask.
    pub fn admits(&self, team: &Team, is_member: bool) -> bool {
        (self.include_hidden || !team.hidden) && (self.member.is_none() || is_member)
    }
}

/// The orders of a team's members; each ends with the user id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum MemberSort {
    /// By login name (the default).
    #[default]
    Username,
    /// By user id.
    UserId,
    /// By role, as its name spells it (`contributor`, `owner`, `viewer`).
    Role,
}
