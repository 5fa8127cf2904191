//! End to end with real Clair v4 as an air-gapped installation runs it: `clair -mode combo` on
//! its own PostgreSQL database, updaters off, vulnerability data loaded offline with
//! `clairctl import-updaters`. An Alpine-like image pushed with skopeo to the real registry is
//! indexed by Clair (which downloads its layer from the registry with the token portus gives
//! it) and its finding shows in the API and on the tag page; Clair without vulnerability data
//! is shown as such, a stopped Clair is a failed scan, never a clean one, and the scan is
//! retried until Clair is back. The stand-in Clair servers stay for what the real one cannot
//! be made to do (slow answers, garbage): see `portus-scan/src/backend/clair_v4_tests.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    Clair, Creds, Portus, Registry, assert_ok, free_port, http_get, oci_layout_with_files, skopeo_copy, status,
    wait_until, web_session,
};

const SERVICE: &str = "registry.clair";
const ALICE: Creds = Creds::User("alice", "alice-password");
/// Longest wait for something the scan worker does in the background (it retries failures
/// after 1 s, doubling): far more than it needs.
const PATIENCE: Duration = Duration::from_secs(90);

const OS_RELEASE: &str = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.22.1\nPRETTY_NAME=\"Alpine Linux v3.22\"\n";
/// The apk database: one package, every line newline-terminated, then a blank line.
const INSTALLED: &str = "P:testpkg\nV:1.0.0-r0\nA:x86_64\no:testpkg\n\n";

/// What the offline data says: testpkg before 1.0.0-r1 is vulnerable on Alpine 3.22.
fn vulnerability() -> Value {
    json!({
        "name": "CVE-2099-0001", "updater": "test-alpine", "description": "test only",
        "links": "https://example.invalid/CVE-2099-0001", "severity": "High", "normalized_severity": "High",
        "package": {"name": "testpkg", "kind": "binary"},
        "distribution": {"did": "alpine", "name": "Alpine Linux", "version_id": "3.22", "pretty_name": "Alpine Linux v3.22"},
        "fixed_in_version": "1.0.0-r1"
    })
}

// Fields drop in order: the servers stop (showing their logs if the test failed) before their
// directory is removed.
struct Setup {
    portus: Portus,
    clair: Clair,
    registry: Registry,
    tmp: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let clair_dir = tmp.path().join("clair");
        std::fs::create_dir_all(&clair_dir).unwrap();
        let clair = Clair::start(&clair_dir);
        let registry_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut portus = Portus::new(tmp.path(), SERVICE, "");
        portus.append_config(&format!(
            "[registry]\nurl = \"http://{registry_addr}\"\n[security]\ninterval_secs = 1\nretry_after_secs = 1\n\
             [security.clair_v4]\nserver = \"{}\"\ntimeout_secs = 60\n",
            clair.url()
        ));
        let yaml = portus.cli(&["config", "registry"], None);
        portus.start();
        let registry = Registry::start_on(tmp.path(), &yaml, registry_addr);
        portus.user("alice", "alice-password");
        Setup {
            portus,
            clair,
            registry,
            tmp,
        }
    }

    /// Pushes a one-layer Alpine-like image with testpkg 1.0.0-r0 installed; `extra` makes
    /// the image (and so its digest) distinct.
    fn push_alpine(&self, target: &str, extra: &str) {
        let layout = self
            .tmp
            .path()
            .join(format!("image-{}", target.replace(['/', ':'], "-")));
        oci_layout_with_files(
            &layout,
            "1",
            &[
                ("etc/os-release", OS_RELEASE.as_bytes()),
                ("lib/apk/db/installed", INSTALLED.as_bytes()),
                ("etc/motd", extra.as_bytes()),
            ],
        );
        let output = skopeo_copy(
            &format!("oci:{}:1", layout.display()),
            Creds::Anonymous,
            &format!("docker://{}/{target}", self.registry.addr),
            ALICE,
        );
        assert_ok(&format!("push {target}"), &output);
    }

    /// The stored scan result of `reference` (as `portus scan --stored --json` prints it).
    fn stored(&self, reference: &str) -> Value {
        let output = self.portus.try_cli(&["scan", reference, "--stored", "--json"], None);
        serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
    }

    /// Waits until the stored result of `reference` satisfies `condition`; returns it.
    fn wait_for(&self, reference: &str, what: &str, condition: impl Fn(&Value) -> bool) -> Value {
        let reached = wait_until(PATIENCE, || condition(&self.stored(reference)));
        let last = self.stored(reference);
        assert!(
            reached,
            "{reference}: never {what}; last result {last}; portus log:\n{}",
            self.portus.log()
        );
        last
    }

    /// The id portus gave the tag `reference`.
    fn tag_id(&self, reference: &str) -> i64 {
        let tags: Value = serde_json::from_str(&self.portus.cli(&["tag", "list", "--json"], None)).unwrap();
        tags.as_array()
            .unwrap()
            .iter()
            .find(|t| format!("{}:{}", t["repository"].as_str().unwrap(), t["name"].as_str().unwrap()) == reference)
            .and_then(|t| t["id"].as_i64())
            .unwrap_or_else(|| panic!("no tag {reference}: {tags}"))
    }

    /// `GET path` on the API as alice with an application token; the JSON answer.
    fn api(&self, token: &str, path: &str) -> Value {
        let auth = format!("alice:{token}");
        let response = http_get(self.portus.addr, path, &[("Portus-Auth", &auth)]);
        assert_eq!(status(&response), 200, "{path}: {response}");
        serde_json::from_str(body(&response)).unwrap()
    }

    /// The health endpoint's status and components.
    fn health(&self) -> (u16, Value) {
        let response = http_get(self.portus.addr, "/api/v1/health", &[]);
        (status(&response), serde_json::from_str(body(&response)).unwrap())
    }
}

