//! The `portus` command-line program: `serve`, `config registry` and admin commands that work
//! on the same store as the server.
//!
//! This module holds the command line itself and its dispatch; each command group has its own
//! module (`init`, `serve`, `config`, `users`, `teams`, `namespaces`, `tokens`, `repositories`, `tags`, `sync`,
//! `scan`, `activity`, `ldap`, `doctor`). Every write goes through `portus_core::ops`, recorded as done by `cli`.
//!
//! The resource commands (users, teams, members, namespaces, tokens, repositories, tags) are
//! written once against `backend::Backend`: without `--server` they act on the local store,
//! with `--server URL` on a running server through its REST API. `views` holds what they print
//! (`--json`, or an aligned table from `table`).

mod activity;
mod backend;
mod config;
mod doctor;
#[cfg(feature = "import")]
mod import;
mod init;
#[cfg(feature = "ldap")]
mod ldap;
mod listener;
mod logging;
mod maintenance;
mod namespaces;
mod password;
mod progress;
mod repositories;
mod retention;
mod scan;
mod serve;
mod sync;
mod table;
mod tags;
mod teams;
mod tokens;
mod users;
mod views;
mod webhooks;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use portus_core::model::{Team, User};
use portus_core::traits::Secret;
use portus_core::{PolicyStore, RegistryClient};

pub use activity::ActivityArgs;
pub use config::{ConfigCommand, ImportPortusArgs};
pub use doctor::DoctorArgs;
#[cfg(feature = "import")]
pub use import::ImportCommand;
pub use init::InitArgs;
#[cfg(feature = "ldap")]
pub use ldap::LdapCommand;
pub use maintenance::MaintenanceCommand;
pub use namespaces::NamespaceCommand;
pub use repositories::RepositoryCommand;
pub use retention::RetentionArgs;
pub use scan::ScanArgs;
pub use sync::SyncArgs;
pub use tags::TagCommand;
pub use teams::{MemberCommand, TeamCommand};
pub use tokens::TokenCommand;
pub use users::{CreateUser, IdentityArgs, UpdateUser, UserCommand};
pub use webhooks::{SettingsArgs, WebhookCommand};

use crate::Error;
use crate::app::{self, DataPaths};
use crate::config::Config;

/// The portus server and its administration commands: Docker token authentication for a
/// Distribution registry, with users, teams, namespaces, security scans and web pages.
///
/// Start with `portus serve`; the other commands work on the same installation (or on a running
/// server with --server).
#[derive(Debug, Parser)]
#[command(name = "portus", version, propagate_version = true)]
pub struct Cli {
    /// Directory holding the SQLite database, the signing key and secrets.
    #[arg(long, global = true, env = "PORTUS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML configuration file; default `portus.toml` in the current directory if there is one
    /// (`portus init` writes it there).
    #[arg(long, global = true, env = "PORTUS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Act on the portus server at URL through its REST API instead of on the local store
    /// (user, team, namespace, token, repository, tag and webhook commands).
    #[arg(long, global = true, value_name = "URL")]
    pub server: Option<String>,
    /// Application token for --server: TOKEN is sent as `Authorization: Bearer TOKEN`,
    /// USER:TOKEN as Portus' `Portus-Auth: USER:TOKEN`.
    #[arg(
        long,
        global = true,
        env = "PORTUS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        value_parser = parse_secret
    )]
    pub token: Option<Secret>,
    /// Create a new installation (store, signing key) when there is none yet. Without it only
    /// `init`, `serve`, `config registry` and `import` create one: a command run from the wrong
    /// directory fails instead of starting a second, empty installation.
    #[arg(long, global = true)]
    pub init: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set up a new installation: write a commented portus.toml (the defaults, the registry's
    /// URL and the demonstration scanner), create the data directory, signing key and webhook
    /// secret, and print a complete config.yml for the registry.
    Init(InitArgs),
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
    /// List, show, describe or delete repositories.
    #[command(subcommand, alias = "repo")]
    Repository(RepositoryCommand),
    /// List, show or delete tags.
    #[command(subcommand)]
    Tag(TagCommand),
    /// Manage a namespace's outgoing webhooks and their deliveries.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Check the registry set-up (realm, service, issuer, certificate bundle, notifications,
    /// service account, clock, scanners) and print each problem with its fix; exits non-zero
    /// when something is wrong.
    Doctor(DoctorArgs),
    /// Reconcile the store with the registry's catalog.
    Sync(SyncArgs),
    /// Remove the tags the `[retention]` rules expire (`--dry-run`: print the plan only).
    Retention(RetentionArgs),
    /// Show the activity (audit) log, newest first.
    Activity(ActivityArgs),
    /// Scan a tag with every configured security backend and print the merged findings.
    Scan(ScanArgs),
    /// Repair what the store derives from its records.
    #[command(subcommand)]
    Maintenance(MaintenanceCommand),
    /// LDAP: run the group sync now.
    #[cfg(feature = "ldap")]
    #[command(subcommand)]
    Ldap(LdapCommand),
    /// Bring another installation's data into the store.
    #[cfg(feature = "import")]
    #[command(subcommand)]
    Import(ImportCommand),
}

