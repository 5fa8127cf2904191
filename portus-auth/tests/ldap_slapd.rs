//! The LDAP authenticator against a real OpenLDAP `slapd`: every test starts its own server on
//! a free loopback port, in a temporary directory, seeded from `tests/ldap/seed.ldif`.
//!
//! Needs `slapd` and its modules (Debian package `slapd`): run `scripts/install-test-deps.sh`.
//! Without them these tests fail; they never skip silently.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portus_auth::ldap::{GroupMapping, LdapAuthenticator, LdapConfig, ServiceAccount, TlsMethod};
use portus_auth::password::hash_password;
use portus_auth::{Error, LocalAuthenticator, SigningKey, TokenIssuer, TokenService, TokenServiceConfig};
use portus_core::model::{ActivityFilter, NewUser, Role};
use portus_core::prelude::*;
use portus_core::traits::{AuthMethod, AuthOutcome, Identity, Secret};
use portus_core::{Authenticator, ErrorKind, InMemoryStore};

use portus_auth::ldap_testing::{Slapd, config_for, free_port, pki};

fn ldap(config: LdapConfig, store: &Arc<InMemoryStore>) -> LdapAuthenticator {
    LdapAuthenticator::new(config, store.clone()).unwrap()
}

fn authenticated(username: &str) -> AuthOutcome {
    AuthOutcome::Authenticated(Identity {
        username: username.into(),
        method: AuthMethod::External("ldap".into()),
    })
}

async fn login(auth: &LdapAuthenticator, username: &str, password: &str) -> AuthOutcome {
    auth.authenticate(username, &Secret::new(password))
        .await
        .unwrap_or_else(|e| panic!("{username}: {e:?}"))
}

fn service_account(password: &str) -> Option<ServiceAccount> {
    Some(ServiceAccount {
        bind_dn: "cn=portus,ou=services,dc=example,dc=org".into(),
        password: Secret::new(password),
    })
}

async fn user_names(store: &InMemoryStore) -> Vec<String> {
    store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect()
}

#[tokio::test]
async fn first_login_creates_the_local_user_without_password_and_later_logins_reuse_it() {
    let slapd = Slapd::start();
    let store = Arc::new(InMemoryStore::new());
    let auth = ldap(slapd.config(), &store);

    assert_eq!(login(&auth, "alice", "alicepw").await, authenticated("alice"));
    let alice = store.user_by_name("alice").await.unwrap().expect("alice created");
    assert_eq!(alice.password_hash, None, "LDAP users get no local password");
    assert_eq!(
        alice.email.as_deref(),
        Some("alice@corp.example"),
        "from the mail attribute"
    );
    assert!(!alice.admin && alice.enabled);
    assert!(alice.personal_namespace.is_some());

    assert_eq!(login(&auth, "alice", "alicepw").await, authenticated("alice"));
    let again = store.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(again.id, alice.id);
    assert_eq!(user_names(&store).await, ["alice"]);

    // bob has no mail attribute: no e-mail; with an empty attr it is derived from his DN.
    assert_eq!(login(&auth, "bob", "bobpw").await, authenticated("bob"));
    assert_eq!(store.user_by_name("bob").await.unwrap().unwrap().email, None);
    let mut from_dn = slapd.config();
    from_dn.guess_email.attr = String::new();
    let other_store = Arc::new(InMemoryStore::new());
    assert_eq!(
        login(&ldap(from_dn, &other_store), "bob", "bobpw").await,
        authenticated("bob")
    );
    let bob = other_store.user_by_name("bob").await.unwrap().unwrap();
    assert_eq!(bob.email.as_deref(), Some("bob@example.org"));
    let mut no_guess = slapd.config();
    no_guess.guess_email.enabled = false;
    let third_store = Arc::new(InMemoryStore::new());
    assert_eq!(
        login(&ldap(no_guess, &third_store), "alice", "alicepw").await,
        authenticated("alice")
    );
    assert_eq!(third_store.user_by_name("alice").await.unwrap().unwrap().email, None);
}

