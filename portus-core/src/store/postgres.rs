use std::collections::HashSet;
use std::str::FromStr;
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
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Row, Transaction};

// Claims skip rows another instance is claiming instead of queueing behind them.
const ROW_LOCK: &str = " FOR UPDATE SKIP LOCKED";
/// `column IN` the ids of a JSON array parameter.
const ID_LIST: (&str, &str) = (
    " IN (SELECT CAST(jsonb_array_elements_text(CAST(",
    " AS jsonb)) AS BIGINT))",
);
/// LIKE ignoring ASCII case, as SQLite's: under the "C" collation PostgreSQL folds ASCII
/// letters alone, at twice the speed of folding every character of every row.
const LIKE_ANY_CASE: &str = " COLLATE \"C\" ILIKE ";
/// At most `$2` ids of tags whose lower-case names match the `LIKE` pattern `$1`, which the
/// trigram index `tags_by_name_trigrams` serves where `pg_trgm` is installed.
const TAG_NAME_TRIGRAMS: Option<&str> = Some("SELECT id FROM tags WHERE lower(name) LIKE $1 LIMIT $2");
/// Makes a transaction that creates a user only when none exists wait for any other such
/// transaction (and any insert) to commit first; readers are not blocked.
const LOCK_USERS: &str = "LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE";
/// Locks the rows read until the transaction ends: figures are read, changed and written back.
const FOR_UPDATE: &str = " FOR UPDATE";

/// The advisory lock key of the registry event applier ("portus" and 1): instances apply
/// events one at a time. sqlx's migration lock is derived from the database name, not this.
const EVENT_APPLIER_LOCK: i64 = 0x706f_7274_7573_0001;

/// A [`PolicyStore`](crate::PolicyStore) in PostgreSQL: what several `portus serve` instances share.
///
/// Every write is one transaction, so instances never see each other's half-done changes;
/// migrations take PostgreSQL's advisory lock, so instances starting together migrate once.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Moved by `NOTIFY` on every commit that can change a token request's lookup.
    changes: std::sync::Arc<super::pg_changes::ChangeMarker>,
}

fn migrator() -> Migrator {
    super::sql::migrator(&[
        (1, "policy", include_str!("../../migrations/postgres/0001_policy.sql")),
        (
            2,
            "registry",
            include_str!("../../migrations/postgres/0002_registry.sql"),
        ),
        (3, "scans", include_str!("../../migrations/postgres/0003_scans.sql")),
        (
            4,
            "accounts_stars_claims",
            include_str!("../../migrations/postgres/0004_accounts_stars_claims.sql"),
        ),
        (
            5,
            "profiles_comments_webhooks_imports",
            include_str!("../../migrations/postgres/0005_profiles_comments_webhooks_imports.sql"),
        ),
        (
            6,
            "repository_summaries",
            include_str!("../../migrations/postgres/0006_repository_summaries.sql"),
        ),
        (
            7,
            "list_indexes",
            include_str!("../../migrations/postgres/0007_list_indexes.sql"),
        ),
        (
            8,
            "name_trigrams",
            include_str!("../../migrations/postgres/0008_name_trigrams.sql"),
        ),
        (
            9,
            "list_order_indexes",
            include_str!("../../migrations/postgres/0009_list_order_indexes.sql"),
        ),
        (
            10,
            "image_finding_counts",
            include_str!("../../migrations/postgres/0010_image_finding_counts.sql"),
        ),
        (
            11,
            "app_token_limits",
            include_str!("../../migrations/postgres/0011_app_token_limits.sql"),
        ),
        (
            12,
            "password_resets",
            include_str!("../../migrations/postgres/0012_password_resets.sql"),
        ),
        (
            13,
            "outgoing_webhooks",
            include_str!("../../migrations/postgres/0013_outgoing_webhooks.sql"),
        ),
        (
            14,
            "web_sessions",
            include_str!("../../migrations/postgres/0014_web_sessions.sql"),
        ),
        (
            15,
            "tag_pulls_and_platform_sizes",
            include_str!("../../migrations/postgres/0015_tag_pulls_and_platform_sizes.sql"),
        ),
        (
            16,
            "artifacts",
            include_str!("../../migrations/postgres/0016_artifacts.sql"),
        ),
        (
            17,
            "not_image_tags",
            include_str!("../../migrations/postgres/0017_not_image_tags.sql"),
        ),
    ])
}

