use std::borrow::Cow;
use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use portus_core::model::{
    Activity, ActivityFilter, AppToken, AppTokenId, EventStatus, ManifestRecord, MissingNamespace, Namespace,
    NamespaceAccess, NamespaceId, NamespaceRef, NewActivity, NewNamespace, NewUser, PasswordHash, RefreshToken,
    RefreshTokenId, Role, ScanRecord, ScanState, StoredEvent, TagChange, TagId, TagRecord, Team, TeamId, TeamMember,
    User, UserId, Visibility,
};
use portus_core::naming::{
    first_free_name, namespace_name_for_user, validate_namespace_name, validate_team_name, validate_username,
};
use portus_core::{Error, PolicyStore, Result};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlSafeStr, Sqlite, Transaction};

const WHAT: &str = "policy store";

/// A [`PolicyStore`] in one SQLite file (WAL mode), the embedded default.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

fn migrator() -> Migrator {
    let migration = |version, name, sql: &'static str| {
        Migration::new(
            version,
            Cow::Borrowed(name),
            MigrationType::Simple,
            sql.into_sql_str(),
            false,
        )
    };
    Migrator::with_migrations(vec![
        migration(1, "policy", include_str!("../../migrations/sqlite/0001_policy.sql")),
        migration(2, "registry", include_str!("../../migrations/sqlite/0002_registry.sql")),
        migration(3, "scans", include_str!("../../migrations/sqlite/0003_scans.sql")),
    ])
}

/// Maps a database error to the core error kinds: lock contention, I/O and read-only files are
/// temporary (`Unavailable`), constraint violations are conflicts.
fn db_error(error: sqlx::Error) -> Error {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict("the name is already taken".into()),
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => Error::not_found("referenced object", "?"),
        sqlx::Error::Database(db) => {
            // Primary result codes: SQLITE_BUSY 5, SQLITE_LOCKED 6, SQLITE_READONLY 8,
            // SQLITE_IOERR 10, SQLITE_FULL 13, SQLITE_CANTOPEN 14.
            let primary = db.code().and_then(|c| c.parse::<i32>().ok()).map(|c| c & 0xff);
            if matches!(primary, Some(5 | 6 | 8 | 10 | 13 | 14)) {
                Error::Unavailable {
                    what: WHAT,
                    source: Box::new(error),
                }
            } else {
                Error::Backend {
                    what: WHAT,
                    source: Box::new(error),
                }
            }
        }
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            Error::Unavailable {
                what: WHAT,
                source: Box::new(error),
            }
        }
        _ => Error::Backend {
            what: WHAT,
            source: Box::new(error),
        },
    }
}

fn decode<T>(value: std::result::Result<T, sqlx::Error>) -> Result<T> {
    value.map_err(db_error)
}

const USER_COLUMNS: &str = "SELECT u.id, u.username, u.email, u.admin, u.enabled, u.password_hash, u.created_at, \
     (SELECT n.id FROM namespaces n WHERE n.personal_owner_id = u.id LIMIT 1) AS personal_namespace FROM users u";

fn user_from(row: &SqliteRow) -> Result<User> {
    Ok(User {
        id: UserId(decode(row.try_get("id"))?),
        username: decode(row.try_get("username"))?,
        email: decode(row.try_get("email"))?,
        admin: decode(row.try_get("admin"))?,
        enabled: decode(row.try_get("enabled"))?,
        password_hash: decode(row.try_get::<Option<String>, _>("password_hash"))?.map(PasswordHash),
        personal_namespace: decode(row.try_get::<Option<i64>, _>("personal_namespace"))?.map(NamespaceId),
        created_at: decode(row.try_get("created_at"))?,
    })
}

const NAMESPACE_COLUMNS: &str = "n.id, n.name, n.description, n.team_id, n.visibility, n.global, n.personal_owner_id";

fn namespace_from(row: &SqliteRow) -> Result<Namespace> {
    let visibility: String = decode(row.try_get("visibility"))?;
    Ok(Namespace {
        id: NamespaceId(decode(row.try_get("id"))?),
        name: decode(row.try_get("name"))?,
        description: decode(row.try_get("description"))?,
        team_id: decode(row.try_get::<Option<i64>, _>("team_id"))?.map(TeamId),
        visibility: Visibility::from_str(&visibility)?,
        global: decode(row.try_get("global"))?,
        personal_owner: decode(row.try_get::<Option<i64>, _>("personal_owner_id"))?.map(UserId),
    })
}