#[tokio::test]
async fn wrong_password_unknown_user_and_empty_password() {
    let slapd = Slapd::start();
    let store = Arc::new(InMemoryStore::new());
    let auth = ldap(slapd.config(), &store);

    assert_eq!(login(&auth, "alice", "wrong").await, AuthOutcome::InvalidCredentials);
    assert_eq!(login(&auth, "alice", "alicepw ").await, AuthOutcome::InvalidCredentials);
    assert_eq!(login(&auth, "nobody", "alicepw").await, AuthOutcome::UnknownUser);
    // An empty password would be an unauthenticated bind, which slapd answers with success.
    assert_eq!(login(&auth, "alice", "").await, AuthOutcome::InvalidCredentials);
    assert_eq!(login(&auth, "", "alicepw").await, AuthOutcome::InvalidCredentials);
    // Same uid twice under the base: refused rather than picking one.
    assert_eq!(login(&auth, "twin", "twinpw").await, AuthOutcome::InvalidCredentials);
    // uid matches case-insensitively in LDAP, local names do not: no second local alice.
    assert_eq!(login(&auth, "ALICE", "alicepw").await, AuthOutcome::UnknownUser);
    assert!(
        user_names(&store).await.is_empty(),
        "failed logins create nobody: {:?}",
        user_names(&store).await
    );
}

#[tokio::test]
async fn ldap_filter_injection_in_the_user_name_authenticates_nobody() {
    let slapd = Slapd::start();
    let store = Arc::new(InMemoryStore::new());
    let auth = ldap(slapd.config(), &store);

    for hostile in [
        "*",
        "al*",
        "*lice",
        "alice*",
        "alice)(uid=*",
        "*)(|(uid=*",
        "alice)(uid=alice",
        "alice)(|(objectClass=*)",
        "\\2a",
    ] {
        assert_eq!(
            login(&auth, hostile, "alicepw").await,
            AuthOutcome::UnknownUser,
            "{hostile:?} must match no entry"
        );
    }
    assert!(user_names(&store).await.is_empty(), "{:?}", user_names(&store).await);

    // The uid "d*ve" exists, and so does "dave". Only an escaped filter finds exactly one
    // entry for "d*ve"; unescaped, (uid=d*ve) matches both and the login would be refused.
    assert_eq!(login(&auth, "d*ve", "dstarpw").await, authenticated("d*ve"));
    assert_eq!(login(&auth, "d*ve", "davepw").await, AuthOutcome::InvalidCredentials);
    assert_eq!(login(&auth, "dave", "dstarpw").await, AuthOutcome::InvalidCredentials);
    assert_eq!(login(&auth, "dave", "davepw").await, authenticated("dave"));
    assert_eq!(user_names(&store).await, ["d*ve", "dave"]);
}

#[tokio::test]
async fn group_mappings_add_team_memberships() {
    let slapd = Slapd::start();
    let store = Arc::new(InMemoryStore::new());
    let owner = store
        .create_user(NewUser {
            username: "root".into(),
            ..NewUser::default()
        })
        .await
        .unwrap();
    let devs = store.create_team("devs", owner.id, None).await.unwrap();
    let ops = store.create_team("ops", owner.id, None).await.unwrap();
    let root_personal = store.team_by_name("root").await.unwrap().expect("personal team");
    assert!(root_personal.hidden);

    let mut config = slapd.config();
    config.group_base = Some("ou=groups,dc=example,dc=org".into());
    let mapping = |dn: Option<&str>, cn: Option<&str>, team: &str, role| GroupMapping {
        dn: dn.map(Into::into),
        cn: cn.map(Into::into),
        team: team.into(),
        role,
        sync: true,
    };
    let developers = Some("cn=developers,ou=groups,dc=example,dc=org");
    config.groups = vec![
        mapping(developers, None, "devs", Role::Contributor),
        mapping(None, Some("ops"), "ops", Role::Viewer),
        // Skipped with a warning each: a group that does not exist, a team that does not
        // exist, and a hidden personal team.
        mapping(Some("cn=ghosts,ou=groups,dc=example,dc=org"), None, "devs", Role::Owner),
        mapping(developers, None, "no-such-team", Role::Owner),
        mapping(developers, None, "root", Role::Owner),
    ];
    let auth = ldap(config, &store);

    let role_of = |team, user: &'static str| {
        let store = store.clone();
        async move {
            store
                .team_members(team)
                .await
                .unwrap()
                .into_iter()
                .find(|m| m.username == user)
                .map(|m| m.role)
        }
    };
    assert_eq!(login(&auth, "alice", "alicepw").await, authenticated("alice"));
    assert_eq!(role_of(devs.id, "alice").await, Some(Role::Contributor));
    assert_eq!(role_of(ops.id, "alice").await, None);
    assert_eq!(role_of(root_personal.id, "alice").await, None);

    assert_eq!(login(&auth, "bob", "bobpw").await, authenticated("bob"));
    assert_eq!(role_of(devs.id, "bob").await, None, "bob is not a developer");
    assert_eq!(
        role_of(ops.id, "bob").await,
        Some(Role::Viewer),
        "uniqueMember of the ops groupOfUniqueNames, found by cn"
    );

    // A wrong password changes nothing, even for a group member.
    assert_eq!(login(&auth, "d*ve", "wrong").await, AuthOutcome::InvalidCredentials);
    assert!(store.user_by_name("d*ve").await.unwrap().is_none());
    assert_eq!(login(&auth, "d*ve", "dstarpw").await, authenticated("d*ve"));
    assert_eq!(role_of(devs.id, "d*ve").await, Some(Role::Contributor));

    // A higher role given in portus is kept; a lower one is raised to the mapped role.
    let alice = store.user_by_name("alice").await.unwrap().unwrap();
    store.set_team_member(devs.id, alice.id, Role::Owner).await.unwrap();
    assert_eq!(login(&auth, "alice", "alicepw").await, authenticated("alice"));
    assert_eq!(role_of(devs.id, "alice").await, Some(Role::Owner));
    store.set_team_member(devs.id, alice.id, Role::Viewer).await.unwrap();
    assert_eq!(login(&auth, "alice", "alicepw").await, authenticated("alice"));
    assert_eq!(role_of(devs.id, "alice").await, Some(Role::Contributor));
}

