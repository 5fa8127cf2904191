//! Conveniences over the store roles, the object_store `…Ext` way: default-bodied methods built
//! from a role's required methods, implemented for every implementor of the role (`?Sized`, so
//! `dyn PolicyStore` and `dyn AccountStore` have them too). Implementations never override them.
//!
//! `require_…` methods are the role's `Option`-returning lookup of the same name, with a missing
//! record turned into [`Error::NotFound`]: for callers to whom absence is an error.

use async_trait::async_trait;

use super::{AccountStore, ActivityStore, CatalogStore, CommentStore, NamespaceStore, TeamStore};
use crate::model::{
    ACTIVITY_EXPORT_CAP, Activity, ActivityFilter, ActivitySort, AppToken, AppTokenSort, Comment, CommentSort,
    ListQuery, MemberSort, Namespace, NamespaceFilter, NamespaceId, NamespaceSort, Repository, RepositoryId, Role,
    TagRecord, Team, TeamFilter, TeamId, TeamMember, TeamSort, User, UserId, UserSort,
};
use crate::{Error, Result};

/// Conveniences over [`AccountStore`]; in scope with `use portus_core::prelude::*`.
#[async_trait]
pub trait AccountStoreExt: AccountStore {
    /// [`user_by_id`](AccountStore::user_by_id), `NotFound` when there is no such user.
    async fn require_user_by_id(&self, id: UserId) -> Result<User> {
        self.user_by_id(id)
            .await?
            .ok_or_else(|| Error::not_found("user", id.to_string()))
    }

    /// [`user_by_name`](AccountStore::user_by_name), `NotFound` when there is no such user.
    async fn require_user_by_name(&self, name: &str) -> Result<User> {
        self.user_by_name(name)
            .await?
            .ok_or_else(|| Error::not_found("user", name))
    }

    /// Every user, by login name.
    async fn list_users(&self) -> Result<Vec<User>> {
        Ok(self.users_page(&ListQuery::all(UserSort::Username)).await?.items)
    }

    /// Every application token of `user`, oldest first.
    async fn list_app_tokens(&self, user: UserId) -> Result<Vec<AppToken>> {
        Ok(self
            .app_tokens_page(user, &ListQuery::all(AppTokenSort::Id))
            .await?
            .items)
    }
}

impl<T: AccountStore + ?Sized> AccountStoreExt for T {}

/// Conveniences over [`TeamStore`]; in scope with `use portus_core::prelude::*`.
#[async_trait]
pub trait TeamStoreExt: TeamStore {
    /// [`team_by_id`](TeamStore::team_by_id), `NotFound` when there is no such team.
    async fn require_team_by_id(&self, id: TeamId) -> Result<Team> {
        self.team_by_id(id)
            .await?
            .ok_or_else(|| Error::not_found("team", id.to_string()))
    }

    /// Every member of `team`, by login name.
    async fn team_members(&self, team: TeamId) -> Result<Vec<TeamMember>> {
        Ok(self
            .team_members_page(team, &ListQuery::all(MemberSort::Username))
            .await?
            .items)
    }

    /// Every team, hidden ones included, by name.
    async fn list_teams(&self) -> Result<Vec<Team>> {
        Ok(self
            .teams_page(&TeamFilter::every(), &ListQuery::all(TeamSort::Name))
            .await?
            .items)
    }

    /// `user`'s role in `team`, `None` when they are not a member (or the team does not exist).
    async fn role_in(&self, team: TeamId, user: UserId) -> Result<Option<Role>> {
        let members = self.team_members(team).await?;
        Ok(members.into_iter().find(|m| m.user_id == user).map(|m| m.role))
    }
}

impl<T: TeamStore + ?Sized> TeamStoreExt for T {}

