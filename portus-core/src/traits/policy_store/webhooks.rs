use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Result;
use crate::model::{
    AttemptOutcome, Delivery, DeliveryAttempt, DeliveryId, NamespaceId, Webhook, WebhookEvent, WebhookId,
    WebhookSettings,
};

/// Outgoing webhooks per namespace and their durable delivery queue.
///
/// Deliveries are queued here before anyone tries to send them, so a restart loses none; a
/// webhook's deliveries are made one at a time in id order ([`claim_due_deliveries`] offers only the
/// oldest pending one of each enabled webhook).
///
/// A role of the [`PolicyStore`](super::PolicyStore); every implementation runs the role's
/// conformance suite in `crate::testing`.
///
/// [`claim_due_deliveries`]: WebhookStore::claim_due_deliveries
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Creates a webhook; `NotFound` if the namespace does not exist, `Conflict` if the name
    /// is taken in it.
    async fn create_webhook(&self, namespace: NamespaceId, settings: WebhookSettings) -> Result<Webhook>;
    /// One webhook.
    async fn webhook(&self, id: WebhookId) -> Result<Option<Webhook>>;
    /// A namespace's webhooks, by id.
    async fn namespace_webhooks(&self, namespace: NamespaceId) -> Result<Vec<Webhook>>;
    /// Replaces a webhook's settings; `NotFound`, or `Conflict` if the new name is taken.
    async fn update_webhook(&self, id: WebhookId, settings: WebhookSettings) -> Result<Webhook>;
    /// Deletes a webhook with its deliveries; `NotFound` if it does not exist.
    async fn delete_webhook(&self, id: WebhookId) -> Result<()>;
    /// Queues `body` for `webhook`, due now; `None` when `event_key` was queued for it before
    /// (a replayed event is delivered once). `NotFound` if the webhook does not exist.
    async fn enqueue_delivery(
        &self,
        webhook: WebhookId,
        event: WebhookEvent,
        event_key: &str,
        body: &str,
    ) -> Result<Option<Delivery>>;
    /// Claims the deliveries to attempt at `now`: of each enabled webhook, its oldest pending
    /// delivery when that one is due; at most `limit`, oldest first. Each is due again only at
    /// `lease_until` (unless its attempt is finished before), so several dispatchers on one
    /// store never attempt one delivery at once, and one that dies mid-attempt leaves it to the
    /// others once the lease ends.
    async fn claim_due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Delivery>>;
    /// Logs an attempt at a delivery and what becomes of it (the attempt count goes up by one).
    async fn finish_attempt(&self, id: DeliveryId, attempt: &DeliveryAttempt, outcome: AttemptOutcome) -> Result<()>;
    /// A webhook's latest `limit` deliveries, newest first.
    async fn deliveries(&self, webhook: WebhookId, limit: usize) -> Result<Vec<Delivery>>;
    /// One page of a webhook's delivery log, newest first: the `limit` deliveries (every one
    /// with `None`) after the newest `offset`, and how many it has in all.
    async fn deliveries_page(
        &self,
        webhook: WebhookId,
        offset: u64,
        limit: Option<u64>,
    ) -> Result<crate::model::ListPage<Delivery>>;
    /// One delivery.
    async fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>>;
}

macro_rules! forward {
    ($wrapper:ty) => {
        #[async_trait]
        impl<T: WebhookStore + ?Sized> WebhookStore for $wrapper {
            async fn create_webhook(&self, namespace: NamespaceId, settings: WebhookSettings) -> Result<Webhook> {
                (**self).create_webhook(namespace, settings).await
            }
            async fn webhook(&self, id: WebhookId) -> Result<Option<Webhook>> {
                (**self).webhook(id).await
            }
            async fn namespace_webhooks(&self, namespace: NamespaceId) -> Result<Vec<Webhook>> {
                (**self).namespace_webhooks(namespace).await
            }
            async fn update_webhook(&self, id: WebhookId, settings: WebhookSettings) -> Result<Webhook> {
                (**self).update_webhook(id, settings).await
            }
            async fn delete_webhook(&self, id: WebhookId) -> Result<()> {
                (**self).delete_webhook(id).await
            }
            async fn enqueue_delivery(
                &self,
                webhook: WebhookId,
                event: WebhookEvent,
                event_key: &str,
                body: &str,
            ) -> Result<Option<Delivery>> {
                (**self).enqueue_delivery(webhook, event, event_key, body).await
            }
            async fn claim_due_deliveries(
                &self,
                now: DateTime<Utc>,
                limit: usize,
                lease_until: DateTime<Utc>,
            ) -> Result<Vec<Delivery>> {
                (**self).claim_due_deliveries(now, limit, lease_until).await
            }
            async fn finish_attempt(
                &self,
                id: DeliveryId,
                attempt: &DeliveryAttempt,
                outcome: AttemptOutcome,
            ) -> Result<()> {
                (**self).finish_attempt(id, attempt, outcome).await
            }
            async fn deliveries(&self, webhook: WebhookId, limit: usize) -> Result<Vec<Delivery>> {
                (**self).deliveries(webhook, limit).await
            }
            async fn deliveries_page(
                &self,
                webhook: WebhookId,
                offset: u64,
                limit: Option<u64>,
            ) -> Result<crate::model::ListPage<Delivery>> {
                (**self).deliveries_page(webhook, offset, limit).await
            }
            async fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>> {
                (**self).delivery(id).await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
