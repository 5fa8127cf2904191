//! The import's decisions on a small Portus installation, and its writes into the in-memory
//! store (the same snapshot is read from real MariaDB and PostgreSQL by the end-to-end tests).

use chrono::NaiveDate;
use portus_core::InMemoryStore;
use portus_core::model::{ActivityFilter, NamespaceRef, Role, Visibility};
use portus_core::prelude::*;
use portus_import::{
    Error, Kind, Options, PortusActivity, PortusApplicationToken, PortusComment, PortusNamespace, PortusRegistry,
    PortusRepository, PortusSnapshot, PortusTag, PortusTeam, PortusTeamUser, PortusUser, PortusWebhook, import, plan,
};

fn time(day: u32) -> Option<chrono::NaiveDateTime> {
    NaiveDate::from_ymd_opt(2019, 3, day).and_then(|d| d.and_hms_opt(10, 0, 0))
}

fn user(id: i64, name: &str, namespace_id: Option<i64>) -> PortusUser {
    PortusUser {
        id,
        username: name.into(),
        email: Some(format!("{name}@example.org")),
        encrypted_password: "$2a$10$0123456789abcdefghijkuJ3f7mQ0o8cQF1xF0y8GZcCq6n1aXn2W".into(),
        enabled: true,
        namespace_id,
        created_at: time(1),
        ..PortusUser::default()
    }
}

fn team(id: i64, name: &str, hidden: bool) -> PortusTeam {
    PortusTeam {
        id,
        name: name.into(),
        hidden,
        description: None,
    }
}

fn namespace(id: i64, name: &str, team_id: i64, visibility: i64, global: bool) -> PortusNamespace {
    PortusNamespace {
        id,
        name: name.into(),
        team_id: Some(team_id),
        global,
        description: Some(format!("About {name}")),
        visibility: Some(visibility),
    }
}

/// A small installation: the internal `portus` user, alice (admin, personal namespace 2),
/// bob (disabled), carol (locked, no password), the global namespace with its hidden team, a
/// team namespace `devs`, a namespace named with Portus' backslash quirk, and a little of
/// everything else.
fn installation() -> PortusSnapshot {
    PortusSnapshot {
        users: vec![
            PortusUser {
                admin: true,
                ..user(1, "portus", None)
            },
            PortusUser {
                admin: true,
                display_name: Some("Alice A.".into()),
                ..user(2, "alice", Some(2))
            },
            PortusUser {
                enabled: false,
                ..user(3, "bob", Some(3))
            },
            PortusUser {
                locked_at: Some(chrono::Utc::now().naive_utc() - chrono::TimeDelta::minutes(2)),
                encrypted_password: String::new(),
                ldap_name: Some("uid=carol,dc=example,dc=org".into()),
                ..user(4, "carol", Some(4))
            },
        ],
        teams: vec![
            team(1, "portus_global_team_1", true),
            team(2, "alice", true),
            team(3, "bob", true),
            team(4, "carol", true),
            team(5, "devs", false),
            team(6, "quirk", false),
        ],
        team_users: vec![
            PortusTeamUser {
                user_id: 2,
                team_id: 2,
                role: 2,
            },
            PortusTeamUser {
                user_id: 3,
                team_id: 3,
                role: 2,
            },
            PortusTeamUser {
                user_id: 4,
                team_id: 4,
                role: 2,
            },
            PortusTeamUser {
                user_id: 2,
                team_id: 5,
                role: 2,
            },
            PortusTeamUser {
                user_id: 3,
                team_id: 5,
                role: 1,
            },
            PortusTeamUser {
                user_id: 1,
                team_id: 1,
                role: 2,
            },
        ],
        registries: vec![PortusRegistry {
            name: "registry".into(),
            hostname: "registry.example.org:5000".into(),
            use_ssl: true,
            external_hostname: Some("docker.example.org".into()),
        }],
        namespaces: vec![
            namespace(1, "registry.example.org-5000", 1, 2, true),
            namespace(2, "alice", 2, 0, false),
            namespace(3, "bob", 3, 0, false),
            namespace(4, "carol", 4, 0, false),
            namespace(5, "devs", 5, 1, false),
            namespace(6, "my\\team", 6, 2, false),
        ],
        repositories: vec![
            PortusRepository {
                id: 1,
                name: "app".into(),
                namespace_id: Some(5),
                description: Some("The app".into()),
                created_at: time(2),
                ..PortusRepository::default()
            },
            PortusRepository {
                id: 2,
                name: "busybox".into(),
                namespace_id: Some(1),
                created_at: time(2),
                ..PortusRepository::default()
            },
            PortusRepository {
                id: 3,
                name: "lost".into(),
                namespace_id: Some(6),
                ..PortusRepository::default()
            },
        ],
        tags: vec![
            PortusTag {
                id: 1,
                name: "1.0".into(),
                repository_id: 1,
                user_id: Some(3),
                username: Some("bob".into()),
                digest: Some(format!("sha256:{}", "ab".repeat(32))),
                image_id: Some("cd".repeat(32)),
                size: Some(1024),
                scanned: 2,
                created_at: time(3),
                updated_at: time(4),
                pulled_at: time(5),
                ..PortusTag::default()
            },
            PortusTag {
                id: 2,
                name: "old".into(),
                repository_id: 1,
                digest: None,
                ..PortusTag::default()
            },
        ],
        stars: vec![(2, 1), (1, 1)],
        comments: vec![PortusComment {
            id: 1,
            body: "Nice".into(),
            repository_id: 1,
            user_id: Some(2),
            created_at: time(6),
        }],
        application_tokens: vec![PortusApplicationToken {
            id: 1,
            application: "ci".into(),
            token_hash: "$2a$10$abcdefghijklmnopqrstuu5Jxm5cKzM6dKRxqv6GxKdCkVGSeJv2a".into(),
            user_id: 2,
        }],
        webhooks: vec![PortusWebhook {
            id: 1,
            namespace_id: 5,
            name: "ci".into(),
            url: "https://ci.example.org/hook".into(),
            request_method: 1,
            enabled: true,
            ..PortusWebhook::default()
        }],
        webhook_headers: vec![(1, "X-Token".into(), "t".into())],
        webhook_deliveries: vec![],
        activities: vec![
            PortusActivity {
                id: 1,
                trackable_type: Some("Repository".into()),
                trackable_id: Some(1),
                owner_id: Some(3),
                key: "repository.push".into(),
                parameters: Some("---\n:namespace_name: devs\n:repo_name: app\n:tag_name: '1.0'\n".into()),
                recipient_type: Some("Tag".into()),
                recipient_id: Some(1),
                created_at: time(4),
            },
            PortusActivity {
                id: 2,
                trackable_type: Some("Team".into()),
                trackable_id: Some(5),
                owner_id: Some(2),
                key: "team.add_member".into(),
                parameters: Some("---\n:role: contributor\n:team: devs\n".into()),
                recipient_type: Some("User".into()),
                recipient_id: Some(3),
                created_at: time(5),
            },
            PortusActivity {
                id: 3,
                trackable_type: Some("Namespace".into()),
                trackable_id: Some(99),
                owner_id: Some(2),
                key: "repository.delete".into(),
                parameters: Some("---\n:namespace_name: gone\n:repo_name: thing\n:tag_name: v1\n".into()),
                created_at: time(6),
                ..PortusActivity::default()
            },
        ],
    }
}

