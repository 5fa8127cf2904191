//! The `portus` command-line program: `serve`, `config registry` and admin commands that work
//! on the same store as the server.
//!
//! This module holds the command line itself and its dispatch; each command group has its own
//! module (`serve`, `config`, `users`, `teams`, `namespaces`, `tokens`, `tags`, `sync`, `scan`,
//! `activity`). Every write goes through `portus_core::ops`, recorded as done by `cli`.

mod activity;
mod config;
mod namespaces;
mod progress;
mod scan;
mod serve;
mod sync;
mod tags;
mod teams;
mod tokens;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use portus_core::model::{Team, User};
use portus_core::{PolicyStore, RegistryClient};

pub use activity::ActivityArgs;
pub use config::{ConfigCommand, ImportPortusArgs};
pub use namespaces::NamespaceCommand;
pub use scan::ScanArgs;
pub use sync::SyncArgs;
pub use tags::TagCommand;
pub use teams::TeamCommand;
pub use tokens::TokenCommand;
pub use users::{CreateUser, UserCommand};

use crate::Error;
use crate::app::{self, DataPaths};
use crate::config::Config;

/// Registry authorization server: Docker token auth for a Distribution registry.
#[derive(Debug, Parser)]
#[command(name = "portus", version, about, propagate_version = true)]
pub struct Cli {
    /// Directory holding the SQLite database, the signing key and secrets.
    #[arg(long, global = true, env = "PORTUS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML configuration file.
    #[arg(long, global = true, env = "PORTUS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the token server.
    Serve,
    /// Print configuration for other components, or convert a Portus configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage teams.
    #[command(subcommand)]
    Team(TeamCommand),
    /// Manage namespaces.
    #[command(subcommand)]
    Namespace(NamespaceCommand),
    /// Manage application tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// List or delete tags.
    #[command(subcommand)]
    Tag(TagCommand),
    /// Reconcile the store with the registry's catalog.
    Sync(SyncArgs),
    /// Show the activity (audit) log, newest first.
    Activity(ActivityArgs),
    /// Scan a tag with every configured security backend and print the merged findings.
    Scan(ScanArgs),
}

/// Runs the program with the process arguments; returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PORTUS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs one parsed command.
pub async fn run(cli: Cli) -> Result<(), Error> {
    // The converter needs neither this program's configuration nor its data directory.
    if let Command::Config(ConfigCommand::ImportPortus(args)) = &cli.command {
        return config::import_portus(args);
    }
    let config = Config::load(cli.config.as_deref(), std::env::vars())?;
    let paths = DataPaths::resolve(&config, cli.data_dir.as_deref())?;
    match cli.command {
        Command::Serve => serve::run(&config, &paths).await,
        Command::Config(ConfigCommand::Registry) => {
            print!("{}", app::registry_config_yaml(&config, &paths)?);
            Ok(())
        }
        Command::Config(ConfigCommand::ImportPortus(args)) => config::import_portus(&args),
        Command::User(command) => users::run(&config, &paths, command).await,
        Command::Team(command) => teams::run(&paths, command).await,
        Command::Namespace(command) => namespaces::run(&paths, command).await,
        Command::Token(command) => tokens::run(&paths, command).await,
        Command::Tag(command) => tags::run(&config, &paths, command).await,
        Command::Sync(args) => sync::run(&config, &paths, args).await,
        Command::Activity(args) => activity::run(&paths, args).await,
        Command::Scan(args) => scan::run(&config, &paths, args).await,
    }
}

/// The actor recorded for changes made with the command-line program.
const CLI_ACTOR: &str = "cli";

fn registry_of(app: &app::App) -> Result<Arc<dyn RegistryClient>, Error> {
    app.registry
        .clone()
        .ok_or_else(|| Error::Usage("registry.url is not configured: set it to the registry's API URL".into()))
}

async fn find_user(store: &dyn PolicyStore, name: &str) -> Result<User, Error> {
    store
        .user_by_name(name)
        .await?
        .ok_or_else(|| Error::Usage(format!("no user named '{name}'")))
}

async fn find_visible_team(store: &dyn PolicyStore, name: &str) -> Result<Team, Error> {
    match store.team_by_name(name).await? {
        Some(team) if team.hidden => Err(Error::Usage(format!(
            "team '{name}' belongs to a personal namespace and cannot be used here"
        ))),
        Some(team) => Ok(team),
        None => Err(Error::Usage(format!("no team named '{name}'"))),
    }
}

fn split_reference(reference: &str) -> Result<(&str, &str), Error> {
    reference
        .rsplit_once(':')
        .filter(|(r, t)| !r.is_empty() && !t.is_empty() && !t.contains('/'))
        .ok_or_else(|| Error::Usage(format!("'{reference}' is not REPOSITORY:TAG")))
}
