//! The conformance suite every [`PolicyStore`] implementation runs (feature `testing`).
//!
//! Each check is a public async function taking a fresh, empty store. The
//! [`policy_store_conformance!`](crate::policy_store_conformance) macro turns them all into
//! `#[tokio::test]`s, one named test per check:
//!
//! ```ignore
//! portus_core::policy_store_conformance!(async { portus_core::InMemoryStore::new() });
//! ```
//!
//! The other traits have suites of their own, built the same way:
//! [`registry_client`] (run by the in-memory registry and the HTTP client against the real
//! registry) and [`security_backend`] (run by every scanner backend against its fake scanner).
//! [`ScriptedBackend`] is the scanner tests configure instead of writing one.

pub mod registry_client;
mod scripted;
pub mod security_backend;

pub use registry_client::{ImagePusher, fake_digest};
pub use scripted::{ScanHook, Script, ScriptedBackend, finding, image};
pub use security_backend::{ScannerFixture, ScannerState};

use crate::access::authorize_scopes;
use crate::model::{
    ActivityAction, ActivityFilter, EventStatus, ManifestRecord, MissingNamespace, NamespaceId, NamespaceRef,
    NamespaceUpdate, NewActivity, NewNamespace, NewUser, PasswordHash, RepositoryId, Role, ScanRecord, ScanState,
    TagChange, TeamId, TeamUpdate, UserId, Visibility,
};
use crate::policy::{Caller, PolicyConfig};
use crate::prelude::*;
use crate::scope::parse_scopes;
use crate::{ErrorKind, model::User};

/// Creates a user with the given name (no password), panicking on failure.
pub async fn user(store: &dyn PolicyStore, name: &str) -> User {
    store
        .create_user(NewUser {
            username: name.into(),
            ..NewUser::default()
        })
        .await
        .expect("create user")
}

