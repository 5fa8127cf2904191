//! Bitbucket Cloud: `https://bitbucket.org/site/oauth2/authorize` and `…/access_token` (client
//! authenticated with HTTP Basic; no PKCE, so `state` alone binds the answer), the account from
//! `https://api.bitbucket.org/2.0/user`. The identity is `(bitbucket, site URL, uuid)` (Atlassian:
//! never the user name). The e-mail is the primary confirmed one of `/2.0/user/emails`. With
//! `workspace` (Portus' `team`; teams became workspaces in 2020), the account must have a
//! permission in it (`/2.0/user/workspaces/{workspace}/permission`). The profile's groups are
//! the slugs of the account's workspaces (`/2.0/user/workspaces`).
//!
//! Scopes are not requested: they are the permissions ticked on the OAuth consumer (Account
//! and Email read).

use std::sync::Arc;
use std::time::Duration;

use portus_core::PolicyStore;
use portus_core::model::ExternalIdentity;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::github::{default_timeout, default_true};
use super::{Api, Endpoints, ExternalProfile, GroupTeam, Kind, OAuthProvider, Profiler, Registration, SignInRules};
use crate::error::Result;

/// Pages of `/2.0/user/emails` read at most.
const MAX_EMAIL_PAGES: usize = 10;

/// The `[web.bitbucket]` section.
///
/// ```
/// use portus_auth::oauth::bitbucket::BitbucketSettings;
///
/// let settings: BitbucketSettings =
///     serde_json::from_str(r#"{"client_id": "key", "client_secret": "s", "workspace": "acme"}"#).unwrap();
/// assert_eq!(settings.api_url, "https://api.bitbucket.org");
/// assert!(settings.validate().is_ok());
/// ```
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BitbucketSettings {
    /// The OAuth consumer's key.
    pub client_id: String,
    /// The OAuth consumer's secret.
    pub client_secret: String,
    /// Where the OAuth endpoints are (`https://bitbucket.org`; changed only for tests or a
    /// proxy).
    #[serde(default = "default_site")]
    pub site_url: String,
    /// The API's root (`https://api.bitbucket.org`; changed only for tests or a proxy).
    #[serde(default = "default_api")]
    pub api_url: String,
    /// Only members of this workspace (its slug) may sign in.
    #[serde(default)]
    pub workspace: Option<String>,
    /// Name on the sign-in button ("Sign in with ...").
    #[serde(default = "default_name")]
    pub name: String,
    /// Create a local user at an account's first sign-in.
    #[serde(default = "default_true")]
    pub create_users: bool,
    /// When not empty, the confirmed primary e-mail's domain must be one of these.
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// When not empty, only members of one of these groups (workspace slug) may sign in.
    #[serde(default)]
    pub required_groups: Vec<String>,
    /// Groups (workspace slug) to teams and roles, re-applied at every sign-in.
    #[serde(default)]
    pub teams: Vec<GroupTeam>,
    /// Members of this group (workspace slug) are administrators; others signing in this way are not.
    #[serde(default)]
    pub admin_group: Option<String>,
    /// Time limit of each request to Bitbucket, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

impl std::fmt::Debug for BitbucketSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BitbucketSettings")
            .field("client_id", &self.client_id)
            .field("site_url", &self.site_url)
            .field("workspace", &self.workspace)
            .finish_non_exhaustive()
    }
}

fn default_site() -> String {
    "https://bitbucket.org".into()
}
fn default_api() -> String {
    "https://api.bitbucket.org".into()
}
fn default_name() -> String {
    "Bitbucket".into()
}

impl BitbucketSettings {
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
            "bitbucket",
            &self.client_id,
            &self.client_secret,
            self.timeout_secs,
            &self.rules(),
        )?;
        super::check_base_url("web.bitbucket.site_url", &self.site_url)?;
        super::check_base_url("web.bitbucket.api_url", &self.api_url)?;
        if let Some(workspace) = &self.workspace
            && (workspace.is_empty()
                || !workspace
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        {
            return Err(format!(
                "web.bitbucket.workspace '{workspace}': the workspace's slug (letters, digits, '-', '_', '.')"
            ));
        }
        Ok(())
    }

    /// The provider, sending the browser back to `redirect_url`
    /// (`{public_url}/sign_in/bitbucket/callback`).
    pub fn provider(&self, redirect_url: String, store: Arc<dyn PolicyStore>) -> Result<OAuthProvider> {
        let site = super::trim_base(&self.site_url);
        OAuthProvider::new(
            Kind::Bitbucket,
            Registration {
                client_id: &self.client_id,
                client_secret: &self.client_secret,
                redirect_url,
                timeout: Duration::from_secs(self.timeout_secs),
            },
            Endpoints {
                authorize_url: format!("{site}/site/oauth2/authorize"),
                token_url: format!("{site}/site/oauth2/access_token"),
                scopes: Vec::new(),
                pkce: false,
                basic_auth: true,
            },
            Profiler::Bitbucket(Bitbucket {
                site,
                api: super::trim_base(&self.api_url),
                workspace: self.workspace.clone(),
            }),
            self.rules(),
            store,
        )
    }
}

