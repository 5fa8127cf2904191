//! Portus' `PORTUS_*` environment variables: their names (`PORTUS_<YAML PATH IN UPPER CASE>`,
//! as Portus' `cconfig` gem reads them, plus its secrets and database variables), the ones
//! with an exact equivalent here, and what `portus serve` does with them at start-up.

use std::collections::BTreeSet;

use super::{Outcome, Yaml, leaf_paths, parse_yaml};
use crate::Error;
use crate::config::{KEYS, env_name};

/// How a value with an exact equivalent is carried over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `true` or `false`.
    Bool,
    /// Any non-empty text.
    Text,
    /// Minutes here, seconds there.
    Minutes,
    /// `allow-teams`, `allow-personal` or `admin-only`.
    PushPolicy,
    /// `initial`, `update` or `update-delete`.
    SyncStrategy,
    /// `host:port`.
    Listen,
    /// A whole number, at least 1 (seconds, entries).
    Positive,
}

/// A Portus setting with an exact equivalent: its Portus path (or variable, for the ones that
/// are not in `config.yml`), this project's key, and how the value is carried over.
#[derive(Debug, Clone, Copy)]
pub(super) struct Exact {
    /// The YAML path in `config.yml`, or the variable's name for secrets.
    pub(super) portus: &'static str,
    /// This project's key.
    pub(super) ours: &'static str,
    /// How the value is carried over.
    pub(super) kind: Kind,
}

const fn exact(portus: &'static str, ours: &'static str, kind: Kind) -> Exact {
    Exact { portus, ours, kind }
}

/// Every Portus setting that means exactly what one key here means. `portus serve` takes these
/// from the environment; the converter maps them the same way from the files.
pub(super) const EXACT: &[Exact] = &[
    exact("delete.enabled", "policy.delete_enabled", Kind::Bool),
    exact("delete.contributors", "policy.delete_contributors", Kind::Bool),
    exact(
        "user_permission.change_visibility.enabled",
        "policy.change_visibility",
        Kind::Bool,
    ),
    exact("user_permission.create_team.enabled", "policy.create_team", Kind::Bool),
    exact("user_permission.manage_team.enabled", "policy.manage_team", Kind::Bool),
    exact(
        "user_permission.create_namespace.enabled",
        "policy.create_namespace",
        Kind::Bool,
    ),
    exact(
        "user_permission.manage_namespace.enabled",
        "policy.manage_namespace",
        Kind::Bool,
    ),
    exact(
        "user_permission.create_webhook.enabled",
        "policy.create_webhook",
        Kind::Bool,
    ),
    exact(
        "user_permission.manage_webhook.enabled",
        "policy.manage_webhook",
        Kind::Bool,
    ),
    exact(
        "user_permission.push_images.policy",
        "policy.push_images",
        Kind::PushPolicy,
    ),
    exact("machine_fqdn.value", "token.issuer", Kind::Text),
    exact(
        "registry.jwt_expiration_time.value",
        "token.lifetime_secs",
        Kind::Minutes,
    ),
    exact(
        "registry.timeout.value",
        "registry.connect_timeout_secs",
        Kind::Positive,
    ),
    exact(
        "registry.read_timeout.value",
        "registry.request_timeout_secs",
        Kind::Positive,
    ),
    exact("registry.catalog_page.value", "registry.page_size", Kind::Positive),
    exact("background.sync.strategy", "sync.strategy", Kind::SyncStrategy),
    exact("PORTUS_KEY_PATH", "token.key", Kind::Text),
    exact("PORTUS_PUMA_HOST", "listen", Kind::Listen),
];

/// Portus variables that are not `config.yml` paths: secrets, database, web server, start-up.
pub(super) const OTHER_VARIABLES: &[&str] = &[
    "PORTUS_KEY_PATH",
    "PORTUS_SECRET_KEY_BASE",
    "PORTUS_PASSWORD",
    "PORTUS_DB_ADAPTER",
    "PORTUS_DB_HOST",
    "PORTUS_DB_PORT",
    "PORTUS_DB_USERNAME",
    "PORTUS_DB_PASSWORD",
    "PORTUS_DB_DATABASE",
    "PORTUS_DB_POOL",
    "PORTUS_INIT_REGISTRY_NAME",
    "PORTUS_INIT_REGISTRY_HOSTNAME",
    "PORTUS_INIT_REGISTRY_USE_SSL",
    "PORTUS_PUMA_HOST",
    "PORTUS_PUMA_TLS_KEY",
    "PORTUS_PUMA_TLS_CERT",
    "PORTUS_PUMA_WORKERS",
    "PORTUS_PUMA_MAX_THREADS",
    "PORTUS_LOG_LEVEL",
    "PORTUS_BACKGROUND",
];

