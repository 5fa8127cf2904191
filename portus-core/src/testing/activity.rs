//! The [`ActivityStore`] checks: the activity log.

use crate::model::{ActivityAction, ActivityFilter, NewActivity};
use crate::prelude::*;

/// Activities are listed newest first and filtered.
pub async fn activities_are_filtered_newest_first(store: &dyn ActivityStore) {
    store
        .record_activity(
            NewActivity::new(Some("alice"), ActivityAction::TagPush, "alice/app:1.0").with_details("sha256:aa"),
        )
        .await
        .unwrap();
    store
        .record_activity(NewActivity::new(Some("bob"), ActivityAction::TagPush, "bob/app:1.0"))
        .await
        .unwrap();
    store
        .record_activity(NewActivity::new(None, ActivityAction::TagDelete, "alice/app:1.0"))
        .await
        .unwrap();
    store
        .record_activity(NewActivity::new(Some("admin"), ActivityAction::UserCreate, "carol"))
        .await
        .unwrap();
    let list = |filter: ActivityFilter| async move {
        store
            .activities(&filter)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.target)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        list(ActivityFilter::default()).await,
        ["carol", "alice/app:1.0", "bob/app:1.0", "alice/app:1.0"]
    );
    assert_eq!(
        list(ActivityFilter {
            actor: Some("bob".into()),
            ..Default::default()
        })
        .await,
        ["bob/app:1.0"]
    );
    assert_eq!(
        list(ActivityFilter {
            action: Some("tag.".into()),
            ..Default::default()
        })
        .await,
        ["alice/app:1.0", "bob/app:1.0", "alice/app:1.0"]
    );
    assert_eq!(
        list(ActivityFilter {
            action: Some("tag.push".into()),
            limit: 1,
            ..Default::default()
        })
        .await,
        ["bob/app:1.0"]
    );
    assert_eq!(
        list(ActivityFilter {
            target_prefix: Some("alice/".into()),
            ..Default::default()
        })
        .await
        .len(),
        2
    );
    let future = crate::model::now() + chrono::Duration::hours(1);
    assert!(
        list(ActivityFilter {
            since: Some(future),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    let all = store.activities(&ActivityFilter::default()).await.unwrap();
    assert_eq!(all[3].details.as_deref(), Some("sha256:aa"));
    assert_eq!(all[1].actor, None);
    assert!(all[0].id > all[1].id);
}

/// Expands to one `#[tokio::test]` per check of this module, each on a fresh store made by
/// the given async expression; [`policy_store_conformance!`](crate::policy_store_conformance)
/// invokes it with the other roles' macros.
#[macro_export]
macro_rules! activity_store_conformance {
    ($make:expr) => {
        $crate::__conformance_tests!($make; activity;
            activities_are_filtered_newest_first,
        );
    };
}
