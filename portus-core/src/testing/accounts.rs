//! The [`AccountStore`] checks: users, their personal namespaces, application and refresh tokens.

use super::lists::check_pages;
use super::user;
use crate::ErrorKind;
use crate::model::{
    AppTokenSort, NamespaceRef, NewUser, PasswordHash, Role, TokenLimits, TokenScope, UserId, UserSort, Visibility,
};
use crate::prelude::*;

/// Creating a user creates a private personal namespace owned by a hidden team.
pub async fn create_user_creates_personal_namespace(store: &dyn PolicyStore) {
    let alice = store
        .create_user(NewUser {
            username: "alice".into(),
            email: Some("alice@example.org".into()),
            admin: false,
            password_hash: Some(PasswordHash("$2b$04$hash".into())),
            bot: false,
        })
        .await
        .unwrap();
    assert!(alice.enabled);
    assert!(!alice.admin);
    assert_eq!(alice.email.as_deref(), Some("alice@example.org"));
    assert_eq!(alice.password_hash, Some(PasswordHash("$2b$04$hash".into())));
    let ns = store
        .namespace(NamespaceRef::Named("alice"))
        .await
        .unwrap()
        .expect("personal namespace");
    assert_eq!(Some(ns.id), alice.personal_namespace);
    assert_eq!(ns.visibility, Visibility::Private);
    assert_eq!(ns.personal_owner, Some(alice.id));
    assert!(!ns.global);
    let access = store
        .namespace_access(NamespaceRef::Named("alice"), Some(alice.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(access.role, Some(Role::Owner));
    let team = store.team_by_name("alice").await.unwrap().expect("hidden team");
    assert!(team.hidden);
    assert_eq!(Some(team.id), ns.team_id);
}

/// Personal namespace and hidden team names get a numeric suffix when taken.
pub async fn personal_names_are_made_unique(store: &dyn PolicyStore) {
    let upper = user(store, "Alice").await;
    let lower = user(store, "alice").await;
    let upper_ns = store.namespace(NamespaceRef::Named("alice")).await.unwrap().unwrap();
    let lower_ns = store.namespace(NamespaceRef::Named("alice_2")).await.unwrap().unwrap();
    assert_eq!(upper_ns.personal_owner, Some(upper.id));
    assert_eq!(lower_ns.personal_owner, Some(lower.id));
    let owner = user(store, "owner").await;
    store.create_team("carol", owner.id, None).await.unwrap();
    let carol = user(store, "carol").await;
    let hidden = store
        .team_by_name("carol_2")
        .await
        .unwrap()
        .expect("uniquified hidden team");
    assert!(hidden.hidden);
    let access = store
        .namespace_access(NamespaceRef::Named("carol"), Some(carol.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(access.namespace.team_id, Some(hidden.id));
}

/// User names are unique and validated.
pub async fn user_names_are_unique_and_valid(store: &dyn AccountStore) {
    user(store, "bob").await;
    let err = store
        .create_user(NewUser {
            username: "bob".into(),
            ..NewUser::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    for bad in ["", "a:b", "with space"] {
        let err = store
            .create_user(NewUser {
                username: bad.into(),
                ..NewUser::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{bad:?}");
    }
}

/// E-mail addresses are checked, and one belongs to one account (ASCII case aside), at
/// creation, at the first user's creation and when changed.
pub async fn e_mail_addresses_are_valid_and_belong_to_one_account(store: &dyn AccountStore) {
    let with_email = |name: &str, email: &str| NewUser {
        username: name.into(),
        email: Some(email.into()),
        ..NewUser::default()
    };
    let first = store
        .create_first_user(with_email("ann", "Ann@Example.org"))
        .await
        .unwrap();
    let ann = first.expect("the first user");
    for (name, email, kind) in [
        ("bob", "ann@example.ORG", ErrorKind::Conflict),
        ("bob", "not an address", ErrorKind::Invalid),
        ("bob", "bob@example.org\r\nBcc: eve@example.org", ErrorKind::Invalid),
    ] {
        let err = store.create_user(with_email(name, email)).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{email:?}");
    }
    assert!(store.user_by_name("bob").await.unwrap().is_none(), "nothing written");
    let bob = store.create_user(with_email("bob", "bob@example.org")).await.unwrap();
    let err = store
        .set_user_email(bob.id, Some("ANN@example.org".into()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    let err = store.set_user_email(bob.id, Some("bob@".into())).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(
        store.require_user_by_id(bob.id).await.unwrap().email.as_deref(),
        Some("bob@example.org")
    );
    store
        .set_user_email(ann.id, Some("ann@example.org".into()))
        .await
        .unwrap();
    store.set_user_email(ann.id, None).await.unwrap();
    store
        .set_user_email(bob.id, Some("Ann@Example.org".into()))
        .await
        .unwrap();
}

/// A bot has no personal namespace and no password, and is no administrator.
pub async fn bots_have_no_namespace_password_or_admin_rights(store: &dyn AccountStore) {
    let bot = store
        .create_user(NewUser {
            username: "ci-bot".into(),
            bot: true,
            ..NewUser::default()
        })
        .await
        .unwrap();
    assert!(bot.bot);
    assert_eq!(bot.personal_namespace, None);
    assert_eq!(store.user_by_name("ci-bot").await.unwrap(), Some(bot));
    for refused in [
        NewUser {
            username: "pw-bot".into(),
            bot: true,
            password_hash: Some(PasswordHash("$2b$04$x".into())),
            ..NewUser::default()
        },
        NewUser {
            username: "admin-bot".into(),
            bot: true,
            admin: true,
            ..NewUser::default()
        },
    ] {
        let name = refused.username.clone();
        assert_eq!(store.create_user(refused).await.unwrap_err().kind(), ErrorKind::Rule);
        assert_eq!(store.user_by_name(&name).await.unwrap(), None);
    }
}

/// The first user is created once: by the first of two racing callers, never after any user
/// exists, and never twice.
pub async fn the_first_user_is_created_once(store: &dyn AccountStore) {
    let new = |name: &str| NewUser {
        username: name.into(),
        admin: true,
        ..NewUser::default()
    };
    let (first, second) = super::identities::both(
        store.create_first_user(new("root")),
        store.create_first_user(new("boss")),
    )
    .await;
    let created = match (first.unwrap(), second.unwrap()) {
        (Some(user), None) | (None, Some(user)) => user,
        other => panic!("exactly one first user: {other:?}"),
    };
    assert!(created.admin);
    assert_eq!(
        store.user_by_name(&created.username).await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(store.create_first_user(new("late")).await.unwrap(), None);
    assert_eq!(store.user_by_name("late").await.unwrap(), None);
    let names: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, vec![created.username]);
}

/// Users can be found by name and id, and are listed by name.
pub async fn users_are_found_and_listed(store: &dyn AccountStore) {
    let zed = user(store, "zed").await;
    let amy = user(store, "amy").await;
    assert_eq!(store.user_by_name("zed").await.unwrap(), Some(zed.clone()));
    assert_eq!(store.user_by_id(amy.id).await.unwrap(), Some(amy.clone()));
    assert_eq!(store.user_by_name("nobody").await.unwrap(), None);
    let names: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["amy", "zed"]);
}

/// Users are paged by name, id and creation time, both ways, with their number.
pub async fn users_are_paged_in_every_order(store: &dyn AccountStore) {
    let mut created = Vec::new();
    for name in ["carol", "alice", "dave", "bob"] {
        created.push(user(store, name).await.username);
    }
    let by_name = ["alice", "bob", "carol", "dave"].map(String::from);
    for (sort, expected) in [
        (UserSort::Username, by_name.to_vec()),
        (UserSort::Id, created.clone()),
        (UserSort::CreatedAt, created.clone()),
    ] {
        check_pages(
            &format!("users by {sort:?}"),
            sort,
            &expected,
            |u: &crate::model::User| u.username.clone(),
            |query| async move { store.users_page(&query).await.unwrap() },
        )
        .await;
    }
}

/// A user's application tokens are paged by id, label and creation time, both ways, without
/// anyone else's.
pub async fn app_tokens_are_paged_per_user(store: &dyn AccountStore) {
    let u = user(store, "nina").await;
    let other = user(store, "oscar").await;
    for label in ["laptop", "ci", "phone"] {
        store
            .create_app_token(u.id, label, &format!("hash-{label}"), &Default::default())
            .await
            .unwrap();
    }
    store
        .create_app_token(other.id, "build", "hash-other", &Default::default())
        .await
        .unwrap();
    let created = ["laptop", "ci", "phone"].map(String::from);
    for (sort, expected) in [
        (AppTokenSort::Id, created.to_vec()),
        (
            AppTokenSort::Label,
            ["ci", "laptop", "phone"].map(String::from).to_vec(),
        ),
        (AppTokenSort::CreatedAt, created.to_vec()),
    ] {
        check_pages(
            &format!("tokens by {sort:?}"),
            sort,
            &expected,
            |t: &crate::model::AppToken| t.label.clone(),
            |query| async move { store.app_tokens_page(u.id, &query).await.unwrap() },
        )
        .await;
    }
    let none = store
        .app_tokens_page(UserId(987_654), &crate::model::ListQuery::default())
        .await
        .unwrap();
    assert_eq!((none.items.len(), none.total), (0, 0));
}

/// Users can be disabled, re-enabled and made administrators.
pub async fn users_can_be_disabled_and_promoted(store: &dyn AccountStore) {
    let u = user(store, "dave").await;
    store.set_user_enabled(u.id, false).await.unwrap();
    assert!(!store.user_by_id(u.id).await.unwrap().unwrap().enabled);
    store.set_user_enabled(u.id, true).await.unwrap();
    assert!(store.user_by_id(u.id).await.unwrap().unwrap().enabled);
    store.set_user_admin(u.id, true).await.unwrap();
    assert!(store.user_by_id(u.id).await.unwrap().unwrap().admin);
    let err = store
        .set_user_enabled(crate::model::UserId(987_654), false)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

/// Changing the password replaces the hash and revokes refresh tokens.
pub async fn password_change_revokes_refresh_tokens(store: &dyn AccountStore) {
    let u = user(store, "erin").await;
    store
        .create_refresh_token(u.id, "registry", None, "rt-hash")
        .await
        .unwrap();
    store
        .set_password_hash(u.id, Some(PasswordHash("$2b$04$new".into())))
        .await
        .unwrap();
    assert_eq!(
        store.user_by_id(u.id).await.unwrap().unwrap().password_hash,
        Some(PasswordHash("$2b$04$new".into()))
    );
    assert_eq!(store.refresh_token_by_hash("rt-hash").await.unwrap(), None);
}

/// Application tokens are found by hash, listed, unique per label and revocable; revoking one
/// revokes the refresh tokens obtained with it.
pub async fn app_tokens_lifecycle(store: &dyn AccountStore) {
    let u = user(store, "nina").await;
    let other = user(store, "oscar").await;
    let ci = store
        .create_app_token(u.id, "ci", "hash-ci", &Default::default())
        .await
        .unwrap();
    let laptop = store
        .create_app_token(u.id, "laptop", "hash-laptop", &Default::default())
        .await
        .unwrap();
    store
        .create_app_token(other.id, "ci", "hash-other", &Default::default())
        .await
        .unwrap();
    assert_eq!(store.app_token_by_hash("hash-ci").await.unwrap(), Some(ci.clone()));
    assert_eq!(store.app_token_by_hash("unknown").await.unwrap(), None);
    let labels: Vec<String> = store
        .list_app_tokens(u.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.label)
        .collect();
    assert_eq!(labels, ["ci", "laptop"]);
    assert_eq!(
        store
            .create_app_token(u.id, "ci", "hash-x", &Default::default())
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    store
        .create_refresh_token(u.id, "registry", Some(ci.id), "rt-ci")
        .await
        .unwrap();
    store
        .create_refresh_token(u.id, "registry", Some(laptop.id), "rt-laptop")
        .await
        .unwrap();
    store.revoke_app_token(ci.id).await.unwrap();
    assert_eq!(store.app_token_by_hash("hash-ci").await.unwrap(), None);
    assert_eq!(store.refresh_token_by_hash("rt-ci").await.unwrap(), None);
    assert!(store.refresh_token_by_hash("rt-laptop").await.unwrap().is_some());
    assert_eq!(
        store.revoke_app_token(ci.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

/// A token's expiry and scope are kept as given (the expiry to the store's precision), its
/// last use is recorded, and tokens without limits have none.
pub async fn app_tokens_keep_their_limits_and_last_use(store: &dyn AccountStore) {
    let u = user(store, "rita").await;
    let expires_at = crate::model::now() + chrono::Duration::days(30);
    let limits = TokenLimits {
        expires_at: Some(expires_at),
        scope: Some(TokenScope::parse(&["devs/*:pull", "devs/app:push,pull"]).unwrap()),
    };
    let ci = store.create_app_token(u.id, "ci", "hash-ci", &limits).await.unwrap();
    let plain = store
        .create_app_token(u.id, "plain", "hash-plain", &TokenLimits::default())
        .await
        .unwrap();
    let found = store.app_token_by_hash("hash-ci").await.unwrap().unwrap();
    assert_eq!(found, ci);
    assert_eq!(
        found.limits.expires_at,
        Some(crate::model::at_store_precision(expires_at))
    );
    assert_eq!(
        found.limits.scope.as_ref().unwrap().rules(),
        ["devs/*:pull", "devs/app:pull,push"]
    );
    assert_eq!(found.last_used_at, None);
    assert_eq!(
        store.app_token_by_hash("hash-plain").await.unwrap().unwrap().limits,
        TokenLimits::default()
    );
    let used = crate::model::now();
    store.touch_app_token(plain.id, used).await.unwrap();
    let listed = store.list_app_tokens(u.id).await.unwrap();
    assert_eq!(listed[0], ci, "listed with its limits");
    assert_eq!(listed[1].last_used_at, Some(crate::model::at_store_precision(used)));
    assert_eq!(
        store
            .touch_app_token(crate::model::AppTokenId(999_999), used)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

/// Refresh tokens are bound to user and service and revocable per user.
pub async fn refresh_tokens_lifecycle(store: &dyn AccountStore) {
    let u = user(store, "paul").await;
    let v = user(store, "quinn").await;
    let token = store
        .create_refresh_token(u.id, "registry.local", None, "rt-1")
        .await
        .unwrap();
    store
        .create_refresh_token(u.id, "registry.local", None, "rt-2")
        .await
        .unwrap();
    store
        .create_refresh_token(v.id, "registry.local", None, "rt-3")
        .await
        .unwrap();
    let found = store.refresh_token_by_hash("rt-1").await.unwrap().unwrap();
    assert_eq!(found, token);
    assert_eq!(
        (found.user_id, found.service.as_str(), found.app_token_id),
        (u.id, "registry.local", None)
    );
    assert_eq!(store.revoke_refresh_tokens(u.id).await.unwrap(), 2);
    assert_eq!(store.refresh_token_by_hash("rt-2").await.unwrap(), None);
    assert!(store.refresh_token_by_hash("rt-3").await.unwrap().is_some());
}

/// Users' e-mail can change; failed logins are counted and reset by unlocking; a deleted user
/// loses memberships and credentials while their personal namespace stays, without owner.
pub async fn users_can_be_updated_locked_and_deleted(store: &dyn PolicyStore) {
    let ann = user(store, "ann").await;
    store
        .set_user_email(ann.id, Some("ann@example.org".into()))
        .await
        .unwrap();
    assert_eq!(
        store.user_by_id(ann.id).await.unwrap().unwrap().email.as_deref(),
        Some("ann@example.org")
    );
    assert_eq!(store.record_login_failure(ann.id).await.unwrap(), 1);
    assert_eq!(store.record_login_failure(ann.id).await.unwrap(), 2);
    let until = crate::model::now() + chrono::Duration::minutes(5);
    store.set_user_lock(ann.id, Some(until)).await.unwrap();
    let locked = store.user_by_id(ann.id).await.unwrap().unwrap();
    assert_eq!((locked.failed_logins, locked.locked_until), (2, Some(until)));
    assert!(locked.is_locked(crate::model::now()));
    store.set_user_lock(ann.id, None).await.unwrap();
    let unlocked = store.user_by_id(ann.id).await.unwrap().unwrap();
    assert_eq!((unlocked.failed_logins, unlocked.locked_until), (0, None));

    let team_owner = user(store, "tom").await;
    let team = store.create_team("crew", team_owner.id, None).await.unwrap();
    store.set_team_member(team.id, ann.id, Role::Viewer).await.unwrap();
    let token = store
        .create_app_token(ann.id, "ci", "hash-ann", &Default::default())
        .await
        .unwrap();
    store
        .create_refresh_token(ann.id, "registry", Some(token.id), "r-ann")
        .await
        .unwrap();
    let personal = ann.personal_namespace.expect("personal namespace");
    store.delete_user(ann.id).await.unwrap();
    assert_eq!(store.user_by_name("ann").await.unwrap(), None);
    assert_eq!(store.app_token_by_hash("hash-ann").await.unwrap(), None);
    assert_eq!(store.refresh_token_by_hash("r-ann").await.unwrap(), None);
    assert_eq!(store.memberships(ann.id).await.unwrap(), vec![]);
    let members: Vec<String> = store
        .team_members(team.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.username)
        .collect();
    assert_eq!(members, ["tom"]);
    let orphan = store.namespace_by_id(personal).await.unwrap().expect("namespace kept");
    assert_eq!(orphan.personal_owner, None);
    for missing in [
        store.delete_user(ann.id).await,
        store.set_user_email(UserId(9999), None).await,
        store.set_user_lock(UserId(9999), None).await,
    ] {
        assert_eq!(missing.unwrap_err().kind(), ErrorKind::NotFound);
    }
    assert_eq!(
        store.record_login_failure(UserId(9999)).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

/// Expands to one `#[tokio::test]` per check of this module, each on a fresh store made by
/// the given async expression; [`policy_store_conformance!`](crate::policy_store_conformance)
/// invokes it with the other roles' macros.
#[macro_export]
macro_rules! account_store_conformance {
    ($make:expr) => {
        $crate::__conformance_tests!($make; accounts;
            create_user_creates_personal_namespace,
            personal_names_are_made_unique,
            user_names_are_unique_and_valid,
            e_mail_addresses_are_valid_and_belong_to_one_account,
            the_first_user_is_created_once,
            bots_have_no_namespace_password_or_admin_rights,
            users_are_found_and_listed,
            users_are_paged_in_every_order,
            users_can_be_disabled_and_promoted,
            password_change_revokes_refresh_tokens,
            app_tokens_lifecycle,
            app_tokens_keep_their_limits_and_last_use,
            app_tokens_are_paged_per_user,
            refresh_tokens_lifecycle,
            users_can_be_updated_locked_and_deleted,
        );
    };
}
