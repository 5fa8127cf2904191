//! The conversion rules: what each Portus setting becomes here, or why it does not.

use std::collections::HashMap;

use super::env::{self, EXACT, Kind};
use super::{Conversion, Entry, Merged, Outcome, Yaml, leaf_paths, scalar_text, yaml_bool, yaml_u64};
use crate::config::set_path;

mod features;

const UNKNOWN: &str = "not a Portus 2.5 setting: nothing reads it";

/// Applies the rules to one merged Portus configuration.
pub(super) struct Converter<'a> {
    merged: Merged,
    env: &'a [(String, String)],
    config: toml::Table,
    outcomes: HashMap<String, Outcome>,
    attention: Vec<String>,
}

fn mapped(keys: &[&str]) -> Outcome {
    Outcome::Mapped(keys.iter().map(|k| (*k).to_owned()).collect())
}

fn not_needed(reason: impl Into<String>) -> Outcome {
    Outcome::NotNeeded(reason.into())
}

fn unsupported(reason: impl Into<String>) -> Outcome {
    Outcome::Unsupported(reason.into())
}

impl<'a> Converter<'a> {
    pub(super) fn new(merged: Merged, env: &'a [(String, String)]) -> Self {
        Converter {
            merged,
            env,
            config: toml::Table::new(),
            outcomes: HashMap::new(),
            attention: Vec::new(),
        }
    }

