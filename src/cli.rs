//! The `portus` command-line program: `serve`, `config registry` and admin commands that work
//! on the same store as the server.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use portus_auth::password::{APP_TOKEN_PREFIX, generate_secret, hash_password};
use std::sync::Arc;

use portus_core::model::{ActivityFilter, NamespaceRef, NewNamespace, NewUser, Role, Team, User, Visibility};
use portus_core::ops;
use portus_core::prelude::*;
use portus_core::traits::Secret;
use portus_core::{PolicyStore, RegistryClient};
use portus_scan::sync;
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

/// Arguments of `portus scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// `REPOSITORY:TAG` (not with --all).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub reference: Option<String>,
    /// Run one scan pass over every recorded tag that needs scanning, storing the results.
    #[arg(long)]
    pub all: bool,
    /// Show the stored results of the background scans instead of scanning now.
    #[arg(long, conflicts_with = "all")]
    pub stored: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `portus tag ...`
#[derive(Debug, Subcommand)]
pub enum TagCommand {
    /// List recorded tags.
    List {
        /// Only this repository.
        repository: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a tag in the registry (by its manifest digest) and in the store.
    Delete {
        /// `REPOSITORY:TAG`.
        reference: String,
        /// Also delete the other tags that point at the same manifest (the registry deletes
        /// manifests, and with them every tag of that digest).
        #[arg(long)]
        with_siblings: bool,
    },
}

/// Arguments of `portus sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// initial, update or update-delete (default: `sync.strategy`).
    #[arg(long)]
    pub strategy: Option<portus_scan::sync::SyncStrategy>,
    /// Print the plan without changing anything.
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `portus activity`.
#[derive(Debug, Args)]
pub struct ActivityArgs {
    /// Only this actor's.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only this action (`tag.push`) or family (`tag.`).
    #[arg(long)]
    pub action: Option<String>,
    /// Only targets starting with this text (`alice/`).
    #[arg(long)]
    pub target: Option<String>,
    /// Only since this time (RFC 3339, e.g. 2026-11-24T00:00:00Z).
    #[arg(long)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
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
        Command::Tag(command) => tag_command(&config, &paths, command).await,
        Command::Sync(args) => sync_command(&config, &paths, args).await,
        Command::Activity(args) => activity_command(&paths, args).await,
        Command::Scan(args) => scan_command(&config, &paths, args).await,
        Command::Token(TokenCommand::Create { user, name }) => {
            let store = app::open_store(&paths).await?;
            let owner = find_user(store.as_ref(), &user).await?;
            let secret = generate_secret(APP_TOKEN_PREFIX)?;
            ops::tokens::create(store.as_ref(), Some(CLI_ACTOR), &owner, &name, &secret.digest).await?;
            println!("Created application token '{name}' for {user}. It is shown only once:");
            println!("{}", secret.plain.expose());
            Ok(())
        }
    }
}

async fn serve(config: &Config, paths: &DataPaths) -> Result<(), Error> {
    let app = app::build(config, paths).await?;
    // Events left pending by a previous run are applied first thing.
    let _events = app.pipeline.spawn(std::time::Duration::from_secs(5));
    let _scans = app::scan_worker(config, &app)?
        .map(|worker| Arc::new(worker).spawn(std::time::Duration::from_secs(config.security.interval_secs)));
    let _sync = match (&app.registry, config.sync.interval_secs) {
        (Some(registry), secs) if secs > 0 => Some(spawn_periodic_sync(app.store.clone(), registry.clone(), config)),
        _ => None,
    };
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
    let router = serve_router(config, app.state, app.limits)?;
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|source| Error::Io {
            path: PathBuf::from(config.listen.to_string()),
            source,
        })
}

