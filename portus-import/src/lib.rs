//! Moves a SUSE Portus installation into a portus store.
//!
//! [`read`] reads a live Portus database (MariaDB/MySQL with the `mysql` feature, PostgreSQL
//! with `postgres`) into a [`PortusSnapshot`]; [`plan`] decides, as a pure function, what
//! each row becomes here and which rows are left out and why; [`import`] writes the plan's
//! batches through [`ImportStore`](portus_core::traits::ImportStore), one transaction each.
//!
//! What carries over unchanged: Devise bcrypt password hashes (users sign in with the password
//! they had) and application-token bcrypt hashes (CI tokens keep working, and are re-stored in
//! this project's format on first use). What does not: scan findings (the configured scanners
//! scan again), Devise session state.
//!
//! An import is idempotent: rows already present are left as they are, so a second run writes
//! nothing and a run interrupted between batches is completed by running it again.

mod plan;
mod read;
mod report;
mod ruby_yaml;
mod source;

pub use plan::{BATCH_ROWS, PORTUS_INTERNAL_USER, PORTUS_UNLOCK_IN, Plan, plan};
pub use read::{Dialect, read, source_name};
pub use report::{Kind, Report, Skipped};
pub use ruby_yaml::parse_parameters;
pub use source::*;

use std::collections::HashSet;

use portus_core::PolicyStore;
use portus_core::model::ImportCounts;
use portus_core::prelude::AccountStoreExt;

/// What can go wrong reading or importing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The source cannot be used as given (unsupported URL, driver not built in).
    #[error("{0}")]
    Source(String),
    /// The source database cannot be reached.
    #[cfg(any(feature = "mysql", feature = "postgres"))]
    #[error("cannot connect to the Portus database: {0}")]
    Connect(#[source] sqlx::Error),
    /// A table cannot be read as Portus 2.4/2.5 lays it out.
    #[cfg(any(feature = "mysql", feature = "postgres"))]
    #[error("cannot read the Portus table `{table}`: {source}")]
    Read {
        /// The table.
        table: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The store holds accounts or repositories the source does not have, and `merge` was not
    /// asked for.
    #[error(
        "the store is not empty: it holds {examples} that the Portus database does not; \
         import into an empty store, or pass --merge to add Portus' rows beside them (existing rows are kept)"
    )]
    NotEmpty {
        /// A few of the foreign names.
        examples: String,
    },
    /// Writing to the store failed; batches before this one are written, this one is not.
    #[error(
        "import stopped after {done} of {total} batches (the failed batch wrote nothing; fix the cause and run the import again to complete it): {source}"
    )]
    Store {
        /// Batches written.
        done: usize,
        /// Batches planned.
        total: usize,
        /// The store's error.
        #[source]
        source: portus_core::Error,
    },
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How an import runs.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Options {
    /// The source's name in the import ledger: rows are recognised per source, so two Portus
    /// databases merged into one store never mistake each other's rows (see [`source_name`]).
    pub source: String,
    /// Report what would be imported, write nothing.
    pub dry_run: bool,
    /// Import into a store that already holds other accounts or repositories.
    pub merge: bool,
    /// Portus authenticated against LDAP: its users' passwords are LDAP's, so none is imported
    /// (Portus kept a copy of each LDAP password from the user's first sign-in).
    pub ldap: bool,
}

impl Options {
    /// A plain import (no dry run, no merge, no LDAP) from the source named `source`.
    pub fn new(source: impl Into<String>) -> Self {
        Options {
            source: source.into(),
            ..Options::default()
        }
    }

    /// With `dry_run`.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// With `merge`.
    pub fn merge(mut self, merge: bool) -> Self {
        self.merge = merge;
        self
    }

    /// With `ldap`.
    pub fn ldap(mut self, ldap: bool) -> Self {
        self.ldap = ldap;
        self
    }
}

/// Progress of an import: rows written so far out of the plan's total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Rows handled (written or found present).
    pub done: u64,
    /// Rows planned.
    pub total: u64,
}

/// Imports `snapshot` into `store` and returns the report (with the rows written, unless a dry
/// run). `progress` is called after each batch.
pub async fn import(
    store: &dyn PolicyStore,
    snapshot: &PortusSnapshot,
    options: Options,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Report> {
    let Plan { batches, mut report } = plan(snapshot, &options);
    // A dry run says what the import would say, refusal included.
    if !options.merge {
        refuse_foreign_content(store, &batches).await?;
    }
    if options.dry_run {
        return Ok(report);
    }
    let total: u64 = batches.iter().map(|b| b.len() as u64).sum();
    let mut written = ImportCounts::default();
    let mut done = 0;
    progress(Progress { done, total });
    for (index, batch) in batches.iter().enumerate() {
        let counts = store.import_batch(batch).await.map_err(|source| Error::Store {
            done: index,
            total: batches.len(),
            source,
        })?;
        written.add(counts);
        done += batch.len() as u64;
        progress(Progress { done, total });
    }
    report.written = Some(written);
    Ok(report)
}

/// Refuses a store holding users or repositories the import does not bring: importing into it
/// would mix two installations. A store holding only rows of this source (an earlier run of
/// the same import, complete or not) is fine.
async fn refuse_foreign_content(store: &dyn PolicyStore, batches: &[portus_core::model::ImportBatch]) -> Result<()> {
    let store_error = |source| Error::Store {
        done: 0,
        total: batches.len(),
        source,
    };
    let users: HashSet<&str> = batches
        .iter()
        .flat_map(|b| b.users.iter().map(|u| u.username.as_str()))
        .collect();
    let repositories: HashSet<&str> = batches
        .iter()
        .flat_map(|b| b.repositories.iter().map(|r| r.name.as_str()))
        .collect();
    let mut foreign: Vec<String> = store
        .list_users()
        .await
        .map_err(store_error)?
        .into_iter()
        .filter(|u| !users.contains(u.username.as_str()))
        .map(|u| format!("user {}", u.username))
        .collect();
    foreign.extend(
        store
            .repositories()
            .await
            .map_err(store_error)?
            .into_iter()
            .filter(|r| !repositories.contains(r.as_str()))
            .map(|r| format!("repository {r}")),
    );
    if foreign.is_empty() {
        return Ok(());
    }
    let more = foreign.len().saturating_sub(3);
    foreign.truncate(3);
    let mut examples = foreign.join(", ");
    if more > 0 {
        examples.push_str(&format!(" and {more} more"));
    }
    Err(Error::NotEmpty { examples })
}
