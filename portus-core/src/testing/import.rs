//! The [`ImportStore`] checks: rows from another installation, written all or nothing, once.

use chrono::{DateTime, TimeZone, Utc};

use super::user;
use crate::ErrorKind;
use crate::model::{
    ActivityFilter, ImportBatch, ImportedActivity, ImportedAppToken, ImportedComment, ImportedDelivery,
    ImportedMembership, ImportedNamespace, ImportedRepository, ImportedStar, ImportedTag, ImportedTeam, ImportedUser,
    ImportedWebhook, NamespaceRef, Role, Visibility,
};
use crate::prelude::*;

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2019, 3, day, 12, 0, 0).unwrap()
}

fn person(name: &str) -> ImportedUser {
    ImportedUser {
        source_key: format!("user:{name}"),
        username: name.into(),
        email: Some(format!("{name}@example.org")),
        enabled: true,
        ..ImportedUser::default()
    }
}

fn namespace(name: &str, team: &str, owner: Option<&str>, visibility: Visibility) -> ImportedNamespace {
    ImportedNamespace {
        source_key: format!("namespace:{name}"),
        name: name.into(),
        description: Some(format!("About {name}")),
        visibility,
        team: Some(team.into()),
        personal_owner: owner.map(Into::into),
        global: false,
    }
}

/// A batch with a row of every kind: two people (one with a Portus-style bcrypt hash, a
/// display name and an LDAP identity; one locked), a bot, a personal namespace with its hidden
/// team, a team namespace, the global namespace's description, a repository with a tag, a
/// star, a comment, a legacy application token, a webhook and an activity.
pub fn sample_batch() -> ImportBatch {
    let mut batch = ImportBatch::new("portus");
    batch.users = vec![
        ImportedUser {
            password_hash: Some("$2a$10$abcdefghijklmnopqrstuu5Jxm5cKzM6dKRxqv6GxKdCkVGSeJv2a".into()),
            display_name: Some("Alice A.".into()),
            identities: vec![("ldap".into(), String::new(), "uid=alice,dc=example,dc=org".into())],
            admin: true,
            created_at: Some(at(1)),
            ..person("alice")
        },
        ImportedUser {
            locked_until: Some(at(28) + chrono::Duration::days(365 * 1000)),
            enabled: false,
            ..person("bob")
        },
        ImportedUser {
            bot: true,
            ..person("robot")
        },
    ];
    batch.teams = vec![
        ImportedTeam {
            source_key: "team:alice".into(),
            name: "alice".into(),
            description: None,
            hidden: true,
        },
        ImportedTeam {
            source_key: "team:devs".into(),
            name: "devs".into(),
            description: Some("The developers".into()),
            hidden: false,
        },
    ];
    batch.namespaces = vec![
        namespace("alice", "alice", Some("alice"), Visibility::Private),
        namespace("devs", "devs", None, Visibility::Public),
        ImportedNamespace {
            source_key: "namespace:global".into(),
            name: String::new(),
            description: Some("Imported global".into()),
            visibility: Visibility::Public,
            team: None,
            personal_owner: None,
            global: true,
        },
    ];
    batch.memberships = vec![
        ImportedMembership {
            source_key: "member:alice/alice".into(),
            team: "alice".into(),
            username: "alice".into(),
            role: Role::Owner,
        },
        ImportedMembership {
            source_key: "member:devs/bob".into(),
            team: "devs".into(),
            username: "bob".into(),
            role: Role::Contributor,
        },
    ];
    batch.repositories = vec![ImportedRepository {
        source_key: "repository:1".into(),
        name: "devs/app".into(),
        description: Some("The app".into()),
        created_at: Some(at(2)),
    }];
    batch.tags = vec![ImportedTag {
        source_key: "tag:1".into(),
        repository: "devs/app".into(),
        name: "1.0".into(),
        digest: format!("sha256:{}", "ab".repeat(32)),
        image_id: Some("cd".repeat(32)),
        image_size: Some(7_340_032),
        pushed_by: Some("bob".into()),
        created_at: Some(at(3)),
        updated_at: Some(at(4)),
        pulled_at: Some(at(5)),
        ..ImportedTag::default()
    }];
    batch.stars = vec![ImportedStar {
        source_key: "star:1".into(),
        username: "alice".into(),
        repository: "devs/app".into(),
    }];
    batch.comments = vec![ImportedComment {
        source_key: "comment:7".into(),
        repository: "devs/app".into(),
        author: Some("alice".into()),
        body: "Nice *image*".into(),
        created_at: Some(at(6)),
    }];
    batch.app_tokens = vec![ImportedAppToken {
        source_key: "token:1".into(),
        username: "alice".into(),
        label: "ci".into(),
        secret_hash: "$2a$10$zyxwvutsrqponmlkjihgfeYb6Yq2S7dS2gS5pQJ0t7m5f3ktBkD3y".into(),
    }];
    batch.webhooks = vec![ImportedWebhook {
        source_key: "webhook:3".into(),
        namespace: "devs".into(),
        name: "ci".into(),
        url: "https://ci.example.org/hook".into(),
        method: "POST".into(),
        content_type: "application/json".into(),
        enabled: true,
        headers: vec![("X-Token".into(), "t".into())],
        deliveries: vec![ImportedDelivery {
            uuid: "d-1".into(),
            status: Some(200),
            ..ImportedDelivery::default()
        }],
        ..ImportedWebhook::default()
    }];
    batch.activities = vec![ImportedActivity {
        source_key: "activity:11".into(),
        at: Some(at(3)),
        actor: Some("bob".into()),
        action: "tag.push".into(),
        target: "devs/app:1.0".into(),
        details: None,
    }];
    batch
}