/// The global namespace exists from the start, is public and has no team.
pub async fn global_namespace_exists_and_is_public(store: &dyn PolicyStore) {
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

/// Creating a user creates a private personal namespace owned by a hidden team.
pub async fn create_user_creates_personal_namespace(store: &dyn PolicyStore) {
    let alice = store
        .create_user(NewUser {
            username: "alice".into(),
            email: Some("alice@example.org".into()),
            admin: false,
            password_hash: Some(PasswordHash("$2b$04$hash".into())),
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
pub async fn user_names_are_unique_and_valid(store: &dyn PolicyStore) {
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

/// Users can be found by name and id, and are listed by name.
pub async fn users_are_found_and_listed(store: &dyn PolicyStore) {
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

/// Users can be disabled, re-enabled and made administrators.
pub async fn users_can_be_disabled_and_promoted(store: &dyn PolicyStore) {
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
pub async fn password_change_revokes_refresh_tokens(store: &dyn PolicyStore) {
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

/// Application tokens are found by hash, listed, unique per label and revocable; revoking one
/// revokes the refresh tokens obtained with it.
pub async fn app_tokens_lifecycle(store: &dyn PolicyStore) {
    let u = user(store, "nina").await;
    let other = user(store, "oscar").await;
    let ci = store.create_app_token(u.id, "ci", "hash-ci").await.unwrap();
    let laptop = store.create_app_token(u.id, "laptop", "hash-laptop").await.unwrap();
    store.create_app_token(other.id, "ci", "hash-other").await.unwrap();
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
        store.create_app_token(u.id, "ci", "hash-x").await.unwrap_err().kind(),
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

/// Refresh tokens are bound to user and service and revocable per user.
pub async fn refresh_tokens_lifecycle(store: &dyn PolicyStore) {
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

fn manifest(digest: &str) -> ManifestRecord {
    ManifestRecord {
        digest: digest.into(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: Some(1234),
    }
}

/// Tags are created, moved, left unchanged and deleted; repositories are recorded.
pub async fn tags_are_recorded_moved_and_deleted(store: &dyn PolicyStore) {
    user(store, "alice").await;
    let put = |tag: &'static str, digest: &'static str| async move {
        store
            .put_tag(
                "alice/app",
                tag,
                &manifest(digest),
                Some("alice"),
                MissingNamespace::Ignore,
            )
            .await
            .unwrap()
    };
    assert_eq!(put("1.0", "sha256:aa").await, TagChange::Created);
    assert_eq!(put("1.0", "sha256:aa").await, TagChange::Unchanged);
    assert_eq!(put("latest", "sha256:aa").await, TagChange::Created);
    assert_eq!(put("2.0", "sha256:bb").await, TagChange::Created);
    assert_eq!(
        put("latest", "sha256:bb").await,
        TagChange::Updated {
            previous_digest: "sha256:aa".into()
        }
    );
    store
        .put_tag("app", "1", &manifest("sha256:cc"), None, MissingNamespace::Ignore)
        .await
        .unwrap();
    let one = store.tag("alice/app", "1.0").await.unwrap().expect("tag");
    assert_eq!(store.tag_by_id(one.id).await.unwrap().as_ref(), Some(&one));
    assert_eq!(store.tag_by_id(crate::model::TagId(987_654)).await.unwrap(), None);
    assert_eq!((one.repository.as_str(), one.name.as_str()), ("alice/app", "1.0"));
    assert_eq!(one.manifest, manifest("sha256:aa"));
    assert_eq!(one.pushed_by.as_deref(), Some("alice"));
    let names: Vec<String> = store
        .tags(Some("alice/app"))
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["1.0", "2.0", "latest"]);
    assert_eq!(store.tags(None).await.unwrap().len(), 4);
    assert_eq!(store.repositories().await.unwrap(), ["alice/app", "app"]);
    let gone = store.delete_tags_by_digest("alice/app", "sha256:bb").await.unwrap();
    let mut gone: Vec<String> = gone.into_iter().map(|t| t.name).collect();
    gone.sort();
    assert_eq!(gone, ["2.0", "latest"]);
    assert_eq!(
        store.delete_tag("alice/app", "1.0").await.unwrap().map(|t| t.name),
        Some("1.0".into())
    );
    assert_eq!(store.delete_tag("alice/app", "1.0").await.unwrap(), None);
    assert!(store.tags(Some("alice/app")).await.unwrap().is_empty());
    assert_eq!(
        store.repositories().await.unwrap(),
        ["alice/app", "app"],
        "an empty repository stays, as in the registry"
    );
    assert_eq!(store.delete_repository("app").await.unwrap().len(), 1);
    assert_eq!(store.repositories().await.unwrap(), ["alice/app"]);
}

/// Pushes into a missing namespace create it (private, no team) or are ignored.
pub async fn missing_namespaces_are_created_or_ignored(store: &dyn PolicyStore) {
    let ignored = store
        .put_tag("ghost/app", "1", &manifest("sha256:aa"), None, MissingNamespace::Ignore)
        .await
        .unwrap();
    assert_eq!(ignored, TagChange::NamespaceMissing);
    assert!(
        !store
            .ensure_repository("ghost/app", MissingNamespace::Ignore)
            .await
            .unwrap()
    );
    assert!(store.repositories().await.unwrap().is_empty());
    assert_eq!(store.namespace(NamespaceRef::Named("ghost")).await.unwrap(), None);
    let created = store
        .put_tag("ghost/app", "1", &manifest("sha256:aa"), None, MissingNamespace::Create)
        .await
        .unwrap();
    assert_eq!(created, TagChange::Created);
    let ns = store
        .namespace(NamespaceRef::Named("ghost"))
        .await
        .unwrap()
        .expect("created namespace");
    assert_eq!(
        (ns.visibility, ns.team_id, ns.global),
        (Visibility::Private, None, false)
    );
    assert!(
        store
            .ensure_repository("ghost/other", MissingNamespace::Ignore)
            .await
            .unwrap()
    );
    assert_eq!(store.repositories().await.unwrap(), ["ghost/app", "ghost/other"]);
}

/// Events are stored once per id, listed in arrival order and finished.
pub async fn events_are_idempotent_and_ordered(store: &dyn PolicyStore) {
    let batch = |ids: &[&str]| {
        ids.iter()
            .map(|id| (id.to_string(), format!("{{\"id\":\"{id}\"}}")))
            .collect::<Vec<_>>()
    };
    assert_eq!(store.insert_events(&batch(&["e1", "e2"])).await.unwrap(), 2);
    assert_eq!(store.insert_events(&batch(&["e2", "e3", "e1"])).await.unwrap(), 1);
    let pending = store.pending_events(10).await.unwrap();
    let ids: Vec<&str> = pending.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["e1", "e2", "e3"]);
    assert_eq!(pending[1].payload, "{\"id\":\"e2\"}");
    assert!(pending[0].seq < pending[1].seq && pending[1].seq < pending[2].seq);
    store
        .finish_event(pending[0].seq, EventStatus::Applied, None)
        .await
        .unwrap();
    store
        .finish_event(pending[1].seq, EventStatus::Failed, Some("boom"))
        .await
        .unwrap();
    let ids: Vec<String> = store
        .pending_events(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(ids, ["e3"]);
    assert_eq!(store.pending_events(0).await.unwrap().len(), 0);
    assert_eq!(
        store.insert_events(&batch(&["e1"])).await.unwrap(),
        0,
        "finished events are still known"
    );
}

/// Activities are listed newest first and filtered.
pub async fn activities_are_filtered_newest_first(store: &dyn PolicyStore) {
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

/// Scan records are stored per (digest, backend), replaced on update and listed in order.
pub async fn scan_records_are_kept_per_digest_and_backend(store: &dyn PolicyStore) {
    use crate::traits::{ScanReport, Severity, Vulnerability};
    let now = crate::model::now();
    let record = |digest: &str, backend: &str, state: ScanState| ScanRecord {
        digest: digest.into(),
        backend: backend.into(),
        state,
        report: None,
        error: None,
        attempts: 0,
        updated_at: now,
        next_attempt_at: None,
    };
    store
        .put_scan_record(&record("sha256:b", "dummy", ScanState::Pending))
        .await
        .unwrap();
    store
        .put_scan_record(&record("sha256:a", "clair", ScanState::Pending))
        .await
        .unwrap();
    let report = ScanReport {
        vulnerabilities: vec![Vulnerability {
            id: "CVE-1".into(),
            severity: Severity::High,
            package: Some("openssl".into()),
            package_version: Some("1.0".into()),
            fixed_in: None,
            links: vec!["https://x".into()],
            description: Some("d".into()),
        }],
    };
    let done = ScanRecord {
        report: Some(report),
        ..record("sha256:a", "clair", ScanState::Done)
    };
    store.put_scan_record(&done).await.unwrap();
    let failed = ScanRecord {
        error: Some("connection refused".into()),
        attempts: 3,
        next_attempt_at: Some(now),
        ..record("sha256:a", "dummy", ScanState::Failed)
    };
    store.put_scan_record(&failed).await.unwrap();
    let all = store.scan_records(None).await.unwrap();
    let keys: Vec<(&str, &str, ScanState)> = all
        .iter()
        .map(|r| (r.digest.as_str(), r.backend.as_str(), r.state))
        .collect();
    assert_eq!(
        keys,
        [
            ("sha256:a", "clair", ScanState::Done),
            ("sha256:a", "dummy", ScanState::Failed),
            ("sha256:b", "dummy", ScanState::Pending)
        ]
    );
    let a = store.scan_records(Some("sha256:a")).await.unwrap();
    assert_eq!(a[0], done, "reports round-trip");
    assert_eq!((a[1].attempts, a[1].error.as_deref()), (3, Some("connection refused")));
    assert!(a[1].next_attempt_at.is_some());
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
    let token = store.create_app_token(ann.id, "ci", "hash-ann").await.unwrap();
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

/// Repositories get ids and namespaces; stars are per user, idempotent, counted, and go with
/// the repository.
pub async fn repositories_have_ids_and_stars(store: &dyn PolicyStore) {
    let sam = user(store, "sam").await;
    let tia = user(store, "tia").await;
    store
        .put_tag("sam/app", "1", &manifest("sha256:1"), None, MissingNamespace::Ignore)
        .await
        .unwrap();
    store
        .put_tag("base", "1", &manifest("sha256:2"), None, MissingNamespace::Ignore)
        .await
        .unwrap();
    let repositories = store.list_repositories().await.unwrap();
    let names: Vec<&str> = repositories.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["base", "sam/app"]);
    let global = store.namespace(NamespaceRef::Global).await.unwrap().unwrap();
    assert_eq!(repositories[0].namespace_id, global.id);
    assert_eq!(Some(repositories[1].namespace_id), sam.personal_namespace);
    let app = repositories[1].id;
    store.set_star(sam.id, app, true).await.unwrap();
    store.set_star(sam.id, app, true).await.unwrap();
    store.set_star(tia.id, app, true).await.unwrap();
    assert_eq!(store.repository_by_id(app).await.unwrap().unwrap().stars, 2);
    assert_eq!(store.starred(sam.id).await.unwrap(), vec![app]);
    store.set_star(tia.id, app, false).await.unwrap();
    store.set_star(tia.id, app, false).await.unwrap();
    assert_eq!(store.repository_by_id(app).await.unwrap().unwrap().stars, 1);
    assert_eq!(store.starred(tia.id).await.unwrap(), vec![]);
    assert_eq!(
        store
            .set_star(sam.id, RepositoryId(9999), true)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        store.set_star(UserId(9999), app, true).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    store.delete_repository("sam/app").await.unwrap();
    assert_eq!(store.repository_by_id(app).await.unwrap(), None);
    assert_eq!(store.starred(sam.id).await.unwrap(), vec![]);
}

/// A scan is claimed by one worker only: the claim needs the record the worker saw, and a live
/// lease blocks everyone else until it expires.
pub async fn scans_are_claimed_once(store: &dyn PolicyStore) {
    let now = crate::model::now();
    let lease = now + chrono::Duration::minutes(5);
    assert!(store.claim_scan("sha256:c", "dummy", None, lease).await.unwrap());
    assert!(
        !store.claim_scan("sha256:c", "dummy", None, lease).await.unwrap(),
        "a second worker that saw no record loses"
    );
    let claimed = store.scan_records(Some("sha256:c")).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        (claimed[0].state, claimed[0].next_attempt_at),
        (ScanState::Scanning, Some(lease))
    );
    assert!(
        !store
            .claim_scan("sha256:c", "dummy", Some(claimed[0].updated_at), lease)
            .await
            .unwrap(),
        "a live lease blocks even a worker that saw the current record"
    );
    assert!(
        store.claim_scan("sha256:c", "clair", None, lease).await.unwrap(),
        "per backend"
    );

    let expired = ScanRecord {
        next_attempt_at: Some(now - chrono::Duration::seconds(1)),
        ..claimed[0].clone()
    };
    store.put_scan_record(&expired).await.unwrap();
    let stale = claimed[0].updated_at - chrono::Duration::seconds(10);
    assert!(
        !store.claim_scan("sha256:c", "dummy", Some(stale), lease).await.unwrap(),
        "a worker that saw an older record loses"
    );
    let current = store.scan_records(Some("sha256:c")).await.unwrap();
    let dummy = current.iter().find(|r| r.backend == "dummy").unwrap();
    assert!(
        store
            .claim_scan("sha256:c", "dummy", Some(dummy.updated_at), lease)
            .await
            .unwrap(),
        "an expired lease can be taken over"
    );
    assert!(
        !store
            .claim_scan("sha256:c", "dummy", Some(dummy.updated_at), lease)
            .await
            .unwrap(),
        "but only once"
    );

    // Several backends at once, as a worker claims them.
    let wanted = vec![("a".to_owned(), None), ("b".to_owned(), None)];
    assert_eq!(store.claim_scans("sha256:m", &wanted, lease).await.unwrap(), ["a", "b"]);
    assert!(store.claim_scans("sha256:m", &wanted, lease).await.unwrap().is_empty());
    let mixed = vec![("b".to_owned(), None), ("c".to_owned(), None)];
    assert_eq!(store.claim_scans("sha256:m", &mixed, lease).await.unwrap(), ["c"]);
    let finished: Vec<ScanRecord> = ["a", "b", "c"]
        .into_iter()
        .map(|backend| ScanRecord {
            digest: "sha256:m".into(),
            backend: backend.into(),
            state: ScanState::Done,
            report: None,
            error: None,
            attempts: 0,
            updated_at: now,
            next_attempt_at: None,
        })
        .collect();
    store.put_scan_records(&finished).await.unwrap();
    let stored = store.scan_records(Some("sha256:m")).await.unwrap();
    assert_eq!(stored, finished, "all stored, in backend order");
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

/// Search matches substrings of names case-insensitively, takes `%` and `_` literally, and
/// returns at most `limit` of each kind in name order.
pub async fn names_are_searched_case_insensitively_with_literal_wildcards(store: &dyn PolicyStore) {
    let owner = user(store, "wes").await;
    let team = store.create_team("search", owner.id, None).await.unwrap();
    for name in ["web-app", "web_x", "webxx", "other"] {
        store
            .create_namespace(NewNamespace {
                name: name.into(),
                team_id: team.id,
                visibility: Visibility::Public,
                description: None,
            })
            .await
            .unwrap();
    }
    for (repository, tag) in [
        ("web-app/api", "Release-1"),
        ("web-app/ui", "release-2"),
        ("other/db", "v1"),
    ] {
        store
            .put_tag(repository, tag, &manifest("sha256:s"), None, MissingNamespace::Ignore)
            .await
            .unwrap();
    }
    let hits = store.search_names("WEB", 10).await.unwrap();
    let names: Vec<&str> = hits.namespaces.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["web-app", "web_x", "webxx"]);
    let repositories: Vec<&str> = hits.repositories.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(repositories, ["web-app/api", "web-app/ui"]);
    let literal = store.search_names("b_", 10).await.unwrap();
    let names: Vec<&str> = literal.namespaces.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["web_x"], "'_' is not a wildcard");
    assert!(
        store.search_names("%", 10).await.unwrap().namespaces.is_empty(),
        "'%' is not a wildcard"
    );
    let limited = store.search_names("release", 1).await.unwrap();
    let tags: Vec<&str> = limited.tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(tags, ["Release-1"], "limit, in repository and name order");
}

/// Expands to one `#[tokio::test]` per conformance check, each on a fresh store made by the
/// given async expression.
#[macro_export]
macro_rules! policy_store_conformance {
    ($make:expr) => {
        $crate::policy_store_conformance!(@tests $make;
            global_namespace_exists_and_is_public,
            create_user_creates_personal_namespace,
            personal_names_are_made_unique,
            user_names_are_unique_and_valid,
            users_are_found_and_listed,
            users_can_be_disabled_and_promoted,
            password_change_revokes_refresh_tokens,
            teams_have_owners_and_unique_names,
            team_members_and_roles,
            namespaces_are_unique_and_valid,
            namespace_access_reports_roles,
            namespace_visibility_changes,
            app_tokens_lifecycle,
            refresh_tokens_lifecycle,
            scopes_are_authorized_against_the_store,
            tags_are_recorded_moved_and_deleted,
            missing_namespaces_are_created_or_ignored,
            events_are_idempotent_and_ordered,
            activities_are_filtered_newest_first,
            scan_records_are_kept_per_digest_and_backend,
            users_can_be_updated_locked_and_deleted,
            teams_can_be_listed_updated_and_left,
            namespaces_can_be_listed_and_updated,
            repositories_have_ids_and_stars,
            scans_are_claimed_once,
            namespaces_are_looked_up_together,
            names_are_searched_case_insensitively_with_literal_wildcards,
        );
    };
    (@tests $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let store = $make.await;
                $crate::testing::$check(&store).await;
            }
        )*
    };
}
