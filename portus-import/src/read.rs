//! Reading a Portus database over `mysql://` (MariaDB/MySQL) or `postgres://`.
//!
//! One set of queries serves both databases: the only differences, how integers and booleans
//! are cast so that each column decodes as one Rust type on both, are the `INT8(…)` and
//! `FLAG(…)` markers [`dialect`] rewrites.

// Without a driver only the URL check is used; the queries wait for one.
#![cfg_attr(not(any(feature = "mysql", feature = "postgres")), allow(dead_code, unused_imports))]

use crate::source::{
    PortusActivity, PortusApplicationToken, PortusComment, PortusDelivery, PortusNamespace, PortusRegistry,
    PortusRepository, PortusSnapshot, PortusTag, PortusTeam, PortusTeamUser, PortusUser, PortusWebhook,
};
use crate::{Error, Result};

/// The database products the reader speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dialect {
    /// MariaDB or MySQL (Portus' default, `mysql2`).
    MySql,
    /// PostgreSQL (`PORTUS_DB_ADAPTER=postgresql`).
    Postgres,
}

impl Dialect {
    /// The dialect a database URL names: `mysql://`/`mariadb://` or `postgres://`/`postgresql://`.
    pub fn of_url(url: &str) -> Result<Dialect> {
        let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or_default();
        match scheme {
            "mysql" | "mariadb" => Ok(Dialect::MySql),
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            _ => Err(Error::Source(format!(
                "unsupported database URL scheme '{scheme}': use mysql:// (MariaDB/MySQL) or postgres://"
            ))),
        }
    }
}

/// Rewrites the `INT8(col)` and `FLAG(col)` markers of `sql` for `dialect`: both become a
/// 64-bit integer (booleans as 0/1, NULL flags as 0).
pub(crate) fn dialect(dialect: Dialect, sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 64);
    let mut rest = sql;
    loop {
        let next = [("INT8(", false), ("FLAG(", true)]
            .into_iter()
            .filter_map(|(marker, flag)| rest.find(marker).map(|at| (at, marker, flag)))
            .min_by_key(|(at, ..)| *at);
        let Some((at, marker, flag)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at]);
        let after = &rest[at + marker.len()..];
        let end = after.find(')').expect("markers wrap one column");
        let column = &after[..end];
        let cast = match (dialect, flag) {
            (Dialect::MySql, false) => format!("CAST({column} AS SIGNED)"),
            (Dialect::MySql, true) => format!("CAST(COALESCE({column}, 0) AS SIGNED)"),
            (Dialect::Postgres, false) => format!("CAST({column} AS BIGINT)"),
            (Dialect::Postgres, true) => format!("CAST(CAST(COALESCE({column}, FALSE) AS INTEGER) AS BIGINT)"),
        };
        out.push_str(&cast);
        rest = &after[end + 1..];
    }
}

pub(crate) const USERS: &str = "SELECT INT8(id), username, email, encrypted_password, FLAG(admin), FLAG(enabled), ldap_name, \
     locked_at, INT8(namespace_id), display_name, provider, uid, FLAG(bot), created_at FROM users ORDER BY id";
pub(crate) const TEAMS: &str = "SELECT INT8(id), name, FLAG(hidden), description FROM teams ORDER BY id";
pub(crate) const TEAM_USERS: &str = "SELECT INT8(user_id), INT8(team_id), INT8(role) FROM team_users ORDER BY id";
pub(crate) const REGISTRIES: &str =
    "SELECT name, hostname, FLAG(use_ssl), external_hostname FROM registries ORDER BY id";
pub(crate) const NAMESPACES: &str =
    "SELECT INT8(id), name, INT8(team_id), FLAG(global), description, INT8(visibility) FROM namespaces ORDER BY id";
pub(crate) const REPOSITORIES: &str =
    "SELECT INT8(id), name, INT8(namespace_id), FLAG(marked), description, created_at FROM repositories ORDER BY id";
pub(crate) const TAGS: &str = "SELECT INT8(id), name, INT8(repository_id), INT8(user_id), username, digest, image_id, \
     INT8(size), FLAG(marked), INT8(scanned), pulled_at, created_at, updated_at FROM tags ORDER BY id";
pub(crate) const STARS: &str = "SELECT INT8(user_id), INT8(repository_id) FROM stars ORDER BY id";
pub(crate) const COMMENTS: &str =
    "SELECT INT8(id), body, INT8(repository_id), INT8(user_id), created_at FROM comments ORDER BY id";
pub(crate) const TOKENS: &str =
    "SELECT INT8(id), application, token_hash, INT8(user_id) FROM application_tokens ORDER BY id";
pub(crate) const WEBHOOKS: &str = "SELECT INT8(id), INT8(namespace_id), name, url, username, password, \
     INT8(request_method), INT8(content_type), FLAG(enabled), created_at FROM webhooks ORDER BY id";
