//! The [`ProfileStore`] checks: display names, accounts by e-mail, password-reset tokens; and
//! the reset rules of [`ops::profiles`](crate::ops::profiles) over a whole store.
//!
//! [`ProfileStore`]: crate::traits::ProfileStore

use chrono::TimeDelta;

use super::user;
use crate::ErrorKind;
use crate::model::{NewUser, PasswordHash, UserId, now};
use crate::ops::profiles::{PASSWORD_RESET_LIFETIME, request_password_reset, reset_password};
use crate::prelude::*;

async fn person(store: &dyn PolicyStore, name: &str, email: &str) -> crate::model::User {
    store
        .create_user(NewUser {
            username: name.into(),
            email: Some(email.into()),
            password_hash: Some(PasswordHash(format!("$2b$04$old-{name}"))),
            ..NewUser::default()
        })
        .await
        .unwrap()
}

/// Users are found by e-mail whatever its ASCII case. (An address belongs to one account
/// since the stores refuse a taken one; data imported from before may still share one, hence
/// the list.)
pub async fn users_are_found_by_email(store: &dyn PolicyStore) {
    let alice = person(store, "alice", "Alice@Example.org").await;
    let bob = person(store, "bob", "bob@example.org").await;
    person(store, "twin", "alice+twin@example.ORG").await;
    user(store, "nomail").await;
    let ids = |users: Vec<crate::model::User>| users.into_iter().map(|u| u.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.users_by_email("alice@example.org").await.unwrap()),
        vec![alice.id]
    );
    assert_eq!(
        ids(store.users_by_email("BOB@EXAMPLE.ORG").await.unwrap()),
        vec![bob.id]
    );
    assert_eq!(ids(store.users_by_email("carol@example.org").await.unwrap()), vec![]);
    assert_eq!(
        ids(store.users_by_email("").await.unwrap()),
        vec![],
        "no e-mail is no match"
    );
    assert_eq!(
        ids(store.users_by_email("%").await.unwrap()),
        vec![],
        "no pattern matching"
    );
}

