//! The Docker token scope grammar (`type[(class)]:name:action[,action]*`).
//!
//! Grammar, from the distribution token specification:
//!
//! ```text
//! scope         := resourcescope [ ' ' resourcescope ]*
//! resourcescope := resourcetype ":" resourcename ":" action [ ',' action ]*
//! resourcetype  := resourcetypevalue [ '(' resourcetypevalue ')' ]   ; value = [a-z0-9]+
//! resourcename  := [ hostname '/' ] component [ '/' component ]*
//! action        := [a-z]+ | '*'
//! ```
//!
//! A name may carry a registry host with a port (`localhost:5000/app`), so the type is the text
//! before the first `:`, the actions the text after the last `:` and the name everything in
//! between.

use std::fmt;
use std::str::FromStr;

/// Longest accepted resource name, as most clients limit `host/name` to 255 characters.
pub const MAX_NAME_LEN: usize = 255;

/// One parsed resource scope, e.g. `repository:alice/app:pull,push`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    /// Resource type (`repository`, `registry`, ...), lower-case alphanumerics.
    pub resource_type: String,
    /// Deprecated resource class (`repository(plugin)`), kept for round-tripping.
    pub class: Option<String>,
    /// Resource name (`alice/app`, `catalog`).
    pub name: String,
    /// Requested actions in request order (`pull`, `push`, `delete`, `*`, ...).
    pub actions: Vec<String>,
}

/// Why a scope string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// The scope has fewer than three `:`-separated parts.
    #[error("scope '{scope}' must have the form type:name:actions")]
    MissingParts {
        /// The offending scope.
        scope: String,
    },
    /// The resource type is empty or has characters outside `[a-z0-9]`.
    #[error("scope '{scope}': resource type '{resource_type}' must be lower-case letters and digits")]
    InvalidType {
        /// The offending scope.
        scope: String,
        /// The rejected type.
        resource_type: String,
    },
    /// The resource name does not follow the distribution name grammar.
    #[error("scope '{scope}': invalid resource name: {reason}")]
    InvalidName {
        /// The offending scope.
        scope: String,
        /// What is wrong with the name.
        reason: String,
    },
    /// An action is empty or has characters outside `[a-z]` (and is not `*`).
    #[error("scope '{scope}': invalid action '{action}' (actions are lower-case words or '*')")]
    InvalidAction {
        /// The offending scope.
        scope: String,
        /// The rejected action.
        action: String,
    },
}

impl Scope {
    /// Builds a scope from parts without validation (for tests and programmatic use).
    pub fn new(resource_type: &str, name: &str, actions: &[&str]) -> Self {
        Scope {
            resource_type: resource_type.to_owned(),
            class: None,
            name: name.to_owned(),
            actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        }
    }
}

impl FromStr for Scope {
    type Err = ScopeError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let missing = || ScopeError::MissingParts {
            scope: input.to_owned(),
        };
        let (type_part, rest) = input.split_once(':').ok_or_else(missing)?;
        let (name, actions_part) = rest.rsplit_once(':').ok_or_else(missing)?;

        let (resource_type, class) = parse_type(input, type_part)?;
        validate_name(name).map_err(|reason| ScopeError::InvalidName {
            scope: input.to_owned(),
            reason,
        })?;
        let actions = actions_part
            .split(',')
            .map(|action| {
                if action == "*" || (!action.is_empty() && action.bytes().all(|b| b.is_ascii_lowercase())) {
                    Ok(action.to_owned())
                } else {
                    Err(ScopeError::InvalidAction {
                        scope: input.to_owned(),
                        action: action.to_owned(),
                    })
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Scope {
            resource_type,
            class,
            name: name.to_owned(),
            actions,
        })
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.resource_type)?;
        if let Some(class) = &self.class {
            write!(f, "({class})")?;
        }
        write!(f, ":{}:{}", self.name, self.actions.join(","))
    }
}

/// Parses one `scope` parameter, which may hold several scopes separated by spaces.
///
/// Empty input yields no scopes (a login request).
pub fn parse_scopes(input: &str) -> Result<Vec<Scope>, ScopeError> {
    input.split(' ').filter(|s| !s.is_empty()).map(str::parse).collect()
}

fn is_type_value(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn parse_type(scope: &str, part: &str) -> Result<(String, Option<String>), ScopeError> {
    let invalid = || ScopeError::InvalidType {
        scope: scope.to_owned(),
        resource_type: part.to_owned(),
    };
    match part.split_once('(') {
        None if is_type_value(part) => Ok((part.to_owned(), None)),
        None => Err(invalid()),
        Some((ty, rest)) => {
            let class = rest.strip_suffix(')').ok_or_else(invalid)?;
            if is_type_value(ty) && is_type_value(class) {
                Ok((ty.to_owned(), Some(class.to_owned())))
            } else {
                Err(invalid())
            }
        }
    }
}

/// Checks a resource name against the distribution grammar: an optional `host[:port]/` prefix
/// followed by `/`-separated path components.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("name is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("name is longer than {MAX_NAME_LEN} characters"));
    }
    let mut components: Vec<&str> = name.split('/').collect();
    // Registries send repository paths, where `my.team` is an ordinary component; the first of
    // several components is read as a `host[:port]` only when it is not a valid component.
    if components.len() > 1 && validate_path_component(components[0]).is_err() && components[0].contains([':', '.']) {
        validate_host(components[0])?;
        components.remove(0);
    }
    for component in components {
        validate_path_component(component)?;
    }
    Ok(())
}

