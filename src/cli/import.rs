//! `portus import portus`: bring a Portus installation's database into the store.

use clap::{Args, Subcommand};
use portus_import::{Options, Progress};

use super::progress::progress_bar;
use crate::Error;
use crate::app::{self, DataPaths};

/// `portus import ...`
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import a SUSE Portus database: users (with their passwords), teams, namespaces,
    /// repositories, tags, stars, comments, application tokens, webhooks and activities.
    Portus(ImportPortusArgs),
}

/// Arguments of `portus import portus`.
#[derive(Debug, Args)]
pub struct ImportPortusArgs {
    /// The Portus database: mysql://USER:PASSWORD@HOST:PORT/portus_production (MariaDB/MySQL)
    /// or postgres://USER:PASSWORD@HOST:PORT/portus_production. Read only.
    #[arg(long, env = "PORTUS_IMPORT_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database: String,
    /// Print the report without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Import into a store that already holds other accounts or repositories. Existing rows
    /// are kept as they are; an account, team or namespace whose name is taken here fails the
    /// import (an import never hands rights to a local account of the same name).
    #[arg(long)]
    pub merge: bool,
    /// Portus authenticated against LDAP: no password is imported, LDAP checks every sign-in
    /// (Portus kept a copy of each LDAP password, which would outlive a change in LDAP).
    #[arg(long)]
    pub ldap: bool,
}

pub(super) async fn run(paths: &DataPaths, command: ImportCommand) -> Result<(), Error> {
    let ImportCommand::Portus(args) = command;
    let snapshot = portus_import::read(&args.database).await?;
    let store = app::open_store(paths).await?;
    let bar = progress_bar("importing");
    let mut progress = |p: Progress| bar.update(p.done as usize, p.total as usize);
    let report = portus_import::import(
        store.as_ref(),
        &snapshot,
        Options::new(portus_import::source_name(&args.database))
            .dry_run(args.dry_run)
            .merge(args.merge)
            .ldap(args.ldap),
        &mut progress,
    )
    .await;
    bar.finish();
    let report = report?;
    print!("{report}");
    if args.dry_run {
        println!("\ndry run: nothing was written");
    } else {
        println!("\nimport complete");
    }
    Ok(())
}
