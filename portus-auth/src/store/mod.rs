//! SQL implementations of [`PolicyStore`](portus_core::PolicyStore).
//!
//! SQLite (feature `sqlite`) is the embedded default: one file, WAL mode, migrations applied on
//! open.

mod sqlite;

pub use sqlite::SqliteStore;
