//! [`KeptAccess`]: a [`NamespaceStore`] decorator that keeps the answers of
//! [`user_and_namespaces_access`](NamespaceStore::user_and_namespaces_access) while the store's
//! change marker says nothing was committed since they were read.
//!
//! A `docker` client logs in again for every layer it pushes or pulls; each of those token
//! requests looks up the user and their access to the same namespaces. On a store that offers a
//! [`change_marker`](NamespaceStore::change_marker) (SQLite: the WAL-index header, rewritten by
//! every commit of any connection of any process), that lookup can be answered from memory as
//! long as the marker is byte for byte the one read *before* the lookup was made: a commit
//! after that read changes the marker, so nothing read is ever kept past a change, whoever made
//! it. PostgreSQL's marker is a generation counter moved by the `NOTIFY` that triggers on the
//! tables this lookup reads send at every commit to them (see `store/pg_changes.rs`), and is
//! absent while its listening connection is down. Stores without a marker (in-memory, or
//! PostgreSQL while not listening) are always asked.
//!
//! The decorator only answers from memory; deciding what the answer allows (password hash,
//! account state, policy) stays with the caller, on every request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::Result;
use crate::model::{
    ListPage, ListQuery, Namespace, NamespaceAccess, NamespaceFilter, NamespaceId, NamespaceRef, NamespaceSort,
    NamespaceUpdate, NewNamespace, User, UserId, Visibility,
};
use crate::traits::NamespaceStore;

/// What one lookup found: the user and their access to each namespace asked, in order.
type Found = (User, Vec<Option<NamespaceAccess>>);

/// A lookup's question: the user name and the namespaces (`None`: the global one), in order.
type Key = (String, Vec<Option<String>>);

/// One kept answer and the marker read before it was looked up.
struct Kept {
    marker: Vec<u8>,
    found: Found,
    at: Instant,
}

/// A [`NamespaceStore`] over `S` that forwards everything and answers
/// [`user_and_namespaces_access`](NamespaceStore::user_and_namespaces_access) from the answer it
/// kept for the same question, while
///
/// - the inner store's [`change_marker`](NamespaceStore::change_marker), read before the
///   lookup, is still the current one (any commit anywhere ends it),
/// - and the answer is younger than `ttl` (a bound on how long a marker that failed to move
///   could hide a change).
///
/// Nothing is kept when the store has no marker, nor for unknown users. At most `capacity`
/// answers are kept; when full, all are dropped (repeated logins refill it at once).
pub struct KeptAccess<S> {
    inner: S,
    ttl: Duration,
    capacity: usize,
    kept: Mutex<HashMap<Key, Kept>>,
}

impl<S> KeptAccess<S> {
    /// Keeps answers of `inner` for at most `ttl`, at most `capacity` of them.
    pub fn new(inner: S, ttl: Duration, capacity: usize) -> Self {
        KeptAccess {
            inner,
            ttl,
            capacity,
            kept: Mutex::new(HashMap::new()),
        }
    }

    /// The decorated store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The kept answer to `key`, if it was read under `marker` and is younger than the TTL.
    fn kept(&self, key: &Key, marker: &[u8]) -> Option<Found> {
        // A panic elsewhere while holding the lock leaves only whole entries behind: usable.
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let entry = kept.get(key)?;
        (entry.marker == marker && entry.at.elapsed() < self.ttl).then(|| entry.found.clone())
    }

    fn keep(&self, key: Key, marker: Vec<u8>, found: Found) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= self.capacity && !kept.contains_key(&key) {
            kept.clear();
        }
        if self.capacity > 0 {
            kept.insert(
                key,
                Kept {
                    marker,
                    found,
                    at: Instant::now(),
                },
            );
        }
    }
}

impl<S> std::fmt::Debug for KeptAccess<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeptAccess")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

