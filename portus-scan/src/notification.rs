//! Registry notification envelopes (`application/vnd.docker.distribution.events.v1+json` from
//! Distribution 2.8, `…events.v2+json` from 3.x: the same `{"events": [...]}` body, read
//! whatever the Content-Type). A tag deletion on 3.x is an event with a tag and no digest.
//!
//! Parsing is lenient about fields we do not use (the registry retries a refused delivery
//! forever), strict about what identifies an event: every event needs an `id`.

use portus_core::reference::{ReferenceError, validate_digest, validate_repository_name, validate_tag};
use serde::Deserialize;

use crate::Error;

/// One event, with the fields portus uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Event {
    /// Unique event id.
    pub id: String,
    /// When the registry emitted it (RFC 3339), as sent (see [`Event::at`]): read for the apply
    /// lag and a pull's time, so a timestamp in another format never refuses the event.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// `push`, `pull`, `delete` or `mount`.
    pub action: String,
    /// What the event is about.
    #[serde(default)]
    pub target: Target,
    /// Who caused it (the token's `sub`).
    #[serde(default)]
    pub actor: Actor,
}

impl Event {
    /// When the event happened, when the registry said so readably: a pull applied late (portus
    /// was down) is recorded at its own time.
    pub fn at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let raw = self.timestamp.as_deref()?;
        chrono::DateTime::parse_from_rfc3339(raw)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    }

    /// Checks the event's repository, tag and digest (each where present) against the
    /// distribution grammar: a registry sends nothing else, so an event that breaks it is
    /// forged or broken and must not reach the catalog.
    pub fn check(&self) -> Result<(), ReferenceError> {
        if let Some(repository) = &self.target.repository {
            validate_repository_name(repository)?;
        }
        if let Some(tag) = &self.target.tag {
            validate_tag(tag)?;
        }
        if let Some(digest) = &self.target.digest {
            validate_digest(digest)?;
        }
        Ok(())
    }
}

/// The event's target descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct Target {
    /// Media type (manifest or blob).
    #[serde(rename = "mediaType", default, deserialize_with = "empty_as_none")]
    pub media_type: Option<String>,
    /// Digest. Distribution 3 sends `""` in tag and repository deletions (its target is an
    /// OCI descriptor, whose digest is never omitted): read as absent.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub digest: Option<String>,
    /// Size in bytes.
    pub size: Option<u64>,
    /// Repository name.
    pub repository: Option<String>,
    /// Tag, when the manifest was addressed by tag.
    pub tag: Option<String>,
}

/// An absent, `null` or empty string as `None`.
fn empty_as_none<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value: Option<String> = Option::deserialize(deserializer)?;
    Ok(value.filter(|v| !v.is_empty()))
}

/// The event's actor.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct Actor {
    /// User name; absent for anonymous requests.
    pub name: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    events: Vec<serde_json::Value>,
}

/// Splits an envelope into `(event id, event JSON)` pairs, ready to be stored.
pub fn parse_envelope(body: &[u8]) -> Result<Vec<(String, String)>, Error> {
    let envelope: Envelope = serde_json::from_slice(body)
        .map_err(|e| Error::InvalidNotification(format!("not a notification envelope: {e}")))?;
    envelope
        .events
        .into_iter()
        .enumerate()
        .map(|(index, event)| {
            let id = event
                .get("id")
                .and_then(|id| id.as_str())
                .filter(|id| !id.is_empty() && id.len() <= 200)
                .ok_or_else(|| Error::InvalidNotification(format!("event {index} has no valid id")))?
                .to_owned();
            Ok((id, event.to_string()))
        })
        .collect()
}