#[test]
fn the_plan_skips_what_cannot_come_with_reasons() {
    let plan = plan(&installation(), &Options::new("portus:test"));
    let report = &plan.report;
    let skipped: Vec<(Kind, &str)> = report.skipped.iter().map(|s| (s.kind, s.name.as_str())).collect();
    assert!(skipped.contains(&(Kind::Users, "portus")), "{skipped:?}");
    assert!(skipped.contains(&(Kind::Teams, "portus_global_team_1")));
    assert!(skipped.contains(&(Kind::Namespaces, "my\\team")));
    assert!(skipped.contains(&(Kind::Repositories, "my\\team/lost")));
    assert!(skipped.contains(&(Kind::Tags, "devs/app:old")), "no digest");
    assert!(skipped.contains(&(Kind::Stars, "star #1/1")), "portus' star");
    let reason = |name: &str| {
        report
            .skipped
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.reason.clone())
            .unwrap()
    };
    assert!(
        reason("my\\team").contains("invalid namespace name"),
        "{}",
        reason("my\\team")
    );
    assert_eq!((report.found_of(Kind::Users), report.planned_of(Kind::Users)), (4, 3));
    assert!(
        report
            .hints
            .iter()
            .any(|h| h.contains("https://registry.example.org:5000"))
    );
    assert!(
        report
            .hints
            .iter()
            .any(|h| h.contains("`registry.external_hostname = \"docker.example.org\"`")),
        "{:?}",
        report.hints
    );
    assert!(report.notes.iter().any(|n| n.contains("carol") && n.contains("locked")));
    assert!(report.notes.iter().any(|n| n.contains("1 tags were scanned")));
    let text = report.to_string();
    assert!(
        text.contains("would import") && text.contains("namespace my\\team: invalid namespace name"),
        "{text}"
    );
}

