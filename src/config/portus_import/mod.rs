//! Converting a SUSE Portus configuration into this program's TOML.
//!
//! Portus reads `config/config.yml` (its defaults), overrides it with
//! `config/config-local.yml` (deep merge; keys that `config.yml` does not have are ignored) and
//! then with `PORTUS_<YAML PATH IN UPPER CASE>` variables (`true`/`false` and integers typed,
//! the rest text) — the `cconfig` gem's rules, followed here. [`convert`] does the same and
//! gives this program's configuration for the result: every Portus key is carried over
//! ([`Outcome::Mapped`]), not needed here ([`Outcome::NotNeeded`]) or not supported
//! ([`Outcome::Unsupported`]), each with its reason. Pure: the caller reads the files and the
//! environment (`portus config import-portus`).
//!
//! [`startup_environment`] is what `portus serve` does with Portus' variables, and
//! [`portus_setting_in`] recognises Portus settings given to this program's loader.

mod env;
mod render;
mod rules;

pub use env::{EnvNote, NoteLevel, StartupEnv, portus_variable, portus_variables, startup_environment};

use serde_yaml_ng::{Mapping, Value as Yaml};

use crate::Error;

/// Portus 2.5's `config/config.yml`, every key with its default value.
pub const PORTUS_DEFAULTS: &str = include_str!("portus-2.5-config.yml");

/// The top-level sections of Portus' `config.yml` this program has none of.
const PORTUS_ONLY_SECTIONS: &[&str] = &[
    "gravatar",
    "delete",
    "oauth",
    "first_user_admin",
    "signup",
    "check_ssl_usage",
    "machine_fqdn",
    "display_name",
    "user_permission",
    "anonymous_browsing",
    "background",
    "pagination",
];

/// What became of one Portus setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Carried over into these keys of this program.
    Mapped(Vec<String>),
    /// Nothing to set: this program already behaves so, or the part is off; why.
    NotNeeded(String),
    /// Not carried over: why, and what to do instead.
    Unsupported(String),
}

/// One Portus setting (a `config.yml` path, or a variable that is not one) and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The YAML path (`ldap.hostname`) or, for secrets and the database, the variable.
    pub key: String,
    /// What became of it.
    pub outcome: Outcome,
    /// The `PORTUS_*` variable its value came from, if one did.
    pub variable: Option<String>,
}

/// The files and variables of a Portus installation.
#[derive(Debug, Clone, Copy)]
pub struct PortusSources<'a> {
    /// `config.yml`: its name (for messages) and text.
    pub defaults: (&'a str, &'a str),
    /// `config-local.yml`, if there is one.
    pub local: Option<(&'a str, &'a str)>,
    /// The `PORTUS_*` variables to take into account (empty: the files alone).
    pub env: &'a [(String, String)],
}

/// This program's configuration for a Portus installation, and what became of every setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversion {
    /// The configuration, as a TOML table this program's loader reads.
    pub config: toml::Table,
    /// Every Portus setting, in the order of `config.yml`, then those of `config-local.yml`
    /// that Portus ignores, then the variables that are not `config.yml` paths.
    pub entries: Vec<Entry>,
    /// Things to check or do by hand.
    pub attention: Vec<String>,
    /// The names of the files and whether the environment was read.
    pub sources: Vec<String>,
}

/// Converts a Portus configuration; fails only when a file is not a YAML mapping.
pub fn convert(sources: PortusSources<'_>) -> Result<Conversion, Error> {
    let defaults = parse_yaml(sources.defaults.0, sources.defaults.1)?;
    let local = match sources.local {
        Some((name, text)) => Some(parse_yaml(name, text)?),
        None => None,
    };
    let env: Vec<(String, String)> = sources
        .env
        .iter()
        .filter(|(k, _)| k.starts_with("PORTUS_"))
        .cloned()
        .collect();
    let mut merged = Merged::default();
    merged.merge(&defaults, local.as_ref(), "", &env);
    let mut names = vec![sources.defaults.0.to_owned()];
    names.extend(sources.local.map(|(n, _)| n.to_owned()));
    if !sources.env.is_empty() {
        names.push("PORTUS_* environment".into());
    }
    Ok(rules::Converter::new(merged, &env).run(names))
}

/// The name of the first Portus setting in a configuration given to this program's loader
/// (`machine_fqdn`, `ldap.enabled`, `registry.jwt_expiration_time`…), if it has one.
pub fn portus_setting_in(tree: &toml::Table) -> Option<String> {
    if let Some(key) = tree.keys().find(|k| PORTUS_ONLY_SECTIONS.contains(&k.as_str())) {
        return Some(key.clone());
    }
    let table = |name: &str| tree.get(name).and_then(toml::Value::as_table);
    if let Some(ldap) = table("ldap") {
        let nested = |section: &str, key: &str| {
            ldap.get(section)
                .and_then(toml::Value::as_table)
                .is_some_and(|t| t.contains_key(key))
        };
        for key in ["enabled", "group_sync"] {
            if ldap.contains_key(key) {
                return Some(format!("ldap.{key}"));
            }
        }
        if nested("authentication", "enabled") {
            return Some("ldap.authentication.enabled".into());
        }
        if nested("encryption", "options") {
            return Some("ldap.encryption.options".into());
        }
    }
    // `[email]` is this program's too (`smtp_url`, `from`); Portus' has these.
    if let Some(email) = table("email") {
        for key in ["smtp", "name", "reply_to"] {
            if email.contains_key(key) {
                return Some(format!("email.{key}"));
            }
        }
    }
    if let Some(registry) = table("registry") {
        for key in ["jwt_expiration_time", "catalog_page", "timeout", "read_timeout"] {
            if registry.contains_key(key) {
                return Some(format!("registry.{key}"));
            }
        }
    }
    None
}

