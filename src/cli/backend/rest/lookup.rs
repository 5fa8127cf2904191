//! Finding objects by name through the API, which addresses them by id.

use super::*;

impl Rest {
    pub(super) async fn find_user(&self, name: &str) -> Result<UserView, Error> {
        let users: Vec<UserView> = match self.list("/api/v1/users").await {
            Ok(users) => users,
            // Anyone may look themselves up.
            Err(Error::Server { status: 403, message }) => {
                let me: UserView = self.json(Method::GET, "/api/v1/users/me", None).await?;
                if me.username == name {
                    return Ok(me);
                }
                return Err(Error::Server {
                    status: 403,
                    message: format!("looking up other users by name needs an administrator's token: {message}"),
                });
            }
            Err(other) => return Err(other),
        };
        users
            .into_iter()
            .find(|u| u.username == name)
            .ok_or_else(|| no_user(name))
    }

    pub(super) async fn find_team(&self, name: &str) -> Result<TeamView, Error> {
        self.teams()
            .await?
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| no_team(name))
    }

    pub(super) async fn find_member(&self, team: &TeamView, user: &str) -> Result<MemberView, Error> {
        self.list::<MemberView>(&format!("/api/v1/teams/{}/members", team.id))
            .await?
            .into_iter()
            .find(|m| m.username == user)
            .ok_or_else(|| not_a_member(&team.name, user))
    }

    /// Fills in the names of the teams the caller may see.
    pub(super) async fn with_team_names(
        &self,
        mut namespaces: Vec<NamespaceView>,
    ) -> Result<Vec<NamespaceView>, Error> {
        let teams: HashMap<i64, String> = self.teams().await?.into_iter().map(|t| (t.id, t.name)).collect();
        for namespace in &mut namespaces {
            namespace.team = namespace.team_id.and_then(|id| teams.get(&id).cloned());
        }
        Ok(namespaces)
    }

    pub(super) async fn find_namespace(&self, name: &str) -> Result<NamespaceView, Error> {
        self.list::<NamespaceView>("/api/v1/namespaces")
            .await?
            .into_iter()
            .find(|n| n.name == name)
            .ok_or_else(|| no_namespace(name))
    }

    pub(super) async fn one_namespace(&self, namespace: NamespaceView) -> Result<NamespaceView, Error> {
        let mut named = self.with_team_names(vec![namespace]).await?;
        Ok(named.remove(0))
    }

    pub(super) async fn find_repository(&self, name: &str) -> Result<RepositoryView, Error> {
        self.repositories()
            .await?
            .into_iter()
            .find(|r| r.name == name)
            .ok_or_else(|| no_repository(name))
    }

    pub(super) async fn tags_of(&self, repository: &RepositoryView) -> Result<Vec<TagView>, Error> {
        let tags: Vec<ApiTag> = self
            .list(&format!("/api/v1/repositories/{}/tags", repository.id))
            .await?;
        Ok(tags.into_iter().map(TagView::from).collect())
    }
}
