//! GitLab.com or a self-managed GitLab at base URL B (relative URL root included):
//! `B/oauth/authorize` and `B/oauth/token` with PKCE, the account from `B/api/v4/user`, its
//! e-mail and verification from `B/oauth/userinfo` (`email_verified`; `/api/v4/user` says
//! nothing reliable about it) together with `groups` (full paths). The identity is
//! `(gitlab, B, id)`: ids are per instance. With `group`, the account must be a member of it,
//! inherited memberships included (`B/api/v4/groups/:full_path/members/all/:id`, one call;
//! never a list of groups matched by name, which administrators see entirely).

use std::sync::Arc;
use std::time::Duration;

use portus_core::PolicyStore;
use portus_core::model::ExternalIdentity;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::github::{default_timeout, default_true};
use super::{Api, Endpoints, ExternalProfile, GroupTeam, Kind, OAuthProvider, Profiler, Registration, SignInRules};
use crate::error::Result;

/// gitlab.com, the default base URL.
pub const GITLAB_COM: &str = "https://gitlab.com";

/// The `[web.gitlab]` section.
///
/// ```
/// use portus_auth::oauth::gitlab::GitlabSettings;
///
/// let settings: GitlabSettings = serde_json::from_str(
///     r#"{"client_id": "c", "client_secret": "s", "base_url": "https://git.example.org/gitlab", "group": "acme/ops"}"#,
/// ).unwrap();
/// assert!(settings.validate().is_ok());
/// ```
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GitlabSettings {
    /// The application's ID.
    pub client_id: String,
    /// The application's secret.
    pub client_secret: String,
    /// `https://gitlab.com` or the self-managed instance's URL (with its relative root).
    #[serde(default = "default_base")]
    pub base_url: String,
    /// Only members of this group (its full path, e.g. `acme/ops`; inherited membership
    /// counts) may sign in.
    #[serde(default)]
    pub group: Option<String>,
    /// Name on the sign-in button ("Sign in with ...").
    #[serde(default = "default_name")]
    pub name: String,
    /// Create a local user at an account's first sign-in.
    #[serde(default = "default_true")]
    pub create_users: bool,
    /// When not empty, the verified e-mail's domain must be one of these.
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// When not empty, only members of one of these groups (full path) may sign in.
    #[serde(default)]
    pub required_groups: Vec<String>,
    /// Groups (full path) to teams and roles, re-applied at every sign-in.
    #[serde(default)]
    pub teams: Vec<GroupTeam>,
    /// Members of this group (full path) are administrators; others signing in this way are not.
    #[serde(default)]
    pub admin_group: Option<String>,
    /// Time limit of each request to GitLab, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

impl std::fmt::Debug for GitlabSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitlabSettings")
            .field("client_id", &self.client_id)
            .field("base_url", &self.base_url)
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

fn default_base() -> String {
    GITLAB_COM.into()
}
fn default_name() -> String {
    "GitLab".into()
}

impl GitlabSettings {
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
            "gitlab",
            &self.client_id,
            &self.client_secret,
            self.timeout_secs,
            &self.rules(),
        )?;
        super::check_base_url("web.gitlab.base_url", &self.base_url)?;
        if let Some(group) = &self.group
            && (group.is_empty()
                || group.starts_with('/')
                || group.ends_with('/')
                || group.contains(char::is_whitespace))
        {
            return Err(format!(
                "web.gitlab.group '{group}': the group's full path, e.g. 'acme/ops'"
            ));
        }
        Ok(())
    }

    /// The provider, sending the browser back to `redirect_url`
    /// (`{public_url}/sign_in/gitlab/callback`).
    pub fn provider(&self, redirect_url: String, store: Arc<dyn PolicyStore>) -> Result<OAuthProvider> {
        let base = super::trim_base(&self.base_url);
        let mut scopes: Vec<String> = ["read_user", "openid", "email"].map(String::from).to_vec();
        if self.group.is_some() {
            // The members API; never `api` (write access).
            scopes.push("read_api".into());
        }
        OAuthProvider::new(
            Kind::Gitlab,
            Registration {
                client_id: &self.client_id,
                client_secret: &self.client_secret,
                redirect_url,
                timeout: Duration::from_secs(self.timeout_secs),
            },
            Endpoints {
                authorize_url: format!("{base}/oauth/authorize"),
                token_url: format!("{base}/oauth/token"),
                scopes,
                pkce: true,
                basic_auth: false,
            },
            Profiler::Gitlab(Gitlab {
                base,
                group: self.group.clone(),
            }),
            self.rules(),
            store,
        )
    }
}

/// The GitLab-specific part of a sign-in.
#[derive(Debug)]
pub(super) struct Gitlab {
    base: String,
    group: Option<String>,
}

impl Gitlab {
    pub(super) async fn profile(&self, api: &Api<'_>) -> Result<ExternalProfile> {
        let base = &self.base;
        let user = api.get_ok(&format!("{base}/api/v4/user"), "the account").await?;
        let Some(id) = user["id"].as_u64() else {
            return Err(api.refused("/api/v4/user has no numeric id"));
        };
        let info = api.get_ok(&format!("{base}/oauth/userinfo"), "userinfo").await?;
        if info["sub"].as_str() != Some(id.to_string().as_str()) {
            return Err(api.refused(format!("userinfo 'sub' {} is not account {id}", info["sub"])));
        }
        if let Some(group) = &self.group {
            let path: String = url::form_urlencoded::byte_serialize(group.as_bytes()).collect();
            let member = api
                .get(&format!("{base}/api/v4/groups/{path}/members/all/{id}"))
                .await?;
            if member.status != reqwest::StatusCode::OK
                || member.body["id"].as_u64() != Some(id)
                || member.body["state"] != "active"
            {
                return Err(api.refused(format!(
                    "account {id} is not an active member of the group '{group}' ({}, state {})",
                    member.status, member.body["state"]
                )));
            }
        }
        let verified_email = info["email"]
            .as_str()
            .filter(|_| info["email_verified"] == Value::Bool(true))
            .map(str::to_owned);
        let groups = info["groups"]
            .as_array()
            .map(|groups| groups.iter().filter_map(|g| g.as_str().map(str::to_owned)).collect());
        Ok(ExternalProfile {
            identity: ExternalIdentity::new("gitlab", base.as_str(), id.to_string()),
            preferred_username: user["username"].as_str().map(str::to_owned),
            verified_email,
            groups,
            imported_as: Some(ExternalIdentity::new("gitlab", "", id.to_string())),
        })
    }
}
