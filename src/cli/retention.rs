//! `portus retention`: apply the `[retention]` rules once, or print what they would remove.

use clap::Args;
use portus_core::ops::retention;

use super::registry_of;
use crate::Error;
use crate::app::{self, DataPaths};
use crate::config::Config;

/// Arguments of `portus retention`.
#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// Print the plan without changing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the plan (and, when applied, the report) as JSON.
    #[arg(long)]
    pub json: bool,
}

pub(super) async fn run(config: &Config, paths: &DataPaths, args: RetentionArgs) -> Result<(), Error> {
    let rules = config.retention.rules()?;
    if rules.is_empty() {
        return Err(Error::Config(
            "no retention rule is configured ([[retention.rules]] in portus.toml)".into(),
        ));
    }
    let app = app::build(config, paths).await?;
    let registry = registry_of(&app)?;
    let plan = retention::plan(app.store.as_ref(), registry.as_ref(), &rules, chrono::Utc::now()).await?;
    if args.dry_run {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&plan).expect("plans serialize"));
        } else {
            println!("{plan}");
            println!("dry run: nothing was changed");
        }
        return Ok(());
    }
    let report = retention::apply(app.store.as_ref(), registry.as_ref(), &plan, None).await?;
    if args.json {
        let both = serde_json::json!({ "plan": plan, "report": report });
        println!("{}", serde_json::to_string_pretty(&both).expect("reports serialize"));
        return Ok(());
    }
    println!("{plan}");
    for tag in &report.removed {
        println!("removed {tag}");
    }
    for (tag, reason) in &report.skipped {
        println!("skipped {tag}: {reason}");
    }
    println!(
        "retention: {} tags removed, {} images deleted, {} skipped, {} repositories not listed",
        report.removed.len(),
        report.deleted_manifests.len(),
        report.skipped.len(),
        plan.not_listed.len()
    );
    Ok(())
}

/// Runs the rules every `interval` in `portus serve`, logging what each run did; a run that
/// fails (the registry is down) changes nothing and the next one tries again. Ends when `stop`
/// says so: at once between runs, after the run in progress otherwise.
pub(super) fn spawn_periodic(
    store: std::sync::Arc<dyn portus_core::PolicyStore>,
    registry: std::sync::Arc<dyn portus_core::RegistryClient>,
    rules: retention::RetentionRules,
    interval: std::time::Duration,
    mut stop: portus_scan::stop::Stop,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            // Between passes it stops at once; a pass in progress is finished first.
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = portus_scan::stop::requested(&mut stop) => return,
            }
            let plan = match retention::plan(store.as_ref(), registry.as_ref(), &rules, chrono::Utc::now()).await {
                Ok(plan) => plan,
                Err(e) => {
                    tracing::warn!(error = %e, "retention: planning failed; nothing removed");
                    continue;
                }
            };
            for (repository, reason) in &plan.not_listed {
                tracing::warn!(%repository, %reason, "retention: not listed completely; nothing of it removed");
            }
            if plan.removed_tags() == 0 {
                tracing::debug!("retention: nothing expired");
                continue;
            }
            match retention::apply(store.as_ref(), registry.as_ref(), &plan, None).await {
                Ok(report) => tracing::info!(
                    removed = report.removed.len(),
                    images_deleted = report.deleted_manifests.len(),
                    skipped = report.skipped.len(),
                    "retention applied"
                ),
                Err(e) => tracing::warn!(error = %e, "retention: stopped by an error; what was done is recorded"),
            }
        }
    })
}
