use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::{
    AttemptOutcome, Delivery, DeliveryAttempt, DeliveryId, DeliveryState, NamespaceId, Webhook, WebhookEvent,
    WebhookId, WebhookSettings,
};
use crate::{Error, Result};

use super::InMemoryStore;

fn name_taken(state: &super::State, namespace: NamespaceId, name: &str, except: Option<WebhookId>) -> bool {
    state
        .outgoing
        .iter()
        .any(|w| w.namespace_id == namespace && w.settings.name == name && Some(w.id) != except)
}

#[async_trait]
impl crate::traits::WebhookStore for InMemoryStore {
    async fn create_webhook(&self, namespace: NamespaceId, settings: WebhookSettings) -> Result<Webhook> {
        let mut state = self.lock();
        if !state.namespaces.iter().any(|n| n.id == namespace) {
            return Err(Error::not_found("namespace", namespace.to_string()));
        }
        if name_taken(&state, namespace, &settings.name, None) {
            return Err(Error::Conflict("the name is already taken".into()));
        }
        let now = crate::model::now();
        let webhook = Webhook {
            id: WebhookId(state.next_id()),
            namespace_id: namespace,
            settings,
            created_at: now,
            updated_at: now,
        };
        state.outgoing.push(webhook.clone());
        Ok(webhook)
    }
    async fn webhook(&self, id: WebhookId) -> Result<Option<Webhook>> {
        Ok(self.lock().outgoing.iter().find(|w| w.id == id).cloned())
    }
    async fn namespace_webhooks(&self, namespace: NamespaceId) -> Result<Vec<Webhook>> {
        let state = self.lock();
        Ok(state
            .outgoing
            .iter()
            .filter(|w| w.namespace_id == namespace)
            .cloned()
            .collect())
    }
    async fn update_webhook(&self, id: WebhookId, settings: WebhookSettings) -> Result<Webhook> {
        let mut state = self.lock();
        let Some(namespace) = state.outgoing.iter().find(|w| w.id == id).map(|w| w.namespace_id) else {
            return Err(Error::not_found("webhook", id.to_string()));
        };
        if name_taken(&state, namespace, &settings.name, Some(id)) {
            return Err(Error::Conflict("the name is already taken".into()));
        }
        let webhook = state.outgoing.iter_mut().find(|w| w.id == id).expect("found above");
        webhook.settings = settings;
        webhook.updated_at = crate::model::now();
        Ok(webhook.clone())
    }
    async fn delete_webhook(&self, id: WebhookId) -> Result<()> {
        let mut state = self.lock();
        let before = state.outgoing.len();
        state.outgoing.retain(|w| w.id != id);
        if state.outgoing.len() == before {
            return Err(Error::not_found("webhook", id.to_string()));
        }
        state.deliveries.retain(|d| d.webhook_id != id);
        Ok(())
    }
    async fn enqueue_delivery(
        &self,
        webhook: WebhookId,
        event: WebhookEvent,
        event_key: &str,
        body: &str,
    ) -> Result<Option<Delivery>> {
        let mut state = self.lock();
        if !state.outgoing.iter().any(|w| w.id == webhook) {
            return Err(Error::not_found("webhook", webhook.to_string()));
        }
        if state
            .deliveries
            .iter()
            .any(|d| d.webhook_id == webhook && d.event_key == event_key)
        {
            return Ok(None);
        }
        let now = crate::model::now();
        let delivery = Delivery {
            id: DeliveryId(state.next_id()),
            webhook_id: webhook,
            event,
            event_key: event_key.to_owned(),
            body: body.to_owned(),
            state: DeliveryState::Pending,
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
            last_attempt: None,
        };
        state.deliveries.push(delivery.clone());
        Ok(Some(delivery))
    }
    async fn claim_due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease_until: DateTime<Utc>,
    ) -> Result<Vec<Delivery>> {
        let mut state = self.lock();
        let mut heads: Vec<Delivery> = Vec::new();
        // Deliveries are kept in id order: the first pending one of a webhook is its head.
        for delivery in state.deliveries.iter().filter(|d| d.state == DeliveryState::Pending) {
            if heads.iter().any(|h| h.webhook_id == delivery.webhook_id) {
                continue;
            }
            heads.push(delivery.clone());
        }
        let enabled = |id: WebhookId| state.outgoing.iter().any(|w| w.id == id && w.settings.enabled);
        let mut due: Vec<Delivery> = heads
            .into_iter()
            .filter(|d| d.next_attempt_at <= now && enabled(d.webhook_id))
            .collect();
        due.truncate(limit);
        for claimed in &due {
            if let Some(stored) = state.deliveries.iter_mut().find(|d| d.id == claimed.id) {
                stored.next_attempt_at = lease_until;
            }
        }
        Ok(due)
    }
    async fn finish_attempt(&self, id: DeliveryId, attempt: &DeliveryAttempt, outcome: AttemptOutcome) -> Result<()> {
        let mut state = self.lock();
        let delivery = state
            .deliveries
            .iter_mut()
            .find(|d| d.id == id)
            .ok_or_else(|| Error::not_found("delivery", id.to_string()))?;
        delivery.attempts += 1;
        delivery.last_attempt = Some(attempt.clone());
        match outcome {
            AttemptOutcome::Delivered => delivery.state = DeliveryState::Delivered,
            AttemptOutcome::GaveUp => delivery.state = DeliveryState::Failed,
            AttemptOutcome::RetryAt(at) => {
                delivery.state = DeliveryState::Pending;
                delivery.next_attempt_at = crate::model::at_store_precision(at);
            }
        }
        Ok(())
    }
    async fn deliveries(&self, webhook: WebhookId, limit: usize) -> Result<Vec<Delivery>> {
        let state = self.lock();
        Ok(state
            .deliveries
            .iter()
            .rev()
            .filter(|d| d.webhook_id == webhook)
            .take(limit)
            .cloned()
            .collect())
    }
    async fn deliveries_page(
        &self,
        webhook: WebhookId,
        offset: u64,
        limit: Option<u64>,
    ) -> Result<crate::model::ListPage<Delivery>> {
        let state = self.lock();
        let log: Vec<&Delivery> = state
            .deliveries
            .iter()
            .rev()
            .filter(|d| d.webhook_id == webhook)
            .collect();
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        let take = limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        Ok(crate::model::ListPage {
            total: log.len() as u64,
            items: log.into_iter().skip(skip).take(take).cloned().collect(),
        })
    }
    async fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>> {
        Ok(self.lock().deliveries.iter().find(|d| d.id == id).cloned())
    }
}
