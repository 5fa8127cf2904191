//! `portus user ...`: list, show, create, change, disable, enable and delete users, and link
//! accounts at identity providers to them.

use clap::{Args, Subcommand};
use portus_core::model::ExternalIdentity;

use super::backend::{Backend, NewUserInput, UserChanges};
use super::views::{identities_json, identities_table, json, user_details, users_table};
use crate::Error;

/// `portus user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List users.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one user.
    Show {
        /// User name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create a user (with a private personal namespace).
    Create(CreateUser),
    /// Change a user's e-mail, password, administrator rights or state.
    Update(UpdateUser),
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
    /// Delete a user with their memberships and tokens (their personal namespace stays).
    Delete {
        /// User name.
        name: String,
    },
    /// List the accounts at identity providers linked to a user.
    Identities {
        /// User name.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Link an account at an identity provider to a user: from then on it signs in as that
    /// user, whatever name or e-mail the provider reports. For OpenID Connect: the issuer
    /// exactly as in `[web.oidc]` and the `sub` of the account's ID tokens (the server logs both
    /// when it refuses an unlinked sign-in).
    LinkIdentity(IdentityArgs),
    /// Unlink an account at an identity provider from a user: it no longer signs in as them.
    UnlinkIdentity(IdentityArgs),
}

/// Arguments of `portus user link-identity` and `unlink-identity`.
#[derive(Debug, Args)]
pub struct IdentityArgs {
    /// User name.
    pub name: String,
    /// The kind of provider (`oidc`, `github`, `gitlab`, `bitbucket`; unlinking also takes
    /// imported kinds such as Portus' `openid_connect`).
    #[arg(long, default_value = OIDC_PROVIDER)]
    pub provider: String,
    /// The provider's issuer URL (OpenID Connect), or base URL (GitHub, GitLab, Bitbucket); empty for
    /// identities imported without one.
    #[arg(long, default_value = "")]
    pub issuer: String,
    /// The provider's identifier of the account (OpenID Connect `sub`, GitHub or GitLab numeric
    /// id, Bitbucket uuid).
    #[arg(long)]
    pub subject: String,
}

/// The provider kind of OpenID Connect identities (`portus_auth::oidc::PROVIDER`).
const OIDC_PROVIDER: &str = "oidc";

/// The provider kinds that sign in here: OpenID Connect, and `portus_auth::oauth::Kind`'s.
const SIGN_IN_PROVIDERS: &[&str] = &[OIDC_PROVIDER, "github", "gitlab", "bitbucket"];

impl IdentityArgs {
    fn identity(&self) -> ExternalIdentity {
        ExternalIdentity::new(self.provider.as_str(), self.issuer.as_str(), self.subject.as_str())
    }
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
    /// Read the password from standard input: asked for twice without echo at a terminal, read
    /// to the end from a pipe (without it the user can only use application tokens).
    #[arg(long, conflicts_with = "bot")]
    pub password_stdin: bool,
    /// A bot (Portus' robot accounts, for CI): no personal namespace, no password, never
    /// looked up in LDAP; an application token labelled `default` is made and printed once.
    #[arg(long, conflicts_with = "admin")]
    pub bot: bool,
}

/// Arguments of `portus user update`; what is not given stays as it is.
#[derive(Debug, Args)]
pub struct UpdateUser {
    /// User name.
    pub name: String,
    /// New e-mail address.
    #[arg(long, conflicts_with = "no_email")]
    pub email: Option<String>,
    /// Remove the e-mail address.
    #[arg(long)]
    pub no_email: bool,
    /// Read a new password from standard input (asked for without echo at a terminal).
    #[arg(long)]
    pub password_stdin: bool,
    /// Read your current password from standard input, which the server asks for when you
    /// change your own e-mail or password (with `--password-stdin` too: the current password
    /// on the first line, the new one after it).
    #[arg(long)]
    pub current_password_stdin: bool,
    /// Grant (true) or revoke (false) administrator rights.
    #[arg(long, value_name = "true|false")]
    pub admin: Option<bool>,
    /// Enable (true) or disable (false) the user.
    #[arg(long, value_name = "true|false")]
    pub enabled: Option<bool>,
    /// Unlock an account locked by failed logins.
    #[arg(long)]
    pub unlock: bool,
}

fn require_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::Usage("user name must not be empty".into()));
    }
    Ok(())
}

