//! The activity (audit) log: entries, new entries and filters.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ActivityAction;

/// One entry of the activity (audit) log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// Store identifier, increasing with time.
    pub id: i64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it (`None` for the registry or the system).
    pub actor: Option<String>,
    /// What happened (`tag.push`, `user.create`, ...).
    pub action: String,
    /// What it happened to (`alice/app:1.0`, a user or team name, ...).
    pub target: String,
    /// Free-form details (e.g. a digest), if any.
    pub details: Option<String>,
}

/// An activity to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewActivity {
    /// Who did it.
    pub actor: Option<String>,
    /// What happened.
    pub action: String,
    /// What it happened to.
    pub target: String,
    /// Details.
    pub details: Option<String>,
}

impl NewActivity {
    /// An activity without details.
    pub fn new(actor: Option<&str>, action: ActivityAction, target: impl Into<String>) -> Self {
        NewActivity {
            actor: actor.map(str::to_owned),
            action: action.as_str().to_owned(),
            target: target.into(),
            details: None,
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }
}

/// Which activities to list; empty fields match everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActivityFilter {
    /// Only this actor's.
    pub actor: Option<String>,
    /// Only this action (or, ending in `.`, this action prefix such as `tag.`).
    pub action: Option<String>,
    /// Only targets starting with this text (e.g. a namespace `alice/`).
    pub target_prefix: Option<String>,
    /// Only at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only before this time (exclusive, so consecutive ranges do not overlap).
    pub until: Option<DateTime<Utc>>,
    /// Only what this caller may see (`None`: everything, for administrators).
    pub scope: Option<ActivityScope>,
    /// At most this many, newest first (0 means 100).
    pub limit: usize,
}

/// What a caller who is not an administrator may see of the activity log (Portus' dashboard
/// scoping): their own activities, those of their teams (`team.*` naming one of `teams`), of
/// their teams' namespaces (`namespace.*` naming one of `namespaces`) and of the repositories
/// and tags in them (`repository.*`, `tag.*` on `namespace/...`). Anything else (other teams,
/// other namespaces, users, tokens, the global namespace) is left out: a scope never widens a
/// filter, it only narrows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActivityScope {
    /// The caller: their own activities are in scope.
    pub actor: String,
    /// The names of the caller's teams.
    pub teams: Vec<String>,
    /// The names of their teams' namespaces.
    pub namespaces: Vec<String>,
}

impl ActivityScope {
    /// Whether `activity` is in this scope.
    pub fn admits(&self, activity: &Activity) -> bool {
        if activity.actor.as_deref() == Some(self.actor.as_str()) {
            return true;
        }
        let family = activity.action.split('.').next().unwrap_or_default();
        match family {
            "team" => self.teams.contains(&activity.target),
            "namespace" => self.namespaces.contains(&activity.target),
            "repository" | "tag" => self.namespaces.iter().any(|namespace| {
                activity
                    .target
                    .strip_prefix(namespace.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
            }),
            _ => false,
        }
    }
}

/// Whether `activity` passes `filter` (for stores that filter in memory).
pub fn activity_matches(filter: &ActivityFilter, activity: &Activity) -> bool {
    filter
        .actor
        .as_ref()
        .is_none_or(|actor| activity.actor.as_ref() == Some(actor))
        && filter
            .action
            .as_ref()
            .is_none_or(|action| match action.strip_suffix('.') {
                Some(prefix) => activity.action.starts_with(prefix) && activity.action[prefix.len()..].starts_with('.'),
                None => &activity.action == action,
            })
        && filter
            .target_prefix
            .as_ref()
            .is_none_or(|prefix| activity.target.starts_with(prefix.as_str()))
        && filter.since.is_none_or(|since| activity.at >= since)
        && filter.until.is_none_or(|until| activity.at < until)
        && filter.scope.as_ref().is_none_or(|scope| scope.admits(activity))
}

/// The most activities one export holds
/// ([`activities_export`](crate::traits::ActivityStoreExt::activities_export)): bounded
/// memory, whatever the range asked.
pub const ACTIVITY_EXPORT_CAP: u64 = 100_000;

/// Activities as CSV (RFC 4180, CRLF line ends) under the header row
/// `id,time,actor,action,target,details`; times in RFC 3339 (UTC), no actor and no details as
/// empty cells.
pub fn activities_csv(rows: &[Activity]) -> String {
    let mut out = String::from("id,time,actor,action,target,details\r\n");
    for a in rows {
        let cells = [
            a.id.to_string(),
            a.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            a.actor.clone().unwrap_or_default(),
            a.action.clone(),
            a.target.clone(),
            a.details.clone().unwrap_or_default(),
        ];
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&csv_cell(cell));
        }
        out.push_str("\r\n");
    }
    out
}

/// One cell: a leading `'` before text a spreadsheet would take for a formula (`=`, `+`, `-`,
/// `@`, tab, CR: names and details come from users and registries), then quoted when it holds
/// a comma, a quote or a line break, quotes doubled.
fn csv_cell(cell: &str) -> String {
    let guarded = if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    };
    if guarded.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// The orders of the activity log; each ends with the id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ActivitySort {
    /// Newest first (the default): by id, largest first.
    #[default]
    Newest,
    /// By id: oldest first.
    Id,
    /// By time.
    At,
    /// By action name.
    Action,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("alice/app:1.0"), "alice/app:1.0");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        for formula in ["+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(csv_cell(formula).trim_start_matches('"').starts_with('\''), "{formula}");
        }
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell(""), "");
        let row = Activity {
            id: 7,
            at: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            actor: None,
            action: "tag.push".into(),
            target: "a/b:1".into(),
            details: Some("-x".into()),
        };
        assert_eq!(
            activities_csv(&[row]),
            "id,time,actor,action,target,details\r\n7,1970-01-01T00:00:00Z,,tag.push,a/b:1,'-x\r\n"
        );
    }
}
