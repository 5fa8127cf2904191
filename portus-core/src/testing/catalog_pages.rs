//! The pages of repositories and tags ([`CatalogStore::repositories_page`],
//! [`CatalogStore::tags_page`]): ordered, sliced, filtered and counted as the whole list is,
//! with the kept figures in each repository's listing.

use super::summaries::{push, scan};
use super::user;
use crate::model::{
    ListQuery, MissingNamespace, NamespaceId, RepositoryFilter, RepositorySort, ScanState, TagFilter, TagSort,
    Visibility, VisibleNamespaces,
};
use crate::prelude::*;

/// Repository pages come ordered, sliced, filtered and counted by the store.
pub async fn repository_pages_are_ordered_sliced_and_filtered(store: &dyn PolicyStore) {
    let alice = user(store, "alice").await;
    for (repository, tags) in [
        ("b/two", 2),
        ("a/three", 3),
        ("c/one", 1),
        ("a/none", 0),
        ("b/big-app", 4),
    ] {
        if tags == 0 {
            store
                .ensure_repository(repository, MissingNamespace::Create)
                .await
                .unwrap();
        }
        for i in 0..tags {
            push(store, repository, &format!("t{i}"), &format!("sha256:{repository}{i}")).await;
        }
    }
    let names = |page: &crate::model::ListPage<crate::model::RepositoryListing>| -> Vec<String> {
        page.items.iter().map(|l| l.repository.name.clone()).collect()
    };
    let all = RepositoryFilter::default();
    let page = store
        .repositories_page(&all, &ListQuery::page(RepositorySort::Name, 1, 2))
        .await
        .unwrap();
    assert_eq!(names(&page), ["a/three", "b/big-app"]);
    assert_eq!(page.total, 5);
    let page = store
        .repositories_page(&all, &ListQuery::page(RepositorySort::Tags, 0, 5).descending(true))
        .await
        .unwrap();
    assert_eq!(names(&page), ["b/big-app", "a/three", "b/two", "c/one", "a/none"]);
    assert_eq!(page.items[0].summary.tags, 4);
    let page = store
        .repositories_page(&all, &ListQuery::page(RepositorySort::LatestPush, 0, 1))
        .await
        .unwrap();
    assert_eq!(names(&page), ["a/none"], "no push sorts first");
    let past_end = store
        .repositories_page(&all, &ListQuery::page(RepositorySort::Name, 10, 5))
        .await
        .unwrap();
    assert!(past_end.items.is_empty());
    assert_eq!(past_end.total, 5);

    let b = store
        .namespace(crate::model::NamespaceRef::Named("b"))
        .await
        .unwrap()
        .expect("b")
        .id;
    let c = store
        .namespace(crate::model::NamespaceRef::Named("c"))
        .await
        .unwrap()
        .expect("c")
        .id;
    let in_b_c = RepositoryFilter {
        namespaces: Some(vec![b, c]),
        ..RepositoryFilter::default()
    };
    let page = store
        .repositories_page(&in_b_c, &ListQuery::all(RepositorySort::Name).descending(true))
        .await
        .unwrap();
    assert_eq!(names(&page), ["c/one", "b/two", "b/big-app"]);
    assert_eq!(page.total, 3);
    store.set_namespace_visibility(b, Visibility::Public).await.unwrap();
    let public = VisibleNamespaces::Some {
        visibilities: vec![Visibility::Public],
        global: false,
        teams: Vec::new(),
    };
    let visible = RepositoryFilter {
        visible: public.clone(),
        ..RepositoryFilter::default()
    };
    let page = store
        .repositories_page(&visible, &ListQuery::all(RepositorySort::Name))
        .await
        .unwrap();
    assert_eq!(names(&page), ["b/big-app", "b/two"]);
    assert_eq!(page.total, 2);
    let public_tags = TagFilter {
        visible: public,
        ..TagFilter::default()
    };
    let tags = store
        .tags_page(&public_tags, &ListQuery::page(TagSort::Id, 0, 2))
        .await
        .unwrap();
    assert_eq!((tags.items.len(), tags.total), (2, 6), "b's six tags, counted");
    assert!(tags.items.iter().all(|t| t.repository.starts_with("b/")));
    let none = RepositoryFilter {
        namespaces: Some(Vec::new()),
        ..RepositoryFilter::default()
    };
    assert_eq!(
        store
            .repositories_page(&none, &ListQuery::all(RepositorySort::Name))
            .await
            .unwrap()
            .total,
        0
    );
    let unknown = RepositoryFilter {
        namespaces: Some(vec![NamespaceId(987_654)]),
        ..RepositoryFilter::default()
    };
    assert_eq!(
        store
            .repositories_page(&unknown, &ListQuery::all(RepositorySort::Name))
            .await
            .unwrap()
            .total,
        0
    );

    let three = store
        .repositories_page(&all, &ListQuery::all(RepositorySort::Name))
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|l| l.repository.name == "a/three")
        .unwrap();
    store.set_star(alice.id, three.repository.id, true).await.unwrap();
    let starred = RepositoryFilter {
        starred_by: Some(alice.id),
        ..RepositoryFilter::default()
    };
    let page = store
        .repositories_page(&starred, &ListQuery::all(RepositorySort::Name))
        .await
        .unwrap();
    assert_eq!(names(&page), ["a/three"]);
    assert_eq!(page.items[0].repository.stars, 1);
    let page = store
        .repositories_page(&all, &ListQuery::page(RepositorySort::Stars, 0, 1).descending(true))
        .await
        .unwrap();
    assert_eq!(names(&page), ["a/three"]);

    let searched = RepositoryFilter {
        name_contains: Some("APP".into()),
        ..RepositoryFilter::default()
    };
    assert_eq!(
        names(
            &store
                .repositories_page(&searched, &ListQuery::all(RepositorySort::Name))
                .await
                .unwrap()
        ),
        ["b/big-app"]
    );
    let wildcard = RepositoryFilter {
        name_contains: Some("_".into()),
        ..RepositoryFilter::default()
    };
    assert_eq!(
        store
            .repositories_page(&wildcard, &ListQuery::all(RepositorySort::Name))
            .await
            .unwrap()
            .total,
        0
    );
}

