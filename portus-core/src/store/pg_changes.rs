//! The PostgreSQL store's change marker: a generation counter that a `LISTEN` connection moves
//! on every notification of a change that can alter a token request's lookup.
//!
//! The migration `0014` puts statement-level triggers on the tables
//! [`user_and_namespaces_access`](crate::traits::NamespaceStore::user_and_namespaces_access)
//! reads (`users`, `namespaces`, `teams`, `team_members`): each write to them, by any instance
//! or any other client, sends `NOTIFY portus_changes` in its own transaction, so the
//! notification is delivered when (and only if) the write commits. Each store holds one
//! listening connection (its own, outside the pool) in a background task, started by the first
//! read of the marker, and moves the generation on each notification.
//!
//! The marker is `None` ("unknown": every lookup goes to the database) until the `LISTEN` is in
//! place, and again from the moment the connection is found lost until a new one listens; every
//! (re)connection moves the generation too, so nothing kept before a drop is ever answered
//! after it. Connection state and generation are one atomic word: a reader never pairs a
//! connected flag with the generation of another connection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};

/// The channel of the change notifications (also named in the migration's trigger function).
pub(crate) const CHANNEL: &str = "portus_changes";

/// The listening connection's `application_name`, as `pg_stat_activity` shows it.
pub(crate) const APPLICATION_NAME: &str = "portus-changes";

/// How long the task waits before connecting again after losing its connection.
const RECONNECT_AFTER: Duration = Duration::from_millis(500);

/// The marker state: the generation shifted left once, the low bit set while listening.
#[derive(Debug, Default)]
struct Word(AtomicU64);

impl Word {
    fn marker(&self) -> Option<Vec<u8>> {
        let word = self.0.load(Ordering::Acquire);
        (word & 1 == 1).then(|| (word >> 1).to_be_bytes().to_vec())
    }

    /// Moves the generation and sets whether the connection is listening; the task is the
    /// only writer.
    fn advance(&self, listening: bool) {
        let generation = (self.0.load(Ordering::Acquire) >> 1).wrapping_add(1);
        self.0
            .store((generation << 1) | u64::from(listening), Ordering::Release);
    }
}

/// The change marker of one store (shared by its clones); its task ends with the last clone.
#[derive(Debug)]
pub(crate) struct ChangeMarker {
    pool: PgPool,
    word: Arc<Word>,
    task: OnceLock<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for ChangeMarker {
    fn drop(&mut self) {
        if let Some(Some(task)) = self.task.get() {
            task.abort();
        }
    }
}

impl ChangeMarker {
    /// A marker whose listening connection is made with `pool`'s connect options.
    pub(crate) fn new(pool: &PgPool) -> Self {
        ChangeMarker {
            pool: pool.clone(),
            word: Arc::new(Word::default()),
            task: OnceLock::new(),
        }
    }

    /// The current marker: `None` while no connection listens (and outside a tokio runtime,
    /// where no task can listen).
    pub(crate) fn current(&self) -> Option<Vec<u8>> {
        self.task.get_or_init(|| self.spawn());
        self.word.marker()
    }

    fn spawn(&self) -> Option<tokio::task::JoinHandle<()>> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let options = (*self.pool.connect_options())
            .clone()
            .application_name(APPLICATION_NAME);
        // Its own single connection: the listener never takes one of the pool's.
        let own = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy_with(options);
        Some(runtime.spawn(listen(own, self.word.clone())))
    }
}