/// Every kind of row is written and reads back as imported; importing the same batch again
/// writes nothing.
pub async fn imports_every_kind_once(store: &dyn PolicyStore) {
    let batch = sample_batch();
    let counts = store.import_batch(&batch).await.unwrap();
    assert_eq!(
        (counts.users, counts.teams, counts.namespaces, counts.memberships),
        (3, 2, 3, 2)
    );
    assert_eq!(
        (counts.repositories, counts.tags, counts.stars, counts.comments),
        (1, 1, 1, 1)
    );
    assert_eq!((counts.app_tokens, counts.webhooks, counts.activities), (1, 1, 1));

    let alice = store.user_by_name("alice").await.unwrap().unwrap();
    assert!(alice.admin && alice.enabled && !alice.bot);
    assert_eq!(
        alice.password_hash.as_ref().map(|h| &h.0),
        batch.users[0].password_hash.as_ref()
    );
    assert_eq!(alice.display_name.as_deref(), Some("Alice A."));
    assert_eq!(alice.created_at, at(1));
    let personal = store.namespace(NamespaceRef::Named("alice")).await.unwrap().unwrap();
    assert_eq!(alice.personal_namespace, Some(personal.id));
    assert_eq!(personal.personal_owner, Some(alice.id));
    let bob = store.user_by_name("bob").await.unwrap().unwrap();
    assert!(!bob.enabled && bob.is_locked(Utc::now()));
    assert!(store.user_by_name("robot").await.unwrap().unwrap().bot);

    let devs = store.namespace(NamespaceRef::Named("devs")).await.unwrap().unwrap();
    assert_eq!(devs.visibility, Visibility::Public);
    let team = store.team_by_name("devs").await.unwrap().unwrap();
    assert_eq!(devs.team_id, Some(team.id));
    assert_eq!(store.role_in(team.id, bob.id).await.unwrap(), Some(Role::Contributor));
    let global = store.namespace(NamespaceRef::Global).await.unwrap().unwrap();
    assert_eq!(global.description.as_deref(), Some("Imported global"));

    let repositories = store.list_repositories().await.unwrap();
    assert_eq!(repositories.len(), 1);
    let app = &repositories[0];
    assert_eq!((app.description.as_deref(), app.stars), (Some("The app"), 1));
    assert_eq!(app.namespace_id, devs.id);
    let tag = store.tag("devs/app", "1.0").await.unwrap().unwrap();
    assert_eq!(tag.manifest.digest, batch.tags[0].digest);
    assert_eq!(tag.pushed_by.as_deref(), Some("bob"));
    assert_eq!((tag.created_at, tag.updated_at), (at(3), at(4)));
    assert_eq!(tag.image_id.as_deref(), batch.tags[0].image_id.as_deref());
    assert_eq!((tag.image_size, tag.pulled_at), (Some(7_340_032), Some(at(5))));
    assert_eq!(store.starred(alice.id).await.unwrap(), vec![app.id]);
    let comments = store.comments(app.id).await.unwrap();
    assert_eq!(comments.len(), 1);
    assert_eq!(
        (comments[0].author.as_deref(), comments[0].created_at),
        (Some("alice"), at(6))
    );
    let legacy = store.legacy_app_tokens(alice.id).await.unwrap();
    assert_eq!(legacy.len(), 1);
    assert_eq!(
        (legacy[0].0.label.as_str(), legacy[0].1.as_str()),
        ("ci", batch.app_tokens[0].secret_hash.as_str())
    );
    let activities = store.activities(&ActivityFilter::default()).await.unwrap();
    assert_eq!(activities.len(), 1);
    assert_eq!((activities[0].at, activities[0].action.as_str()), (at(3), "tag.push"));

    // A push of another image replaces what was known of the old one, not the last pull.
    let pushed = crate::model::ManifestRecord {
        digest: format!("sha256:{}", "ef".repeat(32)),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: None,
    };
    store
        .put_tag(
            "devs/app",
            "1.0",
            &pushed,
            Some("bob"),
            crate::model::MissingNamespace::Ignore,
        )
        .await
        .unwrap();
    let repushed = store.tag("devs/app", "1.0").await.unwrap().unwrap();
    assert_eq!((repushed.image_id, repushed.image_size), (None, None));
    assert_eq!(repushed.pulled_at, Some(at(5)));

    let again = store.import_batch(&batch).await.unwrap();
    assert_eq!(again.total(), 0, "a second import writes nothing: {again:?}");
    assert_eq!(store.list_users().await.unwrap().len(), 3);
    assert_eq!(store.comments(app.id).await.unwrap().len(), 1);
    assert_eq!(store.activities(&ActivityFilter::default()).await.unwrap().len(), 1);
}

