//! End to end: outgoing webhooks with the real registry (`docker-registry`, `skopeo`,
//! `portus serve`) and a real receiver process that verifies every signature
//! (`tests/fixtures/webhooks/receiver.py`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{
    Creds, Daemon, Portus, Registry, assert_ok, free_port, http_get, http_post, oci_layout, skopeo_copy, status,
    wait_for_port, wait_until,
};

const SERVICE: &str = "registry.hooks";
/// Longest a delivery may take once its event is applied and the receiver is up ("within
/// seconds"), with room for a loaded machine.
const PROMPTLY: Duration = Duration::from_secs(15);

fn body(response: &str) -> Value {
    let json = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}): {response}"))
}

/// The receiver process on `port`: appends verified bodies to `out`.
fn receiver(dir: &Path, port: u16, secret: &Path, out: &Path) -> Daemon {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/webhooks/receiver.py");
    let log = dir.join(format!("receiver-{}.log", free_port()));
    let daemon = Daemon::spawn(
        Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .arg(secret)
            .arg(out),
        log.clone(),
    );
    wait_for_port(SocketAddr::from(([127, 0, 0, 1], port)), "receiver", &log);
    daemon
}

/// The verified bodies so far.
fn received(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `repository:tag` of each verified push.
fn pushes(out: &Path) -> Vec<String> {
    received(out)
        .iter()
        .filter(|b| b["event"] == "push")
        .map(|b| format!("{}:{}", b["repository"].as_str().unwrap(), b["tag"].as_str().unwrap()))
        .collect()
}

fn push(tmp: &Path, registry: SocketAddr, target: &str, creds: Creds) {
    let layout = tmp.join(format!("image-{}", target.replace(['/', ':'], "-")));
    oci_layout(&layout, "1", &format!("content of {target}\n"));
    let output = skopeo_copy(
        &format!("oci:{}:1", layout.display()),
        Creds::Anonymous,
        &format!("docker://{registry}/{target}"),
        creds,
    );
    assert_ok(&format!("push {target}"), &output);
}

/// A running portus and the registry it serves, with user alice and her application token.
struct Started {
    portus: Portus,
    registry: Registry,
    /// `Bearer <alice's application token>`.
    bearer: String,
    /// The id of alice's personal namespace.
    alice_ns: i64,
}

/// Starts portus (with `extra` configuration) and the registry, and creates alice.
fn start(dir: &Path, extra: &str) -> Started {
    let registry_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut portus = Portus::new(dir, SERVICE, "");
    portus.append_config(&format!(
        "[registry]\nurl = \"http://{registry_addr}\"\n[sync]\ninterval_secs = 0\n{extra}"
    ));
    let yaml = portus.cli(&["config", "registry"], None);
    portus.start();
    let registry = Registry::start_on(dir, &yaml, registry_addr);
    portus.user("alice", "alice-password");
    let token = portus.cli(&["token", "create", "alice", "--name", "hooks"], None);
    let bearer = format!("Bearer {}", token.lines().last().unwrap().trim());
    let namespaces = body(&http_get(
        portus.addr,
        "/api/v1/namespaces",
        &[("Authorization", bearer.as_str())],
    ));
    let alice_ns = namespaces
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "alice")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    Started {
        portus,
        registry,
        bearer,
        alice_ns,
    }
}

