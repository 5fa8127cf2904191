use std::sync::Arc;

use async_trait::async_trait;

use crate::Result;
use crate::model::{
    ListPage, ListQuery, Namespace, NamespaceAccess, NamespaceFilter, NamespaceId, NamespaceRef, NamespaceSort,
    NamespaceUpdate, NewNamespace, User, UserId, Visibility,
};

/// Namespaces and the access look-ups the token endpoint makes per request.
///
/// A role of the [`PolicyStore`](super::PolicyStore); every implementation runs the role's
/// conformance suite in `crate::testing`.
#[async_trait]
pub trait NamespaceStore: Send + Sync {
    /// Creates a namespace owned by a team. Fails with `Conflict` if the name is taken.
    async fn create_namespace(&self, namespace: NewNamespace) -> Result<Namespace>;
    /// Looks a namespace up (the global namespace always exists).
    async fn namespace<'a>(&self, namespace: NamespaceRef<'a>) -> Result<Option<Namespace>>;
    /// Changes who may pull from a namespace. The global namespace cannot be private.
    async fn set_namespace_visibility(&self, id: NamespaceId, visibility: Visibility) -> Result<()>;
    /// Looks a namespace up by id.
    async fn namespace_by_id(&self, id: NamespaceId) -> Result<Option<Namespace>>;
    /// One page of the namespaces `filter` admits, in the order asked, with their number
    /// ([`NamespaceStoreExt::list_namespaces`](super::NamespaceStoreExt::list_namespaces): all
    /// of them, the global one first, then by name).
    async fn namespaces_page(
        &self,
        filter: &NamespaceFilter,
        query: &ListQuery<NamespaceSort>,
    ) -> Result<ListPage<Namespace>>;
    /// How many repositories each of `namespaces` holds (one indexed count in SQL stores):
    /// the namespaces holding any, in no particular order.
    async fn repository_counts(&self, namespaces: &[NamespaceId]) -> Result<Vec<(NamespaceId, u64)>>;
    /// Changes a namespace's description or team. The global namespace has no team.
    async fn update_namespace(&self, id: NamespaceId, update: NamespaceUpdate) -> Result<Namespace>;
    /// Deletes a namespace with the records of its repositories, tags, stars, comments and
    /// webhooks (the registry's images are the caller's business). `Invalid` for the global
    /// namespace, `NotFound` if it does not exist.
    async fn delete_namespace(&self, id: NamespaceId) -> Result<()>;
    /// A namespace plus the given user's role in its team, in one lookup: what the token
    /// endpoint needs per scope.
    async fn namespace_access<'a>(
        &self,
        namespace: NamespaceRef<'a>,
        user: Option<UserId>,
    ) -> Result<Option<NamespaceAccess>>;
    /// [`NamespaceStore::namespace_access`] for several namespaces in one lookup (one query in SQL
    /// stores): a token request asks for a few scopes at once. Answers in the order asked.
    async fn namespaces_access<'a>(
        &self,
        namespaces: &[NamespaceRef<'a>],
        user: Option<UserId>,
    ) -> Result<Vec<Option<NamespaceAccess>>> {
        let mut found = Vec::with_capacity(namespaces.len());
        for namespace in namespaces {
            found.push(self.namespace_access(*namespace, user).await?);
        }
        Ok(found)
    }
    /// An opaque value that changes whenever anything [`user_and_namespaces_access`] reads
    /// (users, namespaces, teams, memberships) may have changed, read without a query; `None`
    /// when the store offers none (or cannot vouch for it right now). A caller may keep what it
    /// read while the marker it took *before* reading is still the current one.
    ///
    /// [`user_and_namespaces_access`]: Self::user_and_namespaces_access
    fn change_marker(&self) -> Option<Vec<u8>> {
        None
    }
    /// The user named `username` and their access to `namespaces` (as
    /// [`namespaces_access`](Self::namespaces_access)), in one lookup (one query in SQL stores
    /// for named namespaces): what a token request of a known user needs. `None` when there is
    /// no such user. [`user_then_namespaces_access`](super::user_then_namespaces_access) is the
    /// plain two-step answer.
    async fn user_and_namespaces_access<'a>(
        &self,
        username: &str,
        namespaces: &[NamespaceRef<'a>],
    ) -> Result<Option<(User, Vec<Option<NamespaceAccess>>)>>;
}

macro_rules! forward {
    ($wrapper:ty) => {
        #[async_trait]
        impl<T: NamespaceStore + ?Sized> NamespaceStore for $wrapper {
            async fn create_namespace(&self, namespace: NewNamespace) -> Result<Namespace> {
                (**self).create_namespace(namespace).await
            }
            async fn namespace<'a>(&self, namespace: NamespaceRef<'a>) -> Result<Option<Namespace>> {
                (**self).namespace(namespace).await
            }
            async fn set_namespace_visibility(&self, id: NamespaceId, visibility: Visibility) -> Result<()> {
                (**self).set_namespace_visibility(id, visibility).await
            }
            async fn namespace_by_id(&self, id: NamespaceId) -> Result<Option<Namespace>> {
                (**self).namespace_by_id(id).await
            }
            async fn namespaces_page(
                &self,
                filter: &NamespaceFilter,
                query: &ListQuery<NamespaceSort>,
            ) -> Result<ListPage<Namespace>> {
                (**self).namespaces_page(filter, query).await
            }
            async fn repository_counts(&self, namespaces: &[NamespaceId]) -> Result<Vec<(NamespaceId, u64)>> {
                (**self).repository_counts(namespaces).await
            }
            async fn update_namespace(&self, id: NamespaceId, update: NamespaceUpdate) -> Result<Namespace> {
                (**self).update_namespace(id, update).await
            }
            async fn delete_namespace(&self, id: NamespaceId) -> Result<()> {
                (**self).delete_namespace(id).await
            }
            async fn namespace_access<'a>(
                &self,
                namespace: NamespaceRef<'a>,
                user: Option<UserId>,
            ) -> Result<Option<NamespaceAccess>> {
                (**self).namespace_access(namespace, user).await
            }
            async fn namespaces_access<'a>(
                &self,
                namespaces: &[NamespaceRef<'a>],
                user: Option<UserId>,
            ) -> Result<Vec<Option<NamespaceAccess>>> {
                (**self).namespaces_access(namespaces, user).await
            }
            fn change_marker(&self) -> Option<Vec<u8>> {
                (**self).change_marker()
            }
            async fn user_and_namespaces_access<'a>(
                &self,
                username: &str,
                namespaces: &[NamespaceRef<'a>],
            ) -> Result<Option<(User, Vec<Option<NamespaceAccess>>)>> {
                (**self).user_and_namespaces_access(username, namespaces).await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
