//! `portus tag ...`: list recorded tags, delete a tag in the registry and the store.

use clap::Subcommand;
use portus_core::prelude::*;

use super::{CLI_ACTOR, registry_of, split_reference};
use crate::Error;
use crate::app::{self, DataPaths};
use crate::config::Config;

/// `portus tag ...`
#[derive(Debug, Subcommand)]
pub enum TagCommand {
    /// List recorded tags.
    List {
        /// Only this repository.
        repository: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a tag in the registry (by its manifest digest) and in the store.
    Delete {
        /// `REPOSITORY:TAG`.
        reference: String,
        /// Also delete the other tags that point at the same manifest (the registry deletes
        /// manifests, and with them every tag of that digest).
        #[arg(long)]
        with_siblings: bool,
    },
}

pub(super) async fn run(config: &Config, paths: &DataPaths, command: TagCommand) -> Result<(), Error> {
    match command {
        TagCommand::List { repository, json } => {
            let store = app::open_store(paths).await?;
            let tags = store.tags(repository.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tags).expect("tags serialize"));
            } else {
                for t in tags {
                    println!(
                        "{}:{}  {}  {}",
                        t.repository, t.name, t.manifest.digest, t.manifest.media_type
                    );
                }
            }
            Ok(())
        }
        TagCommand::Delete {
            reference,
            with_siblings,
        } => {
            let (repository, tag) = split_reference(&reference)?;
            if !config.policy.delete_enabled {
                return Err(Error::Usage(
                    "deletion is disabled (policy.delete_enabled = false)".into(),
                ));
            }
            let app = app::build(config, paths).await?;
            let registry = registry_of(&app)?;
            let store = app.store.as_ref();
            let deleted = portus_core::ops::images::delete_tag(
                store,
                registry.as_ref(),
                repository,
                tag,
                with_siblings,
                Some(CLI_ACTOR),
            )
            .await
            .map_err(|e| match e.kind() {
                portus_core::ErrorKind::NotFound => Error::Usage(format!("no tag {reference}")),
                portus_core::ErrorKind::Conflict => {
                    Error::Usage(format!("{e}. Re-run with --with-siblings to delete them all"))
                }
                _ => Error::Core(e),
            })?;
            let names: Vec<&str> = deleted.iter().map(|t| t.name.as_str()).collect();
            let digest = deleted.first().map(|t| t.manifest.digest.as_str()).unwrap_or_default();
            println!("Deleted {repository}@{digest} (tags: {}).", names.join(", "));
            Ok(())
        }
    }
}