/// Runs the program with the process arguments; returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init();
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
            let mut shown = e.to_string();
            eprintln!("error: {shown}");
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                // Messages that already include their cause (`{path}: {source}`) say it once.
                let text = cause.to_string();
                if !shown.contains(&text) {
                    eprintln!("  caused by: {text}");
                }
                shown = text;
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn parse_secret(value: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(value))
}

/// Runs `$body` with `$backend` bound to the REST API of `--server`, or else to the local
/// store of the configuration: each resource command is written once.
macro_rules! on_backend {
    ($target:ident, |$backend:ident| $body:expr) => {
        match &$target.server {
            Some(server) => {
                let $backend = &backend::Rest::new(server, $target.token.as_ref())?;
                $body.await
            }
            None => {
                let (config, paths) = $target.local(Use::Manage)?;
                let $backend = &backend::Local::open(&config, &paths).await?;
                $body.await
            }
        }
    };
}

/// Where a command acts: the global options besides the command itself.
struct Target {
    data_dir: Option<PathBuf>,
    config: Option<PathBuf>,
    server: Option<String>,
    token: Option<Secret>,
    init: bool,
}

/// How a command uses this machine's installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    /// `serve`: creates the installation on first start, and logs where it is.
    Serve,
    /// `import` (fills a new installation or merges into one) and `config registry` (the
    /// first set-up step, which generates the signing key): may create the installation.
    Setup,
    /// Every other command: works on an installation that exists.
    Manage,
}

/// Whether a command may go on with the store where it is: management commands do not create
/// a store unless `--init` is given.
fn check_store(usage: Use, exists: bool, init: bool, dir: &std::path::Path) -> Result<(), Error> {
    if exists || init || usage != Use::Manage {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "no portus installation in {}: run the command where `portus serve` runs, or point at its \
         installation with --data-dir (PORTUS_DATA_DIR) or --config (PORTUS_CONFIG); add --init to \
         create a new one there",
        dir.display()
    )))
}

impl Target {
    /// The configuration and data paths, for commands acting on this machine's store; says on
    /// stderr which store that is (`serve` logs it instead).
    fn local(&self, usage: Use) -> Result<(Config, DataPaths), Error> {
        let config_path = self.config_file();
        if self.config.is_none() && config_path.is_some() {
            // Said because nothing on the command line names it.
            match usage {
                Use::Serve => tracing::info!(file = init::DEFAULT_CONFIG_FILE, "using the configuration"),
                _ => eprintln!("portus: using the configuration {}", init::DEFAULT_CONFIG_FILE),
            }
        }
        let config = Config::load(config_path.as_deref(), std::env::vars())?;
        logging::set_format(config.log.format);
        let data_dir = self.data_dir.as_deref();
        check_store(
            usage,
            DataPaths::store_exists(&config, data_dir),
            self.init,
            &DataPaths::planned_dir(&config, data_dir),
        )?;
        let paths = DataPaths::resolve(&config, data_dir)?;
        if usage != Use::Serve {
            eprintln!("portus: using the store {}", app::store_label(&paths.database_url));
        }
        Ok((config, paths))
    }

