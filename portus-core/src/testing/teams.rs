//! The [`TeamStore`] checks: teams, members and roles.

use super::user;
use crate::ErrorKind;
use crate::model::{Role, TeamId, TeamUpdate};
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
        );
    };
}
