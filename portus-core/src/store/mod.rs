//! SQL implementations of [`PolicyStore`](crate::PolicyStore).
//!
//! SQLite (feature `sqlite`) is the embedded default: one file, WAL mode, migrations applied on
//! open. PostgreSQL (feature `postgres`) lets several `portus serve` instances share one
//! database. Both run the same statements (the private `sql` module); each backend keeps its own migrations.

mod sql;

#[cfg(feature = "postgres")]
mod pg_changes;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "sqlite")]
mod wal_index;

#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
#[cfg(all(feature = "postgres", any(test, feature = "testing")))]
pub mod postgres_testing;