    pub(super) fn run(mut self, sources: Vec<String>) -> Conversion {
        self.exact();
        self.address();
        self.ldap();
        self.oauth();
        self.oauth_providers();
        self.security();
        self.background();
        self.sign_up();
        self.anonymous_browsing();
        self.not_carried_over();
        let variables = self.variables();
        self.reminders();
        let mut entries = Vec::new();
        for path in leaf_paths(&self.merged.tree) {
            let outcome = self.outcomes.remove(&path).unwrap_or_else(|| unsupported(UNKNOWN));
            let variable = self
                .merged
                .from_env
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, v)| v.clone());
            entries.push(Entry {
                key: path,
                outcome,
                variable,
            });
        }
        entries.extend(self.merged.ignored_local.iter().map(|path| Entry {
            key: path.clone(),
            outcome: unsupported("not in config.yml, so Portus ignored it too (a misplaced or misspelt key?)"),
            variable: None,
        }));
        entries.extend(variables);
        Conversion {
            config: self.config,
            entries,
            attention: self.attention,
            sources,
        }
    }

    fn get(&self, path: &str) -> Option<&Yaml> {
        let mut parts = path.split('.');
        let first = parts.next()?;
        let mut value = self.merged.tree.get(first)?;
        for part in parts {
            value = value.as_mapping()?.get(part)?;
        }
        Some(value)
    }

    /// Trimmed text at `path`; `None` when absent, empty or not a scalar.
    fn text(&self, path: &str) -> Option<String> {
        self.get(path)
            .and_then(scalar_text)
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
    }

    /// Whether `path` is on, as Portus' `enabled?` decides: only a true value is; anything
    /// else that is not false gets a note.
    fn flag(&mut self, path: &str) -> bool {
        match self.get(path) {
            None => false,
            Some(value) => match yaml_bool(value) {
                Some(on) => on,
                None => {
                    self.attention
                        .push(format!("{path}: not true or false, so off (as Portus read it)"));
                    false
                }
            },
        }
    }

    fn set(&mut self, key: &str, value: toml::Value) {
        set_path(&mut self.config, key, value);
    }

    fn outcome(&mut self, path: &str, outcome: Outcome) {
        self.outcomes.insert(path.to_owned(), outcome);
    }

    /// Gives `outcome` to every setting under `prefix` that has none yet.
    fn under(&mut self, prefix: &str, outcome: Outcome) {
        let nested = format!("{prefix}.");
        for path in leaf_paths(&self.merged.tree) {
            if (path == prefix || path.starts_with(&nested)) && !self.outcomes.contains_key(&path) {
                self.outcomes.insert(path, outcome.clone());
            }
        }
    }

    /// The settings with an exact equivalent.
    fn exact(&mut self) {
        for rule in EXACT.iter().filter(|r| r.portus.contains('.')) {
            let Some(value) = self.get(rule.portus).cloned() else {
                continue;
            };
            match rule.kind.convert(&value) {
                Ok(converted) => {
                    self.set(rule.ours, converted);
                    self.outcome(rule.portus, mapped(&[rule.ours]));
                }
                Err(reason) => self.exact_fallback(rule.portus, rule.ours, rule.kind, &value, &reason),
            }
        }
    }

    /// A value of an exact setting that does not convert: what Portus did with it, or the
    /// default.
    fn exact_fallback(&mut self, portus: &str, ours: &str, kind: Kind, value: &Yaml, reason: &str) {
        let text = scalar_text(value).unwrap_or_default();
        let (fallback, note) = match kind {
            Kind::Bool => (Some(toml::Value::Boolean(false)), "false, as Portus read it".to_owned()),
            Kind::PushPolicy => (
                Some(toml::Value::String("admin-only".into())),
                "admin-only, the closest to Portus' nobody".to_owned(),
            ),
            Kind::SyncStrategy if text.trim() == "on-start" => (
                Some(toml::Value::String("update".into())),
                "update; on-start ran one update-delete at start: run `portus sync --strategy update-delete` once after the switch".to_owned(),
            ),
            _ => (None, "this program's default".to_owned()),
        };
        self.attention.push(format!("{portus}: {reason}; {ours} is {note}"));
        match fallback {
            Some(v) => {
                self.set(ours, v);
                self.outcome(portus, mapped(&[ours]));
            }
            None => self.outcome(portus, unsupported(reason.to_owned())),
        }
    }

    /// `machine_fqdn.value` and `check_ssl_usage.enabled`: the address Portus was reached at.
    fn address(&mut self) {
        let https = self.flag("check_ssl_usage.enabled");
        let scheme = if https { "https" } else { "http" };
        let mut public_url = false;
        if let Some(fqdn) = self.text("machine_fqdn.value") {
            let public = format!("{scheme}://{fqdn}");
            if url::Url::parse(&public).is_ok() {
                self.set("public_url", toml::Value::String(public.clone()));
                public_url = true;
                self.outcome("machine_fqdn.value", mapped(&["token.issuer", "public_url"]));
                self.attention.push(format!(
                    "public_url = \"{public}\": the registry's auth.token.realm was {public}/v2/token; serve this program \
                     there (a reverse proxy to `listen`) or change public_url and the realm together"
                ));
            }
        }
        if https {
            self.set("web.secure_cookies", toml::Value::Boolean(true));
        }
        let keys: &[&str] = match (public_url, https) {
            (true, true) => &["public_url", "web.secure_cookies"],
            (true, false) => &["public_url"],
            (false, true) => &["web.secure_cookies"],
            (false, false) => &[],
        };
        let outcome = if keys.is_empty() {
            not_needed("plain HTTP without a machine_fqdn: this program's defaults")
        } else {
            mapped(keys)
        };
        self.outcome("check_ssl_usage.enabled", outcome);
    }

    fn ldap(&mut self) {
        if !self.flag("ldap.enabled") {
            self.under("ldap", not_needed("LDAP is off (ldap.enabled is not true)"));
            return;
        }
        self.outcome("ldap.enabled", mapped(&["ldap"]));
        for (path, required) in [
            ("hostname", true),
            ("base", true),
            ("admin_base", false),
            ("group_base", false),
            ("filter", false),
            ("uid", false),
        ] {
            let portus = format!("ldap.{path}");
            match self.text(&portus) {
                Some(value) => {
                    self.set(&portus, toml::Value::String(value));
                    self.outcome(&portus, mapped(&[&portus]));
                }
                None if required => {
                    self.set(&portus, toml::Value::String(String::new()));
                    self.outcome(&portus, mapped(&[&portus]));
                    self.attention
                        .push(format!("{portus} is empty: `portus serve` refuses LDAP without it"));
                }
                None => self.outcome(&portus, not_needed("empty, so unset")),
            }
        }
        for (path, least) in [("ldap.port", 1), ("ldap.timeout", 1)] {
            match self.get(path).and_then(yaml_u64).filter(|n| *n >= least) {
                Some(n) if path != "ldap.port" || n <= u64::from(u16::MAX) => {
                    self.set(path, toml::Value::Integer(n as i64));
                    self.outcome(path, mapped(&[path]));
                }
                _ if self.get(path).is_some() => {
                    self.attention
                        .push(format!("{path}: not a valid number; this program's default is used"));
                    self.outcome(path, unsupported("not a valid number"));
                }
                _ => {}
            }
        }
        self.ldap_encryption();
        if self.flag("ldap.authentication.enabled") {
            self.outcome("ldap.authentication.enabled", mapped(&["ldap.authentication"]));
            for key in ["bind_dn", "password"] {
                let path = format!("ldap.authentication.{key}");
                let value = self.text(&path).unwrap_or_default();
                if value.is_empty() {
                    self.attention.push(format!(
                        "{path} is empty: a service account needs a bind_dn and a password (an empty password would bind anonymously)"
                    ));
                }
                self.set(&path, toml::Value::String(value));
                self.outcome(&path, mapped(&[&path]));
            }
        } else {
            self.under(
                "ldap.authentication",
                not_needed(
                    "no service account (authentication.enabled is not true): the search is anonymous, as in Portus",
                ),
            );
        }
        let guess = self.flag("ldap.guess_email.enabled");
        self.set("ldap.guess_email.enabled", toml::Value::Boolean(guess));
        self.outcome("ldap.guess_email.enabled", mapped(&["ldap.guess_email.enabled"]));
        let attr = self.text("ldap.guess_email.attr").unwrap_or_default();
        self.set("ldap.guess_email.attr", toml::Value::String(attr));
        self.outcome("ldap.guess_email.attr", mapped(&["ldap.guess_email.attr"]));
        if self.flag("ldap.group_sync.enabled") {
            let role = self
                .text("ldap.group_sync.default_role")
                .unwrap_or_else(|| "viewer".into());
            self.under(
                "ldap.group_sync",
                unsupported(
                    "Portus added the members of the LDAP group named like each team; here every group → team \
                     mapping is an explicit [[ldap.groups]] entry (see the note above)",
                ),
            );
            self.attention.push(format!(
                "LDAP group sync: add one entry per team whose name is an LDAP group{}: \
                 [[ldap.groups]] cn = \"TEAM\", team = \"TEAM\", role = \"{role}\" (memberships are added at each sign-in; \
                 [ldap.sync] enabled = true also removes who left a group, which Portus never did)",
                if self.text("ldap.group_base").is_some() {
                    ""
                } else {
                    " (a cn needs ldap.group_base, which is empty: or give the group's dn)"
                }
            ));
        } else {
            self.under("ldap.group_sync", not_needed("LDAP group sync is off"));
        }
    }

    fn ldap_encryption(&mut self) {
        let method_text = self.text("ldap.encryption.method").unwrap_or_default();
        let method = match method_text.as_str() {
            "" | "plain" | "none" => "none",
            "start_tls" | "starttls" => "starttls",
            "simple_tls" | "ldaps" => "ldaps",
            other => {
                self.attention.push(format!(
                    "ldap.encryption.method '{other}' is unknown: Portus then used no encryption, and so does this \
                     configuration; set starttls or ldaps"
                ));
                "none"
            }
        };
        self.set("ldap.encryption.method", toml::Value::String(method.into()));
        self.outcome("ldap.encryption.method", mapped(&["ldap.encryption.method"]));
        let ca_path = "ldap.encryption.options.ca_file";
        match self.text(ca_path) {
            Some(ca) if method != "none" => {
                self.set("ldap.encryption.ca_file", toml::Value::String(ca));
                self.outcome(ca_path, mapped(&["ldap.encryption.ca_file"]));
            }
            Some(_) => self.outcome(ca_path, not_needed("no TLS, so no CA file is used (as in Portus)")),
            None => self.outcome(ca_path, not_needed("empty: the system's trusted CAs are used")),
        }
        let version = "ldap.encryption.options.ssl_version";
        match self.text(version).as_deref() {
            None | Some("TLSv1_2" | "TLSv1_3") => self.outcome(version, not_needed("TLS 1.2 or 1.3 is always used")),
            Some(other) => self.outcome(
                version,
                unsupported(format!("{other}: only TLS 1.2 and 1.3 are offered")),
            ),
        }
    }

    fn security(&mut self) {
        for (scanner, keys) in [
            ("clair", &["server", "health_port", "timeout"][..]),
            ("zypper", &["server"][..]),
            ("dummy", &["server"][..]),
        ] {
            let prefix = format!("security.{scanner}");
            if self.text(&format!("{prefix}.server")).is_none() {
                self.under(&prefix, not_needed(format!("off: {prefix}.server is empty")));
                continue;
            }
            for key in keys {
                let path = format!("{prefix}.{key}");
                let value = match (*key, self.get(&path)) {
                    ("server", _) => self.text(&path).map(toml::Value::String),
                    (_, Some(v)) => yaml_u64(v).map(|n| toml::Value::Integer(n as i64)),
                    (_, None) => continue,
                };
                match value {
                    Some(value) => {
                        self.set(&path, value);
                        self.outcome(&path, mapped(&[&path]));
                    }
                    None => {
                        self.attention
                            .push(format!("{path}: not a number; this program's default is used"));
                        self.outcome(&path, unsupported("not a number"));
                    }
                }
            }
        }
    }

    fn background(&mut self) {
        if self.get("background.registry.enabled").is_some() {
            let outcome = if self.flag("background.registry.enabled") {
                not_needed("`portus serve` always applies the registry's notifications")
            } else {
                unsupported(
                    "notifications are always applied: to ignore them, remove the endpoint from the registry's notifications",
                )
            };
            self.outcome("background.registry.enabled", outcome);
        }
        if self.get("background.sync.enabled").is_some() {
            let interval = if self.flag("background.sync.enabled") { 600 } else { 0 };
            self.set("sync.interval_secs", toml::Value::Integer(interval));
            self.outcome("background.sync.enabled", mapped(&["sync.interval_secs"]));
        }
    }

    /// `PORTUS_*` variables that are not `config.yml` paths.
    fn variables(&mut self) -> Vec<Entry> {
        let config_variables: Vec<String> = leaf_paths(&self.merged.tree)
            .iter()
            .map(|p| env::portus_variable(p))
            .collect();
        let mut entries = Vec::new();
        for (name, raw) in self.env {
            if config_variables.contains(name) || env::is_ours(name) {
                continue;
            }
            let outcome = match EXACT.iter().find(|r| r.portus == name.as_str()) {
                Some(rule) => match rule.kind.convert(&env::cconfig_value(raw)) {
                    Ok(value) => {
                        self.set(rule.ours, value);
                        mapped(&[rule.ours])
                    }
                    Err(reason) => {
                        self.attention.push(format!("{name}: {reason}"));
                        unsupported(reason)
                    }
                },
                None => env::other_variable_outcome(name),
            };
            entries.push(Entry {
                key: name.clone(),
                outcome,
                variable: Some(name.clone()),
            });
        }
        let env = self.env;
        let var = |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.trim().to_owned());
        if let Some(hostname) = var("PORTUS_INIT_REGISTRY_HOSTNAME").filter(|h| !h.is_empty()) {
            let ssl = var("PORTUS_INIT_REGISTRY_USE_SSL").is_some_and(|v| v.eq_ignore_ascii_case("true"));
            self.set("token.service", toml::Value::String(hostname.clone()));
            let url = format!("{}://{hostname}", if ssl { "https" } else { "http" });
            if url::Url::parse(&url).is_ok() {
                self.set("registry.url", toml::Value::String(url));
            }
        }
        if var("PORTUS_DB_HOST").is_some() || var("PORTUS_DB_DATABASE").is_some() {
            let scheme = match var("PORTUS_DB_ADAPTER").as_deref() {
                Some("postgresql") => "postgres",
                _ => "mysql",
            };
            let port = var("PORTUS_DB_PORT").map(|p| format!(":{p}")).unwrap_or_default();
            self.attention.push(format!(
                "Portus' database: `portus import portus --dry-run --database {scheme}://{}:$PORTUS_DB_PASSWORD@{}{port}/{}` \
                 (docs/migrating-from-portus.md)",
                var("PORTUS_DB_USERNAME").unwrap_or_else(|| "portus".into()),
                var("PORTUS_DB_HOST").unwrap_or_else(|| "localhost".into()),
                var("PORTUS_DB_DATABASE").unwrap_or_else(|| "portus_production".into()),
            ));
        }
        entries
    }

    /// Notes about what a Portus configuration never says but this program needs.
    fn reminders(&mut self) {
        let has = |config: &toml::Table, section: &str, key: &str| {
            config
                .get(section)
                .and_then(toml::Value::as_table)
                .is_some_and(|t| t.contains_key(key))
        };
        if !has(&self.config, "token", "service") {
            self.attention.push(
                "token.service: set it to the registry's auth.token.service, which for Portus was the registry's \
                 hostname (e.g. registry.example.org:5000; `portus import portus` reports it)"
                    .into(),
            );
        }
        if !has(&self.config, "token", "key") {
            self.attention.push(
                "token.key: set it to Portus' signing key (PORTUS_KEY_PATH) so the registry accepts this program's \
                 tokens unchanged; without it a new key is generated and the registry's rootcertbundle must change"
                    .into(),
            );
        }
        if !has(&self.config, "registry", "url") {
            self.attention
                .push("registry.url: the registry's API URL, for catalog sync, tag deletion and scanning".into());
        }
    }
}
