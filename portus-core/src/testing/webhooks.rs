//! The [`WebhookStore`] checks: webhooks per namespace and their ordered delivery queue.

use chrono::{DateTime, Duration, Utc};

use crate::ErrorKind;
use crate::model::{
    AttemptOutcome, DeliveryAttempt, DeliveryState, NamespaceId, NewNamespace, Visibility, WebhookContentType,
    WebhookEvent, WebhookId, WebhookMethod, WebhookSettings,
};
use crate::prelude::*;
use crate::traits::Severity;

fn settings(name: &str) -> WebhookSettings {
    WebhookSettings {
        name: name.into(),
        url: "https://hooks.example/in".into(),
        method: WebhookMethod::Post,
        content_type: WebhookContentType::Json,
        events: vec![WebhookEvent::Push, WebhookEvent::VulnerabilityFound],
        min_severity: Severity::High,
        enabled: true,
        header_names: vec!["X-One".into(), "X-Two".into()],
        has_credentials: true,
        sealed: "sealed-text".into(),
    }
}

/// Settings of an enabled webhook named `name` that posts JSON on pushes to
/// `https://hooks.example/in`, without headers or credentials: for tests that need webhooks
/// to exist (lists, pages) rather than particular settings.
pub fn push_settings(name: &str) -> WebhookSettings {
    WebhookSettings {
        name: name.into(),
        url: "https://hooks.example/in".into(),
        method: WebhookMethod::Post,
        content_type: WebhookContentType::Json,
        events: vec![WebhookEvent::Push],
        min_severity: Severity::High,
        enabled: true,
        header_names: Vec::new(),
        has_credentials: false,
        sealed: String::new(),
    }
}

async fn namespace(store: &dyn PolicyStore, name: &str) -> NamespaceId {
    let owner = super::user(store, &format!("{name}-owner")).await;
    let team = store
        .create_team(&format!("{name}-team"), owner.id, None)
        .await
        .unwrap();
    store
        .create_namespace(NewNamespace {
            name: name.into(),
            team_id: team.id,
            visibility: Visibility::Private,
            description: None,
        })
        .await
        .unwrap()
        .id
}