/// Checks one path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
pub fn validate_path_component(component: &str) -> Result<(), String> {
    if component.is_empty() {
        return Err("empty path component (leading, trailing or double '/')".into());
    }
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err(format!(
            "component '{component}' must start and end with a lower-case letter or digit"
        ));
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if alnum(b) {
            i += 1;
            continue;
        }
        // A separator run: '.', '_', '__' or one or more '-'.
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let valid = separator == "." || separator == "_" || separator == "__" || separator.bytes().all(|c| c == b'-');
        if !valid {
            return Err(format!(
                "component '{component}' has invalid characters '{separator}' (allowed: lower-case letters, digits and single '.', '_', '__' or '-' separators)"
            ));
        }
    }
    Ok(())
}

fn validate_host(host: &str) -> Result<(), String> {
    let (hostname, port) = match host.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (host, None),
    };
    if let Some(port) = port
        && (!port.bytes().all(|b| b.is_ascii_digit()) || port.parse::<u16>().is_err())
    {
        return Err(format!("host '{host}' has an invalid port"));
    }
    let label_ok = |label: &str| {
        let b = label.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    };
    if hostname.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(format!("host '{host}' is not a valid host name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_simple_repository_scope() {
        let s: Scope = "repository:samalba/my-app:pull,push".parse().unwrap();
        assert_eq!(s, Scope::new("repository", "samalba/my-app", &["pull", "push"]));
        assert_eq!(s.to_string(), "repository:samalba/my-app:pull,push");
    }

    #[test]
    fn parses_host_with_port_in_name() {
        let s: Scope = "repository:localhost:5000/foo/bar:pull".parse().unwrap();
        assert_eq!(s.name, "localhost:5000/foo/bar");
        let s: Scope = "repository:my.team/app:pull".parse().unwrap();
        assert_eq!(s.name, "my.team/app");
        assert_eq!(s.actions, ["pull"]);
    }

    #[test]
    fn parses_class_and_wildcard() {
        let s: Scope = "repository(plugin):vieux/sshfs:*".parse().unwrap();
        assert_eq!(s.resource_type, "repository");
        assert_eq!(s.class.as_deref(), Some("plugin"));
        assert_eq!(s.actions, ["*"]);
        assert_eq!(s.to_string(), "repository(plugin):vieux/sshfs:*");
        let s: Scope = "registry:catalog:*".parse().unwrap();
        assert_eq!((s.resource_type.as_str(), s.name.as_str()), ("registry", "catalog"));
    }

    #[test]
    fn parses_space_separated_list() {
        let scopes = parse_scopes("repository:a/b:pull repository:c:push,pull").unwrap();
        assert_eq!(scopes.len(), 2);
        assert_eq!(scopes[1].actions, ["push", "pull"]);
        assert!(parse_scopes("").unwrap().is_empty());
    }

    #[test]
    fn accepts_all_separator_forms() {
        for name in ["a.b", "a_b", "a__b", "a-b", "a---b", "a/b.c_d__e-f", "0/9"] {
            assert!(validate_name(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn rejects_bad_input_with_a_reason() {
        let cases = [
            ("whale:foo,bar", "must have the form"),
            ("repository", "must have the form"),
            ("Repository:a:pull", "resource type"),
            (":a:pull", "resource type"),
            ("repository(:a:pull", "resource type"),
            ("repository(x:a:pull", "resource type"),
            ("repository:A/b:pull", "must start and end"),
            ("repository:a//b:pull", "empty path component"),
            ("repository:/a:pull", "empty path component"),
            ("repository:a/:pull", "empty path component"),
            ("repository:a___b:pull", "invalid characters '___'"),
            ("repository:a.-b:pull", "invalid characters '.-'"),
            ("repository:a\\b:pull", "invalid characters"),
            ("repository:../etc:pull", "not a valid host"),
            ("repository:my_host:5000/a:pull", "not a valid host"),
            ("repository:etc/..:pull", "must start and end"),
            ("repository::pull", "name is empty"),
            ("repository:a:", "invalid action ''"),
            ("repository:a:pull,", "invalid action ''"),
            ("repository:a:Pull", "invalid action 'Pull'"),
            ("repository:a:pu*", "invalid action 'pu*'"),
            ("repository:bad_host:99999/a:pull", "invalid port"),
            ("repository:-x.com/a:pull", "not a valid host"),
        ];
        for (input, expected) in cases {
            let err = input.parse::<Scope>().unwrap_err().to_string();
            assert!(err.contains(expected), "{input}: got '{err}', want '{expected}'");
        }
        let long = format!("repository:{}:pull", "a".repeat(256));
        assert!(
            long.parse::<Scope>()
                .unwrap_err()
                .to_string()
                .contains("longer than 255")
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2048))]

            #[test]
            fn arbitrary_strings_never_panic(input in any::<String>()) {
                let _ = input.parse::<Scope>();
                let _ = parse_scopes(&input);
            }

            #[test]
            fn scope_shaped_strings_never_panic(input in "[a-z(): /.,_*A-Z0-9-]{0,80}") {
                let _ = parse_scopes(&input);
            }

            #[test]
            fn valid_scopes_round_trip(
                ns in "[a-z0-9]{1,8}([._-][a-z0-9]{1,8}){0,2}",
                repo in "[a-z0-9]{1,8}(__[a-z0-9]{1,8})?",
                actions in proptest::collection::vec("[a-z]{1,6}|\\*", 1..4),
            ) {
                let text = format!("repository:{ns}/{repo}:{}", actions.join(","));
                let scope: Scope = text.parse().unwrap();
                prop_assert_eq!(scope.to_string(), text);
                prop_assert_eq!(scope.actions, actions);
            }
        }
    }
}
