//! `portus sync`: reconcile the store with the registry's catalog, once, with a dry run.

use clap::Args;
use portus_scan::sync;

use super::progress::progress_bar;
use super::registry_of;
use crate::Error;
use crate::app::{self, DataPaths};
use crate::config::Config;

/// Arguments of `portus sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// initial, update or update-delete (default: `sync.strategy`).
    #[arg(long)]
    pub strategy: Option<portus_scan::sync::SyncStrategy>,
    /// Print the plan without changing anything.
    #[arg(long)]
    pub dry_run: bool,
}

pub(super) async fn run(config: &Config, paths: &DataPaths, args: SyncArgs) -> Result<(), Error> {
    let app = app::build(config, paths).await?;
    let registry = registry_of(&app)?;
    let strategy = args.strategy.unwrap_or(config.sync.strategy);
    let bar = progress_bar("listing the registry");
    let progress = |done: usize, total: usize| bar.update(done, total);
    let plan = sync::plan(
        app.store.as_ref(),
        registry.as_ref(),
        strategy,
        config.sync.concurrency,
        &progress,
    )
    .await?;
    bar.finish();
    if args.dry_run {
        println!("{plan}");
        println!("dry run: nothing was changed");
        return Ok(());
    }
    let report = sync::apply(
        app.store.as_ref(),
        registry.as_ref(),
        &plan,
        config.sync.missing_namespaces,
    )
    .await?;
    println!(
        "sync ({strategy}): {} tags added, {} updated, {} deleted, {} repositories deleted, {} deletions skipped, {} problems",
        report.created,
        report.updated,
        report.deleted,
        report.repositories_deleted,
        report.deletions_skipped,
        plan.problems.len()
    );
    for problem in &plan.problems {
        println!("problem: {problem}");
    }
    Ok(())
}