fn team_from(row: &SqliteRow) -> Result<Team> {
    Ok(Team {
        id: TeamId(decode(row.try_get("id"))?),
        name: decode(row.try_get("name"))?,
        description: decode(row.try_get("description"))?,
        hidden: decode(row.try_get("hidden"))?,
    })
}

fn app_token_from(row: &SqliteRow) -> Result<AppToken> {
    Ok(AppToken {
        id: AppTokenId(decode(row.try_get("id"))?),
        user_id: UserId(decode(row.try_get("user_id"))?),
        label: decode(row.try_get("label"))?,
        created_at: decode(row.try_get("created_at"))?,
    })
}

fn refresh_token_from(row: &SqliteRow) -> Result<RefreshToken> {
    Ok(RefreshToken {
        id: RefreshTokenId(decode(row.try_get("id"))?),
        user_id: UserId(decode(row.try_get("user_id"))?),
        service: decode(row.try_get("service"))?,
        app_token_id: decode(row.try_get::<Option<i64>, _>("app_token_id"))?.map(AppTokenId),
        created_at: decode(row.try_get("created_at"))?,
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

    async fn with_options(options: SqliteConnectOptions, max_connections: u32) -> Result<Self> {
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(db_error)?;
        migrator().run(&pool).await.map_err(|e| Error::Backend {
            what: "database migration",
            source: Box::new(e),
        })?;
        Ok(SqliteStore { pool })
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

    async fn update_user_flag(&self, sql: &'static str, id: UserId, value: bool) -> Result<()> {
        let result = sqlx::query(sql)
            .bind(value)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        if result.rows_affected() == 0 {
            return Err(Error::not_found("user", id.to_string()));
        }
        Ok(())
    }
}

const TAG_COLUMNS: &str = "SELECT t.id, r.name AS repository, t.name, t.digest, t.media_type, t.size, t.pushed_by, \
     t.created_at, t.updated_at FROM tags t JOIN repositories r ON r.id = t.repository_id";

fn tag_from(row: &SqliteRow) -> Result<TagRecord> {
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
    tx: &mut Transaction<'static, Sqlite>,
    repository: &str,
    missing: MissingNamespace,
) -> Result<Option<i64>> {
    let existing = sqlx::query("SELECT id FROM repositories WHERE name = ?")
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
            sqlx::query_scalar("SELECT id FROM namespaces WHERE global = 1")
                .fetch_optional(&mut **tx)
                .await
        }
        NamespaceRef::Named(name) => {
            sqlx::query_scalar("SELECT id FROM namespaces WHERE global = 0 AND name = ?")
                .bind(name)
                .fetch_optional(&mut **tx)
                .await
        }
    }
    .map_err(db_error)?;
    let now = Utc::now();
    let namespace_id = match (namespace_id, namespace) {
        (Some(id), _) => id,
        (None, NamespaceRef::Named(name)) if missing == MissingNamespace::Create => {
            validate_namespace_name(name)?;
            sqlx::query(
                "INSERT INTO namespaces (name, description, team_id, visibility, global, created_at) \
                 VALUES (?, 'Created for a repository pushed to the registry', NULL, 'private', 0, ?)",
            )
            .bind(name)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(db_error)?
            .last_insert_rowid()
        }
        _ => return Ok(None),
    };
    let id = sqlx::query("INSERT INTO repositories (namespace_id, name, created_at) VALUES (?, ?, ?)")
        .bind(namespace_id)
        .bind(repository)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?
        .last_insert_rowid();
    Ok(Some(id))
}

async fn names_with_prefix(
    tx: &mut Transaction<'static, Sqlite>,
    sql: &'static str,
    prefix: &str,
) -> Result<HashSet<String>> {
    let rows = sqlx::query(sql)
        .bind(prefix)
        .bind(prefix.len() as i64)
        .fetch_all(&mut **tx)
        .await
        .map_err(db_error)?;
    rows.iter().map(|r| decode(r.try_get::<String, _>(0))).collect()
}

async fn user_exists(executor: &SqlitePool, id: UserId) -> Result<()> {
    sqlx::query("SELECT 1 FROM users WHERE id = ?")
        .bind(id.0)
        .fetch_optional(executor)
        .await
        .map_err(db_error)?
        .map(|_| ())
        .ok_or_else(|| Error::not_found("user", id.to_string()))
}

#[async_trait]
impl PolicyStore for SqliteStore {
    async fn create_user(&self, new: NewUser) -> Result<User> {
        validate_username(&new.username)?;
        let now = Utc::now();
        let mut tx = self.write_tx().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (username, email, admin, enabled, password_hash, created_at) VALUES (?, ?, ?, 1, ?, ?)",
        )
        .bind(&new.username)
        .bind(&new.email)
        .bind(new.admin)
        .bind(new.password_hash.as_ref().map(|h| h.0.as_str()))
        .bind(now)
        .execute(&mut *tx)
        .await;
        let user_id = match inserted {
            Ok(result) => UserId(result.last_insert_rowid()),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(Error::Conflict(format!("user '{}' already exists", new.username)));
            }
            Err(e) => return Err(db_error(e)),
        };
        let mut personal_namespace = None;
        if let Some(base) = namespace_name_for_user(&new.username) {
            let taken_ns = names_with_prefix(
                &mut tx,
                "SELECT name FROM namespaces WHERE global = 0 AND substr(name, 1, ?2) = ?1",
                &base,
            )
            .await?;
            let taken_teams = names_with_prefix(
                &mut tx,
                "SELECT name FROM teams WHERE substr(name, 1, ?2) = ?1",
                &new.username,
            )
            .await?;
            let ns_name = first_free_name(&base, |n| taken_ns.contains(n));
            let team_name = first_free_name(&new.username, |n| taken_teams.contains(n));
            let team_id = sqlx::query("INSERT INTO teams (name, hidden, created_at) VALUES (?, 1, ?)")
                .bind(&team_name)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .last_insert_rowid();
            sqlx::query("INSERT INTO team_members (team_id, user_id, role) VALUES (?, ?, 'owner')")
                .bind(team_id)
                .bind(user_id.0)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            let description = format!("This personal namespace belongs to {}.", new.username);
            let ns_id = sqlx::query(
                "INSERT INTO namespaces (name, description, team_id, visibility, global, personal_owner_id, created_at) \
                 VALUES (?, ?, ?, 'private', 0, ?, ?)",
            )
            .bind(&ns_name)
            .bind(description)
            .bind(team_id)
            .bind(user_id.0)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .last_insert_rowid();
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
            created_at: now,
        })
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
        let sql = sqlx::AssertSqlSafe(format!("{USER_COLUMNS} WHERE u.username = ?"));
        let row = sqlx::query(sql)
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(user_from).transpose()
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
        let sql = sqlx::AssertSqlSafe(format!("{USER_COLUMNS} WHERE u.id = ?"));
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
        self.update_user_flag("UPDATE users SET enabled = ? WHERE id = ?", id, enabled)
            .await
    }

    async fn set_user_admin(&self, id: UserId, admin: bool) -> Result<()> {
        self.update_user_flag("UPDATE users SET admin = ? WHERE id = ?", id, admin)
            .await
    }

    async fn set_password_hash(&self, id: UserId, hash: Option<PasswordHash>) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let result = sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(hash.map(|h| h.0))
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        if result.rows_affected() == 0 {
            return Err(Error::not_found("user", id.to_string()));
        }
        sqlx::query("DELETE FROM refresh_tokens WHERE user_id = ?")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    async fn create_team(&self, name: &str, owner: UserId, description: Option<String>) -> Result<Team> {
        validate_team_name(name)?;
        let mut tx = self.write_tx().await?;
        let inserted = sqlx::query("INSERT INTO teams (name, description, hidden, created_at) VALUES (?, ?, 0, ?)")
            .bind(name)
            .bind(&description)
            .bind(Utc::now())
            .execute(&mut *tx)
            .await;
        let team_id = match inserted {
            Ok(result) => TeamId(result.last_insert_rowid()),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                return Err(Error::Conflict(format!("team '{name}' already exists")));
            }
            Err(e) => return Err(db_error(e)),
        };
        let member = sqlx::query("INSERT INTO team_members (team_id, user_id, role) VALUES (?, ?, 'owner')")
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
        let row = sqlx::query("SELECT id, name, description, hidden FROM teams WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(team_from).transpose()
    }

    async fn set_team_member(&self, team: TeamId, user: UserId, role: Role) -> Result<()> {
        let result = sqlx::query(
            "INSERT INTO team_members (team_id, user_id, role) VALUES (?, ?, ?) \
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
             WHERE m.team_id = ? ORDER BY u.username",
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
        let inserted = sqlx::query(
            "INSERT INTO namespaces (name, description, team_id, visibility, global, created_at) VALUES (?, ?, ?, ?, 0, ?)",
        )
        .bind(&new.name)
        .bind(&new.description)
        .bind(new.team_id.0)
        .bind(new.visibility.as_str())
        .bind(Utc::now())
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(result) => Ok(Namespace {
                id: NamespaceId(result.last_insert_rowid()),
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
        let result = sqlx::query("UPDATE namespaces SET visibility = ? WHERE id = ?")
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
                     LEFT JOIN team_members m ON m.team_id = n.team_id AND m.user_id = ? WHERE n.global = 1"
                ));
                sqlx::query(sql)
                    .bind(user.map(|u| u.0))
                    .fetch_optional(&self.pool)
                    .await
            }
            NamespaceRef::Named(name) => {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {NAMESPACE_COLUMNS}, m.role FROM namespaces n \
                     LEFT JOIN team_members m ON m.team_id = n.team_id AND m.user_id = ? \
                     WHERE n.global = 0 AND n.name = ?"
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

    async fn create_app_token(&self, user: UserId, label: &str, secret_hash: &str) -> Result<AppToken> {
        if label.trim().is_empty() {
            return Err(Error::Invalid("application token label must not be empty".into()));
        }
        let now = Utc::now();
        let inserted =
            sqlx::query("INSERT INTO app_tokens (user_id, label, secret_hash, created_at) VALUES (?, ?, ?, ?)")
                .bind(user.0)
                .bind(label)
                .bind(secret_hash)
                .bind(now)
                .execute(&self.pool)
                .await;
        match inserted {
            Ok(r) => Ok(AppToken {
                id: AppTokenId(r.last_insert_rowid()),
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
        let row = sqlx::query("SELECT id, user_id, label, created_at FROM app_tokens WHERE secret_hash = ?")
            .bind(secret_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(app_token_from).transpose()
    }

    async fn list_app_tokens(&self, user: UserId) -> Result<Vec<AppToken>> {
        let rows = sqlx::query("SELECT id, user_id, label, created_at FROM app_tokens WHERE user_id = ? ORDER BY id")
            .bind(user.0)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(app_token_from).collect()
    }

    async fn revoke_app_token(&self, id: AppTokenId) -> Result<()> {
        // Refresh tokens obtained with this token go with it (ON DELETE CASCADE).
        let result = sqlx::query("DELETE FROM app_tokens WHERE id = ?")
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
        let now = Utc::now();
        let inserted = sqlx::query(
            "INSERT INTO refresh_tokens (user_id, service, app_token_id, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(user.0)
        .bind(service)
        .bind(app_token.map(|t| t.0))
        .bind(secret_hash)
        .bind(now)
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(r) => Ok(RefreshToken {
                id: RefreshTokenId(r.last_insert_rowid()),
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
            "SELECT id, user_id, service, app_token_id, created_at FROM refresh_tokens WHERE secret_hash = ?",
        )
        .bind(secret_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.as_ref().map(refresh_token_from).transpose()
    }

    async fn revoke_refresh_tokens(&self, user: UserId) -> Result<u64> {
        let result = sqlx::query("DELETE FROM refresh_tokens WHERE user_id = ?")
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
        let now = Utc::now();
        let size = manifest.size.map(|s| s.min(i64::MAX as u64) as i64);
        let existing = sqlx::query("SELECT digest FROM tags WHERE repository_id = ? AND name = ?")
            .bind(repository_id)
            .bind(tag)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let change = match existing {
            None => {
                sqlx::query(
                    "INSERT INTO tags (repository_id, name, digest, media_type, size, pushed_by, created_at, updated_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
                    sqlx::query("UPDATE tags SET size = COALESCE(size, ?) WHERE repository_id = ? AND name = ?")
                        .bind(size)
                        .bind(repository_id)
                        .bind(tag)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    TagChange::Unchanged
                } else {
                    sqlx::query(
                        "UPDATE tags SET digest = ?, media_type = ?, size = ?, pushed_by = COALESCE(?, pushed_by), \
                         updated_at = ? WHERE repository_id = ? AND name = ?",
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
        let sql = sqlx::AssertSqlSafe(format!("{TAG_COLUMNS} WHERE r.name = ? AND t.name = ?"));
        let row = sqlx::query(sql)
            .bind(repository)
            .bind(tag)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(tag_from).transpose()
    }

    async fn tag_by_id(&self, id: TagId) -> Result<Option<TagRecord>> {
        let sql = sqlx::AssertSqlSafe(format!("{TAG_COLUMNS} WHERE t.id = ?"));
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
                let sql = sqlx::AssertSqlSafe(format!("{TAG_COLUMNS} WHERE r.name = ? ORDER BY r.name, t.name"));
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
        let sql = sqlx::AssertSqlSafe(format!("{TAG_COLUMNS} WHERE r.name = ? AND t.name = ?"));
        let row = sqlx::query(sql)
            .bind(repository)
            .bind(tag)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let Some(record) = row.as_ref().map(tag_from).transpose()? else {
            return Ok(None);
        };
        sqlx::query("DELETE FROM tags WHERE id = ?")
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
            "{TAG_COLUMNS} WHERE r.name = ? AND t.digest = ? ORDER BY t.name"
        ));
        let rows = sqlx::query(sql)
            .bind(repository)
            .bind(digest)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        let records = rows.iter().map(tag_from).collect::<Result<Vec<_>>>()?;
        sqlx::query(
            "DELETE FROM tags WHERE digest = ? AND repository_id = (SELECT id FROM repositories WHERE name = ?)",
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
        let sql = sqlx::AssertSqlSafe(format!("{TAG_COLUMNS} WHERE r.name = ? ORDER BY t.name"));
        let rows = sqlx::query(sql)
            .bind(repository)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
        let records = rows.iter().map(tag_from).collect::<Result<Vec<_>>>()?;
        // Tags go with the repository (ON DELETE CASCADE).
        sqlx::query("DELETE FROM repositories WHERE name = ?")
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
        let now = Utc::now();
        // One multi-row statement per chunk: a single statement is atomic on its own, and each
        // round trip to SQLite's worker thread costs more than the insert itself.
        let statement = |chunk: &[(String, String)]| {
            let mut builder = sqlx::QueryBuilder::<Sqlite>::new(
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
            "SELECT seq, event_id, payload FROM registry_events WHERE status = 'pending' ORDER BY seq LIMIT ?",
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
        let result = sqlx::query("UPDATE registry_events SET status = ?, error = ?, finished_at = ? WHERE seq = ?")
            .bind(status.as_str())
            .bind(error)
            .bind(Utc::now())
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
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (digest, backend) DO UPDATE SET state = excluded.state, \
             report = excluded.report, error = excluded.error, attempts = excluded.attempts, \
             updated_at = excluded.updated_at, next_attempt_at = excluded.next_attempt_at",
        )
        .bind(&record.digest)
        .bind(&record.backend)
        .bind(record.state.as_str())
        .bind(report)
        .bind(&record.error)
        .bind(record.attempts as i64)
        .bind(record.updated_at)
        .bind(record.next_attempt_at)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn scan_records<'a>(&self, digest: Option<&'a str>) -> Result<Vec<ScanRecord>> {
        let rows = sqlx::query(
            "SELECT digest, backend, state, report, error, attempts, updated_at, next_attempt_at FROM scan_records \
             WHERE ?1 IS NULL OR digest = ?1 ORDER BY digest, backend",
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

    async fn record_activity(&self, activity: NewActivity) -> Result<()> {
        sqlx::query("INSERT INTO activities (at, actor, action, target, details) VALUES (?, ?, ?, ?, ?)")
            .bind(Utc::now())
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
             WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action = ?2) \
             AND (?3 IS NULL OR substr(action, 1, length(?3)) = ?3) \
             AND (?4 IS NULL OR substr(target, 1, length(?4)) = ?4) AND (?5 IS NULL OR at >= ?5) \
             ORDER BY id DESC LIMIT ?6",
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn fresh() -> SqliteStore {
        SqliteStore::connect("sqlite::memory:").await.expect("in-memory SQLite")
    }

    portus_core::policy_store_conformance!(fresh());

    #[tokio::test]
    async fn data_survives_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portus.db");
        {
            let store = SqliteStore::open(&path).await.unwrap();
            portus_core::testing::user(&store, "alice").await;
        }
        let store = SqliteStore::open(&path).await.unwrap();
        let alice = store.user_by_name("alice").await.unwrap().expect("persisted");
        assert!(alice.personal_namespace.is_some());
        assert!(
            store.namespace(NamespaceRef::Global).await.unwrap().is_some(),
            "migrations ran once"
        );
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
        assert_eq!(err.kind(), portus_core::ErrorKind::Unavailable);
    }
}
