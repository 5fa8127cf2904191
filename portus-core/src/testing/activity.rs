//! The [`ActivityStore`] checks: the activity log.

use super::lists::check_pages;
use crate::model::{Activity, ActivityAction, ActivityFilter, ActivitySort, NewActivity};
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

/// Activities are paged newest first, by id, time and action, both ways, under each filter,
/// with the number the filter admits (no longer capped by `limit`).
pub async fn activities_are_paged_and_filtered(store: &dyn ActivityStore) {
    let log = [
        (Some("alice"), ActivityAction::TagPush, "alice/app:1.0"),
        (Some("bob"), ActivityAction::TeamCreate, "devs"),
        (Some("alice"), ActivityAction::TagDelete, "alice/app:1.0"),
        (None, ActivityAction::TagPush, "bob/web:2"),
        (Some("alice"), ActivityAction::UserCreate, "carol"),
        (Some("bob"), ActivityAction::TagPush, "alice/lib:3"),
    ];
    for (actor, action, target) in log {
        store
            .record_activity(NewActivity::new(actor, action, target))
            .await
            .unwrap();
    }
    let recorded = store
        .activities_page(
            &ActivityFilter::default(),
            &crate::model::ListQuery::all(ActivitySort::Id),
        )
        .await
        .unwrap()
        .items;
    assert_eq!(recorded.len(), log.len());
    let filters = [
        ActivityFilter::default(),
        ActivityFilter {
            actor: Some("alice".into()),
            ..Default::default()
        },
        ActivityFilter {
            action: Some("tag.".into()),
            ..Default::default()
        },
        ActivityFilter {
            action: Some("tag.push".into()),
            // Not a cap on pages: the query slices.
            limit: 1,
            ..Default::default()
        },
        ActivityFilter {
            target_prefix: Some("alice/".into()),
            actor: Some("bob".into()),
            ..Default::default()
        },
        ActivityFilter {
            since: Some(recorded[2].at),
            ..Default::default()
        },
        ActivityFilter {
            since: Some(crate::model::now() + chrono::Duration::hours(1)),
            ..Default::default()
        },
        ActivityFilter {
            until: Some(recorded[2].at),
            ..Default::default()
        },
        ActivityFilter {
            since: Some(recorded[1].at),
            until: Some(recorded[4].at),
            action: Some("tag.".into()),
            ..Default::default()
        },
        ActivityFilter {
            until: Some(recorded[0].at - chrono::Duration::hours(1)),
            ..Default::default()
        },
        ActivityFilter {
            scope: Some(crate::model::ActivityScope {
                actor: "bob".into(),
                teams: vec!["devs".into()],
                namespaces: vec!["alice".into()],
            }),
            ..Default::default()
        },
    ];
    // `until` is exclusive: the activity at that very time is left out, the ones before kept.
    let before_third = store
        .activities_page(
            &ActivityFilter {
                until: Some(recorded[2].at),
                ..Default::default()
            },
            &crate::model::ListQuery::all(ActivitySort::Id),
        )
        .await
        .unwrap()
        .items;
    assert!(before_third.iter().all(|a| a.at < recorded[2].at));
    assert!(!before_third.iter().any(|a| a.id == recorded[2].id));
    let window = store
        .activities_page(
            &ActivityFilter {
                since: Some(recorded[0].at),
                until: Some(recorded[5].at + chrono::Duration::seconds(1)),
                ..Default::default()
            },
            &crate::model::ListQuery::all(ActivitySort::Id),
        )
        .await
        .unwrap();
    assert_eq!(window.items.len(), log.len());
    for filter in &filters {
        let admitted: Vec<&Activity> = recorded
            .iter()
            .filter(|a| crate::model::activity_matches(filter, a))
            .collect();
        let mut newest: Vec<i64> = admitted.iter().map(|a| a.id).collect();
        newest.reverse();
        let by_id: Vec<i64> = admitted.iter().map(|a| a.id).collect();
        let mut by_time = admitted.clone();
        by_time.sort_by_key(|a| (a.at, a.id));
        let mut by_action = admitted.clone();
        by_action.sort_by(|a, b| (&a.action, a.id).cmp(&(&b.action, b.id)));
        for (sort, expected) in [
            (ActivitySort::Newest, newest),
            (ActivitySort::Id, by_id),
            (ActivitySort::At, by_time.iter().map(|a| a.id).collect()),
            (ActivitySort::Action, by_action.iter().map(|a| a.id).collect()),
        ] {
            check_pages(
                &format!("activities {filter:?} by {sort:?}"),
                sort,
                &expected,
                |a: &Activity| a.id,
                |query| async move { store.activities_page(filter, &query).await.unwrap() },
            )
            .await;
        }
    }
    let count = |filter: ActivityFilter| async move {
        store
            .activities_page(&filter, &crate::model::ListQuery::page(ActivitySort::Newest, 0, 1))
            .await
            .unwrap()
            .total
    };
    // What the filters admit, spelled out.
    assert_eq!(count(filters[1].clone()).await, 3);
    assert_eq!(count(filters[2].clone()).await, 4);
    assert_eq!(count(filters[3].clone()).await, 3);
    assert_eq!(count(filters[4].clone()).await, 1);
    assert_eq!(count(filters[6].clone()).await, 0);
    assert_eq!(count(filters[9].clone()).await, 0);
    assert_eq!(count(filters[10].clone()).await, 4);
}