/// Tag pages come ordered, sliced, filtered by repository or namespaces, and counted.
pub async fn tag_pages_are_ordered_sliced_and_filtered(store: &dyn PolicyStore) {
    for (repository, tag) in [("x/app", "v2"), ("x/app", "v10"), ("y/lib", "a"), ("x/app", "latest")] {
        push(store, repository, tag, &format!("sha256:{repository}{tag}")).await;
    }
    let app = store
        .repositories_page(&RepositoryFilter::default(), &ListQuery::all(RepositorySort::Name))
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|l| l.repository.name == "x/app")
        .unwrap()
        .repository;
    let of_app = TagFilter {
        repository: Some(app.id),
        ..TagFilter::default()
    };
    let page = store
        .tags_page(&of_app, &ListQuery::page(TagSort::Name, 1, 2))
        .await
        .unwrap();
    let names: Vec<&str> = page.items.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["v10", "v2"]);
    assert_eq!(page.total, 3);
    let newest = store
        .tags_page(
            &TagFilter::default(),
            &ListQuery::page(TagSort::Id, 0, 1).descending(true),
        )
        .await
        .unwrap();
    assert_eq!(newest.items[0].name, "latest");
    assert_eq!(newest.total, 4);
    let y = store
        .namespace(crate::model::NamespaceRef::Named("y"))
        .await
        .unwrap()
        .expect("y")
        .id;
    let in_y = TagFilter {
        namespaces: Some(vec![y]),
        ..TagFilter::default()
    };
    let page = store.tags_page(&in_y, &ListQuery::all(TagSort::Name)).await.unwrap();
    assert_eq!((page.items.len(), page.total), (1, 1));
    assert_eq!(page.items[0].repository, "y/lib");
    let named = TagFilter {
        name_contains: Some("V1".into()),
        ..TagFilter::default()
    };
    let page = store.tags_page(&named, &ListQuery::all(TagSort::Name)).await.unwrap();
    assert_eq!((page.items.len(), page.total), (1, 1));
    assert_eq!(page.items[0].name, "v10");
    let digests = vec!["sha256:y/liba".to_owned(), "sha256:none".to_owned()];
    store
        .put_scan_record(&scan("sha256:y/liba", "a", ScanState::Failed, &[]))
        .await
        .unwrap();
    let records = store.scan_records_of(&digests).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].digest, "sha256:y/liba");
}

