//! The operations' invariants and their one activity each, on the in-memory store (every store
//! runs the same trait suite, so the rules hold on each).

use super::*;
use crate::ErrorKind;
use crate::InMemoryStore;
use crate::model::{ActivityFilter, NewNamespace, NewUser, Role, Team, User, Visibility};
use crate::prelude::*;
use teams::{DirectoryMembership, MembershipSync};

/// No limits on a token.
const NONE: crate::model::TokenLimits = crate::model::TokenLimits {
    expires_at: None,
    scope: None,
};

async fn person(store: &InMemoryStore, name: &str, admin: bool) -> User {
    users::create(
        store,
        None,
        NewUser {
            username: name.into(),
            admin,
            ..NewUser::default()
        },
    )
    .await
    .unwrap()
}

async fn actions(store: &InMemoryStore) -> Vec<String> {
    let mut actions: Vec<String> = store
        .activities(&ActivityFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect();
    actions.reverse();
    actions
}

async fn role_of(store: &InMemoryStore, team: &Team, user: &User) -> Option<Role> {
    store.role_in(team.id, user.id).await.unwrap()
}

async fn team_of(store: &InMemoryStore, owner: &User) -> Team {
    teams::create(store, Some("test"), "devs", owner, None).await.unwrap()
}

#[tokio::test]
async fn administrators_join_as_owners_whatever_role_is_asked() {
    let store = InMemoryStore::new();
    let owner = person(&store, "owner", false).await;
    let admin = person(&store, "root", true).await;
    let team = team_of(&store, &owner).await;
    let given = teams::add_member(&store, None, &team, &admin, Role::Viewer)
        .await
        .unwrap();
    assert_eq!(
        (given, role_of(&store, &team, &admin).await),
        (Role::Owner, Some(Role::Owner))
    );
    let err = teams::add_member(&store, None, &team, &admin, Role::Viewer)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
}

#[tokio::test]
async fn a_directory_mapping_raises_roles_never_lowers_and_makes_administrators_owners() {
    let store = InMemoryStore::new();
    let owner = person(&store, "owner", false).await;
    let bob = person(&store, "bob", false).await;
    let admin = person(&store, "root", true).await;
    let team = team_of(&store, &owner).await;
    assert!(
        teams::grant_at_least(&store, Some("ldap"), &team, &bob, Role::Contributor)
            .await
            .unwrap()
    );
    assert!(
        !teams::grant_at_least(&store, Some("ldap"), &team, &bob, Role::Viewer)
            .await
            .unwrap()
    );
    assert_eq!(role_of(&store, &team, &bob).await, Some(Role::Contributor));
    assert!(
        teams::grant_at_least(&store, Some("ldap"), &team, &bob, Role::Owner)
            .await
            .unwrap()
    );
    assert_eq!(role_of(&store, &team, &bob).await, Some(Role::Owner));
    assert!(
        teams::grant_at_least(&store, Some("ldap"), &team, &admin, Role::Viewer)
            .await
            .unwrap()
    );
    assert_eq!(role_of(&store, &team, &admin).await, Some(Role::Owner));
}

#[tokio::test]
async fn a_new_administrator_becomes_owner_of_their_teams() {
    let store = InMemoryStore::new();
    let owner = person(&store, "owner", false).await;
    let bob = person(&store, "bob", false).await;
    let team = team_of(&store, &owner).await;
    teams::add_member(&store, None, &team, &bob, Role::Viewer)
        .await
        .unwrap();
    users::set_admin(&store, None, &bob, true).await.unwrap();
    assert_eq!(role_of(&store, &team, &bob).await, Some(Role::Owner));
    let bob = store.require_user_by_id(bob.id).await.unwrap();
    let err = teams::change_role(&store, None, &team, bob.id, Role::Viewer)
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.to_string().as_str()),
        (ErrorKind::Rule, "administrators are always owners")
    );
}

