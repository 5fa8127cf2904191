//! The configuration sections of OpenID Connect sign-ins: `[web.oidc]` for any provider and
//! `[web.google]` for Google's.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Flavour, OidcConfig, UsernameClaim};
use crate::external_sign_in::{GroupTeam, SignInRules};

/// The `[web.oidc]` section: a provider for the sign-in page, with the name on its button.
///
/// ```
/// use portus_auth::oidc::{OidcSettings, UsernameClaim};
///
/// let settings: OidcSettings =
///     serde_json::from_str(r#"{"issuer": "https://id.example.org", "client_id": "portus"}"#).unwrap();
/// assert_eq!(settings.username_claim, UsernameClaim::PreferredUsername);
/// let config = settings.config("https://portus.example.org/sign_in/oidc/callback".into());
/// assert_eq!((config.scopes.len(), config.timeout.as_secs()), (2, 10));
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// Issuer URL; its discovery document is read on first use.
    pub issuer: String,
    /// Client identifier registered with the provider.
    pub client_id: String,
    /// Client secret (none for a public client).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Name on the sign-in button ("Sign in with ...").
    #[serde(default = "OidcSettings::default_name")]
    pub name: String,
    /// Scopes besides `openid`.
    #[serde(default = "OidcSettings::default_scopes")]
    pub scopes: Vec<String>,
    /// Claim naming a new local user: `preferred_username`, `email_local_part` or `sub`.
    #[serde(default = "OidcSettings::default_claim")]
    pub username_claim: UsernameClaim,
    /// Create a local user at an identity's first sign-in (otherwise an administrator links
    /// identities beforehand).
    #[serde(default = "default_create")]
    pub create_users: bool,
    /// Time limit of each request to the provider, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Only verified e-mail addresses at these domains may sign in (none: any).
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// The ID token claim listing the person's groups (e.g. `groups`); without it groups are
    /// not read and `teams`, `admin_group` and `required_groups` cannot be set.
    #[serde(default)]
    pub groups_claim: Option<String>,
    /// Only members of one of these groups may sign in (none: anyone).
    #[serde(default)]
    pub required_groups: Vec<String>,
    /// Groups to teams, re-applied at every sign-in.
    #[serde(default)]
    pub teams: Vec<GroupTeam>,
    /// Members of this group are administrators; others signing in here are not.
    #[serde(default)]
    pub admin_group: Option<String>,
}

fn default_create() -> bool {
    true
}

fn default_timeout() -> u64 {
    10
}

impl OidcSettings {
    fn default_name() -> String {
        "OpenID Connect".into()
    }
    fn default_scopes() -> Vec<String> {
        vec!["profile".into(), "email".into()]
    }
    fn default_claim() -> UsernameClaim {
        UsernameClaim::PreferredUsername
    }

    /// The sign-in rules of this provider.
    pub fn rules(&self) -> SignInRules {
        SignInRules {
            create_users: self.create_users,
            allowed_domains: self.allowed_domains.clone(),
            required_groups: self.required_groups.clone(),
            teams: self.teams.clone(),
            admin_group: self.admin_group.clone(),
        }
    }

    /// Checks what the types cannot: the rules, and that group rules come with a claim.
    pub fn validate(&self) -> Result<(), String> {
        let rules = self.rules();
        rules.validate()?;
        if rules.needs_groups() && self.groups_claim.as_deref().unwrap_or_default().is_empty() {
            return Err("teams, admin_group and required_groups need groups_claim".into());
        }
        Ok(())
    }

    /// The provider configuration, with the browser sent back to `redirect_url`
    /// (`{public_url}/sign_in/oidc/callback`).
    pub fn config(&self, redirect_url: String) -> OidcConfig {
        OidcConfig {
            flavour: Flavour::Generic,
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone(),
            redirect_url,
            scopes: self.scopes.clone(),
            username_claim: self.username_claim,
            rules: self.rules(),
            groups_claim: self.groups_claim.clone().filter(|c| !c.is_empty()),
            timeout: Duration::from_secs(self.timeout_secs),
        }
    }
}

/// Google's issuer.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// The `[web.google]` section: sign in with Google (OpenID Connect), optionally only for
/// accounts of some Google Workspace domains (Portus' `oauth.google_oauth2.domain`).
///
/// ```
/// use portus_auth::oidc::GoogleSettings;
///
/// let settings: GoogleSettings = serde_json::from_str(
///     r#"{"client_id": "portus", "client_secret": "s", "hosted_domains": ["example.org"]}"#,
/// ).unwrap();
/// let config = settings.config("https://portus.example.org/sign_in/google/callback".into());
/// assert_eq!(config.issuer, "https://accounts.google.com");
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleSettings {
    /// Client identifier from the Google Cloud console.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: String,
    /// Only accounts whose ID token's `hd` claim (their Workspace domain) is one of these may
    /// sign in; a consumer account never has `hd`, even with an address at such a domain.
    #[serde(default)]
    pub hosted_domains: Vec<String>,
    /// Create a local user at an account's first sign-in.
    #[serde(default = "default_create")]
    pub create_users: bool,
    /// Time limit of each request to Google, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// The issuer; only tests point it elsewhere.
    #[serde(default = "GoogleSettings::default_issuer")]
    pub issuer: String,
}

impl GoogleSettings {
    fn default_issuer() -> String {
        GOOGLE_ISSUER.into()
    }

    /// Checks the hosted domains.
    pub fn validate(&self) -> Result<(), String> {
        let domains = SignInRules {
            allowed_domains: self.hosted_domains.clone(),
            ..SignInRules::default()
        };
        domains
            .validate()
            .map_err(|e| e.replace("allowed_domains", "hosted_domains"))
    }

    /// The hosted domains are checked on `hd`, not on the e-mail address: a Workspace account's
    /// address may be at another of the organization's domains.
    fn rules(&self) -> SignInRules {
        SignInRules {
            create_users: self.create_users,
            ..SignInRules::default()
        }
    }

    /// The provider configuration, with the browser sent back to `redirect_url`
    /// (`{public_url}/sign_in/google/callback`).
    pub fn config(&self, redirect_url: String) -> OidcConfig {
        OidcConfig {
            flavour: Flavour::Google {
                hosted_domains: self.hosted_domains.clone(),
            },
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            client_secret: Some(self.client_secret.clone()),
            redirect_url,
            scopes: vec!["profile".into(), "email".into()],
            username_claim: UsernameClaim::EmailLocalPart,
            rules: self.rules(),
            groups_claim: None,
            timeout: Duration::from_secs(self.timeout_secs),
        }
    }
}
