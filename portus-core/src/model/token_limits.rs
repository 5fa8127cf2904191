//! What an application token may do, narrower than its owner: an expiry and a scope of
//! repository patterns with actions. The token server grants the intersection of the owner's
//! rights and the token's scope, never more (Portus #517, #1795: CI credentials that only pull,
//! only reach some repositories, and expire).

use std::fmt;

use chrono::{DateTime, Utc};

use crate::access::GrantedAccess;
use crate::{Error, Result};

/// Repository actions a scope rule may allow.
const ACTIONS: [&str; 3] = ["pull", "push", "delete"];
/// Most rules one token may carry.
pub const MAX_SCOPE_RULES: usize = 50;

/// One rule of a [`TokenScope`]: repositories matching `pattern`, with `actions`.
///
/// Patterns: an exact repository name (`devs/app`), a namespace and everything under it
/// (`devs/*`), or every repository (`*`). Actions: `pull`, `push`, `delete` (`*` is all three).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRule {
    pattern: String,
    actions: Vec<&'static str>,
}

impl ScopeRule {
    /// Parses `PATTERN:ACTION[,ACTION...]` (`devs/*:pull`, `devs/app:pull,push`).
    pub fn parse(text: &str) -> Result<ScopeRule> {
        let invalid = |why: &str| Error::Invalid(format!("token scope '{text}': {why}"));
        if text.len() > 255 {
            return Err(invalid("at most 255 characters"));
        }
        let (pattern, actions) = text
            .rsplit_once(':')
            .ok_or_else(|| invalid("expected PATTERN:ACTIONS, such as devs/*:pull"))?;
        let name = pattern.strip_suffix("/*").unwrap_or(pattern);
        let valid_name = |n: &str| {
            !n.is_empty()
                && n.split('/').all(|part| {
                    !part.is_empty()
                        && part
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                })
        };
        if pattern != "*" && !valid_name(name) {
            return Err(invalid(
                "the pattern is a repository name, NAMESPACE/* or * (lower-case letters, digits, '.', '_', '-', '/')",
            ));
        }
        let mut allowed = Vec::new();
        for action in actions.split(',') {
            let expanded: &[&'static str] = match action {
                "*" => &ACTIONS,
                "pull" => &ACTIONS[0..1],
                "push" => &ACTIONS[1..2],
                "delete" => &ACTIONS[2..3],
                _ => return Err(invalid("actions are pull, push, delete or *")),
            };
            for a in expanded {
                if !allowed.contains(a) {
                    allowed.push(*a);
                }
            }
        }
        allowed.sort_by_key(|a| ACTIONS.iter().position(|x| x == a));
        Ok(ScopeRule {
            pattern: pattern.to_owned(),
            actions: allowed,
        })
    }

    /// Whether the rule covers `repository`.
    fn matches(&self, repository: &str) -> bool {
        match self.pattern.strip_suffix("/*") {
            _ if self.pattern == "*" => true,
            Some(namespace) => repository
                .strip_prefix(namespace)
                .is_some_and(|rest| rest.starts_with('/')),
            None => self.pattern == repository,
        }
    }
}

impl fmt::Display for ScopeRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.pattern, self.actions.join(","))
    }
}

/// The repositories and actions a token is limited to (see [`ScopeRule`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenScope {
    rules: Vec<ScopeRule>,
}

