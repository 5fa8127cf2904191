use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::model::{
    Activity, ActivityFilter, AppToken, AppTokenId, Comment, CommentId, EventStatus, ImportBatch, ImportCounts,
    ManifestRecord, MissingNamespace, Namespace, NamespaceAccess, NamespaceId, NamespaceRef, NamespaceUpdate,
    NewActivity, NewNamespace, NewUser, PasswordHash, RefreshToken, RefreshTokenId, Repository, RepositoryId, Role,
    ScanRecord, SearchHits, StoredEvent, TagChange, TagId, TagRecord, Team, TeamId, TeamMember, TeamUpdate, User,
    UserId, Visibility,
};
use crate::naming::{
    first_free_name, namespace_name_for_user, validate_namespace_name, validate_team_name, validate_username,
};
use crate::{Error, Result};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, Transaction};

use super::wal_index::WalIndex;

// SQLite has no row locks: its single writer already serializes claims.
const ROW_LOCK: &str = "";
/// `column IN` the ids of a JSON array parameter.
const ID_LIST: (&str, &str) = (" IN (SELECT value FROM json_each(", "))");
/// LIKE ignores ASCII case in SQLite.
const LIKE_ANY_CASE: &str = " LIKE ";
/// At most `$2` ids of tags whose names may match the `LIKE` pattern `$1` (without escapes:
/// FTS5 uses its trigram index only then), read from the trigram index.
const TAG_NAME_TRIGRAMS: Option<&str> = Some("SELECT rowid FROM tag_name_trigrams WHERE name LIKE $1 LIMIT $2");
/// SQLite has one writer at a time: a write transaction already excludes every other.
const FOR_UPDATE: &str = "";
/// Nothing to lock: a write transaction is alone already.
const LOCK_USERS: &str = "";

/// A [`PolicyStore`](crate::PolicyStore) in one SQLite file (WAL mode), the embedded default.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The reader of the database's WAL index; `None` for in-memory databases.
    wal_index: Option<Arc<WalIndex>>,
}

fn migrator() -> Migrator {
    super::sql::migrator(&[
        (1, "policy", include_str!("../../migrations/sqlite/0001_policy.sql")),
        (2, "registry", include_str!("../../migrations/sqlite/0002_registry.sql")),
        (3, "scans", include_str!("../../migrations/sqlite/0003_scans.sql")),
        (
            4,
            "accounts_stars_claims",
            include_str!("../../migrations/sqlite/0004_accounts_stars_claims.sql"),
        ),
        (
            5,
            "namespace_indexes",
            include_str!("../../migrations/sqlite/0005_namespace_indexes.sql"),
        ),
        (
            6,
            "profiles_comments_webhooks_imports",
            include_str!("../../migrations/sqlite/0006_profiles_comments_webhooks_imports.sql"),
        ),
        (
            7,
            "repository_summaries",
            include_str!("../../migrations/sqlite/0007_repository_summaries.sql"),
        ),
        (
            8,
            "list_indexes",
            include_str!("../../migrations/sqlite/0008_list_indexes.sql"),
        ),
        (
            9,
            "activity_ids",
            include_str!("../../migrations/sqlite/0009_activity_ids.sql"),
        ),
        (
            10,
            "tag_name_trigrams",
            include_str!("../../migrations/sqlite/0010_tag_name_trigrams.sql"),
        ),
        (
            11,
            "image_finding_counts",
            include_str!("../../migrations/sqlite/0011_image_finding_counts.sql"),
        ),
        (
            12,
            "app_token_limits",
            include_str!("../../migrations/sqlite/0012_app_token_limits.sql"),
        ),
        (
            13,
            "password_resets",
            include_str!("../../migrations/sqlite/0013_password_resets.sql"),
        ),
        (
            14,
            "outgoing_webhooks",
            include_str!("../../migrations/sqlite/0014_outgoing_webhooks.sql"),
        ),
        (
            15,
            "web_sessions",
            include_str!("../../migrations/sqlite/0015_web_sessions.sql"),
        ),
        (
            16,
            "tag_pulls_and_platform_sizes",
            include_str!("../../migrations/sqlite/0016_tag_pulls_and_platform_sizes.sql"),
        ),
        (
            17,
            "artifacts",
            include_str!("../../migrations/sqlite/0017_artifacts.sql"),
        ),
        (
            18,
            "not_image_tags",
            include_str!("../../migrations/sqlite/0018_not_image_tags.sql"),
        ),
    ])
}