/// Conveniences over [`NamespaceStore`]; in scope with `use portus_core::prelude::*`.
#[async_trait]
pub trait NamespaceStoreExt: NamespaceStore {
    /// [`namespace_by_id`](NamespaceStore::namespace_by_id), `NotFound` when there is no such
    /// namespace.
    async fn require_namespace_by_id(&self, id: NamespaceId) -> Result<Namespace> {
        self.namespace_by_id(id)
            .await?
            .ok_or_else(|| Error::not_found("namespace", id.to_string()))
    }

    /// Every namespace, the global one first, then by name.
    async fn list_namespaces(&self) -> Result<Vec<Namespace>> {
        Ok(self
            .namespaces_page(&NamespaceFilter::every(), &ListQuery::all(NamespaceSort::Name))
            .await?
            .items)
    }
}

impl<T: NamespaceStore + ?Sized> NamespaceStoreExt for T {}

/// Conveniences over [`ActivityStore`]; in scope with `use portus_core::prelude::*`.
#[async_trait]
pub trait ActivityStoreExt: ActivityStore {
    /// The newest `filter.limit` activities `filter` admits (0: 100), newest first.
    async fn activities(&self, filter: &ActivityFilter) -> Result<Vec<Activity>> {
        let limit = if filter.limit == 0 { 100 } else { filter.limit };
        let query = ListQuery::page(ActivitySort::Newest, 0, limit as u64);
        Ok(self.activities_page(filter, &query).await?.items)
    }

    /// Everything `filter` admits before its `until` (now when it has none, so activities
    /// recorded meanwhile do not slip in), oldest first, read in batches of 1000; a
    /// [`Error::Rule`] when that is more than [`ACTIVITY_EXPORT_CAP`] activities.
    async fn activities_export(&self, filter: &ActivityFilter) -> Result<Vec<Activity>> {
        const BATCH: u64 = 1_000;
        let filter = ActivityFilter {
            until: Some(filter.until.unwrap_or_else(crate::model::now)),
            ..filter.clone()
        };
        let first = self
            .activities_page(&filter, &ListQuery::page(ActivitySort::Id, 0, BATCH))
            .await?;
        let total = first.total;
        if total > ACTIVITY_EXPORT_CAP {
            return Err(Error::Rule(format!(
                "{total} activities in this range, an export holds at most {ACTIVITY_EXPORT_CAP}: narrow it with since and until"
            )));
        }
        let total = usize::try_from(total).unwrap_or(usize::MAX);
        let mut rows = Vec::with_capacity(total);
        let mut batch = first.items;
        loop {
            let read = batch.len() as u64;
            rows.extend(batch);
            // Oldest first by id, so activities recorded meanwhile (before `until`: a clock
            // step) cannot shift earlier batches; and never more than counted, so the cap holds.
            if read < BATCH || rows.len() >= total {
                break;
            }
            batch = self
                .activities_page(&filter, &ListQuery::page(ActivitySort::Id, rows.len() as u64, BATCH))
                .await?
                .items;
        }
        rows.truncate(total);
        Ok(rows)
    }
}

impl<T: ActivityStore + ?Sized> ActivityStoreExt for T {}

/// Conveniences over [`CommentStore`]; in scope with `use portus_core::prelude::*`.
#[async_trait]
pub trait CommentStoreExt: CommentStore {
    /// Every comment on `repository`, oldest first.
    async fn comments(&self, repository: RepositoryId) -> Result<Vec<Comment>> {
        Ok(self
            .comments_page(repository, &ListQuery::all(CommentSort::CreatedAt))
            .await?
            .items)
    }
}

impl<T: CommentStore + ?Sized> CommentStoreExt for T {}

/// Conveniences over [`CatalogStore`]; in scope with `use portus_core::prelude::*`.
#[async_trait]
pub trait CatalogStoreExt: CatalogStore {
    /// [`repository_by_id`](CatalogStore::repository_by_id), `NotFound` when there is no such
    /// repository.
    async fn require_repository_by_id(&self, id: RepositoryId) -> Result<Repository> {
        self.repository_by_id(id)
            .await?
            .ok_or_else(|| Error::not_found("repository", id.to_string()))
    }

