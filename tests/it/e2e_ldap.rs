//! `portus serve` with LDAP against a real slapd: docker logins (token requests with Basic
//! credentials) of directory users, group -> team mapping, injection attempts, an LDAP
//! outage that gives LDAP users a clear 503 while local users keep working, and the
//! background group sync with `/api/v1/health`'s LDAP components.

use portus::auth::ldap_testing::Slapd;

use std::time::Duration;

use crate::harness::{Portus, basic, http_get, status, wait_until};

fn token_request(p: &Portus, user: &str, password: &str, scope: &str) -> String {
    let authorization = basic(user, password);
    http_get(
        p.addr,
        &format!("/v2/token?service=registry.ldap&scope={scope}"),
        &[("Authorization", authorization.as_str())],
    )
}

fn granted(response: &str) -> serde_json::Value {
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    let payload = json["token"].as_str().unwrap().split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&data_encoding::BASE64URL_NOPAD.decode(payload.as_bytes()).unwrap()).unwrap();
    // Scopes without any granted action are left out of `access`.
    claims["access"]
        .get(0)
        .map_or(serde_json::json!([]), |a| a["actions"].clone())
}

#[test]
fn directory_users_log_in_map_to_teams_and_fail_clearly_when_ldap_is_down() {
    let tmp = tempfile::tempdir().unwrap();
    let mut slapd = Slapd::start();
    let mut p = Portus::new(tmp.path(), "registry.ldap", "");
    p.append_config(&format!(
        "[ldap]\nhostname = \"127.0.0.1\"\nport = {}\ntimeout = 2\nbase = \"ou=people,dc=example,dc=org\"\n\
         [ldap.guess_email]\nenabled = true\nattr = \"mail\"\n\
         [[ldap.groups]]\ndn = \"cn=developers,ou=groups,dc=example,dc=org\"\nteam = \"devs\"\nrole = \"contributor\"\n",
        slapd.port
    ));
    p.user("root", "root-password");
    p.cli(&["team", "create", "devs", "--owner", "root"], None);
    p.cli(&["namespace", "create", "devs", "--team", "devs"], None);
    p.start();
    let push = "repository:devs/app:pull,push";

    // A directory user: first login creates the local user and maps the group to the team.
    let alice = token_request(&p, "alice", "alicepw", push);
    assert_eq!(status(&alice), 200, "{alice}\n{}", p.log());
    assert_eq!(
        granted(&alice),
        serde_json::json!(["pull", "push"]),
        "developers -> devs contributor"
    );
    // bob is in the directory but not in the group: logged in, no access to the private namespace.
    let bob = token_request(&p, "bob", "bobpw", push);
    assert_eq!(status(&bob), 200);
    assert_eq!(granted(&bob), serde_json::json!([]));

    for (user, password) in [
        ("alice", "wrong"),
        ("nobody", "x"),
        ("*", "alicepw"),
        ("alice)(uid=*", "alicepw"),
        ("alice", ""),
    ] {
        let refused = token_request(&p, user, password, push);
        assert_eq!(status(&refused), 401, "{user:?}/{password:?}: {refused}");
    }

    // The directory goes away: LDAP users get a clear 503, local users still log in.
    slapd.stop();
    let outage = token_request(&p, "alice", "alicepw", push);
    assert_eq!(status(&outage), 503, "{outage}");
    assert!(outage.contains("\"UNAVAILABLE\""), "registry error format: {outage}");
    let local = token_request(&p, "root", "root-password", push);
    assert_eq!(status(&local), 200, "{local}");
    assert_eq!(granted(&local), serde_json::json!(["pull", "push"]));
}

fn json_body(response: &str) -> serde_json::Value {
    serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap()
}

fn members(p: &Portus, team: &str) -> Vec<(String, String)> {
    let list: serde_json::Value =
        serde_json::from_str(&p.cli(&["team", "member", "list", team, "--json"], None)).unwrap();
    let mut members: Vec<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["username"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    members.sort();
    members
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(u, r)| ((*u).to_owned(), (*r).to_owned())).collect()
}

