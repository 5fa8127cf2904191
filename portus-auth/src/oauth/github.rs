//! GitHub and GitHub Enterprise Server: `/login/oauth/authorize` and `/login/oauth/access_token`
//! on the base URL, the REST API at `https://api.github.com` (github.com) or `{base}/api/v3`
//! (GHES). The identity is `(github, base URL, id)`: `login` can be changed and the old one
//! claimed by anyone. The e-mail is the primary verified one of `/user/emails`. With
//! `organization`, the membership (`/user/memberships/orgs/{org}`) must be `active`; with
//! `team` too, the team membership (`/orgs/{org}/teams/{team}/memberships/{login}`). The
//! profile's groups are the account's teams (`/user/teams`) as `org/team-slug`.

use std::sync::Arc;
use std::time::Duration;

use portus_core::PolicyStore;
use portus_core::model::ExternalIdentity;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Api, Endpoints, ExternalProfile, GroupTeam, Kind, OAuthProvider, Profiler, Registration, SignInRules};
use crate::error::Result;

/// github.com, the default base URL.
pub const GITHUB_COM: &str = "https://github.com";

/// The `[web.github]` section.
///
/// ```
/// use portus_auth::oauth::github::GithubSettings;
///
/// let settings: GithubSettings = serde_json::from_str(
///     r#"{"client_id": "c", "client_secret": "s", "organization": "acme", "team": "ops"}"#,
/// ).unwrap();
/// assert_eq!(settings.api_url(), "https://api.github.com");
/// assert!(settings.validate().is_ok());
/// ```
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GithubSettings {
    /// The OAuth app's client ID.
    pub client_id: String,
    /// The OAuth app's client secret.
    pub client_secret: String,
    /// `https://github.com`, or a GitHub Enterprise Server's URL (API at `{base_url}/api/v3`).
    #[serde(default = "default_base")]
    pub base_url: String,
    /// Only members (state `active`) of this organization (its login) may sign in.
    #[serde(default)]
    pub organization: Option<String>,
    /// Only members of this team (its slug, within `organization`) may sign in.
    #[serde(default)]
    pub team: Option<String>,
    /// Name on the sign-in button ("Sign in with ...").
    #[serde(default = "default_name")]
    pub name: String,
    /// Create a local user at an account's first sign-in.
    #[serde(default = "default_true")]
    pub create_users: bool,
    /// When not empty, the verified primary e-mail's domain must be one of these.
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// When not empty, only members of one of these groups (`org/team-slug`) may sign in.
    #[serde(default)]
    pub required_groups: Vec<String>,
    /// Groups (`org/team-slug`) to teams and roles, re-applied at every sign-in.
    #[serde(default)]
    pub teams: Vec<GroupTeam>,
    /// Members of this group (`org/team-slug`) are administrators; others signing in this way are not.
    #[serde(default)]
    pub admin_group: Option<String>,
    /// Time limit of each request to GitHub, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

impl std::fmt::Debug for GithubSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubSettings")
            .field("client_id", &self.client_id)
            .field("base_url", &self.base_url)
            .field("organization", &self.organization)
            .field("team", &self.team)
            .finish_non_exhaustive()
    }
}

fn default_base() -> String {
    GITHUB_COM.into()
}
fn default_name() -> String {
    "GitHub".into()
}
pub(super) fn default_true() -> bool {
    true
}
pub(super) fn default_timeout() -> u64 {
    10
}

impl GithubSettings {
    /// The REST API's root: `https://api.github.com` for github.com, `{base_url}/api/v3` else.
    pub fn api_url(&self) -> String {
        let base = super::trim_base(&self.base_url);
        if base == GITHUB_COM {
            "https://api.github.com".into()
        } else {
            format!("{base}/api/v3")
        }
    }

    /// The sign-in rules of this section.
    pub fn rules(&self) -> SignInRules {
        SignInRules {
            create_users: self.create_users,
            allowed_domains: self.allowed_domains.clone(),
            required_groups: self.required_groups.clone(),
            teams: self.teams.clone(),
            admin_group: self.admin_group.clone(),
        }
    }