/// Whether `text` (which is not TOML) looks like a Portus `config.yml` or a block of one: it
/// is a YAML mapping with one of Portus' top-level sections, or has a line opening one
/// (`ldap:`).
pub fn looks_like_portus_yaml(text: &str) -> bool {
    let portus_section =
        |key: &str| PORTUS_ONLY_SECTIONS.contains(&key) || matches!(key, "ldap" | "registry" | "security");
    if let Ok(Yaml::Mapping(mapping)) = serde_yaml_ng::from_str::<Yaml>(text)
        && mapping.keys().filter_map(Yaml::as_str).any(portus_section)
    {
        return true;
    }
    text.lines()
        .filter_map(|line| line.trim_end().strip_suffix(':'))
        .any(portus_section)
}

/// Parses a YAML file that must be a mapping (Portus refuses anything else).
pub(crate) fn parse_yaml(name: &str, text: &str) -> Result<Mapping, Error> {
    match serde_yaml_ng::from_str::<Yaml>(text) {
        Ok(Yaml::Mapping(mapping)) => Ok(mapping),
        Ok(Yaml::Null) => Ok(Mapping::new()),
        Ok(_) => Err(Error::Config(format!(
            "{name}: not a Portus configuration (expected a YAML mapping)"
        ))),
        Err(e) => Err(Error::Config(format!("{name}: not YAML: {e}"))),
    }
}

/// The YAML paths of every scalar (or list) in `mapping`, in file order.
pub(crate) fn leaf_paths(mapping: &Mapping) -> Vec<String> {
    let mut out = Vec::new();
    walk(mapping, "", &mut out);
    out
}

fn walk(mapping: &Mapping, prefix: &str, out: &mut Vec<String>) {
    for (key, value) in mapping {
        let path = join(prefix, &key_text(key));
        match value {
            Yaml::Mapping(inner) if !inner.is_empty() => walk(inner, &path, out),
            _ => out.push(path),
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn key_text(key: &Yaml) -> String {
    scalar_text(key).unwrap_or_else(|| "?".into())
}

/// A scalar as text (numbers and booleans written out); `None` for null, lists and mappings.
pub(crate) fn scalar_text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A boolean as Portus' Ruby YAML (1.1) reads one: `true`/`false`, and the words
/// `yes`/`no`/`on`/`off`, which YAML 1.2 leaves as text.
pub(crate) fn yaml_bool(value: &Yaml) -> Option<bool> {
    match value {
        Yaml::Bool(b) => Some(*b),
        Yaml::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Some(true),
            "false" | "no" | "off" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A non-negative integer, also when written as text.
pub(crate) fn yaml_u64(value: &Yaml) -> Option<u64> {
    match value {
        Yaml::Number(n) => n.as_u64(),
        Yaml::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The merged Portus configuration: `config.yml` with `config-local.yml` and the variables
/// applied, as Portus' `cconfig` merges them.
#[derive(Debug, Default)]
pub(crate) struct Merged {
    /// The result.
    pub(crate) tree: Mapping,
    /// Paths of `config-local.yml` that `config.yml` does not have: Portus ignores them.
    pub(crate) ignored_local: Vec<String>,
    /// `(path, variable)` of every value a variable gave.
    pub(crate) from_env: Vec<(String, String)>,
}

impl Merged {
    fn merge(&mut self, defaults: &Mapping, local: Option<&Mapping>, prefix: &str, env: &[(String, String)]) {
        let tree = self.merge_level(defaults, local, prefix, env);
        self.tree = tree;
    }

    fn merge_level(
        &mut self,
        defaults: &Mapping,
        local: Option<&Mapping>,
        prefix: &str,
        env: &[(String, String)],
    ) -> Mapping {
        let mut out = Mapping::new();
        for (key, default) in defaults {
            let path = join(prefix, &key_text(key));
            let local_value = local.and_then(|l| l.get(key));
            let value = match default {
                Yaml::Mapping(inner) if !inner.is_empty() => {
                    let local_inner = match local_value {
                        Some(Yaml::Mapping(m)) => Some(m),
                        Some(_) => {
                            self.ignored_local.push(path.clone());
                            None
                        }
                        None => None,
                    };
                    Yaml::Mapping(self.merge_level(inner, local_inner, &path, env))
                }
                _ => {
                    let variable = env::portus_variable(&path);
                    match env.iter().find(|(k, _)| *k == variable) {
                        Some((_, raw)) => {
                            self.from_env.push((path.clone(), variable));
                            env::cconfig_value(raw)
                        }
                        None => local_value.cloned().unwrap_or_else(|| default.clone()),
                    }
                }
            };
            out.insert(key.clone(), value);
        }
        if let Some(local) = local {
            for (key, value) in local {
                if !defaults.contains_key(key) {
                    let path = join(prefix, &key_text(key));
                    match value {
                        Yaml::Mapping(inner) if !inner.is_empty() => {
                            self.ignored_local
                                .extend(leaf_paths(inner).into_iter().map(|p| join(&path, &p)));
                        }
                        _ => self.ignored_local.push(path),
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
