//! `[web]`: the web pages and their sign-in providers. `[web.oidc]` is
//! `portus_auth::oidc::OidcSettings`; `[web.github]`, `[web.gitlab]`, `[web.bitbucket]` are the
//! providers' own types in `portus_auth::oauth`; in a build without the `oidc` feature each is
//! an [`super::Unsupported`] table, refused when present.

use serde::{Deserialize, Deserializer, Serialize};

use super::named_section;
use crate::Error;

/// `[web.oidc]`: the OpenID Connect sign-in's own section.
#[cfg(feature = "oidc")]
pub type OidcSettings = portus_auth::oidc::OidcSettings;
/// `[web.oidc]`: this build has no OpenID Connect (feature `oidc`), so the section is refused.
#[cfg(not(feature = "oidc"))]
pub type OidcSettings = super::Unsupported;

/// `[web.google]`: sign in with Google.
#[cfg(feature = "oidc")]
pub type GoogleSettings = portus_auth::oidc::GoogleSettings;
/// `[web.google]`: this build has no external sign-in (feature `oidc`).
#[cfg(not(feature = "oidc"))]
pub type GoogleSettings = super::Unsupported;

/// `[web.github]`: GitHub or GitHub Enterprise Server.
#[cfg(feature = "oidc")]
pub type GithubSettings = portus_auth::oauth::github::GithubSettings;
/// `[web.gitlab]`: GitLab.com or a self-managed GitLab.
#[cfg(feature = "oidc")]
pub type GitlabSettings = portus_auth::oauth::gitlab::GitlabSettings;
/// `[web.bitbucket]`: Bitbucket Cloud.
#[cfg(feature = "oidc")]
pub type BitbucketSettings = portus_auth::oauth::bitbucket::BitbucketSettings;
/// `[web.github]`: this build has no external sign-in (feature `oidc`).
#[cfg(not(feature = "oidc"))]
pub type GithubSettings = super::Unsupported;
/// `[web.gitlab]`: this build has no external sign-in (feature `oidc`).
#[cfg(not(feature = "oidc"))]
pub type GitlabSettings = super::Unsupported;
/// `[web.bitbucket]`: this build has no external sign-in (feature `oidc`).
#[cfg(not(feature = "oidc"))]
pub type BitbucketSettings = super::Unsupported;

/// The web pages (served when the `web` feature is built in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSettings {
    /// Serve the pages under `/`.
    pub enabled: bool,
    /// Seconds a sign-in session lives after its last use.
    pub session_secs: u64,
    /// `Secure` cookies; default: when `public_url` is `https://`. Set it to `true` behind a
    /// TLS-terminating proxy that forwards plain HTTP.
    pub secure_cookies: Option<bool>,
    /// People may create their own accounts at `/sign_up` (Portus' `signup.enabled`); not
    /// with `[ldap]`.
    pub signup: bool,
    /// Visitors who have not signed in may browse the public namespaces' repositories at
    /// `/explore` (Portus' `anonymous_browsing`, on by default); `false` sends them to sign in.
    pub anonymous_browsing: bool,
    /// The password form on the sign-in page (Portus' `oauth.local_login`); `false` leaves
    /// the external providers only (then one is required and sign-up is off).
    pub local_login: bool,
    /// Sign in with OpenID Connect (feature `oidc`), off when absent.
    #[serde(deserialize_with = "oidc_section")]
    pub oidc: Option<OidcSettings>,
    /// Sign in with Google (feature `oidc`), off when absent.
    #[serde(deserialize_with = "google_section")]
    pub google: Option<GoogleSettings>,
    /// Sign in with GitHub (feature `oidc`), off when absent.
    #[serde(deserialize_with = "github_section")]
    pub github: Option<GithubSettings>,
    /// Sign in with GitLab (feature `oidc`), off when absent.
    #[serde(deserialize_with = "gitlab_section")]
    pub gitlab: Option<GitlabSettings>,
    /// Sign in with Bitbucket Cloud (feature `oidc`), off when absent.
    #[serde(deserialize_with = "bitbucket_section")]
    pub bitbucket: Option<BitbucketSettings>,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            enabled: true,
            session_secs: 8 * 3600,
            secure_cookies: None,
            signup: false,
            anonymous_browsing: true,
            local_login: true,
            oidc: None,
            google: None,
            github: None,
            gitlab: None,
            bitbucket: None,
        }
    }
}

/// Reads the `[web.oidc]` section through a table so that its errors name it.
pub(super) fn oidc_section<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<OidcSettings>, D::Error> {
    named_section(deserializer, "[web.oidc]")
}

pub(super) fn google_section<'de, D: Deserializer<'de>>(d: D) -> Result<Option<GoogleSettings>, D::Error> {
    named_section(d, "[web.google]")
}

pub(super) fn github_section<'de, D: Deserializer<'de>>(d: D) -> Result<Option<GithubSettings>, D::Error> {
    named_section(d, "[web.github]")
}

