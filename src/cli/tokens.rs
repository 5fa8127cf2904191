//! `portus token ...`: list, create and revoke application tokens.

use clap::Subcommand;

use super::backend::{Backend, TokenRef};
use super::views::{json, tokens_table};
use crate::Error;
use portus_core::model::{TokenLimits, TokenScope};

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
        /// Limit the token to repositories and actions, `PATTERN:ACTIONS` (repeatable): PATTERN
        /// is a repository, `NAMESPACE/*` or `*`; ACTIONS are `pull`, `push`, `delete` or `*`,
        /// comma-separated. The registry grants what both the owner and the scope allow; a
        /// scoped token reaches neither the REST API nor the web pages.
        #[arg(long = "scope", value_name = "PATTERN:ACTIONS")]
        scopes: Vec<String>,
        /// Expire the token after this long: a number and a unit, `m`, `h` or `d` (`30d`).
        #[arg(long, value_name = "DURATION", value_parser = parse_lifetime)]
        expires_in: Option<chrono::Duration>,
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

/// A lifetime such as `90m`, `12h` or `30d` (1 minute to 10 years).
fn parse_lifetime(text: &str) -> Result<chrono::Duration, String> {
    let usage = || format!("'{text}': give a number and a unit, m, h or d (such as 30d)");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(usage)?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| usage())?;
    let minutes = match unit {
        "m" => n,
        "h" => n.saturating_mul(60),
        "d" => n.saturating_mul(24 * 60),
        _ => return Err(usage()),
    };
    if !(1..=10 * 366 * 24 * 60).contains(&minutes) {
        return Err(format!("'{text}': from 1 minute to 10 years"));
    }
    Ok(chrono::Duration::minutes(minutes))
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
        TokenCommand::Create {
            user,
            name,
            scopes,
            expires_in,
        } => {
            let limits = TokenLimits {
                expires_at: expires_in.map(|d| portus_core::model::now() + d),
                scope: (!scopes.is_empty())
                    .then(|| TokenScope::parse(&scopes))
                    .transpose()
                    .map_err(|e| Error::Usage(e.to_string()))?,
            };
            let (token, secret) = backend.create_token(&user, &name, &limits).await?;
            println!("Created application token '{name}' for {user}. It is shown only once:");
            if let Some(at) = token.expires_at {
                eprintln!(
                    "It expires at {}.",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
            }
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