    /// Checks what types cannot; the message names the key.
    pub fn validate(&self) -> std::result::Result<(), String> {
        super::check_common(
            "github",
            &self.client_id,
            &self.client_secret,
            self.timeout_secs,
            &self.rules(),
        )?;
        super::check_base_url("web.github.base_url", &self.base_url)?;
        let segment = |key: &str, value: &Option<String>| match value {
            Some(v) if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) => Err(
                format!("web.github.{key} '{v}': letters, digits, '-', '_' and '.' only"),
            ),
            _ => Ok(()),
        };
        segment("organization", &self.organization)?;
        segment("team", &self.team)?;
        if self.team.is_some() && self.organization.is_none() {
            return Err("web.github.team needs web.github.organization (a team slug is per organization)".into());
        }
        Ok(())
    }

    /// The provider, sending the browser back to `redirect_url`
    /// (`{public_url}/sign_in/github/callback`).
    pub fn provider(&self, redirect_url: String, store: Arc<dyn PolicyStore>) -> Result<OAuthProvider> {
        let base = super::trim_base(&self.base_url);
        let scopes = ["read:user", "user:email", "read:org"].map(String::from).to_vec();
        OAuthProvider::new(
            Kind::Github,
            Registration {
                client_id: &self.client_id,
                client_secret: &self.client_secret,
                redirect_url,
                timeout: Duration::from_secs(self.timeout_secs),
            },
            Endpoints {
                authorize_url: format!("{base}/login/oauth/authorize"),
                token_url: format!("{base}/login/oauth/access_token"),
                scopes,
                pkce: true,
                basic_auth: false,
            },
            Profiler::Github(Github {
                base,
                api: self.api_url(),
                organization: self.organization.clone(),
                team: self.team.clone(),
            }),
            self.rules(),
            store,
        )
    }
}

/// The GitHub-specific part of a sign-in.
#[derive(Debug)]
pub(super) struct Github {
    base: String,
    api: String,
    organization: Option<String>,
    team: Option<String>,
}

impl Github {
    pub(super) async fn profile(&self, api: &Api<'_>) -> Result<ExternalProfile> {
        let user = api.get_ok(&format!("{}/user", self.api), "the account").await?;
        let Some(id) = user["id"].as_u64() else {
            return Err(api.refused("/user has no numeric id"));
        };
        let login = user["login"].as_str().map(str::to_owned);
        if let Some(org) = &self.organization {
            let url = format!("{}/user/memberships/orgs/{org}", self.api);
            let membership = api.get(&url).await?;
            if membership.status != reqwest::StatusCode::OK || membership.body["state"] != "active" {
                return Err(api.refused(format!(
                    "account {id} is not an active member of the organization '{org}' ({}, state {})",
                    membership.status, membership.body["state"]
                )));
            }
            if let Some(team) = &self.team {
                let Some(login) = &login else {
                    return Err(api.refused("/user has no login to check the team with"));
                };
                // The login is the provider's word: encoded, it stays one path segment.
                let login: String = url::form_urlencoded::byte_serialize(login.as_bytes()).collect();
                let url = format!("{}/orgs/{org}/teams/{team}/memberships/{login}", self.api);
                let membership = api.get(&url).await?;
                if membership.status != reqwest::StatusCode::OK || membership.body["state"] != "active" {
                    return Err(api.refused(format!(
                        "account {id} is not an active member of the team '{org}/{team}' ({}, state {})",
                        membership.status, membership.body["state"]
                    )));
                }
            }
        }
        Ok(ExternalProfile {
            identity: ExternalIdentity::new("github", self.base.as_str(), id.to_string()),
            preferred_username: login,
            verified_email: self.verified_email(api).await?,
            groups: self.teams(api).await?,
            imported_as: Some(ExternalIdentity::new("github", "", id.to_string())),
        })
    }

    /// `org/team-slug` of the account's teams (`/user/teams`, all pages); `None` when GitHub
    /// will not list them.
    async fn teams(&self, api: &Api<'_>) -> Result<Option<Vec<String>>> {
        let teams = api
            .list(
                format!("{}/user/teams?per_page=100", self.api),
                &self.api,
                |page| page.as_array().cloned().unwrap_or_default(),
                |answer| super::link_next(&answer.headers),
            )
            .await?;
        Ok(teams.map(|teams| {
            teams
                .iter()
                .filter_map(|t| {
                    Some(format!(
                        "{}/{}",
                        t["organization"]["login"].as_str()?,
                        t["slug"].as_str()?
                    ))
                })
                .collect()
        }))
    }

    /// The primary, verified address of `/user/emails` (none when GitHub will not list them,
    /// e.g. without the `user:email` scope).
    async fn verified_email(&self, api: &Api<'_>) -> Result<Option<String>> {
        let answer = api.get(&format!("{}/user/emails?per_page=100", self.api)).await?;
        if answer.status != reqwest::StatusCode::OK {
            tracing::info!(status = %answer.status, "GitHub did not list the account's e-mail addresses");
            return Ok(None);
        }
        let emails = answer.body.as_array().cloned().unwrap_or_default();
        Ok(emails
            .iter()
            .find(|e| e["primary"] == Value::Bool(true) && e["verified"] == Value::Bool(true))
            .and_then(|e| e["email"].as_str())
            .map(str::to_owned))
    }
}
