//! Teams and their members.
//!
//! Two rules hold whoever changes a team: administrators are always owners (whatever role is
//! asked for them), and a team keeps at least one owner.

use super::record;
use crate::model::{
    ActivityAction, ListQuery, Namespace, NamespaceFilter, NamespaceSort, NamespaceUpdate, Role, Team, TeamMember,
    TeamUpdate, User, UserId, VisibleNamespaces,
};
use crate::traits::{
    AccountStore, ActivityStore, CatalogStore, NamespaceStore, RegistryClient, TeamStore, TeamStoreExt,
};
use crate::{Error, Result};

/// Creates a (visible) team with `owner` as its first owner.
pub async fn create<S: TeamStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    name: &str,
    owner: &User,
    description: Option<String>,
) -> Result<Team> {
    let team = store.create_team(name, owner.id, description).await?;
    record(store, actor, ActivityAction::TeamCreate, team.name.clone(), None).await?;
    Ok(team)
}

/// Renames or describes a team. Personal (hidden) teams are not changed here.
pub async fn update<S: TeamStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    team: &Team,
    update: TeamUpdate,
) -> Result<Team> {
    if team.hidden {
        return Err(Error::Rule("a personal team cannot be changed".into()));
    }
    let updated = store.update_team(team.id, update).await?;
    record(store, actor, ActivityAction::TeamUpdate, updated.name.clone(), None).await?;
    Ok(updated)
}

/// The role a user gets when `asked` is asked for them: administrators are always owners.
pub fn effective_role(user: &User, asked: Role) -> Role {
    if user.admin { Role::Owner } else { asked }
}

/// Adds `user` to `team` with `role` (an administrator as owner); returns the role given.
/// `Conflict` if they are a member already.
pub async fn add_member<S: TeamStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    team: &Team,
    user: &User,
    role: Role,
) -> Result<Role> {
    refuse_hidden(team)?;
    if store.role_in(team.id, user.id).await?.is_some() {
        return Err(Error::Conflict(format!("{} is already a member", user.username)));
    }
    let role = effective_role(user, role);
    store.set_team_member(team.id, user.id, role).await?;
    let details = format!("{} as {role}", user.username);
    record(
        store,
        actor,
        ActivityAction::TeamMemberAdd,
        team.name.clone(),
        Some(details),
    )
    .await?;
    Ok(role)
}

/// Changes a member's role. An administrator cannot become less than owner, and the last owner
/// cannot either (`Rule`); `NotFound` if `user` is not a member.
pub async fn change_role<S: AccountStore + TeamStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    team: &Team,
    user: UserId,
    role: Role,
) -> Result<TeamMember> {
    refuse_hidden(team)?;
    let members = store.team_members(team.id).await?;
    let member = find_member(&members, user)?;
    if role != Role::Owner {
        if store.user_by_id(user).await?.is_some_and(|u| u.admin) {
            return Err(Error::Rule("administrators are always owners".into()));
        }
        if only_owner(member, &members) {
            return Err(last_owner());
        }
    }
    store.set_team_member(team.id, user, role).await?;
    let details = format!("{} to {role}", member.username);
    record(
        store,
        actor,
        ActivityAction::TeamMemberChangeRole,
        team.name.clone(),
        Some(details),
    )
    .await?;
    Ok(TeamMember { role, ..member.clone() })
}

/// Removes a member; the last owner stays (`Rule`). `NotFound` if `user` is not a member.
pub async fn remove_member<S: TeamStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    team: &Team,
    user: UserId,
) -> Result<()> {
    refuse_hidden(team)?;
    let members = store.team_members(team.id).await?;
    let member = find_member(&members, user)?;
    if only_owner(member, &members) {
        return Err(last_owner());
    }
    store.remove_team_member(team.id, user).await?;
    let details = member.username.clone();
    record(
        store,
        actor,
        ActivityAction::TeamMemberRemove,
        team.name.clone(),
        Some(details),
    )
    .await
}

/// Makes `user` a member of `team` with at least `role` (what a directory group mapping
/// grants): adds them, or raises their role; never lowers it. Returns whether anything changed.
pub async fn grant_at_least<S: AccountStore + TeamStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    team: &Team,
    user: &User,
    role: Role,
) -> Result<bool> {
    let wanted = effective_role(user, role);
    match store.role_in(team.id, user.id).await? {
        None => add_member(store, actor, team, user, wanted).await.map(|_| true),
        Some(current) if current >= wanted => Ok(false),
        Some(_) => change_role(store, actor, team, user.id, wanted).await.map(|_| true),
    }
}

