//! The [`NamespaceStore`] checks: namespaces, their visibility and the access they give.

use super::lists::check_pages;
use super::user;
use crate::ErrorKind;
use crate::model::{
    ManifestRecord, MissingNamespace, Namespace, NamespaceFilter, NamespaceId, NamespaceRef, NamespaceSort,
    NamespaceUpdate, NewNamespace, Role, TeamId, Visibility, VisibleNamespaces,
};
use crate::prelude::*;

/// The global namespace exists from the start, is public and has no team.
pub async fn global_namespace_exists_and_is_public(store: &dyn NamespaceStore) {
    let global = store
        .namespace(NamespaceRef::Global)
        .await
        .unwrap()
        .expect("global namespace");
    assert!(global.global);
    assert_eq!(global.visibility, Visibility::Public);
    assert_eq!(global.team_id, None);
    let access = store
        .namespace_access(NamespaceRef::Global, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(access.role, None);
    assert!(access.namespace.global);
}

/// Namespaces are created for teams, with unique valid names.
pub async fn namespaces_are_unique_and_valid(store: &dyn PolicyStore) {
    let owner = user(store, "ivan").await;
    let team = store.create_team("qa", owner.id, None).await.unwrap();
    let new = |name: &str| NewNamespace {
        name: name.into(),
        team_id: team.id,
        visibility: Visibility::Protected,
        description: Some("QA images".into()),
    };
    let ns = store.create_namespace(new("qa")).await.unwrap();
    assert_eq!(ns.visibility, Visibility::Protected);
    assert_eq!(ns.team_id, Some(team.id));
    assert_eq!(store.namespace(NamespaceRef::Named("qa")).await.unwrap(), Some(ns));
    assert_eq!(
        store.create_namespace(new("qa")).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    assert_eq!(
        store.create_namespace(new("ivan")).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    for bad in ["QA", "a/b", "", "-x"] {
        assert_eq!(
            store.create_namespace(new(bad)).await.unwrap_err().kind(),
            ErrorKind::Invalid,
            "{bad:?}"
        );
    }
    let orphan = NewNamespace {
        team_id: crate::model::TeamId(987_654),
        ..new("orphan")
    };
    assert_eq!(
        store.create_namespace(orphan).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(store.namespace(NamespaceRef::Named("missing")).await.unwrap(), None);
}

/// `namespace_access` reports the caller's role, or none.
pub async fn namespace_access_reports_roles(store: &dyn PolicyStore) {
    let owner = user(store, "jane").await;
    let member = user(store, "kurt").await;
    let outsider = user(store, "lena").await;
    let team = store.create_team("web", owner.id, None).await.unwrap();
    store
        .set_team_member(team.id, member.id, Role::Contributor)
        .await
        .unwrap();
    store
        .create_namespace(NewNamespace {
            name: "web".into(),
            team_id: team.id,
            visibility: Visibility::Private,
            description: None,
        })
        .await
        .unwrap();
    let web = NamespaceRef::Named("web");
    let role = |u| async move { store.namespace_access(web, u).await.unwrap().unwrap().role };
    assert_eq!(role(Some(owner.id)).await, Some(Role::Owner));
    assert_eq!(role(Some(member.id)).await, Some(Role::Contributor));
    assert_eq!(role(Some(outsider.id)).await, None);
    assert_eq!(role(None).await, None);
    assert_eq!(
        store
            .namespace_access(NamespaceRef::Named("nope"), Some(owner.id))
            .await
            .unwrap(),
        None
    );
}

/// Visibility can change; the global namespace is never private.
pub async fn namespace_visibility_changes(store: &dyn PolicyStore) {
    let u = user(store, "mike").await;
    let ns = u.personal_namespace.unwrap();
    store.set_namespace_visibility(ns, Visibility::Public).await.unwrap();
    assert_eq!(
        store
            .namespace(NamespaceRef::Named("mike"))
            .await
            .unwrap()
            .unwrap()
            .visibility,
        Visibility::Public
    );
    let global = store.namespace(NamespaceRef::Global).await.unwrap().unwrap();
    let err = store
        .set_namespace_visibility(global.id, Visibility::Private)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    store
        .set_namespace_visibility(global.id, Visibility::Protected)
        .await
        .unwrap();
    assert_eq!(
        store.namespace(NamespaceRef::Global).await.unwrap().unwrap().visibility,
        Visibility::Protected
    );
}

/// Namespaces are listed (global first, then by name), found by id, and can change
/// description and team; the global namespace cannot get a team.
pub async fn namespaces_can_be_listed_and_updated(store: &dyn PolicyStore) {
    let owner = user(store, "nora").await;
    let team = store.create_team("ops", owner.id, None).await.unwrap();
    let other = store.create_team("dev", owner.id, None).await.unwrap();
    let ns = store
        .create_namespace(NewNamespace {
            name: "infra".into(),
            team_id: team.id,
            visibility: Visibility::Protected,
            description: None,
        })
        .await
        .unwrap();
    let listed: Vec<String> = store
        .list_namespaces()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(listed, ["", "infra", "nora"]);
    assert_eq!(store.namespace_by_id(ns.id).await.unwrap(), Some(ns.clone()));
    assert_eq!(store.namespace_by_id(NamespaceId(9999)).await.unwrap(), None);
    let moved = store
        .update_namespace(
            ns.id,
            NamespaceUpdate {
                description: Some(Some("servers".into())),
                team_id: Some(other.id),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (moved.team_id, moved.description.as_deref()),
        (Some(other.id), Some("servers"))
    );
    assert_eq!(moved.visibility, Visibility::Protected, "visibility untouched");
    assert_eq!(store.namespace_by_id(ns.id).await.unwrap(), Some(moved));
    let unknown_team = NamespaceUpdate {
        description: None,
        team_id: Some(TeamId(9999)),
    };
    assert_eq!(
        store.update_namespace(ns.id, unknown_team).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let global = store.namespace(NamespaceRef::Global).await.unwrap().unwrap();
    let give_away = NamespaceUpdate {
        description: None,
        team_id: Some(team.id),
    };
    assert_eq!(
        store.update_namespace(global.id, give_away).await.unwrap_err().kind(),
        ErrorKind::Invalid
    );
    let described = store
        .update_namespace(
            global.id,
            NamespaceUpdate {
                description: Some(None),
                team_id: None,
            },
        )
        .await
        .unwrap();
    assert_eq!((described.description, described.team_id), (None, None));
    assert_eq!(
        store
            .update_namespace(NamespaceId(9999), NamespaceUpdate::default())
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

/// Namespaces are paged (global first then by name, or by id), both ways, under every kind of
/// filter the visibility rule and a team make; repositories are counted per namespace.
pub async fn namespaces_are_paged_and_filtered(store: &dyn PolicyStore) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let devs = store.create_team("devs", alice.id, None).await.unwrap();
    let ops = store.create_team("ops", bob.id, None).await.unwrap();
    let alices_team = store.team_by_name("alice").await.unwrap().unwrap();
    let mut all = vec![
        store.namespace(NamespaceRef::Global).await.unwrap().unwrap(),
        store.namespace(NamespaceRef::Named("alice")).await.unwrap().unwrap(),
        store.namespace(NamespaceRef::Named("bob")).await.unwrap().unwrap(),
    ];
    for (name, team, visibility) in [
        ("web", devs.id, Visibility::Public),
        ("api", devs.id, Visibility::Private),
        ("db", ops.id, Visibility::Protected),
        ("tools", ops.id, Visibility::Private),
    ] {
        let new = NewNamespace {
            name: name.into(),
            team_id: team,
            visibility,
            description: None,
        };
        all.push(store.create_namespace(new).await.unwrap());
    }
    let some = |visibilities: &[Visibility], global: bool, teams: &[TeamId]| VisibleNamespaces::Some {
        visibilities: visibilities.to_vec(),
        global,
        teams: teams.to_vec(),
    };
    let filters = [
        NamespaceFilter::every(),
        // An anonymous caller.
        NamespaceFilter {
            visible: some(&[Visibility::Public], false, &[]),
            team: None,
            name_contains: None,
        },
        // alice.
        NamespaceFilter {
            visible: some(
                &[Visibility::Public, Visibility::Protected],
                true,
                &[devs.id, alices_team.id],
            ),
            team: None,
            name_contains: None,
        },
        // Nothing at all.
        NamespaceFilter {
            visible: some(&[], false, &[]),
            team: None,
            name_contains: None,
        },
        // Only the global namespace, only a team's.
        NamespaceFilter {
            visible: some(&[], true, &[]),
            team: None,
            name_contains: None,
        },
        NamespaceFilter {
            visible: some(&[], false, &[ops.id]),
            team: None,
            name_contains: None,
        },
        // A team's namespaces: all of them, an anonymous caller's share.
        NamespaceFilter {
            visible: VisibleNamespaces::All,
            team: Some(devs.id),
            name_contains: None,
        },
        NamespaceFilter {
            visible: some(&[Visibility::Public], false, &[]),
            team: Some(devs.id),
            name_contains: None,
        },
        // Names holding a text, in any ASCII case, with wildcards taken literally.
        NamespaceFilter {
            visible: VisibleNamespaces::All,
            team: None,
            name_contains: Some("E".into()),
        },
        NamespaceFilter {
            visible: some(&[Visibility::Public], false, &[]),
            team: Some(devs.id),
            name_contains: Some("e".into()),
        },
        NamespaceFilter {
            visible: VisibleNamespaces::All,
            team: None,
            name_contains: Some("_".into()),
        },
    ];
    let named = |text: &str| {
        all.iter()
            .filter(|n| n.name.to_ascii_lowercase().contains(text))
            .count()
    };
    assert!(
        named("e") >= 2 && named("e") < all.len(),
        "the names give the search something to tell apart"
    );
    for filter in &filters {
        let admitted: Vec<&Namespace> = all.iter().filter(|n| filter.admits(n)).collect();
        let mut by_name: Vec<&Namespace> = admitted.clone();
        by_name.sort_by(|a, b| (!a.global, &a.name).cmp(&(!b.global, &b.name)));
        let mut by_id = admitted;
        by_id.sort_by_key(|n| n.id);
        for (sort, expected) in [(NamespaceSort::Name, by_name), (NamespaceSort::Id, by_id)] {
            let expected: Vec<NamespaceId> = expected.iter().map(|n| n.id).collect();
            check_pages(
                &format!("namespaces {filter:?} by {sort:?}"),
                sort,
                &expected,
                |n: &Namespace| n.id,
                |query| async move { store.namespaces_page(filter, &query).await.unwrap() },
            )
            .await;
        }
    }
    // The filters mean what the visibility rule says (not only what `admits` says).
    let names = |filter: &NamespaceFilter| {
        let filter = filter.clone();
        async move {
            store
                .namespaces_page(&filter, &crate::model::ListQuery::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|n| n.name)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names(&filters[1]).await, ["", "web"]);
    assert_eq!(names(&filters[2]).await, ["", "alice", "api", "db", "web"]);
    assert_eq!(names(&filters[7]).await, ["web"]);

    let manifest = ManifestRecord {
        digest: "sha256:1".into(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: None,
    };
    for repository in ["web/app", "web/lib", "db/main", "tools/x"] {
        store
            .put_tag(repository, "1", &manifest, None, MissingNamespace::Ignore)
            .await
            .unwrap();
    }
    let id = |name: &str| all.iter().find(|n| n.name == name).unwrap().id;
    let mut counts = store
        .repository_counts(&[id("web"), id("api"), id("db")])
        .await
        .unwrap();
    counts.sort();
    let mut expected = vec![(id("web"), 2), (id("db"), 1)];
    expected.sort();
    assert_eq!(counts, expected, "only the namespaces asked, only those holding any");
    assert!(store.repository_counts(&[]).await.unwrap().is_empty());
    // More namespaces at once than either database binds in one statement (SQLite 32766,
    // PostgreSQL 65535 parameters): a whole list of a large installation (`all=true`).
    let mut many: Vec<NamespaceId> = (1_000_000..1_070_000).map(NamespaceId).collect();
    many.insert(1_700, id("web"));
    many.push(id("db"));
    let mut counts = store.repository_counts(&many).await.unwrap();
    counts.sort();
    assert_eq!(counts, expected);
}

/// Several namespaces in one lookup answer exactly as one lookup each, in the order asked.
pub async fn namespaces_are_looked_up_together(store: &dyn PolicyStore) {
    let owner = user(store, "uma").await;
    let viewer = user(store, "vic").await;
    let team = store.create_team("lookup", owner.id, None).await.unwrap();
    store.set_team_member(team.id, viewer.id, Role::Viewer).await.unwrap();
    for name in ["red", "blue"] {
        store
            .create_namespace(NewNamespace {
                name: name.into(),
                team_id: team.id,
                visibility: Visibility::Private,
                description: None,
            })
            .await
            .unwrap();
    }
    let wanted = [
        NamespaceRef::Named("blue"),
        NamespaceRef::Global,
        NamespaceRef::Named("missing"),
        NamespaceRef::Named("red"),
        NamespaceRef::Named("uma"),
    ];
    for user_id in [Some(viewer.id), Some(owner.id), None] {
        let together = store.namespaces_access(&wanted, user_id).await.unwrap();
        let mut one_by_one = Vec::new();
        for namespace in wanted {
            one_by_one.push(store.namespace_access(namespace, user_id).await.unwrap());
        }
        assert_eq!(together, one_by_one, "{user_id:?}");
    }
    let viewer_view = store.namespaces_access(&wanted, Some(viewer.id)).await.unwrap();
    assert_eq!(viewer_view[0].as_ref().unwrap().role, Some(Role::Viewer));
    assert!(viewer_view[1].as_ref().unwrap().namespace.global);
    assert!(viewer_view[2].is_none());
    assert_eq!(viewer_view[4].as_ref().unwrap().role, None, "uma's personal namespace");
    assert!(store.namespaces_access(&[], None).await.unwrap().is_empty());

    // The user and their access together answer as the two lookups apart.
    for (who, named) in [
        (&viewer, &wanted[..]),
        (
            &owner,
            &[NamespaceRef::Named("red"), NamespaceRef::Named("missing")][..],
        ),
        (&owner, &[NamespaceRef::Named("nothing-here")][..]),
        (&viewer, &[][..]),
    ] {
        let (found_user, access) = store
            .user_and_namespaces_access(&who.username, named)
            .await
            .unwrap()
            .expect("the user exists");
        assert_eq!(&found_user, &store.user_by_name(&who.username).await.unwrap().unwrap());
        assert_eq!(
            access,
            store.namespaces_access(named, Some(who.id)).await.unwrap(),
            "{named:?}"
        );
    }
    assert!(
        store
            .user_and_namespaces_access("nobody", &wanted)
            .await
            .unwrap()
            .is_none()
    );
}

/// Deleting a namespace takes its repositories, tags, stars and comments with it and frees
/// its name; the global namespace cannot be deleted; a team that owns namespaces cannot be
/// deleted until they are gone.
pub async fn namespaces_are_deleted_with_their_repositories(store: &dyn PolicyStore) {
    use crate::model::{ManifestRecord, MissingNamespace};
    let owner = user(store, "nina").await;
    let team = store.create_team("ops", owner.id, None).await.unwrap();
    let new = |name: &str| NewNamespace {
        name: name.into(),
        team_id: team.id,
        visibility: Visibility::Private,
        description: None,
    };
    let doomed = store.create_namespace(new("doomed")).await.unwrap();
    let kept = store.create_namespace(new("kept")).await.unwrap();
    let manifest = ManifestRecord {
        digest: "sha256:1".into(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: None,
    };
    for repository in ["doomed/app", "doomed/web", "kept/app"] {
        store
            .put_tag(repository, "1", &manifest, None, MissingNamespace::Ignore)
            .await
            .unwrap();
    }
    let app = store.list_repositories().await.unwrap()[0].clone();
    assert_eq!(app.name, "doomed/app");
    store.set_star(owner.id, app.id, true).await.unwrap();
    store.add_comment(app.id, "nina", "bye").await.unwrap();

    assert_eq!(
        store.delete_team(team.id).await.unwrap_err().kind(),
        ErrorKind::Conflict,
        "the team still owns namespaces"
    );
    store.delete_namespace(doomed.id).await.unwrap();
    assert_eq!(store.namespace_by_id(doomed.id).await.unwrap(), None);
    assert_eq!(store.repositories().await.unwrap(), ["kept/app"]);
    assert_eq!(store.tag("doomed/app", "1").await.unwrap(), None);
    assert_eq!(store.starred(owner.id).await.unwrap(), vec![]);
    assert_eq!(store.comments(app.id).await.unwrap(), vec![]);
    assert_eq!(
        store.delete_namespace(doomed.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let global = store.namespace(NamespaceRef::Global).await.unwrap().unwrap();
    assert_eq!(
        store.delete_namespace(global.id).await.unwrap_err().kind(),
        ErrorKind::Invalid
    );
    store
        .create_namespace(new("doomed"))
        .await
        .expect("the name is free again");

    let other = store.create_team("other", owner.id, None).await.unwrap();
    for namespace in store.list_namespaces().await.unwrap() {
        if namespace.team_id == Some(team.id) {
            let update = NamespaceUpdate {
                team_id: Some(other.id),
                ..NamespaceUpdate::default()
            };
            store.update_namespace(namespace.id, update).await.unwrap();
        }
    }
    store.delete_team(team.id).await.unwrap();
    assert_eq!(store.team_by_id(team.id).await.unwrap(), None);
    assert_eq!(
        store
            .memberships(owner.id)
            .await
            .unwrap()
            .iter()
            .filter(|(t, _)| *t == team.id)
            .count(),
        0
    );
    assert_eq!(
        store.delete_team(team.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        store.namespace_by_id(kept.id).await.unwrap().unwrap().team_id,
        Some(other.id)
    );
}

/// Expands to one `#[tokio::test]` per check of this module, each on a fresh store made by
/// the given async expression; [`policy_store_conformance!`](crate::policy_store_conformance)
/// invokes it with the other roles' macros.
#[macro_export]
macro_rules! namespace_store_conformance {
    ($make:expr) => {
        $crate::__conformance_tests!($make; namespaces;
            global_namespace_exists_and_is_public,
            namespaces_are_unique_and_valid,
            namespace_access_reports_roles,
            namespace_visibility_changes,
            namespaces_can_be_listed_and_updated,
            namespaces_are_paged_and_filtered,
            namespaces_are_looked_up_together,
            namespaces_are_deleted_with_their_repositories,
        );
    };
}
