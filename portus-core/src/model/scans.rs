//! Security scans: each backend's state and report for each manifest digest.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Error;

/// Where one backend stands for one manifest digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanState {
    /// Not finished: never scanned, or the scanner asked to come back later.
    Pending,
    /// A worker holds it until `next_attempt_at` (its lease); after that anyone may take it.
    Scanning,
    /// Finished; the report is stored.
    Done,
    /// The last attempt failed; it is retried with backoff.
    Failed,
}

impl ScanState {
    /// The lower-case name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanState::Pending => "pending",
            ScanState::Scanning => "scanning",
            ScanState::Done => "done",
            ScanState::Failed => "failed",
        }
    }
}

impl FromStr for ScanState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(ScanState::Pending),
            "scanning" => Ok(ScanState::Scanning),
            "done" => Ok(ScanState::Done),
            "failed" => Ok(ScanState::Failed),
            other => Err(Error::Invalid(format!("unknown scan state '{other}'"))),
        }
    }
}

/// One backend's scan of one manifest digest (shared by every tag pointing at it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRecord {
    /// Manifest digest.
    pub digest: String,
    /// Backend name.
    pub backend: String,
    /// State.
    pub state: ScanState,
    /// The report, when done.
    pub report: Option<crate::traits::ScanReport>,
    /// The last error, when failed (or pending after a failure).
    pub error: Option<String>,
    /// Consecutive unsuccessful attempts (drives the backoff).
    pub attempts: u32,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Not to be tried again before this time.
    pub next_attempt_at: Option<DateTime<Utc>>,
}