/// What a directory (an LDAP group, a provider's groups claim) says of one user and one team
/// it manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryMembership {
    /// The user belongs to the team with at least this role.
    Member(Role),
    /// The directory no longer lists the user for the team.
    NotMember,
}

/// What [`sync_memberships`] changed and what it had to leave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipSync {
    /// Teams the user joined or got a higher role in.
    pub granted: Vec<String>,
    /// Teams the user left.
    pub removed: Vec<String>,
    /// Teams left as they were, with why: missing, personal, or the user is their last owner.
    pub skipped: Vec<(String, String)>,
}

/// Brings `user`'s memberships of the teams a directory manages in line with it: each
/// `(team name, membership)` of `wanted` is granted through [`grant_at_least`] (a role given by
/// hand that is higher stays) or removed through [`remove_member`]. Teams `wanted` does not
/// name are not touched, so memberships given by hand elsewhere are never lost. A missing or
/// personal team, and the removal of a team's last owner, are skipped, not errors: one bad
/// mapping must not stop the others.
pub async fn sync_memberships<S: AccountStore + TeamStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    user: &User,
    wanted: &[(String, DirectoryMembership)],
) -> Result<MembershipSync> {
    let mut sync = MembershipSync::default();
    for (name, membership) in wanted {
        let Some(team) = store.team_by_name(name).await? else {
            sync.skipped.push((name.clone(), "no such team".into()));
            continue;
        };
        if team.hidden {
            sync.skipped.push((name.clone(), "a personal team".into()));
            continue;
        }
        match membership {
            DirectoryMembership::Member(role) => {
                if grant_at_least(store, actor, &team, user, *role).await? {
                    sync.granted.push(team.name.clone());
                }
            }
            DirectoryMembership::NotMember => {
                if store.role_in(team.id, user.id).await?.is_none() {
                    continue;
                }
                match remove_member(store, actor, &team, user.id).await {
                    Ok(()) => sync.removed.push(team.name.clone()),
                    Err(Error::Rule(why)) => sync.skipped.push((team.name.clone(), why)),
                    Err(error) => return Err(error),
                }
            }
        }
    }
    Ok(sync)
}

fn refuse_hidden(team: &Team) -> Result<()> {
    if team.hidden {
        return Err(Error::Rule("a personal team's members cannot be changed".into()));
    }
    Ok(())
}

fn find_member(members: &[TeamMember], user: UserId) -> Result<&TeamMember> {
    members
        .iter()
        .find(|m| m.user_id == user)
        .ok_or_else(|| Error::not_found("team member", user.to_string()))
}

fn only_owner(member: &TeamMember, members: &[TeamMember]) -> bool {
    member.role == Role::Owner && members.iter().filter(|m| m.role == Role::Owner).count() == 1
}

fn last_owner() -> Error {
    Error::Rule("a team needs at least one owner".into())
}

/// Deletes a team. With `heir`, its namespaces are handed to that team first (Portus'
/// `new_team`); otherwise each is deleted through [`super::namespaces::delete`], images
/// included. Personal teams go only with their user (`Rule`).
pub async fn delete<S: TeamStore + NamespaceStore + CatalogStore + ActivityStore + ?Sized>(
    store: &S,
    registry: Option<&dyn RegistryClient>,
    actor: Option<&str>,
    team: &Team,
    heir: Option<&Team>,
) -> Result<()> {
    if team.hidden {
        return Err(Error::Rule("a personal team goes only with its user".into()));
    }
    if let Some(heir) = heir {
        if heir.hidden {
            return Err(Error::Rule("a personal team owns only its user's namespace".into()));
        }
        if heir.id == team.id {
            return Err(Error::Invalid("a team cannot hand its namespaces to itself".into()));
        }
    }
    let owned = NamespaceFilter {
        visible: VisibleNamespaces::All,
        team: Some(team.id),
        name_contains: None,
    };
    let namespaces: Vec<Namespace> = store
        .namespaces_page(&owned, &ListQuery::all(NamespaceSort::Name))
        .await?
        .items;
    let details = match heir {
        Some(heir) => {
            for namespace in &namespaces {
                let update = NamespaceUpdate {
                    team_id: Some(heir.id),
                    ..NamespaceUpdate::default()
                };
                store.update_namespace(namespace.id, update).await?;
            }
            Some(format!("{} namespaces handed to {}", namespaces.len(), heir.name))
        }
        None => {
            for namespace in &namespaces {
                super::namespaces::delete(store, registry, actor, namespace).await?;
            }
            (!namespaces.is_empty()).then(|| format!("{} namespaces deleted", namespaces.len()))
        }
    };
    store.delete_team(team.id).await?;
    record(store, actor, ActivityAction::TeamDelete, team.name.clone(), details).await
}
