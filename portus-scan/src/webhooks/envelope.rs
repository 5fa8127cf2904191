//! The documented JSON envelope every delivery carries (docs/webhooks.md).

use portus_core::model::{NamespaceRef, WebhookEvent};
use serde_json::{Value, json};

fn namespace_of(repository: &str) -> Option<&str> {
    match NamespaceRef::of_repository(repository).0 {
        NamespaceRef::Named(name) => Some(name),
        NamespaceRef::Global => None,
    }
}

/// The envelope of a registry event (`push`, `delete`): `key` is the registry event's id,
/// `raw` the event as the registry sent it.
pub fn registry_envelope(
    event: WebhookEvent,
    key: &str,
    repository: &str,
    tag: Option<&str>,
    digest: Option<&str>,
    actor: Option<&str>,
    raw: &Value,
) -> String {
    json!({
        "id": key,
        "event": event.as_str(),
        "created_at": portus_core::model::now().to_rfc3339(),
        "namespace": namespace_of(repository),
        "repository": repository,
        "tag": tag,
        "digest": digest,
        "actor": actor,
        "registry_event": raw,
    })
    .to_string()
}

/// The envelope of a scan outcome (`scan_completed`, `scan_failed`, `vulnerability_found`):
/// `summary` is the scan summary (counts per severity, or the failure).
pub fn scan_envelope(event: WebhookEvent, key: &str, repository: &str, digest: &str, summary: &Value) -> String {
    json!({
        "id": key,
        "event": event.as_str(),
        "created_at": portus_core::model::now().to_rfc3339(),
        "namespace": namespace_of(repository),
        "repository": repository,
        "digest": digest,
        "scan": summary,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_envelopes_name_the_namespace_and_carry_the_event() {
        let raw = json!({"id": "e1", "action": "push"});
        let body = registry_envelope(
            WebhookEvent::Push,
            "e1",
            "acme/app",
            Some("1.0"),
            Some("sha256:ab"),
            Some("alice"),
            &raw,
        );
        let parsed: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["event"], "push");
        assert_eq!(parsed["namespace"], "acme");
        assert_eq!(parsed["tag"], "1.0");
        assert_eq!(parsed["registry_event"], raw);
        let global: Value = serde_json::from_str(&registry_envelope(
            WebhookEvent::Delete,
            "e2",
            "app",
            None,
            None,
            None,
            &raw,
        ))
        .unwrap();
        assert_eq!(global["namespace"], Value::Null);
    }
}