#[test]
fn pushes_reach_a_verifying_receiver_in_order_across_outages_and_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let Started {
        mut portus,
        registry,
        bearer,
        alice_ns,
    } = start(dir, "");
    portus.user("bob", "bob-password");
    let auth = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let hooks = format!("/api/v1/namespaces/{alice_ns}/webhooks");
    let port = free_port();
    let create = serde_json::json!({"name": "ci", "url": format!("http://127.0.0.1:{port}/hook"), "events": ["push"]})
        .to_string();

    // (e) A loopback target is refused by default.
    let refused = http_post(portus.addr, &hooks, &auth, &create);
    assert_eq!(status(&refused), 422, "{refused}");
    assert!(refused.contains("internal address"), "{refused}");

    // Allowed with webhooks.allow_private_targets = true (retries every second or two).
    portus.stop();
    portus.append_config("[webhooks]\nallow_private_targets = true\nfirst_retry_secs = 1\nmax_retry_secs = 2\n");
    portus.start();
    let created = http_post(portus.addr, &hooks, &auth, &create);
    assert_eq!(status(&created), 201, "{created}");
    let created = body(&created);
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 64);
    let webhook_id = created["id"].as_i64().unwrap();
    let shown = http_get(portus.addr, &format!("{hooks}/{webhook_id}"), &auth);
    assert!(!shown.contains(&secret) && !shown.contains("\"secret\""), "{shown}");
    let secret_file: PathBuf = dir.join("secret");
    std::fs::write(&secret_file, &secret).unwrap();
    let out = dir.join("received.jsonl");

    // (a) A push into the namespace arrives, signed, within seconds.
    let up = receiver(dir, port, &secret_file, &out);
    push(
        dir,
        registry.addr,
        "alice/app:1",
        Creds::User("alice", "alice-password"),
    );
    assert!(
        wait_until(PROMPTLY, || pushes(&out) == ["alice/app:1"]),
        "{:?}\n{}",
        pushes(&out),
        portus.log()
    );
    let first = &received(&out)[0];
    assert_eq!(
        (first["namespace"].as_str(), first["actor"].as_str()),
        (Some("alice"), Some("alice"))
    );
    // The metrics saw it: the registry's events applied (with their lag), the delivery made.
    let metrics = http_get(portus.addr, "/metrics", &[]);
    let sample = |prefix: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(prefix).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {prefix} in {metrics}"))
    };
    assert!(sample("portus_registry_events_finished_total{state=\"applied\"} ") >= 1.0);
    assert!(sample("portus_registry_event_apply_lag_seconds_count ") >= 1.0);
    assert!(sample("portus_webhook_deliveries_total{result=\"delivered\"} ") >= 1.0);

    // (c) A push into another namespace does not reach it (applied before the next push).
    push(dir, registry.addr, "bob/other:1", Creds::User("bob", "bob-password"));
    push(
        dir,
        registry.addr,
        "alice/app:2",
        Creds::User("alice", "alice-password"),
    );
    assert!(wait_until(PROMPTLY, || pushes(&out).len() == 2), "{:?}", pushes(&out));
    assert_eq!(pushes(&out), ["alice/app:1", "alice/app:2"]);

    // (b) Pushes while the receiver is down, a restart of portus in between: they arrive once
    // it is back, in order.
    drop(up);
    push(
        dir,
        registry.addr,
        "alice/app:3",
        Creds::User("alice", "alice-password"),
    );
    push(
        dir,
        registry.addr,
        "alice/app:4",
        Creds::User("alice", "alice-password"),
    );
    let deliveries = format!("{hooks}/{webhook_id}/deliveries");
    assert!(
        wait_until(PROMPTLY, || {
            let log = body(&http_get(portus.addr, &deliveries, &auth));
            log.as_array()
                .unwrap()
                .iter()
                .any(|d| d["state"] == "pending" && d["attempts"].as_u64() >= Some(1))
        }),
        "the first delivery to a receiver that is down is attempted and kept"
    );
    portus.stop();
    portus.start();
    let _up = receiver(dir, port, &secret_file, &out);
    assert!(
        wait_until(PROMPTLY, || pushes(&out).len() == 4),
        "{:?}\n{}",
        pushes(&out),
        portus.log()
    );
    assert_eq!(
        pushes(&out),
        ["alice/app:1", "alice/app:2", "alice/app:3", "alice/app:4"]
    );

    // (d) A re-send delivers the same body again.
    let log = body(&http_get(portus.addr, &deliveries, &auth));
    let original = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(original["state"], "delivered");
    let last = original["last_attempt"].clone();
    assert_eq!(last["status"], 204, "{last}");
    assert!(
        last["request_headers"]
            .as_str()
            .unwrap()
            .contains("x-portus-signature-256: sha256=")
    );
    let resent = http_post(
        portus.addr,
        &format!("{deliveries}/{}/resend", original["id"]),
        &auth,
        "",
    );
    assert_eq!(status(&resent), 202, "{resent}");
    assert!(wait_until(PROMPTLY, || pushes(&out).len() == 5), "{:?}", pushes(&out));
    assert_eq!(received(&out)[4]["id"], received(&out)[0]["id"]);
    assert!(
        !out.with_extension("jsonl.rejected").exists(),
        "every signature verified"
    );
    assert!(!pushes(&out).iter().any(|p| p.starts_with("bob/")));
}

/// Scan events: a push scanned by the dummy scanner reaches the receiver as `scan_completed`
/// and `vulnerability_found` (its findings reach the webhook's `min_severity`), signed, with the
/// scan summary; the push event itself is not wanted by this webhook and not sent.
#[test]
fn scan_outcomes_reach_a_verifying_receiver() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let Started {
        portus,
        registry,
        bearer,
        alice_ns,
    } = start(
        dir,
        "[security]\ninterval_secs = 1\n[security.dummy]\nserver = \"on\"\n\
         [webhooks]\nallow_private_targets = true\nfirst_retry_secs = 1\nmax_retry_secs = 2\n",
    );
    let auth = [("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
    let port = free_port();
    let create = serde_json::json!({
        "name": "scans",
        "url": format!("http://127.0.0.1:{port}/hook"),
        "events": ["scan_completed", "vulnerability_found"],
        "min_severity": "high",
    })
    .to_string();
    let created = http_post(
        portus.addr,
        &format!("/api/v1/namespaces/{alice_ns}/webhooks"),
        &auth,
        &create,
    );
    assert_eq!(status(&created), 201, "{created}");
    let secret_file = dir.join("secret");
    std::fs::write(&secret_file, body(&created)["secret"].as_str().unwrap()).unwrap();
    let out = dir.join("received.jsonl");
    let _up = receiver(dir, port, &secret_file, &out);
    push(
        dir,
        registry.addr,
        "alice/app:1",
        Creds::User("alice", "alice-password"),
    );
    let events = || {
        let mut events: Vec<String> = received(&out)
            .iter()
            .map(|b| b["event"].as_str().unwrap().to_owned())
            .collect();
        events.sort();
        events
    };
    assert!(
        wait_until(Duration::from_secs(30), || events()
            == ["scan_completed", "vulnerability_found"]),
        "{:?}\n{}",
        received(&out),
        portus.log()
    );
    let found = received(&out)
        .into_iter()
        .find(|b| b["event"] == "vulnerability_found")
        .unwrap();
    assert_eq!(
        (found["repository"].as_str(), found["namespace"].as_str()),
        (Some("alice/app"), Some("alice"))
    );
    assert_eq!(found["scan"]["backend"], "dummy");
    assert_eq!(found["scan"]["worst"], "high");
    assert_eq!(found["scan"]["vulnerabilities"], 3);
}
