//! `portus namespace ...`: create namespaces owned by teams.

use clap::Subcommand;
use portus_core::model::{NewNamespace, Visibility};
use portus_core::ops;

use super::{CLI_ACTOR, find_visible_team};
use crate::Error;
use crate::app::{self, DataPaths};

/// `portus namespace ...`
#[derive(Debug, Subcommand)]
pub enum NamespaceCommand {
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
}

pub(super) async fn run(paths: &DataPaths, command: NamespaceCommand) -> Result<(), Error> {
    let NamespaceCommand::Create {
        name,
        team,
        visibility,
        description,
    } = command;
    let store = app::open_store(paths).await?;
    let team = find_visible_team(store.as_ref(), &team).await?;
    let new = NewNamespace {
        name: name.clone(),
        team_id: team.id,
        visibility,
        description,
    };
    ops::namespaces::create(store.as_ref(), Some(CLI_ACTOR), new, &team).await?;
    println!("Created {visibility} namespace '{name}' owned by team '{}'.", team.name);
    Ok(())
}
