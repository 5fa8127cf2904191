//! Checks across the roles: scopes authorized by the policy over the store.

use super::user;
use crate::access::authorize_scopes;
use crate::model::{NewNamespace, Role, Visibility};
use crate::policy::{Caller, PolicyConfig};
use crate::prelude::*;
use crate::scope::parse_scopes;

/// The scope authorizer gives each caller exactly what the policy allows, over this store.
pub async fn scopes_are_authorized_against_the_store(store: &dyn PolicyStore) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let viewer = user(store, "vera").await;
    let team = store.create_team("shared", alice.id, None).await.unwrap();
    store.set_team_member(team.id, viewer.id, Role::Viewer).await.unwrap();
    store
        .create_namespace(NewNamespace {
            name: "shared".into(),
            team_id: team.id,
            visibility: Visibility::Public,
            description: None,
        })
        .await
        .unwrap();
    let config = PolicyConfig::default();
    let scopes = parse_scopes(
        "repository:alice/app:pull,push repository:shared/app:pull,push,delete repository:alice/app:*,fork registry:catalog:*",
    )
    .unwrap();
    let grants = |caller| {
        let scopes = scopes.clone();
        async move {
            authorize_scopes(store, caller, &scopes, &config)
                .await
                .unwrap()
                .into_iter()
                .map(|g| format!("{}:{}:{}", g.resource_type, g.name, g.actions.join(",")))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        grants(Caller::User {
            id: alice.id,
            admin: false
        })
        .await,
        [
            "repository:alice/app:pull,push,*",
            "repository:shared/app:pull,push,delete"
        ]
    );
    assert_eq!(
        grants(Caller::User {
            id: bob.id,
            admin: false
        })
        .await,
        ["repository:shared/app:pull"]
    );
    assert_eq!(
        grants(Caller::User {
            id: viewer.id,
            admin: false
        })
        .await,
        ["repository:shared/app:pull"]
    );
    assert_eq!(grants(Caller::Anonymous).await, ["repository:shared/app:pull"]);
    assert_eq!(
        grants(Caller::User {
            id: bob.id,
            admin: true
        })
        .await,
        [
            "repository:alice/app:pull,push,*",
            "repository:shared/app:pull,push,delete",
            "registry:catalog:*"
        ]
    );
}

/// Expands to one `#[tokio::test]` per check of this module, each on a fresh store made by
/// the given async expression; [`policy_store_conformance!`](crate::policy_store_conformance)
/// invokes it with the other roles' macros.
#[macro_export]
macro_rules! authorization_conformance {
    ($make:expr) => {
        $crate::__conformance_tests!($make; policy;
            scopes_are_authorized_against_the_store,
        );
    };
}
