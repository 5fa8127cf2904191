//! What an import found, writes and leaves out, printed at its end (and by `--dry-run`).

use std::fmt;

use portus_core::model::ImportCounts;

/// The kinds of rows an import handles, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// Accounts.
    Users,
    /// Teams.
    Teams,
    /// Namespaces.
    Namespaces,
    /// Team memberships.
    Memberships,
    /// Application tokens.
    AppTokens,
    /// Repositories.
    Repositories,
    /// Tags.
    Tags,
    /// Stars.
    Stars,
    /// Comments.
    Comments,
    /// Webhooks.
    Webhooks,
    /// Activities.
    Activities,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 11] = [
        Kind::Users,
        Kind::Teams,
        Kind::Namespaces,
        Kind::Memberships,
        Kind::AppTokens,
        Kind::Repositories,
        Kind::Tags,
        Kind::Stars,
        Kind::Comments,
        Kind::Webhooks,
        Kind::Activities,
    ];

    /// The plural name printed in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Users => "users",
            Kind::Teams => "teams",
            Kind::Namespaces => "namespaces",
            Kind::Memberships => "memberships",
            Kind::AppTokens => "application tokens",
            Kind::Repositories => "repositories",
            Kind::Tags => "tags",
            Kind::Stars => "stars",
            Kind::Comments => "comments",
            Kind::Webhooks => "webhooks",
            Kind::Activities => "activities",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// How many of this kind `counts` says were written.
    pub fn of(self, counts: &ImportCounts) -> u64 {
        match self {
            Kind::Users => counts.users,
            Kind::Teams => counts.teams,
            Kind::Namespaces => counts.namespaces,
            Kind::Memberships => counts.memberships,
            Kind::AppTokens => counts.app_tokens,
            Kind::Repositories => counts.repositories,
            Kind::Tags => counts.tags,
            Kind::Stars => counts.stars,
            Kind::Comments => counts.comments,
            Kind::Webhooks => counts.webhooks,
            Kind::Activities => counts.activities,
        }
    }
}

/// A row left out, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Its kind.
    pub kind: Kind,
    /// Its name at the source.
    pub name: String,
    /// Why.
    pub reason: String,
}

/// The report of an import.
#[derive(Debug, Clone, Default)]
pub struct Report {
    found: [u64; 11],
    planned: [u64; 11],
    /// Rows left out.
    pub skipped: Vec<Skipped>,
    /// Rows imported with a change worth knowing (locks, missing passwords, visibility).
    pub notes: Vec<String>,
    /// Configuration hints (the registry's address).
    pub hints: Vec<String>,
    /// Rows written, once the import ran (`None` for a dry run).
    pub written: Option<ImportCounts>,
}

impl Report {
    pub(crate) fn found(&mut self, kind: Kind) {
        self.found[kind.index()] += 1;
    }

    pub(crate) fn planned(&mut self, kind: Kind) {
        self.planned[kind.index()] += 1;
    }

    pub(crate) fn skip(&mut self, kind: Kind, name: &str, reason: &str) {
        self.skipped.push(Skipped {
            kind,
            name: name.to_owned(),
            reason: reason.to_owned(),
        });
    }

    pub(crate) fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    pub(crate) fn hint(&mut self, hint: String) {
        self.hints.push(hint);
    }

    /// Rows of `kind` read from the source.
    pub fn found_of(&self, kind: Kind) -> u64 {
        self.found[kind.index()]
    }

    /// Rows of `kind` the import writes unless already present.
    pub fn planned_of(&self, kind: Kind) -> u64 {
        self.planned[kind.index()]
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = match self.written {
            Some(_) => "written",
            None => "would import",
        };
        writeln!(f, "{:<20} {:>8} {:>13} {:>8}", "kind", "found", header, "skipped")?;
        for kind in Kind::ALL {
            let skipped = self.skipped.iter().filter(|s| s.kind == kind).count();
            let second = match &self.written {
                Some(counts) => kind.of(counts),
                None => self.planned_of(kind),
            };
            writeln!(
                f,
                "{:<20} {:>8} {:>13} {:>8}",
                kind.as_str(),
                self.found_of(kind),
                second,
                skipped
            )?;
        }
        if let Some(written) = &self.written {
            let present: u64 = Kind::ALL
                .iter()
                .map(|k| self.planned_of(*k).saturating_sub(k.of(written)))
                .sum();
            if present > 0 {
                writeln!(f, "{present} rows were already present and left as they are")?;
            }
        }
        if !self.skipped.is_empty() {
            writeln!(f, "\nskipped:")?;
            for s in &self.skipped {
                writeln!(f, "  {} {}: {}", kind_singular(s.kind), s.name, s.reason)?;
            }
        }
        if !self.notes.is_empty() {
            writeln!(f, "\nnotes:")?;
            for note in &self.notes {
                writeln!(f, "  {note}")?;
            }
        }
        if !self.hints.is_empty() {
            writeln!(f, "\nconfiguration:")?;
            for hint in &self.hints {
                writeln!(f, "  {hint}")?;
            }
        }
        Ok(())
    }
}

fn kind_singular(kind: Kind) -> &'static str {
    match kind {
        Kind::Users => "user",
        Kind::Teams => "team",
        Kind::Namespaces => "namespace",
        Kind::Memberships => "membership",
        Kind::AppTokens => "application token",
        Kind::Repositories => "repository",
        Kind::Tags => "tag",
        Kind::Stars => "star",
        Kind::Comments => "comment",
        Kind::Webhooks => "webhook",
        Kind::Activities => "activity",
    }
}