    /// [`tag`](CatalogStore::tag), `NotFound` (naming `repository:tag`) when there is no such
    /// tag.
    async fn require_tag(&self, repository: &str, tag: &str) -> Result<TagRecord> {
        self.tag(repository, tag)
            .await?
            .ok_or_else(|| Error::not_found("tag", format!("{repository}:{tag}")))
    }
}

impl<T: CatalogStore + ?Sized> CatalogStoreExt for T {}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{ManifestRecord, MissingNamespace, NewUser};
    use crate::{ErrorKind, InMemoryStore, PolicyStore};

    async fn alice(store: &InMemoryStore) -> User {
        let new = NewUser {
            username: "alice".into(),
            ..NewUser::default()
        };
        store.create_user(new).await.unwrap()
    }

    fn missing<T: std::fmt::Debug>(result: Result<T>) -> String {
        let error = result.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound, "{error:?}");
        error.to_string()
    }

    #[tokio::test]
    async fn users_are_required_by_id_and_name() {
        let store = InMemoryStore::new();
        let alice = alice(&store).await;
        assert_eq!(store.require_user_by_id(alice.id).await.unwrap(), alice);
        assert_eq!(store.require_user_by_name("alice").await.unwrap(), alice);
        assert!(missing(store.require_user_by_id(UserId(9999)).await).contains("9999"));
        assert!(missing(store.require_user_by_name("nobody").await).contains("nobody"));
    }

    #[tokio::test]
    async fn teams_are_required_and_roles_read() {
        let store = InMemoryStore::new();
        let alice = alice(&store).await;
        let bob = store
            .create_user(NewUser {
                username: "bob".into(),
                ..NewUser::default()
            })
            .await
            .unwrap();
        let team = store.create_team("devs", alice.id, None).await.unwrap();
        store.set_team_member(team.id, bob.id, Role::Viewer).await.unwrap();
        assert_eq!(store.require_team_by_id(team.id).await.unwrap(), team);
        missing(store.require_team_by_id(TeamId(9999)).await);
        assert_eq!(store.role_in(team.id, alice.id).await.unwrap(), Some(Role::Owner));
        assert_eq!(store.role_in(team.id, bob.id).await.unwrap(), Some(Role::Viewer));
        assert_eq!(store.role_in(team.id, UserId(9999)).await.unwrap(), None);
    }

    #[tokio::test]
    async fn namespaces_repositories_and_tags_are_required() {
        let store = InMemoryStore::new();
        let alice = alice(&store).await;
        let personal = alice.personal_namespace.unwrap();
        assert_eq!(store.require_namespace_by_id(personal).await.unwrap().name, "alice");
        missing(store.require_namespace_by_id(NamespaceId(9999)).await);

        let manifest = ManifestRecord {
            digest: "sha256:aa".into(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            size: None,
        };
        store
            .put_tag("alice/app", "1.0", &manifest, None, MissingNamespace::Ignore)
            .await
            .unwrap();
        let tag = store.require_tag("alice/app", "1.0").await.unwrap();
        assert_eq!(tag.manifest, manifest);
        assert!(missing(store.require_tag("alice/app", "2.0").await).contains("alice/app:2.0"));
        let repository = store.list_repositories().await.unwrap().remove(0);
        assert_eq!(store.require_repository_by_id(repository.id).await.unwrap(), repository);
        missing(store.require_repository_by_id(RepositoryId(9999)).await);
    }

    #[tokio::test]
    async fn trait_objects_have_them_too() {
        let memory = InMemoryStore::new();
        let alice = alice(&memory).await;
        let store: Arc<dyn PolicyStore> = Arc::new(memory);
        assert_eq!(store.require_user_by_name("alice").await.unwrap(), alice);
        let empty = InMemoryStore::new();
        let accounts: &dyn AccountStore = &empty;
        missing(accounts.require_user_by_name("alice").await);
    }
}
