//! Outgoing webhooks: the envelope of an event, the sealing of webhook secrets, the SSRF guard
//! and the [`Dispatcher`] that delivers the store's queue, signed and retried.
//!
//! Events are queued in the store ([`portus_core::ops::webhooks::notify`]) where their outcome
//! is recorded (the event pipeline, before it finishes the registry event), so a crash loses
//! none; the dispatcher takes each webhook's oldest pending delivery, sends it, and logs the
//! attempt: a 2xx answer delivers it, anything else retries it with exponential backoff until
//! it is older than the give-up age.

mod deliver;
mod envelope;
mod guard;
mod seal;

pub use deliver::{DispatchConfig, Dispatcher, backoff};
pub use envelope::{registry_envelope, scan_envelope};
pub use guard::{GuardedResolver, check_target, is_internal};
pub use seal::{Sealer, WebhookSecrets, signature};

/// The store outgoing webhook deliveries are queued in, and the dispatcher to wake after.
pub(crate) type WebhookQueue = (
    std::sync::Arc<dyn portus_core::PolicyStore>,
    Option<std::sync::Arc<Dispatcher>>,
);