fn spawn_periodic_sync(
    store: Arc<dyn PolicyStore>,
    registry: Arc<dyn RegistryClient>,
    config: &Config,
) -> tokio::task::JoinHandle<()> {
    let (strategy, concurrency, missing) = (
        config.sync.strategy,
        config.sync.concurrency,
        config.sync.missing_namespaces,
    );
    let interval = std::time::Duration::from_secs(config.sync.interval_secs);
    tokio::spawn(async move {
        loop {
            match sync::plan(store.as_ref(), registry.as_ref(), strategy, concurrency, &|_, _| {}).await {
                Ok(plan) if plan.is_empty() => tracing::debug!("catalog sync: nothing to change"),
                Ok(plan) => match sync::apply(store.as_ref(), registry.as_ref(), &plan, missing).await {
                    Ok(report) => tracing::info!(?report, problems = plan.problems.len(), "catalog sync applied"),
                    Err(e) => tracing::warn!(error = %e, "catalog sync failed while applying"),
                },
                Err(e) => tracing::warn!(error = %e, "catalog sync failed; nothing was changed"),
            }
            tokio::time::sleep(interval).await;
        }
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

async fn team_command(paths: &DataPaths, command: TeamCommand) -> Result<(), Error> {
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

async fn namespace_command(paths: &DataPaths, command: NamespaceCommand) -> Result<(), Error> {
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

/// The actor recorded for changes made with the command-line program.
const CLI_ACTOR: &str = "cli";

fn registry_of(app: &app::App) -> Result<Arc<dyn RegistryClient>, Error> {
    app.registry
        .clone()
        .ok_or_else(|| Error::Usage("registry.url is not configured: set it to the registry's API URL".into()))
}

async fn sync_command(config: &Config, paths: &DataPaths, args: SyncArgs) -> Result<(), Error> {
    let app = app::build(config, paths).await?;
    let registry = registry_of(&app)?;
    let strategy = args.strategy.unwrap_or(config.sync.strategy);
    let bar = progress_bar("listing the registry");
    let progress = |done: usize, total: usize| bar.update(done, total);
    let plan = sync::plan(
        app.store.as_ref(),
        registry.as_ref(),
        strategy,
        config.sync.concurrency,
        &progress,
    )
    .await?;
    bar.finish();
    if args.dry_run {
        println!("{plan}");
        println!("dry run: nothing was changed");
        return Ok(());
    }
    let report = sync::apply(
        app.store.as_ref(),
        registry.as_ref(),
        &plan,
        config.sync.missing_namespaces,
    )
    .await?;
    println!(
        "sync ({strategy}): {} tags added, {} updated, {} deleted, {} repositories deleted, {} deletions skipped, {} problems",
        report.created,
        report.updated,
        report.deleted,
        report.repositories_deleted,
        report.deletions_skipped,
        plan.problems.len()
    );
    for problem in &plan.problems {
        println!("problem: {problem}");
    }
    Ok(())
}

fn split_reference(reference: &str) -> Result<(&str, &str), Error> {
    reference
        .rsplit_once(':')
        .filter(|(r, t)| !r.is_empty() && !t.is_empty() && !t.contains('/'))
        .ok_or_else(|| Error::Usage(format!("'{reference}' is not REPOSITORY:TAG")))
}

async fn scan_command(config: &Config, paths: &DataPaths, args: ScanArgs) -> Result<(), Error> {
    use portus_scan::aggregate::merge_tag;

    let app = app::build(config, paths).await?;
    if !app.scanner.is_enabled() {
        return Err(Error::Usage(
            "scanning is off: configure a backend in the [security] section".into(),
        ));
    }
    let registry = registry_of(&app)?;
    if args.all {
        let worker = app::scan_worker(config, &app)?.expect("scanner and registry are configured");
        let bar = progress_bar("scanning");
        let report = worker.run_once(&|done, total| bar.update(done, total)).await?;
        bar.finish();
        println!(
            "scanned {} digests: {} backend scans done, {} pending, {} failed",
            report.digests, report.done, report.pending, report.failed
        );
        return Ok(());
    }
    let reference = args.reference.as_deref().expect("clap requires it without --all");
    let (repository, tag) = split_reference(reference)?;
    if args.stored {
        let record = app
            .store
            .tag(repository, tag)
            .await?
            .ok_or_else(|| Error::Usage(format!("no tag {reference}")))?;
        let records = app.store.scan_records(Some(&record.manifest.digest)).await?;
        let security = portus_scan::worker::tag_security(&records, &app.scanner.backend_names());
        return print_security(reference, &security, args.json);
    }
    let base = config
        .registry
        .url
        .as_ref()
        .expect("registry_for checked it")
        .as_str()
        .to_owned();
    let scope = format!("repository:{repository}:pull");
    let token = app
        .state
        .tokens
        .service_account_token(&config.registry.service_account, &[scope])?;
    let images = portus_scan::worker::images_for(
        registry.as_ref(),
        &base,
        repository,
        tag,
        Some(format!("Bearer {token}")),
    )
    .await?;
    let results = app.scanner.scan(&images).await;
    print_security(reference, &merge_tag(&results), args.json)
}

fn print_security(reference: &str, security: &portus_scan::aggregate::TagSecurity, json: bool) -> Result<(), Error> {
    use portus_scan::aggregate::TagScanStatus;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&security).expect("results serialize")
        );
    } else {
        println!("{reference}: {:?}", security.status);
        for (backend, state) in &security.backends {
            println!("  {backend}: {state}");
        }
        for v in &security.vulnerabilities {
            let packages: Vec<String> = v
                .packages
                .iter()
                .map(|(n, ver)| format!("{n} {}", ver.as_deref().unwrap_or("")))
                .collect();
            println!(
                "{:<10} {:<20} {:<30} fixed in: {:<15} found by: {}",
                v.severity.to_string(),
                v.id,
                packages.join(", ").trim(),
                if v.fixed_in.is_empty() {
                    "-".to_owned()
                } else {
                    v.fixed_in.join(", ")
                },
                v.found_by.join(", ")
            );
        }
        let counts: Vec<String> = security.counts.iter().rev().map(|(s, n)| format!("{n} {s}")).collect();
        println!(
            "{}",
            if counts.is_empty() {
                "no vulnerabilities found".to_owned()
            } else {
                counts.join(", ")
            }
        );
    }
    if security.status == TagScanStatus::Failed {
        return Err(Error::Usage(
            "at least one scanner failed: the result is incomplete".into(),
        ));
    }
    Ok(())
}

async fn activity_command(paths: &DataPaths, args: ActivityArgs) -> Result<(), Error> {
    let store = app::open_store(paths).await?;
    let filter = ActivityFilter {
        actor: args.actor,
        action: args.action,
        target_prefix: args.target,
        since: args.since,
        limit: args.limit.max(1),
    };
    let activities = store.activities(&filter).await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&activities).expect("activities serialize")
        );
        return Ok(());
    }
    for a in activities {
        println!(
            "{}  {:<10} {:<22} {}{}",
            a.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            a.actor.as_deref().unwrap_or("-"),
            a.action,
            a.target,
            a.details.map(|d| format!("  ({d})")).unwrap_or_default()
        );
    }
    Ok(())
}