/// Display names are set, changed and removed, unique among users.
pub async fn display_names_are_set_and_unique(store: &dyn PolicyStore) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    store
        .set_user_display_name(alice.id, Some("Alice A.".into()))
        .await
        .unwrap();
    let read = store.user_by_id(alice.id).await.unwrap().unwrap();
    assert_eq!(read.display_name.as_deref(), Some("Alice A."));
    assert_eq!(
        store
            .set_user_display_name(bob.id, Some("Alice A.".into()))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict,
        "two users never show the same name"
    );
    store.set_user_display_name(bob.id, None).await.unwrap();
    store.set_user_display_name(alice.id, None).await.unwrap();
    store
        .set_user_display_name(bob.id, Some("Alice A.".into()))
        .await
        .unwrap();
    assert_eq!(store.user_by_id(alice.id).await.unwrap().unwrap().display_name, None);
    assert_eq!(
        store
            .set_user_display_name(UserId(9999), Some("x".into()))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

/// A reset token is found by its hash only, works once, and is gone with a newer token of the
/// same user, with its expiry or with its user.
pub async fn reset_tokens_are_taken_once_by_hash(store: &dyn PolicyStore) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let t = now();
    let later = t + TimeDelta::hours(6);
    store.put_password_reset(alice.id, "sha256:a1", later).await.unwrap();
    store.put_password_reset(bob.id, "sha256:b1", later).await.unwrap();
    assert_eq!(
        store.take_password_reset("a1", t).await.unwrap(),
        None,
        "the hash, not a part of it"
    );
    assert_eq!(store.take_password_reset("sha256:a1", t).await.unwrap(), Some(alice.id));
    assert_eq!(
        store.take_password_reset("sha256:a1", t).await.unwrap(),
        None,
        "used up"
    );

    // A newer token replaces the older one.
    store.put_password_reset(alice.id, "sha256:a2", later).await.unwrap();
    store.put_password_reset(alice.id, "sha256:a3", later).await.unwrap();
    assert_eq!(
        store.take_password_reset("sha256:a2", t).await.unwrap(),
        None,
        "replaced"
    );
    assert_eq!(store.take_password_reset("sha256:a3", t).await.unwrap(), Some(alice.id));

    // An expired token answers nothing, and is gone.
    store.put_password_reset(alice.id, "sha256:a4", t).await.unwrap();
    assert_eq!(
        store.take_password_reset("sha256:a4", t).await.unwrap(),
        None,
        "expired at its time"
    );
    assert_eq!(
        store
            .take_password_reset("sha256:a4", t - TimeDelta::hours(1))
            .await
            .unwrap(),
        None,
        "gone"
    );

    // Deleting a user deletes their token.
    store.delete_user(bob.id).await.unwrap();
    assert_eq!(store.take_password_reset("sha256:b1", t).await.unwrap(), None);
    assert_eq!(
        store
            .put_password_reset(bob.id, "sha256:b2", later)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

/// The reset rules end to end on the store: a token lives six hours, sets the password once
/// (revoking refresh tokens), leaves a lockout as it is, and is never issued to bots, disabled
/// users or users without a local password.
pub async fn passwords_are_reset_once_within_six_hours(store: &dyn PolicyStore) {
    let alice = person(store, "alice", "alice@example.org").await;
    let t = now();
    assert!(request_password_reset(store, &alice, "sha256:r1", t).await.unwrap());
    store
        .create_refresh_token(alice.id, "registry", None, "sha256:refresh")
        .await
        .unwrap();
    let lock = t + TimeDelta::hours(1);
    store.set_user_lock(alice.id, Some(lock)).await.unwrap();
    let new = PasswordHash("$2b$04$new".into());
    let reset = reset_password(store, "sha256:r1", new.clone(), t + TimeDelta::hours(5))
        .await
        .unwrap()
        .expect("a live token resets the password");
    assert_eq!(reset.password_hash, Some(new.clone()));
    assert!(reset.locked_until.is_some(), "a reset unlocks nothing");
    assert_eq!(store.refresh_token_by_hash("sha256:refresh").await.unwrap(), None);
    let again = PasswordHash("$2b$04$again".into());
    assert_eq!(
        reset_password(store, "sha256:r1", again.clone(), t).await.unwrap(),
        None,
        "once"
    );

    // Expired after six hours.
    assert!(request_password_reset(store, &alice, "sha256:r2", t).await.unwrap());
    let late = t + PASSWORD_RESET_LIFETIME + TimeDelta::seconds(1);
    assert_eq!(
        reset_password(store, "sha256:r2", again.clone(), late).await.unwrap(),
        None
    );
    let read = store.user_by_id(alice.id).await.unwrap().unwrap();
    assert_eq!(read.password_hash, Some(new), "nothing changed");

    // Nobody without a local password, no bot, no disabled user gets a token.
    let ldap = user(store, "ldap-user").await;
    assert!(!request_password_reset(store, &ldap, "sha256:l", t).await.unwrap());
    let bot = store
        .create_user(NewUser {
            username: "ci".into(),
            bot: true,
            ..NewUser::default()
        })
        .await
        .unwrap();
    assert!(!request_password_reset(store, &bot, "sha256:c", t).await.unwrap());
    let carol = person(store, "carol", "carol@example.org").await;
    assert!(request_password_reset(store, &carol, "sha256:k", t).await.unwrap());
    store.set_user_enabled(carol.id, false).await.unwrap();
    let disabled = store.user_by_id(carol.id).await.unwrap().unwrap();
    assert!(!request_password_reset(store, &disabled, "sha256:k2", t).await.unwrap());
    assert_eq!(
        reset_password(store, "sha256:k", again, t).await.unwrap(),
        None,
        "a token issued before the account was disabled does not work"
    );
    for hash in ["sha256:l", "sha256:c", "sha256:k2"] {
        assert_eq!(
            store.take_password_reset(hash, t).await.unwrap(),
            None,
            "{hash} was not stored"
        );
    }
}

/// Expands to one `#[tokio::test]` per check of this module, each on a fresh store made by
/// the given async expression; [`policy_store_conformance!`](crate::policy_store_conformance)
/// invokes it with the other roles' macros.
#[macro_export]
macro_rules! profile_store_conformance {
    ($make:expr) => {
        $crate::__conformance_tests!($make; profiles;
            users_are_found_by_email,
            display_names_are_set_and_unique,
            reset_tokens_are_taken_once_by_hash,
            passwords_are_reset_once_within_six_hours,
        );
    };
}