#[tokio::test]
async fn the_last_owner_stays() {
    let store = InMemoryStore::new();
    let owner = person(&store, "owner", false).await;
    let bob = person(&store, "bob", false).await;
    let team = team_of(&store, &owner).await;
    for err in [
        teams::change_role(&store, None, &team, owner.id, Role::Viewer)
            .await
            .unwrap_err(),
        teams::remove_member(&store, None, &team, owner.id).await.unwrap_err(),
    ] {
        assert_eq!(
            (err.kind(), err.to_string().as_str()),
            (ErrorKind::Rule, "a team needs at least one owner")
        );
    }
    teams::add_member(&store, None, &team, &bob, Role::Owner).await.unwrap();
    teams::remove_member(&store, None, &team, owner.id).await.unwrap();
    assert_eq!(role_of(&store, &team, &owner).await, None);
    let missing = teams::remove_member(&store, None, &team, owner.id).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn personal_teams_are_not_changed() {
    let store = InMemoryStore::new();
    let alice = person(&store, "alice", false).await;
    let bob = person(&store, "bob", false).await;
    let personal = store
        .list_teams()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.hidden)
        .unwrap();
    let err = teams::add_member(&store, None, &personal, &bob, Role::Viewer)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rule);
    let new = NewNamespace {
        name: "elsewhere".into(),
        team_id: personal.id,
        visibility: Visibility::Private,
        description: None,
    };
    let err = namespaces::create(&store, None, new, &personal).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rule);
    assert_eq!(role_of(&store, &personal, &alice).await, Some(Role::Owner));
}

#[tokio::test]
async fn disabling_a_user_revokes_their_refresh_tokens() {
    let store = InMemoryStore::new();
    let alice = person(&store, "alice", false).await;
    store
        .create_refresh_token(alice.id, "registry", None, "digest")
        .await
        .unwrap();
    users::set_enabled(&store, Some("root"), &alice, false).await.unwrap();
    assert!(store.refresh_token_by_hash("digest").await.unwrap().is_none());
    assert!(!store.require_user_by_id(alice.id).await.unwrap().enabled);
}

#[tokio::test]
async fn bootstrap_makes_one_administrator_with_a_token_and_only_on_an_empty_installation() {
    let store = InMemoryStore::new();
    let new = |name: &str| NewUser {
        username: name.into(),
        ..NewUser::default()
    };
    let (root, token) = users::bootstrap(&store, new("root"), "digest-1")
        .await
        .unwrap()
        .unwrap();
    assert!(root.admin, "made an administrator though the request did not ask");
    assert_eq!(token.label, users::BOOTSTRAP_TOKEN_LABEL);
    assert_eq!(
        store.app_token_by_hash("digest-1").await.unwrap().unwrap().user_id,
        root.id
    );
    assert_eq!(actions(&store).await, ["user.create", "application_token.create"]);
    assert_eq!(users::bootstrap(&store, new("late"), "digest-2").await.unwrap(), None);
    assert_eq!(store.user_by_name("late").await.unwrap(), None);
    assert_eq!(store.app_token_by_hash("digest-2").await.unwrap(), None);

    let used = InMemoryStore::new();
    person(&used, "someone", false).await;
    assert_eq!(users::bootstrap(&used, new("root"), "digest-3").await.unwrap(), None);
}

#[tokio::test]
async fn the_first_sign_up_is_an_administrator_only_when_configured() {
    let new = |name: &str| NewUser {
        username: name.into(),
        admin: true,
        ..NewUser::default()
    };
    let store = InMemoryStore::new();
    let first = users::sign_up(&store, new("first"), true).await.unwrap();
    let second = users::sign_up(&store, new("second"), true).await.unwrap();
    assert!(first.admin);
    assert!(!second.admin, "asking for it makes no administrator");
    assert_eq!(actions(&store).await, ["user.create", "user.create"]);
    let activity = store.activities(&ActivityFilter::default()).await.unwrap();
    assert_eq!(activity[0].actor.as_deref(), Some("second"), "one's own act");

    let off = InMemoryStore::new();
    assert!(!users::sign_up(&off, new("first"), false).await.unwrap().admin);
}

