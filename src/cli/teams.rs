//! `portus team ...`: create teams and manage their members.

use clap::Subcommand;
use portus_core::model::Role;
use portus_core::ops;

use super::{CLI_ACTOR, find_user, find_visible_team};
use crate::Error;
use crate::app::{self, DataPaths};

/// `portus team ...`
#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Create a team with its first owner.
    Create {
        /// Team name.
        name: String,
        /// User name of the first owner.
        #[arg(long)]
        owner: String,
        /// Description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Add a member to a team, or change a member's role.
    AddMember {
        /// Team name.
        team: String,
        /// User name.
        user: String,
        /// viewer, contributor or owner.
        #[arg(long)]
        role: Role,
    },
}

pub(super) async fn run(paths: &DataPaths, command: TeamCommand) -> Result<(), Error> {
    let store = app::open_store(paths).await?;
    match command {
        TeamCommand::Create {
            name,
            owner,
            description,
        } => {
            let owner = find_user(store.as_ref(), &owner).await?;
            ops::teams::create(store.as_ref(), Some(CLI_ACTOR), &name, &owner, description).await?;
            println!("Created team '{name}' owned by '{}'.", owner.username);
        }
        TeamCommand::AddMember { team, user, role } => {
            let found = find_visible_team(store.as_ref(), &team).await?;
            let member = find_user(store.as_ref(), &user).await?;
            let role = ops::teams::add_member(store.as_ref(), Some(CLI_ACTOR), &found, &member, role).await?;
            println!("'{user}' is now {role} of team '{team}'.");
        }
    }
    Ok(())
}