#[tokio::test]
async fn imports_into_an_empty_store_once() {
    let store = InMemoryStore::new();
    let snapshot = installation();
    let dry = import(
        &store,
        &snapshot,
        Options::new("portus:test").dry_run(true),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert!(dry.written.is_none());
    assert!(store.list_users().await.unwrap().is_empty(), "a dry run writes nothing");

    let mut seen = Vec::new();
    let report = import(&store, &snapshot, Options::new("portus:test"), &mut |p| seen.push(p))
        .await
        .unwrap();
    let written = report.written.unwrap();
    assert_eq!((written.users, written.tags, written.activities), (3, 1, 3));
    assert_eq!(seen.last().map(|p| p.done == p.total), Some(true));

    let alice = store.user_by_name("alice").await.unwrap().unwrap();
    assert!(alice.admin);
    assert_eq!(alice.display_name.as_deref(), Some("Alice A."));
    let personal = store.namespace(NamespaceRef::Named("alice")).await.unwrap().unwrap();
    assert_eq!(alice.personal_namespace, Some(personal.id));
    assert!(!store.user_by_name("bob").await.unwrap().unwrap().enabled);
    let carol = store.user_by_name("carol").await.unwrap().unwrap();
    assert!(carol.password_hash.is_none() && carol.is_locked(chrono::Utc::now()));
    assert_eq!(store.user_by_name("portus").await.unwrap(), None);

    let devs = store.namespace(NamespaceRef::Named("devs")).await.unwrap().unwrap();
    assert_eq!(devs.visibility, Visibility::Protected);
    let team = store.team_by_name("devs").await.unwrap().unwrap();
    assert_eq!(
        store
            .role_in(team.id, store.user_by_name("bob").await.unwrap().unwrap().id)
            .await
            .unwrap(),
        Some(Role::Contributor)
    );
    let global = store.namespace(NamespaceRef::Global).await.unwrap().unwrap();
    assert_eq!(global.description.as_deref(), Some("About registry.example.org-5000"));
    assert_eq!(store.repositories().await.unwrap(), ["busybox", "devs/app"]);
    let tag = store.tag("devs/app", "1.0").await.unwrap().unwrap();
    assert_eq!(tag.pushed_by.as_deref(), Some("bob"));

    let activities = store.activities(&ActivityFilter::default()).await.unwrap();
    let shown: Vec<(Option<&str>, &str, &str, Option<&str>)> = activities
        .iter()
        .map(|a| {
            (
                a.actor.as_deref(),
                a.action.as_str(),
                a.target.as_str(),
                a.details.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (Some("alice"), "tag.delete", "gone/thing:v1", None),
            (Some("alice"), "team.member.add", "devs", Some("bob as contributor")),
            (Some("bob"), "tag.push", "devs/app:1.0", None),
        ]
    );

    let again = import(&store, &snapshot, Options::new("portus:test"), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(again.written.unwrap().total(), 0, "a second import changes nothing");
    assert!(again.to_string().contains("already present"));
}

#[tokio::test]
async fn a_store_with_other_accounts_needs_merge() {
    let store = InMemoryStore::new();
    portus_core::testing::user(&store, "zed").await;
    let err = import(&store, &installation(), Options::new("portus:test"), &mut |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotEmpty { .. }), "{err}");
    assert!(err.to_string().contains("user zed") && err.to_string().contains("--merge"));
    assert!(store.user_by_name("alice").await.unwrap().is_none());
    let merged = import(
        &store,
        &installation(),
        Options::new("portus:test").merge(true),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(merged.written.unwrap().users, 3);
    assert!(store.user_by_name("zed").await.unwrap().is_some());
}

#[tokio::test]
async fn ldap_installations_bring_no_passwords_and_expired_locks_stay_expired() {
    let mut snapshot = installation();
    // bob was locked once, in 2019: Devise unlocked him an hour later.
    snapshot.users[2].locked_at = time(20);
    let store = InMemoryStore::new();
    let report = import(&store, &snapshot, Options::new("portus:test").ldap(true), &mut |_| {})
        .await
        .unwrap();
    for name in ["alice", "bob", "carol"] {
        let user = store.user_by_name(name).await.unwrap().unwrap();
        assert!(user.password_hash.is_none(), "{name}: LDAP checks the password");
    }
    let bob = store.user_by_name("bob").await.unwrap().unwrap();
    assert!(!bob.is_locked(chrono::Utc::now()));
    assert!(
        report.notes.iter().any(|n| n.contains("bob") && n.contains("expired")),
        "{report}"
    );
    assert!(
        report.notes.iter().any(|n| n.contains("alice") && n.contains("LDAP")),
        "{report}"
    );
}

#[tokio::test]
async fn a_merge_never_hands_rights_to_a_local_account_of_the_same_name() {
    let store = InMemoryStore::new();
    let local = portus_core::testing::user(&store, "alice").await;
    let err = import(
        &store,
        &installation(),
        Options::new("portus:test").merge(true),
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("user 'alice' exists here already"), "{err}");
    assert_eq!(store.user_by_name("alice").await.unwrap().unwrap(), local);
    assert!(store.user_by_name("bob").await.unwrap().is_none(), "nothing written");
}

#[tokio::test]
async fn a_dry_run_says_what_the_import_would_refuse() {
    let store = InMemoryStore::new();
    portus_core::testing::user(&store, "zed").await;
    let options = Options::new("portus:test").dry_run(true);
    let dry = import(&store, &installation(), options, &mut |_| {}).await;
    assert!(matches!(dry, Err(Error::NotEmpty { .. })), "{dry:?}");
}