/// Group mappings change memberships through the same operation as every other adapter: an
/// administrator mapped to a lower role joins as an owner, and the change is in the activity log.
#[tokio::test]
async fn group_mappings_make_administrators_owners_and_are_recorded() {
    let slapd = Slapd::start();
    let store = Arc::new(InMemoryStore::new());
    let owner = store
        .create_user(NewUser {
            username: "root".into(),
            ..NewUser::default()
        })
        .await
        .unwrap();
    let devs = store.create_team("devs", owner.id, None).await.unwrap();
    store
        .create_user(NewUser {
            username: "alice".into(),
            admin: true,
            ..NewUser::default()
        })
        .await
        .unwrap();
    let mut config = slapd.config();
    config.group_base = Some("ou=groups,dc=example,dc=org".into());
    config.groups = vec![GroupMapping {
        dn: Some("cn=developers,ou=groups,dc=example,dc=org".into()),
        cn: None,
        team: "devs".into(),
        role: Role::Viewer,
        sync: true,
    }];
    let auth = ldap(config, &store);
    assert_eq!(login(&auth, "alice", "alicepw").await, authenticated("alice"));
    let members = store.team_members(devs.id).await.unwrap();
    let alice = members
        .iter()
        .find(|m| m.username == "alice")
        .expect("alice joined devs");
    assert_eq!(alice.role, Role::Owner, "administrators are always owners");
    let log = store.activities(&ActivityFilter::default()).await.unwrap();
    let joined = log.iter().find(|a| a.action == "team.member.add").expect("recorded");
    assert_eq!(
        (
            joined.actor.as_deref(),
            joined.target.as_str(),
            joined.details.as_deref()
        ),
        (Some("ldap"), "devs", Some("alice as owner"))
    );
}