    /// The configuration file: `--config` (`PORTUS_CONFIG`), else `portus.toml` in the current
    /// directory when there is one, as `portus init` writes it, so that the commands run where
    /// the installation is need no option.
    fn config_file(&self) -> Option<PathBuf> {
        self.config.clone().or_else(|| {
            let default = std::path::Path::new(init::DEFAULT_CONFIG_FILE);
            default.is_file().then(|| default.to_path_buf())
        })
    }

    /// [`Target::local`] for the commands that only work on this machine.
    fn local_only(&self, usage: Use) -> Result<(Config, DataPaths), Error> {
        if self.server.is_some() {
            return Err(Error::Usage(
                "--server applies to the user, team, namespace, token, repository, tag and webhook commands".into(),
            ));
        }
        self.local(usage)
    }
}

/// Runs one parsed command.
pub async fn run(cli: Cli) -> Result<(), Error> {
    // The converter needs neither this program's configuration nor its data directory.
    if let Command::Config(ConfigCommand::ImportPortus(args)) = &cli.command {
        return config::import_portus(args);
    }
    let target = Target {
        data_dir: cli.data_dir,
        config: cli.config,
        server: cli.server,
        token: cli.token,
        init: cli.init,
    };
    match cli.command {
        Command::User(command) => on_backend!(target, |b| users::run(b, command)),
        Command::Team(command) => on_backend!(target, |b| teams::run(b, command)),
        Command::Namespace(command) => on_backend!(target, |b| namespaces::run(b, command)),
        Command::Token(command) => on_backend!(target, |b| tokens::run(b, command)),
        Command::Repository(command) => on_backend!(target, |b| repositories::run(b, command)),
        Command::Tag(command) => on_backend!(target, |b| tags::run(b, command)),
        Command::Webhook(command) => on_backend!(target, |b| webhooks::run(b, command)),
        Command::Serve => {
            let (config, paths) = target.local_only(Use::Serve)?;
            serve::run(&config, &paths).await
        }
        Command::Config(ConfigCommand::Registry) => {
            let (config, paths) = target.local_only(Use::Setup)?;
            if let Some(warning) = config.unreachable_public_url() {
                eprintln!("warning: {warning}");
            }
            print!("{}", app::registry_config_yaml(&config, &paths)?);
            Ok(())
        }
        Command::Doctor(args) => {
            let (config, paths) = target.local_only(Use::Manage)?;
            doctor::run(&config, &paths, args).await
        }
        Command::Sync(args) => {
            let (config, paths) = target.local_only(Use::Manage)?;
            sync::run(&config, &paths, args).await
        }
        Command::Retention(args) => {
            let (config, paths) = target.local_only(Use::Manage)?;
            retention::run(&config, &paths, args).await
        }
        Command::Activity(args) => match &target.server {
            Some(server) => activity::run_remote(&backend::Rest::new(server, target.token.as_ref())?, args).await,
            None => {
                let (_, paths) = target.local(Use::Manage)?;
                activity::run(&paths, args).await
            }
        },
        Command::Scan(args) => {
            let (config, paths) = target.local_only(Use::Manage)?;
            scan::run(&config, &paths, args).await
        }
        Command::Maintenance(command) => {
            let (config, paths) = target.local_only(Use::Manage)?;
            maintenance::run(&config, &paths, command).await
        }
        #[cfg(feature = "ldap")]
        Command::Ldap(command) => {
            let (config, paths) = target.local_only(Use::Manage)?;
            ldap::run(&config, &paths, command).await
        }
        #[cfg(feature = "import")]
        Command::Import(command) => {
            let (_, paths) = target.local_only(Use::Setup)?;
            import::run(&paths, command).await
        }
        Command::Config(ConfigCommand::ImportPortus(args)) => config::import_portus(&args),
        Command::Init(args) => {
            if target.server.is_some() {
                return Err(Error::Usage(
                    "portus init sets up this machine; it takes no --server".into(),
                ));
            }
            init::run(target.config.as_deref(), target.data_dir.as_deref(), &args)
        }
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