/// A scope admits the caller's own activities and those of their teams, their teams'
/// namespaces and the repositories and tags in them; nothing else (another namespace whose name
/// merely starts alike, another family naming the same text), and it narrows other filters.
pub async fn activities_are_scoped(store: &dyn ActivityStore) {
    use crate::model::ActivityScope;
    let log = [
        (Some("alice"), ActivityAction::TagPush, "alice/app:1"),
        (Some("bob"), ActivityAction::TagPush, "devs/app:1"),
        (Some("bob"), ActivityAction::TagPush, "devsx/app:1"),
        (Some("bob"), ActivityAction::TagPush, "ops/app:1"),
        (Some("bob"), ActivityAction::TeamMemberAdd, "devs"),
        (Some("bob"), ActivityAction::TeamMemberAdd, "ops"),
        (Some("bob"), ActivityAction::NamespaceCreate, "devs"),
        (Some("bob"), ActivityAction::NamespaceCreate, "ops"),
        (Some("bob"), ActivityAction::UserCreate, "devs"),
        (None, ActivityAction::TagPush, "devs/web:2"),
        (Some("bob"), ActivityAction::RepositoryDelete, "devs/old"),
        (Some("bob"), ActivityAction::RepositoryDelete, "devs"),
    ];
    for (actor, action, target) in log {
        store
            .record_activity(NewActivity::new(actor, action, target))
            .await
            .unwrap();
    }
    let scope = ActivityScope {
        actor: "alice".into(),
        teams: vec!["devs".into()],
        namespaces: vec!["devs".into()],
    };
    let ids = |filter: ActivityFilter| async move {
        let page = store
            .activities_page(&filter, &crate::model::ListQuery::all(ActivitySort::Id))
            .await
            .unwrap();
        assert_eq!(page.total, page.items.len() as u64);
        page.items.into_iter().map(|a| (a.action, a.target)).collect::<Vec<_>>()
    };
    let pairs = |indices: &[usize]| -> Vec<(String, String)> {
        indices
            .iter()
            .map(|&i| (log[i].1.as_str().to_owned(), log[i].2.to_owned()))
            .collect()
    };
    let scoped = ActivityFilter {
        scope: Some(scope.clone()),
        ..Default::default()
    };
    assert_eq!(ids(scoped.clone()).await, pairs(&[0, 1, 4, 6, 9, 10]));
    // The scope narrows the other filters and they narrow it.
    assert_eq!(
        ids(ActivityFilter {
            action: Some("tag.".into()),
            ..scoped.clone()
        })
        .await,
        pairs(&[0, 1, 9])
    );
    // Without teams or namespaces: only the caller's own.
    assert_eq!(
        ids(ActivityFilter {
            scope: Some(ActivityScope {
                actor: "alice".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await,
        pairs(&[0])
    );
    // A caller with no activity and no team sees nothing.
    assert!(
        ids(ActivityFilter {
            scope: Some(ActivityScope {
                actor: "nobody".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .is_empty()
    );
}

/// Expands to one `#[tokio::test]` per check of this module, each on a fresh store made by
/// the given async expression; [`policy_store_conformance!`](crate::policy_store_conformance)
/// invokes it with the other roles' macros.
#[macro_export]
macro_rules! activity_store_conformance {
    ($make:expr) => {
        $crate::__conformance_tests!($make; activity;
            activities_are_filtered_newest_first,
            activities_are_paged_and_filtered,
            activities_are_scoped,
        );
    };
}