fn key(username: &str, namespaces: &[NamespaceRef<'_>]) -> Key {
    let namespaces = namespaces
        .iter()
        .map(|n| match n {
            NamespaceRef::Global => None,
            NamespaceRef::Named(name) => Some((*name).to_owned()),
        })
        .collect();
    (username.to_owned(), namespaces)
}

#[async_trait]
impl<S: NamespaceStore> NamespaceStore for KeptAccess<S> {
    async fn create_namespace(&self, namespace: NewNamespace) -> Result<Namespace> {
        self.inner.create_namespace(namespace).await
    }
    async fn namespace<'a>(&self, namespace: NamespaceRef<'a>) -> Result<Option<Namespace>> {
        self.inner.namespace(namespace).await
    }
    async fn set_namespace_visibility(&self, id: NamespaceId, visibility: Visibility) -> Result<()> {
        self.inner.set_namespace_visibility(id, visibility).await
    }
    async fn namespace_by_id(&self, id: NamespaceId) -> Result<Option<Namespace>> {
        self.inner.namespace_by_id(id).await
    }
    async fn namespaces_page(
        &self,
        filter: &NamespaceFilter,
        query: &ListQuery<NamespaceSort>,
    ) -> Result<ListPage<Namespace>> {
        self.inner.namespaces_page(filter, query).await
    }
    async fn repository_counts(&self, namespaces: &[NamespaceId]) -> Result<Vec<(NamespaceId, u64)>> {
        self.inner.repository_counts(namespaces).await
    }
    async fn update_namespace(&self, id: NamespaceId, update: NamespaceUpdate) -> Result<Namespace> {
        self.inner.update_namespace(id, update).await
    }
    async fn delete_namespace(&self, id: NamespaceId) -> Result<()> {
        self.inner.delete_namespace(id).await
    }
    async fn namespace_access<'a>(
        &self,
        namespace: NamespaceRef<'a>,
        user: Option<UserId>,
    ) -> Result<Option<NamespaceAccess>> {
        self.inner.namespace_access(namespace, user).await
    }
    async fn namespaces_access<'a>(
        &self,
        namespaces: &[NamespaceRef<'a>],
        user: Option<UserId>,
    ) -> Result<Vec<Option<NamespaceAccess>>> {
        self.inner.namespaces_access(namespaces, user).await
    }
    fn change_marker(&self) -> Option<Vec<u8>> {
        self.inner.change_marker()
    }
    async fn user_and_namespaces_access<'a>(
        &self,
        username: &str,
        namespaces: &[NamespaceRef<'a>],
    ) -> Result<Option<(User, Vec<Option<NamespaceAccess>>)>> {
        // The marker is read before the lookup: a commit after this read changes the marker, so
        // what the lookup reads is never kept past a change, even one made while it ran.
        let Some(marker) = self.inner.change_marker() else {
            return self.inner.user_and_namespaces_access(username, namespaces).await;
        };
        let key = key(username, namespaces);
        if let Some(found) = self.kept(&key, &marker) {
            return Ok(Some(found));
        }
        let found = self.inner.user_and_namespaces_access(username, namespaces).await?;
        if let Some(found) = &found {
            self.keep(key, marker, found.clone());
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;
    use crate::InMemoryStore;
    use crate::model::{NewUser, Role};
    use crate::traits::{AccountStore, NamespaceStoreExt, TeamStore};

    /// An in-memory store with a marker the test moves by hand, counting the lookups that
    /// reach it; it can also move its marker while a lookup runs (a concurrent commit).
    struct Marked {
        store: InMemoryStore,
        marker: Mutex<Option<u64>>,
        lookups: AtomicUsize,
        commit_during_lookup: AtomicBool,
    }

    impl Marked {
        fn commit(&self) {
            if let Some(m) = self.marker.lock().unwrap().as_mut() {
                *m += 1;
            }
        }
        fn lookups(&self) -> usize {
            self.lookups.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl NamespaceStore for Marked {
        async fn create_namespace(&self, namespace: NewNamespace) -> Result<Namespace> {
            self.store.create_namespace(namespace).await
        }
        async fn namespace<'a>(&self, namespace: NamespaceRef<'a>) -> Result<Option<Namespace>> {
            self.store.namespace(namespace).await
        }
        async fn set_namespace_visibility(&self, id: NamespaceId, visibility: Visibility) -> Result<()> {
            self.store.set_namespace_visibility(id, visibility).await
        }
        async fn namespace_by_id(&self, id: NamespaceId) -> Result<Option<Namespace>> {
            self.store.namespace_by_id(id).await
        }
        async fn namespaces_page(
            &self,
            filter: &NamespaceFilter,
            query: &ListQuery<NamespaceSort>,
        ) -> Result<ListPage<Namespace>> {
            self.store.namespaces_page(filter, query).await
        }
        async fn repository_counts(&self, namespaces: &[NamespaceId]) -> Result<Vec<(NamespaceId, u64)>> {
            self.store.repository_counts(namespaces).await
        }
        async fn update_namespace(&self, id: NamespaceId, update: NamespaceUpdate) -> Result<Namespace> {
            self.store.update_namespace(id, update).await
        }
        async fn delete_namespace(&self, id: NamespaceId) -> Result<()> {
            self.store.delete_namespace(id).await
        }
        async fn namespace_access<'a>(
            &self,
            namespace: NamespaceRef<'a>,
            user: Option<UserId>,
        ) -> Result<Option<NamespaceAccess>> {
            self.store.namespace_access(namespace, user).await
        }
        fn change_marker(&self) -> Option<Vec<u8>> {
            self.marker.lock().unwrap().map(|m| m.to_be_bytes().to_vec())
        }
        async fn user_and_namespaces_access<'a>(
            &self,
            username: &str,
            namespaces: &[NamespaceRef<'a>],
        ) -> Result<Option<Found>> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            let found = self.store.user_and_namespaces_access(username, namespaces).await;
            if self.commit_during_lookup.load(Ordering::SeqCst) {
                self.commit();
            }
            found
        }
    }

    const DEVS: [NamespaceRef<'static>; 2] = [NamespaceRef::Named("devs"), NamespaceRef::Global];

    /// alice, contributor in team `devs` which owns the private namespace `devs`.
    async fn marked(marker: Option<u64>) -> (Arc<Marked>, User) {
        let store = InMemoryStore::new();
        let alice = store
            .create_user(NewUser {
                username: "alice".into(),
                ..NewUser::default()
            })
            .await
            .unwrap();
        let bob = store
            .create_user(NewUser {
                username: "bob".into(),
                ..NewUser::default()
            })
            .await
            .unwrap();
        let team = store.create_team("devs", bob.id, None).await.unwrap();
        store
            .set_team_member(team.id, alice.id, Role::Contributor)
            .await
            .unwrap();
        store
            .create_namespace(NewNamespace {
                name: "devs".into(),
                team_id: team.id,
                visibility: Visibility::Private,
                description: None,
            })
            .await
            .unwrap();
        let marked = Marked {
            store,
            marker: Mutex::new(marker),
            lookups: AtomicUsize::new(0),
            commit_during_lookup: AtomicBool::new(false),
        };
        (Arc::new(marked), alice)
    }

    fn kept(inner: &Arc<Marked>, ttl: Duration) -> KeptAccess<Arc<Marked>> {
        KeptAccess::new(inner.clone(), ttl, 100)
    }

    const MINUTE: Duration = Duration::from_secs(60);

    async fn role(store: &impl NamespaceStore, username: &str) -> Option<Role> {
        let (_, access) = store
            .user_and_namespaces_access(username, &DEVS)
            .await
            .unwrap()
            .unwrap();
        access[0].as_ref().unwrap().role
    }

    #[tokio::test]
    async fn kept_while_the_marker_stands_still() {
        let (inner, alice) = marked(Some(1)).await;
        let store = kept(&inner, MINUTE);
        let first = store.user_and_namespaces_access("alice", &DEVS).await.unwrap();
        let again = store.user_and_namespaces_access("alice", &DEVS).await.unwrap();
        assert_eq!(first, again);
        assert_eq!(inner.lookups(), 1, "answered from what was kept");
        assert_eq!(
            first.unwrap().1,
            inner.store.namespaces_access(&DEVS, Some(alice.id)).await.unwrap()
        );
        // Proof that the kept answer is served: a change the marker does not show is not seen
        // (a real store's marker moves with every commit; this one only when told).
        let team = inner.store.team_by_name("devs").await.unwrap().unwrap();
        inner
            .store
            .set_team_member(team.id, alice.id, Role::Viewer)
            .await
            .unwrap();
        assert_eq!(role(&store, "alice").await, Some(Role::Contributor));
        // Another question is another lookup.
        store.user_and_namespaces_access("bob", &DEVS).await.unwrap();
        store.user_and_namespaces_access("alice", &DEVS[..1]).await.unwrap();
        assert_eq!(inner.lookups(), 3);
    }

    #[tokio::test]
    async fn dropped_when_the_marker_changes() {
        let (inner, alice) = marked(Some(1)).await;
        let store = kept(&inner, MINUTE);
        assert_eq!(role(&store, "alice").await, Some(Role::Contributor));
        let team = inner.store.team_by_name("devs").await.unwrap().unwrap();
        inner
            .store
            .set_team_member(team.id, alice.id, Role::Viewer)
            .await
            .unwrap();
        inner.commit();
        assert_eq!(
            role(&store, "alice").await,
            Some(Role::Viewer),
            "the change counts at once"
        );
        assert_eq!(inner.lookups(), 2);
        assert_eq!(role(&store, "alice").await, Some(Role::Viewer));
        assert_eq!(inner.lookups(), 2, "kept again under the new marker");
    }

    #[tokio::test]
    async fn a_commit_while_looking_up_is_never_hidden() {
        let (inner, _) = marked(Some(1)).await;
        let store = kept(&inner, MINUTE);
        inner.commit_during_lookup.store(true, Ordering::SeqCst);
        store.user_and_namespaces_access("alice", &DEVS).await.unwrap();
        inner.commit_during_lookup.store(false, Ordering::SeqCst);
        // What the lookup read may predate the commit: it was kept under the marker read
        // before, which is no longer current, so the next request looks up again.
        store.user_and_namespaces_access("alice", &DEVS).await.unwrap();
        assert_eq!(inner.lookups(), 2);
        store.user_and_namespaces_access("alice", &DEVS).await.unwrap();
        assert_eq!(inner.lookups(), 2);
    }

    #[tokio::test]
    async fn never_kept_without_a_marker() {
        let (inner, _) = marked(None).await;
        let store = kept(&inner, MINUTE);
        for _ in 0..3 {
            assert!(
                store
                    .user_and_namespaces_access("alice", &DEVS)
                    .await
                    .unwrap()
                    .is_some()
            );
        }
        assert_eq!(inner.lookups(), 3);
        assert!(store.kept.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn unknown_users_are_not_kept() {
        let (inner, _) = marked(Some(1)).await;
        let store = kept(&inner, MINUTE);
        for _ in 0..2 {
            assert_eq!(store.user_and_namespaces_access("nobody", &DEVS).await.unwrap(), None);
        }
        assert_eq!(inner.lookups(), 2, "a user created meanwhile must be found");
    }

    #[tokio::test]
    async fn kept_no_longer_than_the_ttl() {
        let (inner, _) = marked(Some(1)).await;
        let store = kept(&inner, Duration::from_millis(50));
        store.user_and_namespaces_access("alice", &DEVS).await.unwrap();
        store.user_and_namespaces_access("alice", &DEVS).await.unwrap();
        assert_eq!(inner.lookups(), 1);
        std::thread::sleep(Duration::from_millis(60));
        store.user_and_namespaces_access("alice", &DEVS).await.unwrap();
        assert_eq!(inner.lookups(), 2, "expired although the marker stood still");

        let (inner, _) = marked(Some(1)).await;
        let never = kept(&inner, Duration::ZERO);
        for _ in 0..2 {
            never.user_and_namespaces_access("alice", &DEVS).await.unwrap();
        }
        assert_eq!(inner.lookups(), 2, "a zero TTL keeps nothing usable");
    }

    #[tokio::test]
    async fn capacity_bounds_what_is_kept() {
        let (inner, _) = marked(Some(1)).await;
        let store = KeptAccess::new(inner.clone(), MINUTE, 2);
        for namespaces in [&DEVS[..], &DEVS[..1], &DEVS[1..]] {
            store.user_and_namespaces_access("alice", namespaces).await.unwrap();
            assert!(store.kept.lock().unwrap().len() <= 2);
        }
        // The third question dropped the first two: only it is answered from memory.
        store.user_and_namespaces_access("alice", &DEVS[1..]).await.unwrap();
        assert_eq!(inner.lookups(), 3);
        store.user_and_namespaces_access("alice", &DEVS).await.unwrap();
        assert_eq!(inner.lookups(), 4);
    }

    #[tokio::test]
    async fn everything_else_is_forwarded() {
        let (inner, _) = marked(Some(7)).await;
        let store = kept(&inner, MINUTE);
        assert_eq!(store.change_marker(), inner.change_marker());
        assert_eq!(
            store.list_namespaces().await.unwrap(),
            inner.store.list_namespaces().await.unwrap()
        );
        let devs = store.namespace(DEVS[0]).await.unwrap().unwrap();
        store
            .set_namespace_visibility(devs.id, Visibility::Public)
            .await
            .unwrap();
        let changed = inner.store.namespace_by_id(devs.id).await.unwrap().unwrap();
        assert_eq!(changed.visibility, Visibility::Public);
        assert_eq!(inner.lookups(), 0, "no lookup of the decorated kind");
    }
}
