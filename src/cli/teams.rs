//! `portus team ...`: list, show, create, change and delete teams, and manage their members.

use clap::Subcommand;
use portus_core::model::Role;

use super::backend::{Backend, TeamChanges};
use super::views::{TeamWithMembers, json, members_table, team_details, teams_table};
use crate::Error;

/// `portus team ...`
#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// List teams (not the hidden teams of personal namespaces).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a team with its members.
    Show {
        /// Team name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
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
    /// Rename a team or change its description.
    Update {
        /// Team name.
        name: String,
        /// New name.
        #[arg(long = "name", value_name = "NEW_NAME")]
        new_name: Option<String>,
        /// New description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a team.
    Delete {
        /// Team name.
        name: String,
        /// Hand the team's namespaces to this team instead of deleting them (and their images).
        #[arg(long, value_name = "TEAM")]
        to: Option<String>,
    },
    /// Add a member to a team (the same as `team member add`).
    AddMember {
        /// Team name.
        team: String,
        /// User name.
        user: String,
        /// viewer, contributor or owner.
        #[arg(long)]
        role: Role,
    },
    /// List, add, change or remove a team's members.
    #[command(subcommand, alias = "members")]
    Member(MemberCommand),
}

/// `portus team member ...`
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// List a team's members and their roles.
    List {
        /// Team name.
        team: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a member (administrators always join as owners).
    Add {
        /// Team name.
        team: String,
        /// User name.
        user: String,
        /// viewer, contributor or owner.
        #[arg(long)]
        role: Role,
    },
    /// Change a member's role (a team keeps at least one owner).
    Update {
        /// Team name.
        team: String,
        /// User name.
        user: String,
        /// viewer, contributor or owner.
        #[arg(long)]
        role: Role,
    },
    /// Remove a member (the last owner stays).
    #[command(alias = "remove")]
    Delete {
        /// Team name.
        team: String,
        /// User name.
        user: String,
    },
}

pub(super) async fn run<B: Backend>(backend: &B, command: TeamCommand) -> Result<(), Error> {
    match command {
        TeamCommand::List { json: as_json } => {
            let teams = backend.teams().await?;
            print!(
                "{}",
                if as_json {
                    json(&teams) + "\n"
                } else {
                    teams_table(&teams)
                }
            );
        }
        TeamCommand::Show { name, json: as_json } => {
            let team = backend.team(&name).await?;
            let members = backend.members(&name).await?;
            let shown = TeamWithMembers { team, members };
            print!(
                "{}",
                if as_json {
                    json(&shown) + "\n"
                } else {
                    team_details(&shown)
                }
            );
        }
        TeamCommand::Create {
            name,
            owner,
            description,
        } => {
            backend.create_team(&name, &owner, description).await?;
            println!("Created team '{name}' owned by '{owner}'.");
        }
        TeamCommand::Update {
            name,
            new_name,
            description,
        } => {
            if new_name.is_none() && description.is_none() {
                return Err(Error::Usage("nothing to change: give --name or --description".into()));
            }
            let changes = TeamChanges {
                name: new_name,
                description,
            };
            let team = backend.update_team(&name, changes).await?;
            println!("Updated team '{}'.", team.name);
        }
        TeamCommand::Delete { name, to } => {
            backend.delete_team(&name, to.as_deref()).await?;
            match to {
                Some(heir) => println!("Deleted team '{name}'; its namespaces now belong to '{heir}'."),
                None => println!("Deleted team '{name}' and its namespaces."),
            }
        }
        TeamCommand::AddMember { team, user, role } | TeamCommand::Member(MemberCommand::Add { team, user, role }) => {
            let member = backend.add_member(&team, &user, role).await?;
            println!("'{user}' is now {} of team '{team}'.", member.role);
        }
        TeamCommand::Member(MemberCommand::List { team, json: as_json }) => {
            let members = backend.members(&team).await?;
            print!(
                "{}",
                if as_json {
                    json(&members) + "\n"
                } else {
                    members_table(&members)
                }
            );
        }
        TeamCommand::Member(MemberCommand::Update { team, user, role }) => {
            let member = backend.update_member(&team, &user, role).await?;
            println!("'{user}' is now {} of team '{team}'.", member.role);
        }
        TeamCommand::Member(MemberCommand::Delete { team, user }) => {
            backend.remove_member(&team, &user).await?;
            println!("Removed '{user}' from team '{team}'.");
        }
    }
    Ok(())
}