pub(super) fn gitlab_section<'de, D: Deserializer<'de>>(d: D) -> Result<Option<GitlabSettings>, D::Error> {
    named_section(d, "[web.gitlab]")
}

pub(super) fn bitbucket_section<'de, D: Deserializer<'de>>(d: D) -> Result<Option<BitbucketSettings>, D::Error> {
    named_section(d, "[web.bitbucket]")
}

impl WebSettings {
    /// Whether some external provider (OpenID Connect, Google, GitHub, GitLab, Bitbucket) is
    /// set up, so that people can sign in without the password form.
    pub fn external_sign_in(&self) -> bool {
        self.oidc.is_some()
            || self.google.is_some()
            || self.github.is_some()
            || self.gitlab.is_some()
            || self.bitbucket.is_some()
    }

    /// Checks the Google, GitHub, GitLab and Bitbucket sections.
    pub(super) fn validate_sign_in(&self) -> Result<(), Error> {
        #[cfg(feature = "oidc")]
        {
            let google = self
                .google
                .as_ref()
                .map(|g| g.validate().map_err(|e| format!("[web.google]: {e}")));
            let checks = [
                google,
                self.github.as_ref().map(GithubSettings::validate),
                self.gitlab.as_ref().map(GitlabSettings::validate),
                self.bitbucket.as_ref().map(BitbucketSettings::validate),
            ];
            for check in checks.into_iter().flatten() {
                check.map_err(Error::Config)?;
            }
        }
        #[cfg(not(feature = "oidc"))]
        for (section, present) in [
            ("google", self.google.is_some()),
            ("github", self.github.is_some()),
            ("gitlab", self.gitlab.is_some()),
            ("bitbucket", self.bitbucket.is_some()),
        ] {
            if present {
                return Err(Error::Config(format!(
                    "[web.{section}]: this build has no external sign-in support (feature `oidc`)"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, "test", Vec::new()).map_err(|e| e.to_string())
    }

    #[cfg(feature = "oidc")]
    #[test]
    fn provider_sections_are_read_and_checked() {
        let config = parse(
            "[web]\nlocal_login = false\n[web.github]\nclient_id = \"c\"\nclient_secret = \"s\"\norganization = \"acme\"\nteam = \"ops\"\n\
             [web.gitlab]\nclient_id = \"c\"\nclient_secret = \"s\"\nbase_url = \"https://git.example.org/gitlab\"\ngroup = \"acme/ops\"\n\
             [web.bitbucket]\nclient_id = \"c\"\nclient_secret = \"s\"\nworkspace = \"acme\"\nallowed_domains = [\"example.org\"]",
        )
        .unwrap();
        let github = config.web.github.unwrap();
        assert_eq!(
            (github.team.as_deref(), github.base_url.as_str()),
            (Some("ops"), "https://github.com")
        );
        assert_eq!(config.web.gitlab.unwrap().group.as_deref(), Some("acme/ops"));
        assert_eq!(config.web.bitbucket.unwrap().allowed_domains, vec!["example.org"]);

        let cases = [
            (
                "[web.github]\nclient_id = \"c\"\nclient_secret = \"s\"\nteem = \"x\"",
                "[web.github]: unknown field `teem`",
            ),
            (
                "[web.github]\nclient_id = \"c\"",
                "[web.github]: missing field `client_secret`",
            ),
            (
                "[web.github]\nclient_id = \"c\"\nclient_secret = \"s\"\nteam = \"ops\"",
                "web.github.team needs web.github.organization",
            ),
            (
                "[web.github]\nclient_id = \"\"\nclient_secret = \"s\"",
                "[web.github] client_id must not be empty",
            ),
            (
                "[web.gitlab]\nclient_id = \"c\"\nclient_secret = \"s\"\nbase_url = \"gitlab.example.org\"",
                "web.gitlab.base_url",
            ),
            (
                "[web.gitlab]\nclient_id = \"c\"\nclient_secret = \"s\"\ngroup = \"/acme\"",
                "web.gitlab.group '/acme'",
            ),
            (
                "[web.bitbucket]\nclient_id = \"c\"\nclient_secret = \"s\"\nworkspace = \"a b\"",
                "web.bitbucket.workspace 'a b'",
            ),
            (
                "[web.bitbucket]\nclient_id = \"c\"\nclient_secret = \"s\"\nallowed_domains = [\"@x.org\"]",
                "allowed_domains: \"@x.org\" is not a domain name",
            ),
            (
                "[web.bitbucket]\nclient_id = \"c\"\nclient_secret = \"s\"\ntimeout_secs = 0",
                "timeout_secs must be between 1 and 300",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn local_login_off_needs_some_external_provider() {
        let error = parse("[web]\nlocal_login = false").unwrap_err();
        assert!(error.contains("web.local_login = false needs"), "{error}");
        #[cfg(feature = "oidc")]
        assert!(parse("[web]\nlocal_login = false\n[web.gitlab]\nclient_id = \"c\"\nclient_secret = \"s\"").is_ok());
    }
}
