//! `portus token ...`: list, create and revoke application tokens.

use clap::Subcommand;

use super::backend::{Backend, TokenRef};
use super::views::{json, tokens_table};
use crate::Error;

/// `portus token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// List a user's application tokens (never their secrets).
    List {
        /// Owner's user name.
        user: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create an application token; it is printed once, alone on the last line.
    Create {
        /// Owner's user name.
        user: String,
        /// Label, unique per user.
        #[arg(long)]
        name: String,
    },
    /// Revoke an application token (and the refresh tokens obtained with it).
    Revoke {
        /// Owner's user name.
        user: String,
        /// The token's label.
        #[arg(long, required_unless_present = "id", conflicts_with = "id")]
        name: Option<String>,
        /// The token's id (as `token list` shows it).
        #[arg(long)]
        id: Option<i64>,
    },
}

pub(super) async fn run<B: Backend>(backend: &B, command: TokenCommand) -> Result<(), Error> {
    match command {
        TokenCommand::List { user, json: as_json } => {
            let tokens = backend.tokens(&user).await?;
            print!(
                "{}",
                if as_json {
                    json(&tokens) + "\n"
                } else {
                    tokens_table(&tokens)
                }
            );
        }
        TokenCommand::Create { user, name } => {
            let (_, secret) = backend.create_token(&user, &name).await?;
            println!("Created application token '{name}' for {user}. It is shown only once:");
            println!("{}", secret.expose());
        }
        TokenCommand::Revoke { user, name, id } => {
            let token = match (name, id) {
                (Some(name), _) => TokenRef::Name(name),
                (None, Some(id)) => TokenRef::Id(id),
                (None, None) => return Err(Error::Usage("give --name or --id".into())),
            };
            let revoked = backend.revoke_token(&user, &token).await?;
            println!(
                "Revoked application token '{}' (id {}) of {user}.",
                revoked.application, revoked.id
            );
        }
    }
    Ok(())
}
