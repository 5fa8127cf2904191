//! The `portus` command-line program: `serve`, `config registry` and admin commands that work
//! on the same store as the server.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use portus_auth::password::{APP_TOKEN_PREFIX, generate_secret, hash_password};
use portus_core::PolicyStore;
use portus_core::model::{NamespaceRef, NewNamespace, NewUser, Role, Team, User, Visibility};
use portus_core::traits::Secret;
use tokio::net::TcpListener;

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
    /// Print configuration for other components.
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
}

/// `portus config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the `auth` and `notifications` sections to merge into the registry's config.yml.
    Registry,
}

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
    let config = Config::load(cli.config.as_deref(), std::env::vars())?;
    let paths = DataPaths::resolve(&config, cli.data_dir.as_deref())?;
    match cli.command {
        Command::Serve => serve(&config, &paths).await,
        Command::Config(ConfigCommand::Registry) => {
            print!("{}", app::registry_config_yaml(&config, &paths)?);
            Ok(())
        }
        Command::User(command) => user_command(&config, &paths, command).await,
        Command::Team(command) => team_command(&paths, command).await,
        Command::Namespace(command) => namespace_command(&paths, command).await,
        Command::Token(TokenCommand::Create { user, name }) => {
            let store = app::open_store(&paths).await?;
            let owner = find_user(store.as_ref(), &user).await?;
            let secret = generate_secret(APP_TOKEN_PREFIX)?;
            store.create_app_token(owner.id, &name, &secret.digest).await?;
            println!("Created application token '{name}' for {user}. It is shown only once:");
            println!("{}", secret.plain.expose());
            Ok(())
        }
    }
}

async fn serve(config: &Config, paths: &DataPaths) -> Result<(), Error> {
    let app = app::build(config, paths).await?;
    let listener = TcpListener::bind(config.listen).await.map_err(|source| Error::Io {
        path: PathBuf::from(config.listen.to_string()),
        source,
    })?;
    let key = app.state.tokens.issuer().key();
    tracing::info!(
        listen = %config.listen,
        realm = %format!("{}/v2/token", config.public_url()),
        service = %config.token.service,
        issuer = %config.token.issuer,
        algorithm = %key.algorithm(),
        kid = %key.kid(),
        data_dir = %paths.dir.display(),
        "portus is serving"
    );
    let router = crate::router(app.state, app.limits);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|source| Error::Io {
            path: PathBuf::from(config.listen.to_string()),
            source,
        })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
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

async fn user_command(config: &Config, paths: &DataPaths, command: UserCommand) -> Result<(), Error> {
    match command {
        UserCommand::Create(args) => {
            // Read and hash before touching the store, so bad input changes nothing.
            let password_hash = if args.password_stdin {
                Some(hash_password(&read_password_from_stdin()?, config.auth.bcrypt_cost).await?)
            } else {
                None
            };
            let store = app::open_store(paths).await?;
            let user = store
                .create_user(NewUser {
                    username: args.name.clone(),
                    email: args.email,
                    admin: args.admin,
                    password_hash,
                })
                .await?;
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
            store.set_user_enabled(user.id, false).await?;
            store.revoke_refresh_tokens(user.id).await?;
            println!("Disabled user '{name}'.");
            Ok(())
        }
        UserCommand::Enable { name } => {
            let store = app::open_store(paths).await?;
            let user = find_user(store.as_ref(), &name).await?;
            store.set_user_enabled(user.id, true).await?;
            println!("Enabled user '{name}'.");
            Ok(())
        }
    }
}

async fn team_command(paths: &DataPaths, command: TeamCommand) -> Result<(), Error> {
    let store = app::open_store(paths).await?;
    match command {
        TeamCommand::Create {
            name,
            owner,
            description,
        } => {
            let owner = find_user(store.as_ref(), &owner).await?;
            store.create_team(&name, owner.id, description).await?;
            println!("Created team '{name}' owned by '{}'.", owner.username);
        }
        TeamCommand::AddMember { team, user, role } => {
            let found = find_visible_team(store.as_ref(), &team).await?;
            let member = find_user(store.as_ref(), &user).await?;
            store.set_team_member(found.id, member.id, role).await?;
            println!("'{user}' is now {role} of team '{team}'.");
        }
    }
    Ok(())
}

async fn namespace_command(paths: &DataPaths, command: NamespaceCommand) -> Result<(), Error> {
    let NamespaceCommand::Create {
        name,
        team,
        visibility,
        description,
    } = command;
    let store = app::open_store(paths).await?;
    let team = find_visible_team(store.as_ref(), &team).await?;
    store
        .create_namespace(NewNamespace {
            name: name.clone(),
            team_id: team.id,
            visibility,
            description,
        })
        .await?;
    println!("Created {visibility} namespace '{name}' owned by team '{}'.", team.name);
    Ok(())
}
