//! `portus webhook ...` on the local store and through a running server: the secret printed
//! once, settings changed without touching the sealed ones, the delivery log of a real push
//! event and its re-send, and deletion; both backends name things alike.

use std::process::Output;
use std::time::Duration;

use crate::harness::{Portus, free_port, http_post, wait_until};

fn succeeded(output: Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Runs the webhook commands through `run` on namespace `web`, whose pushes reach nothing
/// listening at `hook`.
fn check_webhook_commands(p: &Portus, run: &dyn Fn(&[&str], Option<&str>) -> Output, hook: &str, push_id: &str) {
    let created = succeeded(run(
        &[
            "webhook",
            "create",
            "web",
            "--name",
            "ci",
            "--url",
            hook,
            "--event",
            "push",
            "--event",
            "delete",
            "--username",
            "robot",
            "--password-stdin",
            "--header",
            "X-Team: blue",
        ],
        Some("robot-password\n"),
    ));
    let secret = created.lines().last().unwrap().to_owned();
    assert!(secret.len() >= 32, "{created}");
    let listed = succeeded(run(&["webhook", "list", "web", "--json"], None));
    assert!(!listed.contains(&secret) && !listed.contains("robot-password") && !listed.contains("blue"));
    let webhook = &json(&listed)[0];
    assert_eq!(webhook["events"], serde_json::json!(["push", "delete"]));
    assert_eq!(
        (webhook["has_credentials"].as_bool(), webhook["enabled"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(webhook["headers"], serde_json::json!(["X-Team"]));

    let rotated = succeeded(run(&["webhook", "rotate-secret", "web", "ci"], None));
    let new_secret = rotated.lines().last().unwrap();
    assert!(new_secret.len() >= 32 && new_secret != secret, "{rotated}");
    let listed = succeeded(run(&["webhook", "list", "web", "--json"], None));
    assert!(!listed.contains(new_secret));

    // A refused setting changes nothing and says why.
    let refused = run(&["webhook", "update", "web", "ci", "--event", "pushed"], None);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("pushed"),
        "{refused:?}"
    );
    let missing = run(&["webhook", "update", "web", "nope", "--disable"], None);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("namespace 'web' has no webhook named 'nope'"));

    succeeded(run(
        &["webhook", "update", "web", "ci", "--disable", "--remove-credentials"],
        None,
    ));
    let webhook = &json(&succeeded(run(&["webhook", "list", "web", "--json"], None)))[0];
    assert_eq!(
        (webhook["has_credentials"].as_bool(), webhook["enabled"].as_bool()),
        (Some(false), Some(false))
    );
    assert_eq!(
        webhook["headers"],
        serde_json::json!(["X-Team"]),
        "headers stay unless replaced"
    );
    succeeded(run(&["webhook", "update", "web", "ci", "--enable"], None));

    // A push reaches the queue; the receiver is down, so the attempt records the failure.
    let envelope = format!(
        r#"{{"events":[{{"id":"{push_id}","action":"push","actor":{{"name":"alice"}},"target":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":2,"digest":"sha256:{}","repository":"web/app","tag":"1.0"}}}}]}}"#,
        "ab".repeat(32)
    );
    let secret_header = p.webhook_authorization();
    let answer = http_post(
        p.addr,
        "/v2/webhooks/events",
        &[
            ("Authorization", secret_header.as_str()),
            ("Content-Type", "application/vnd.docker.distribution.events.v1+json"),
        ],
        &envelope,
    );
    assert!(answer.contains("\"accepted\":1"), "{answer}");
    let attempted = || {
        let log = json(&succeeded(run(&["webhook", "deliveries", "web", "ci", "--json"], None)));
        log.as_array()
            .unwrap()
            .first()
            .is_some_and(|d| d["attempts"].as_u64() >= Some(1))
    };
    assert!(wait_until(Duration::from_secs(20), attempted), "{}", p.log());
    let log = json(&succeeded(run(&["webhook", "deliveries", "web", "ci", "--json"], None)));
    let first = &log[0];
    assert_eq!(first["event"], "push");
    assert!(first["last_attempt"]["error"].is_string(), "{first}");
    let table = succeeded(run(&["webhook", "deliveries", "web", "ci"], None));
    assert!(table.starts_with("ID") && table.contains("push"), "{table}");

    let id = first["id"].as_i64().unwrap().to_string();
    let resent = succeeded(run(&["webhook", "resend", "web", "ci", &id], None));
    assert!(resent.contains(&format!("queued delivery {id} again")), "{resent}");
    let log = json(&succeeded(run(&["webhook", "deliveries", "web", "ci", "--json"], None)));
    assert_eq!(log.as_array().unwrap().len(), 2, "{log}");
    let unknown = run(&["webhook", "resend", "web", "ci", "999999"], None);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("webhook 'ci' has no delivery 999999"));

    succeeded(run(&["webhook", "delete", "web", "ci"], None));
    assert_eq!(
        json(&succeeded(run(&["webhook", "list", "web", "--json"], None))),
        serde_json::json!([])
    );
}

#[test]
fn webhook_commands_work_on_the_local_store_and_through_the_server_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = Portus::new(tmp.path(), "registry.cli", "");
    p.append_config(
        "[sync]\ninterval_secs = 0\n[webhooks]\nallow_private_targets = true\nfirst_retry_secs = 1\nmax_retry_secs = 2\n",
    );
    p.user("alice", "alice-password");
    p.cli(&["user", "create", "root", "--admin"], None);
    p.cli(&["team", "create", "devs", "--owner", "alice"], None);
    p.cli(&["namespace", "create", "web", "--team", "devs"], None);
    let token = p.cli(&["token", "create", "root", "--name", "admin"], None);
    let token = token.lines().last().unwrap().to_owned();
    p.start();
    let hook = format!("http://127.0.0.1:{}/hook", free_port());

    let local = |args: &[&str], stdin: Option<&str>| p.try_cli(args, stdin);
    check_webhook_commands(&p, &local, &hook, "local-push");
    let activity = p.cli(&["activity", "--limit", "20"], None);
    for action in ["webhook.create", "webhook.update", "webhook.delete"] {
        assert!(activity.contains(action), "{activity}");
    }

    let url = format!("http://{}", p.addr);
    let remote = |args: &[&str], stdin: Option<&str>| {
        let mut full = vec!["--server", url.as_str(), "--token", token.as_str()];
        full.extend_from_slice(args);
        p.try_cli(&full, stdin)
    };
    check_webhook_commands(&p, &remote, &hook, "remote-push");

    // Without allow_private_targets the server refuses loopback targets: shown as its message.
    let refused = remote(
        &[
            "webhook",
            "create",
            "web",
            "--name",
            "x",
            "--url",
            "ftp://203.0.113.10/",
        ],
        None,
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("http or https"),
        "{refused:?}"
    );
}