/// The group sync pass: adds and removes the memberships of the synced teams per the directory,
/// leaves local accounts, unmapped teams and `sync = false` teams alone, and changes nothing
/// when the directory is down.
#[tokio::test]
async fn group_sync_adds_and_removes_memberships_per_the_directory_and_fails_closed() {
    let mut slapd = Slapd::start();
    let store = Arc::new(InMemoryStore::new());
    let hash = hash_password(&Secret::new("root-password"), 4).await.unwrap();
    let local = |name: &str| NewUser {
        username: name.into(),
        password_hash: Some(hash.clone()),
        ..NewUser::default()
    };
    let root = store.create_user(local("root")).await.unwrap();
    let carl = store.create_user(local("carl")).await.unwrap();
    let devs = store.create_team("devs", root.id, None).await.unwrap();
    let ops = store.create_team("ops", root.id, None).await.unwrap();
    let qa = store.create_team("qa", root.id, None).await.unwrap();
    let mut config = slapd.config();
    config.authentication = service_account("servicepw");
    config.group_base = Some("ou=groups,dc=example,dc=org".into());
    config.groups = vec![
        GroupMapping {
            dn: Some("cn=developers,ou=groups,dc=example,dc=org".into()),
            cn: None,
            team: "devs".into(),
            role: Role::Contributor,
            sync: true,
        },
        GroupMapping {
            dn: None,
            cn: Some("ops".into()),
            team: "ops".into(),
            role: Role::Viewer,
            sync: false,
        },
    ];
    config.sync.enabled = true;
    let auth = ldap(config, &store);
    let members = |team| {
        let store = store.clone();
        async move {
            let mut members: Vec<(String, Role)> = store
                .team_members(team)
                .await
                .unwrap()
                .into_iter()
                .map(|m| (m.username, m.role))
                .collect();
            members.sort();
            members
        }
    };
    let pairs = |list: &[(&str, Role)]| list.iter().map(|(u, r)| ((*u).to_owned(), *r)).collect::<Vec<_>>();

    // alice (developers) and bob (ops) sign in: the sign-ins grant their groups' teams.
    assert_eq!(login(&auth, "alice", "alicepw").await, authenticated("alice"));
    assert_eq!(login(&auth, "bob", "bobpw").await, authenticated("bob"));
    let alice = store.user_by_name("alice").await.unwrap().unwrap();
    let bob = store.user_by_name("bob").await.unwrap().unwrap();
    // By hand: bob in devs (no developers group lists him), alice in ops (excluded from the
    // sync) and qa (no mapping), carl (a local account) in devs.
    for (team, user) in [
        (devs.id, bob.id),
        (ops.id, alice.id),
        (qa.id, alice.id),
        (devs.id, carl.id),
    ] {
        store.set_team_member(team, user, Role::Viewer).await.unwrap();
    }

    let summary = auth.sync_groups().await.unwrap();
    assert_eq!(
        (summary.users, summary.granted, summary.removed),
        (2, 0, 1),
        "{summary}"
    );
    assert_eq!(
        members(devs.id).await,
        pairs(&[
            ("alice", Role::Contributor),
            ("carl", Role::Viewer),
            ("root", Role::Owner)
        ]),
        "bob left devs; carl has a local password"
    );
    let untouched = pairs(&[("alice", Role::Viewer), ("bob", Role::Viewer), ("root", Role::Owner)]);
    assert_eq!(members(ops.id).await, untouched, "ops has sync = false");
    assert_eq!(
        members(qa.id).await,
        pairs(&[("alice", Role::Viewer), ("root", Role::Owner)])
    );
    let log = store.activities(&ActivityFilter::default()).await.unwrap();
    let removal = log.iter().find(|a| a.action == "team.member.remove").expect("recorded");
    assert_eq!(
        (
            removal.actor.as_deref(),
            removal.target.as_str(),
            removal.details.as_deref()
        ),
        (Some("ldap"), "devs", Some("bob"))
    );

    // The directory moves alice out of developers and bob in: one pass follows it.
    slapd.modify(
        "dn: cn=developers,ou=groups,dc=example,dc=org\nchangetype: modify\ndelete: member\n\
         member: uid=alice,ou=people,dc=example,dc=org\n-\nadd: member\nmember: uid=bob,ou=people,dc=example,dc=org\n",
    );
    let summary = auth.sync_groups().await.unwrap();
    assert_eq!((summary.granted, summary.removed), (1, 1), "{summary}");
    assert_eq!(
        members(devs.id).await,
        pairs(&[
            ("bob", Role::Contributor),
            ("carl", Role::Viewer),
            ("root", Role::Owner)
        ])
    );
    assert_eq!(members(ops.id).await, untouched);
    assert_eq!(auth.last_sync().unwrap().outcome, Ok(summary));

    // The directory goes down: the pass fails and removes nobody (alice, added back by hand,
    // would otherwise leave devs).
    store.set_team_member(devs.id, alice.id, Role::Viewer).await.unwrap();
    let before = members(devs.id).await;
    slapd.stop();
    let err = auth.sync_groups().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert_eq!(
        members(devs.id).await,
        before,
        "nothing removed while the directory is down"
    );
    assert!(auth.last_sync().unwrap().outcome.is_err());
    assert!(auth.health().await.is_err());
}