/// Listens for as long as the store lives, connecting again whenever the connection is lost.
async fn listen(pool: PgPool, word: Arc<Word>) {
    loop {
        match connect(&pool).await {
            Ok(mut listener) => {
                // Listening from here on: any commit after this point is notified.
                word.advance(true);
                let lost = loop {
                    match listener.try_recv().await {
                        Ok(Some(_)) => word.advance(true),
                        Ok(None) => break "connection closed".to_owned(),
                        Err(e) => break e.to_string(),
                    }
                };
                word.advance(false);
                tracing::warn!(
                    reason = %lost,
                    "lost the change notifications of PostgreSQL: token lookups go to the database until they are back"
                );
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for change notifications of PostgreSQL"),
        }
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    // A lost connection is reported (and a new one made by `listen`), never silently replaced:
    // notifications sent meanwhile are lost, so what was kept must be dropped.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Instant;

    use async_trait::async_trait;

    use super::*;
    use crate::kept_access::KeptAccess;
    use crate::model::{
        ListPage, ListQuery, Namespace, NamespaceAccess, NamespaceFilter, NamespaceId, NamespaceRef, NamespaceSort,
        NamespaceUpdate, NewNamespace, NewUser, PasswordHash, Role, User, UserId, Visibility,
    };
    use crate::prelude::*;
    use crate::store::PostgresStore;
    use crate::store::postgres_testing::fresh_database;

    /// Another instance's store, counting the lookups that reach PostgreSQL.
    struct Counting {
        store: PostgresStore,
        lookups: AtomicUsize,
    }

    #[async_trait]
    impl NamespaceStore for Counting {
        async fn create_namespace(&self, namespace: NewNamespace) -> crate::Result<Namespace> {
            self.store.create_namespace(namespace).await
        }
        async fn namespace<'a>(&self, namespace: NamespaceRef<'a>) -> crate::Result<Option<Namespace>> {
            self.store.namespace(namespace).await
        }
        async fn set_namespace_visibility(&self, id: NamespaceId, visibility: Visibility) -> crate::Result<()> {
            self.store.set_namespace_visibility(id, visibility).await
        }
        async fn namespace_by_id(&self, id: NamespaceId) -> crate::Result<Option<Namespace>> {
            self.store.namespace_by_id(id).await
        }
        async fn namespaces_page(
            &self,
            filter: &NamespaceFilter,
            query: &ListQuery<NamespaceSort>,
        ) -> crate::Result<ListPage<Namespace>> {
            self.store.namespaces_page(filter, query).await
        }
        async fn repository_counts(&self, namespaces: &[NamespaceId]) -> crate::Result<Vec<(NamespaceId, u64)>> {
            self.store.repository_counts(namespaces).await
        }
        async fn update_namespace(&self, id: NamespaceId, update: NamespaceUpdate) -> crate::Result<Namespace> {
            self.store.update_namespace(id, update).await
        }
        async fn delete_namespace(&self, id: NamespaceId) -> crate::Result<()> {
            self.store.delete_namespace(id).await
        }
        async fn namespace_access<'a>(
            &self,
            namespace: NamespaceRef<'a>,
            user: Option<UserId>,
        ) -> crate::Result<Option<NamespaceAccess>> {
            self.store.namespace_access(namespace, user).await
        }
        fn change_marker(&self) -> Option<Vec<u8>> {
            self.store.change_marker()
        }
        async fn user_and_namespaces_access<'a>(
            &self,
            username: &str,
            namespaces: &[NamespaceRef<'a>],
        ) -> crate::Result<Option<(User, Vec<Option<NamespaceAccess>>)>> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            self.store.user_and_namespaces_access(username, namespaces).await
        }
    }

    const DEVS: [NamespaceRef<'static>; 1] = [NamespaceRef::Named("devs")];
    const HOUR: Duration = Duration::from_secs(3600);

    /// Waits (at most 5 s) until `ready` holds.
    async fn until(what: &str, ready: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !ready() {
            assert!(Instant::now() < deadline, "{what}: not within 5 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Two stores on one database (two instances); alice a contributor of team `devs`, which
    /// owns the namespace `devs`; the second instance's lookups kept for an hour.
    async fn two_instances() -> (PostgresStore, KeptAccess<Arc<Counting>>, Arc<Counting>, User) {
        let url = fresh_database().await;
        let first = PostgresStore::connect(&url, 2).await.unwrap();
        let second = PostgresStore::connect(&url, 2).await.unwrap();
        let alice = first
            .create_user(NewUser {
                username: "alice".into(),
                password_hash: Some(PasswordHash("$2b$04$one".into())),
                ..NewUser::default()
            })
            .await
            .unwrap();
        let bob = crate::testing::user(&first, "bob").await;
        let team = first.create_team("devs", bob.id, None).await.unwrap();
        first
            .set_team_member(team.id, alice.id, Role::Contributor)
            .await
            .unwrap();
        first
            .create_namespace(NewNamespace {
                name: "devs".into(),
                team_id: team.id,
                visibility: Visibility::Private,
                description: None,
            })
            .await
            .unwrap();
        let counting = Arc::new(Counting {
            store: second,
            lookups: AtomicUsize::new(0),
        });
        let kept = KeptAccess::new(counting.clone(), HOUR, 100);
        let marker = counting.clone();
        until("the second instance listens", move || marker.change_marker().is_some()).await;
        (first, kept, counting, alice)
    }

    async fn lookup(kept: &KeptAccess<Arc<Counting>>) -> (User, Option<Role>) {
        let (user, access) = kept.user_and_namespaces_access("alice", &DEVS).await.unwrap().unwrap();
        let role = access[0].as_ref().and_then(|a| a.role);
        (user, role)
    }

    /// Asks until the answer satisfies `changed` (at most 5 s, while the hour-long TTL would
    /// hide it): a change on the first instance reaches the second by notification.
    async fn seen_at_once(
        kept: &KeptAccess<Arc<Counting>>,
        what: &str,
        changed: impl Fn(&(User, Option<Role>)) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if changed(&lookup(kept).await) {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: still the kept answer after 5 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn repeated_lookups_are_kept_until_another_instance_changes_something() {
        let (first, kept, counting, alice) = two_instances().await;
        let lookups = || counting.lookups.load(Ordering::SeqCst);
        for _ in 0..3 {
            assert_eq!(lookup(&kept).await.1, Some(Role::Contributor));
        }
        assert_eq!(lookups(), 1, "answered from memory without a round trip");

        let team = first.team_by_name("devs").await.unwrap().unwrap();
        first.set_team_member(team.id, alice.id, Role::Viewer).await.unwrap();
        seen_at_once(&kept, "a role change", |(_, role)| *role == Some(Role::Viewer)).await;
        let before = lookups();
        lookup(&kept).await;
        assert_eq!(lookups(), before, "kept again under the new generation");

        first.set_user_enabled(alice.id, false).await.unwrap();
        seen_at_once(&kept, "disabling", |(user, _)| !user.enabled).await;
        first
            .set_password_hash(alice.id, Some(PasswordHash("$2b$04$two".into())))
            .await
            .unwrap();
        seen_at_once(&kept, "a password change", |(user, _)| {
            user.password_hash.as_ref().map(|h| h.0.as_str()) == Some("$2b$04$two")
        })
        .await;
        let devs = first.namespace(DEVS[0]).await.unwrap().unwrap();
        first
            .set_namespace_visibility(devs.id, Visibility::Public)
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let (_, access) = kept.user_and_namespaces_access("alice", &DEVS).await.unwrap().unwrap();
            if access[0].as_ref().unwrap().namespace.visibility == Visibility::Public {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "a namespace change: still the kept answer after 5 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_lost_listener_means_lookups_until_it_is_back() {
        let (first, kept, counting, alice) = two_instances().await;
        let lookups = || counting.lookups.load(Ordering::SeqCst);
        lookup(&kept).await;
        lookup(&kept).await;
        assert_eq!(lookups(), 1);
        let before_drop = counting.change_marker();

        // The listening connection of the second instance is killed (as a network cut or a
        // database restart would): from then on, every lookup goes to the database.
        let killed: Vec<i32> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid)::int FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = $1",
        )
        .bind(APPLICATION_NAME)
        .fetch_all(first.pool())
        .await
        .unwrap();
        assert!(!killed.is_empty(), "a listening connection to kill");
        let marker = counting.clone();
        until("the loss is noticed", move || marker.change_marker() != before_drop).await;
        // A change made while nobody listens (no notification reaches the second instance).
        let team = first.team_by_name("devs").await.unwrap().unwrap();
        first.set_team_member(team.id, alice.id, Role::Viewer).await.unwrap();
        let at = lookups();
        assert_eq!(
            lookup(&kept).await.1,
            Some(Role::Viewer),
            "never the answer kept before the drop"
        );
        assert!(lookups() > at, "asked the database");

        // Back: kept again, and a change is seen at once.
        let marker = counting.clone();
        until("listening again", move || marker.change_marker().is_some()).await;
        lookup(&kept).await;
        let at = lookups();
        lookup(&kept).await;
        assert_eq!(lookups(), at, "kept again once listening");
        first
            .set_team_member(team.id, alice.id, Role::Contributor)
            .await
            .unwrap();
        seen_at_once(&kept, "a change after the reconnection", |(_, role)| {
            *role == Some(Role::Contributor)
        })
        .await;
    }

    #[tokio::test]
    async fn no_marker_while_not_listening() {
        let url = fresh_database().await;
        let store = PostgresStore::connect(&url, 1).await.unwrap();
        // The first read starts the listener; until it listens, there is no marker.
        let first = store.change_marker();
        let marker = store.clone();
        until("listening", move || marker.change_marker().is_some()).await;
        assert!(first.is_none() || first == store.change_marker());
        let word = Word::default();
        assert_eq!(word.marker(), None);
        word.advance(true);
        let one = word.marker().unwrap();
        word.advance(false);
        assert_eq!(word.marker(), None);
        word.advance(true);
        assert_ne!(word.marker().unwrap(), one, "a new connection is a new generation");
    }
}
