//! Namespaces: create, describe, hand to another team, change visibility, delete.

use super::record;
use crate::model::{ActivityAction, Namespace, NamespaceUpdate, NewNamespace, Team, Visibility};
use crate::traits::{ActivityStore, CatalogStore, NamespaceStore, RegistryClient};
use crate::{Error, Result};

/// Creates a namespace owned by `team` (which must be `new.team_id`'s team).
pub async fn create<S: NamespaceStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    new: NewNamespace,
    team: &Team,
) -> Result<Namespace> {
    if new.team_id != team.id {
        return Err(Error::Invalid("the namespace's team is not the team given".into()));
    }
    if team.hidden {
        return Err(Error::Rule("a personal team owns only its user's namespace".into()));
    }
    let namespace = store.create_namespace(new).await?;
    let details = format!("team {}, {}", team.name, namespace.visibility);
    record(
        store,
        actor,
        ActivityAction::NamespaceCreate,
        namespace.name.clone(),
        Some(details),
    )
    .await?;
    Ok(namespace)
}

/// Changes who may pull from a namespace. The global namespace is never private (`Rule`).
pub async fn set_visibility<S: NamespaceStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    namespace: &Namespace,
    visibility: Visibility,
) -> Result<()> {
    if namespace.global && visibility == Visibility::Private {
        return Err(Error::Rule("the global namespace cannot be private".into()));
    }
    store.set_namespace_visibility(namespace.id, visibility).await?;
    let details = visibility.as_str().to_owned();
    record(
        store,
        actor,
        ActivityAction::NamespaceChangeVisibility,
        namespace.name.clone(),
        Some(details),
    )
    .await
}

/// Changes a namespace's description and/or hands it to `team`. A personal namespace stays with
/// its user's team, and the global namespace with the administrators (`Rule`).
pub async fn update<S: NamespaceStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    namespace: &Namespace,
    description: Option<String>,
    team: Option<&Team>,
) -> Result<Namespace> {
    if team.is_some() && namespace.personal_owner.is_some() {
        return Err(Error::Rule("a personal namespace stays with its user's team".into()));
    }
    if team.is_some() && namespace.global {
        return Err(Error::Rule("the global namespace belongs to the administrators".into()));
    }
    if team.is_some_and(|t| t.hidden) {
        return Err(Error::Rule("a personal team owns only its user's namespace".into()));
    }
    let updated = store
        .update_namespace(
            namespace.id,
            NamespaceUpdate {
                description: description.map(Some),
                team_id: team.map(|t| t.id),
            },
        )
        .await?;
    let details = team.map(|t| format!("team {}", t.name));
    record(
        store,
        actor,
        ActivityAction::NamespaceUpdate,
        namespace.name.clone(),
        details,
    )
    .await?;
    Ok(updated)
}

/// Deletes a namespace: each of its repositories through [`super::images::delete_repository`]
/// (in the registry first), then the namespace. Personal and global namespaces stay (`Rule`).
/// Without a registry client only a namespace without repositories can go (`Rule` naming
/// `registry.url`).
pub async fn delete<S: NamespaceStore + CatalogStore + ActivityStore + ?Sized>(
    store: &S,
    registry: Option<&dyn RegistryClient>,
    actor: Option<&str>,
    namespace: &Namespace,
) -> Result<()> {
    if namespace.global {
        return Err(Error::Rule("the global namespace cannot be deleted".into()));
    }
    if namespace.personal_owner.is_some() {
        return Err(Error::Rule("a personal namespace goes only with its user".into()));
    }
    let repositories: Vec<String> = store
        .list_repositories()
        .await?
        .into_iter()
        .filter(|r| r.namespace_id == namespace.id)
        .map(|r| r.name)
        .collect();
    if !repositories.is_empty() {
        let Some(registry) = registry else {
            return Err(Error::Rule(format!(
                "namespace {} holds {} repositories, and deleting images needs registry.url to be configured",
                namespace.name,
                repositories.len()
            )));
        };
        for repository in &repositories {
            super::images::delete_repository(store, registry, repository, actor).await?;
        }
    }
    store.delete_namespace(namespace.id).await?;
    record(
        store,
        actor,
        ActivityAction::NamespaceDelete,
        namespace.name.clone(),
        None,
    )
    .await
}
