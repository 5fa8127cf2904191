//! The `portus` admin commands: results and clear errors for misuse.

use std::process::Output;

use crate::harness::Portus;

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_fails(output: &Output, code: i32, expected: &str) {
    assert_eq!(output.status.code(), Some(code), "stderr: {}", stderr(output));
    assert!(
        stderr(output).contains(expected),
        "expected '{expected}' in: {}",
        stderr(output)
    );
}

#[test]
fn admin_commands_report_misuse_clearly_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Portus::new(tmp.path(), "registry.cli", "");
    let created = p.cli(
        &["user", "create", "alice", "--password-stdin"],
        Some("alice-password\n"),
    );
    assert!(
        created.contains("Created user 'alice' with personal namespace 'alice'"),
        "{created}"
    );

    assert_fails(
        &p.try_cli(
            &["user", "create", "alice", "--password-stdin"],
            Some("other-password\n"),
        ),
        1,
        "already exists",
    );
    assert_fails(
        &p.try_cli(&["user", "create", "bob", "--password-stdin"], Some("short\n")),
        1,
        "8 to 72",
    );
    assert_fails(
        &p.try_cli(&["user", "create", "bob", "--password-stdin"], Some("")),
        1,
        "standard input was empty",
    );
    // Neither failed attempt created bob.
    assert_fails(
        &p.try_cli(&["token", "create", "bob", "--name", "ci"], None),
        1,
        "no user named 'bob'",
    );
    assert_fails(&p.try_cli(&["user", "create", "a:b"], None), 1, "must not contain ':'");
    assert_fails(
        &p.try_cli(&["user", "disable", "ghost"], None),
        1,
        "no user named 'ghost'",
    );

    p.cli(&["team", "create", "devs", "--owner", "alice"], None);
    assert_fails(
        &p.try_cli(&["team", "create", "devs", "--owner", "alice"], None),
        1,
        "team 'devs' already exists",
    );
    assert_fails(
        &p.try_cli(&["team", "create", "ops", "--owner", "ghost"], None),
        1,
        "no user named 'ghost'",
    );
    assert_fails(
        &p.try_cli(&["team", "add-member", "devs", "alice", "--role", "boss"], None),
        2,
        "unknown role 'boss'",
    );
    assert_fails(
        &p.try_cli(&["team", "add-member", "nope", "alice", "--role", "viewer"], None),
        1,
        "no team named 'nope'",
    );
    assert_fails(
        &p.try_cli(&["team", "add-member", "alice", "alice", "--role", "viewer"], None),
        1,
        "belongs to a personal namespace",
    );
    assert_fails(
        &p.try_cli(&["namespace", "create", "Web", "--team", "devs"], None),
        1,
        "invalid namespace name",
    );
    assert_fails(
        &p.try_cli(&["namespace", "create", "alice", "--team", "devs"], None),
        1,
        "namespace 'alice' already exists",
    );
    assert_fails(
        &p.try_cli(
            &["namespace", "create", "web", "--team", "devs", "--visibility", "secret"],
            None,
        ),
        2,
        "unknown visibility 'secret'",
    );
    let made = p.cli(
        &[
            "namespace",
            "create",
            "web",
            "--team",
            "devs",
            "--visibility",
            "protected",
        ],
        None,
    );
    assert!(
        made.contains("Created protected namespace 'web' owned by team 'devs'"),
        "{made}"
    );

    let first = p.cli(&["token", "create", "alice", "--name", "laptop"], None);
    assert_fails(
        &p.try_cli(&["token", "create", "alice", "--name", "laptop"], None),
        1,
        "already exists",
    );
    assert!(first.lines().last().unwrap().starts_with("pat_"), "{first}");

    assert_fails(&p.try_cli(&["user"], None), 2, "Usage");

    // Every successful admin change is in the activity log; failed attempts are not.
    let log: serde_json::Value = serde_json::from_str(&p.cli(&["activity", "--json", "--actor", "cli"], None)).unwrap();
    let entries: Vec<(String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_owned(),
                a["target"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("application_token.create", "alice/laptop"),
        ("namespace.create", "web"),
        ("team.create", "devs"),
        ("user.create", "alice"),
    ];
    assert_eq!(entries, expected.map(|(a, t)| (a.to_owned(), t.to_owned())));
    let only_users = p.cli(&["activity", "--action", "user."], None);
    assert_eq!(only_users.lines().count(), 1, "{only_users}");
    assert!(
        only_users.contains("user.create") && only_users.contains("alice"),
        "{only_users}"
    );
}

/// The CLI changes teams through the same operations as the REST API: an administrator added
/// as a viewer joins as an owner, the act is recorded as `team.member.add`, and disabling a user
/// is recorded once.
#[test]
fn cli_changes_follow_the_same_rules_and_names_as_the_api() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Portus::new(tmp.path(), "registry.cli", "");
    p.cli(&["user", "create", "alice"], None);
    p.cli(&["user", "create", "root", "--admin"], None);
    p.cli(&["team", "create", "devs", "--owner", "alice"], None);
    let added = p.cli(&["team", "add-member", "devs", "root", "--role", "viewer"], None);
    assert!(added.contains("'root' is now owner of team 'devs'"), "{added}");
    assert_fails(
        &p.try_cli(&["team", "add-member", "devs", "root", "--role", "owner"], None),
        1,
        "root is already a member",
    );
    p.cli(&["user", "disable", "alice"], None);
    let log: serde_json::Value = serde_json::from_str(&p.cli(&["activity", "--json", "--actor", "cli"], None)).unwrap();
    let entries: Vec<(&str, &str, Option<&str>)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap(),
                a["target"].as_str().unwrap(),
                a["details"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("user.disable", "alice", None),
            ("team.member.add", "devs", Some("root as owner")),
            ("team.create", "devs", None),
            ("user.create", "root", None),
            ("user.create", "alice", None),
        ]
    );
}

#[test]
fn bad_configuration_is_reported_with_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Portus::new(tmp.path(), "registry.cli", "lifetime_secs = 5\n");
    assert_fails(
        &p.try_cli(&["config", "registry"], None),
        1,
        "token.lifetime_secs must be at least 60",
    );
    let p = Portus::new(tmp.path(), "registry.cli", "colour = \"blue\"\n");
    assert_fails(&p.try_cli(&["serve"], None), 1, "unknown field `colour`");
}

#[test]
fn config_registry_points_the_registry_at_us() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Portus::new(tmp.path(), "registry.cli", "");
    let yaml = p.cli(&["config", "registry"], None);
    let line = |key: &str| {
        yaml.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{key}: ")))
            .unwrap_or_else(|| panic!("{key} missing in {yaml}"))
            .trim_matches('"')
            .to_owned()
    };
    assert_eq!(line("realm"), format!("http://{}/v2/token", p.addr));
    assert_eq!(line("service"), "registry.cli");
    assert_eq!(line("issuer"), "portus.test");
    let bundle = std::fs::read_to_string(line("rootcertbundle")).unwrap();
    assert!(bundle.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(line("url"), format!("http://{}/v2/webhooks/events", p.addr));
    assert!(yaml.contains("Authorization: [\"Bearer "), "{yaml}");
    // Stable across runs: the key and the webhook secret are generated once.
    assert_eq!(p.cli(&["config", "registry"], None), yaml);
}

#[test]
fn serve_reports_a_busy_port() {
    let tmp = tempfile::tempdir().unwrap();
    let p = Portus::new(tmp.path(), "registry.cli", "");
    let _occupied = std::net::TcpListener::bind(p.addr).unwrap();
    assert_fails(&p.try_cli(&["serve"], None), 1, &p.addr.to_string());
}