/// A batch that fails at its last row (a webhook of a namespace that does not exist) writes
/// nothing, not even its rows before the failure or their ledger entries.
pub async fn a_failing_batch_writes_nothing(store: &dyn PolicyStore) {
    let mut batch = sample_batch();
    batch.webhooks.push(ImportedWebhook {
        source_key: "webhook:99".into(),
        namespace: "nobody-has-this-namespace".into(),
        name: "lost".into(),
        url: "https://example.org/".into(),
        method: "POST".into(),
        content_type: "application/json".into(),
        ..ImportedWebhook::default()
    });
    let err = store.import_batch(&batch).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(store.user_by_name("alice").await.unwrap(), None);
    assert!(store.list_repositories().await.unwrap().is_empty());
    let global = store.namespace(NamespaceRef::Global).await.unwrap().unwrap();
    assert_ne!(global.description.as_deref(), Some("Imported global"));
    // The ledger rolled back too: the corrected batch imports everything.
    batch.webhooks.pop();
    let counts = store.import_batch(&batch).await.unwrap();
    assert_eq!(
        (counts.users, counts.comments, counts.webhooks, counts.activities),
        (3, 1, 1, 1)
    );
}

/// An account whose name is taken here by something the import did not bring fails the batch:
/// an import never hands rights to a local account of the same name. A namespace a push made
/// before the import (no team) and its repository are adopted.
pub async fn local_names_are_never_taken_over(store: &dyn PolicyStore) {
    let robot = user(store, "robot").await;
    let err = store.import_batch(&sample_batch()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("user 'robot'"), "{err}");
    assert_eq!(store.user_by_name("robot").await.unwrap().unwrap(), robot, "untouched");
    assert_eq!(store.user_by_name("bob").await.unwrap(), None, "nothing written");
    store.delete_user(robot.id).await.unwrap();

    let owner = user(store, "zed").await;
    store.create_team("devs", owner.id, None).await.unwrap();
    let err = store.import_batch(&sample_batch()).await.unwrap_err();
    assert!(err.to_string().contains("team 'devs'"), "{err}");
    let team = store.team_by_name("devs").await.unwrap().unwrap();
    store
        .update_team(
            team.id,
            crate::model::TeamUpdate {
                name: Some("zeds".into()),
                description: None,
            },
        )
        .await
        .unwrap();

    let pushed = crate::model::ManifestRecord {
        digest: format!("sha256:{}", "ab".repeat(32)),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: None,
    };
    store
        .put_tag("devs/app", "1.0", &pushed, None, crate::model::MissingNamespace::Create)
        .await
        .unwrap();
    store.import_batch(&sample_batch()).await.unwrap();
    let devs = store.namespace(NamespaceRef::Named("devs")).await.unwrap().unwrap();
    let imported = store.team_by_name("devs").await.unwrap().unwrap();
    assert_eq!((devs.team_id, devs.visibility), (Some(imported.id), Visibility::Public));
    let app = store.list_repositories().await.unwrap();
    assert_eq!(app.len(), 1);
    assert_eq!(app[0].description.as_deref(), Some("The app"), "adopted, described");
}

