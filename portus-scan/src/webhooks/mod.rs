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
mod settings;

pub use deliver::{DispatchConfig, Dispatcher, backoff};
pub use envelope::{registry_envelope, scan_envelope};
pub use guard::{GuardedResolver, check_target, is_internal};
pub use seal::{Sealer, WebhookSecrets, signature};
pub use settings::{
    WebhookChanges, change_webhook_settings, new_webhook_settings, rotate_webhook_secret, severity_name,
};

/// Where outgoing webhook events are queued: the store, and the dispatcher to wake once
/// something was queued (none when this process does not deliver).
#[derive(Debug)]
pub(crate) struct WebhookQueue {
    store: std::sync::Arc<dyn portus_core::PolicyStore>,
    dispatcher: Option<std::sync::Arc<Dispatcher>>,
}

impl WebhookQueue {
    pub(crate) fn new(
        store: std::sync::Arc<dyn portus_core::PolicyStore>,
        dispatcher: Option<std::sync::Arc<Dispatcher>>,
    ) -> Self {
        WebhookQueue { store, dispatcher }
    }

    /// Queues `event` for the webhooks of `repository`'s namespace that want it (see
    /// [`portus_core::ops::webhooks::notify`]); returns how many deliveries were queued.
    pub(crate) async fn queue(
        &self,
        repository: &str,
        event: portus_core::model::WebhookEvent,
        key: &str,
        body: &str,
        worst: Option<portus_core::traits::Severity>,
    ) -> portus_core::Result<usize> {
        portus_core::ops::webhooks::notify(self.store.as_ref(), repository, event, key, body, worst).await
    }

    /// Wakes the dispatcher when `queued` deliveries are waiting.
    pub(crate) fn wake(&self, queued: usize) {
        if queued > 0
            && let Some(dispatcher) = &self.dispatcher
        {
            dispatcher.wake();
        }
    }
}
