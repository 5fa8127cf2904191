//! Retention: which tags of a repository a rule removes, decided as a pure function.
//!
//! Portus' garbage collector deleted too much (its issues #2330 and #2238): `keep_latest`
//! counted the tags of the whole installation, and each expired tag was deleted by digest, so
//! its sibling tags (`latest`) went with it. Here the decision is [`plan`], from one rule, the
//! repository's tags as the registry listed them (with what the store knows of their age and
//! pulls) and the time:
//!
//! - the newest `keep_latest` tags of the repository are always kept, and so is every tag a
//!   `protect` pattern matches;
//! - of the others, a tag is removed when `include` patterns (if any) match it and, with
//!   `older_than_days`, it was pushed and last pulled more than that many days ago (a tag
//!   never pulled counts from its push);
//! - an image (digest) is deleted only when no kept tag points at it; a removed tag whose
//!   image a kept tag still uses is *untagged* instead (a registry that can delete a tag
//!   alone, Distribution 3), never deleted by digest.
//!
//! A tag the registry lists but the store does not know has no known age: it is kept.
//! Patterns are globs over the whole tag name: `*` any run of characters, `?` one character.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// One retention rule (per namespace or per repository; the caller picks the rule that
/// applies to a repository).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionRule {
    /// The newest tags of each repository kept whatever else the rule says.
    pub keep_latest: usize,
    /// With a value, only tags pushed and last pulled more than this many days ago go.
    pub older_than_days: Option<u32>,
    /// Only tags matching one of these globs may go (none: every tag may).
    pub include: Vec<String>,
    /// Tags matching one of these globs are never removed.
    pub protect: Vec<String>,
}

/// One tag of the repository as the registry listed it, with what the store knows of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTag {
    /// Tag name.
    pub name: String,
    /// The manifest digest the registry gave for it.
    pub digest: String,
    /// When it was last pushed (its digest last changed), when the store knows the tag.
    pub pushed_at: Option<DateTime<Utc>>,
    /// Its last pull, when known.
    pub pulled_at: Option<DateTime<Utc>>,
}

/// Why a tag is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeptBecause {
    /// Among the newest `keep_latest`.
    Newest,
    /// A `protect` pattern matches it.
    Protected,
    /// No `include` pattern matches it.
    NotIncluded,
    /// Pushed or pulled within `older_than_days`.
    Recent,
    /// Its age is not known (the store does not know the tag).
    Unknown,
}

/// One change the plan makes in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Removal {
    /// Delete the image: no kept tag points at it; these tags (all of the repository's tags
    /// of that digest) go with it.
    DeleteManifest {
        /// The manifest digest.
        digest: String,
        /// The tags pointing at it, sorted.
        tags: Vec<String>,
    },
    /// Remove the tag alone: its image stays for the kept tags that point at it.
    Untag {
        /// The tag.
        tag: String,
        /// Its manifest digest.
        digest: String,
        /// The kept tags pointing at the same image, sorted.
        kept_siblings: Vec<String>,
    },
}

impl Removal {
    /// The tags this removal takes.
    pub fn tags(&self) -> Vec<&str> {
        match self {
            Removal::DeleteManifest { tags, .. } => tags.iter().map(String::as_str).collect(),
            Removal::Untag { tag, .. } => vec![tag.as_str()],
        }
    }
}

/// What [`plan`] decided for one repository.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RepositoryPlan {
    /// The kept tags and why, by name.
    pub kept: BTreeMap<String, KeptBecause>,
    /// The changes, deletions of images first (by digest), then untags (by tag).
    pub removals: Vec<Removal>,
}

impl RepositoryPlan {
    /// Whether nothing is to be removed.
    pub fn is_empty(&self) -> bool {
        self.removals.is_empty()
    }
}

/// Whether `name` matches the glob `pattern` (`*` any run, `?` one character, the rest
/// literally), over the whole name.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == n[ni])) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn any_match(patterns: &[String], name: &str) -> bool {
    patterns.iter().any(|p| glob_matches(p, name))
}

