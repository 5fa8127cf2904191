//! `portus token ...`: application tokens.

use clap::Subcommand;
use portus_auth::password::{APP_TOKEN_PREFIX, generate_secret};
use portus_core::ops;

use super::{CLI_ACTOR, find_user};
use crate::Error;
use crate::app::{self, DataPaths};

/// `portus token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an application token; it is printed once, alone on the last line.
    Create {
        /// Owner's user name.
        user: String,
        /// Label, unique per user.
        #[arg(long)]
        name: String,
    },
}

pub(super) async fn run(paths: &DataPaths, command: TokenCommand) -> Result<(), Error> {
    let TokenCommand::Create { user, name } = command;
    let store = app::open_store(paths).await?;
    let owner = find_user(store.as_ref(), &user).await?;
    let secret = generate_secret(APP_TOKEN_PREFIX)?;
    ops::tokens::create(store.as_ref(), Some(CLI_ACTOR), &owner, &name, &secret.digest).await?;
    println!("Created application token '{name}' for {user}. It is shown only once:");
    println!("{}", secret.plain.expose());
    Ok(())
}
