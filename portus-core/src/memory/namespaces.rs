use async_trait::async_trait;

use crate::model::{
    ListPage, ListQuery, Namespace, NamespaceAccess, NamespaceFilter, NamespaceId, NamespaceRef, NamespaceSort,
    NamespaceUpdate, NewNamespace, User, UserId, Visibility,
};
use crate::naming::validate_namespace_name;
use crate::{Error, Result};

use super::InMemoryStore;

#[async_trait]
impl crate::traits::NamespaceStore for InMemoryStore {
    async fn create_namespace(&self, new: NewNamespace) -> Result<Namespace> {
        validate_namespace_name(&new.name)?;
        let mut state = self.lock();
        if !state.teams.iter().any(|t| t.id == new.team_id) {
            return Err(Error::not_found("team", new.team_id.to_string()));
        }
        if state.namespace_named(&new.name).is_some() {
            return Err(Error::Conflict(format!("namespace '{}' already exists", new.name)));
        }
        let namespace = Namespace {
            id: NamespaceId(state.next_id()),
            name: new.name,
            description: new.description,
            team_id: Some(new.team_id),
            visibility: new.visibility,
            global: false,
            personal_owner: None,
        };
        state.namespaces.push(namespace.clone());
        Ok(namespace)
    }
    async fn namespace<'a>(&self, namespace: NamespaceRef<'a>) -> Result<Option<Namespace>> {
        let state = self.lock();
        Ok(match namespace {
            NamespaceRef::Global => state.namespaces.iter().find(|n| n.global).cloned(),
            NamespaceRef::Named(name) => state.namespace_named(name).cloned(),
        })
    }
    async fn set_namespace_visibility(&self, id: NamespaceId, visibility: Visibility) -> Result<()> {
        let mut state = self.lock();
        let namespace = state
            .namespaces
            .iter_mut()
            .find(|n| n.id == id)
            .ok_or_else(|| Error::not_found("namespace", id.to_string()))?;
        if namespace.global && visibility == Visibility::Private {
            return Err(Error::Invalid("the global namespace cannot be private".into()));
        }
        namespace.visibility = visibility;
        Ok(())
    }
    async fn namespace_by_id(&self, id: NamespaceId) -> Result<Option<Namespace>> {
        Ok(self.lock().namespaces.iter().find(|n| n.id == id).cloned())
    }
    async fn namespaces_page(
        &self,
        filter: &NamespaceFilter,
        query: &ListQuery<NamespaceSort>,
    ) -> Result<ListPage<Namespace>> {
        let namespaces: Vec<Namespace> = self
            .lock()
            .namespaces
            .iter()
            .filter(|n| filter.admits(n))
            .cloned()
            .collect();
        Ok(match query.sort {
            NamespaceSort::Name => query.apply(namespaces, |n| (!n.global, n.name.clone()), |n| n.id),
            NamespaceSort::Id => query.apply(namespaces, |n| n.id, |n| n.id),
        })
    }
    async fn repository_counts(&self, namespaces: &[NamespaceId]) -> Result<Vec<(NamespaceId, u64)>> {
        let state = self.lock();
        let mut counts: Vec<(NamespaceId, u64)> = Vec::new();
        for repository in state
            .repositories
            .iter()
            .filter(|r| namespaces.contains(&r.namespace_id))
        {
            match counts.iter_mut().find(|(n, _)| *n == repository.namespace_id) {
                Some((_, count)) => *count += 1,
                None => counts.push((repository.namespace_id, 1)),
            }
        }
        Ok(counts)
    }
    async fn update_namespace(&self, id: NamespaceId, update: NamespaceUpdate) -> Result<Namespace> {
        let mut state = self.lock();
        if let Some(team) = update.team_id
            && !state.teams.iter().any(|t| t.id == team)
        {
            return Err(Error::not_found("team", team.to_string()));
        }
        let namespace = state
            .namespaces
            .iter_mut()
            .find(|n| n.id == id)
            .ok_or_else(|| Error::not_found("namespace", id.to_string()))?;
        if update.team_id.is_some() && namespace.global {
            return Err(Error::Invalid(
                "the global namespace belongs to the administrators".into(),
            ));
        }
        if let Some(team) = update.team_id {
            namespace.team_id = Some(team);
        }
        if let Some(description) = update.description {
            namespace.description = description;
        }
        Ok(namespace.clone())
    }
    async fn delete_namespace(&self, id: NamespaceId) -> Result<()> {
        let mut state = self.lock();
        let namespace = state
            .namespaces
            .iter()
            .find(|n| n.id == id)
            .ok_or_else(|| Error::not_found("namespace", id.to_string()))?;
        if namespace.global {
            return Err(Error::Invalid("the global namespace cannot be deleted".into()));
        }
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut state.repositories)
            .into_iter()
            .partition(|r| r.namespace_id == id);
        state.repositories = kept;
        let names: Vec<String> = gone.iter().map(|r| r.name.clone()).collect();
        let ids: Vec<_> = gone.iter().map(|r| r.id).collect();
        state.tags.retain(|t| !names.contains(&t.repository));
        state.stars.retain(|(_, r)| !ids.contains(r));
        state.comments.retain(|c| !ids.contains(&c.repository_id));
        state.webhooks.retain(|(n, _)| *n != id);
        let hooks: Vec<_> = state
            .outgoing
            .iter()
            .filter(|w| w.namespace_id == id)
            .map(|w| w.id)
            .collect();
        state.outgoing.retain(|w| w.namespace_id != id);
        state.deliveries.retain(|d| !hooks.contains(&d.webhook_id));
        state.namespaces.retain(|n| n.id != id);
        Ok(())
    }
    async fn namespace_access<'a>(
        &self,
        namespace: NamespaceRef<'a>,
        user: Option<UserId>,
    ) -> Result<Option<NamespaceAccess>> {
        let Some(namespace) = self.namespace(namespace).await? else {
            return Ok(None);
        };
        let state = self.lock();
        let role = match (namespace.team_id, user) {
            (Some(team), Some(user)) => state
                .members
                .iter()
                .find(|(t, u, _)| *t == team && *u == user)
                .map(|(_, _, role)| *role),
            _ => None,
        };
        Ok(Some(NamespaceAccess { namespace, role }))
    }
    async fn user_and_namespaces_access<'a>(
        &self,
        username: &str,
        namespaces: &[NamespaceRef<'a>],
    ) -> Result<Option<(User, Vec<Option<NamespaceAccess>>)>> {
        crate::traits::user_then_namespaces_access(self, username, namespaces).await
    }
}