/// The names of every tag `text` finds, in name order, and the total the page gives.
async fn tags_named(store: &dyn PolicyStore, text: &str, query: &ListQuery<TagSort>) -> (Vec<String>, u64) {
    let filter = TagFilter {
        name_contains: Some(text.into()),
        ..TagFilter::default()
    };
    let page = store.tags_page(&filter, query).await.unwrap();
    (page.items.into_iter().map(|t| t.name).collect(), page.total)
}

/// A tag name search finds exactly the tags whose names contain the text, ignoring ASCII case,
/// with `%` and `_` taken literally, after deletions, and whether few or many names match
/// (stores may answer the two from different indexes).
pub async fn tag_name_search_finds_exactly_the_matching_tags(store: &dyn PolicyStore) {
    for (repository, tag) in [
        ("s/one", "release-1"),
        ("s/one", "Release-Candidate"),
        ("s/two", "release-2"),
        ("s/two", "nightly"),
        ("s/three", "release_x"),
        ("s/three", "releaseAx"),
        ("s/three", "100-done"),
    ] {
        push(store, repository, tag, &format!("sha256:{repository}{tag}")).await;
    }
    let all = ListQuery::all(TagSort::Name);
    let (names, total) = tags_named(store, "RELEASE", &all).await;
    assert_eq!(
        names,
        ["Release-Candidate", "release-1", "release-2", "releaseAx", "release_x"]
    );
    assert_eq!(total, 5);
    assert_eq!(tags_named(store, "ase_x", &all).await.0, ["release_x"]);
    assert_eq!(tags_named(store, "0%-d", &all).await, (vec![], 0));
    assert_eq!(tags_named(store, "00-do", &all).await.0, ["100-done"]);
    assert_eq!(tags_named(store, "lease-c", &all).await.0, ["Release-Candidate"]);
    assert_eq!(tags_named(store, "ease-9", &all).await, (vec![], 0));

    store.delete_tag("s/two", "release-2").await.unwrap();
    assert_eq!(tags_named(store, "release-2", &all).await, (vec![], 0));
    store.delete_repository("s/one").await.unwrap();
    assert_eq!(tags_named(store, "release", &all).await.0, ["releaseAx", "release_x"]);
    push(store, "s/two", "release-2", "sha256:again").await;
    assert_eq!(tags_named(store, "ease-2", &all).await.0, ["release-2"]);

    // More matches than any index shortcut keeps: still every one, in order, counted.
    for n in 0..1_100 {
        push(store, "s/bulk", &format!("bulk-{n:04}"), &format!("sha256:bulk{n}")).await;
    }
    let (names, total) = tags_named(store, "BULK", &ListQuery::page(TagSort::Name, 1_050, 100)).await;
    assert_eq!(total, 1_100);
    assert_eq!(names.len(), 50);
    assert_eq!((names[0].as_str(), names[49].as_str()), ("bulk-1050", "bulk-1099"));
    let (names, total) = tags_named(store, "ulk-10", &ListQuery::page(TagSort::Name, 0, 3)).await;
    assert_eq!(
        (names, total),
        (
            vec!["bulk-1000".to_owned(), "bulk-1001".to_owned(), "bulk-1002".to_owned()],
            100
        )
    );
}