/// What was deleted here after an import stays deleted when the import runs again.
pub async fn rows_deleted_after_an_import_stay_deleted(store: &dyn PolicyStore) {
    store.import_batch(&sample_batch()).await.unwrap();
    let alice = store.user_by_name("alice").await.unwrap().unwrap();
    let bob = store.user_by_name("bob").await.unwrap().unwrap();
    let token = store.legacy_app_tokens(alice.id).await.unwrap()[0].0.id;
    store.revoke_app_token(token).await.unwrap();
    let devs = store.team_by_name("devs").await.unwrap().unwrap();
    store.remove_team_member(devs.id, bob.id).await.unwrap();
    let robot = store.user_by_name("robot").await.unwrap().unwrap();
    store.delete_user(robot.id).await.unwrap();

    let again = store.import_batch(&sample_batch()).await.unwrap();
    assert_eq!(again.total(), 0, "{again:?}");
    assert!(
        store.legacy_app_tokens(alice.id).await.unwrap().is_empty(),
        "the revoked token stays revoked"
    );
    assert_eq!(store.role_in(devs.id, bob.id).await.unwrap(), None);
    assert_eq!(store.user_by_name("robot").await.unwrap(), None);
}

/// Legacy application token hashes are listed with their owner's tokens and can be replaced
/// by a digest, after which they are found by it and no longer listed as legacy.
pub async fn legacy_token_hashes_are_replaced(store: &dyn PolicyStore) {
    store.import_batch(&sample_batch()).await.unwrap();
    let alice = store.user_by_name("alice").await.unwrap().unwrap();
    let native = store
        .create_app_token(alice.id, "native", "sha256:11", &Default::default())
        .await
        .unwrap();
    let legacy = store.legacy_app_tokens(alice.id).await.unwrap();
    assert_eq!(legacy.len(), 1, "digests are not legacy");
    let id = legacy[0].0.id;
    store.set_app_token_hash(id, "sha256:22").await.unwrap();
    assert!(store.legacy_app_tokens(alice.id).await.unwrap().is_empty());
    assert_eq!(
        store.app_token_by_hash("sha256:22").await.unwrap().map(|t| t.id),
        Some(id)
    );
    assert_eq!(
        store.app_token_by_hash("sha256:11").await.unwrap().map(|t| t.id),
        Some(native.id)
    );
    assert_eq!(
        store
            .set_app_token_hash(crate::model::AppTokenId(9999), "sha256:33")
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

/// Expands to one `#[tokio::test]` per check of this module, each on a fresh store made by
/// the given async expression; [`policy_store_conformance!`](crate::policy_store_conformance)
/// invokes it with the other roles' macros.
#[macro_export]
macro_rules! import_store_conformance {
    ($make:expr) => {
        $crate::__conformance_tests!($make; import;
            imports_every_kind_once,
            a_failing_batch_writes_nothing,
            local_names_are_never_taken_over,
            rows_deleted_after_an_import_stay_deleted,
            legacy_token_hashes_are_replaced,
        );
    };
}
