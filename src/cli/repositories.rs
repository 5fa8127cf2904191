//! `portus repository ...`: list, show, describe and delete repositories.

use clap::Subcommand;

use super::backend::Backend;
use super::views::{json, repositories_table, repository_details};
use crate::Error;

/// `portus repository ...`
#[derive(Debug, Subcommand)]
pub enum RepositoryCommand {
    /// List repositories.
    List {
        /// Only this namespace's.
        #[arg(long)]
        namespace: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one repository.
    Show {
        /// Full name (`alice/app`).
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set a repository's description.
    Update {
        /// Full name (`alice/app`).
        name: String,
        /// New description.
        #[arg(long)]
        description: String,
    },
    /// Delete a repository: every manifest in the registry, then the repository here.
    Delete {
        /// Full name (`alice/app`).
        name: String,
    },
}

pub(super) async fn run<B: Backend>(backend: &B, command: RepositoryCommand) -> Result<(), Error> {
    match command {
        RepositoryCommand::List {
            namespace,
            json: as_json,
        } => {
            let mut repositories = backend.repositories().await?;
            if let Some(name) = namespace {
                let namespace = backend.namespace(&name).await?;
                repositories.retain(|r| r.namespace_id == namespace.id);
            }
            print!(
                "{}",
                if as_json {
                    json(&repositories) + "\n"
                } else {
                    repositories_table(&repositories)
                }
            );
        }
        RepositoryCommand::Show { name, json: as_json } => {
            let repository = backend.repository(&name).await?;
            print!(
                "{}",
                if as_json {
                    json(&repository) + "\n"
                } else {
                    repository_details(&repository)
                }
            );
        }
        RepositoryCommand::Update { name, description } => {
            backend.update_repository(&name, description).await?;
            println!("Updated repository '{name}'.");
        }
        RepositoryCommand::Delete { name } => {
            backend.delete_repository(&name).await?;
            println!("Deleted repository '{name}'.");
        }
    }
    Ok(())
}
