//! Throwaway databases on the test cluster that `scripts/test.sh` starts.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// The environment variable naming the test cluster's admin URL.
pub const URL_VARIABLE: &str = "PORTUS_TEST_POSTGRES_URL";

/// Creates an empty database on the test cluster and returns its URL.
///
/// Panics with instructions when no cluster is configured: the PostgreSQL tests must fail, not
/// pass vacuously, when PostgreSQL is missing.
pub async fn fresh_database() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let admin_url = std::env::var(URL_VARIABLE).unwrap_or_else(|_| {
        panic!("{URL_VARIABLE} is not set: run the tests with scripts/test.sh, which starts a PostgreSQL cluster")
    });
    let name = format!(
        "portus_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = PgConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {URL_VARIABLE}: {e}"));
    // Two statements: PostgreSQL runs a multi-statement string as one transaction, and
    // CREATE DATABASE refuses to run inside one.
    for statement in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut admin)
            .await
            .expect("create a test database");
    }
    let (base, _) = admin_url.rsplit_once('/').expect("URL with a database path");
    format!("{base}/{name}")
}