/// Variables of this program that are not configuration keys.
const OWN_VARIABLES: &[&str] = &["PORTUS_CONFIG", "PORTUS_DATA_DIR", "PORTUS_LOG", "PORTUS_TOKEN"];

/// The variable Portus reads for the YAML path `path` (`delete.enabled` →
/// `PORTUS_DELETE_ENABLED`).
pub fn portus_variable(path: &str) -> String {
    format!("PORTUS_{}", path.replace('.', "_").to_ascii_uppercase())
}

/// Whether `name` is a variable of this program (a key's override or one of its own).
pub(super) fn is_ours(name: &str) -> bool {
    OWN_VARIABLES.contains(&name) || KEYS.iter().any(|key| env_name(key) == name)
}

/// Every variable Portus 2.5 reads: one per key of its `config.yml` and the others.
pub fn portus_variables() -> BTreeSet<String> {
    let defaults = parse_yaml("Portus 2.5 defaults", super::PORTUS_DEFAULTS).expect("the built-in defaults are YAML");
    leaf_paths(&defaults)
        .iter()
        .map(|path| portus_variable(path))
        .chain(OTHER_VARIABLES.iter().map(|v| (*v).to_owned()))
        .collect()
}

/// A value as Portus' `cconfig` reads it from the environment: `true`/`false` (any case) are
/// booleans, integers are numbers, anything else is text.
pub(super) fn cconfig_value(raw: &str) -> Yaml {
    if raw.eq_ignore_ascii_case("true") {
        Yaml::Bool(true)
    } else if raw.eq_ignore_ascii_case("false") {
        Yaml::Bool(false)
    } else if let Ok(n) = raw.parse::<i64>() {
        Yaml::Number(n.into())
    } else {
        Yaml::String(raw.to_owned())
    }
}

impl Kind {
    /// This project's value for a Portus value, or why there is none.
    pub(super) fn convert(self, value: &Yaml) -> Result<toml::Value, String> {
        let text = super::scalar_text(value);
        match self {
            Kind::Bool => super::yaml_bool(value)
                .map(toml::Value::Boolean)
                .ok_or_else(|| format!("'{}' is not true or false", text.unwrap_or_default())),
            Kind::Text | Kind::Listen => match text {
                Some(t) if !t.trim().is_empty() => {
                    if self == Kind::Listen && t.trim().parse::<std::net::SocketAddr>().is_err() {
                        return Err(format!("'{t}' is not an address and port such as 0.0.0.0:3000"));
                    }
                    Ok(toml::Value::String(t.trim().to_owned()))
                }
                _ => Err("it is empty".into()),
            },
            Kind::Minutes => match super::yaml_u64(value) {
                Some(minutes) if minutes >= 1 => Ok(toml::Value::Integer(
                    i64::try_from(minutes.saturating_mul(60)).unwrap_or(i64::MAX),
                )),
                _ => Err(format!(
                    "'{}' is not a number of minutes (at least 1)",
                    text.unwrap_or_default()
                )),
            },
            Kind::Positive => match super::yaml_u64(value) {
                Some(n) if (1..=i64::MAX as u64).contains(&n) => Ok(toml::Value::Integer(n as i64)),
                _ => Err(format!(
                    "'{}' is not a whole number of at least 1",
                    text.unwrap_or_default()
                )),
            },
            Kind::PushPolicy => match text.as_deref().map(str::trim) {
                Some(p @ ("allow-teams" | "allow-personal" | "admin-only")) => Ok(toml::Value::String(p.to_owned())),
                other => Err(format!(
                    "'{}' is none of allow-teams, allow-personal, admin-only (Portus then let nobody push)",
                    other.unwrap_or_default()
                )),
            },
            Kind::SyncStrategy => match text.as_deref().map(str::trim) {
                Some(s @ ("initial" | "update" | "update-delete")) => Ok(toml::Value::String(s.to_owned())),
                other => Err(format!(
                    "'{}' is none of initial, update, update-delete",
                    other.unwrap_or_default()
                )),
            },
        }
    }
}

