//! `portus activity`: the activity (audit) log, newest first.

use clap::Args;
use portus_core::model::ActivityFilter;
use portus_core::prelude::*;

use crate::Error;
use crate::app::{self, DataPaths};

/// Arguments of `portus activity`.
#[derive(Debug, Args)]
pub struct ActivityArgs {
    /// Only this actor's.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only this action (`tag.push`) or family (`tag.`).
    #[arg(long)]
    pub action: Option<String>,
    /// Only targets starting with this text (`alice/`).
    #[arg(long)]
    pub target: Option<String>,
    /// Only since this time (RFC 3339, e.g. 2026-11-24T00:00:00Z).
    #[arg(long)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub(super) async fn run(paths: &DataPaths, args: ActivityArgs) -> Result<(), Error> {
    let store = app::open_store(paths).await?;
    let filter = ActivityFilter {
        actor: args.actor,
        action: args.action,
        target_prefix: args.target,
        since: args.since,
        limit: args.limit.max(1),
    };
    let activities = store.activities(&filter).await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&activities).expect("activities serialize")
        );
        return Ok(());
    }
    for a in activities {
        println!(
            "{}  {:<10} {:<22} {}{}",
            a.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            a.actor.as_deref().unwrap_or("-"),
            a.action,
            a.target,
            a.details.map(|d| format!("  ({d})")).unwrap_or_default()
        );
    }
    Ok(())
}
