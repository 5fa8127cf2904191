//! Security scanning for portus: orchestration of [`SecurityBackend`]s and the aggregation of
//! their findings.
//!
//! The trait and the finding types live in `portus-core`; the backends (Clair v4, Clair
//! legacy, zypper-docker, dummy) and the scan worker are built on them here.

pub use portus_core::traits::{ImageRef, ScanOutcome, ScanReport, SecurityBackend, Severity, Vulnerability};
