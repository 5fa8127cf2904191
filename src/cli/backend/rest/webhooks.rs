//! Webhooks through the REST API (`/api/v1/namespaces/{id}/webhooks`), named by namespace and
//! webhook name as the local store names them.

use portus_scan::webhooks::WebhookChanges;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::Rest;
use crate::Error;
use crate::cli::backend::{WebhookBackend, no_delivery, no_webhook};
use crate::cli::webhooks::{DeliveryView, WebhookView};

/// The API body of `changes`: only the fields given.
fn body_of(changes: WebhookChanges) -> Value {
    let mut body = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            body.insert(key.to_owned(), value);
        }
    };
    put("name", changes.name.map(Value::from));
    put("url", changes.url.map(Value::from));
    put("method", changes.method.map(Value::from));
    put("content_type", changes.content_type.map(Value::from));
    put("events", changes.events.map(|e| json!(e)));
    put("min_severity", changes.min_severity.map(Value::from));
    put("enabled", changes.enabled.map(Value::from));
    put("username", changes.username.map(Value::from));
    put("password", changes.password.map(Value::from));
    put(
        "headers",
        changes
            .headers
            .map(|h| Value::Object(h.into_iter().map(|(n, v)| (n, Value::from(v))).collect())),
    );
    Value::Object(body)
}

/// A webhook with its signing secret: the answer to a creation or a rotation.
#[derive(serde::Deserialize)]
struct Created {
    #[serde(flatten)]
    webhook: WebhookView,
    secret: String,
}

impl Rest {
    /// The API path of a namespace's webhooks.
    async fn webhooks_path(&self, namespace: &str) -> Result<String, Error> {
        let found = self.find_namespace(namespace).await?;
        Ok(format!("/api/v1/namespaces/{}/webhooks", found.id))
    }

    /// The API path of webhook `name` of `namespace`.
    async fn webhook_path(&self, namespace: &str, name: &str) -> Result<String, Error> {
        let path = self.webhooks_path(namespace).await?;
        let webhooks: Vec<WebhookView> = self.get(&path).await?;
        let webhook = webhooks
            .iter()
            .find(|w| w.name == name)
            .ok_or_else(|| no_webhook(namespace, name))?;
        Ok(format!("{path}/{}", webhook.id))
    }
}

impl WebhookBackend for Rest {
    async fn webhooks(&self, namespace: &str) -> Result<Vec<WebhookView>, Error> {
        self.get(&self.webhooks_path(namespace).await?).await
    }

    async fn create_webhook(&self, namespace: &str, changes: WebhookChanges) -> Result<(WebhookView, String), Error> {
        let path = self.webhooks_path(namespace).await?;
        let created: Created = self.json(Method::POST, &path, Some(&body_of(changes))).await?;
        Ok((created.webhook, created.secret))
    }

    async fn update_webhook(
        &self,
        namespace: &str,
        webhook: &str,
        changes: WebhookChanges,
    ) -> Result<WebhookView, Error> {
        let path = self.webhook_path(namespace, webhook).await?;
        self.json(Method::PUT, &path, Some(&body_of(changes))).await
    }

    async fn rotate_secret(&self, namespace: &str, webhook: &str) -> Result<String, Error> {
        let path = self.webhook_path(namespace, webhook).await?;
        let rotated: Created = self.json(Method::POST, &format!("{path}/secret"), None).await?;
        Ok(rotated.secret)
    }

    async fn delete_webhook(&self, namespace: &str, webhook: &str) -> Result<(), Error> {
        let path = self.webhook_path(namespace, webhook).await?;
        self.send(Method::DELETE, &path, None).await
    }

    async fn deliveries(&self, namespace: &str, webhook: &str) -> Result<Vec<DeliveryView>, Error> {
        let path = self.webhook_path(namespace, webhook).await?;
        self.get(&format!("{path}/deliveries")).await
    }

    async fn resend(&self, namespace: &str, webhook: &str, delivery: i64) -> Result<DeliveryView, Error> {
        let path = self.webhook_path(namespace, webhook).await?;
        let deliveries: Vec<DeliveryView> = self.get(&format!("{path}/deliveries")).await?;
        if !deliveries.iter().any(|d| d.id == delivery) {
            return Err(no_delivery(webhook, delivery));
        }
        self.json(Method::POST, &format!("{path}/deliveries/{delivery}/resend"), None)
            .await
    }
}
