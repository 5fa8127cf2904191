//! `portus activity`: the activity (audit) log, newest first; `--csv` exports a time range
//! (locally or, with `--server`, through `GET /api/v1/activities?format=`).

use clap::Args;
use portus_core::model::ActivityFilter;
use portus_core::prelude::*;

use crate::Error;
use crate::app::{self, DataPaths};

/// Arguments of `portus activity`.
#[derive(Debug, Args)]
pub struct ActivityArgs {
    /// Only this actor's.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only this action (`tag.push`) or family (`tag.`).
    #[arg(long)]
    pub action: Option<String>,
    /// Only targets starting with this text (`alice/`).
    #[arg(long)]
    pub target: Option<String>,
    /// Only since this time: RFC 3339 (2026-11-24T09:30:00Z), a date (2026-11-24, midnight
    /// UTC) or an age (30m, 24h, 7d).
    #[arg(long, value_parser = parse_since)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only before this time (exclusive), written like --since.
    #[arg(long, value_parser = parse_since)]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// At most this many (not for --csv, nor with --server).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Print JSON (with --server: the whole range, oldest first, as the API's export).
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Export the whole range as CSV, oldest first (header id,time,actor,action,target,details;
    /// at most 100000 activities).
    #[arg(long)]
    pub csv: bool,
}

/// The checks common to the local store and `--server`.
fn check(args: &ActivityArgs) -> Result<(), Error> {
    if let Some(action) = args.action.as_deref()
        && !action.contains('.')
    {
        return Err(Error::Usage(format!(
            "'{action}' is not an action: actions are named like tag.push or user.create, families like tag."
        )));
    }
    if let (Some(since), Some(until)) = (args.since, args.until)
        && since > until
    {
        return Err(Error::Usage("--since is after --until".into()));
    }
    Ok(())
}

/// `portus activity --server`: the API's export of the range, printed as it comes (JSON
/// pretty-printed); what the token's user may see of the log.
pub(super) async fn run_remote(rest: &crate::cli::backend::Rest, args: ActivityArgs) -> Result<(), Error> {
    check(&args)?;
    let format = match (args.csv, args.json) {
        (true, _) => "csv",
        (false, true) => "json",
        (false, false) => {
            return Err(Error::Usage(
                "with --server, portus activity exports a range: add --csv or --json".into(),
            ));
        }
    };
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("format", format);
    if let Some(target) = args.target.as_deref() {
        match target.strip_suffix('/').filter(|n| !n.is_empty() && !n.contains('/')) {
            Some(namespace) => query.append_pair("namespace", namespace),
            None => {
                return Err(Error::Usage(format!(
                    "with --server, --target takes a namespace followed by / (alice/), not '{target}'"
                )));
            }
        };
    }
    for (key, value) in [
        ("actor", args.actor.clone()),
        ("action", args.action.clone()),
        ("since", args.since.map(|t| t.to_rfc3339())),
        ("until", args.until.map(|t| t.to_rfc3339())),
    ] {
        if let Some(value) = value {
            query.append_pair(key, &value);
        }
    }
    let body = rest.get_text(&format!("/api/v1/activities?{}", query.finish())).await?;
    if args.csv {
        print!("{body}");
    } else {
        let json: serde_json::Value = serde_json::from_str(&body).map_err(|e| Error::Server {
            status: 200,
            message: format!("unexpected answer: {e}"),
        })?;
        println!("{}", serde_json::to_string_pretty(&json).expect("JSON serializes"));
    }
    Ok(())
}

/// `--since`: RFC 3339, a date, or an age before now.
fn parse_since(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    use chrono::{NaiveDate, TimeDelta, Utc};
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    let age = text
        .strip_suffix('m')
        .map(|n| (n, 60))
        .or_else(|| text.strip_suffix('h').map(|n| (n, 3_600)))
        .or_else(|| text.strip_suffix('d').map(|n| (n, 86_400)))
        .and_then(|(n, unit)| n.parse::<i64>().ok().map(|n| n.saturating_mul(unit)))
        .and_then(TimeDelta::try_seconds);
    match age {
        Some(age) if age >= TimeDelta::zero() => Ok(Utc::now() - age),
        _ => Err(format!(
            "'{text}' is not a time: use RFC 3339 (2026-11-24T09:30:00Z), a date (2026-11-24) or an age (30m, 24h, 7d)"
        )),
    }
}

pub(super) async fn run(paths: &DataPaths, args: ActivityArgs) -> Result<(), Error> {
    check(&args)?;
    let store = app::open_store(paths).await?;
    let filter = ActivityFilter {
        actor: args.actor,
        action: args.action,
        target_prefix: args.target,
        since: args.since,
        until: args.until,
        limit: args.limit.max(1),
        ..ActivityFilter::default()
    };
    if args.csv {
        // The administrator's export: everything in the range (this machine's store).
        let rows = store.activities_export(&filter).await?;
        print!("{}", portus_core::model::activities_csv(&rows));
        return Ok(());
    }
    let activities = store.activities(&filter).await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&activities).expect("activities serialize")
        );
        return Ok(());
    }
    if activities.is_empty() {
        eprintln!("no activity matched");
    }
    for a in activities {
        println!(
            "{}  {:<10} {:<22} {}{}",
            a.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            a.actor.as_deref().unwrap_or("-"),
            a.action,
            a.target,
            a.details.map(|d| format!("  ({d})")).unwrap_or_default()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_since;
    use chrono::{TimeZone, Utc};

    #[test]
    fn since_takes_times_dates_and_ages() {
        assert_eq!(
            parse_since("2026-11-24T09:30:00Z").unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 24, 9, 30, 0).unwrap()
        );
        assert_eq!(
            parse_since("2026-11-24").unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap()
        );
        let day = Utc::now() - parse_since("24h").unwrap();
        assert!((day.num_seconds() - 86_400).abs() < 5, "{day}");
        assert!(parse_since("7d").is_ok() && parse_since("30m").is_ok());
        for bad in ["yesterday", "-1d", "d", "2026-13-01", ""] {
            let err = parse_since(bad).unwrap_err();
            assert!(err.contains("RFC 3339") && err.contains("24h"), "{bad}: {err}");
        }
    }
}
