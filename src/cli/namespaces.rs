//! `portus namespace ...`: list, show, create, change and delete namespaces.

use clap::Subcommand;
use portus_core::model::Visibility;

use super::backend::{Backend, NamespaceChanges, NewNamespaceInput};
use super::views::{json, namespace_details, namespaces_table};
use crate::Error;

/// `portus namespace ...`
#[derive(Debug, Subcommand)]
pub enum NamespaceCommand {
    /// List namespaces (the global one is `(global)`).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one namespace.
    Show {
        /// Namespace name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a namespace owned by a team.
    Create {
        /// Namespace name (first path component of repository names).
        name: String,
        /// Owning team.
        #[arg(long)]
        team: String,
        /// private, protected or public.
        #[arg(long, default_value = "private")]
        visibility: Visibility,
        /// Description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Change a namespace's description, owning team or visibility.
    Update {
        /// Namespace name.
        name: String,
        /// New description.
        #[arg(long)]
        description: Option<String>,
        /// Hand the namespace to this team.
        #[arg(long)]
        team: Option<String>,
        /// private, protected or public.
        #[arg(long)]
        visibility: Option<Visibility>,
    },
    /// Delete a namespace.
    Delete {
        /// Namespace name.
        name: String,
    },
}

pub(super) async fn run<B: Backend>(backend: &B, command: NamespaceCommand) -> Result<(), Error> {
    match command {
        NamespaceCommand::List { json: as_json } => {
            let namespaces = backend.namespaces().await?;
            print!(
                "{}",
                if as_json {
                    json(&namespaces) + "\n"
                } else {
                    namespaces_table(&namespaces)
                }
            );
        }
        NamespaceCommand::Show { name, json: as_json } => {
            let namespace = backend.namespace(&name).await?;
            print!(
                "{}",
                if as_json {
                    json(&namespace) + "\n"
                } else {
                    namespace_details(&namespace)
                }
            );
        }
        NamespaceCommand::Create {
            name,
            team,
            visibility,
            description,
        } => {
            let new = NewNamespaceInput {
                name: name.clone(),
                team: team.clone(),
                visibility,
                description,
            };
            backend.create_namespace(new).await?;
            println!("Created {visibility} namespace '{name}' owned by team '{team}'.");
        }
        NamespaceCommand::Update {
            name,
            description,
            team,
            visibility,
        } => {
            if description.is_none() && team.is_none() && visibility.is_none() {
                return Err(Error::Usage(
                    "nothing to change: give --description, --team or --visibility".into(),
                ));
            }
            let changes = NamespaceChanges {
                description,
                team,
                visibility,
            };
            let namespace = backend.update_namespace(&name, changes).await?;
            println!(
                "Updated namespace '{name}': {}, team {}.",
                namespace.visibility,
                namespace.team.as_deref().unwrap_or("-")
            );
        }
        NamespaceCommand::Delete { name } => {
            backend.delete_namespace(&name).await?;
            println!("Deleted namespace '{name}'.");
        }
    }
    Ok(())
}