/// Every slice of a repository or tag list, in every order, both ways, is the same slice of
/// the whole list with the whole total: whether a store reads a page from the list's start or
/// (deep pages) from its other end, ties and repositories without tags (no latest push) included.
pub async fn every_slice_is_a_slice_of_the_whole_list(store: &dyn PolicyStore) {
    for (repository, tag) in [
        ("d/a", "v1"),
        ("d/a", "release-2"),
        ("d/a", "v3"),
        ("d/b", "release-1"),
        ("d/c", "v1"),
        ("d/c", "release-9"),
        ("e/x", "v1"),
        ("e/y", "v1"),
    ] {
        push(store, repository, tag, &format!("sha256:{repository}{tag}")).await;
    }
    store.delete_tag("e/x", "v1").await.unwrap();
    let dana = user(store, "dana").await;
    let whole = store
        .repositories_page(&RepositoryFilter::default(), &ListQuery::all(RepositorySort::Id))
        .await
        .unwrap();
    for listing in whole.items.iter().filter(|l| l.repository.name.starts_with("d/")) {
        store.set_star(dana.id, listing.repository.id, true).await.unwrap();
    }
    let filters = [
        RepositoryFilter::default(),
        RepositoryFilter {
            name_contains: Some("d/".into()),
            ..RepositoryFilter::default()
        },
    ];
    let sorts = [
        RepositorySort::Name,
        RepositorySort::Id,
        RepositorySort::CreatedAt,
        RepositorySort::Stars,
        RepositorySort::Tags,
        RepositorySort::LatestPush,
    ];
    for filter in &filters {
        for sort in sorts {
            let whole: Vec<i64> = store
                .repositories_page(filter, &ListQuery::all(sort))
                .await
                .unwrap()
                .items
                .iter()
                .map(|l| l.repository.id.0)
                .collect();
            assert!(whole.len() >= 3, "{filter:?}");
            super::lists::check_pages(
                &format!("repositories {filter:?} by {sort:?}"),
                sort,
                &whole,
                |l: &crate::model::RepositoryListing| l.repository.id.0,
                |query| async move { store.repositories_page(filter, &query).await.unwrap() },
            )
            .await;
        }
    }
    let filters = [
        TagFilter::default(),
        TagFilter {
            name_contains: Some("v".into()),
            ..TagFilter::default()
        },
        TagFilter {
            name_contains: Some("LEASE".into()),
            ..TagFilter::default()
        },
    ];
    for filter in &filters {
        for sort in [TagSort::Name, TagSort::Id, TagSort::CreatedAt, TagSort::UpdatedAt] {
            let whole: Vec<i64> = store
                .tags_page(filter, &ListQuery::all(sort))
                .await
                .unwrap()
                .items
                .iter()
                .map(|t| t.id.0)
                .collect();
            assert!(whole.len() >= 3, "{filter:?}");
            super::lists::check_pages(
                &format!("tags {filter:?} by {sort:?}"),
                sort,
                &whole,
                |t: &crate::model::TagRecord| t.id.0,
                |query| async move { store.tags_page(filter, &query).await.unwrap() },
            )
            .await;
        }
    }
}

/// Runs the checks of this module (see [`policy_store_conformance!`](crate::policy_store_conformance)).
#[macro_export]
macro_rules! catalog_page_conformance {
    ($make:expr) => {
        $crate::__conformance_tests!($make; catalog_pages;
            repository_pages_are_ordered_sliced_and_filtered,
            tag_pages_are_ordered_sliced_and_filtered,
            tag_name_search_finds_exactly_the_matching_tags,
            every_slice_is_a_slice_of_the_whole_list,
        );
    };
}