/// Maps a database error to the core error kinds (see `sql::classify`): lost connections,
/// shutdowns, serialization failures and exhausted resources are temporary.
fn db_error(error: sqlx::Error) -> Error {
    super::sql::classify(error, super::sql::WHAT, |db| {
        // SQLSTATE classes 08 (connection), 53 (resources), 57 (operator intervention, e.g.
        // shutdown) and 40001/40P01 (serialization failure, deadlock): retrying may work.
        let code = db.code().unwrap_or_default();
        ["08", "53", "57"].iter().any(|class| code.starts_with(class)) || code == "40001" || code == "40P01"
    })
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database?sslmode=...`) with at
    /// most `max_connections` connections (two at least) and applies migrations.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| Error::Invalid(format!("invalid PostgreSQL URL: {e}")))?
            .application_name("portus");
        let pool = PgPoolOptions::new()
            // Two at least: the event applier holds one for its lock while it applies.
            .max_connections(max_connections.max(2))
            // An outage should answer 503 soon, not hold docker clients for long.
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(options)
            .await
            .map_err(db_error)?;
        migrator().run(&pool).await.map_err(|e| Error::Backend {
            what: "database migration",
            source: Box::new(e),
        })?;
        let changes = std::sync::Arc::new(super::pg_changes::ChangeMarker::new(&pool));
        Ok(PostgresStore { pool, changes })
    }

    /// The generation of change notifications seen by this store's listening connection, or
    /// `None` while it is not listening (see `pg_changes`): the first read starts it.
    fn current_change_marker(&self) -> Option<Vec<u8>> {
        self.changes.current()
    }

    /// The connection pool (for health checks and tools).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn write_tx(&self) -> Result<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(db_error)
    }

    /// The right to apply registry events among the instances on this database: PostgreSQL's
    /// advisory lock [`EVENT_APPLIER_LOCK`], taken in a transaction that the answer keeps open.
    /// Dropped, the transaction rolls back and the lock is released; a process that dies
    /// releases it with its connection.
    async fn applier_lock(&self) -> Result<crate::traits::ApplierLock> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(EVENT_APPLIER_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        Ok(crate::traits::ApplierLock::held_by(tx))
    }
}

super::sql::sql_policy_store!(PostgresStore, Postgres);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::postgres_testing::fresh_database;

    async fn fresh() -> PostgresStore {
        PostgresStore::connect(&fresh_database().await, 4)
            .await
            .expect("connect to the test database")
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
        let migration = include_str!("../../migrations/postgres/0017_not_image_tags.sql");
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
        sqlx::raw_sql(include_str!("../../migrations/postgres/0010_image_finding_counts.sql"))
            .execute(&store.pool)
            .await
            .unwrap();
        assert_kept_figures_are_recomputed(&store, "migrated").await;
    }

    #[tokio::test]
    async fn two_instances_writing_at_once_keep_the_figures() {
        use crate::testing::summaries::{assert_kept_figures_are_recomputed, concurrent_pushes, concurrent_scans};
        use crate::traits::ScanStore;
        let url = fresh_database().await;
        let first = PostgresStore::connect(&url, 4).await.unwrap();
        let second = PostgresStore::connect(&url, 4).await.unwrap();
        first.set_scan_scope(&["a".into(), "b".into()]).await.unwrap();
        tokio::join!(
            concurrent_pushes(&first, 0),
            concurrent_pushes(&second, 1),
            concurrent_scans(&first, 0),
            concurrent_scans(&second, 1)
        );
        assert_kept_figures_are_recomputed(&second, "two instances").await;
    }

    /// The name-ordered pages step over index entries only, and the tag name search's
    /// candidates come from the trigram index. Sequential scans and sorts are priced out so
    /// the plan shows what the indexes can serve even on this empty database.
    #[tokio::test]
    async fn name_ordered_pages_and_the_name_search_use_their_indexes() {
        let store = fresh().await;
        let mut connection = store.pool.acquire().await.unwrap();
        sqlx::query("SET enable_seqscan = off")
            .execute(&mut *connection)
            .await
            .unwrap();
        sqlx::query("SET enable_sort = off")
            .execute(&mut *connection)
            .await
            .unwrap();
        let candidates = TAG_NAME_TRIGRAMS.unwrap().replace("$1", "'%abc%'").replace("$2", "10");
        for (select, index) in [
            (
                "SELECT t.id FROM tags t ORDER BY t.repository_id ASC, t.name ASC, t.id ASC LIMIT 50 OFFSET 500",
                "Index Only Scan using tags_listed",
            ),
            (
                "SELECT r.id FROM repositories r ORDER BY r.name DESC, r.id DESC LIMIT 50 OFFSET 500",
                "Index Only Scan Backward using repositories_listed",
            ),
            (candidates.as_str(), "Bitmap Index Scan on tags_by_name_trigrams"),
        ] {
            let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN {select}")))
                .fetch_all(&mut *connection)
                .await
                .unwrap();
            assert!(plan.iter().any(|step| step.contains(index)), "{select}: {plan:#?}");
        }
    }

    #[tokio::test]
    async fn unreachable_server_is_unavailable() {
        // Port 9 (discard) on loopback: nothing listens there in the test environment.
        let err = PostgresStore::connect("postgres://portus:x@127.0.0.1:9/portus", 1)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Unavailable, "{err:?}");
    }
}
