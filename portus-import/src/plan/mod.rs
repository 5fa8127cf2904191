//! The decisions of an import, as a pure function of what was read: which rows become which
//! records here, which are skipped and why, and how they are split into batches (one
//! transaction each).

mod accounts;
mod activities;
mod catalog;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use portus_core::model::ImportBatch;

use crate::report::Report;
use crate::source::PortusSnapshot;

use accounts::{plan_teams_and_namespaces, plan_tokens, plan_users};
use activities::plan_activities;
use catalog::{plan_repositories, plan_stars_and_comments, plan_tags, plan_webhooks};

/// The name of Portus' internal account (its background jobs' identity), which is not a person.
pub const PORTUS_INTERNAL_USER: &str = "portus";

/// The ledger name batches are planned with, replaced by [`Options::source`](crate::Options).
const SOURCE: &str = "portus";

/// Rows per batch for the kinds that can be numerous (tags, stars, comments, activities).
pub const BATCH_ROWS: usize = 2_000;

/// How long Portus kept an account locked after too many failed sign-ins (Devise lockable as
/// Portus configures it: 10 minutes), after which the next sign-in works again.
pub const PORTUS_UNLOCK_IN: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

fn utc(time: Option<NaiveDateTime>) -> Option<DateTime<Utc>> {
    time.map(|t| Utc.from_utc_datetime(&t))
}

fn non_empty(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}

/// An import worked out: the batches to write, in order, and the report.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Batches in dependency order (accounts, repositories, then the rest), each written in one
    /// transaction.
    pub batches: Vec<ImportBatch>,
    /// What was found, what will be imported, what is skipped and why.
    pub report: Report,
}

/// Names of the rows that made it into the plan, by their Portus ids.
#[derive(Default)]
pub(crate) struct Names {
    users: HashMap<i64, String>,
    /// Every user's name, imported or not (activities keep actors by name).
    all_users: HashMap<i64, String>,
    teams: HashMap<i64, String>,
    all_teams: HashMap<i64, String>,
    /// Imported namespaces; the global one is "".
    namespaces: HashMap<i64, String>,
    all_namespaces: HashMap<i64, String>,
    repositories: HashMap<i64, String>,
    all_repositories: HashMap<i64, String>,
    tags: HashMap<i64, String>,
    tokens: HashMap<i64, String>,
    webhooks: HashMap<i64, String>,
}

/// Works out the import of `snapshot` as `options` say (the ledger's source name, whether
/// Portus authenticated against LDAP, whether this is a merge).
pub fn plan(snapshot: &PortusSnapshot, options: &crate::Options) -> Plan {
    let mut report = Report::default();
    let mut names = Names::default();
    let mut accounts = ImportBatch::new(SOURCE);

    for registry in &snapshot.registries {
        let scheme = if registry.use_ssl { "https" } else { "http" };
        report.hint(format!(
            "Portus' registry '{}' is {scheme}://{}: set `registry.url = \"{scheme}://{}\"` (the address portus reaches it at)",
            registry.name, registry.hostname, registry.hostname
        ));
        if let Some(external) = non_empty(registry.external_hostname.clone()) {
            report.hint(format!(
                "clients pull from {external} (Portus' external_hostname): set `registry.external_hostname = \"{external}\"` so the pages' pull commands show it"
            ));
        }
    }
    if snapshot.registries.len() > 1 {
        report.hint("the database lists several registries; Portus used only the first".into());
    }

    plan_users(snapshot, options.ldap, &mut names, &mut report, &mut accounts);
    plan_teams_and_namespaces(snapshot, &mut names, &mut report, &mut accounts);
    plan_tokens(snapshot, &mut names, &mut report, &mut accounts);

    let mut repositories = ImportBatch::new(SOURCE);
    plan_repositories(snapshot, &mut names, &mut report, &mut repositories);
    let mut rest = Vec::new();
    plan_tags(snapshot, &mut names, &mut report, &mut rest);
    plan_stars_and_comments(snapshot, &names, &mut report, &mut rest);
    plan_webhooks(snapshot, &mut names, &mut report, &mut rest);
    plan_activities(snapshot, &names, &mut report, &mut rest);

    if options.merge {
        // Merging into a live installation: its global namespace keeps its own settings.
        accounts.namespaces.retain(|n| !n.global);
        report.note("merge: this installation's global namespace keeps its description and visibility".into());
    }
    let mut batches = vec![accounts, repositories];
    batches.extend(rest);
    batches.retain(|b| !b.is_empty());
    for batch in &mut batches {
        batch.source.clone_from(&options.source);
    }
    Plan { batches, report }
}

/// The full name of a Portus repository: `namespace/name`, or `name` in the global namespace.
fn full_name(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}/{name}")
    }
}

/// Appends a row to the last batch of `batches` while it holds fewer than [`BATCH_ROWS`]
/// rows, starting a new batch when it is full.
fn push_row(batches: &mut Vec<ImportBatch>, add: impl FnOnce(&mut ImportBatch)) {
    if batches.last().is_none_or(|b| b.len() >= BATCH_ROWS) {
        batches.push(ImportBatch::new(SOURCE));
    }
    if let Some(batch) = batches.last_mut() {
        add(batch);
    }
}
