//! The rules for Portus features: sign-in providers, and what this program does not have or
//! has without a setting.

use super::{Converter, mapped, not_needed, unsupported};
use crate::config::portus_import::Outcome;

impl Converter<'_> {
    /// `oauth.*`: OpenID Connect, Google, GitHub, GitLab and Bitbucket are carried over,
    /// OpenID 2.0 is not.
    pub(super) fn oauth(&mut self) {
        if self.get("oauth.local_login.enabled").is_some() {
            let outcome = if self.flag("oauth.local_login.enabled") {
                not_needed("the password sign-in is offered by default (web.local_login = true)")
            } else if ["openid_connect", "google_oauth2", "github", "gitlab", "bitbucket"]
                .iter()
                .any(|p| self.flag(&format!("oauth.{p}.enabled")))
            {
                self.set("web.local_login", toml::Value::Boolean(false));
                mapped(&["web.local_login"])
            } else {
                unsupported(
                    "only OpenID Connect, Google, GitHub, GitLab or Bitbucket can replace the password sign-in \
                     here (web.local_login = false needs one of them); OpenID 2.0 is not carried over",
                )
            };
            self.outcome("oauth.local_login.enabled", outcome);
        }
        if self.flag("oauth.openid_connect.enabled") {
            self.outcome("oauth.openid_connect.enabled", mapped(&["web.oidc"]));
            for (portus, ours) in [
                ("issuer", "web.oidc.issuer"),
                ("identifier", "web.oidc.client_id"),
                ("secret", "web.oidc.client_secret"),
            ] {
                let path = format!("oauth.openid_connect.{portus}");
                match self.text(&path) {
                    Some(value) => {
                        self.set(ours, toml::Value::String(value));
                        self.outcome(&path, mapped(&[ours]));
                    }
                    None if portus == "secret" => self.outcome(&path, not_needed("empty: a public client")),
                    None => {
                        self.set(ours, toml::Value::String(String::new()));
                        self.outcome(&path, mapped(&[ours]));
                        self.attention.push(format!("{path} is empty: [web.oidc] needs it"));
                    }
                }
            }
            self.attention.push(
                "OpenID Connect: register <public_url>/sign_in/oidc/callback at the provider (Portus used \
                 /users/auth/openid_connect/callback); new users are named by the preferred_username claim \
                 (web.oidc.username_claim) where Portus let them choose. Accounts are found by the provider's \
                 subject, never by name or e-mail: those Portus created at an OpenID Connect sign-up keep \
                 theirs (imported with it), the others are linked with `portus user link-identity`"
                    .into(),
            );
        } else {
            self.under("oauth.openid_connect", not_needed("OpenID Connect sign-in is off"));
        }
        self.google();
        let reason = "OpenID 2.0 is not supported; OpenID Connect ([web.oidc]) is";
        if self.flag("oauth.open_id.enabled") {
            self.under("oauth.open_id", unsupported(reason));
            self.attention
                .push(format!("oauth.open_id was on and is not carried over: {reason}"));
        } else {
            self.under("oauth.open_id", not_needed("open_id sign-in is off"));
        }
    }

    /// `oauth.google_oauth2`: carried over as `[web.google]`; Portus' e-mail `domain` and its
    /// `options.hd` hint both become `hosted_domains`, enforced on the ID token's `hd` claim.
    fn google(&mut self) {
        let prefix = "oauth.google_oauth2";
        if !self.flag(&format!("{prefix}.enabled")) {
            self.under(prefix, not_needed("google_oauth2 sign-in is off"));
            return;
        }
        self.outcome(&format!("{prefix}.enabled"), mapped(&["web.google"]));
        for (portus, ours) in [("id", "web.google.client_id"), ("secret", "web.google.client_secret")] {
            let path = format!("{prefix}.{portus}");
            let value = self.text(&path);
            if value.is_none() {
                self.attention.push(format!("{path} is empty: [web.google] needs it"));
            }
            self.set(ours, toml::Value::String(value.unwrap_or_default()));
            self.outcome(&path, mapped(&[ours]));
        }
        let mut domains = Vec::new();
        for key in ["domain", "options.hd"] {
            let path = format!("{prefix}.{key}");
            match self.text(&path) {
                Some(domain) => {
                    if !domains.contains(&domain) {
                        domains.push(domain);
                    }
                    self.outcome(&path, mapped(&["web.google.hosted_domains"]));
                }
                None => self.outcome(&path, not_needed("empty: no restriction")),
            }
        }
        if !domains.is_empty() {
            let values = domains.into_iter().map(toml::Value::String).collect();
            self.set("web.google.hosted_domains", toml::Value::Array(values));
        }
        self.attention.push(
            "Google: register <public_url>/sign_in/google/callback (Portus used /users/auth/google_oauth2/callback). \
             A domain restriction is now checked on the ID token's hd claim, so only Google Workspace accounts of \
             that domain pass (Portus compared the e-mail address, which a consumer account can also carry). \
             Accounts are found by Google's subject, never by e-mail: those Portus created at a Google sign-up keep \
             theirs (imported with it), the others are linked with `portus user link-identity`"
                .into(),
        );
    }

    /// `oauth.github`, `oauth.gitlab`, `oauth.bitbucket`: carried over as `[web.github]`,
    /// `[web.gitlab]`, `[web.bitbucket]`, with notes where Portus matched by name what is
    /// matched here by a stable key.
    pub(super) fn oauth_providers(&mut self) {
        type Keys = &'static [(&'static str, &'static str)];
        let providers: [(&str, &str, Keys, &str); 3] = [
            (
                "github",
                "GitHub",
                &[
                    ("client_id", "client_id"),
                    ("client_secret", "client_secret"),
                    ("organization", "organization"),
                    ("team", "team"),
                ],
                "oauth.github.team is now the team's slug (Portus compared the team's display name): check it",
            ),
            (
                "gitlab",
                "GitLab",
                &[
                    ("application_id", "client_id"),
                    ("secret", "client_secret"),
                    ("group", "group"),
                    ("server", "base_url"),
                ],
                "oauth.gitlab.group is now the group's full path, e.g. acme/ops (Portus compared its name, and a \
                 GitLab administrator always passed): check it; register the application with the scopes \
                 read_user, openid, email (and read_api with a group)",
            ),
            (
                "bitbucket",
                "Bitbucket",
                &[
                    ("key", "client_id"),
                    ("secret", "client_secret"),
                    ("options.team", "workspace"),
                ],
                "oauth.bitbucket.options.team is now a workspace slug (Bitbucket teams became workspaces; Portus' \
                 team check no longer worked since 2020): check it; the consumer needs Account and Email read",
            ),
        ];
        for (provider, name, keys, note) in providers {
            let prefix = format!("oauth.{provider}");
            if !self.flag(&format!("{prefix}.enabled")) {
                self.under(&prefix, not_needed(format!("{provider} sign-in is off")));
                continue;
            }
            self.outcome(&format!("{prefix}.enabled"), mapped(&[&format!("web.{provider}")]));
            for (portus, ours) in keys {
                let (path, key) = (format!("{prefix}.{portus}"), format!("web.{provider}.{ours}"));
                match self.text(&path) {
                    Some(value) => {
                        self.set(&key, toml::Value::String(value));
                        self.outcome(&path, mapped(&[&key]));
                    }
                    None if ours.starts_with("client_") => {
                        self.set(&key, toml::Value::String(String::new()));
                        self.outcome(&path, mapped(&[&key]));
                        self.attention
                            .push(format!("{path} is empty: [web.{provider}] needs it"));
                    }
                    None => self.outcome(&path, not_needed("empty: no restriction")),
                }
            }
            let domain_path = format!("{prefix}.domain");
            match self.text(&domain_path) {
                Some(domain) => {
                    let key = format!("web.{provider}.allowed_domains");
                    self.set(&key, toml::Value::Array(vec![toml::Value::String(domain)]));
                    self.outcome(&domain_path, mapped(&[&key]));
                }
                None => self.outcome(&domain_path, not_needed("empty: no restriction")),
            }
            self.attention.push(format!(
                "{name}: register <public_url>/sign_in/{provider}/callback (Portus used \
                 /users/auth/{provider}/callback). Accounts are found by the {name} account's id, never by \
                 e-mail as Portus did: those Portus created at a {name} sign-up keep theirs (imported with \
                 it), the others are linked with `portus user link-identity`. {note}"
            ));
        }
    }

    /// `signup.enabled` and `first_user_admin.enabled`: carried over as `web.signup` (never
    /// with LDAP, as in Portus) and `auth.first_user_admin`.
    pub(super) fn sign_up(&mut self) {
        if self.get("signup.enabled").is_some() {
            let outcome = if !self.flag("signup.enabled") {
                not_needed("sign-up is off here too (web.signup = false, the default)")
            } else if self.flag("ldap.enabled") {
                not_needed("Portus turns sign-up off under LDAP; so does this program")
            } else if self.get("oauth.local_login.enabled").is_some() && !self.flag("oauth.local_login.enabled") {
                not_needed("without the password sign-in there is no sign-up here")
            } else {
                self.set("web.signup", toml::Value::Boolean(true));
                mapped(&["web.signup"])
            };
            self.under("signup", outcome);
        }
        if self.get("first_user_admin.enabled").is_some() {
            let on = self.flag("first_user_admin.enabled");
            self.set("auth.first_user_admin", toml::Value::Boolean(on));
            self.under("first_user_admin", mapped(&["auth.first_user_admin"]));
        }
    }

    /// `anonymous_browsing.enabled`: carried over as `web.anonymous_browsing` (the `/explore`
    /// page for visitors who have not signed in).
    pub(super) fn anonymous_browsing(&mut self) {
        if self.get("anonymous_browsing.enabled").is_some() {
            let on = self.flag("anonymous_browsing.enabled");
            self.set("web.anonymous_browsing", toml::Value::Boolean(on));
            self.under("anonymous_browsing", mapped(&["web.anonymous_browsing"]));
        }
    }

    /// Portus features this program does not have, or has without a setting.
    pub(super) fn not_carried_over(&mut self) {
        let rules: [(&str, Outcome, Outcome); 3] = [
            (
                "gravatar.enabled",
                unsupported("no avatars: the pages show none and never contact Gravatar"),
                not_needed("no avatars here either"),
            ),
            (
                "delete.garbage_collector.enabled",
                unsupported(
                    "no garbage collector as Portus': its keep_latest counted every tag of the installation \
                     and it deleted sibling tags; write [[retention.rules]] per namespace or repository \
                     instead (keep_latest per repository, older_than_days, protect/include globs; \
                     `portus retention --dry-run` shows the plan); blobs are the registry's own garbage-collect",
                ),
                not_needed("the garbage collector is off; retention here is off until [[retention.rules]] are written"),
            ),
            (
                "display_name.enabled",
                unsupported("display names are not shown: the pages show user names"),
                not_needed("the pages show user names, as with display names off"),
            ),
        ];
        for (path, on, off) in rules {
            if self.get(path).is_some() {
                let outcome = if self.flag(path) { on } else { off };
                let group = path.strip_suffix(".enabled").unwrap_or(path);
                self.under(group, outcome);
            }
        }
        self.under(
            "email",
            unsupported(
                "not carried over: write [email] by hand, smtp_url = \"smtp://USER:PASSWORD@ADDRESS:PORT\" \
                 (smtps:// for TLS from the start) and from = \"NAME <ADDRESS>\", to mail password resets",
            ),
        );
        self.under(
            "pagination",
            unsupported("the pages show 50 rows per page; API clients choose per_page with each request"),
        );
    }
}
