use std::sync::Arc;

use async_trait::async_trait;

use crate::Result;
use crate::model::{
    ListPage, ListQuery, MemberSort, Role, Team, TeamFilter, TeamId, TeamMember, TeamSort, TeamUpdate, UserId,
};

/// Teams and their members with roles.
///
/// A role of the [`PolicyStore`](super::PolicyStore); every implementation runs the role's
/// conformance suite in `crate::testing`.
#[async_trait]
pub trait TeamStore: Send + Sync {
    /// Creates a (visible) team with `owner` as its first owner.
    async fn create_team(&self, name: &str, owner: UserId, description: Option<String>) -> Result<Team>;
    /// Looks a team up by name.
    async fn team_by_name(&self, name: &str) -> Result<Option<Team>>;
    /// Adds a member or changes an existing member's role.
    async fn set_team_member(&self, team: TeamId, user: UserId, role: Role) -> Result<()>;
    /// One page of a team's members, in the order asked, with their number
    /// ([`TeamStoreExt::team_members`](super::TeamStoreExt::team_members): all of them).
    async fn team_members_page(&self, team: TeamId, query: &ListQuery<MemberSort>) -> Result<ListPage<TeamMember>>;
    /// Removes a member; `NotFound` if the user was not a member.
    async fn remove_team_member(&self, team: TeamId, user: UserId) -> Result<()>;
    /// Looks a team up by id.
    async fn team_by_id(&self, id: TeamId) -> Result<Option<Team>>;
    /// One page of the teams `filter` admits, in the order asked, with their number
    /// ([`TeamStoreExt::list_teams`](super::TeamStoreExt::list_teams): every team).
    async fn teams_page(&self, filter: &TeamFilter, query: &ListQuery<TeamSort>) -> Result<ListPage<Team>>;
    /// Renames a team or changes its description.
    async fn update_team(&self, id: TeamId, update: TeamUpdate) -> Result<Team>;
    /// The teams a user belongs to, with the user's role in each.
    async fn memberships(&self, user: UserId) -> Result<Vec<(TeamId, Role)>>;
    /// Deletes a team with its memberships. `Conflict` while namespaces still belong to it
    /// (delete them or hand them to another team first), `NotFound` if it does not exist.
    async fn delete_team(&self, id: TeamId) -> Result<()>;
}

macro_rules! forward {
    ($wrapper:ty) => {
        #[async_trait]
        impl<T: TeamStore + ?Sized> TeamStore for $wrapper {
            async fn create_team(&self, name: &str, owner: UserId, description: Option<String>) -> Result<Team> {
                (**self).create_team(name, owner, description).await
            }
            async fn team_by_name(&self, name: &str) -> Result<Option<Team>> {
                (**self).team_by_name(name).await
            }
            async fn set_team_member(&self, team: TeamId, user: UserId, role: Role) -> Result<()> {
                (**self).set_team_member(team, user, role).await
            }
            async fn team_members_page(
                &self,
                team: TeamId,
                query: &ListQuery<MemberSort>,
            ) -> Result<ListPage<TeamMember>> {
                (**self).team_members_page(team, query).await
            }
            async fn remove_team_member(&self, team: TeamId, user: UserId) -> Result<()> {
                (**self).remove_team_member(team, user).await
            }
            async fn team_by_id(&self, id: TeamId) -> Result<Option<Team>> {
                (**self).team_by_id(id).await
            }
            async fn teams_page(&self, filter: &TeamFilter, query: &ListQuery<TeamSort>) -> Result<ListPage<Team>> {
                (**self).teams_page(filter, query).await
            }
            async fn update_team(&self, id: TeamId, update: TeamUpdate) -> Result<Team> {
                (**self).update_team(id, update).await
            }
            async fn memberships(&self, user: UserId) -> Result<Vec<(TeamId, Role)>> {
                (**self).memberships(user).await
            }
            async fn delete_team(&self, id: TeamId) -> Result<()> {
                (**self).delete_team(id).await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
