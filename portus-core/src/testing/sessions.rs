//! The [`SessionStore`] checks: web sessions by the hash of their identifier (started, used,
//! extended, ended one by one or all of a user's, expired, purged) and sign-in attempts taken
//! once; and that the account operations end a user's sessions.
//!
//! [`SessionStore`]: crate::traits::SessionStore

use chrono::TimeDelta;

use super::user;
use crate::ErrorKind;
use crate::model::{PasswordHash, UserId, WebSession, now};
use crate::prelude::*;

const MINUTE: TimeDelta = TimeDelta::minutes(1);

fn session(user: UserId, expires_in: TimeDelta) -> WebSession {
    WebSession {
        user_id: user,
        password_fingerprint: Some("fp".into()),
        expires_at: crate::model::at_store_precision(now() + expires_in),
    }
}

/// A session is found by its hash only, as it was stored, until it is ended.
pub async fn sessions_are_found_by_hash_until_ended(store: &dyn PolicyStore) {
    let alice = user(store, "alice").await;
    let t = now();
    let started = session(alice.id, TimeDelta::hours(1));
    store.start_session("sha256:s1", &started).await.unwrap();
    let later = started.expires_at + TimeDelta::seconds(1);
    assert_eq!(
        store.touch_session("sha256:s1", t, later, MINUTE).await.unwrap(),
        Some(started.clone()),
        "found, and not rewritten for a step under the minimum"
    );
    assert_eq!(store.touch_session("s1", t, later, MINUTE).await.unwrap(), None);
    assert_eq!(
        store.start_session("sha256:s1", &started).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    assert_eq!(
        store
            .start_session("sha256:x", &session(UserId(9999), MINUTE))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound,
        "no session of an unknown user"
    );
    let no_password = WebSession {
        password_fingerprint: None,
        ..started.clone()
    };
    store.start_session("sha256:s2", &no_password).await.unwrap();
    assert_eq!(
        store.touch_session("sha256:s2", t, later, MINUTE).await.unwrap(),
        Some(no_password)
    );
    store.end_session("sha256:s1").await.unwrap();
    store.end_session("sha256:s1").await.unwrap();
    assert_eq!(store.touch_session("sha256:s1", t, later, MINUTE).await.unwrap(), None);
    assert!(
        store
            .touch_session("sha256:s2", t, later, MINUTE)
            .await
            .unwrap()
            .is_some()
    );
}

/// Each use may push a session's expiry back; an expired session is never answered.
pub async fn sessions_are_extended_by_use_and_expire(store: &dyn PolicyStore) {
    let alice = user(store, "alice").await;
    let t = now();
    let started = session(alice.id, TimeDelta::minutes(10));
    store.start_session("sha256:s", &started).await.unwrap();
    let extended = crate::model::at_store_precision(t + TimeDelta::hours(8));
    let used = store
        .touch_session("sha256:s", t, extended, MINUTE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(used.expires_at, extended);
    let read = store
        .touch_session("sha256:s", t, extended, MINUTE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.expires_at, extended, "the extension was stored");
    assert_eq!(
        store
            .touch_session("sha256:s", extended, extended + TimeDelta::hours(1), MINUTE)
            .await
            .unwrap(),
        None,
        "expired at its expiry, however late the extension asked"
    );
    assert_eq!(
        store
            .touch_session("sha256:s", extended - TimeDelta::seconds(1), extended, MINUTE)
            .await
            .unwrap()
            .map(|s| s.expires_at),
        Some(extended),
        "live just before"
    );
}

/// Ending a user's sessions ends all of theirs and no one else's; deleting a user ends theirs.
pub async fn a_users_sessions_end_together(store: &dyn PolicyStore) {
    let alice = user(store, "alice").await;
    let bob = user(store, "bob").await;
    let t = now();
    let later = t + TimeDelta::hours(1);
    for (hash, who) in [("a1", alice.id), ("a2", alice.id), ("b1", bob.id)] {
        store
            .start_session(hash, &session(who, TimeDelta::hours(1)))
            .await
            .unwrap();
    }
    assert_eq!(store.end_user_sessions(alice.id).await.unwrap(), 2);
    assert_eq!(store.end_user_sessions(alice.id).await.unwrap(), 0);
    for hash in ["a1", "a2"] {
        assert_eq!(store.touch_session(hash, t, later, MINUTE).await.unwrap(), None);
    }
    assert!(store.touch_session("b1", t, later, MINUTE).await.unwrap().is_some());
    store.delete_user(bob.id).await.unwrap();
    assert_eq!(
        store.touch_session("b1", t, later, MINUTE).await.unwrap(),
        None,
        "gone with the user"
    );
}

/// Disabling a user or changing their password (the operations every adapter calls) ends
/// their sessions; enabling does not bring them back.
pub async fn disabling_or_a_new_password_ends_the_sessions(store: &dyn PolicyStore) {
    let alice = user(store, "alice").await;
    let t = now();
    let later = t + TimeDelta::hours(1);
    store
        .start_session("a1", &session(alice.id, TimeDelta::hours(1)))
        .await
        .unwrap();
    crate::ops::users::set_enabled(store, None, &alice, false)
        .await
        .unwrap();
    assert_eq!(store.touch_session("a1", t, later, MINUTE).await.unwrap(), None);
    crate::ops::users::set_enabled(store, None, &alice, true).await.unwrap();
    assert_eq!(store.touch_session("a1", t, later, MINUTE).await.unwrap(), None);
    store
        .start_session("a2", &session(alice.id, TimeDelta::hours(1)))
        .await
        .unwrap();
    crate::ops::users::set_password(store, None, &alice, Some(PasswordHash("$2b$04$new".into())))
        .await
        .unwrap();
    assert_eq!(store.touch_session("a2", t, later, MINUTE).await.unwrap(), None);
}

/// A sign-in attempt is found by its hash only, taken once, and never after its expiry.
pub async fn sign_in_attempts_are_taken_once(store: &dyn PolicyStore) {
    let t = now();
    store
        .put_sign_in_attempt("sha256:a", "{\"pending\":1}", t + TimeDelta::minutes(10))
        .await
        .unwrap();
    assert_eq!(
        store
            .put_sign_in_attempt("sha256:a", "other", t + MINUTE)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    assert_eq!(store.take_sign_in_attempt("a", t).await.unwrap(), None);
    assert_eq!(
        store.take_sign_in_attempt("sha256:a", t).await.unwrap().as_deref(),
        Some("{\"pending\":1}")
    );
    assert_eq!(
        store.take_sign_in_attempt("sha256:a", t).await.unwrap(),
        None,
        "taken once"
    );
    store.put_sign_in_attempt("sha256:old", "v", t + MINUTE).await.unwrap();
    assert_eq!(
        store
            .take_sign_in_attempt("sha256:old", t + TimeDelta::minutes(2))
            .await
            .unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        store.take_sign_in_attempt("sha256:old", t).await.unwrap(),
        None,
        "an expired attempt is used up too"
    );
}

/// Purging deletes what expired, sessions and attempts, and nothing live.
pub async fn expired_sessions_and_attempts_are_purged(store: &dyn PolicyStore) {
    let alice = user(store, "alice").await;
    let t = now();
    store.start_session("old", &session(alice.id, MINUTE)).await.unwrap();
    store
        .start_session("live", &session(alice.id, TimeDelta::hours(1)))
        .await
        .unwrap();
    store.put_sign_in_attempt("old", "v", t + MINUTE).await.unwrap();
    store
        .put_sign_in_attempt("live", "v", t + TimeDelta::hours(1))
        .await
        .unwrap();
    let at = t + TimeDelta::minutes(5);
    assert_eq!(store.purge_expired_sessions(at).await.unwrap(), 2);
    assert_eq!(store.purge_expired_sessions(at).await.unwrap(), 0);
    let later = t + TimeDelta::hours(2);
    assert!(store.touch_session("live", t, later, MINUTE).await.unwrap().is_some());
    assert_eq!(
        store.take_sign_in_attempt("live", t).await.unwrap().as_deref(),
        Some("v")
    );
    // What was purged is gone even for a caller that still thinks it live.
    assert_eq!(store.touch_session("old", t, later, MINUTE).await.unwrap(), None);
}

/// Expands to one `#[tokio::test]` per check of this module, each on a fresh store made by
/// the given async expression; [`policy_store_conformance!`](crate::policy_store_conformance)
/// invokes it with the other roles' macros.
#[macro_export]
macro_rules! session_store_conformance {
    ($make:expr) => {
        $crate::__conformance_tests!($make; sessions;
            sessions_are_found_by_hash_until_ended,
            sessions_are_extended_by_use_and_expire,
            a_users_sessions_end_together,
            disabling_or_a_new_password_ends_the_sessions,
            sign_in_attempts_are_taken_once,
            expired_sessions_and_attempts_are_purged,
        );
    };
}