#[test]
fn background_group_sync_removes_who_left_the_group_within_one_period_and_fails_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut slapd = Slapd::start();
    let mut p = Portus::new(tmp.path(), "registry.ldap", "");
    p.append_config(&format!(
        "[ldap]\nhostname = \"127.0.0.1\"\nport = {}\ntimeout = 2\nbase = \"ou=people,dc=example,dc=org\"\n\
         [ldap.authentication]\nbind_dn = \"cn=portus,ou=services,dc=example,dc=org\"\npassword = \"servicepw\"\n\
         [[ldap.groups]]\ndn = \"cn=developers,ou=groups,dc=example,dc=org\"\nteam = \"devs\"\nrole = \"contributor\"\n\
         [ldap.sync]\nenabled = true\ninterval_secs = 1\n",
        slapd.port
    ));
    p.user("root", "root-password");
    for team in ["devs", "qa"] {
        p.cli(&["team", "create", team, "--owner", "root"], None);
    }
    p.start();
    let pull = "repository:devs/app:pull";
    for (user, password) in [("alice", "alicepw"), ("bob", "bobpw")] {
        let response = token_request(&p, user, password, pull);
        assert_eq!(status(&response), 200, "{user}: {response}\n{}", p.log());
    }
    // Given by hand: qa is mapped to no group.
    p.cli(&["team", "member", "add", "qa", "alice", "--role", "viewer"], None);
    assert_eq!(
        members(&p, "devs"),
        pairs(&[("alice", "contributor"), ("root", "owner")])
    );
    let health = http_get(p.addr, "/api/v1/health", &[]);
    assert_eq!(status(&health), 200, "{health}");
    assert_eq!(
        json_body(&health)["ldap"],
        serde_json::json!({"success": true, "msg": "ok"})
    );

    // The directory takes alice out of developers: the background pass follows within one
    // period (1 s; the deadline leaves room for the polling commands).
    slapd.modify(
        "dn: cn=developers,ou=groups,dc=example,dc=org\nchangetype: modify\ndelete: member\n\
         member: uid=alice,ou=people,dc=example,dc=org\n",
    );
    let started = std::time::Instant::now();
    assert!(
        wait_until(Duration::from_secs(4), || members(&p, "devs")
            == pairs(&[("root", "owner")])),
        "alice still in devs after {:?}: {:?}\n{}",
        started.elapsed(),
        members(&p, "devs"),
        p.log()
    );
    assert_eq!(
        members(&p, "qa"),
        pairs(&[("alice", "viewer"), ("root", "owner")]),
        "given by hand"
    );
    assert!(p.log().contains("LDAP group sync finished"), "{}", p.log());
    let health = json_body(&http_get(p.addr, "/api/v1/health", &[]));
    assert_eq!(health["ldap_sync"]["success"], serde_json::json!(true), "{health}");
    assert!(
        health["ldap_sync"]["msg"].as_str().unwrap().starts_with("last pass "),
        "{health}"
    );
    let once = p.cli(&["ldap", "sync"], None);
    assert!(once.contains("ldap sync: 2 users: 0 granted, 0 removed"), "{once}");

    // The directory goes down: passes fail and remove nobody (alice, put back by hand, would
    // otherwise leave devs again); health says so.
    slapd.stop();
    p.cli(&["team", "member", "add", "devs", "alice", "--role", "viewer"], None);
    assert!(
        wait_until(Duration::from_secs(6), || {
            let health = http_get(p.addr, "/api/v1/health", &[]);
            status(&health) == 503 && json_body(&health)["ldap_sync"]["success"] == serde_json::json!(false)
        }),
        "{}",
        http_get(p.addr, "/api/v1/health", &[])
    );
    let health = json_body(&http_get(p.addr, "/api/v1/health", &[]));
    assert_eq!(health["ldap"]["success"], serde_json::json!(false), "{health}");
    assert_eq!(health["database"]["success"], serde_json::json!(true), "{health}");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        members(&p, "devs"),
        pairs(&[("alice", "viewer"), ("root", "owner")]),
        "nothing removed while the directory is down"
    );
    let failed = p.try_cli(&["ldap", "sync"], None);
    assert!(!failed.status.success());
    assert!(String::from_utf8_lossy(&failed.stderr).contains("LDAP"), "{failed:?}");
    assert_eq!(members(&p, "devs"), pairs(&[("alice", "viewer"), ("root", "owner")]));
}