#[tokio::test]
async fn users_found_under_admin_base_become_administrators_on_creation() {
    let slapd = Slapd::start();
    let store = Arc::new(InMemoryStore::new());
    let mut config = slapd.config();
    config.admin_base = Some("ou=admins,dc=example,dc=org".into());
    let auth = ldap(config, &store);

    assert_eq!(login(&auth, "carol", "carolpw").await, authenticated("carol"));
    assert_eq!(login(&auth, "alice", "alicepw").await, authenticated("alice"));
    let carol = store.user_by_name("carol").await.unwrap().unwrap();
    assert!(carol.admin, "carol is under admin_base");
    assert!(!store.user_by_name("alice").await.unwrap().unwrap().admin);
    assert_eq!(login(&auth, "carol", "wrong").await, AuthOutcome::InvalidCredentials);

    // Only on creation: rights changed in portus stay as they are.
    store.set_user_admin(carol.id, false).await.unwrap();
    assert_eq!(login(&auth, "carol", "carolpw").await, authenticated("carol"));
    assert!(!store.user_by_name("carol").await.unwrap().unwrap().admin);

    // Without admin_base, carol is outside the user base.
    let plain = ldap(slapd.config(), &Arc::new(InMemoryStore::new()));
    assert_eq!(login(&plain, "carol", "carolpw").await, AuthOutcome::UnknownUser);
}

#[tokio::test]
async fn service_bind_is_used_and_a_refused_one_is_unavailable() {
    let slapd = Slapd::start();
    let store = Arc::new(InMemoryStore::new());
    let mut config = slapd.config();
    config.authentication = service_account("servicepw");
    let auth = ldap(config.clone(), &store);
    auth.health().await.unwrap();
    assert_eq!(login(&auth, "alice", "alicepw").await, authenticated("alice"));
    assert_eq!(login(&auth, "alice", "nope").await, AuthOutcome::InvalidCredentials);

    config.authentication = service_account("wrong-service-password");
    let broken = ldap(config, &store);
    for user in ["alice", "nobody"] {
        let err = broken.authenticate(user, &Secret::new("alicepw")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{user}: {err:?}");
        let source = std::error::Error::source(&err).expect("chained source").to_string();
        assert!(source.contains("service bind") && source.contains("49"), "{source}");
    }
    let err = broken.health().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    // Anonymous health check.
    ldap(slapd.config(), &store).health().await.unwrap();
}

fn token_service(store: Arc<InMemoryStore>, ldap: LdapAuthenticator) -> TokenService {
    let key = SigningKey::from_pem(include_str!("../testdata/ec-pkcs8.key")).unwrap();
    let issuer = TokenIssuer::new(key, "portus.test", Duration::from_secs(300), false).unwrap();
    let local: Arc<dyn Authenticator> = Arc::new(LocalAuthenticator::new(store.clone(), 4).unwrap());
    TokenService::new(
        store,
        vec![local, Arc::new(ldap)],
        issuer,
        TokenServiceConfig::new("registry.local"),
    )
}

#[tokio::test]
async fn chain_local_then_ldap_and_local_users_survive_an_ldap_outage() {
    let mut slapd = Slapd::start();
    let store = Arc::new(InMemoryStore::new());
    let hash = hash_password(&Secret::new("localpass"), 4).await.unwrap();
    store
        .create_user(NewUser {
            username: "localadmin".into(),
            admin: true,
            password_hash: Some(hash),
            ..NewUser::default()
        })
        .await
        .unwrap();
    let service = token_service(store.clone(), ldap(slapd.config(), &store));
    let authenticate = |user: &'static str, password: &'static str| {
        let service = &service;
        async move { service.authenticate(user, &Secret::new(password)).await }
    };

    let (user, method) = authenticate("localadmin", "localpass").await.unwrap();
    assert_eq!((user.username.as_str(), method), ("localadmin", AuthMethod::Password));
    assert!(matches!(
        authenticate("localadmin", "wrong").await,
        Err(Error::InvalidCredentials)
    ));
    // alice is unknown locally: LDAP creates her; the second time she exists locally without
    // a password and the local authenticator passes her on to LDAP again.
    for _ in 0..2 {
        let (user, method) = authenticate("alice", "alicepw").await.unwrap();
        assert_eq!(
            (user.username.as_str(), method),
            ("alice", AuthMethod::External("ldap".into()))
        );
    }
    assert!(matches!(
        authenticate("alice", "wrong").await,
        Err(Error::InvalidCredentials)
    ));
    assert!(matches!(
        authenticate("nobody", "x").await,
        Err(Error::InvalidCredentials)
    ));

    slapd.stop();
    let (user, _) = authenticate("localadmin", "localpass").await.unwrap();
    assert_eq!(user.username, "localadmin", "local passwords work without LDAP");
    for (who, password) in [("alice", "alicepw"), ("nobody", "x")] {
        let started = Instant::now();
        match authenticate(who, password).await {
            Err(Error::Core(e)) => assert_eq!(e.kind(), ErrorKind::Unavailable, "{who}: {e:?}"),
            other => panic!("{who}: an LDAP outage must be an error, got {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "connection refused does not wait for the 5 s timeout"
        );
    }
    let direct = ldap(slapd.config(), &store);
    let err = direct.authenticate("alice", &Secret::new("alicepw")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    assert!(err.is_temporary());
    assert_eq!(direct.health().await.unwrap_err().kind(), ErrorKind::Unavailable);
}

#[tokio::test]
async fn a_closed_port_is_unavailable() {
    let store = Arc::new(InMemoryStore::new());
    let auth = ldap(config_for(free_port()), &store);
    let err = auth.authenticate("alice", &Secret::new("alicepw")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains("cannot connect to ldap://127.0.0.1:"), "{source}");
}

/// A server that accepts connections (the kernel completes the handshake) but never answers.
async fn assert_times_out(mut config: LdapConfig, silent: &TcpListener) {
    config.port = Some(silent.local_addr().unwrap().port());
    config.timeout = 1;
    let auth = ldap(config, &Arc::new(InMemoryStore::new()));
    let started = Instant::now();
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        auth.authenticate("alice", &Secret::new("alicepw")),
    )
    .await
    .expect("the configured timeout is not honoured")
    .unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    assert!(
        std::error::Error::source(&err)
            .unwrap()
            .to_string()
            .contains("timed out"),
        "{err:?}"
    );
    assert!(
        // Well under the 5 s default, with room for a loaded machine.
        (Duration::from_millis(900)..Duration::from_secs(4)).contains(&elapsed),
        "took {elapsed:?} with a 1 s timeout"
    );
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = config_for(0);
    // Anonymous: the user search hangs.
    assert_times_out(base.clone(), &silent).await;
    // Service account: the bind hangs.
    let mut with_service = base.clone();
    with_service.authentication = service_account("servicepw");
    assert_times_out(with_service, &silent).await;
    // LDAPS: the TLS handshake hangs.
    let pki = pki();
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), &pki.ca).unwrap();
    let mut ldaps = base;
    ldaps.encryption.method = TlsMethod::Ldaps;
    ldaps.encryption.ca_file = Some(ca.path().to_owned());
    assert_times_out(ldaps, &silent).await;
}