#[tokio::test]
async fn token_labels_are_bounded() {
    let store = InMemoryStore::new();
    let alice = person(&store, "alice", false).await;
    let longest = "x".repeat(tokens::MAX_TOKEN_LABEL_CHARS);
    tokens::create(&store, None, &alice, &longest, "d1", &NONE, MAX_APP_TOKENS)
        .await
        .unwrap();
    for label in [
        "x".repeat(tokens::MAX_TOKEN_LABEL_CHARS + 1),
        "x".repeat(60_000),
        "  ".into(),
        "a\nb".into(),
    ] {
        let err = tokens::create(&store, None, &alice, &label, "d2", &NONE, MAX_APP_TOKENS)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{label:?}");
    }
    assert_eq!(
        store.list_app_tokens(alice.id).await.unwrap().len(),
        1,
        "nothing else was stored"
    );
}

#[tokio::test]
async fn application_tokens_are_limited_and_revoked_only_by_their_owner() {
    let store = InMemoryStore::new();
    let alice = person(&store, "alice", false).await;
    let bob = person(&store, "bob", false).await;
    let mut first = None;
    for n in 0..MAX_APP_TOKENS {
        let token = tokens::create(
            &store,
            None,
            &alice,
            &format!("t{n}"),
            &format!("d{n}"),
            &NONE,
            MAX_APP_TOKENS,
        )
        .await
        .unwrap();
        first.get_or_insert(token);
    }
    let err = tokens::create(&store, None, &alice, "one-more", "dx", &NONE, MAX_APP_TOKENS)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rule);
    // The cap is the caller's (configured) one.
    tokens::create(&store, None, &bob, "only", "db", &NONE, 1)
        .await
        .unwrap();
    let err = tokens::create(&store, None, &bob, "second", "db2", &NONE, 1)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rule);
    tokens::revoke(
        &store,
        None,
        &bob,
        store.app_token_by_hash("db").await.unwrap().unwrap().id,
    )
    .await
    .unwrap();
    let first = first.unwrap();
    let err = tokens::revoke(&store, None, &bob, first.id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    tokens::revoke(&store, None, &alice, first.id).await.unwrap();
    assert!(store.app_token_by_hash("d0").await.unwrap().is_none());
}

#[tokio::test]
async fn every_operation_records_exactly_its_one_activity() {
    let store = InMemoryStore::new();
    let owner = person(&store, "owner", false).await;
    let bob = person(&store, "bob", false).await;
    let team = team_of(&store, &owner).await;
    teams::add_member(&store, None, &team, &bob, Role::Viewer)
        .await
        .unwrap();
    teams::change_role(&store, None, &team, bob.id, Role::Contributor)
        .await
        .unwrap();
    teams::remove_member(&store, None, &team, bob.id).await.unwrap();
    let new = NewNamespace {
        name: "web".into(),
        team_id: team.id,
        visibility: Visibility::Private,
        description: None,
    };
    let namespace = namespaces::create(&store, None, new, &team).await.unwrap();
    namespaces::set_visibility(&store, None, &namespace, Visibility::Public)
        .await
        .unwrap();
    namespaces::update(&store, None, &namespace, Some("docs".into()), None)
        .await
        .unwrap();
    let token = tokens::create(&store, None, &bob, "ci", "digest", &NONE, MAX_APP_TOKENS)
        .await
        .unwrap();
    tokens::revoke(&store, None, &bob, token.id).await.unwrap();
    users::set_password(&store, None, &bob, None).await.unwrap();
    users::set_email(&store, None, &bob, Some("bob@example.com".into()))
        .await
        .unwrap();
    users::set_admin(&store, None, &bob, true).await.unwrap();
    users::set_admin(&store, None, &bob, false).await.unwrap();
    users::set_enabled(&store, None, &bob, false).await.unwrap();
    users::set_enabled(&store, None, &bob, true).await.unwrap();
    users::unlock(&store, None, &bob).await.unwrap();
    users::delete(&store, None, &bob).await.unwrap();
    let expected = [
        "user.create",
        "user.create",
        "team.create",
        "team.member.add",
        "team.member.change_role",
        "team.member.remove",
        "namespace.create",
        "namespace.change_visibility",
        "namespace.update",
        "application_token.create",
        "application_token.destroy",
        "user.password",
        "user.email",
        "user.admin.grant",
        "user.admin.revoke",
        "user.disable",
        "user.enable",
        "user.unlock",
        "user.delete",
    ];
    assert_eq!(actions(&store).await, expected);
}