pub(super) async fn run<B: Backend>(backend: &B, command: UserCommand) -> Result<(), Error> {
    match command {
        UserCommand::List { json: as_json } => {
            let users = backend.users().await?;
            print!(
                "{}",
                if as_json {
                    json(&users) + "\n"
                } else {
                    users_table(&users)
                }
            );
        }
        UserCommand::Show { name, json: as_json } => {
            let user = backend.user(&name).await?;
            print!(
                "{}",
                if as_json {
                    json(&user) + "\n"
                } else {
                    user_details(&user)
                }
            );
        }
        UserCommand::Create(args) => {
            // Read before anything changes, so bad input changes nothing.
            let password = args.password_stdin.then(super::password::read_password).transpose()?;
            let new = NewUserInput {
                name: args.name,
                email: args.email,
                admin: args.admin,
                password,
                bot: args.bot,
            };
            let (user, namespace) = backend.create_user(new).await?;
            if args.bot {
                let (_, secret) = backend
                    .create_token(&user.username, "default", &Default::default())
                    .await?;
                println!(
                    "Created bot '{}'. Its application token is shown only once:",
                    user.username
                );
                println!("{}", secret.expose());
                return Ok(());
            }
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
        }
        UserCommand::Update(args) => {
            require_name(&args.name)?;
            let (current_password, password) = if args.current_password_stdin {
                let (current, new) = super::password::read_current_and_new(args.password_stdin)?;
                (Some(current), new)
            } else {
                (
                    None,
                    args.password_stdin.then(super::password::read_password).transpose()?,
                )
            };
            let changes = UserChanges {
                email: match (args.email, args.no_email) {
                    (Some(email), _) => Some(Some(email)),
                    (None, true) => Some(None),
                    (None, false) => None,
                },
                password,
                current_password,
                admin: args.admin,
                enabled: args.enabled,
                unlock: args.unlock,
            };
            if changes.is_empty() {
                return Err(Error::Usage(
                    "nothing to change: give --email, --no-email, --password-stdin, --admin, --enabled or --unlock"
                        .into(),
                ));
            }
            backend.update_user(&args.name, changes).await?;
            println!("Updated user '{}'.", args.name);
        }
        UserCommand::Disable { name } => {
            require_name(&name)?;
            let changes = UserChanges {
                enabled: Some(false),
                ..UserChanges::default()
            };
            backend.update_user(&name, changes).await?;
            println!("Disabled user '{name}'.");
        }
        UserCommand::Enable { name } => {
            require_name(&name)?;
            let changes = UserChanges {
                enabled: Some(true),
                ..UserChanges::default()
            };
            backend.update_user(&name, changes).await?;
            println!("Enabled user '{name}'.");
        }
        UserCommand::Delete { name } => {
            require_name(&name)?;
            backend.delete_user(&name).await?;
            println!("Deleted user '{name}'.");
        }
        UserCommand::Identities { name, json: as_json } => {
            require_name(&name)?;
            let identities = backend.identities(&name).await?;
            print!(
                "{}",
                if as_json {
                    identities_json(&identities) + "\n"
                } else {
                    identities_table(&identities)
                }
            );
        }
        UserCommand::LinkIdentity(args) => {
            require_name(&args.name)?;
            // Only OpenID Connect, GitHub, GitLab and Bitbucket identities sign in here; a link
            // of any other kind, or without the issuer (base URL) the subject belongs to, would
            // never be used.
            if !SIGN_IN_PROVIDERS.contains(&args.provider.as_str()) || args.issuer.is_empty() {
                return Err(Error::Usage(format!(
                    "link-identity links identities that sign in here: give --provider {OIDC_PROVIDER} (the default) \
                     with --issuer as in [web.oidc] issuer, or --provider github|gitlab|bitbucket with --issuer \
                     the provider's base URL (as the server's log of a refused sign-in shows it)"
                )));
            }
            let identity = args.identity();
            if backend.link_identity(&args.name, &identity).await? {
                println!("Linked the {identity} to user '{}'.", args.name);
            } else {
                println!("The {identity} was linked to user '{}' already.", args.name);
            }
        }
        UserCommand::UnlinkIdentity(args) => {
            require_name(&args.name)?;
            let identity = args.identity();
            backend.unlink_identity(&args.name, &identity).await?;
            println!("Unlinked the {identity} from user '{}'.", args.name);
        }
    }
    Ok(())
}
