//! `portus serve` with LDAP against a real slapd: docker logins (token requests with Basic
//! credentials) of directory users, group -> team mapping, injection attempts, and an LDAP
//! outage that gives LDAP users a clear 503 while local users keep working.

use portus::auth::ldap_testing::Slapd;

use crate::harness::{Portus, basic, http_get, status};

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
