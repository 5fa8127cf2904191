//! `[retention]`: which tags expire (Portus' `delete.garbage_collector`, per namespace or
//! repository), and how often `portus serve` applies the rules.
//!
//! The rules live in the configuration, not the store: they decide deletions, so they are
//! the operator's policy, reviewed and versioned with the deployment as Portus'
//! `garbage_collector` settings were, and no REST call (nor a stolen token) can widen them.

use std::collections::BTreeMap;

use portus_core::ops::retention::RetentionRules;
use portus_core::reference::{validate_repository_name, validate_tag};
use portus_core::retention::RetentionRule;
use serde::{Deserialize, Serialize};

use crate::Error;

/// The retention settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Seconds between retention runs in `portus serve`; 0 (the default) turns them off
    /// (`portus retention` still runs the rules once).
    pub interval_secs: u64,
    /// The rules, each for one namespace or one repository.
    pub rules: Vec<RuleConfig>,
}

/// One `[[retention.rules]]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleConfig {
    /// The namespace whose repositories the rule covers (each repository on its own).
    pub namespace: Option<String>,
    /// The one repository the rule covers (replacing its namespace's rule).
    pub repository: Option<String>,
    /// The newest tags of each repository always kept.
    pub keep_latest: usize,
    /// Only tags pushed and last pulled more than this many days ago expire.
    pub older_than_days: Option<u32>,
    /// Only tags matching one of these globs (`*`, `?`) expire; empty: every tag may.
    pub include: Vec<String>,
    /// Tags matching one of these globs never expire.
    pub protect: Vec<String>,
}

impl RetentionConfig {
    /// Refuses rules that name nothing or the same thing twice, or patterns that can match no
    /// tag name.
    pub fn validate(&self) -> Result<(), Error> {
        self.rules().map(|_| ())
    }

    /// The rules as the operations take them.
    pub fn rules(&self) -> Result<RetentionRules, Error> {
        let invalid = |message: String| Err(Error::Config(format!("retention.rules: {message}")));
        let mut rules = RetentionRules::default();
        for rule in &self.rules {
            for pattern in rule.include.iter().chain(&rule.protect) {
                // A glob is a tag name with wildcards: with them replaced, it must be one.
                if validate_tag(&pattern.replace(['*', '?'], "x")).is_err() {
                    return invalid(format!("{pattern:?} can match no tag name"));
                }
            }
            let decided = RetentionRule {
                keep_latest: rule.keep_latest,
                older_than_days: rule.older_than_days,
                include: rule.include.clone(),
                protect: rule.protect.clone(),
            };
            let (map, name): (&mut BTreeMap<String, RetentionRule>, &String) = match (&rule.namespace, &rule.repository)
            {
                (Some(namespace), None) => {
                    if namespace.contains('/') || validate_repository_name(namespace).is_err() {
                        return invalid(format!("{namespace:?} is no namespace name"));
                    }
                    (&mut rules.namespaces, namespace)
                }
                (None, Some(repository)) => {
                    if validate_repository_name(repository).is_err() {
                        return invalid(format!("{repository:?} is no repository name"));
                    }
                    (&mut rules.repositories, repository)
                }
                _ => return invalid("each rule names either a namespace or a repository".into()),
            };
            if map.insert(name.clone(), decided).is_some() {
                return invalid(format!("two rules for {name:?}"));
            }
        }
        Ok(rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RetentionRules, Error> {
        let config: RetentionConfig = toml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        config.rules()
    }

    #[test]
    fn rules_name_one_namespace_or_repository_each() {
        let rules = parse(
            "[[rules]]\nnamespace = \"devs\"\nkeep_latest = 3\nolder_than_days = 30\nprotect = [\"latest\", \"v*\"]\n\
             [[rules]]\nrepository = \"devs/app\"\nkeep_latest = 10\n",
        )
        .unwrap();
        assert_eq!(
            rules.rule_for("devs/app").unwrap().keep_latest,
            10,
            "the repository's own"
        );
        let other = rules.rule_for("devs/other").unwrap();
        assert_eq!((other.keep_latest, other.older_than_days), (3, Some(30)));
        assert!(rules.rule_for("ops/app").is_none());
        for bad in [
            "[[rules]]\nkeep_latest = 1\n",
            "[[rules]]\nnamespace = \"a\"\nrepository = \"a/b\"\n",
            "[[rules]]\nnamespace = \"a/b\"\n",
            "[[rules]]\nnamespace = \"a\"\n[[rules]]\nnamespace = \"a\"\n",
            "[[rules]]\nnamespace = \"a\"\nprotect = [\"has space\"]\n",
            "[[rules]]\nnamespace = \"a\"\nkeep = 1\n",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
