//! The [`EventStore`] checks: the queue of registry notifications.

use crate::model::{EventStatus, ManifestRecord, MissingNamespace};
use crate::prelude::*;

/// Events are stored once per id, listed in arrival order and finished.
pub async fn events_are_idempotent_and_ordered(store: &dyn EventStore) {
    let batch = |ids: &[&str]| {
        ids.iter()
            .map(|id| (id.to_string(), format!("{{\"id\":\"{id}\"}}")))
            .collect::<Vec<_>>()
    };
    assert_eq!(store.insert_events(&batch(&["e1", "e2"])).await.unwrap(), 2);
    assert_eq!(store.insert_events(&batch(&["e2", "e3", "e1"])).await.unwrap(), 1);
    let pending = store.pending_events(10).await.unwrap();
    let ids: Vec<&str> = pending.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["e1", "e2", "e3"]);
    assert_eq!(pending[1].payload, "{\"id\":\"e2\"}");
    assert!(pending[0].seq < pending[1].seq && pending[1].seq < pending[2].seq);
    store
        .finish_event(pending[0].seq, EventStatus::Applied, None)
        .await
        .unwrap();
    store
        .finish_event(pending[1].seq, EventStatus::Failed, Some("boom"))
        .await
        .unwrap();
    let ids: Vec<String> = store
        .pending_events(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(ids, ["e3"]);
    assert_eq!(store.pending_events(0).await.unwrap().len(), 0);
    assert_eq!(
        store.insert_events(&batch(&["e1"])).await.unwrap(),
        0,
        "finished events are still known"
    );
}

/// A pull of a known tag is counted and its event finished together; a pull of an unknown
/// tag changes neither.
pub async fn pulls_are_counted_with_their_event(store: &dyn PolicyStore) {
    let manifest = ManifestRecord {
        digest: format!("sha256:{:064x}", 7),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: None,
    };
    store
        .put_tag("alice/app", "1", &manifest, None, MissingNamespace::Create)
        .await
        .unwrap();
    let events = [("p1".to_owned(), "{}".to_owned()), ("p2".to_owned(), "{}".to_owned())];
    assert_eq!(store.insert_events(&events).await.unwrap(), 2);
    let pending = store.pending_events(10).await.unwrap();
    let at = crate::model::now();
    assert!(
        !store
            .finish_pull_event(pending[1].seq, "alice/app", "2", at)
            .await
            .unwrap()
    );
    assert!(
        store
            .finish_pull_event(pending[0].seq, "alice/app", "1", at)
            .await
            .unwrap()
    );
    let tag = store.tag("alice/app", "1").await.unwrap().unwrap();
    assert_eq!(tag.pull_count, 1);
    assert_eq!(tag.pulled_at, Some(crate::model::at_store_precision(at)));
    let left: Vec<String> = store
        .pending_events(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(left, ["p2"], "the counted pull's event is finished, the other one not");
}

/// Expands to one `#[tokio::test]` per check of this module, each on a fresh store made by
/// the given async expression; [`policy_store_conformance!`](crate::policy_store_conformance)
/// invokes it with the other roles' macros.
#[macro_export]
macro_rules! event_store_conformance {
    ($make:expr) => {
        $crate::__conformance_tests!($make; events;
            events_are_idempotent_and_ordered,
            pulls_are_counted_with_their_event,
        );
    };
}
