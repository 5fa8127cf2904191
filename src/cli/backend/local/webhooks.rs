//! Webhooks in the local store: settings made and sealed as the REST API makes them
//! (`portus_scan::webhooks`), with the key `portus serve` uses; every write through
//! `portus_core::ops::webhooks`.

use portus_core::model::{Delivery, DeliveryId, Namespace, Webhook};
use portus_core::ops;
use portus_scan::webhooks::{
    WebhookChanges, change_webhook_settings, new_webhook_settings, rotate_webhook_secret, severity_name,
};

use super::Local;
use crate::Error;
use crate::cli::CLI_ACTOR;
use crate::cli::backend::{WebhookBackend, no_delivery, no_webhook};
use crate::cli::webhooks::{AttemptView, DeliveryView, WebhookView};

/// How many deliveries the log shows, as the REST API.
const LOG_LENGTH: usize = 100;

fn webhook_view(webhook: &Webhook) -> WebhookView {
    let settings = &webhook.settings;
    WebhookView {
        id: webhook.id.0,
        name: settings.name.clone(),
        url: settings.url.clone(),
        method: settings.method.to_string(),
        content_type: settings.content_type.to_string(),
        events: settings.events.iter().map(ToString::to_string).collect(),
        min_severity: severity_name(settings.min_severity),
        enabled: settings.enabled,
        headers: settings.header_names.clone(),
        has_credentials: settings.has_credentials,
        created_at: webhook.created_at,
        updated_at: webhook.updated_at,
    }
}

fn delivery_view(delivery: Delivery) -> DeliveryView {
    DeliveryView {
        id: delivery.id.0,
        event: delivery.event.to_string(),
        event_key: delivery.event_key,
        state: delivery.state.to_string(),
        attempts: delivery.attempts,
        created_at: delivery.created_at,
        next_attempt_at: delivery.next_attempt_at,
        body: delivery.body,
        last_attempt: delivery.last_attempt.map(|a| AttemptView {
            at: a.at,
            status: a.status,
            duration_ms: a.duration_ms,
            request_headers: a.request_headers,
            response_headers: a.response_headers,
            response_body: a.response_body,
            error: a.error,
        }),
    }
}

impl Local<'_> {
    async fn find_webhook(&self, namespace: &str, name: &str) -> Result<(Namespace, Webhook), Error> {
        let found = self.find_namespace(namespace).await?;
        let webhook = self
            .store()
            .namespace_webhooks(found.id)
            .await?
            .into_iter()
            .find(|w| w.settings.name == name)
            .ok_or_else(|| no_webhook(namespace, name))?;
        Ok((found, webhook))
    }

    fn sealer(&self) -> Result<portus_scan::webhooks::Sealer, Error> {
        crate::app::webhook_sealer(self.config, self.paths)
    }
}

impl WebhookBackend for Local<'_> {
    async fn webhooks(&self, namespace: &str) -> Result<Vec<WebhookView>, Error> {
        let found = self.find_namespace(namespace).await?;
        let webhooks = self.store().namespace_webhooks(found.id).await?;
        Ok(webhooks.iter().map(webhook_view).collect())
    }

    async fn create_webhook(&self, namespace: &str, changes: WebhookChanges) -> Result<(WebhookView, String), Error> {
        let found = self.find_namespace(namespace).await?;
        let allow = self.config.webhooks.allow_private_targets;
        let (settings, secret) = new_webhook_settings(changes, &self.sealer()?, allow).await?;
        let webhook = ops::webhooks::create(self.store(), Some(CLI_ACTOR), &found, settings).await?;
        Ok((webhook_view(&webhook), secret))
    }

    async fn update_webhook(
        &self,
        namespace: &str,
        webhook: &str,
        changes: WebhookChanges,
    ) -> Result<WebhookView, Error> {
        let (found, current) = self.find_webhook(namespace, webhook).await?;
        let mut settings = current.settings.clone();
        let allow = self.config.webhooks.allow_private_targets;
        change_webhook_settings(&mut settings, changes, &self.sealer()?, allow).await?;
        let updated = ops::webhooks::update(self.store(), Some(CLI_ACTOR), &found, &current, settings).await?;
        Ok(webhook_view(&updated))
    }

    async fn rotate_secret(&self, namespace: &str, webhook: &str) -> Result<String, Error> {
        let (found, current) = self.find_webhook(namespace, webhook).await?;
        let mut settings = current.settings.clone();
        let secret = rotate_webhook_secret(&mut settings, &self.sealer()?)?;
        ops::webhooks::update(self.store(), Some(CLI_ACTOR), &found, &current, settings).await?;
        Ok(secret)
    }

    async fn delete_webhook(&self, namespace: &str, webhook: &str) -> Result<(), Error> {
        let (found, current) = self.find_webhook(namespace, webhook).await?;
        ops::webhooks::delete(self.store(), Some(CLI_ACTOR), &found, &current).await?;
        Ok(())
    }

    async fn deliveries(&self, namespace: &str, webhook: &str) -> Result<Vec<DeliveryView>, Error> {
        let (_, current) = self.find_webhook(namespace, webhook).await?;
        let deliveries = self.store().deliveries(current.id, LOG_LENGTH).await?;
        Ok(deliveries.into_iter().map(delivery_view).collect())
    }

    async fn resend(&self, namespace: &str, webhook: &str, delivery: i64) -> Result<DeliveryView, Error> {
        let (_, current) = self.find_webhook(namespace, webhook).await?;
        let original = self
            .store()
            .delivery(DeliveryId(delivery))
            .await?
            .filter(|d| d.webhook_id == current.id)
            .ok_or_else(|| no_delivery(webhook, delivery))?;
        // Queued in the store: the server's dispatcher sends it at its next look.
        Ok(delivery_view(
            ops::webhooks::resend(self.store(), &current, &original).await?,
        ))
    }
}
