//! The SQL shared by the SQLite and PostgreSQL stores.
//!
//! One body serves both databases: statements use `$N` parameters, `TRUE`/`FALSE` and
//! `RETURNING`, which both understand. What differs (connection set-up, migrations, how a write
//! transaction starts, error classification) lives in each backend's module, which defines
//! `db_error`, `ROW_LOCK` and `write_tx` before invoking [`sql_policy_store!`]. Rows are read
//! into the structs of [`rows`] and converted into the model there.

pub(crate) mod accounts;
pub(crate) mod activity;
pub(crate) mod catalog;
pub(crate) mod catalog_pages;
pub(crate) mod comments;
pub(crate) mod events;
pub(crate) mod identities;
pub(crate) mod import;
pub(crate) mod lists;
pub(crate) mod namespaces;
pub(crate) mod profiles;
pub(crate) mod rows;
pub(crate) mod scans;
pub(crate) mod sessions;
pub(crate) mod summaries;
pub(crate) mod teams;
pub(crate) mod webhooks;

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// What the SQL stores' errors name.
pub(crate) const WHAT: &str = "policy store";

/// Maps a database error to the core error kinds: constraint violations are conflicts or
/// missing references; lost connections, I/O, exhausted pools and the database errors
/// `temporary` recognizes are `Unavailable` (worth retrying); anything else is a backend
/// failure.
pub(crate) fn classify(
    error: sqlx::Error,
    what: &'static str,
    temporary: fn(&dyn sqlx::error::DatabaseError) -> bool,
) -> crate::Error {
    use crate::Error;
    let unavailable = match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            return Error::Conflict("the name is already taken".into());
        }
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            return Error::not_found("referenced object", "?");
        }
        sqlx::Error::Database(db) => temporary(db.as_ref()),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    };
    if unavailable {
        Error::Unavailable {
            what,
            source: Box::new(error),
        }
    } else {
        Error::Backend {
            what,
            source: Box::new(error),
        }
    }
}

