//! Writing a [`Conversion`]: the TOML file (with what was not carried over as comments at its
//! top) and the summary for the terminal.

use std::fmt::Write as _;

use super::env::{EXACT, is_ours, portus_variable};
use super::{Conversion, Entry, Outcome};
use crate::config::{KEYS, env_name};

/// The reasons of the entries with `pick`'s outcome, each with the settings that have it, in
/// the order they first appear.
fn grouped<'a>(entries: &'a [Entry], pick: impl Fn(&'a Outcome) -> Option<&'a str>) -> Vec<(&'a str, Vec<String>)> {
    let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
    for entry in entries {
        let Some(reason) = pick(&entry.outcome) else {
            continue;
        };
        let name = match &entry.variable {
            Some(variable) if *variable != entry.key => format!("{} ({variable})", entry.key),
            _ => entry.key.clone(),
        };
        match groups.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, keys)) => keys.push(name),
            None => groups.push((reason, vec![name])),
        }
    }
    groups
}

fn unsupported(outcome: &Outcome) -> Option<&str> {
    match outcome {
        Outcome::Unsupported(reason) => Some(reason),
        _ => None,
    }
}

fn not_needed(outcome: &Outcome) -> Option<&str> {
    match outcome {
        Outcome::NotNeeded(reason) => Some(reason),
        _ => None,
    }
}

impl Conversion {
    /// How many settings were carried over, were not needed, and are not supported.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |f: fn(&Outcome) -> bool| self.entries.iter().filter(|e| f(&e.outcome)).count();
        (
            count(|o| matches!(o, Outcome::Mapped(_))),
            count(|o| matches!(o, Outcome::NotNeeded(_))),
            count(|o| matches!(o, Outcome::Unsupported(_))),
        )
    }

    /// The configuration file: comments naming the sources, what to check by hand, and every
    /// setting not carried over with its reason; then the TOML.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# This program's configuration for a Portus installation, made by `portus config import-portus`\n\
             # from: {}.\n\
             # Every Portus setting is carried over below or listed in these comments with the reason.",
            self.sources.join(", ")
        );
        if !self.attention.is_empty() {
            out.push_str("#\n# Check by hand:\n");
            for note in &self.attention {
                let _ = writeln!(out, "#   - {note}");
            }
        }
        for (title, groups) in [
            (
                "Not supported here (not carried over)",
                grouped(&self.entries, unsupported),
            ),
            ("Not needed here", grouped(&self.entries, not_needed)),
        ] {
            if groups.is_empty() {
                continue;
            }
            let _ = writeln!(out, "#\n# {title}:");
            for (reason, keys) in groups {
                let _ = writeln!(out, "#   - {}: {reason}", keys.join(", "));
            }
        }
        out.push('\n');
        out.push_str(&toml::to_string(&self.config).expect("a TOML table serializes"));
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out
    }

    /// The report for the terminal: counts, the settings carried over and those not supported
    /// (with the reasons; the ones not needed are only counted, the file's comments list them),
    /// each variable read and whether `portus serve` reads it too, and what to check by hand.
    /// Values are never shown (some are secrets).
    pub fn summary(&self) -> String {
        let (mapped, not_needed_count, unsupported_count) = self.counts();
        let mut out = format!(
            "Portus settings: {} ({mapped} carried over, {not_needed_count} not needed here, {unsupported_count} not supported)\n",
            self.entries.len()
        );
        out.push_str("Carried over:\n");
        for entry in &self.entries {
            if let Outcome::Mapped(keys) = &entry.outcome {
                let _ = writeln!(out, "  {} → {}", entry.key, keys.join(", "));
            }
        }
        let groups = grouped(&self.entries, unsupported);
        if !groups.is_empty() {
            out.push_str("Not supported (not carried over):\n");
            for (reason, keys) in groups {
                let _ = writeln!(out, "  {}: {reason}", keys.join(", "));
            }
        }
        if not_needed_count > 0 {
            let _ = writeln!(
                out,
                "Not needed here: {not_needed_count} settings (off in Portus, or built in here), listed with their reasons in the output's comments"
            );
        }
        let variables: Vec<&Entry> = self.entries.iter().filter(|e| e.variable.is_some()).collect();
        if !variables.is_empty() {
            out.push_str("Environment:\n");
            for entry in variables {
                let _ = writeln!(out, "  {}", variable_line(entry));
            }
        }
        if !self.attention.is_empty() {
            out.push_str("Check by hand:\n");
            for note in &self.attention {
                let _ = writeln!(out, "  - {note}");
            }
        }
        out
    }
}

/// One variable: where its value went, and what `portus serve` does with it.
fn variable_line(entry: &Entry) -> String {
    let variable = entry.variable.as_deref().unwrap_or_default();
    let source = if variable == entry.key {
        variable.to_owned()
    } else {
        format!("{variable} ({})", entry.key)
    };
    let outcome = match &entry.outcome {
        Outcome::Mapped(keys) => format!("→ {}", keys.join(", ")),
        Outcome::NotNeeded(reason) => format!("not needed: {reason}"),
        Outcome::Unsupported(reason) => format!("not supported: {reason}"),
    };
    let exact = EXACT
        .iter()
        .find(|rule| rule.portus == variable || portus_variable(rule.portus) == variable);
    let at_start_up = match (exact, &entry.outcome) {
        (Some(rule), _) => format!(
            "; `portus serve` reads it too, as {} (its own name: {})",
            rule.ours,
            env_name(rule.ours)
        ),
        (None, _) if is_ours(variable) => "; `portus serve` reads it under the same name".to_owned(),
        (None, Outcome::Mapped(keys)) if keys.len() == 1 && KEYS.contains(&keys[0].as_str()) => format!(
            "; `portus serve` does not read it: keep the file's value or rename it {}",
            env_name(&keys[0])
        ),
        (None, Outcome::Mapped(_)) => "; `portus serve` does not read it: keep the file's value".to_owned(),
        (None, _) => String::new(),
    };
    format!("{source} {outcome}{at_start_up}")
}