pub(crate) const HEADERS: &str = "SELECT INT8(webhook_id), name, value FROM webhook_headers ORDER BY id";
pub(crate) const DELIVERIES: &str = "SELECT INT8(webhook_id), uuid, INT8(status), request_header, request_body, \
     response_header, response_body, created_at FROM webhook_deliveries ORDER BY id";
pub(crate) const ACTIVITIES: &str = "SELECT INT8(id), trackable_type, INT8(trackable_id), INT8(owner_id), activities.key, \
     parameters, recipient_type, INT8(recipient_id), created_at FROM activities ORDER BY created_at, id";

/// Reads every table the importer uses, over one connection pool of the database's driver.
#[cfg(any(feature = "mysql", feature = "postgres"))]
macro_rules! read_snapshot {
    ($pool:expr, $db:ty, $dialect:expr) => {{
        use sqlx::Row;
        let pool = $pool;
        async fn all<T>(
            pool: &sqlx::Pool<$db>,
            dialect_of: Dialect,
            sql: &'static str,
            table: &'static str,
            decode: impl Fn(&<$db as sqlx::Database>::Row) -> std::result::Result<T, sqlx::Error>,
        ) -> Result<Vec<T>> {
            let sql = sqlx::AssertSqlSafe(dialect(dialect_of, sql));
            let rows = sqlx::query(sql)
                .fetch_all(pool)
                .await
                .map_err(|e| Error::Read { table, source: e })?;
            rows.iter()
                .map(|row| decode(row).map_err(|e| Error::Read { table, source: e }))
                .collect()
        }
        let d = $dialect;
        let flag = |v: i64| v != 0;
        PortusSnapshot {
            users: all(pool, d, USERS, "users", |r| {
                Ok(PortusUser {
                    id: r.try_get(0)?,
                    username: r.try_get(1)?,
                    email: r.try_get(2)?,
                    encrypted_password: r.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
                    admin: flag(r.try_get(4)?),
                    enabled: flag(r.try_get(5)?),
                    ldap_name: r.try_get(6)?,
                    locked_at: r.try_get(7)?,
                    namespace_id: r.try_get(8)?,
                    display_name: r.try_get(9)?,
                    provider: r.try_get(10)?,
                    uid: r.try_get(11)?,
                    bot: flag(r.try_get(12)?),
                    created_at: r.try_get(13)?,
                })
            })
            .await?,
            teams: all(pool, d, TEAMS, "teams", |r| {
                Ok(PortusTeam {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    hidden: flag(r.try_get(2)?),
                    description: r.try_get(3)?,
                })
            })
            .await?,
            team_users: all(pool, d, TEAM_USERS, "team_users", |r| {
                Ok(PortusTeamUser {
                    user_id: r.try_get(0)?,
                    team_id: r.try_get(1)?,
                    role: r.try_get(2)?,
                })
            })
            .await?,
            registries: all(pool, d, REGISTRIES, "registries", |r| {
                Ok(PortusRegistry {
                    name: r.try_get(0)?,
                    hostname: r.try_get(1)?,
                    use_ssl: flag(r.try_get(2)?),
                    external_hostname: r.try_get(3)?,
                })
            })
            .await?,
            namespaces: all(pool, d, NAMESPACES, "namespaces", |r| {
                Ok(PortusNamespace {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    team_id: r.try_get(2)?,
                    global: flag(r.try_get(3)?),
                    description: r.try_get(4)?,
                    visibility: r.try_get(5)?,
                })
            })
            .await?,
            repositories: all(pool, d, REPOSITORIES, "repositories", |r| {
                Ok(PortusRepository {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    namespace_id: r.try_get(2)?,
                    marked: flag(r.try_get(3)?),
                    description: r.try_get(4)?,
                    created_at: r.try_get(5)?,
                })
            })
            .await?,
            tags: all(pool, d, TAGS, "tags", |r| {
                Ok(PortusTag {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    repository_id: r.try_get(2)?,
                    user_id: r.try_get(3)?,
                    username: r.try_get(4)?,
                    digest: r.try_get(5)?,
                    image_id: r.try_get(6)?,
                    size: r.try_get(7)?,
                    marked: flag(r.try_get(8)?),
                    scanned: r.try_get::<Option<i64>, _>(9)?.unwrap_or(0),
                    pulled_at: r.try_get(10)?,
                    created_at: r.try_get(11)?,
                    updated_at: r.try_get(12)?,
                })
            })
            .await?,
            stars: all(pool, d, STARS, "stars", |r| Ok((r.try_get(0)?, r.try_get(1)?))).await?,
            comments: all(pool, d, COMMENTS, "comments", |r| {
                Ok(PortusComment {
                    id: r.try_get(0)?,
                    body: r.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
                    repository_id: r.try_get(2)?,
                    user_id: r.try_get(3)?,
                    created_at: r.try_get(4)?,
                })
            })
            .await?,
            application_tokens: all(pool, d, TOKENS, "application_tokens", |r| {
                Ok(PortusApplicationToken {
                    id: r.try_get(0)?,
                    application: r.try_get(1)?,
                    token_hash: r.try_get(2)?,
                    user_id: r.try_get(3)?,
                })
            })
            .await?,
            webhooks: all(pool, d, WEBHOOKS, "webhooks", |r| {
                Ok(PortusWebhook {
                    id: r.try_get(0)?,
                    namespace_id: r.try_get(1)?,
                    name: r.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
                    url: r.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
                    username: r.try_get(4)?,
                    password: r.try_get(5)?,
                    request_method: r.try_get::<Option<i64>, _>(6)?.unwrap_or(1),
                    content_type: r.try_get::<Option<i64>, _>(7)?.unwrap_or(0),
                    enabled: flag(r.try_get(8)?),
                    created_at: r.try_get(9)?,
                })
            })
            .await?,
            webhook_headers: all(pool, d, HEADERS, "webhook_headers", |r| {
                Ok((
                    r.try_get(0)?,
                    r.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
                    r.try_get::<Option<String>, _>(2)?.unwrap_or_default(),
                ))
            })
            .await?,
            webhook_deliveries: all(pool, d, DELIVERIES, "webhook_deliveries", |r| {
                Ok(PortusDelivery {
                    webhook_id: r.try_get(0)?,
                    uuid: r.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
                    status: r.try_get(2)?,
                    request_header: r.try_get(3)?,
                    request_body: r.try_get(4)?,
                    response_header: r.try_get(5)?,
                    response_body: r.try_get(6)?,
                    created_at: r.try_get(7)?,
                })
            })
            .await?,
            activities: all(pool, d, ACTIVITIES, "activities", |r| {
                Ok(PortusActivity {
                    id: r.try_get(0)?,
                    trackable_type: r.try_get(1)?,
                    trackable_id: r.try_get(2)?,
                    owner_id: r.try_get(3)?,
                    key: r.try_get::<Option<String>, _>(4)?.unwrap_or_default(),
                    parameters: r.try_get(5)?,
                    recipient_type: r.try_get(6)?,
                    recipient_id: r.try_get(7)?,
                    created_at: r.try_get(8)?,
                })
            })
            .await?,
        }
    }};
}

