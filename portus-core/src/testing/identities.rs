//! The [`IdentityStore`] checks: accounts at other identity providers linked to local users.
//!
//! [`IdentityStore`]: crate::traits::IdentityStore

use super::user;
use crate::ErrorKind;
use crate::model::{ExternalIdentity, NamespaceRef, NewUser, UserId};
use crate::prelude::*;

const ISSUER: &str = "https://id.example.org";

fn oidc(subject: &str) -> ExternalIdentity {
    ExternalIdentity::new("oidc", ISSUER, subject)
}

/// An identity is linked to one user, found by provider, issuer and subject together, linked
/// again to the same user without change, refused to another user, and unlinked.
pub async fn identities_are_linked_found_and_unlinked(store: &dyn PolicyStore) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    assert_eq!(store.user_by_identity(&oidc("s-1")).await.unwrap(), None);
    assert!(store.link_identity(alice.id, &oidc("s-1")).await.unwrap());
    assert!(
        !store.link_identity(alice.id, &oidc("s-1")).await.unwrap(),
        "linking again to the same user changes nothing"
    );
    assert_eq!(store.user_by_identity(&oidc("s-1")).await.unwrap(), Some(alice.clone()));
    assert_eq!(
        store.link_identity(bob.id, &oidc("s-1")).await.unwrap_err().kind(),
        ErrorKind::Conflict,
        "an identity belongs to one user"
    );
    // The same subject of another issuer or another kind of provider is someone else.
    let elsewhere = ExternalIdentity::new("oidc", "https://other.example.org", "s-1");
    let github = ExternalIdentity::new("github", "", "s-1");
    assert_eq!(store.user_by_identity(&elsewhere).await.unwrap(), None);
    assert_eq!(store.user_by_identity(&github).await.unwrap(), None);
    assert!(store.link_identity(bob.id, &elsewhere).await.unwrap());
    assert!(store.link_identity(alice.id, &github).await.unwrap());
    assert!(store.link_identity(alice.id, &oidc("s-0")).await.unwrap());
    assert_eq!(store.user_by_identity(&elsewhere).await.unwrap(), Some(bob.clone()));
    assert_eq!(
        store.identities_of(alice.id).await.unwrap(),
        vec![github.clone(), oidc("s-0"), oidc("s-1")],
        "ordered by provider, issuer, subject"
    );
    assert_eq!(store.identities_of(bob.id).await.unwrap(), vec![elsewhere.clone()]);
    assert_eq!(store.identities_of(UserId(9999)).await.unwrap(), vec![]);

    store.unlink_identity(&oidc("s-1")).await.unwrap();
    assert_eq!(store.user_by_identity(&oidc("s-1")).await.unwrap(), None);
    assert_eq!(
        store.unlink_identity(&oidc("s-1")).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(store.user_by_identity(&github).await.unwrap(), Some(alice.clone()));
    assert!(store.link_identity(bob.id, &oidc("s-1")).await.unwrap(), "free again");
    assert_eq!(store.user_by_identity(&oidc("s-1")).await.unwrap(), Some(bob.clone()));
    assert_eq!(
        store
            .link_identity(UserId(9999), &oidc("s-9"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(store.user_by_identity(&oidc("s-9")).await.unwrap(), None);
}

/// Identities with an empty provider or subject, or overlong or control characters, are
/// refused as invalid.
pub async fn invalid_identities_are_refused(store: &dyn PolicyStore) {
    let alice = user(store, "alice").await;
    let long = "x".repeat(256);
    for bad in [
        ExternalIdentity::new("", ISSUER, "s"),
        ExternalIdentity::new("oidc", ISSUER, ""),
        ExternalIdentity::new("oidc", ISSUER, long.as_str()),
        ExternalIdentity::new("oidc", "https://id\n.example.org", "s"),
    ] {
        assert_eq!(
            store.link_identity(alice.id, &bad).await.unwrap_err().kind(),
            ErrorKind::Invalid,
            "{bad:?}"
        );
        let new = NewUser {
            username: "carol".into(),
            ..NewUser::default()
        };
        assert_eq!(
            store.create_user_with_identity(new, &bad).await.unwrap_err().kind(),
            ErrorKind::Invalid
        );
    }
    assert_eq!(store.identities_of(alice.id).await.unwrap(), vec![]);
    assert_eq!(store.user_by_name("carol").await.unwrap(), None);
}

/// A user created with an identity is a whole user (personal namespace) linked to it; a taken
/// name or identity fails with `Conflict` and writes nothing.
pub async fn users_are_created_with_their_identity(store: &dyn PolicyStore) {
    let new = |name: &str| NewUser {
        username: name.into(),
        email: Some(format!("{name}@example.org")),
        ..NewUser::default()
    };
    let carol = store
        .create_user_with_identity(new("carol"), &oidc("s-c"))
        .await
        .unwrap();
    assert!(!carol.admin && carol.password_hash.is_none());
    assert_eq!(carol.email.as_deref(), Some("carol@example.org"));
    assert_eq!(store.user_by_name("carol").await.unwrap(), Some(carol.clone()));
    assert_eq!(store.user_by_identity(&oidc("s-c")).await.unwrap(), Some(carol.clone()));
    let namespace = store
        .namespace(NamespaceRef::Named("carol"))
        .await
        .unwrap()
        .expect("personal namespace");
    assert_eq!(namespace.personal_owner, Some(carol.id));

    // The identity is taken: no user, no namespace.
    assert_eq!(
        store
            .create_user_with_identity(new("dave"), &oidc("s-c"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    assert_eq!(store.user_by_name("dave").await.unwrap(), None);
    assert_eq!(store.namespace(NamespaceRef::Named("dave")).await.unwrap(), None);
    // The name is taken: the identity stays unlinked.
    assert_eq!(
        store
            .create_user_with_identity(new("carol"), &oidc("s-d"))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    assert_eq!(store.user_by_identity(&oidc("s-d")).await.unwrap(), None);
    assert_eq!(store.identities_of(carol.id).await.unwrap(), vec![oidc("s-c")]);
}

/// Two first sign-ins of one identity at once make one user, not two.
pub async fn one_identity_makes_one_user_at_once(store: &dyn PolicyStore) {
    let new = |name: &str| NewUser {
        username: name.into(),
        ..NewUser::default()
    };
    let identity = oidc("s-e");
    let (first, second) = both(
        store.create_user_with_identity(new("erin"), &identity),
        store.create_user_with_identity(new("erin_01"), &identity),
    )
    .await;
    let created = match (first, second) {
        (Ok(user), Err(error)) | (Err(error), Ok(user)) => {
            assert_eq!(error.kind(), ErrorKind::Conflict);
            user
        }
        other => panic!("exactly one must succeed: {other:?}"),
    };
    assert_eq!(
        store.user_by_identity(&oidc("s-e")).await.unwrap(),
        Some(created.clone())
    );
    let users: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(users, vec![created.username]);
}

/// Both futures polled together until both are done (what `tokio::join!` does; this crate
/// does not depend on tokio).
pub(crate) async fn both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    use std::task::Poll;
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    let (mut first, mut second) = (None, None);
    std::future::poll_fn(|cx| {
        if first.is_none()
            && let Poll::Ready(output) = a.as_mut().poll(cx)
        {
            first = Some(output);
        }
        if second.is_none()
            && let Poll::Ready(output) = b.as_mut().poll(cx)
        {
            second = Some(output);
        }
        if first.is_some() && second.is_some() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    (first.expect("polled to the end"), second.expect("polled to the end"))
}

/// Deleting a user unlinks their identities, which can then be linked to someone else.
pub async fn deleting_a_user_unlinks_their_identities(store: &dyn PolicyStore) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    store.link_identity(alice.id, &oidc("s-a")).await.unwrap();
    store.delete_user(alice.id).await.unwrap();
    assert_eq!(store.user_by_identity(&oidc("s-a")).await.unwrap(), None);
    assert_eq!(store.identities_of(alice.id).await.unwrap(), vec![]);
    assert!(store.link_identity(bob.id, &oidc("s-a")).await.unwrap());
    assert_eq!(store.user_by_identity(&oidc("s-a")).await.unwrap(), Some(bob));
}

/// Expands to one `#[tokio::test]` per check of this module, each on a fresh store made by
/// the given async expression; [`policy_store_conformance!`](crate::policy_store_conformance)
/// invokes it with the other roles' macros.
#[macro_export]
macro_rules! identity_store_conformance {
    ($make:expr) => {
        $crate::__conformance_tests!($make; identities;
            identities_are_linked_found_and_unlinked,
            invalid_identities_are_refused,
            users_are_created_with_their_identity,
            one_identity_makes_one_user_at_once,
            deleting_a_user_unlinks_their_identities,
        );
    };
}
