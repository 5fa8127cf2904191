//! Outgoing webhooks of namespaces, and queuing their deliveries.
//!
//! The operations check what the data must hold (a name, an `http(s)` URL, at least one event,
//! header names that are HTTP tokens); where the URL may point (the SSRF guard) and the sealing
//! of secrets are the caller's (`portus_scan::webhooks`).

use super::record;
use crate::model::{ActivityAction, Delivery, Namespace, NamespaceRef, Webhook, WebhookEvent, WebhookSettings};
use crate::traits::{ActivityStore, NamespaceStore, Severity, WebhookStore};
use crate::{Error, Result};

/// Longest webhook name, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Longest URL, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// Most custom headers per webhook.
pub const MAX_HEADERS: usize = 32;

/// Checks settings before they are stored; events are deduplicated in order.
pub fn check(settings: &mut WebhookSettings) -> Result<()> {
    let name = settings.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::Invalid(format!(
            "a webhook needs a name of 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    settings.name = name.to_owned();
    let url = settings.url.trim();
    let lower = url.to_ascii_lowercase();
    if url.len() > MAX_URL_BYTES
        || !(lower.starts_with("http://") || lower.starts_with("https://"))
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Error::Invalid(
            "a webhook URL is an http:// or https:// URL without spaces".into(),
        ));
    }
    settings.url = url.to_owned();
    let mut events: Vec<WebhookEvent> = Vec::new();
    for event in &settings.events {
        if !events.contains(event) {
            events.push(*event);
        }
    }
    if events.is_empty() {
        return Err(Error::Invalid("a webhook needs at least one event".into()));
    }
    settings.events = events;
    if settings.header_names.len() > MAX_HEADERS {
        return Err(Error::Invalid(format!("a webhook has at most {MAX_HEADERS} headers")));
    }
    for name in &settings.header_names {
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(Error::Invalid(format!("'{name}' is no HTTP header name")));
        }
        let lower = name.to_ascii_lowercase();
        if [
            "content-type",
            "content-length",
            "host",
            "authorization",
            "x-portus-signature-256",
        ]
        .contains(&lower.as_str())
        {
            return Err(Error::Invalid(format!("the header '{name}' is set by portus")));
        }
    }
    Ok(())
}

/// Creates a webhook of `namespace` (settings already sealed by the caller).
pub async fn create<S: WebhookStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    namespace: &Namespace,
    mut settings: WebhookSettings,
) -> Result<Webhook> {
    check(&mut settings)?;
    let webhook = store.create_webhook(namespace.id, settings).await?;
    let details = Some(format!("webhook '{}'", webhook.settings.name));
    record(
        store,
        actor,
        ActivityAction::WebhookCreate,
        namespace.name.clone(),
        details,
    )
    .await?;
    Ok(webhook)
}

/// Replaces a webhook's settings. A change of `enabled` alone is recorded as
/// `webhook.enable` / `webhook.disable`, anything else as `webhook.update`.
pub async fn update<S: WebhookStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    namespace: &Namespace,
    webhook: &Webhook,
    mut settings: WebhookSettings,
) -> Result<Webhook> {
    check(&mut settings)?;
    let only_toggled = WebhookSettings {
        enabled: settings.enabled,
        ..webhook.settings.clone()
    } == settings;
    let updated = store.update_webhook(webhook.id, settings).await?;
    let action = match (only_toggled, webhook.settings.enabled, updated.settings.enabled) {
        (true, false, true) => ActivityAction::WebhookEnable,
        (true, true, false) => ActivityAction::WebhookDisable,
        _ => ActivityAction::WebhookUpdate,
    };
    let details = Some(format!("webhook '{}'", updated.settings.name));
    record(store, actor, action, namespace.name.clone(), details).await?;
    Ok(updated)
}

/// Deletes a webhook and its deliveries.
pub async fn delete<S: WebhookStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    namespace: &Namespace,
    webhook: &Webhook,
) -> Result<()> {
    store.delete_webhook(webhook.id).await?;
    let details = Some(format!("webhook '{}'", webhook.settings.name));
    record(
        store,
        actor,
        ActivityAction::WebhookDelete,
        namespace.name.clone(),
        details,
    )
    .await
}

/// Queues `delivery` of `webhook` again: a new delivery of the same event and body, due now,
/// whose key names the original event and the moment of the re-send (the original keeps its
/// own record). `NotFound` when the delivery is not the webhook's.
pub async fn resend<S: WebhookStore + ?Sized>(store: &S, webhook: &Webhook, delivery: &Delivery) -> Result<Delivery> {
    if delivery.webhook_id != webhook.id {
        return Err(Error::not_found("delivery", delivery.id.to_string()));
    }
    let base = delivery.event_key.split("#resend-").next().unwrap_or_default();
    let key = format!("{base}#resend-{}", crate::model::now().timestamp_micros());
    store
        .enqueue_delivery(webhook.id, delivery.event, &key, &delivery.body)
        .await?
        .ok_or_else(|| Error::Conflict("a re-send of this delivery is already queued".into()))
}

/// Queues `body` for every enabled webhook of the namespace of `repository` that wants `event`
/// (with the worst severity found, for scan events); `key` identifies the event, so queuing
/// it again (a replayed registry event) queues nothing. Returns how many were queued.
pub async fn notify<S: WebhookStore + NamespaceStore + ?Sized>(
    store: &S,
    repository: &str,
    event: WebhookEvent,
    key: &str,
    body: &str,
    worst: Option<Severity>,
) -> Result<usize> {
    let (namespace, _) = NamespaceRef::of_repository(repository);
    let Some(namespace) = store.namespace(namespace).await? else {
        return Ok(0);
    };
    let mut queued = 0;
    for webhook in store.namespace_webhooks(namespace.id).await? {
        if webhook.settings.enabled
            && webhook.settings.wants(event, worst)
            && store.enqueue_delivery(webhook.id, event, key, body).await?.is_some()
        {
            queued += 1;
        }
    }
    Ok(queued)
}