impl TokenScope {
    /// A scope from its rules' texts; at least one, at most [`MAX_SCOPE_RULES`].
    pub fn parse<S: AsRef<str>>(rules: &[S]) -> Result<TokenScope> {
        if rules.is_empty() || rules.len() > MAX_SCOPE_RULES {
            return Err(Error::Invalid(format!(
                "a token scope has 1 to {MAX_SCOPE_RULES} rules"
            )));
        }
        let rules = rules
            .iter()
            .map(|r| ScopeRule::parse(r.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        Ok(TokenScope { rules })
    }

    /// A scope that allows nothing: what a stored scope that cannot be read stands for.
    pub fn nothing() -> TokenScope {
        TokenScope { rules: Vec::new() }
    }

    /// The rules as texts, as [`parse`](Self::parse) reads them.
    pub fn rules(&self) -> Vec<String> {
        self.rules.iter().map(ToString::to_string).collect()
    }

    /// Whether the scope allows `action` on `repository`.
    pub fn allows(&self, repository: &str, action: &str) -> bool {
        self.rules
            .iter()
            .any(|r| r.matches(repository) && r.actions.contains(&action))
    }

    /// `granted` cut down to the scope: repository actions the scope allows (`*` becomes the
    /// actions allowed of pull, push and delete); anything else (the registry catalog) is
    /// dropped, as is an entry left with no action.
    pub fn restrict(&self, granted: Vec<GrantedAccess>) -> Vec<GrantedAccess> {
        granted
            .into_iter()
            .filter(|g| g.resource_type == "repository")
            .filter_map(|mut g| {
                let name = g.name.clone();
                let mut actions = Vec::new();
                for action in &g.actions {
                    let one = [action.as_str()];
                    let wanted: &[&str] = if action == "*" { &ACTIONS } else { &one };
                    for a in wanted {
                        if self.allows(&name, a) && !actions.iter().any(|x: &String| x == a) {
                            actions.push((*a).to_owned());
                        }
                    }
                }
                g.actions = actions;
                (!g.actions.is_empty()).then_some(g)
            })
            .collect()
    }
}

/// The limits set on an application token at its creation; the default is none (the owner's
/// full rights, no expiry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenLimits {
    /// When the token stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// What it may do; `None`: whatever its owner may.
    pub scope: Option<TokenScope>,
}

impl TokenLimits {
    /// Whether the token has expired at `now`.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Whether the token is limited in any way: such tokens only reach the registry (`/v2/token`),
    /// never the REST API or the web pages, where they would act with the owner's full rights.
    pub fn is_limited(&self) -> bool {
        self.scope.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(name: &str, actions: &[&str]) -> GrantedAccess {
        GrantedAccess {
            resource_type: "repository".into(),
            name: name.into(),
            actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    #[test]
    fn rules_parse_and_print_back() {
        let scope = TokenScope::parse(&["devs/*:pull", "devs/app:push,pull", "ops/tool:*", "*:pull"]).unwrap();
        assert_eq!(
            scope.rules(),
            [
                "devs/*:pull",
                "devs/app:pull,push",
                "ops/tool:pull,push,delete",
                "*:pull"
            ]
        );
        for bad in [
            "devs",
            "devs/*:",
            "devs/*:write",
            "Devs/*:pull",
            "devs/*/x:pull",
            "/x:pull",
            "a//b:pull",
            ":pull",
        ] {
            assert!(TokenScope::parse(&[bad]).is_err(), "{bad}");
        }
        assert!(TokenScope::parse::<&str>(&[]).is_err());
    }

    #[test]
    fn patterns_match_names_namespaces_or_everything() {
        let scope = TokenScope::parse(&["devs/*:pull", "lib/app:push"]).unwrap();
        assert!(scope.allows("devs/app", "pull"));
        assert!(scope.allows("devs/a/b", "pull"));
        assert!(!scope.allows("devs", "pull"));
        assert!(
            !scope.allows("devsx/app", "pull"),
            "a prefix of the name is not the namespace"
        );
        assert!(!scope.allows("devs/app", "push"));
        assert!(scope.allows("lib/app", "push"));
        assert!(!scope.allows("lib/app2", "push"));
        assert!(TokenScope::parse(&["*:delete"]).unwrap().allows("busybox", "delete"));
    }

    #[test]
    fn restriction_never_adds_and_drops_the_catalog() {
        let scope = TokenScope::parse(&["devs/*:pull"]).unwrap();
        let catalog = GrantedAccess {
            resource_type: "registry".into(),
            name: "catalog".into(),
            actions: vec!["*".into()],
        };
        let out = scope.restrict(vec![
            granted("devs/app", &["pull", "push"]),
            granted("devs/web", &["*"]),
            granted("ops/app", &["pull"]),
            granted("devs/none", &[]),
            catalog,
        ]);
        assert_eq!(
            out,
            vec![granted("devs/app", &["pull"]), granted("devs/web", &["pull"])]
        );
        // What the owner was not granted stays refused whatever the scope says.
        let wide = TokenScope::parse(&["*:*"]).unwrap();
        assert_eq!(
            wide.restrict(vec![granted("x/y", &["pull"])]),
            vec![granted("x/y", &["pull"])]
        );
    }

    #[test]
    fn expiry_is_inclusive() {
        let now = crate::model::now();
        let limits = TokenLimits {
            expires_at: Some(now),
            scope: None,
        };
        assert!(limits.expired(now));
        assert!(!limits.expired(now - chrono::Duration::seconds(1)));
        assert!(!TokenLimits::default().expired(now));
    }
}