#[tokio::test]
async fn stars_record_changes_only() {
    let store = InMemoryStore::new();
    let alice = person(&store, "alice", false).await;
    let manifest = crate::model::ManifestRecord {
        digest: format!("sha256:{}", "a".repeat(64)),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: None,
    };
    store
        .put_tag(
            "alice/app",
            "1.0",
            &manifest,
            None,
            crate::model::MissingNamespace::Create,
        )
        .await
        .unwrap();
    let repository = store.list_repositories().await.unwrap().remove(0);
    stars::set(&store, &alice, &repository, true).await.unwrap();
    stars::set(&store, &alice, &repository, true).await.unwrap();
    stars::set(&store, &alice, &repository, false).await.unwrap();
    stars::set(&store, &alice, &repository, false).await.unwrap();
    assert_eq!(
        actions(&store).await,
        ["user.create", "repository.star", "repository.unstar"]
    );
    assert!(store.starred(alice.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn teams_go_with_their_namespaces_or_hand_them_over() {
    use crate::InMemoryRegistry;
    use crate::model::{ManifestRecord, MissingNamespace};
    let store = InMemoryStore::new();
    let registry = InMemoryRegistry::new();
    let owner = person(&store, "owner", false).await;
    let devs = team_of(&store, &owner).await;
    let heirs = teams::create(&store, None, "heirs", &owner, None).await.unwrap();
    let new = |name: &str, team: &Team| NewNamespace {
        name: name.into(),
        team_id: team.id,
        visibility: Visibility::Private,
        description: None,
    };
    let web = namespaces::create(&store, None, new("web", &devs), &devs)
        .await
        .unwrap();
    let digest = format!("sha256:{}", "b".repeat(64));
    registry.push_image("web/app", "1.0", &digest, &[]);
    let manifest = ManifestRecord {
        digest: digest.clone(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: None,
    };
    store
        .put_tag("web/app", "1.0", &manifest, None, MissingNamespace::Ignore)
        .await
        .unwrap();
    let app = store.list_repositories().await.unwrap().remove(0);
    images::describe_repository(&store, None, &app, Some("The app".into()))
        .await
        .unwrap();
    assert_eq!(
        store
            .repository_by_id(app.id)
            .await
            .unwrap()
            .unwrap()
            .description
            .as_deref(),
        Some("The app")
    );

    let err = namespaces::delete(&store, None, None, &web).await.unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Rule,
        "images cannot go without a registry: {err}"
    );
    assert!(err.to_string().contains("registry.url"));
    let personal = store
        .namespace_by_id(owner.personal_namespace.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        namespaces::delete(&store, Some(&registry), None, &personal)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Rule
    );

    let ops = namespaces::create(&store, None, new("ops", &devs), &devs)
        .await
        .unwrap();
    teams::delete(&store, Some(&registry), None, &devs, Some(&heirs))
        .await
        .unwrap();
    assert_eq!(store.team_by_id(devs.id).await.unwrap(), None);
    for namespace in [&web, &ops] {
        let moved = store.namespace_by_id(namespace.id).await.unwrap().unwrap();
        assert_eq!(moved.team_id, Some(heirs.id), "handed over, not deleted");
    }
    assert!(registry.deleted().is_empty());

    teams::delete(&store, Some(&registry), None, &heirs, None)
        .await
        .unwrap();
    assert_eq!(store.namespace_by_id(web.id).await.unwrap(), None);
    assert_eq!(store.namespace_by_id(ops.id).await.unwrap(), None);
    assert_eq!(registry.deleted(), [("web/app".to_owned(), digest)]);
    let hidden = store.team_by_name("owner").await.unwrap().unwrap();
    assert_eq!(
        teams::delete(&store, Some(&registry), None, &hidden, None)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Rule
    );
    let tail: Vec<String> = actions(&store).await.into_iter().skip(4).collect();
    assert_eq!(
        tail,
        [
            "repository.update",
            "namespace.create",
            "team.delete",
            "namespace.delete",
            "tag.delete",
            "repository.delete",
            "namespace.delete",
            "team.delete",
        ]
    );
}

#[tokio::test]
async fn identities_are_linked_and_unlinked_with_one_activity_each_change() {
    use crate::model::ExternalIdentity;
    let store = InMemoryStore::new();
    let alice = person(&store, "alice", false).await;
    let bob = person(&store, "bob", false).await;
    let identity = ExternalIdentity::new("oidc", "https://id.example.org", "s-1");
    assert!(
        users::link_identity(&store, Some("admin"), &alice, &identity)
            .await
            .unwrap()
    );
    assert!(
        !users::link_identity(&store, Some("admin"), &alice, &identity)
            .await
            .unwrap()
    );
    assert_eq!(
        users::link_identity(&store, Some("admin"), &bob, &identity)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    assert_eq!(
        users::unlink_identity(&store, Some("admin"), &bob, &identity)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound,
        "only the user's own identity is unlinked"
    );
    users::unlink_identity(&store, Some("admin"), &alice, &identity)
        .await
        .unwrap();
    let carol = users::create_with_identity(
        &store,
        Some("OpenID Connect"),
        NewUser {
            username: "carol".into(),
            ..NewUser::default()
        },
        &identity,
    )
    .await
    .unwrap();
    assert_eq!(store.user_by_identity(&identity).await.unwrap(), Some(carol));
    assert_eq!(
        actions(&store).await,
        [
            "user.create",
            "user.create",
            "user.identity.link",
            "user.identity.unlink",
            "user.create"
        ]
    );
    let log = store.activities(&ActivityFilter::default()).await.unwrap();
    assert_eq!(
        log[0].details.as_deref(),
        Some("linked to the oidc subject s-1 at https://id.example.org")
    );
}

#[tokio::test]
async fn a_directory_grants_and_withdraws_only_the_teams_it_manages() {
    let store = InMemoryStore::new();
    let owner = person(&store, "owner", false).await;
    let bob = person(&store, "bob", false).await;
    let devs = team_of(&store, &owner).await;
    let ops = teams::create(&store, None, "ops", &owner, None).await.unwrap();
    let qa = teams::create(&store, None, "qa", &owner, None).await.unwrap();
    teams::add_member(&store, None, &qa, &bob, Role::Viewer).await.unwrap();
    teams::add_member(&store, None, &ops, &bob, Role::Owner).await.unwrap();
    let wanted = [
        ("devs".to_owned(), DirectoryMembership::Member(Role::Contributor)),
        ("ops".to_owned(), DirectoryMembership::Member(Role::Viewer)),
        ("missing".to_owned(), DirectoryMembership::Member(Role::Viewer)),
        ("bob".to_owned(), DirectoryMembership::NotMember),
    ];
    let sync = teams::sync_memberships(&store, Some("ldap"), &bob, &wanted)
        .await
        .unwrap();
    assert_eq!(sync.granted, ["devs"]);
    assert_eq!(
        sync.skipped.iter().map(|(team, _)| team.as_str()).collect::<Vec<_>>(),
        ["missing", "bob"],
        "missing and personal teams are skipped"
    );
    assert_eq!(role_of(&store, &devs, &bob).await, Some(Role::Contributor));
    assert_eq!(
        role_of(&store, &ops, &bob).await,
        Some(Role::Owner),
        "a higher role given by hand stays"
    );

    let gone = [
        ("devs".to_owned(), DirectoryMembership::NotMember),
        ("ops".to_owned(), DirectoryMembership::NotMember),
    ];
    let sync = teams::sync_memberships(&store, Some("ldap"), &bob, &gone)
        .await
        .unwrap();
    assert_eq!(sync.removed, ["devs", "ops"]);
    assert_eq!(role_of(&store, &devs, &bob).await, None);
    assert_eq!(
        role_of(&store, &qa, &bob).await,
        Some(Role::Viewer),
        "unmanaged teams are not touched"
    );
    let again = teams::sync_memberships(&store, Some("ldap"), &bob, &gone)
        .await
        .unwrap();
    assert_eq!(again, MembershipSync::default(), "nothing to do twice");

    let last_owner = [("devs".to_owned(), DirectoryMembership::NotMember)];
    let sync = teams::sync_memberships(&store, None, &owner, &last_owner)
        .await
        .unwrap();
    assert_eq!(sync.skipped.len(), 1, "the last owner stays");
    assert_eq!(role_of(&store, &devs, &owner).await, Some(Role::Owner));
}

/// A tag sharing its manifest: 2.8 (no tag deletion) refuses without consent and then takes
/// the siblings with the manifest; Distribution 3 deletes the tag alone and keeps the manifest;
/// a manifest's last tag deletes the manifest on both.
#[tokio::test]
async fn a_tag_with_siblings_goes_alone_where_the_registry_deletes_tags() {
    use crate::InMemoryRegistry;
    use crate::model::{ManifestRecord, MissingNamespace};
    use crate::traits::RegistryClient;
    for tag_deletion in [false, true] {
        let store = InMemoryStore::new();
        let registry = InMemoryRegistry::new();
        registry.set_tag_deletion(tag_deletion);
        let shared = format!("sha256:{}", "c".repeat(64));
        let alone = format!("sha256:{}", "d".repeat(64));
        for (tag, digest) in [("1.0", &shared), ("latest", &shared), ("2.0", &alone)] {
            registry.push_image("web/app", tag, digest, &[]);
            let manifest = ManifestRecord {
                digest: digest.clone(),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                size: None,
            };
            store
                .put_tag("web/app", tag, &manifest, None, MissingNamespace::Create)
                .await
                .unwrap();
        }
        let names = |tags: Vec<crate::model::TagRecord>| tags.into_iter().map(|t| t.name).collect::<Vec<_>>();
        let deleted = images::delete_tag(&store, &registry, "web/app", "1.0", false, Some("alice")).await;
        if tag_deletion {
            assert_eq!(names(deleted.unwrap()), ["1.0"]);
            assert_eq!(registry.tags("web/app").await.unwrap(), ["2.0", "latest"]);
            assert!(registry.deleted().is_empty(), "the manifest stays");
            assert!(store.tag("web/app", "latest").await.unwrap().is_some());
            assert!(store.tag("web/app", "1.0").await.unwrap().is_none());
        } else {
            assert_eq!(deleted.unwrap_err().kind(), ErrorKind::Conflict);
            assert_eq!(registry.tags("web/app").await.unwrap(), ["1.0", "2.0", "latest"]);
            let deleted = images::delete_tag(&store, &registry, "web/app", "1.0", true, Some("alice")).await;
            assert_eq!(names(deleted.unwrap()), ["1.0", "latest"]);
            assert_eq!(registry.deleted(), [("web/app".to_owned(), shared.clone())]);
        }
        let deleted = images::delete_tag(&store, &registry, "web/app", "2.0", false, Some("alice")).await;
        assert_eq!(names(deleted.unwrap()), ["2.0"]);
        assert!(registry.deleted().contains(&("web/app".to_owned(), alone.clone())));
        let deletions = actions(&store)
            .await
            .iter()
            .filter(|a| a.contains("tag.delete"))
            .count();
        assert_eq!(
            deletions,
            if tag_deletion { 2 } else { 3 },
            "one activity per tag deleted"
        );
    }
}

#[tokio::test]
async fn webhooks_are_checked_and_their_changes_recorded_one_activity_each() {
    use crate::model::{WebhookContentType, WebhookEvent, WebhookMethod, WebhookSettings};
    let store = InMemoryStore::new();
    let alice = person(&store, "alice", false).await;
    let team = teams::create(&store, Some("alice"), "devs", &alice, None)
        .await
        .unwrap();
    let new = NewNamespace {
        name: "acme".into(),
        team_id: team.id,
        visibility: Visibility::Private,
        description: None,
    };
    let namespace = namespaces::create(&store, None, new, &team).await.unwrap();
    let settings = WebhookSettings {
        name: "  ci  ".into(),
        url: "https://hooks.example/in".into(),
        method: WebhookMethod::Post,
        content_type: WebhookContentType::Json,
        events: vec![WebhookEvent::Push, WebhookEvent::Push, WebhookEvent::Delete],
        min_severity: crate::traits::Severity::High,
        enabled: true,
        header_names: vec!["X-Team".into()],
        has_credentials: false,
        sealed: "x".into(),
    };
    for (bad, why) in [
        (
            WebhookSettings {
                url: "ftp://x/".into(),
                ..settings.clone()
            },
            "URL",
        ),
        (
            WebhookSettings {
                events: vec![],
                ..settings.clone()
            },
            "event",
        ),
        (
            WebhookSettings {
                name: " ".into(),
                ..settings.clone()
            },
            "name",
        ),
        (
            WebhookSettings {
                header_names: vec!["X-Portus-Signature-256".into()],
                ..settings.clone()
            },
            "set by portus",
        ),
        (
            WebhookSettings {
                header_names: vec!["bad header".into()],
                ..settings.clone()
            },
            "header name",
        ),
    ] {
        let error = webhooks::create(&store, None, &namespace, bad).await.unwrap_err();
        assert!(
            error.kind() == ErrorKind::Invalid && error.to_string().contains(why),
            "{why}: {error}"
        );
    }
    let hook = webhooks::create(&store, Some("alice"), &namespace, settings.clone())
        .await
        .unwrap();
    assert_eq!(hook.settings.name, "ci");
    assert_eq!(hook.settings.events, vec![WebhookEvent::Push, WebhookEvent::Delete]);
    let off = WebhookSettings {
        enabled: false,
        ..hook.settings.clone()
    };
    let hook = webhooks::update(&store, None, &namespace, &hook, off).await.unwrap();
    let on = WebhookSettings {
        enabled: true,
        ..hook.settings.clone()
    };
    let hook = webhooks::update(&store, None, &namespace, &hook, on).await.unwrap();
    let renamed = WebhookSettings {
        name: "chat".into(),
        ..hook.settings.clone()
    };
    let hook = webhooks::update(&store, None, &namespace, &hook, renamed)
        .await
        .unwrap();
    webhooks::delete(&store, None, &namespace, &hook).await.unwrap();
    let recorded = actions(&store).await;
    assert_eq!(
        recorded[recorded.len() - 5..],
        [
            "webhook.create",
            "webhook.disable",
            "webhook.enable",
            "webhook.update",
            "webhook.delete"
        ]
    );
}