/// A migrator over `(version, name, sql)` files embedded in the binary.
pub(crate) fn migrator(files: &[(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        files
            .iter()
            .map(|&(version, name, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(name),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// Implements `PolicyStore` for `$store` (a struct with a `pool: sqlx::Pool<$db>` field).
macro_rules! sql_policy_store {
    ($store:ty, $db:ty) => {
        use super::sql::rows::{
            APP_TOKEN_COLUMNS, AccessRow, ActivityRow, AppTokenRow, LegacyAppTokenRow, MembershipRow, NamespaceRow, RefreshTokenRow, RepositoryRow,
            RepositoryListingRow, ScanRecordRow, StoredEventRow, SummaryRow, TagRow, TeamMemberRow, TeamRow, UserRow,
        };
        use super::sql::WHAT;
        use sqlx::FromRow;

        async fn update_user_flag(pool: &sqlx::Pool<$db>, sql: &'static str, id: UserId, value: bool) -> Result<()> {
            let result = sqlx::query(sql)
                .bind(value)
                .bind(id.0)
                .execute(pool)
                .await
                .map_err(db_error)?;
            if result.rows_affected() == 0 {
                return Err(Error::not_found("user", id.to_string()));
            }
            Ok(())
        }

        const USER_COLUMNS: &str = "SELECT u.id, u.username, u.email, u.admin, u.enabled, u.password_hash, u.created_at, \
             u.failed_logins, u.locked_until, u.display_name, u.bot, \
             (SELECT n.id FROM namespaces n WHERE n.personal_owner_id = u.id LIMIT 1) AS personal_namespace FROM users u";

        /// The namespace's id is `ns_id`: joins with `users` have an `id` of their own.
        const NAMESPACE_COLUMNS: &str =
            "n.id AS ns_id, n.name, n.description, n.team_id, n.visibility, n.global, n.personal_owner_id";

        /// The names of the named namespaces in `namespaces` (the global one has none).
        fn named<'a>(namespaces: &[NamespaceRef<'a>]) -> Vec<&'a str> {
            namespaces
                .iter()
                .filter_map(|n| match n {
                    NamespaceRef::Named(name) => Some(*name),
                    NamespaceRef::Global => None,
                })
                .collect()
        }

        /// The namespaces `found`, in the order `wanted` asks for them.
        fn in_order(wanted: &[NamespaceRef<'_>], found: &[NamespaceAccess]) -> Vec<Option<NamespaceAccess>> {
            wanted
                .iter()
                .map(|wanted| {
                    found
                        .iter()
                        .find(|a| match wanted {
                            NamespaceRef::Global => a.namespace.global,
                            NamespaceRef::Named(name) => !a.namespace.global && a.namespace.name == *name,
                        })
                        .cloned()
                })
                .collect()
        }

        const REPOSITORY_COLUMNS: &str = "SELECT r.id, r.name, r.namespace_id, r.description, r.created_at, \
             (SELECT COUNT(*) FROM stars s WHERE s.repository_id = r.id) AS stars FROM repositories r";

        const TAG_COLUMNS: &str = "SELECT t.id, r.name AS repository, t.name, t.digest, t.media_type, t.size, t.pushed_by, \
             t.created_at, t.updated_at, t.image_id, t.image_size, t.pulled_at, t.pull_count, t.platform_sizes, \
             a.kind AS artifact_kind, a.artifact_type, a.chart_name, a.chart_version, a.subject AS artifact_subject, \
             (EXISTS (SELECT 1 FROM tag_artifacts s WHERE s.repository_id = t.repository_id AND s.kind = 'signature' \
                      AND s.subject = t.digest) \
              OR EXISTS (SELECT 1 FROM referrers f WHERE f.repository_id = t.repository_id AND f.subject = t.digest \
                      AND f.kind = 'signature')) AS signed \
             FROM tags t JOIN repositories r ON r.id = t.repository_id LEFT JOIN tag_artifacts a ON a.tag_id = t.id";

        /// The id of `repository`, creating it (and per `missing` its namespace) inside `tx`.
        async fn repository_id(
            tx: &mut sqlx::Transaction<'static, $db>,
            repository: &str,
            missing: MissingNamespace,
        ) -> Result<Option<i64>> {
            let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM repositories WHERE name = $1")
                .bind(repository)
                .fetch_optional(&mut **tx)
                .await
                .map_err(db_error)?;
            if existing.is_some() {
                return Ok(existing);
            }
            let namespace = NamespaceRef::of_repository(repository).0;
            let namespace_id: Option<i64> = match namespace {
                NamespaceRef::Global => {
                    sqlx::query_scalar("SELECT id FROM namespaces WHERE global")
                        .fetch_optional(&mut **tx)
                        .await
                }
                NamespaceRef::Named(name) => {
                    sqlx::query_scalar("SELECT id FROM namespaces WHERE NOT global AND name = $1")
                        .bind(name)
                        .fetch_optional(&mut **tx)
                        .await
                }
            }
            .map_err(db_error)?;
            let now = crate::model::now();
            let namespace_id = match (namespace_id, namespace) {
                (Some(id), _) => id,
                (None, NamespaceRef::Named(name)) if missing == MissingNamespace::Create => {
                    validate_namespace_name(name)?;
                    // Another instance may create it at the same moment: then that one is used.
                    sqlx::query(
                        "INSERT INTO namespaces (name, description, team_id, visibility, global, created_at) \
                         VALUES ($1, 'Created for a repository pushed to the registry', NULL, 'private', FALSE, $2) \
                         ON CONFLICT (name) WHERE NOT global DO NOTHING",
                    )
                    .bind(name)
                    .bind(now)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_error)?;
                    sqlx::query_scalar::<_, i64>("SELECT id FROM namespaces WHERE NOT global AND name = $1")
                        .bind(name)
                        .fetch_one(&mut **tx)
                        .await
                        .map_err(db_error)?
                }
                _ => return Ok(None),
            };
            let inserted = sqlx::query_scalar::<_, i64>(
                "INSERT INTO repositories (namespace_id, name, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO NOTHING RETURNING id",
            )
            .bind(namespace_id)
            .bind(repository)
            .bind(now)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_error)?;
            let Some(id) = inserted else {
                // Recorded by another instance meanwhile.
                return sqlx::query_scalar("SELECT id FROM repositories WHERE name = $1")
                    .bind(repository)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(db_error);
            };
            repository_created(tx, id).await?;
            Ok(Some(id))
        }

        async fn names_with_prefix(
            tx: &mut sqlx::Transaction<'static, $db>,
            sql: &'static str,
            prefix: &str,
        ) -> Result<HashSet<String>> {
            let names: Vec<String> = sqlx::query_scalar(sql)
                .bind(prefix)
                .bind(i32::try_from(prefix.len()).unwrap_or(i32::MAX))
                .fetch_all(&mut **tx)
                .await
                .map_err(db_error)?;
            Ok(names.into_iter().collect())
        }

        async fn user_exists(executor: &sqlx::Pool<$db>, id: UserId) -> Result<()> {
            sqlx::query("SELECT 1 FROM users WHERE id = $1")
                .bind(id.0)
                .fetch_optional(executor)
                .await
                .map_err(db_error)?
                .map(|_| ())
                .ok_or_else(|| Error::not_found("user", id.to_string()))
        }

        async fn write_scan_record(tx: &mut sqlx::Transaction<'static, $db>, record: &ScanRecord) -> Result<()> {
            let report = record
                .report
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| Error::Backend {
                    what: WHAT,
                    source: Box::new(e),
                })?;
            sqlx::query(
                "INSERT INTO scan_records (digest, backend, state, report, error, attempts, updated_at, next_attempt_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (digest, backend) DO UPDATE SET state = excluded.state, \
                 report = excluded.report, error = excluded.error, attempts = excluded.attempts, \
                 updated_at = excluded.updated_at, next_attempt_at = excluded.next_attempt_at",
            )
            .bind(&record.digest)
            .bind(&record.backend)
            .bind(record.state.as_str())
            .bind(report)
            .bind(&record.error)
            .bind(record.attempts as i64)
            .bind(crate::model::at_store_precision(record.updated_at))
            .bind(record.next_attempt_at.map(crate::model::at_store_precision))
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
            Ok(())
        }

        /// Claims one scan: an INSERT when the worker saw no record, otherwise a compare-and-set
        /// UPDATE on the record it saw. On PostgreSQL the UPDATE's subquery takes the row
        /// `FOR UPDATE SKIP LOCKED`: a row another instance is claiming right now is skipped
        /// instead of waited for. A record that was failed or done is pending once claimed:
        /// the digest's figures follow in the same transaction.
        async fn claim_one(
            store: &$store,
            digest: &str,
            backend: &str,
            seen: Option<DateTime<Utc>>,
            lease_until: DateTime<Utc>,
        ) -> Result<bool> {
            let now = crate::model::now();
            let lease_until = crate::model::at_store_precision(lease_until);
            let mut tx = store.write_tx().await?;
            let result = match seen {
                None => {
                    sqlx::query(
                        "INSERT INTO scan_records (digest, backend, state, attempts, updated_at, next_attempt_at) \
                         VALUES ($1, $2, 'scanning', 0, $3, $4) ON CONFLICT (digest, backend) DO NOTHING",
                    )
                    .bind(digest)
                    .bind(backend)
                    .bind(now)
                    .bind(lease_until)
                    .execute(&mut *tx)
                    .await
                }
                Some(seen) => {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "UPDATE scan_records SET state = 'scanning', updated_at = $1, next_attempt_at = $2 \
                         WHERE (digest, backend) IN (SELECT digest, backend FROM scan_records \
                         WHERE digest = $3 AND backend = $4 AND updated_at = $5 \
                         AND NOT (state = 'scanning' AND COALESCE(next_attempt_at > $1, FALSE)){ROW_LOCK})"
                    ));
                    sqlx::query(sql)
                        .bind(now)
                        .bind(lease_until)
                        .bind(digest)
                        .bind(backend)
                        .bind(crate::model::at_store_precision(seen))
                        .execute(&mut *tx)
                        .await
                }
            };
            let claimed = result.map_err(db_error)?.rows_affected() == 1;
            if claimed && seen.is_some() {
                refresh_digest(&mut tx, digest).await?;
            }
            tx.commit().await.map_err(db_error)?;
            Ok(claimed)
        }

        super::sql::summaries::sql_summary_upkeep!($db);
        super::sql::lists::sql_list_totals!($db);
        super::sql::catalog_pages::sql_catalog_pages!($db);
        super::sql::accounts::sql_accounts_store!($store, $db);
        super::sql::teams::sql_teams_store!($store, $db);
        super::sql::namespaces::sql_namespaces_store!($store, $db);
        super::sql::catalog::sql_catalog_store!($store, $db);
        super::sql::events::sql_events_store!($store, $db);
        super::sql::scans::sql_scans_store!($store, $db);
        super::sql::activity::sql_activity_store!($store, $db);
        super::sql::comments::sql_comments_store!($store, $db);
        super::sql::import::sql_import_store!($store, $db);
        super::sql::identities::sql_identities_store!($store, $db);
        super::sql::profiles::sql_profiles_store!($store, $db);
        super::sql::webhooks::sql_webhooks_store!($store, $db);
        super::sql::sessions::sql_sessions_store!($store, $db);
    };
}

pub(crate) use sql_policy_store;