/// Parses one stored event.
pub fn parse_event(json: &str) -> Result<Event, Error> {
    serde_json::from_str(json).map_err(|e| Error::InvalidNotification(format!("unreadable event: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUSH: &str = r#"{"events":[{"id":"da28b92a","timestamp":"2026-11-22T17:22:15.403229169Z","action":"push",
      "target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":345,"digest":"sha256:fc","length":345,
      "repository":"alice/app","url":"http://127.0.0.1:5000/v2/alice/app/manifests/sha256:fc","tag":"1.0"},
      "request":{"id":"86","addr":"127.0.0.1:59186","host":"127.0.0.1:5000","method":"PUT","useragent":"skopeo/1.9.3"},
      "actor":{"name":"alice"},"source":{"addr":"vm:5000","instanceID":"6e79"}},
      {"id":"e2","action":"delete","target":{"repository":"alice/app","tag":"1.0"},"actor":{}}]}"#;

    #[test]
    fn parses_real_envelopes() {
        let events = parse_envelope(PUSH.as_bytes()).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].0, "da28b92a");
        let push = parse_event(&events[0].1).unwrap();
        assert_eq!(push.action, "push");
        assert_eq!(push.target.tag.as_deref(), Some("1.0"));
        assert_eq!(
            push.target.media_type.as_deref(),
            Some("application/vnd.oci.image.manifest.v1+json")
        );
        assert_eq!(push.actor.name.as_deref(), Some("alice"));
        let delete = parse_event(&events[1].1).unwrap();
        assert_eq!((delete.target.digest, delete.actor.name), (None, None));
    }

    #[test]
    fn distribution_3_deletions_with_an_empty_descriptor_are_valid() {
        // Distribution 3's tag and repository deletions carry its descriptor's zero values.
        let untag = r#"{"id":"u1","action":"delete","actor":{"name":"portus"},
          "target":{"mediaType":"","digest":"","size":0,"repository":"alice/app","tag":"2"}}"#;
        let event = parse_event(untag).unwrap();
        assert_eq!(
            (event.target.digest.as_deref(), event.target.media_type.as_deref()),
            (None, None)
        );
        assert_eq!(event.target.tag.as_deref(), Some("2"));
        assert_eq!(event.check(), Ok(()));
    }

    #[test]
    fn refuses_what_cannot_be_stored() {
        for body in [
            "",
            "[]",
            "{}",
            "{\"events\":{}}",
            "{\"events\":[{\"action\":\"push\"}]}",
            "{\"events\":[{\"id\":\"\"}]}",
        ] {
            assert!(parse_envelope(body.as_bytes()).is_err(), "{body}");
        }
        assert_eq!(parse_envelope(b"{\"events\":[]}").unwrap(), vec![]);
        assert!(parse_event("{\"id\":\"x\"}").is_err(), "an event needs an action");
    }

    proptest::proptest! {
        /// Whatever the registry (or an attacker with the secret) sends: an error, never a panic.
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            if let Ok(events) = parse_envelope(&body) {
                for (_, json) in events {
                    let _ = parse_event(&json);
                }
            }
        }

        /// Any well-formed envelope keeps every event id and event, in order.
        #[test]
        fn well_formed_envelopes_keep_ids_in_order(
            ids in proptest::collection::vec("[a-zA-Z0-9-]{1,40}", 0..20),
            repository in "[a-z0-9/._-]{0,40}",
            tag in proptest::option::of("[^\\x00]{0,20}"),
        ) {
            let events: Vec<serde_json::Value> = ids
                .iter()
                .map(|id| serde_json::json!({"id": id, "action": "push", "target": {"repository": repository, "tag": tag}}))
                .collect();
            let body = serde_json::json!({"events": events}).to_string();
            let parsed = parse_envelope(body.as_bytes()).unwrap();
            let parsed_ids: Vec<&str> = parsed.iter().map(|(id, _)| id.as_str()).collect();
            proptest::prop_assert_eq!(parsed_ids, ids.iter().map(String::as_str).collect::<Vec<_>>());
            for (_, json) in &parsed {
                let event = parse_event(json).unwrap();
                proptest::prop_assert_eq!(event.target.repository.as_deref(), Some(repository.as_str()));
                proptest::prop_assert_eq!(&event.target.tag, &tag);
            }
        }

        /// Mangled real envelopes (truncated, bytes flipped): an error or a result, never a panic.
        #[test]
        fn mangled_real_envelopes_never_panic(cut in 0usize..PUSH.len(), flips in proptest::collection::vec((0usize..PUSH.len(), proptest::num::u8::ANY), 0..8)) {
            let mut body = PUSH.as_bytes()[..cut].to_vec();
            for (at, byte) in flips {
                if at < body.len() {
                    body[at] = byte;
                }
            }
            let _ = parse_envelope(&body);
        }
    }
}