async fn tag_command(config: &Config, paths: &DataPaths, command: TagCommand) -> Result<(), Error> {
    match command {
        TagCommand::List { repository, json } => {
            let store = app::open_store(paths).await?;
            let tags = store.tags(repository.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tags).expect("tags serialize"));
            } else {
                for t in tags {
                    println!(
                        "{}:{}  {}  {}",
                        t.repository, t.name, t.manifest.digest, t.manifest.media_type
                    );
                }
            }
            Ok(())
        }
        TagCommand::Delete {
            reference,
            with_siblings,
        } => {
            let (repository, tag) = split_reference(&reference)?;
            if !config.policy.delete_enabled {
                return Err(Error::Usage(
                    "deletion is disabled (policy.delete_enabled = false)".into(),
                ));
            }
            let app = app::build(config, paths).await?;
            let registry = registry_of(&app)?;
            let store = app.store.as_ref();
            let deleted = portus_core::ops::images::delete_tag(
                store,
                registry.as_ref(),
                repository,
                tag,
                with_siblings,
                Some(CLI_ACTOR),
            )
            .await
            .map_err(|e| match e.kind() {
                portus_core::ErrorKind::NotFound => Error::Usage(format!("no tag {reference}")),
                portus_core::ErrorKind::Conflict => {
                    Error::Usage(format!("{e}. Re-run with --with-siblings to delete them all"))
                }
                _ => Error::Core(e),
            })?;
            let names: Vec<&str> = deleted.iter().map(|t| t.name.as_str()).collect();
            let digest = deleted.first().map(|t| t.manifest.digest.as_str()).unwrap_or_default();
            println!("Deleted {repository}@{digest} (tags: {}).", names.join(", "));
            Ok(())
        }
    }
}

/// A progress bar on standard error when it is a terminal; silent otherwise.
struct Progress(Option<indicatif::ProgressBar>);

fn progress_bar(what: &str) -> Progress {
    Progress(std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        let template = format!("{{spinner}} {what} [{{bar:40}}] {{pos}}/{{len}} ({{eta}})");
        bar.set_style(indicatif::ProgressStyle::with_template(&template).expect("valid template"));
        bar
    }))
}

impl Progress {
    fn update(&self, done: usize, total: usize) {
        if let Some(bar) = &self.0 {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    }

    fn finish(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}

#[cfg(feature = "web")]
fn serve_router(
    config: &Config,
    state: portus_http::AppState,
    limits: portus_http::HttpLimits,
) -> Result<axum::Router, Error> {
    if !config.web.enabled {
        return Ok(portus_http::router(state, limits));
    }
    let web = portus_http::web::WebConfig {
        session_lifetime: std::time::Duration::from_secs(config.web.session_secs),
        secure_cookies: config.secure_cookies(),
        #[cfg(feature = "oidc")]
        oidc: oidc_login(config, &state)?,
    };
    Ok(portus_http::router_with_web(state, limits, web))
}

/// The OpenID Connect provider of `[web.oidc]`, if configured.
#[cfg(feature = "oidc")]
fn oidc_login(config: &Config, state: &portus_http::AppState) -> Result<Option<portus_http::web::OidcLogin>, Error> {
    let Some(settings) = &config.web.oidc else {
        return Ok(None);
    };
    let oidc = settings.config(format!("{}/sign_in/oidc/callback", config.public_url()));
    let provider = portus_auth::oidc::OidcProvider::new(oidc, state.tokens.store().clone())
        .map_err(|e| Error::Config(format!("[web.oidc]: {e}")))?;
    Ok(Some(portus_http::web::OidcLogin {
        name: settings.name.clone(),
        provider: std::sync::Arc::new(provider),
    }))
}

#[cfg(not(feature = "web"))]
fn serve_router(
    _config: &Config,
    state: portus_http::AppState,
    limits: portus_http::HttpLimits,
) -> Result<axum::Router, Error> {
    Ok(portus_http::router(state, limits))
}
