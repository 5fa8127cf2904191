use async_trait::async_trait;

use crate::model::{
    ListPage, ListQuery, MemberSort, Role, Team, TeamFilter, TeamId, TeamMember, TeamSort, TeamUpdate, UserId,
};
use crate::naming::validate_team_name;
use crate::{Error, Result};

use super::InMemoryStore;

#[async_trait]
impl crate::traits::TeamStore for InMemoryStore {
    async fn create_team(&self, name: &str, owner: UserId, description: Option<String>) -> Result<Team> {
        validate_team_name(name)?;
        let mut state = self.lock();
        state.user_mut(owner)?;
        if state.teams.iter().any(|t| t.name == name) {
            return Err(Error::Conflict(format!("team '{name}' already exists")));
        }
        let team = state.add_team(name, description, false);
        state.members.push((team.id, owner, Role::Owner));
        Ok(team)
    }
    async fn team_by_name(&self, name: &str) -> Result<Option<Team>> {
        Ok(self.lock().teams.iter().find(|t| t.name == name).cloned())
    }
    async fn set_team_member(&self, team: TeamId, user: UserId, role: Role) -> Result<()> {
        let mut state = self.lock();
        state.user_mut(user)?;
        if !state.teams.iter().any(|t| t.id == team) {
            return Err(Error::not_found("team", team.to_string()));
        }
        match state.members.iter_mut().find(|(t, u, _)| *t == team && *u == user) {
            Some(member) => member.2 = role,
            None => state.members.push((team, user, role)),
        }
        Ok(())
    }
    async fn team_members_page(&self, team: TeamId, query: &ListQuery<MemberSort>) -> Result<ListPage<TeamMember>> {
        let state = self.lock();
        let members: Vec<TeamMember> = state
            .members
            .iter()
            .filter(|(t, _, _)| *t == team)
            .filter_map(|(_, user_id, role)| {
                let user = state.users.iter().find(|u| u.id == *user_id)?;
                Some(TeamMember {
                    user_id: *user_id,
                    username: user.username.clone(),
                    role: *role,
                })
            })
            .collect();
        Ok(match query.sort {
            MemberSort::Username => query.apply(members, |m| m.username.clone(), |m| m.user_id),
            MemberSort::UserId => query.apply(members, |m| m.user_id, |m| m.user_id),
            MemberSort::Role => query.apply(members, |m| m.role.as_str(), |m| m.user_id),
        })
    }
    async fn remove_team_member(&self, team: TeamId, user: UserId) -> Result<()> {
        let mut state = self.lock();
        let before = state.members.len();
        state.members.retain(|(t, u, _)| !(*t == team && *u == user));
        if state.members.len() == before {
            return Err(Error::not_found("team member", user.to_string()));
        }
        Ok(())
    }
    async fn team_by_id(&self, id: TeamId) -> Result<Option<Team>> {
        Ok(self.lock().teams.iter().find(|t| t.id == id).cloned())
    }
    async fn teams_page(&self, filter: &TeamFilter, query: &ListQuery<TeamSort>) -> Result<ListPage<Team>> {
        let state = self.lock();
        let teams: Vec<Team> = state
            .teams
            .iter()
            .filter(|t| {
                let is_member = filter
                    .member
                    .is_some_and(|user| state.members.iter().any(|(team, u, _)| *team == t.id && *u == user));
                filter.admits(t, is_member)
            })
            .cloned()
            .collect();
        Ok(match query.sort {
            TeamSort::Name => query.apply(teams, |t| t.name.clone(), |t| t.id),
            TeamSort::Id => query.apply(teams, |t| t.id, |t| t.id),
        })
    }
    async fn update_team(&self, id: TeamId, update: TeamUpdate) -> Result<Team> {
        let mut state = self.lock();
        if let Some(name) = &update.name {
            validate_team_name(name)?;
            if state.teams.iter().any(|t| t.id != id && &t.name == name) {
                return Err(Error::Conflict(format!("team '{name}' already exists")));
            }
        }
        let team = state
            .teams
            .iter_mut()
            .find(|t| t.id == id)
            .ok_or_else(|| Error::not_found("team", id.to_string()))?;
        if let Some(name) = update.name {
            team.name = name;
        }
        if let Some(description) = update.description {
            team.description = description;
        }
        Ok(team.clone())
    }
    async fn memberships(&self, user: UserId) -> Result<Vec<(TeamId, Role)>> {
        let state = self.lock();
        let mut memberships: Vec<(TeamId, Role)> = state
            .members
            .iter()
            .filter(|(_, u, _)| *u == user)
            .map(|(t, _, role)| (*t, *role))
            .collect();
        memberships.sort();
        Ok(memberships)
    }
    async fn delete_team(&self, id: TeamId) -> Result<()> {
        let mut state = self.lock();
        if !state.teams.iter().any(|t| t.id == id) {
            return Err(Error::not_found("team", id.to_string()));
        }
        if state.namespaces.iter().any(|n| n.team_id == Some(id)) {
            return Err(Error::Conflict(
                "the team still owns namespaces: delete them or hand them to another team first".into(),
            ));
        }
        state.teams.retain(|t| t.id != id);
        state.members.retain(|(t, ..)| *t != id);
        Ok(())
    }
}
