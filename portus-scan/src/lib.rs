//! Keeping portus' view of the registry true, and (next) scanning what is in it.
//!
//! - [`notification`]: the registry's notification envelopes, parsed leniently.
//! - [`events`]: the [`EventPipeline`](events::EventPipeline): events are persisted first and
//!   applied after, idempotently, so an accepted event is never lost.
//! - [`registry`]: a [`RegistryClient`](portus_core::RegistryClient) over HTTP that speaks the
//!   Distribution and OCI APIs (catalog and tag pagination, all four manifest types).
//! - [`sync`]: catalog synchronization with the `initial`, `update` and `update-delete`
//!   strategies and a dry-run plan.
//! - [`backend`]: security scanner backends (each behind a cargo feature) and [`aggregate`]:
//!   findings merged across backends per tag and per repository.
//! - [`artifacts`]: what a tag holds beyond images (Helm charts, signatures, SBOMs, other OCI
//!   artifacts), recognized from its manifest; only images are scanned.
//! - [`webhooks`]: outgoing webhooks: the signed, retried delivery of queued events, the SSRF
//!   guard and the sealing of webhook secrets.

pub mod aggregate;
pub mod artifacts;
pub mod backend;
pub mod error;
pub mod events;
pub mod notification;
pub mod registry;
pub mod scanner;
pub mod sizes;
pub mod stop;
pub mod sync;
pub mod webhooks;
pub mod worker;

pub use error::Error;
pub use portus_core::traits::{ImageRef, Layer, ScanOutcome, ScanReport, SecurityBackend, Severity, Vulnerability};
