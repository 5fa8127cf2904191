//! `portus maintenance`: repairs of what the store derives from its own records.

use clap::Subcommand;

use crate::Error;
use crate::app::{self, DataPaths};
use crate::config::Config;

/// `portus maintenance ...`.
#[derive(Debug, Subcommand)]
pub enum MaintenanceCommand {
    /// Recompute every repository's kept figures (tag count, latest push, security summary)
    /// from its tags and scan records, for the configured scanners, and say how many differed.
    RebuildSummaries,
}

pub(super) async fn run(config: &Config, paths: &DataPaths, command: MaintenanceCommand) -> Result<(), Error> {
    match command {
        MaintenanceCommand::RebuildSummaries => {
            let app = app::build(config, paths).await?;
            let names: Vec<String> = app.scanner.backend_names().into_iter().map(str::to_owned).collect();
            // A change of scanners rebuilds already; the explicit rebuild then finds nothing.
            app.store.set_scan_scope(&names).await?;
            let rebuilt = app.store.rebuild_summaries().await?;
            println!(
                "rebuilt the figures of {} repositories and {} scanned images ({} scanners: {}); \
                 {} repositories had wrong figures",
                rebuilt.repositories,
                rebuilt.digests,
                names.len(),
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                },
                rebuilt.corrected
            );
            Ok(())
        }
    }
}
