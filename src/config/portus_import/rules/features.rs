//! The rules for Portus features: sign-in providers, and what this program does not have or
//! has without a setting.

use super::{Converter, mapped, not_needed, unsupported};
use crate::config::portus_import::Outcome;

impl Converter<'_> {
    /// `oauth.*`: OpenID Connect is carried over, the other providers are not.
    pub(super) fn oauth(&mut self) {
        if self.get("oauth.local_login.enabled").is_some() {
            let outcome = if self.flag("oauth.local_login.enabled") {
                not_needed("the password sign-in is offered by default (web.local_login = true)")
            } else if self.flag("oauth.openid_connect.enabled") {
                self.set("web.local_login", toml::Value::Boolean(false));
                mapped(&["web.local_login"])
            } else {
                unsupported(
                    "only OpenID Connect can replace the password sign-in here (web.local_login = false needs \
                     [web.oidc]); Portus' other providers are not carried over",
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
        for (provider, reason) in [
            (
                "google_oauth2",
                "Google sign-in: Google is an OpenID Connect provider ([web.oidc] issuer = \"https://accounts.google.com\"), \
                 but Portus' domain/hd restriction has no equivalent: set web.oidc.create_users = false and create the users",
            ),
            ("open_id", "OpenID 2.0 is not supported; OpenID Connect ([web.oidc]) is"),
            (
                "github",
                "GitHub sign-in with its organization/team check is not supported: use LDAP or an OpenID Connect provider",
            ),
            (
                "gitlab",
                "GitLab sign-in with its group check is not supported: GitLab is an OpenID Connect provider \
                 ([web.oidc] issuer = the GitLab URL), without the group check",
            ),
            (
                "bitbucket",
                "Bitbucket sign-in with its team check is not supported: use LDAP or an OpenID Connect provider",
            ),
        ] {
            let prefix = format!("oauth.{provider}");
            if self.flag(&format!("{prefix}.enabled")) {
                self.under(&prefix, unsupported(reason));
                self.attention
                    .push(format!("{prefix} was on and is not carried over: {reason}"));
            } else {
                self.under(&prefix, not_needed(format!("{provider} sign-in is off")));
            }
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

    /// Portus features this program does not have, or has without a setting.
    pub(super) fn not_carried_over(&mut self) {
        let rules: [(&str, Outcome, Outcome); 6] = [
            (
                "gravatar.enabled",
                unsupported("no avatars: the pages show none and never contact Gravatar"),
                not_needed("no avatars here either"),
            ),
            (
                "delete.garbage_collector.enabled",
                unsupported(
                    "no garbage collector: delete old tags with `portus tag delete` or the API; blobs are the \
                     registry's own garbage-collect",
                ),
                not_needed("the garbage collector is off; this program has none"),
            ),
            (
                "display_name.enabled",
                unsupported("display names are not shown: the pages show user names"),
                not_needed("the pages show user names, as with display names off"),
            ),
            (
                "anonymous_browsing.enabled",
                unsupported(
                    "no anonymous explore page: visitors sign in to browse; anonymous pulls of public namespaces \
                     still work (policy.anonymous_pull)",
                ),
                not_needed("anonymous visitors cannot browse here either"),
            ),
            (
                "user_permission.create_webhook.enabled",
                unsupported("outgoing webhooks are not available here yet"),
                unsupported("outgoing webhooks are not available here yet"),
            ),
            (
                "user_permission.manage_webhook.enabled",
                unsupported("outgoing webhooks are not available here yet"),
                unsupported("outgoing webhooks are not available here yet"),
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