/// Webhooks are created, read back whole, listed per namespace, renamed, deleted, and go with
/// their namespace; names are unique per namespace.
pub async fn webhooks_are_created_updated_and_deleted(store: &dyn PolicyStore) {
    let ns = namespace(store, "acme").await;
    let other = namespace(store, "other").await;
    let hook = store.create_webhook(ns, settings("ci")).await.unwrap();
    assert_eq!(hook.settings, settings("ci"));
    assert_eq!(store.webhook(hook.id).await.unwrap(), Some(hook.clone()));
    assert_eq!(
        store.create_webhook(ns, settings("ci")).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    store.create_webhook(other, settings("ci")).await.unwrap();
    assert_eq!(
        store
            .create_webhook(NamespaceId(9999), settings("x"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    let second = store.create_webhook(ns, settings("chat")).await.unwrap();
    let listed = store.namespace_webhooks(ns).await.unwrap();
    assert_eq!(listed, vec![hook.clone(), second.clone()]);
    let mut changed = settings("ci-renamed");
    changed.enabled = false;
    changed.events = vec![WebhookEvent::Delete];
    let updated = store.update_webhook(hook.id, changed.clone()).await.unwrap();
    assert_eq!(updated.settings, changed);
    assert_eq!(store.webhook(hook.id).await.unwrap().unwrap().settings, changed);
    assert_eq!(
        store
            .update_webhook(hook.id, settings("chat"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    store.delete_webhook(second.id).await.unwrap();
    assert_eq!(
        store.delete_webhook(second.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(store.namespace_webhooks(ns).await.unwrap(), vec![updated]);
    store.delete_namespace(ns).await.unwrap();
    assert_eq!(store.webhook(hook.id).await.unwrap(), None);
    assert_eq!(store.namespace_webhooks(other).await.unwrap().len(), 1);
}

/// Deliveries are queued once per event key, offered one at a time per webhook in queue order
/// (a failed head holds back the ones behind it until it is delivered or given up), only for
/// enabled webhooks, and keep their last attempt.
pub async fn deliveries_are_queued_once_and_offered_in_order(store: &dyn PolicyStore) {
    let ns = namespace(store, "acme").await;
    let a = store.create_webhook(ns, settings("a")).await.unwrap().id;
    let b = store.create_webhook(ns, settings("b")).await.unwrap().id;
    let first = store
        .enqueue_delivery(a, WebhookEvent::Push, "e1", "{\"n\":1}")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.enqueue_delivery(a, WebhookEvent::Push, "e1", "{}").await.unwrap(),
        None
    );
    let second = store
        .enqueue_delivery(a, WebhookEvent::Delete, "e2", "{\"n\":2}")
        .await
        .unwrap()
        .unwrap();
    let other = store
        .enqueue_delivery(b, WebhookEvent::Push, "e1", "{\"n\":1}")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .enqueue_delivery(WebhookId(9999), WebhookEvent::Push, "e", "{}")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        (first.state, first.attempts, first.body.as_str()),
        (DeliveryState::Pending, 0, "{\"n\":1}")
    );
    let soon = Utc::now() + Duration::seconds(1);
    let lease = Duration::seconds(30);
    let claim = |at: DateTime<Utc>, limit: usize| {
        let store = &store;
        async move {
            let claimed = store.claim_due_deliveries(at, limit, at + lease).await.unwrap();
            claimed.iter().map(|d| d.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(claim(soon, 10).await, vec![first.id, other.id]);
    assert!(
        claim(soon, 10).await.is_empty(),
        "claimed deliveries are not handed out again while their lease lasts"
    );
    // A failed head keeps the second one back, and is not due before its retry time.
    let attempt = DeliveryAttempt {
        at: Some(crate::model::now()),
        status: Some(503),
        duration_ms: 12,
        request_headers: "content-type: application/json".into(),
        response_headers: "server: x".into(),
        response_body: "down".into(),
        error: None,
    };
    let retry = Utc::now() + Duration::seconds(60);
    store
        .finish_attempt(first.id, &attempt, AttemptOutcome::RetryAt(retry))
        .await
        .unwrap();
    // `other` was claimed and never finished (its dispatcher died): due again after the lease.
    assert_eq!(claim(soon + Duration::seconds(31), 10).await, vec![other.id]);
    let later = retry + Duration::seconds(1);
    assert_eq!(claim(later, 1).await, vec![first.id]);
    let stored = store.delivery(first.id).await.unwrap().unwrap();
    assert_eq!(stored.attempts, 1);
    assert_eq!(
        stored
            .last_attempt
            .as_ref()
            .map(|a| (a.status, a.response_body.as_str())),
        Some((Some(503), "down"))
    );
    store
        .finish_attempt(first.id, &attempt, AttemptOutcome::Delivered)
        .await
        .unwrap();
    let much_later = later + Duration::seconds(60);
    assert_eq!(claim(much_later, 10).await, vec![second.id, other.id]);
    store
        .finish_attempt(second.id, &attempt, AttemptOutcome::GaveUp)
        .await
        .unwrap();
    assert_eq!(
        store.delivery(second.id).await.unwrap().unwrap().state,
        DeliveryState::Failed
    );
    // A disabled webhook's deliveries wait.
    let mut off = settings("b");
    off.enabled = false;
    store.update_webhook(b, off).await.unwrap();
    assert!(claim(much_later + Duration::seconds(60), 10).await.is_empty());
    let log: Vec<_> = store.deliveries(a, 10).await.unwrap().iter().map(|d| d.id).collect();
    assert_eq!(log, vec![second.id, first.id]);
    assert_eq!(store.deliveries(a, 1).await.unwrap().len(), 1);
    // The log in pages, newest first, with its length.
    let page = |offset, limit| async move { store.deliveries_page(a, offset, limit).await.unwrap() };
    let ids =
        |p: crate::model::ListPage<crate::model::Delivery>| (p.items.iter().map(|d| d.id).collect::<Vec<_>>(), p.total);
    assert_eq!(ids(page(0, Some(1)).await), (vec![second.id], 2));
    assert_eq!(ids(page(1, Some(1)).await), (vec![first.id], 2));
    assert_eq!(ids(page(2, Some(1)).await), (vec![], 2));
    assert_eq!(ids(page(0, None).await), (vec![second.id, first.id], 2));
    assert_eq!(ids(store.deliveries_page(b, 0, Some(5)).await.unwrap()).1, 1, "b's own");
    store.delete_webhook(a).await.unwrap();
    assert_eq!(store.delivery(first.id).await.unwrap(), None);
}

/// Dispatchers claiming at the same moment (several instances on one database) never get one
/// delivery twice, and together get every due one.
pub async fn concurrent_claims_never_share_a_delivery(store: &dyn PolicyStore) {
    let ns = namespace(store, "racing").await;
    let mut queued = Vec::new();
    for n in 0..12 {
        let webhook = store.create_webhook(ns, settings(&format!("hook-{n}"))).await.unwrap();
        let delivery = store
            .enqueue_delivery(webhook.id, WebhookEvent::Push, "e", "{}")
            .await
            .unwrap()
            .unwrap();
        queued.push(delivery.id);
    }
    let at = Utc::now() + Duration::seconds(1);
    let claims = (0..4).map(|_| store.claim_due_deliveries(at, 5, at + Duration::seconds(30)));
    let mut claimed: Vec<_> = futures_util::future::join_all(claims)
        .await
        .into_iter()
        .flat_map(|c| c.unwrap())
        .map(|d| d.id)
        .collect();
    claimed.sort();
    let before = claimed.len();
    claimed.dedup();
    assert_eq!(claimed.len(), before, "a delivery was claimed twice: {claimed:?}");
    assert_eq!(claimed, queued, "four claims of five take all twelve heads");
}

/// Expands to one `#[tokio::test]` per check of this module, each on a fresh store made by
/// the given async expression; [`policy_store_conformance!`](crate::policy_store_conformance)
/// invokes it with the other roles' macros.
#[macro_export]
macro_rules! webhook_store_conformance {
    ($make:expr) => {
        $crate::__conformance_tests!($make; webhooks;
            webhooks_are_created_updated_and_deleted,
            deliveries_are_queued_once_and_offered_in_order,
            concurrent_claims_never_share_a_delivery,
        );
    };
}