/// Maps a database error to the core error kinds (see `sql::classify`): lock contention, I/O,
/// read-only and full databases are temporary.
fn db_error(error: sqlx::Error) -> Error {
    super::sql::classify(error, super::sql::WHAT, |db| {
        // Primary result codes: SQLITE_BUSY 5, SQLITE_LOCKED 6, SQLITE_READONLY 8,
        // SQLITE_IOERR 10, SQLITE_FULL 13, SQLITE_CANTOPEN 14, SQLITE_PROTOCOL 15 (a WAL lock
        // another process holds too long).
        let primary = db.code().and_then(|c| c.parse::<i32>().ok()).map(|c| c & 0xff);
        matches!(primary, Some(5 | 6 | 8 | 10 | 13 | 14 | 15))
    })
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and applies migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new().filename(path).create_if_missing(true);
        Self::with_options(options, 8).await
    }

    /// Opens a database from a `sqlite:` URL (`sqlite://path/to/file.db`, `sqlite::memory:`).
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::Invalid(format!("invalid SQLite URL '{url}': {e}")))?
            .create_if_missing(true);
        // An in-memory database lives in one connection; more would each see an empty one.
        let connections = if url.contains(":memory:") { 1 } else { 8 };
        Self::with_options(options, connections).await
    }

    /// See [`WalIndex::marker`].
    fn current_change_marker(&self) -> Option<Vec<u8>> {
        self.wal_index.as_ref()?.marker()
    }

    async fn with_options(options: SqliteConnectOptions, max_connections: u32) -> Result<Self> {
        let wal_index = {
            let file = options.get_filename();
            let name = file.to_string_lossy();
            (!name.is_empty() && !name.contains(":memory:")).then(|| Arc::new(WalIndex::for_database(file)))
        };
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        // No ping before each use: a SQLite connection is a local file handle, and the ping is
        // one more hand-off to sqlx's worker thread per query (measured: see README).
        let pool = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(db_error)?;
        migrator().run(&pool).await.map_err(|e| Error::Backend {
            what: "database migration",
            source: Box::new(e),
        })?;
        Ok(SqliteStore { pool, wal_index })
    }

    /// The connection pool (for health checks and tools).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn write_tx(&self) -> Result<Transaction<'static, Sqlite>> {
        // IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout instead
        // of failing when both try to upgrade a read lock.
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)
    }

    /// One `portus serve` process applies the events of a SQLite database: the right is its own.
    async fn applier_lock(&self) -> Result<crate::traits::ApplierLock> {
        Ok(crate::traits::ApplierLock::sole())
    }
}