/// How loud a start-up note about a Portus variable is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteLevel {
    /// Accepted as its equivalent here.
    Info,
    /// Not read: the message says what to do instead.
    Warn,
}

/// What `portus serve` did with one Portus variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvNote {
    /// The variable.
    pub variable: String,
    /// Info when accepted, warning when not read.
    pub level: NoteLevel,
    /// What happened, naming this project's equivalent.
    pub message: String,
}

/// The Portus variables found in an environment: the values they give this project's keys,
/// and a note for each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StartupEnv {
    /// `(key, value)` to apply before this program's own variables (which win).
    pub overrides: Vec<(String, toml::Value)>,
    /// One note per Portus variable found.
    pub notes: Vec<EnvNote>,
}

/// Reads Portus' variables in `env` the way `portus serve` accepts them: those with an exact
/// equivalent become overrides of that key, unless this program's own variable
/// for the key is set; the others are named in warnings that point to the converter. Variables
/// both programs read under the same name (`PORTUS_SECURITY_CLAIR_SERVER`…) are this
/// program's own and not reported. A bad value of an accepted variable is an error naming it.
pub fn startup_environment(env: &[(String, String)]) -> Result<StartupEnv, Error> {
    let known = portus_variables();
    let mut result = StartupEnv::default();
    for (name, raw) in env {
        if !known.contains(name) || is_ours(name) {
            continue;
        }
        let equivalent = EXACT
            .iter()
            .find(|e| e.portus == name.as_str() || portus_variable(e.portus) == *name);
        let Some(equivalent) = equivalent else {
            result.notes.push(EnvNote {
                variable: name.clone(),
                level: NoteLevel::Warn,
                message: format!(
                    "{name} is a Portus setting with no exact equivalent here and is not read; \
                     `portus config import-portus --env` says what becomes of it (docs/migrating-from-portus.md)"
                ),
            });
            continue;
        };
        let ours = equivalent.ours;
        let our_variable = env_name(ours);
        if env.iter().any(|(k, _)| *k == our_variable) {
            result.notes.push(EnvNote {
                variable: name.clone(),
                level: NoteLevel::Warn,
                message: format!("{name} is not read: {our_variable} is set and wins"),
            });
            continue;
        }
        let value = equivalent
            .kind
            .convert(&cconfig_value(raw))
            .map_err(|reason| Error::Config(format!("{name} (Portus' setting for {ours}): {reason}")))?;
        result.notes.push(EnvNote {
            variable: name.clone(),
            level: NoteLevel::Info,
            message: format!("{name} (Portus) is read as {ours}; this program's own variable is {our_variable}"),
        });
        result.overrides.push((ours.to_owned(), value));
    }
    Ok(result)
}

/// What the converter does with a variable that is not a `config.yml` path.
pub(super) fn other_variable_outcome(name: &str) -> Outcome {
    let unsupported = |s: &str| Outcome::Unsupported(s.to_owned());
    let not_needed = |s: &str| Outcome::NotNeeded(s.to_owned());
    match name {
        "PORTUS_SECRET_KEY_BASE" => not_needed("no Rails secret: web sessions are random server-side identifiers"),
        "PORTUS_PASSWORD" => not_needed(
            "there is no internal `portus` user: this server signs its own registry tokens for registry.service_account",
        ),
        "PORTUS_INIT_REGISTRY_NAME" => not_needed("the registry has no name here"),
        "PORTUS_INIT_REGISTRY_HOSTNAME" => Outcome::Mapped(vec!["token.service".into(), "registry.url".into()]),
        "PORTUS_INIT_REGISTRY_USE_SSL" => Outcome::Mapped(vec!["registry.url".into()]),
        "PORTUS_PUMA_TLS_KEY" | "PORTUS_PUMA_TLS_CERT" => {
            unsupported("this server speaks plain HTTP: terminate TLS in a reverse proxy")
        }
        "PORTUS_PUMA_WORKERS" | "PORTUS_PUMA_MAX_THREADS" | "PORTUS_BACKGROUND" => {
            not_needed("one `portus serve` process serves requests and runs the background work")
        }
        "PORTUS_LOG_LEVEL" => unsupported("logging is set with PORTUS_LOG (e.g. info, debug), not in the file"),
        n if n.starts_with("PORTUS_DB_") => unsupported(
            "Portus' own database: import it with `portus import portus --database URL`; this server's store is database.url",
        ),
        _ => unsupported("not a Portus 2.5 setting: nothing reads it"),
    }
}