fn body(response: &str) -> &str {
    response.split("\r\n\r\n").nth(1).unwrap_or_default()
}

/// The tag page of tag `id`, signed in with `session`.
fn tag_page(portus: &Portus, session: &str, id: i64) -> String {
    let page = http_get(portus.addr, &format!("/tags/{id}"), &[("Cookie", session)]);
    assert_eq!(status(&page), 200, "{page}");
    page
}

#[test]
fn real_clair_with_offline_data_finds_the_vulnerable_package_and_is_never_a_false_clean() {
    let mut s = Setup::new();
    let token = s
        .portus
        .cli(&["token", "create", "alice", "--name", "api"], None)
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let session = web_session(&s.portus, "alice", "alice-password");

    // 1. Clair runs but has no vulnerability data yet: the image is indexed, and the tag says
    // why it has no result instead of looking clean.
    s.push_alpine("alice/alpine:1.0", "first\n");
    let result = s.wait_for("alice/alpine:1.0", "failed for lack of data", |r| {
        r["status"] == "failed"
            && r["backends"]["clair"]
                .as_str()
                .is_some_and(|b| b.contains("Clair has no vulnerability data yet"))
    });
    assert!(result["vulnerabilities"].as_array().unwrap().is_empty(), "{result}");
    let id = s.tag_id("alice/alpine:1.0");
    let answer = s.api(&token, &format!("/api/v1/tags/{id}/vulnerabilities"));
    assert_eq!(answer["security"]["status"], "failed", "{answer}");
    let page = tag_page(&s.portus, &session, id);
    assert!(
        page.contains("Clair has no vulnerability data yet") && page.contains("Scan failed"),
        "{page}"
    );
    assert!(!page.contains("No known vulnerabilities"), "never clean: {page}");
    let (code, health) = s.health();
    assert_eq!(code, 503, "{health}");
    assert_eq!(health["scanner:clair"]["success"], false, "{health}");
    assert!(
        health["scanner:clair"]["msg"]
            .as_str()
            .unwrap()
            .contains("no vulnerability data yet"),
        "{health}"
    );

    // 2. The administrator imports the data offline; the retried scan finds the package.
    s.clair.import("test-alpine", &[vulnerability()]);
    let result = s.wait_for("alice/alpine:1.0", "done", |r| r["status"] == "done");
    assert_eq!(result["backends"], json!({"clair": "done"}), "{result}");
    let findings = result["vulnerabilities"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{result}");
    let finding = &findings[0];
    assert_eq!(finding["id"], "CVE-2099-0001");
    assert_eq!(finding["severity"], "High");
    assert_eq!(finding["packages"], json!([["testpkg", "1.0.0-r0"]]));
    assert_eq!(finding["fixed_in"], json!(["1.0.0-r1"]));
    assert_eq!(finding["found_by"], json!(["clair"]));
    assert_eq!(finding["links"], json!(["https://example.invalid/CVE-2099-0001"]));
    let answer = s.api(&token, &format!("/api/v1/tags/{id}/vulnerabilities"));
    assert_eq!(answer["security"]["status"], "done", "{answer}");
    assert_eq!(answer["security"]["vulnerabilities"][0]["id"], "CVE-2099-0001");
    assert_eq!(answer["security"]["counts"], json!({"High": 1}));
    let page = tag_page(&s.portus, &session, id);
    for shown in ["CVE-2099-0001", "testpkg 1.0.0-r0", "1.0.0-r1", "sev-high", "1 high"] {
        assert!(page.contains(shown), "{shown} not on the tag page: {page}");
    }
    let (code, health) = s.health();
    assert_eq!(code, 200, "{health}");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let msg = health["scanner:clair"]["msg"].as_str().unwrap();
    assert!(
        msg.starts_with(&format!("ok; vulnerability data updated {today}")),
        "the age of the imported data: {health}"
    );

    // 3. Clair is stopped: a new image's scan fails (never clean) and is retried until Clair
    // is back.
    s.clair.stop();
    s.push_alpine("alice/alpine:2.0", "second\n");
    let result = s.wait_for("alice/alpine:2.0", "failed while Clair is down", |r| {
        r["status"] == "failed"
    });
    assert!(
        result["backends"]["clair"]
            .as_str()
            .unwrap()
            .starts_with("failed: security scanner is unavailable"),
        "{result}"
    );
    let second = s.tag_id("alice/alpine:2.0");
    let page = tag_page(&s.portus, &session, second);
    assert!(
        page.contains("Scan failed") && !page.contains("No known vulnerabilities"),
        "{page}"
    );
    assert_eq!(s.health().0, 503);
    assert_eq!(
        s.stored("alice/alpine:1.0")["status"],
        "done",
        "what was found stays shown"
    );
    s.clair.resume();
    let result = s.wait_for("alice/alpine:2.0", "done after Clair came back", |r| {
        r["status"] == "done"
    });
    assert_eq!(result["vulnerabilities"][0]["id"], "CVE-2099-0001", "{result}");
}
