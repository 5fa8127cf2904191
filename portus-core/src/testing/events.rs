//! The [`EventStore`] checks: the queue of registry notifications.

use crate::model::EventStatus;
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

/// Expands to one `#[tokio::test]` per check of this module, each on a fresh store made by
/// the given async expression; [`policy_store_conformance!`](crate::policy_store_conformance)
/// invokes it with the other roles' macros.
#[macro_export]
macro_rules! event_store_conformance {
    ($make:expr) => {
        $crate::__conformance_tests!($make; events;
            events_are_idempotent_and_ordered,
        );
    };
}