super::sql::sql_policy_store!(SqliteStore, Sqlite);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    async fn fresh() -> SqliteStore {
        SqliteStore::connect("sqlite::memory:").await.expect("in-memory SQLite")
    }

    crate::policy_store_conformance!(fresh());

    #[tokio::test]
    async fn the_migration_counts_the_tags_holding_no_image() {
        use crate::testing::summaries::{assert_kept_figures_are_recomputed, charts_recognized};
        let store = fresh().await;
        charts_recognized(&store).await;
        // As before the column was kept.
        sqlx::query("UPDATE repository_summaries SET tags_not_images = 0")
            .execute(&store.pool)
            .await
            .unwrap();
        let migration = include_str!("../../migrations/sqlite/0018_not_image_tags.sql");
        let backfill = &migration[migration.find("UPDATE").unwrap()..];
        sqlx::raw_sql(sqlx::AssertSqlSafe(backfill))
            .execute(&store.pool)
            .await
            .unwrap();
        assert_kept_figures_are_recomputed(&store, "migrated").await;
    }

    #[tokio::test]
    async fn the_migration_counts_each_image_once() {
        use crate::testing::summaries::{assert_kept_figures_are_recomputed, two_tags_of_one_scanned_image};
        let store = fresh().await;
        two_tags_of_one_scanned_image(&store).await;
        // As figures were kept before: each tag of the image adding its findings.
        sqlx::query("UPDATE repository_summaries SET high = 2, medium = 2, low = 2")
            .execute(&store.pool)
            .await
            .unwrap();
        sqlx::raw_sql(include_str!("../../migrations/sqlite/0011_image_finding_counts.sql"))
            .execute(&store.pool)
            .await
            .unwrap();
        assert_kept_figures_are_recomputed(&store, "migrated").await;
    }

    #[tokio::test]
    async fn two_stores_on_one_file_keep_the_figures() {
        use crate::testing::summaries::{assert_kept_figures_are_recomputed, concurrent_pushes, concurrent_scans};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portus.db");
        let (first, second) = (
            SqliteStore::open(&path).await.unwrap(),
            SqliteStore::open(&path).await.unwrap(),
        );
        first.set_scan_scope(&["a".into(), "b".into()]).await.unwrap();
        tokio::join!(
            concurrent_pushes(&first, 0),
            concurrent_pushes(&second, 1),
            concurrent_scans(&first, 0),
            concurrent_scans(&second, 1)
        );
        assert_kept_figures_are_recomputed(&second, "two writers").await;
    }

    async fn commit_a_user(store: &SqliteStore, username: &str) {
        let user = crate::model::NewUser {
            username: username.into(),
            ..Default::default()
        };
        store.create_user(user).await.unwrap();
    }

    #[tokio::test]
    async fn the_change_marker_moves_with_every_commit_of_any_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portus.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let before = store.change_marker().expect("a file database has a marker");
        assert_eq!(store.change_marker(), Some(before.clone()), "no commit, no change");
        store.user_by_name("nobody").await.unwrap();
        assert_eq!(store.change_marker(), Some(before.clone()), "reads change nothing");
        // Another pool (as another process, the CLI, would be) commits.
        let other = SqliteStore::open(&path).await.unwrap();
        commit_a_user(&other, "ann").await;
        let after_other = store.change_marker().unwrap();
        assert_ne!(after_other, before, "a commit of another connection");
        let ann = store.user_by_name("ann").await.unwrap().unwrap();
        store.set_user_enabled(ann.id, false).await.unwrap();
        assert_ne!(store.change_marker().unwrap(), after_other, "a commit of this pool");
        assert_eq!(fresh().await.change_marker(), None, "in memory: no marker");
    }

    /// The POSIX record locks this process holds on the file at `path`, from `/proc/locks`
    /// ("POSIX ADVISORY READ <pid> <device>:<inode> <first byte> <last byte>").
    #[cfg(target_os = "linux")]
    fn own_record_locks_on(path: &Path) -> Vec<String> {
        use std::os::unix::fs::MetadataExt;
        let inode = std::fs::metadata(path).expect("the file exists").ino().to_string();
        let pid = std::process::id().to_string();
        std::fs::read_to_string("/proc/locks")
            .expect("/proc/locks")
            .lines()
            .filter(|line| {
                // "1: POSIX  ADVISORY  READ 1234 08:01:5678 128 128"
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.get(1) == Some(&"POSIX")
                    && fields.get(4) == Some(&pid.as_str())
                    && fields.get(5).and_then(|f| f.rsplit(':').next()) == Some(inode.as_str())
            })
            // Without the line's ordinal, which other locks of the system shift.
            .map(|line| line.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
            .collect()
    }

    /// Closing any descriptor of a file drops every POSIX lock the process holds on it; a
    /// marker read that did so let another process truncate the index under this one's
    /// connections (the server died of SIGBUS while the CLI worked on the same database).
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn reading_the_change_marker_keeps_sqlites_locks_on_the_wal_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portus.db");
        let shm = dir.path().join("portus.db-shm");
        let store = SqliteStore::open(&path).await.unwrap();
        store.user_by_name("nobody").await.unwrap();
        let held = own_record_locks_on(&shm);
        assert!(!held.is_empty(), "an open connection holds a shared lock on the index");
        for _ in 0..3 {
            assert!(store.change_marker().is_some());
        }
        let other = SqliteStore::open(&path).await.unwrap();
        assert!(other.change_marker().is_some());
        drop(other);
        assert_eq!(
            own_record_locks_on(&shm),
            held,
            "reading markers (and dropping a second store) released SQLite's locks"
        );
        assert!(store.change_marker().is_some());
    }

    /// When the last connection closes SQLite deletes the index; the next one makes a new file.
    /// A reader still holding the old file would never see another commit.
    #[tokio::test]
    async fn the_change_marker_follows_a_recreated_wal_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portus.db");
        let first = SqliteStore::open(&path).await.unwrap();
        let before = first.change_marker().expect("a marker");
        first.pool().close().await;
        let shm = dir.path().join("portus.db-shm");
        assert!(!shm.exists(), "the last connection removed the index");
        assert_eq!(first.change_marker(), None, "no index, no marker");

        let second = SqliteStore::open(&path).await.unwrap();
        commit_a_user(&second, "ann").await;
        let now = second.change_marker().expect("a marker");
        assert_ne!(now, before);
        assert_eq!(first.change_marker(), Some(now), "the first reader reads the new file");
    }

    /// The steps of SQLite's plan for `select` on a fresh database.
    async fn query_plan(select: &str) -> Vec<String> {
        let store = fresh().await;
        sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {select}")))
            .fetch_all(store.pool())
            .await
            .unwrap()
            .iter()
            .map(|row| row.get::<String, _>(3))
            .collect()
    }

    #[tokio::test]
    async fn the_token_lookup_uses_the_name_index() {
        let plan = query_plan(
            "SELECT u.id, n.id AS ns_id FROM users u \
             LEFT JOIN namespaces n ON NOT n.global AND n.name IN ('a', 'b') \
             LEFT JOIN team_members m ON m.team_id = n.team_id AND m.user_id = u.id \
             WHERE u.username = 'x'",
        )
        .await;
        assert!(
            plan.iter().any(|step| step.contains("USING INDEX namespaces_by_name")),
            "{plan:?}"
        );
        assert!(!plan.iter().any(|step| step.starts_with("SCAN")), "{plan:?}");
    }

    #[tokio::test]
    async fn namespace_lookups_use_an_index() {
        // Found by the token load test: a partial index the shared SQL did not match made every
        // scope of every token request scan all namespaces.
        let plan = query_plan(
            "SELECT n.id FROM namespaces n \
             LEFT JOIN team_members m ON m.team_id = n.team_id AND m.user_id = 1 \
             WHERE NOT n.global AND n.name = 'x'",
        )
        .await;
        assert!(
            plan.iter().any(|step| step.contains("USING INDEX namespaces_by_name")),
            "{plan:?}"
        );
    }

    /// The lists' slices walk an index in order (no sort of the whole table: a page reads its
    /// own rows) and their counts read an index, as the shared SQL spells them.
    #[tokio::test]
    async fn list_pages_and_counts_use_indexes() {
        let ordered = [
            (
                "SELECT t.id FROM teams t WHERE t.hidden = FALSE ORDER BY t.name DESC, t.id DESC LIMIT 25 OFFSET 50",
                "teams_listed",
            ),
            (
                "SELECT t.id FROM teams t WHERE t.hidden = FALSE ORDER BY t.id ASC LIMIT 25 OFFSET 0",
                "teams_by_hidden",
            ),
            (
                "SELECT n.id FROM namespaces n ORDER BY n.global ASC, n.name DESC, n.id DESC LIMIT 25 OFFSET 0",
                "namespaces_listed",
            ),
            (
                "SELECT u.id FROM users u ORDER BY u.created_at DESC, u.id DESC LIMIT 25 OFFSET 0",
                "users_by_created_at",
            ),
            (
                "SELECT id FROM activities WHERE actor = 'x' ORDER BY id DESC LIMIT 25 OFFSET 0",
                "activities_by_actor",
            ),
            (
                "SELECT id FROM activities ORDER BY at ASC, id ASC LIMIT 25 OFFSET 0",
                "activities_by_time",
            ),
            (
                "SELECT id FROM app_tokens WHERE user_id = 1 ORDER BY id ASC LIMIT 25 OFFSET 0",
                "app_tokens_by_user",
            ),
            (
                "SELECT id FROM comments WHERE repository_id = 1 ORDER BY created_at ASC, id ASC LIMIT 25 OFFSET 0",
                "comments_by_repository_time",
            ),
        ];
        for (select, index) in ordered {
            let plan = query_plan(select).await;
            assert!(plan.iter().any(|step| step.contains(index)), "{select}: {plan:?}");
            assert!(
                !plan.iter().any(|step| step.contains("TEMP B-TREE")),
                "{select}: {plan:?}"
            );
        }
        let counted = [
            ("SELECT COUNT(*) FROM teams t WHERE t.hidden = FALSE", "teams_by_hidden"),
            (
                "SELECT COUNT(*) FROM teams t WHERE t.id IN (SELECT m.team_id FROM team_members m WHERE m.user_id = 3)",
                "team_members_by_user",
            ),
            (
                "SELECT COUNT(*) FROM namespaces n WHERE n.team_id = 3",
                "namespaces_by_team",
            ),
            (
                "SELECT namespace_id, COUNT(*) FROM repositories WHERE namespace_id IN (1, 2) GROUP BY namespace_id",
                "repositories_by_namespace",
            ),
            (
                "SELECT COUNT(*) FROM activities WHERE actor = 'x'",
                "activities_by_actor",
            ),
            ("SELECT COUNT(*) FROM team_members WHERE team_id = 1", "team_members"),
        ];
        for (select, index) in counted {
            let plan = query_plan(select).await;
            assert!(plan.iter().any(|step| step.contains(index)), "{select}: {plan:?}");
            assert!(!plan.iter().any(|step| step.starts_with("SCAN")), "{select}: {plan:?}");
        }
        // Each alternative of the visibility rule from its own index, for the count and for
        // the page (which sorts only the visible namespaces: most are private personal ones).
        for select in ["SELECT COUNT(*) FROM namespaces n", "SELECT n.id FROM namespaces n"] {
            let select = format!(
                "{select} WHERE (n.visibility IN ('public', 'protected') OR n.global = TRUE OR n.team_id IN (1, 2))"
            );
            let plan = query_plan(&select).await;
            assert!(plan.iter().any(|step| step.contains("MULTI-INDEX OR")), "{plan:?}");
            assert!(!plan.iter().any(|step| step.starts_with("SCAN")), "{plan:?}");
        }
    }

    /// The trigram index of tag names follows every insert and deletion (a repository's
    /// cascade included) exactly: FTS5's own check compares it with the `tags` rows, and the
    /// search asks the index with the pattern form it serves.
    #[tokio::test]
    async fn the_tag_name_trigrams_follow_the_tags() {
        let store = fresh().await;
        crate::testing::catalog_pages::tag_name_search_finds_exactly_the_matching_tags(&store).await;
        sqlx::query("INSERT INTO tag_name_trigrams (tag_name_trigrams, rank) VALUES ('integrity-check', 1)")
            .execute(store.pool())
            .await
            .expect("the trigram index matches the tags");
        let plan = query_plan(&TAG_NAME_TRIGRAMS.unwrap().replace("$1", "'%abc%'").replace("$2", "10")).await;
        assert_eq!(plan, ["SCAN tag_name_trigrams VIRTUAL TABLE INDEX 0:L0"]);
    }

    #[tokio::test]
    async fn data_survives_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portus.db");
        {
            let store = SqliteStore::open(&path).await.unwrap();
            crate::testing::user(&store, "alice").await;
        }
        let store = SqliteStore::open(&path).await.unwrap();
        let alice = store.user_by_name("alice").await.unwrap().expect("persisted");
        assert!(alice.personal_namespace.is_some());
        assert!(
            store.namespace(NamespaceRef::Global).await.unwrap().is_some(),
            "migrations ran once"
        );
    }

    /// Stored values the model does not know: an unknown enum value is `Invalid`, a malformed
    /// JSON column or a value of the wrong type is a backend failure.
    #[tokio::test]
    async fn undecodable_rows_are_errors_of_their_kind() {
        use crate::ErrorKind;
        let store = fresh().await; // one connection: the pragma holds for every query
        let alice = crate::testing::user(&store, "alice").await;
        let namespace = alice.personal_namespace.unwrap();
        let record = crate::model::ScanRecord {
            digest: "sha256:a".into(),
            backend: "clair".into(),
            state: crate::model::ScanState::Pending,
            report: None,
            error: None,
            attempts: 0,
            updated_at: crate::model::now(),
            next_attempt_at: None,
        };
        store.put_scan_record(&record).await.unwrap();
        let run = |sql: &'static str| sqlx::query(sql).execute(store.pool());
        run("PRAGMA ignore_check_constraints = ON").await.unwrap();

        run("UPDATE namespaces SET visibility = 'secret' WHERE NOT global")
            .await
            .unwrap();
        let err = store.namespace_by_id(namespace).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err:?}");
        run("UPDATE namespaces SET visibility = 'private' WHERE NOT global")
            .await
            .unwrap();

        run("UPDATE team_members SET role = 'boss'").await.unwrap();
        let err = store.memberships(alice.id).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err:?}");

        run("UPDATE scan_records SET report = 'not json'").await.unwrap();
        let err = store.scan_records(None).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Backend, "{err:?}");
        run("UPDATE scan_records SET report = NULL, state = 'lost'")
            .await
            .unwrap();
        let err = store.scan_records(None).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err:?}");

        run("UPDATE users SET username = X'00'").await.unwrap();
        let err = store.user_by_id(alice.id).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Backend, "{err:?}");
    }

    #[tokio::test]
    async fn read_only_database_is_unavailable_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portus.db");
        drop(SqliteStore::open(&path).await.unwrap());
        let url = format!("sqlite://{}?mode=ro", path.display());
        let store = SqliteStore::connect(&url).await.unwrap();
        let err = store
            .create_user(NewUser {
                username: "x".into(),
                ..NewUser::default()
            })
            .await
            .unwrap_err();
        assert!(err.is_temporary(), "{err:?}");
        assert_eq!(err.kind(), crate::ErrorKind::Unavailable);
    }
}