/// The plan for one repository: which of `tags` (its complete listing) `rule` removes at
/// `now`, and how (see the module documentation). The caller must only pass a complete,
/// successful listing.
pub fn plan(rule: &RetentionRule, tags: &[ListedTag], now: DateTime<Utc>) -> RepositoryPlan {
    let mut order: Vec<&ListedTag> = tags.iter().collect();
    // Newest first, ties by name; the newest `keep_latest` are counted among the tags of known
    // age (those of unknown age are kept anyway and take no place).
    order.sort_by(|a, b| b.pushed_at.cmp(&a.pushed_at).then_with(|| a.name.cmp(&b.name)));
    let cutoff = rule.older_than_days.map(|days| now - TimeDelta::days(i64::from(days)));
    let mut kept: BTreeMap<String, KeptBecause> = BTreeMap::new();
    let mut removed: Vec<&ListedTag> = Vec::new();
    let mut rank = 0;
    for tag in order {
        let because = if tag.pushed_at.is_none() {
            Some(KeptBecause::Unknown)
        } else if rank < rule.keep_latest {
            Some(KeptBecause::Newest)
        } else if any_match(&rule.protect, &tag.name) {
            Some(KeptBecause::Protected)
        } else if !rule.include.is_empty() && !any_match(&rule.include, &tag.name) {
            Some(KeptBecause::NotIncluded)
        } else {
            match (cutoff, tag.pushed_at) {
                (Some(cutoff), Some(pushed_at))
                    if pushed_at >= cutoff || tag.pulled_at.is_some_and(|p| p >= cutoff) =>
                {
                    Some(KeptBecause::Recent)
                }
                _ => None,
            }
        };
        if tag.pushed_at.is_some() {
            rank += 1;
        }
        match because {
            Some(because) => {
                kept.insert(tag.name.clone(), because);
            }
            None => removed.push(tag),
        }
    }
    let mut kept_by_digest: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for tag in tags.iter().filter(|t| kept.contains_key(&t.name)) {
        kept_by_digest.entry(&tag.digest).or_default().insert(&tag.name);
    }
    let mut deletions: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut untags = Vec::new();
    for tag in removed {
        match kept_by_digest.get(tag.digest.as_str()) {
            Some(siblings) => untags.push(Removal::Untag {
                tag: tag.name.clone(),
                digest: tag.digest.clone(),
                kept_siblings: siblings.iter().map(|s| (*s).to_owned()).collect(),
            }),
            None => {
                deletions.entry(&tag.digest).or_default().insert(tag.name.clone());
            }
        }
    }
    untags.sort_by(|a, b| a.tags().cmp(&b.tags()));
    let mut removals: Vec<Removal> = deletions
        .into_iter()
        .map(|(digest, tags)| Removal::DeleteManifest {
            digest: digest.to_owned(),
            tags: tags.into_iter().collect(),
        })
        .collect();
    removals.extend(untags);
    RepositoryPlan { kept, removals }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + TimeDelta::days(i64::from(day))
    }

    fn tag(name: &str, digest: &str, pushed: Option<u32>, pulled: Option<u32>) -> ListedTag {
        ListedTag {
            name: name.into(),
            digest: digest.into(),
            pushed_at: pushed.map(at),
            pulled_at: pulled.map(at),
        }
    }

    #[test]
    fn globs_match_whole_names() {
        for (pattern, name, matches) in [
            ("latest", "latest", true),
            ("latest", "latest2", false),
            ("v*", "v1.2", true),
            ("v*", "1v", false),
            ("*-rc?", "1.0-rc1", true),
            ("*-rc?", "1.0-rc12", false),
            ("*", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
        ] {
            assert_eq!(glob_matches(pattern, name), matches, "{pattern} {name}");
        }
    }

    #[test]
    fn keeps_per_repository_protects_and_untags_shared_images() {
        let rule = RetentionRule {
            keep_latest: 1,
            older_than_days: Some(30),
            include: Vec::new(),
            protect: vec!["stable".into()],
        };
        let tags = [
            tag("4", "d4", Some(100), None),
            // Old, but pulled lately.
            tag("3", "d3", Some(10), Some(95)),
            // Old and never pulled; shares its image with the protected `stable`.
            tag("2", "d2", Some(5), None),
            tag("stable", "d2", Some(5), None),
            // Old; `1` and `old` share an image nobody keeps.
            tag("1", "d1", Some(1), Some(20)),
            tag("old", "d1", Some(1), None),
            // Not known to the store.
            tag("mystery", "dx", None, None),
        ];
        let plan = plan(&rule, &tags, at(101));
        assert_eq!(
            plan.removals,
            [
                Removal::DeleteManifest {
                    digest: "d1".into(),
                    tags: vec!["1".into(), "old".into()]
                },
                Removal::Untag {
                    tag: "2".into(),
                    digest: "d2".into(),
                    kept_siblings: vec!["stable".into()]
                },
            ]
        );
        let kept: Vec<(&str, KeptBecause)> = plan.kept.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(
            kept,
            [
                ("3", KeptBecause::Recent),
                ("4", KeptBecause::Newest),
                ("mystery", KeptBecause::Unknown),
                ("stable", KeptBecause::Protected),
            ]
        );
    }

    #[test]
    fn include_patterns_limit_what_may_go() {
        let rule = RetentionRule {
            keep_latest: 0,
            older_than_days: None,
            include: vec!["pr-*".into()],
            protect: Vec::new(),
        };
        let tags = [tag("pr-1", "a", Some(1), None), tag("main", "b", Some(1), None)];
        let plan = plan(&rule, &tags, at(2));
        assert_eq!(plan.removals.len(), 1);
        assert_eq!(plan.removals[0].tags(), ["pr-1"]);
        assert_eq!(plan.kept["main"], KeptBecause::NotIncluded);
    }

    fn arbitrary_tags() -> impl Strategy<Value = Vec<ListedTag>> {
        proptest::collection::vec(
            (
                0usize..12,
                0usize..5,
                proptest::option::weighted(0.9, 0u32..200),
                proptest::option::of(0u32..200),
            ),
            0..14,
        )
        .prop_map(|entries| {
            let mut seen = BTreeSet::new();
            entries
                .into_iter()
                .filter(|(name, ..)| seen.insert(*name))
                .map(|(name, digest, pushed, pulled)| {
                    let name = if name % 4 == 0 {
                        format!("keep-{name}")
                    } else {
                        format!("t{name}")
                    };
                    tag(&name, &format!("d{digest}"), pushed, pulled)
                })
                .collect()
        })
    }

    fn arbitrary_rule() -> impl Strategy<Value = RetentionRule> {
        (0usize..5, proptest::option::of(0u32..100), any::<bool>(), any::<bool>()).prop_map(
            |(keep_latest, older_than_days, include, protect)| RetentionRule {
                keep_latest,
                older_than_days,
                include: if include {
                    vec!["t*".into(), "keep-1?".into()]
                } else {
                    Vec::new()
                },
                protect: if protect { vec!["keep-*".into()] } else { Vec::new() },
            },
        )
    }

    proptest! {
        #[test]
        fn never_removes_protected_or_newest_tags_nor_a_kept_image(
            rule in arbitrary_rule(),
            tags in arbitrary_tags(),
            now in 0u32..250,
        ) {
            let plan = plan(&rule, &tags, at(now));
            let removed: BTreeSet<&str> = plan.removals.iter().flat_map(Removal::tags).collect();
            // Every tag is either kept or removed, once.
            prop_assert_eq!(removed.len() + plan.kept.len(), tags.len());
            for tag in &tags {
                prop_assert!(removed.contains(tag.name.as_str()) != plan.kept.contains_key(&tag.name));
            }
            // Protected tags stay.
            for tag in tags.iter().filter(|t| any_match(&rule.protect, &t.name)) {
                prop_assert!(!removed.contains(tag.name.as_str()), "{} is protected", tag.name);
            }
            // At least keep_latest tags stay, the newest ones among them.
            prop_assert!(plan.kept.len() >= rule.keep_latest.min(tags.len()));
            for tag in &tags {
                if let (Some(pushed), true) = (tag.pushed_at, removed.contains(tag.name.as_str())) {
                    let newer = tags.iter().filter(|t| t.name != tag.name && t.pushed_at.is_some_and(|p| p >= pushed)).count();
                    prop_assert!(newer >= rule.keep_latest, "{} removed among the newest", tag.name);
                }
            }
            // An image a kept tag points at is never deleted; a deletion takes every tag of it.
            for removal in &plan.removals {
                if let Removal::DeleteManifest { digest, tags: gone } = removal {
                    for tag in tags.iter().filter(|t| &t.digest == digest) {
                        prop_assert!(!plan.kept.contains_key(&tag.name), "{} kept but {digest} deleted", tag.name);
                        prop_assert!(gone.contains(&tag.name));
                    }
                }
            }
            // Without an age limit nothing is removed for age; with one, nothing recent.
            if let Some(days) = rule.older_than_days {
                let cutoff = at(now) - TimeDelta::days(i64::from(days));
                for tag in tags.iter().filter(|t| removed.contains(t.name.as_str())) {
                    prop_assert!(tag.pushed_at.is_some_and(|p| p < cutoff));
                    prop_assert!(tag.pulled_at.is_none_or(|p| p < cutoff));
                }
            }
            // Tags of unknown age stay.
            for tag in tags.iter().filter(|t| t.pushed_at.is_none()) {
                prop_assert!(plan.kept.contains_key(&tag.name));
            }
        }
    }
}