fn tls_config(port: u16, method: TlsMethod, ca_file: &Path) -> LdapConfig {
    let mut config = config_for(port);
    config.encryption.method = method;
    config.encryption.ca_file = Some(ca_file.to_owned());
    config
}

#[tokio::test]
async fn starttls_and_ldaps_verify_the_server_against_the_ca_file() {
    let pki = pki();
    let slapd = Slapd::start_with_tls(&pki);
    let ldaps_port = slapd.ldaps_port.unwrap();
    let ca = slapd.write("ca.pem", &pki.ca);
    let other_ca = slapd.write("other-ca.pem", &self::pki().ca);
    let store = Arc::new(InMemoryStore::new());

    let starttls = ldap(tls_config(slapd.port, TlsMethod::StartTls, &ca), &store);
    assert_eq!(login(&starttls, "alice", "alicepw").await, authenticated("alice"));
    assert_eq!(
        login(&starttls, "alice", "wrong").await,
        AuthOutcome::InvalidCredentials
    );
    starttls.health().await.unwrap();
    let mut with_service = tls_config(ldaps_port, TlsMethod::Ldaps, &ca);
    with_service.authentication = service_account("servicepw");
    let ldaps = ldap(with_service, &store);
    assert_eq!(ldaps.url(), format!("ldaps://127.0.0.1:{ldaps_port}"));
    assert_eq!(login(&ldaps, "bob", "bobpw").await, authenticated("bob"));

    for (what, config) in [
        (
            "StartTLS, other CA",
            tls_config(slapd.port, TlsMethod::StartTls, &other_ca),
        ),
        ("LDAPS, other CA", tls_config(ldaps_port, TlsMethod::Ldaps, &other_ca)),
        ("LDAPS on the plain port", tls_config(slapd.port, TlsMethod::Ldaps, &ca)),
    ] {
        let err = ldap(config, &store)
            .authenticate("alice", &Secret::new("alicepw"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{what}: {err:?}");
    }
}

#[tokio::test]
async fn starttls_refused_by_the_server_is_unavailable_not_plain_text() {
    let slapd = Slapd::start();
    let pki = pki();
    let ca = slapd.write("ca.pem", &pki.ca);
    let auth = ldap(
        tls_config(slapd.port, TlsMethod::StartTls, &ca),
        &Arc::new(InMemoryStore::new()),
    );
    let err = auth.authenticate("alice", &Secret::new("alicepw")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
}