/// The import ledger's name for the database at `url`: `portus:` with its host, port and
/// database name, without credentials (`portus:db.example.org:3306/portus_production`).
pub fn source_name(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    format!("portus:{rest}")
}

/// Reads a Portus database. The URL's scheme picks the driver: `mysql://` (or `mariadb://`)
/// needs the `mysql` feature, `postgres://` the `postgres` feature. Reads only: the source is
/// never written.
pub async fn read(url: &str) -> Result<PortusSnapshot> {
    match Dialect::of_url(url)? {
        #[cfg(feature = "mysql")]
        Dialect::MySql => {
            let url = url.replacen("mariadb://", "mysql://", 1);
            let pool = sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .map_err(Error::Connect)?;
            let snapshot = read_snapshot!(&pool, sqlx::MySql, Dialect::MySql);
            pool.close().await;
            Ok(snapshot)
        }
        #[cfg(feature = "postgres")]
        Dialect::Postgres => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(url)
                .await
                .map_err(Error::Connect)?;
            let snapshot = read_snapshot!(&pool, sqlx::Postgres, Dialect::Postgres);
            pool.close().await;
            Ok(snapshot)
        }
        #[allow(unreachable_patterns)]
        other => Err(Error::Source(format!(
            "this build cannot read {other:?} databases: enable the portus-import feature for it"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_become_casts_per_dialect() {
        let sql = "SELECT INT8(id), FLAG(admin) FROM users";
        assert_eq!(
            dialect(Dialect::MySql, sql),
            "SELECT CAST(id AS SIGNED), CAST(COALESCE(admin, 0) AS SIGNED) FROM users"
        );
        assert_eq!(
            dialect(Dialect::Postgres, sql),
            "SELECT CAST(id AS BIGINT), CAST(CAST(COALESCE(admin, FALSE) AS INTEGER) AS BIGINT) FROM users"
        );
    }

    #[test]
    fn source_names_carry_no_credentials() {
        assert_eq!(
            source_name("mysql://portus:s3cr%40t@db.example.org:3306/portus_production?ssl-mode=required"),
            "portus:db.example.org:3306/portus_production"
        );
        assert_eq!(source_name("postgres://h/p"), "portus:h/p");
    }

    #[test]
    fn url_schemes() {
        assert_eq!(Dialect::of_url("mysql://u@h/db").unwrap(), Dialect::MySql);
        assert_eq!(Dialect::of_url("mariadb://u@h/db").unwrap(), Dialect::MySql);
        assert_eq!(Dialect::of_url("postgresql://u@h/db").unwrap(), Dialect::Postgres);
        assert!(Dialect::of_url("sqlite://x").is_err());
    }
}
