//! `portus user ...`: create, disable and enable users.

use std::io::Read;
use std::path::Path;

use clap::{Args, Subcommand};
use portus_auth::password::hash_password;
use portus_core::model::{NamespaceRef, NewUser};
use portus_core::ops;
use portus_core::prelude::*;
use portus_core::traits::Secret;

use super::{CLI_ACTOR, find_user};
use crate::Error;
use crate::app::{self, DataPaths};
use crate::config::Config;

/// `portus user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (with a private personal namespace).
    Create(CreateUser),
    /// Disable a user: every login and token request is refused at once.
    Disable {
        /// User name.
        name: String,
    },
    /// Re-enable a disabled user.
    Enable {
        /// User name.
        name: String,
    },
}

/// Arguments of `portus user create`.
#[derive(Debug, Args)]
pub struct CreateUser {
    /// User name.
    pub name: String,
    /// Make the user an administrator.
    #[arg(long)]
    pub admin: bool,
    /// E-mail address.
    #[arg(long)]
    pub email: Option<String>,
    /// Read the password from standard input (without it the user can only use application
    /// tokens).
    #[arg(long)]
    pub password_stdin: bool,
}

fn read_password_from_stdin() -> Result<Secret, Error> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|source| Error::Io {
            path: Path::new("<stdin>").into(),
            source,
        })?;
    let password = input
        .strip_suffix('\n')
        .map(|s| s.strip_suffix('\r').unwrap_or(s))
        .unwrap_or(&input);
    if password.is_empty() {
        return Err(Error::Usage("--password-stdin: standard input was empty".into()));
    }
    Ok(Secret::new(password))
}

pub(super) async fn run(config: &Config, paths: &DataPaths, command: UserCommand) -> Result<(), Error> {
    match command {
        UserCommand::Create(args) => {
            // Read and hash before touching the store, so bad input changes nothing.
            let password_hash = if args.password_stdin {
                Some(hash_password(&read_password_from_stdin()?, config.auth.bcrypt_cost).await?)
            } else {
                None
            };
            let store = app::open_store(paths).await?;
            let new = NewUser {
                username: args.name.clone(),
                email: args.email,
                admin: args.admin,
                password_hash,
            };
            let user = ops::users::create(store.as_ref(), Some(CLI_ACTOR), new).await?;
            let namespace = match user.personal_namespace {
                Some(_) => store
                    .namespace_access(NamespaceRef::Named(&args.name), Some(user.id))
                    .await?
                    .map(|a| a.namespace.name),
                None => None,
            };
            println!(
                "Created {}user '{}'{}.",
                if user.admin { "administrator " } else { "" },
                user.username,
                namespace
                    .map(|n| format!(" with personal namespace '{n}'"))
                    .unwrap_or_default()
            );
            if !args.password_stdin {
                println!("No password was set: the user can log in with application tokens only.");
            }
            Ok(())
        }
        UserCommand::Disable { name } | UserCommand::Enable { name } if name.is_empty() => {
            Err(Error::Usage("user name must not be empty".into()))
        }
        UserCommand::Disable { name } => {
            let store = app::open_store(paths).await?;
            let user = find_user(store.as_ref(), &name).await?;
            ops::users::set_enabled(store.as_ref(), Some(CLI_ACTOR), &user, false).await?;
            println!("Disabled user '{name}'.");
            Ok(())
        }
        UserCommand::Enable { name } => {
            let store = app::open_store(paths).await?;
            let user = find_user(store.as_ref(), &name).await?;
            ops::users::set_enabled(store.as_ref(), Some(CLI_ACTOR), &user, true).await?;
            println!("Enabled user '{name}'.");
            Ok(())
        }
    }
}
