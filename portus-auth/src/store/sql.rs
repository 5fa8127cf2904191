//! The SQL shared by the SQLite and PostgreSQL stores.
//!
//! One body serves both databases: statements use `$N` parameters, `TRUE`/`FALSE` and
//! `RETURNING`, which both understand. What differs (connection set-up, migrations, how a write
//! transaction starts, error classification) lives in each backend's module, which defines
//! `db_error`, `WHAT` and `write_tx` before invoking [`sql_policy_store!`].

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// Maps a database error to the core error kinds: constraint violations are conflicts or
/// missing references; lost connections, I/O, exhausted pools and the database errors
/// `temporary` recognizes are `Unavailable` (worth retrying); anything else is a backend
/// failure.
pub(crate) fn classify(
    error: sqlx::Error,
    what: &'static str,
    temporary: fn(&dyn sqlx::error::DatabaseError) -> bool,
) -> portus_core::Error {
    use portus_core::Error;
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
    ($store:ty, $db:ty, $row:ty) => {
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

        fn decode<T>(value: std::result::Result<T, sqlx::Error>) -> Result<T> {
            value.map_err(db_error)
        }

        const USER_COLUMNS: &str = "SELECT u.id, u.username, u.email, u.admin, u.enabled, u.password_hash, u.created_at, \
             u.failed_logins, u.locked_until, \
             (SELECT n.id FROM namespaces n WHERE n.personal_owner_id = u.id LIMIT 1) AS personal_namespace FROM users u";

        fn user_from(row: &$row) -> Result<User> {
            Ok(User {
                id: UserId(decode(row.try_get("id"))?),
                username: decode(row.try_get("username"))?,
                email: decode(row.try_get("email"))?,
                admin: decode(row.try_get("admin"))?,
                enabled: decode(row.try_get("enabled"))?,
                password_hash: decode(row.try_get::<Option<String>, _>("password_hash"))?.map(PasswordHash),
                personal_namespace: decode(row.try_get::<Option<i64>, _>("personal_namespace"))?.map(NamespaceId),
                failed_logins: decode(row.try_get::<i64, _>("failed_logins"))?.clamp(0, u32::MAX as i64) as u32,
                locked_until: decode(row.try_get("locked_until"))?,
                created_at: decode(row.try_get("created_at"))?,
            })
        }

        const NAMESPACE_COLUMNS: &str = "n.id, n.name, n.description, n.team_id, n.visibility, n.global, n.personal_owner_id";

        fn namespace_from(row: &$row) -> Result<Namespace> {
            namespace_from_columns(row, "id")
        }

        /// A namespace from a row whose namespace id column is `id_column` (`id` unless a
        /// join needs another name).
        fn namespace_from_columns(row: &$row, id_column: &str) -> Result<Namespace> {
            let visibility: String = decode(row.try_get("visibility"))?;
            Ok(Namespace {
                id: NamespaceId(decode(row.try_get(id_column))?),
                name: decode(row.try_get("name"))?,
                description: decode(row.try_get("description"))?,
                team_id: decode(row.try_get::<Option<i64>, _>("team_id"))?.map(TeamId),
                visibility: Visibility::from_str(&visibility)?,
                global: decode(row.try_get("global"))?,
                personal_owner: decode(row.try_get::<Option<i64>, _>("personal_owner_id"))?.map(UserId),
            })
        }

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

        /// A namespace and the caller's role in its team (column `role`) from a row whose
        /// namespace id column is `id_column`.
        fn access_from(row: &$row, id_column: &str) -> Result<NamespaceAccess> {
            let role: Option<String> = decode(row.try_get("role"))?;
            Ok(NamespaceAccess {
                namespace: namespace_from_columns(row, id_column)?,
                role: role.as_deref().map(Role::from_str).transpose()?,
            })
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

        fn team_from(row: &$row) -> Result<Team> {
            Ok(Team {
                id: TeamId(decode(row.try_get("id"))?),
                name: decode(row.try_get("name"))?,
                description: decode(row.try_get("description"))?,
                hidden: decode(row.try_get("hidden"))?,
            })
        }

        fn app_token_from(row: &$row) -> Result<AppToken> {
            Ok(AppToken {
                id: AppTokenId(decode(row.try_get("id"))?),
                user_id: UserId(decode(row.try_get("user_id"))?),
                label: decode(row.try_get("label"))?,
                created_at: decode(row.try_get("created_at"))?,
            })
        }

        fn refresh_token_from(row: &$row) -> Result<RefreshToken> {
            Ok(RefreshToken {
                id: RefreshTokenId(decode(row.try_get("id"))?),
                user_id: UserId(decode(row.try_get("user_id"))?),
                service: decode(row.try_get("service"))?,
                app_token_id: decode(row.try_get::<Option<i64>, _>("app_token_id"))?.map(AppTokenId),
                created_at: decode(row.try_get("created_at"))?,
            })
        }

        const REPOSITORY_COLUMNS: &str = "SELECT r.id, r.name, r.namespace_id, r.created_at, \
             (SELECT COUNT(*) FROM stars s WHERE s.repository_id = r.id) AS stars FROM repositories r";

        fn repository_from(row: &$row) -> Result<Repository> {
            Ok(Repository {
                id: RepositoryId(decode(row.try_get("id"))?),
                name: decode(row.try_get("name"))?,
                namespace_id: NamespaceId(decode(row.try_get("namespace_id"))?),
                stars: decode(row.try_get::<i64, _>("stars"))?.max(0) as u64,
                created_at: decode(row.try_get("created_at"))?,
            })
        }

        const TAG_COLUMNS: &str = "SELECT t.id, r.name AS repository, t.name, t.digest, t.media_type, t.size, t.pushed_by, \
             t.created_at, t.updated_at FROM tags t JOIN repositories r ON r.id = t.repository_id";

        fn tag_from(row: &$row) -> Result<TagRecord> {
            Ok(TagRecord {
                id: TagId(decode(row.try_get("id"))?),
                repository: decode(row.try_get("repository"))?,
                name: decode(row.try_get("name"))?,
                manifest: ManifestRecord {
                    digest: decode(row.try_get("digest"))?,
                    media_type: decode(row.try_get("media_type"))?,
                    size: decode(row.try_get::<Option<i64>, _>("size"))?.map(|s| s.max(0) as u64),
                },
                pushed_by: decode(row.try_get("pushed_by"))?,
                created_at: decode(row.try_get("created_at"))?,
                updated_at: decode(row.try_get("updated_at"))?,
            })
        }

        /// The id of `repository`, creating it (and per `missing` its namespace) inside `tx`.
        async fn repository_id(
            tx: &mut sqlx::Transaction<'static, $db>,
            repository: &str,
            missing: MissingNamespace,
        ) -> Result<Option<i64>> {
            let existing = sqlx::query("SELECT id FROM repositories WHERE name = $1")
                .bind(repository)
                .fetch_optional(&mut **tx)
                .await
                .map_err(db_error)?;
            if let Some(row) = existing {
                return Ok(Some(decode(row.try_get(0))?));
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
            let now = portus_core::model::now();
            let namespace_id = match (namespace_id, namespace) {
                (Some(id), _) => id,
                (None, NamespaceRef::Named(name)) if missing == MissingNamespace::Create => {
                    validate_namespace_name(name)?;
                    sqlx::query_scalar::<_, i64>(
                        "INSERT INTO namespaces (name, description, team_id, visibility, global, created_at) \
                         VALUES ($1, 'Created for a repository pushed to the registry', NULL, 'private', FALSE, $2) RETURNING id",
                    )
                    .bind(name)
                    .bind(now)
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(db_error)?
                }
                _ => return Ok(None),
            };
            let id = sqlx::query_scalar::<_, i64>("INSERT INTO repositories (namespace_id, name, created_at) VALUES ($1, $2, $3) RETURNING id")
                .bind(namespace_id)
                .bind(repository)
                .bind(now)
                .fetch_one(&mut **tx)
                .await
                .map_err(db_error)?;
            Ok(Some(id))
        }

        async fn names_with_prefix(
            tx: &mut sqlx::Transaction<'static, $db>,
            sql: &'static str,
            prefix: &str,
        ) -> Result<HashSet<String>> {
            let rows = sqlx::query(sql)
                .bind(prefix)
                .bind(i32::try_from(prefix.len()).unwrap_or(i32::MAX))
                .fetch_all(&mut **tx)
                .await
                .map_err(db_error)?;
            rows.iter().map(|r| decode(r.try_get::<String, _>(0))).collect()
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
            .bind(portus_core::model::at_store_precision(record.updated_at))
            .bind(record.next_attempt_at.map(portus_core::model::at_store_precision))
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
            Ok(())
        }

        /// Claims one scan with a single statement, so no transaction is needed: an INSERT when the worker saw no record, otherwise a
        /// compare-and-set UPDATE on the record it saw. On PostgreSQL the UPDATE's subquery
        /// takes the row `FOR UPDATE SKIP LOCKED`: a row another instance is claiming right now
        /// is skipped instead of waited for.
        async fn claim_one(
            pool: &sqlx::Pool<$db>,
            digest: &str,
            backend: &str,
            seen: Option<DateTime<Utc>>,
            lease_until: DateTime<Utc>,
        ) -> Result<bool> {
            let now = portus_core::model::now();
            let lease_until = portus_core::model::at_store_precision(lease_until);
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
                    .execute(pool)
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
                        .bind(portus_core::model::at_store_precision(seen))
                        .execute(pool)
                        .await
                }
            };
            Ok(result.map_err(db_error)?.rows_affected() == 1)
        }

        #[async_trait]
        impl PolicyStore for $store {
            async fn create_user(&self, new: NewUser) -> Result<User> {
                validate_username(&new.username)?;
                let now = portus_core::model::now();
                let mut tx = self.write_tx().await?;
                let inserted = sqlx::query_scalar::<_, i64>(
                    "INSERT INTO users (username, email, admin, enabled, password_hash, created_at) VALUES ($1, $2, $3, TRUE, $4, $5) RETURNING id",
                )
                .bind(&new.username)
                .bind(&new.email)
                .bind(new.admin)
                .bind(new.password_hash.as_ref().map(|h| h.0.as_str()))
                .bind(now)
                .fetch_one(&mut *tx)
                .await;
                let user_id = match inserted {
                    Ok(id) => UserId(id),
                    Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                        return Err(Error::Conflict(format!("user '{}' already exists", new.username)));
                    }
                    Err(e) => return Err(db_error(e)),
                };
                let mut personal_namespace = None;
                if let Some(base) = namespace_name_for_user(&new.username) {
                    let taken_ns = names_with_prefix(
                        &mut tx,
                        "SELECT name FROM namespaces WHERE NOT global AND substr(name, 1, $2) = $1",
                        &base,
                    )
                    .await?;
                    let taken_teams = names_with_prefix(
                        &mut tx,
                        "SELECT name FROM teams WHERE substr(name, 1, $2) = $1",
                        &new.username,
                    )
                    .await?;
                    let ns_name = first_free_name(&base, |n| taken_ns.contains(n));
                    let team_name = first_free_name(&new.username, |n| taken_teams.contains(n));
                    let team_id = sqlx::query_scalar::<_, i64>("INSERT INTO teams (name, hidden, created_at) VALUES ($1, TRUE, $2) RETURNING id")
                        .bind(&team_name)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    sqlx::query("INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, 'owner')")
                        .bind(team_id)
                        .bind(user_id.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    let description = format!("This personal namespace belongs to {}.", new.username);
                    let ns_id = sqlx::query_scalar::<_, i64>(
                        "INSERT INTO namespaces (name, description, team_id, visibility, global, personal_owner_id, created_at) \
                         VALUES ($1, $2, $3, 'private', FALSE, $4, $5) RETURNING id",
                    )
                    .bind(&ns_name)
                    .bind(description)
                    .bind(team_id)
                    .bind(user_id.0)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    personal_namespace = Some(NamespaceId(ns_id));
                }
                tx.commit().await.map_err(db_error)?;
                Ok(User {
                    id: user_id,
                    username: new.username,
                    email: new.email,
                    admin: new.admin,
                    enabled: true,
                    password_hash: new.password_hash,
                    personal_namespace,
                    failed_logins: 0,
                    locked_until: None,
                    created_at: now,
                })
            }

            async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
                let sql = sqlx::AssertSqlSafe(format!("{USER_COLUMNS} WHERE u.username = $1"));
                let row = sqlx::query(sql)
                    .bind(username)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                row.as_ref().map(user_from).transpose()
            }

            async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
                let sql = sqlx::AssertSqlSafe(format!("{USER_COLUMNS} WHERE u.id = $1"));
                let row = sqlx::query(sql)
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                row.as_ref().map(user_from).transpose()
            }

            async fn list_users(&self) -> Result<Vec<User>> {
                let sql = sqlx::AssertSqlSafe(format!("{USER_COLUMNS} ORDER BY u.username"));
                let rows = sqlx::query(sql).fetch_all(&self.pool).await.map_err(db_error)?;
                rows.iter().map(user_from).collect()
            }

            async fn set_user_enabled(&self, id: UserId, enabled: bool) -> Result<()> {
                update_user_flag(&self.pool, "UPDATE users SET enabled = $1 WHERE id = $2", id, enabled)
                    .await
            }

            async fn set_user_admin(&self, id: UserId, admin: bool) -> Result<()> {
                update_user_flag(&self.pool, "UPDATE users SET admin = $1 WHERE id = $2", id, admin)
                    .await
            }

            async fn set_password_hash(&self, id: UserId, hash: Option<PasswordHash>) -> Result<()> {
                let mut tx = self.write_tx().await?;
                let result = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                    .bind(hash.map(|h| h.0))
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("user", id.to_string()));
                }
                sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                tx.commit().await.map_err(db_error)
            }

            async fn create_team(&self, name: &str, owner: UserId, description: Option<String>) -> Result<Team> {
                validate_team_name(name)?;
                let mut tx = self.write_tx().await?;
                let inserted = sqlx::query_scalar::<_, i64>("INSERT INTO teams (name, description, hidden, created_at) VALUES ($1, $2, FALSE, $3) RETURNING id")
                    .bind(name)
                    .bind(&description)
                    .bind(portus_core::model::now())
                    .fetch_one(&mut *tx)
                    .await;
                let team_id = match inserted {
                    Ok(id) => TeamId(id),
                    Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                        return Err(Error::Conflict(format!("team '{name}' already exists")));
                    }
                    Err(e) => return Err(db_error(e)),
                };
                let member = sqlx::query("INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, 'owner')")
                    .bind(team_id.0)
                    .bind(owner.0)
                    .execute(&mut *tx)
                    .await;
                match member {
                    Ok(_) => {}
                    Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                        return Err(Error::not_found("user", owner.to_string()));
                    }
                    Err(e) => return Err(db_error(e)),
                }
                tx.commit().await.map_err(db_error)?;
                Ok(Team {
                    id: team_id,
                    name: name.to_owned(),
                    description,
                    hidden: false,
                })
            }

            async fn team_by_name(&self, name: &str) -> Result<Option<Team>> {
                let row = sqlx::query("SELECT id, name, description, hidden FROM teams WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                row.as_ref().map(team_from).transpose()
            }

            async fn set_team_member(&self, team: TeamId, user: UserId, role: Role) -> Result<()> {
                let result = sqlx::query(
                    "INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, $3) \
                     ON CONFLICT (team_id, user_id) DO UPDATE SET role = excluded.role",
                )
                .bind(team.0)
                .bind(user.0)
                .bind(role.as_str())
                .execute(&self.pool)
                .await;
                match result {
                    Ok(_) => Ok(()),
                    Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                        user_exists(&self.pool, user).await?;
                        Err(Error::not_found("team", team.to_string()))
                    }
                    Err(e) => Err(db_error(e)),
                }
            }

            async fn team_members(&self, team: TeamId) -> Result<Vec<TeamMember>> {
                let rows = sqlx::query(
                    "SELECT m.user_id, u.username, m.role FROM team_members m JOIN users u ON u.id = m.user_id \
                     WHERE m.team_id = $1 ORDER BY u.username",
                )
                .bind(team.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
                rows.iter()
                    .map(|row| {
                        let role: String = decode(row.try_get("role"))?;
                        Ok(TeamMember {
                            user_id: UserId(decode(row.try_get("user_id"))?),
                            username: decode(row.try_get("username"))?,
                            role: Role::from_str(&role)?,
                        })
                    })
                    .collect()
            }

            async fn create_namespace(&self, new: NewNamespace) -> Result<Namespace> {
                validate_namespace_name(&new.name)?;
                let inserted = sqlx::query_scalar::<_, i64>(
                    "INSERT INTO namespaces (name, description, team_id, visibility, global, created_at) VALUES ($1, $2, $3, $4, FALSE, $5) RETURNING id",
                )
                .bind(&new.name)
                .bind(&new.description)
                .bind(new.team_id.0)
                .bind(new.visibility.as_str())
                .bind(portus_core::model::now())
                .fetch_one(&self.pool)
                .await;
                match inserted {
                    Ok(id) => Ok(Namespace {
                        id: NamespaceId(id),
                        name: new.name,
                        description: new.description,
                        team_id: Some(new.team_id),
                        visibility: new.visibility,
                        global: false,
                        personal_owner: None,
                    }),
                    Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                        Err(Error::Conflict(format!("namespace '{}' already exists", new.name)))
                    }
                    Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                        Err(Error::not_found("team", new.team_id.to_string()))
                    }
                    Err(e) => Err(db_error(e)),
                }
            }

            async fn namespace<'a>(&self, namespace: NamespaceRef<'a>) -> Result<Option<Namespace>> {
                Ok(self.namespace_access(namespace, None).await?.map(|a| a.namespace))
            }

            async fn set_namespace_visibility(&self, id: NamespaceId, visibility: Visibility) -> Result<()> {
                let result = sqlx::query("UPDATE namespaces SET visibility = $1 WHERE id = $2")
                    .bind(visibility.as_str())
                    .bind(id.0)
                    .execute(&self.pool)
                    .await;
                match result {
                    Ok(r) if r.rows_affected() == 0 => Err(Error::not_found("namespace", id.to_string())),
                    Ok(_) => Ok(()),
                    Err(sqlx::Error::Database(db)) if db.is_check_violation() => {
                        Err(Error::Invalid("the global namespace cannot be private".into()))
                    }
                    Err(e) => Err(db_error(e)),
                }
            }

            async fn namespace_access<'a>(
                &self,
                namespace: NamespaceRef<'a>,
                user: Option<UserId>,
            ) -> Result<Option<NamespaceAccess>> {
                // One indexed query per namespace: the namespace row and the caller's role in its team.
                let row = match namespace {
                    NamespaceRef::Global => {
                        let sql = sqlx::AssertSqlSafe(format!(
                            "SELECT {NAMESPACE_COLUMNS}, m.role FROM namespaces n \
                             LEFT JOIN team_members m ON m.team_id = n.team_id AND m.user_id = $1 WHERE n.global"
                        ));
                        sqlx::query(sql)
                            .bind(user.map(|u| u.0))
                            .fetch_optional(&self.pool)
                            .await
                    }
                    NamespaceRef::Named(name) => {
                        let sql = sqlx::AssertSqlSafe(format!(
                            "SELECT {NAMESPACE_COLUMNS}, m.role FROM namespaces n \
                             LEFT JOIN team_members m ON m.team_id = n.team_id AND m.user_id = $1 \
                             WHERE NOT n.global AND n.name = $2"
                        ));
                        sqlx::query(sql)
                            .bind(user.map(|u| u.0))
                            .bind(name)
                            .fetch_optional(&self.pool)
                            .await
                    }
                }
                .map_err(db_error)?;
                let Some(row) = row else { return Ok(None) };
                let role: Option<String> = decode(row.try_get("role"))?;
                Ok(Some(NamespaceAccess {
                    namespace: namespace_from(&row)?,
                    role: role.as_deref().map(Role::from_str).transpose()?,
                }))
            }

            async fn namespaces_access<'a>(
                &self,
                namespaces: &[NamespaceRef<'a>],
                user: Option<UserId>,
            ) -> Result<Vec<Option<NamespaceAccess>>> {
                let names = named(namespaces);
                let global = namespaces.contains(&NamespaceRef::Global);
                if names.is_empty() && !global {
                    return Ok(Vec::new());
                }
                // Two indexed lookups in one statement (an OR would defeat the name index).
                let select = format!(
                    "SELECT {NAMESPACE_COLUMNS}, m.role FROM namespaces n \
                     LEFT JOIN team_members m ON m.team_id = n.team_id AND m.user_id = "
                );
                let mut builder = sqlx::QueryBuilder::<$db>::new("");
                if !names.is_empty() {
                    builder.push(&select).push_bind(user.map(|u| u.0));
                    builder.push(" WHERE NOT n.global AND n.name IN (");
                    let mut list = builder.separated(", ");
                    for name in &names {
                        list.push_bind((*name).to_owned());
                    }
                    builder.push(")");
                }
                if global {
                    if !names.is_empty() {
                        builder.push(" UNION ALL ");
                    }
                    builder.push(&select).push_bind(user.map(|u| u.0)).push(" WHERE n.global");
                }
                let rows = builder.build().fetch_all(&self.pool).await.map_err(db_error)?;
                let found = rows.iter().map(|row| access_from(row, "id")).collect::<Result<Vec<_>>>()?;
                Ok(in_order(namespaces, &found))
            }

            fn change_marker(&self) -> Option<Vec<u8>> {
                self.current_change_marker()
            }

            async fn user_and_namespaces_access<'a>(
                &self,
                username: &str,
                namespaces: &[NamespaceRef<'a>],
            ) -> Result<Option<(User, Vec<Option<NamespaceAccess>>)>> {
                let names = named(namespaces);
                if names.is_empty() || namespaces.contains(&NamespaceRef::Global) {
                    // The global namespace needs a second index lookup: the two-step default.
                    return portus_core::traits::user_then_namespaces_access(self, username, namespaces).await;
                }
                // One row per namespace found (one with NULL namespace columns if none is), each
                // carrying the user: the token path's two lookups in one round trip.
                let user_columns = USER_COLUMNS
                    .strip_suffix(" FROM users u")
                    .expect("USER_COLUMNS ends with its FROM clause");
                // The namespace's id is renamed: the user's is `id`.
                let namespace_columns = NAMESPACE_COLUMNS.replacen("n.id,", "n.id AS ns_id,", 1);
                let mut builder = sqlx::QueryBuilder::<$db>::new(user_columns);
                builder.push(format!(
                    ", {namespace_columns}, m.role FROM users u \
                     LEFT JOIN namespaces n ON NOT n.global AND n.name IN ("
                ));
                let mut list = builder.separated(", ");
                for name in &names {
                    list.push_bind((*name).to_owned());
                }
                builder
                    .push(") LEFT JOIN team_members m ON m.team_id = n.team_id AND m.user_id = u.id WHERE u.username = ")
                    .push_bind(username.to_owned());
                let rows = builder.build().fetch_all(&self.pool).await.map_err(db_error)?;
                let Some(first) = rows.first() else {
                    return Ok(None);
                };
                let user = user_from(first)?;
                let mut found: Vec<NamespaceAccess> = Vec::with_capacity(rows.len());
                for row in &rows {
                    if decode(row.try_get::<Option<i64>, _>("ns_id"))?.is_some() {
                        found.push(access_from(row, "ns_id")?);
                    }
                }
                Ok(Some((user, in_order(namespaces, &found))))
            }

            async fn create_app_token(&self, user: UserId, label: &str, secret_hash: &str) -> Result<AppToken> {
                if label.trim().is_empty() {
                    return Err(Error::Invalid("application token label must not be empty".into()));
                }
                let now = portus_core::model::now();
                let inserted =
                    sqlx::query_scalar::<_, i64>("INSERT INTO app_tokens (user_id, label, secret_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
                        .bind(user.0)
                        .bind(label)
                        .bind(secret_hash)
                        .bind(now)
                        .fetch_one(&self.pool)
                        .await;
                match inserted {
                    Ok(id) => Ok(AppToken {
                        id: AppTokenId(id),
                        user_id: user,
                        label: label.to_owned(),
                        created_at: now,
                    }),
                    Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Err(Error::Conflict(format!(
                        "an application token labelled '{label}' already exists"
                    ))),
                    Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                        Err(Error::not_found("user", user.to_string()))
                    }
                    Err(e) => Err(db_error(e)),
                }
            }

            async fn app_token_by_hash(&self, secret_hash: &str) -> Result<Option<AppToken>> {
                let row = sqlx::query("SELECT id, user_id, label, created_at FROM app_tokens WHERE secret_hash = $1")
                    .bind(secret_hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                row.as_ref().map(app_token_from).transpose()
            }

            async fn list_app_tokens(&self, user: UserId) -> Result<Vec<AppToken>> {
                let rows = sqlx::query("SELECT id, user_id, label, created_at FROM app_tokens WHERE user_id = $1 ORDER BY id")
                    .bind(user.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                rows.iter().map(app_token_from).collect()
            }

            async fn revoke_app_token(&self, id: AppTokenId) -> Result<()> {
                // Refresh tokens obtained with this token go with it (ON DELETE CASCADE).
                let result = sqlx::query("DELETE FROM app_tokens WHERE id = $1")
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("application token", id.to_string()));
                }
                Ok(())
            }

            async fn create_refresh_token(
                &self,
                user: UserId,
                service: &str,
                app_token: Option<AppTokenId>,
                secret_hash: &str,
            ) -> Result<RefreshToken> {
                let now = portus_core::model::now();
                let inserted = sqlx::query_scalar::<_, i64>(
                    "INSERT INTO refresh_tokens (user_id, service, app_token_id, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(user.0)
                .bind(service)
                .bind(app_token.map(|t| t.0))
                .bind(secret_hash)
                .bind(now)
                .fetch_one(&self.pool)
                .await;
                match inserted {
                    Ok(id) => Ok(RefreshToken {
                        id: RefreshTokenId(id),
                        user_id: user,
                        service: service.to_owned(),
                        app_token_id: app_token,
                        created_at: now,
                    }),
                    Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                        Err(Error::not_found("user or application token", user.to_string()))
                    }
                    Err(e) => Err(db_error(e)),
                }
            }

            async fn refresh_token_by_hash(&self, secret_hash: &str) -> Result<Option<RefreshToken>> {
                let row = sqlx::query(
                    "SELECT id, user_id, service, app_token_id, created_at FROM refresh_tokens WHERE secret_hash = $1",
                )
                .bind(secret_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
                row.as_ref().map(refresh_token_from).transpose()
            }

            async fn revoke_refresh_tokens(&self, user: UserId) -> Result<u64> {
                let result = sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1")
                    .bind(user.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(result.rows_affected())
            }

            async fn put_tag<'a>(
                &self,
                repository: &str,
                tag: &str,
                manifest: &ManifestRecord,
                pushed_by: Option<&'a str>,
                missing: MissingNamespace,
            ) -> Result<TagChange> {
                let mut tx = self.write_tx().await?;
                let Some(repository_id) = repository_id(&mut tx, repository, missing).await? else {
                    return Ok(TagChange::NamespaceMissing);
                };
                let now = portus_core::model::now();
                let size = manifest.size.map(|s| s.min(i64::MAX as u64) as i64);
                let existing = sqlx::query("SELECT digest FROM tags WHERE repository_id = $1 AND name = $2")
                    .bind(repository_id)
                    .bind(tag)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let change = match existing {
                    None => {
                        sqlx::query(
                            "INSERT INTO tags (repository_id, name, digest, media_type, size, pushed_by, created_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        )
                        .bind(repository_id)
                        .bind(tag)
                        .bind(&manifest.digest)
                        .bind(&manifest.media_type)
                        .bind(size)
                        .bind(pushed_by)
                        .bind(now)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                        TagChange::Created
                    }
                    Some(row) => {
                        let previous_digest: String = decode(row.try_get(0))?;
                        if previous_digest == manifest.digest {
                            sqlx::query("UPDATE tags SET size = COALESCE(size, $1) WHERE repository_id = $2 AND name = $3")
                                .bind(size)
                                .bind(repository_id)
                                .bind(tag)
                                .execute(&mut *tx)
                                .await
                                .map_err(db_error)?;
                            TagChange::Unchanged
                        } else {
                            sqlx::query(
                                "UPDATE tags SET digest = $1, media_type = $2, size = $3, pushed_by = COALESCE($4, pushed_by), \
                                 updated_at = $5 WHERE repository_id = $6 AND name = $7",
                            )
                            .bind(&manifest.digest)
                            .bind(&manifest.media_type)
                            .bind(size)
                            .bind(pushed_by)
                            .bind(now)
                            .bind(repository_id)
                            .bind(tag)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_error)?;
                            TagChange::Updated { previous_digest }
                        }
                    }
                };
                tx.commit().await.map_err(db_error)?;
                Ok(change)
            }

            async fn ensure_repository(&self, repository: &str, missing: MissingNamespace) -> Result<bool> {
                let mut tx = self.write_tx().await?;
                let found = repository_id(&mut tx, repository, missing).await?.is_some();
                tx.commit().await.map_err(db_error)?;
                Ok(found)
            }

            async fn tag(&self, repository: &str, tag: &str) -> Result<Option<TagRecord>> {
                let sql = sqlx::AssertSqlSafe(format!("{TAG_COLUMNS} WHERE r.name = $1 AND t.name = $2"));
                let row = sqlx::query(sql)
                    .bind(repository)
                    .bind(tag)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                row.as_ref().map(tag_from).transpose()
            }

            async fn tag_by_id(&self, id: TagId) -> Result<Option<TagRecord>> {
                let sql = sqlx::AssertSqlSafe(format!("{TAG_COLUMNS} WHERE t.id = $1"));
                let row = sqlx::query(sql)
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                row.as_ref().map(tag_from).transpose()
            }

            async fn tags<'a>(&self, repository: Option<&'a str>) -> Result<Vec<TagRecord>> {
                let rows = match repository {
                    Some(repository) => {
                        let sql = sqlx::AssertSqlSafe(format!("{TAG_COLUMNS} WHERE r.name = $1 ORDER BY r.name, t.name"));
                        sqlx::query(sql).bind(repository).fetch_all(&self.pool).await
                    }
                    None => {
                        let sql = sqlx::AssertSqlSafe(format!("{TAG_COLUMNS} ORDER BY r.name, t.name"));
                        sqlx::query(sql).fetch_all(&self.pool).await
                    }
                }
                .map_err(db_error)?;
                rows.iter().map(tag_from).collect()
            }

            async fn repositories(&self) -> Result<Vec<String>> {
                sqlx::query_scalar("SELECT name FROM repositories ORDER BY name")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)
            }

            async fn delete_tag(&self, repository: &str, tag: &str) -> Result<Option<TagRecord>> {
                let mut tx = self.write_tx().await?;
                let sql = sqlx::AssertSqlSafe(format!("{TAG_COLUMNS} WHERE r.name = $1 AND t.name = $2"));
                let row = sqlx::query(sql)
                    .bind(repository)
                    .bind(tag)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let Some(record) = row.as_ref().map(tag_from).transpose()? else {
                    return Ok(None);
                };
                sqlx::query("DELETE FROM tags WHERE id = $1")
                    .bind(record.id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                tx.commit().await.map_err(db_error)?;
                Ok(Some(record))
            }

            async fn delete_tags_by_digest(&self, repository: &str, digest: &str) -> Result<Vec<TagRecord>> {
                let mut tx = self.write_tx().await?;
                let sql = sqlx::AssertSqlSafe(format!(
                    "{TAG_COLUMNS} WHERE r.name = $1 AND t.digest = $2 ORDER BY t.name"
                ));
                let rows = sqlx::query(sql)
                    .bind(repository)
                    .bind(digest)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let records = rows.iter().map(tag_from).collect::<Result<Vec<_>>>()?;
                sqlx::query(
                    "DELETE FROM tags WHERE digest = $1 AND repository_id = (SELECT id FROM repositories WHERE name = $2)",
                )
                .bind(digest)
                .bind(repository)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                tx.commit().await.map_err(db_error)?;
                Ok(records)
            }

            async fn delete_repository(&self, repository: &str) -> Result<Vec<TagRecord>> {
                let mut tx = self.write_tx().await?;
                let sql = sqlx::AssertSqlSafe(format!("{TAG_COLUMNS} WHERE r.name = $1 ORDER BY t.name"));
                let rows = sqlx::query(sql)
                    .bind(repository)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let records = rows.iter().map(tag_from).collect::<Result<Vec<_>>>()?;
                // Tags go with the repository (ON DELETE CASCADE).
                sqlx::query("DELETE FROM repositories WHERE name = $1")
                    .bind(repository)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                tx.commit().await.map_err(db_error)?;
                Ok(records)
            }

            async fn insert_events(&self, events: &[(String, String)]) -> Result<usize> {
                if events.is_empty() {
                    return Ok(0);
                }
                let now = portus_core::model::now();
                // One multi-row statement per chunk: a single statement is atomic on its own, and each
                // round trip to SQLite's worker thread costs more than the insert itself.
                let statement = |chunk: &[(String, String)]| {
                    let mut builder = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO registry_events (event_id, payload, status, received_at) ",
                    );
                    builder.push_values(chunk, |mut row, (event_id, payload)| {
                        row.push_bind(event_id.clone())
                            .push_bind(payload.clone())
                            .push_bind("pending")
                            .push_bind(now);
                    });
                    builder.push(" ON CONFLICT (event_id) DO NOTHING");
                    builder
                };
                // SQLite allows 32766 bound variables per statement; 4 per row.
                const ROWS_PER_STATEMENT: usize = 1000;
                if events.len() <= ROWS_PER_STATEMENT {
                    let mut builder = statement(events);
                    let result = builder.build().execute(&self.pool).await.map_err(db_error)?;
                    return Ok(result.rows_affected() as usize);
                }
                let mut tx = self.write_tx().await?;
                let mut inserted = 0;
                for chunk in events.chunks(ROWS_PER_STATEMENT) {
                    let mut builder = statement(chunk);
                    inserted += builder
                        .build()
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?
                        .rows_affected() as usize;
                }
                tx.commit().await.map_err(db_error)?;
                Ok(inserted)
            }

            async fn pending_events(&self, limit: usize) -> Result<Vec<StoredEvent>> {
                let rows = sqlx::query(
                    "SELECT seq, event_id, payload FROM registry_events WHERE status = 'pending' ORDER BY seq LIMIT $1",
                )
                .bind(limit as i64)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
                rows.iter()
                    .map(|row| {
                        Ok(StoredEvent {
                            seq: decode(row.try_get("seq"))?,
                            event_id: decode(row.try_get("event_id"))?,
                            payload: decode(row.try_get("payload"))?,
                        })
                    })
                    .collect()
            }

            async fn finish_event<'a>(&self, seq: i64, status: EventStatus, error: Option<&'a str>) -> Result<()> {
                let result = sqlx::query("UPDATE registry_events SET status = $1, error = $2, finished_at = $3 WHERE seq = $4")
                    .bind(status.as_str())
                    .bind(error)
                    .bind(portus_core::model::now())
                    .bind(seq)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("event", seq.to_string()));
                }
                Ok(())
            }

            async fn put_scan_record(&self, record: &ScanRecord) -> Result<()> {
                let mut tx = self.write_tx().await?;
                write_scan_record(&mut tx, record).await?;
                tx.commit().await.map_err(db_error)
            }

            async fn put_scan_records(&self, records: &[ScanRecord]) -> Result<()> {
                let mut tx = self.write_tx().await?;
                for record in records {
                    write_scan_record(&mut tx, record).await?;
                }
                tx.commit().await.map_err(db_error)
            }

            async fn scan_records<'a>(&self, digest: Option<&'a str>) -> Result<Vec<ScanRecord>> {
                let rows = sqlx::query(
                    "SELECT digest, backend, state, report, error, attempts, updated_at, next_attempt_at FROM scan_records \
                     WHERE $1 IS NULL OR digest = $1 ORDER BY digest, backend",
                )
                .bind(digest)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
                rows.iter()
                    .map(|row| {
                        let state: String = decode(row.try_get("state"))?;
                        let report: Option<String> = decode(row.try_get("report"))?;
                        Ok(ScanRecord {
                            digest: decode(row.try_get("digest"))?,
                            backend: decode(row.try_get("backend"))?,
                            state: ScanState::from_str(&state)?,
                            report: report
                                .map(|r| serde_json::from_str(&r))
                                .transpose()
                                .map_err(|e| Error::Backend {
                                    what: WHAT,
                                    source: Box::new(e),
                                })?,
                            error: decode(row.try_get("error"))?,
                            attempts: decode(row.try_get::<i64, _>("attempts"))?.clamp(0, u32::MAX as i64) as u32,
                            updated_at: decode(row.try_get("updated_at"))?,
                            next_attempt_at: decode(row.try_get("next_attempt_at"))?,
                        })
                    })
                    .collect()
            }

            async fn set_user_email(&self, id: UserId, email: Option<String>) -> Result<()> {
                let result = sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
                    .bind(email)
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("user", id.to_string()));
                }
                Ok(())
            }

            async fn delete_user(&self, id: UserId) -> Result<()> {
                // Memberships, credentials and stars go with the user (ON DELETE CASCADE); the
                // personal namespace loses its owner (ON DELETE SET NULL) and keeps its images.
                let result = sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("user", id.to_string()));
                }
                Ok(())
            }

            async fn record_login_failure(&self, id: UserId) -> Result<u32> {
                let count: Option<i64> =
                    sqlx::query_scalar("UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins")
                        .bind(id.0)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_error)?;
                let count = count.ok_or_else(|| Error::not_found("user", id.to_string()))?;
                Ok(count.clamp(0, u32::MAX as i64) as u32)
            }

            async fn set_user_lock(&self, id: UserId, until: Option<DateTime<Utc>>) -> Result<()> {
                let result = sqlx::query(
                    "UPDATE users SET locked_until = $1, \
                     failed_logins = CASE WHEN $1 IS NULL THEN 0 ELSE failed_logins END WHERE id = $2",
                )
                .bind(until.map(portus_core::model::at_store_precision))
                .bind(id.0)
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("user", id.to_string()));
                }
                Ok(())
            }

            async fn remove_team_member(&self, team: TeamId, user: UserId) -> Result<()> {
                let result = sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
                    .bind(team.0)
                    .bind(user.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("team member", user.to_string()));
                }
                Ok(())
            }

            async fn team_by_id(&self, id: TeamId) -> Result<Option<Team>> {
                let row = sqlx::query("SELECT id, name, description, hidden FROM teams WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                row.as_ref().map(team_from).transpose()
            }

            async fn list_teams(&self) -> Result<Vec<Team>> {
                let rows = sqlx::query("SELECT id, name, description, hidden FROM teams ORDER BY name")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                rows.iter().map(team_from).collect()
            }

            async fn update_team(&self, id: TeamId, update: TeamUpdate) -> Result<Team> {
                if let Some(name) = &update.name {
                    validate_team_name(name)?;
                }
                let (set_description, description) = match update.description {
                    Some(description) => (true, description),
                    None => (false, None),
                };
                let row = sqlx::query(
                    "UPDATE teams SET name = COALESCE($1, name), \
                     description = CASE WHEN $2 THEN $3 ELSE description END \
                     WHERE id = $4 RETURNING id, name, description, hidden",
                )
                .bind(&update.name)
                .bind(set_description)
                .bind(description)
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await;
                match row {
                    Ok(Some(row)) => team_from(&row),
                    Ok(None) => Err(Error::not_found("team", id.to_string())),
                    Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Err(Error::Conflict(format!(
                        "team '{}' already exists",
                        update.name.unwrap_or_default()
                    ))),
                    Err(e) => Err(db_error(e)),
                }
            }

            async fn memberships(&self, user: UserId) -> Result<Vec<(TeamId, Role)>> {
                let rows = sqlx::query("SELECT team_id, role FROM team_members WHERE user_id = $1 ORDER BY team_id")
                    .bind(user.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                rows.iter()
                    .map(|row| {
                        let role: String = decode(row.try_get("role"))?;
                        Ok((TeamId(decode(row.try_get("team_id"))?), Role::from_str(&role)?))
                    })
                    .collect()
            }

            async fn namespace_by_id(&self, id: NamespaceId) -> Result<Option<Namespace>> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {NAMESPACE_COLUMNS} FROM namespaces n WHERE n.id = $1"));
                let row = sqlx::query(sql)
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                row.as_ref().map(namespace_from).transpose()
            }

            async fn list_namespaces(&self) -> Result<Vec<Namespace>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {NAMESPACE_COLUMNS} FROM namespaces n ORDER BY n.global DESC, n.name"
                ));
                let rows = sqlx::query(sql).fetch_all(&self.pool).await.map_err(db_error)?;
                rows.iter().map(namespace_from).collect()
            }

            async fn update_namespace(&self, id: NamespaceId, update: NamespaceUpdate) -> Result<Namespace> {
                let (set_description, description) = match update.description {
                    Some(description) => (true, description),
                    None => (false, None),
                };
                let mut tx = self.write_tx().await?;
                let current = sqlx::query("SELECT global FROM namespaces WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?
                    .ok_or_else(|| Error::not_found("namespace", id.to_string()))?;
                let global: bool = decode(current.try_get("global"))?;
                if global && update.team_id.is_some() {
                    return Err(Error::Invalid("the global namespace belongs to the administrators".into()));
                }
                let result = sqlx::query(
                    "UPDATE namespaces SET team_id = COALESCE($1, team_id), \
                     description = CASE WHEN $2 THEN $3 ELSE description END WHERE id = $4",
                )
                .bind(update.team_id.map(|t| t.0))
                .bind(set_description)
                .bind(description)
                .bind(id.0)
                .execute(&mut *tx)
                .await;
                match result {
                    Ok(_) => {}
                    Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                        return Err(Error::not_found("team", update.team_id.map(|t| t.to_string()).unwrap_or_default()));
                    }
                    Err(e) => return Err(db_error(e)),
                }
                let sql = sqlx::AssertSqlSafe(format!("SELECT {NAMESPACE_COLUMNS} FROM namespaces n WHERE n.id = $1"));
                let row = sqlx::query(sql)
                    .bind(id.0)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let namespace = namespace_from(&row)?;
                tx.commit().await.map_err(db_error)?;
                Ok(namespace)
            }

            async fn list_repositories(&self) -> Result<Vec<Repository>> {
                let sql = sqlx::AssertSqlSafe(format!("{REPOSITORY_COLUMNS} ORDER BY r.name"));
                let rows = sqlx::query(sql).fetch_all(&self.pool).await.map_err(db_error)?;
                rows.iter().map(repository_from).collect()
            }

            async fn repository_by_id(&self, id: RepositoryId) -> Result<Option<Repository>> {
                let sql = sqlx::AssertSqlSafe(format!("{REPOSITORY_COLUMNS} WHERE r.id = $1"));
                let row = sqlx::query(sql)
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                row.as_ref().map(repository_from).transpose()
            }

            async fn search_names(&self, text: &str, limit: usize) -> Result<SearchHits> {
                // LIKE with the wildcards of the text escaped: a substring match both databases
                // run the same way, without reading every row into the process.
                let mut pattern = String::from("%");
                for c in text.to_lowercase().chars() {
                    if matches!(c, '%' | '_' | '\\') {
                        pattern.push('\\');
                    }
                    pattern.push(c);
                }
                pattern.push('%');
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let matching = |sql: String| {
                    let pattern = pattern.clone();
                    async move {
                        sqlx::query(sqlx::AssertSqlSafe(sql))
                            .bind(pattern)
                            .bind(limit)
                            .fetch_all(&self.pool)
                            .await
                            .map_err(db_error)
                    }
                };
                let rows = matching(format!(
                    "SELECT {NAMESPACE_COLUMNS} FROM namespaces n \
                     WHERE NOT n.global AND lower(n.name) LIKE $1 ESCAPE '\\' ORDER BY n.name LIMIT $2"
                ))
                .await?;
                let namespaces = rows.iter().map(namespace_from).collect::<Result<Vec<_>>>()?;
                let rows = matching(format!(
                    "{REPOSITORY_COLUMNS} WHERE lower(r.name) LIKE $1 ESCAPE '\\' ORDER BY r.name LIMIT $2"
                ))
                .await?;
                let repositories = rows.iter().map(repository_from).collect::<Result<Vec<_>>>()?;
                let rows = matching(format!(
                    "{TAG_COLUMNS} WHERE lower(t.name) LIKE $1 ESCAPE '\\' ORDER BY r.name, t.name LIMIT $2"
                ))
                .await?;
                let tags = rows.iter().map(tag_from).collect::<Result<Vec<_>>>()?;
                Ok(SearchHits {
                    namespaces,
                    repositories,
                    tags,
                })
            }

            async fn set_star(&self, user: UserId, repository: RepositoryId, starred: bool) -> Result<()> {
                let result = if starred {
                    sqlx::query(
                        "INSERT INTO stars (user_id, repository_id, created_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (user_id, repository_id) DO NOTHING",
                    )
                    .bind(user.0)
                    .bind(repository.0)
                    .bind(portus_core::model::now())
                    .execute(&self.pool)
                    .await
                } else {
                    sqlx::query("DELETE FROM stars WHERE user_id = $1 AND repository_id = $2")
                        .bind(user.0)
                        .bind(repository.0)
                        .execute(&self.pool)
                        .await
                };
                match result {
                    Ok(_) if starred => Ok(()),
                    Ok(_) => {
                        // Unstarring is idempotent, but only for a repository and user that exist.
                        user_exists(&self.pool, user).await?;
                        if self.repository_by_id(repository).await?.is_none() {
                            return Err(Error::not_found("repository", repository.to_string()));
                        }
                        Ok(())
                    }
                    Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                        user_exists(&self.pool, user).await?;
                        Err(Error::not_found("repository", repository.to_string()))
                    }
                    Err(e) => Err(db_error(e)),
                }
            }

            async fn starred(&self, user: UserId) -> Result<Vec<RepositoryId>> {
                let ids: Vec<i64> =
                    sqlx::query_scalar("SELECT repository_id FROM stars WHERE user_id = $1 ORDER BY repository_id")
                        .bind(user.0)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_error)?;
                Ok(ids.into_iter().map(RepositoryId).collect())
            }

            async fn claim_scan(
                &self,
                digest: &str,
                backend: &str,
                seen: Option<DateTime<Utc>>,
                lease_until: DateTime<Utc>,
            ) -> Result<bool> {
                claim_one(&self.pool, digest, backend, seen, lease_until).await
            }

            async fn claim_scans(
                &self,
                digest: &str,
                wanted: &[(String, Option<DateTime<Utc>>)],
                lease_until: DateTime<Utc>,
            ) -> Result<Vec<String>> {
                // Never-scanned backends (the common case: a new image) in one INSERT; the
                // database reports which rows it inserted, i.e. which claims were won.
                let unseen: Vec<&str> = wanted
                    .iter()
                    .filter(|(_, seen)| seen.is_none())
                    .map(|(backend, _)| backend.as_str())
                    .collect();
                let mut claimed: Vec<String> = Vec::with_capacity(wanted.len());
                if !unseen.is_empty() {
                    let now = portus_core::model::now();
                    let lease_until = portus_core::model::at_store_precision(lease_until);
                    let mut builder = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO scan_records (digest, backend, state, attempts, updated_at, next_attempt_at) ",
                    );
                    builder.push_values(&unseen, |mut row, backend| {
                        row.push_bind(digest.to_owned())
                            .push_bind((*backend).to_owned())
                            .push_bind("scanning")
                            .push_bind(0_i64)
                            .push_bind(now)
                            .push_bind(lease_until);
                    });
                    builder.push(" ON CONFLICT (digest, backend) DO NOTHING RETURNING backend");
                    let won: Vec<String> = builder
                        .build_query_scalar()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_error)?;
                    claimed.extend(won);
                }
                for (backend, seen) in wanted.iter().filter(|(_, seen)| seen.is_some()) {
                    if claim_one(&self.pool, digest, backend, *seen, lease_until).await? {
                        claimed.push(backend.clone());
                    }
                }
                // In the order asked for, whatever order the database returned them in.
                claimed.sort_by_key(|b| wanted.iter().position(|(w, _)| w == b));
                Ok(claimed)
            }

            async fn record_activity(&self, activity: NewActivity) -> Result<()> {
                sqlx::query("INSERT INTO activities (at, actor, action, target, details) VALUES ($1, $2, $3, $4, $5)")
                    .bind(portus_core::model::now())
                    .bind(activity.actor)
                    .bind(activity.action)
                    .bind(activity.target)
                    .bind(activity.details)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(())
            }

            async fn activities(&self, filter: &ActivityFilter) -> Result<Vec<Activity>> {
                let limit = if filter.limit == 0 { 100 } else { filter.limit } as i64;
                let (action_exact, action_prefix) = match filter.action.as_deref() {
                    Some(a) if a.ends_with('.') => (None, Some(a.to_owned())),
                    Some(a) => (Some(a.to_owned()), None),
                    None => (None, None),
                };
                // Optional filters as `?N IS NULL OR ...` keep one static, injection-free statement.
                let rows = sqlx::query(
                    "SELECT id, at, actor, action, target, details FROM activities \
                     WHERE ($1 IS NULL OR actor = $1) AND ($2 IS NULL OR action = $2) \
                     AND ($3 IS NULL OR substr(action, 1, length($3)) = $3) \
                     AND ($4 IS NULL OR substr(target, 1, length($4)) = $4) AND ($5 IS NULL OR at >= $5) \
                     ORDER BY id DESC LIMIT $6",
                )
                .bind(&filter.actor)
                .bind(action_exact)
                .bind(action_prefix)
                .bind(&filter.target_prefix)
                .bind(filter.since)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
                rows.iter()
                    .map(|row| {
                        Ok(Activity {
                            id: decode(row.try_get("id"))?,
                            at: decode(row.try_get("at"))?,
                            actor: decode(row.try_get("actor"))?,
                            action: decode(row.try_get("action"))?,
                            target: decode(row.try_get("target"))?,
                            details: decode(row.try_get("details"))?,
                        })
                    })
                    .collect()
            }
        }
    };
}

pub(crate) use sql_policy_store;