/// A nickname as a user name: Bitbucket nicknames may hold spaces (and `:`), which user names
/// here may not; they become `_`.
fn usable_name(nickname: &str) -> String {
    nickname
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == ':' || c.is_whitespace() { '_' } else { c })
        .collect()
}

/// The Bitbucket-specific part of a sign-in.
#[derive(Debug)]
pub(super) struct Bitbucket {
    site: String,
    api: String,
    workspace: Option<String>,
}

impl Bitbucket {
    pub(super) async fn profile(&self, api: &Api<'_>) -> Result<ExternalProfile> {
        let user = api.get_ok(&format!("{}/2.0/user", self.api), "the account").await?;
        let Some(uuid) = user["uuid"].as_str().filter(|u| !u.is_empty()) else {
            return Err(api.refused("/2.0/user has no uuid"));
        };
        if let Some(workspace) = &self.workspace {
            let url = format!("{}/2.0/user/workspaces/{workspace}/permission", self.api);
            let permission = api.get(&url).await?;
            let slug = permission.body["workspace"]["slug"].as_str().unwrap_or_default();
            if permission.status != reqwest::StatusCode::OK || !slug.eq_ignore_ascii_case(workspace) {
                return Err(api.refused(format!(
                    "account {uuid} is not a member of the workspace '{workspace}' ({})",
                    permission.status
                )));
            }
        }
        Ok(ExternalProfile {
            identity: ExternalIdentity::new("bitbucket", self.site.as_str(), uuid),
            preferred_username: user["nickname"]
                .as_str()
                .or_else(|| user["username"].as_str())
                .map(usable_name),
            verified_email: self.verified_email(api).await?,
            groups: self.workspaces(api).await?,
            imported_as: Some(ExternalIdentity::new("bitbucket", "", uuid)),
        })
    }

    /// The slugs of the account's workspaces (`/2.0/user/workspaces`, all pages); `None` when
    /// Bitbucket will not list them.
    async fn workspaces(&self, api: &Api<'_>) -> Result<Option<Vec<String>>> {
        let workspaces = api
            .list(
                format!("{}/2.0/user/workspaces?pagelen=100", self.api),
                &self.api,
                |page| page["values"].as_array().cloned().unwrap_or_default(),
                |answer| answer.body["next"].as_str().map(str::to_owned),
            )
            .await?;
        Ok(workspaces.map(|values| {
            values
                .iter()
                .filter_map(|v| v["workspace"]["slug"].as_str().map(str::to_owned))
                .collect()
        }))
    }

    /// The primary, confirmed address of `/2.0/user/emails` (its pages followed by `next`,
    /// only on the API's own origin).
    async fn verified_email(&self, api: &Api<'_>) -> Result<Option<String>> {
        let mut url = format!("{}/2.0/user/emails?pagelen=100", self.api);
        for _ in 0..MAX_EMAIL_PAGES {
            let answer = api.get(&url).await?;
            if answer.status != reqwest::StatusCode::OK {
                tracing::info!(status = %answer.status, "Bitbucket did not list the account's e-mail addresses");
                return Ok(None);
            }
            let values = answer.body["values"].as_array().cloned().unwrap_or_default();
            if let Some(email) = values
                .iter()
                .find(|e| e["is_primary"] == Value::Bool(true) && e["is_confirmed"] == Value::Bool(true))
                .and_then(|e| e["email"].as_str())
            {
                return Ok(Some(email.to_owned()));
            }
            match answer.body["next"].as_str() {
                // The token goes only where the API is.
                Some(next) if next.starts_with(&format!("{}/", self.api)) => url = next.to_owned(),
                _ => break,
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn nicknames_become_valid_names() {
        assert_eq!(super::usable_name(" Jane Doe "), "Jane_Doe");
        assert_eq!(super::usable_name("a:b"), "a_b");
    }
}
