//! `portus tag ...`: list and show recorded tags, delete a tag in the registry and the store.

use clap::Subcommand;

use super::backend::Backend;
use super::split_reference;
use super::views::{json, tag_details, tags_table};
use crate::Error;

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
    /// Show one tag.
    Show {
        /// `REPOSITORY:TAG`.
        reference: String,
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

pub(super) async fn run<B: Backend>(backend: &B, command: TagCommand) -> Result<(), Error> {
    match command {
        TagCommand::List {
            repository,
            json: as_json,
        } => {
            let tags = backend.tags(repository.as_deref()).await?;
            print!("{}", if as_json { json(&tags) + "\n" } else { tags_table(&tags) });
        }
        TagCommand::Show {
            reference,
            json: as_json,
        } => {
            let (repository, tag) = split_reference(&reference)?;
            let tag = backend.tag(repository, tag).await?;
            print!("{}", if as_json { json(&tag) + "\n" } else { tag_details(&tag) });
        }
        TagCommand::Delete {
            reference,
            with_siblings,
        } => {
            let (repository, tag) = split_reference(&reference)?;
            let deleted = backend.delete_tag(repository, tag, with_siblings).await?;
            println!(
                "Deleted {repository}@{} (tags: {}).",
                deleted.digest,
                deleted.tags.join(", ")
            );
        }
    }
    Ok(())
}
