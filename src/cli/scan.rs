//! `portus scan`: scan a tag now, show stored results, or run one pass of the scan worker.

use clap::Args;
use portus_core::prelude::*;

use super::progress::progress_bar;
use super::{registry_of, split_reference};
use crate::Error;
use crate::app::{self, DataPaths};
use crate::config::Config;

/// Arguments of `portus scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// `REPOSITORY:TAG` (not with --all).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub reference: Option<String>,
    /// Run one scan pass over every recorded tag that needs scanning, storing the results.
    #[arg(long)]
    pub all: bool,
    /// Show the stored results of the background scans instead of scanning now.
    #[arg(long, conflicts_with = "all")]
    pub stored: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub(super) async fn run(config: &Config, paths: &DataPaths, args: ScanArgs) -> Result<(), Error> {
    use portus_scan::aggregate::merge_tag;

    let app = app::build(config, paths).await?;
    if let (false, Some(reference)) = (args.all, args.stored.then_some(()).and(args.reference.as_deref())) {
        // Stored results need no scanner: they are what earlier scans left.
        let (repository, tag) = split_reference(reference)?;
        let record = app
            .store
            .tag(repository, tag)
            .await?
            .ok_or_else(|| Error::Usage(format!("no tag {reference}")))?;
        let records = app.store.scan_records(Some(&record.manifest.digest)).await?;
        let security = portus_scan::worker::tag_security(&records, &app.scanner.backend_names());
        return print_security(reference, &security, args.json);
    }
    if !app.scanner.is_enabled() {
        return Err(Error::Usage(
            "scanning is off: configure a backend in the [security] section".into(),
        ));
    }
    let registry = registry_of(&app)?;
    if args.all {
        let worker = app::scan_worker(config, &app)?.expect("scanner and registry are configured");
        let bar = progress_bar("scanning");
        let report = worker.run_once(&|done, total| bar.update(done, total)).await?;
        bar.finish();
        println!(
            "scanned {} digests: {} backend scans done, {} pending, {} failed",
            report.digests, report.done, report.pending, report.failed
        );
        return Ok(());
    }
    let reference = args.reference.as_deref().expect("clap requires it without --all");
    let (repository, tag) = split_reference(reference)?;
    let base = config
        .registry
        .url
        .as_ref()
        .expect("registry_for checked it")
        .as_str()
        .to_owned();
    let scope = format!("repository:{repository}:pull");
    let token = app
        .state
        .tokens
        .service_account_token(&config.registry.service_account, &[scope])?;
    let (images, _) = portus_scan::worker::images_for(
        registry.as_ref(),
        &base,
        repository,
        tag,
        Some(format!("Bearer {token}")),
    )
    .await
    .map_err(|e| match e.kind() {
        // The registry's own words name a URL path; say what was asked for instead.
        portus_core::ErrorKind::NotFound => {
            Error::Usage(format!("the registry has no {reference} (no such repository or tag)"))
        }
        _ => e.into(),
    })?;
    let results = app.scanner.scan(&images).await;
    print_security(reference, &merge_tag(&results), args.json)
}

fn print_security(reference: &str, security: &portus_scan::aggregate::TagSecurity, json: bool) -> Result<(), Error> {
    use portus_scan::aggregate::TagScanStatus;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&security).expect("results serialize")
        );
    } else {
        println!("{reference}: {:?}", security.status);
        for (backend, state) in &security.backends {
            println!("  {backend}: {state}");
        }
        for v in &security.vulnerabilities {
            let packages: Vec<String> = v
                .packages
                .iter()
                .map(|(n, ver)| format!("{n} {}", ver.as_deref().unwrap_or("")))
                .collect();
            println!(
                "{:<10} {:<20} {:<30} fixed in: {:<15} found by: {}",
                v.severity.to_string(),
                v.id,
                packages.join(", ").trim(),
                if v.fixed_in.is_empty() {
                    "-".to_owned()
                } else {
                    v.fixed_in.join(", ")
                },
                v.found_by.join(", ")
            );
        }
        let counts: Vec<String> = security.counts.iter().rev().map(|(s, n)| format!("{n} {s}")).collect();
        println!(
            "{}",
            if counts.is_empty() {
                "no vulnerabilities found".to_owned()
            } else {
                counts.join(", ")
            }
        );
    }
    if security.status == TagScanStatus::Failed {
        return Err(Error::Usage(
            "at least one scanner failed: the result is incomplete".into(),
        ));
    }
    Ok(())
}
