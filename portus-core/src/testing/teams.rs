//! The [`TeamStore`] checks: teams, members and roles.

use super::lists::check_pages;
use super::user;
use crate::ErrorKind;
use crate::model::{MemberSort, Role, Team, TeamFilter, TeamId, TeamMember, TeamSort, TeamUpdate};
use crate::prelude::*;

/// Teams are created with their owner; names are unique.
pub async fn teams_have_owners_and_unique_names(store: &dyn PolicyStore) {
    let owner = user(store, "frank").await;
    let team = store
        .create_team("devs", owner.id, Some("Developers".into()))
        .await
        .unwrap();
    assert!(!team.hidden);
    assert_eq!(team.description.as_deref(), Some("Developers"));
    assert_eq!(store.team_by_name("devs").await.unwrap(), Some(team.clone()));
    let members = store.team_members(team.id).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!((members[0].user_id, members[0].role), (owner.id, Role::Owner));
    let err = store.create_team("devs", owner.id, None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    let err = store
        .create_team("other", crate::model::UserId(987_654), None)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

/// Members can be added and their roles changed.
pub async fn team_members_and_roles(store: &dyn PolicyStore) {
    let owner = user(store, "gina").await;
    let viewer = user(store, "hank").await;
    let team = store.create_team("ops", owner.id, None).await.unwrap();
    store.set_team_member(team.id, viewer.id, Role::Viewer).await.unwrap();
    let roles: Vec<(String, Role)> = store
        .team_members(team.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.username, m.role))
        .collect();
    assert_eq!(
        roles,
        [("gina".to_owned(), Role::Owner), ("hank".to_owned(), Role::Viewer)]
    );
    store
        .set_team_member(team.id, viewer.id, Role::Contributor)
        .await
        .unwrap();
    let members = store.team_members(team.id).await.unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(members[1].role, Role::Contributor);
    let err = store
        .set_team_member(team.id, crate::model::UserId(987_654), Role::Viewer)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

/// Teams are listed by name (hidden ones flagged), found by id, renamed without clashes, and
/// members can leave; memberships list a user's teams and roles.
pub async fn teams_can_be_listed_updated_and_left(store: &dyn PolicyStore) {
    let owner = user(store, "olga").await;
    let member = user(store, "mike").await;
    let beta = store.create_team("beta", owner.id, None).await.unwrap();
    let alpha = store
        .create_team("alpha", owner.id, Some("first".into()))
        .await
        .unwrap();
    let names: Vec<(String, bool)> = store
        .list_teams()
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.name, t.hidden))
        .collect();
    assert_eq!(
        names,
        [
            ("alpha".to_owned(), false),
            ("beta".to_owned(), false),
            ("mike".to_owned(), true),
            ("olga".to_owned(), true)
        ]
    );
    assert_eq!(store.team_by_id(alpha.id).await.unwrap(), Some(alpha.clone()));
    assert_eq!(store.team_by_id(TeamId(9999)).await.unwrap(), None);
    let renamed = store
        .update_team(
            beta.id,
            TeamUpdate {
                name: Some("gamma".into()),
                description: Some(Some("third".into())),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.description.as_deref()),
        ("gamma", Some("third"))
    );
    let kept = store.update_team(alpha.id, TeamUpdate::default()).await.unwrap();
    assert_eq!(kept, alpha, "an empty update changes nothing");
    let cleared = store
        .update_team(
            alpha.id,
            TeamUpdate {
                name: None,
                description: Some(None),
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.description, None);
    let clash = TeamUpdate {
        name: Some("alpha".into()),
        description: None,
    };
    assert_eq!(
        store.update_team(renamed.id, clash).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    let bad = TeamUpdate {
        name: Some(" padded ".into()),
        description: None,
    };
    assert_eq!(
        store.update_team(renamed.id, bad).await.unwrap_err().kind(),
        ErrorKind::Invalid
    );
    assert_eq!(
        store
            .update_team(TeamId(9999), TeamUpdate::default())
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );

    store
        .set_team_member(alpha.id, member.id, Role::Contributor)
        .await
        .unwrap();
    let mike_personal_team = store.team_by_name("mike").await.unwrap().unwrap();
    let mut expected = vec![(alpha.id, Role::Contributor), (mike_personal_team.id, Role::Owner)];
    expected.sort();
    assert_eq!(store.memberships(member.id).await.unwrap(), expected);
    store.remove_team_member(alpha.id, member.id).await.unwrap();
    assert_eq!(
        store.memberships(member.id).await.unwrap(),
        vec![(mike_personal_team.id, Role::Owner)]
    );
    assert_eq!(
        store.remove_team_member(alpha.id, member.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

/// Teams are paged by name and id, both ways: all of them, the visible ones, and a member's.
pub async fn teams_are_paged_and_filtered(store: &dyn PolicyStore) {
    let olga = user(store, "olga").await;
    let mike = user(store, "mike").await;
    let beta = store.create_team("beta", olga.id, None).await.unwrap();
    store.create_team("alpha", olga.id, None).await.unwrap();
    store.create_team("gamma", mike.id, None).await.unwrap();
    store.set_team_member(beta.id, mike.id, Role::Viewer).await.unwrap();
    let names = |list: &[&str]| list.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let visible = TeamFilter::default();
    let mikes = TeamFilter {
        include_hidden: false,
        member: Some(mike.id),
    };
    let mikes_and_hidden = TeamFilter {
        include_hidden: true,
        member: Some(mike.id),
    };
    let nobodys = TeamFilter {
        include_hidden: true,
        member: Some(crate::model::UserId(987_654)),
    };
    for (filter, by_name, by_id) in [
        (
            TeamFilter::every(),
            names(&["alpha", "beta", "gamma", "mike", "olga"]),
            names(&["olga", "mike", "beta", "alpha", "gamma"]),
        ),
        (
            visible,
            names(&["alpha", "beta", "gamma"]),
            names(&["beta", "alpha", "gamma"]),
        ),
        (mikes, names(&["beta", "gamma"]), names(&["beta", "gamma"])),
        (
            mikes_and_hidden,
            names(&["beta", "gamma", "mike"]),
            names(&["mike", "beta", "gamma"]),
        ),
        (nobodys, Vec::new(), Vec::new()),
    ] {
        for (sort, expected) in [(TeamSort::Name, &by_name), (TeamSort::Id, &by_id)] {
            check_pages(
                &format!("teams {filter:?} by {sort:?}"),
                sort,
                expected,
                |t: &Team| t.name.clone(),
                |query| async move { store.teams_page(&filter, &query).await.unwrap() },
            )
            .await;
        }
    }
}

/// A team's members are paged by name, user id and role, both ways, without other teams'.
pub async fn team_members_are_paged(store: &dyn PolicyStore) {
    let olga = user(store, "olga").await;
    let zed = user(store, "zed").await;
    let adam = user(store, "adam").await;
    let mike = user(store, "mike").await;
    let team = store.create_team("devs", olga.id, None).await.unwrap();
    store.set_team_member(team.id, zed.id, Role::Viewer).await.unwrap();
    store
        .set_team_member(team.id, adam.id, Role::Contributor)
        .await
        .unwrap();
    store.set_team_member(team.id, mike.id, Role::Owner).await.unwrap();
    store.create_team("other", zed.id, None).await.unwrap();
    let names = |list: &[&str]| list.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    for (sort, expected) in [
        (MemberSort::Username, names(&["adam", "mike", "olga", "zed"])),
        (MemberSort::UserId, names(&["olga", "zed", "adam", "mike"])),
        // Roles by name; the two owners by user id.
        (MemberSort::Role, names(&["adam", "olga", "mike", "zed"])),
    ] {
        check_pages(
            &format!("members by {sort:?}"),
            sort,
            &expected,
            |m: &TeamMember| m.username.clone(),
            |query| async move { store.team_members_page(team.id, &query).await.unwrap() },
        )
        .await;
    }
    let none = store
        .team_members_page(TeamId(987_654), &crate::model::ListQuery::default())
        .await
        .unwrap();
    assert_eq!((none.items.len(), none.total), (0, 0));
}

/// Expands to one `#[tokio::test]` per check of this module, each on a fresh store made by
/// the given async expression; [`policy_store_conformance!`](crate::policy_store_conformance)
/// invokes it with the other roles' macros.
#[macro_export]
macro_rules! team_store_conformance {
    ($make:expr) => {
        $crate::__conformance_tests!($make; teams;
            teams_have_owners_and_unique_names,
            team_members_and_roles,
            teams_can_be_listed_updated_and_left,
            teams_are_paged_and_filtered,
            team_members_are_paged,
        );
    };
}
