//! End to end: the registry's notifications and the catalog sync keep portus' view of
//! repositories, tags and digests true (real Distribution registries, `skopeo`, `portus serve`;
//! the notification, periodic sync and tag deletion suites run against both 2.8 and 3).

use std::net::SocketAddr;
use std::process::Output;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::harness::{
    Creds, FaultyProxy, Flavour, Portus, Registry, against_both_registries, free_port, http_post, oci_index_layout,
    oci_layout, skopeo_copy, skopeo_copy_with, skopeo_delete, skopeo_digest, wait_until,
};

const SERVICE: &str = "registry.sync";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
const ALICE: Creds = Creds::User("alice", "alice-password");
/// How long a pushed tag may take to be recorded (the issue's bound).
const PROMPTLY: chrono::TimeDelta = chrono::TimeDelta::seconds(2);
/// How long the tests poll for something the server does in the background: far longer than
/// the server needs, so a loaded test machine that polls late fails nothing.
const PATIENCE: Duration = Duration::from_secs(20);

// Fields drop in order: the servers stop (showing their logs if the test failed) before their
// directory is removed.
struct Setup {
    portus: Portus,
    registry: Registry,
    tmp: tempfile::TempDir,
}

impl Setup {
    /// portus and a registry; with `webhook_up = false` the registry's notifications go to a
    /// closed port, as when portus was down.
    fn new(webhook_up: bool) -> Setup {
        Self::with_sync_interval(webhook_up, 0)
    }

    fn with_sync_interval(webhook_up: bool, interval_secs: u64) -> Setup {
        Self::with_config(webhook_up, interval_secs, "")
    }

    fn with_config(webhook_up: bool, interval_secs: u64, extra_toml: &str) -> Setup {
        Self::with_flavour(Flavour::V2_8, webhook_up, interval_secs, extra_toml)
    }

    fn with_flavour(flavour: Flavour, webhook_up: bool, interval_secs: u64, extra_toml: &str) -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let registry_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut portus = Portus::new(tmp.path(), SERVICE, "");
        portus.append_config(&format!(
            "[registry]\nurl = \"http://{registry_addr}\"\n[sync]\ninterval_secs = {interval_secs}\nstrategy = \"update-delete\"\n{extra_toml}"
        ));
        let mut yaml = portus.cli(&["config", "registry"], None);
        if !webhook_up {
            let ours = format!("http://{}/v2/webhooks/events", portus.addr);
            assert!(yaml.contains(&ours), "{yaml}");
            yaml = yaml.replace(&ours, &format!("http://127.0.0.1:{}/v2/webhooks/events", free_port()));
        }
        portus.start();
        let registry = Registry::start_on_flavour(tmp.path(), &yaml, registry_addr, flavour);
        portus.user("alice", "alice-password");
        Setup { tmp, portus, registry }
    }

    fn reference(&self, target: &str) -> String {
        format!("docker://{}/{}", self.registry.addr, target)
    }

    /// Pushes a fresh single-layer image (distinct content) to `target`.
    fn push(&self, target: &str, extra: &[&str]) -> Pushed {
        let layout = self
            .tmp
            .path()
            .join(format!("image-{}", target.replace(['/', ':'], "-")));
        oci_layout(&layout, "1", &format!("content of {target}\n"));
        let output = skopeo_copy_with(
            extra,
            &format!("oci:{}:1", layout.display()),
            Creds::Anonymous,
            &self.reference(target),
            ALICE,
        );
        assert_ok(&format!("push {target}"), &output);
        let finished = Utc::now();
        Pushed {
            digest: skopeo_digest(&self.reference(target), ALICE),
            finished,
        }
    }

    /// Pushes a two-platform OCI index to `target` with `skopeo copy --all`; the digest is the
    /// one the registry holds (skopeo re-serializes an index it copies).
    fn push_index(&self, target: &str) -> Pushed {
        let layout = self
            .tmp
            .path()
            .join(format!("index-{}", target.replace(['/', ':'], "-")));
        oci_index_layout(&layout, "1.0");
        let source = format!("oci:{}:1.0", layout.display());
        assert_ok(
            "push the index",
            &skopeo_copy_with(&["--all"], &source, Creds::Anonymous, &self.reference(target), ALICE),
        );
        let finished = Utc::now();
        Pushed {
            digest: skopeo_digest(&self.reference(target), ALICE),
            finished,
        }
    }

    /// Waits for `reference` and checks, by the server's own record of when it stored the tag,
    /// that it was recorded within [`PROMPTLY`] of the push returning; returns (digest, media
    /// type, pushed by).
    fn recorded_promptly(&self, reference: &str, pushed: &Pushed) -> (String, String, Option<String>) {
        assert!(
            wait_until(PATIENCE, || self.tag(reference).is_some()),
            "{reference} never recorded; portus log:\n{}",
            self.portus.log()
        );
        let recorded = self.recorded_at(reference).unwrap();
        assert!(
            recorded - pushed.finished <= PROMPTLY,
            "{reference} recorded at {recorded}, more than {PROMPTLY} after the push returned at {}",
            pushed.finished
        );
        self.tag(reference).unwrap()
    }

    /// When portus first recorded `reference`.
    fn recorded_at(&self, reference: &str) -> Option<DateTime<Utc>> {
        let json: serde_json::Value = serde_json::from_str(&self.portus.cli(&["tag", "list", "--json"], None)).unwrap();
        json.as_array().unwrap().iter().find_map(|t| {
            let name = format!("{}:{}", t["repository"].as_str()?, t["name"].as_str()?);
            (name == reference).then(|| t["created_at"].as_str()?.parse().ok())?
        })
    }

    /// The tags portus has recorded: (repository:tag, digest, media type, pushed by).
    fn tags(&self) -> Vec<(String, String, String, Option<String>)> {
        let json: serde_json::Value = serde_json::from_str(&self.portus.cli(&["tag", "list", "--json"], None)).unwrap();
        json.as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    format!("{}:{}", t["repository"].as_str().unwrap(), t["name"].as_str().unwrap()),
                    t["manifest"]["digest"].as_str().unwrap().to_owned(),
                    t["manifest"]["media_type"].as_str().unwrap().to_owned(),
                    t["pushed_by"].as_str().map(str::to_owned),
                )
            })
            .collect()
    }

    fn tag(&self, reference: &str) -> Option<(String, String, Option<String>)> {
        self.tags()
            .into_iter()
            .find(|t| t.0 == reference)
            .map(|t| (t.1, t.2, t.3))
    }

    fn activities(&self, target: &str) -> Vec<serde_json::Value> {
        let out = self.portus.cli(&["activity", "--json", "--target", target], None);
        serde_json::from_str::<serde_json::Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }
}

/// A push skopeo finished.
struct Pushed {
    /// The manifest digest the registry holds.
    digest: String,
    /// When skopeo returned.
    finished: DateTime<Utc>,
}

fn assert_ok(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

against_both_registries!(
    notifications_record_pushes_of_every_manifest_type_and_deletes,
    tag_delete_never_takes_siblings_silently,
    serve_syncs_the_catalog_periodically,
);

/// Distribution 3 sends `…events.v2+json` envelopes, and one tag delete event (no digest) per
/// tag a manifest deletion untags.
fn notifications_record_pushes_of_every_manifest_type_and_deletes(flavour: Flavour) {
    let s = Setup::with_flavour(flavour, true, 0, "");

    // An OCI image appears with the right digest within 2 s of the push.
    let oci = s.push("alice/app:1.0", &[]);
    assert_eq!(
        s.recorded_promptly("alice/app:1.0", &oci),
        (oci.digest, OCI_MANIFEST.into(), Some("alice".into()))
    );

    // Docker schema 2, converted by skopeo.
    let docker = s.push("alice/app:1.0-docker", &["--format", "v2s2"]);
    let recorded = s.recorded_promptly("alice/app:1.0-docker", &docker);
    assert_eq!((recorded.0, recorded.1.as_str()), (docker.digest, DOCKER_V2));

    // A multi-arch OCI index: children pushed by digest, the index by tag.
    let index = s.push_index("alice/multi:1.0");
    let recorded = s.recorded_promptly("alice/multi:1.0", &index);
    assert_eq!((recorded.0, recorded.1.as_str()), (index.digest, OCI_INDEX));

    // Deleting a tag with skopeo is reflected; its neighbour stays.
    assert_ok(
        "skopeo delete",
        &skopeo_delete(&s.reference("alice/app:1.0-docker"), ALICE),
    );
    assert!(wait_until(PATIENCE, || s.tag("alice/app:1.0-docker").is_none()));
    assert!(s.tag("alice/app:1.0").is_some());
    let actions: Vec<String> = s
        .activities("alice/app:1.0-docker")
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["tag.delete", "tag.push"]);

    // Replaying an envelope changes nothing; a call without the secret is refused.
    let secret = s.portus.webhook_authorization();
    let envelope = r#"{"events":[{"id":"replayed-1","action":"push","actor":{"name":"alice"},
        "target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","repository":"alice/replayed","tag":"1"}}]}"#;
    let headers = [
        ("Authorization", secret.as_str()),
        ("Content-Type", "application/vnd.docker.distribution.events.v1+json"),
    ];
    let first = http_post(s.portus.addr, "/v2/webhooks/events", &headers, envelope);
    assert!(
        first.starts_with("HTTP/1.1 200") && first.contains("\"accepted\":1"),
        "{first}"
    );
    assert!(wait_until(PATIENCE, || s.tag("alice/replayed:1").is_some()));
    let before = (s.tags(), s.activities("alice/replayed"));
    let second = http_post(s.portus.addr, "/v2/webhooks/events", &headers, envelope);
    assert!(
        second.starts_with("HTTP/1.1 200") && second.contains("\"accepted\":0"),
        "{second}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!((s.tags(), s.activities("alice/replayed")), before);

    let forged = envelope
        .replace("replayed-1", "forged-1")
        .replace("alice/replayed", "alice/forged");
    let refused = http_post(s.portus.addr, "/v2/webhooks/events", &headers[1..], &forged);
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    let wrong = [("Authorization", "Bearer not-the-secret")];
    assert!(http_post(s.portus.addr, "/v2/webhooks/events", &wrong, &forged).starts_with("HTTP/1.1 401"));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        s.tag("alice/forged:1").is_none(),
        "an unauthenticated call must change nothing"
    );
}

#[test]
fn sync_recovers_missed_notifications_and_never_deletes_on_a_failing_registry() {
    let s = Setup::new(false);
    let one = s.push("alice/app:1.0", &[]).digest;
    let two = s.push("alice/app:2.0", &[]).digest;
    let other = s.push("alice/other:1.0", &[]).digest;
    let index = s.push_index("alice/multi:1.0").digest;
    std::thread::sleep(Duration::from_millis(1500));
    assert!(s.tags().is_empty(), "the webhook was down: nothing can be known yet");

    let dry = s.portus.cli(&["sync", "--dry-run"], None);
    assert!(
        dry.contains(&format!("add    alice/app:1.0 {one}")) && dry.contains("dry run"),
        "{dry}"
    );
    assert!(s.tags().is_empty(), "a dry run changes nothing");

    let report = s.portus.cli(&["sync"], None);
    assert!(report.contains("4 tags added"), "{report}");
    let mut expected = vec![
        ("alice/app:1.0".to_owned(), one, OCI_MANIFEST.to_owned(), None),
        ("alice/app:2.0".to_owned(), two, OCI_MANIFEST.to_owned(), None),
        ("alice/multi:1.0".to_owned(), index, OCI_INDEX.to_owned(), None),
        ("alice/other:1.0".to_owned(), other, OCI_MANIFEST.to_owned(), None),
    ];
    expected.sort();
    assert_eq!(s.tags(), expected);

    // alice/app:2.0 disappears from the registry while portus does not hear of it.
    assert_ok("skopeo delete", &skopeo_delete(&s.reference("alice/app:2.0"), ALICE));

    // A registry failing midway (one repository's tag listing): nothing is deleted.
    let proxy = FaultyProxy::start(s.registry.addr, "/alice/other/tags/list");
    let proxy_url = format!("http://{}", proxy.addr);
    let failing = s.portus.try_cli_env(
        &["sync", "--strategy", "update-delete"],
        None,
        &[("PORTUS_REGISTRY_URL", proxy_url.as_str())],
    );
    assert_ok("sync through the failing proxy", &failing);
    let out = String::from_utf8_lossy(&failing.stdout);
    assert!(
        out.contains("0 deleted") && out.contains("problem: listing tags of alice/other"),
        "{out}"
    );
    assert_eq!(s.tags(), expected, "a failed listing must not delete anything");

    // The same sync against the healthy registry deletes exactly the missing tag.
    let report = s.portus.cli(&["sync", "--strategy", "update-delete"], None);
    assert!(report.contains("1 deleted"), "{report}");
    expected.retain(|t| t.0 != "alice/app:2.0");
    assert_eq!(s.tags(), expected);
    let deleted = s.activities("alice/app:2.0");
    assert_eq!(deleted[0]["action"], "tag.delete");
    assert!(deleted[0]["details"].as_str().unwrap().contains("catalog sync"));

    // Without the catalog at all, the sync fails and changes nothing.
    let unreachable = format!("http://127.0.0.1:{}", free_port());
    let down = s.portus.try_cli_env(
        &["sync", "--strategy", "update-delete"],
        None,
        &[("PORTUS_REGISTRY_URL", unreachable.as_str())],
    );
    assert!(!down.status.success());
    assert!(
        String::from_utf8_lossy(&down.stderr).contains("registry"),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    assert_eq!(s.tags(), expected);
}

/// 2.8 deletes manifests only: a tag sharing its manifest is refused, then deleted with its
/// siblings when the caller agrees. Distribution 3 deletes the tag alone and keeps the
/// sibling; the manifest's last tag takes the manifest with it on both.
fn tag_delete_never_takes_siblings_silently(flavour: Flavour) {
    let s = Setup::with_flavour(flavour, true, 0, "");
    let digest = s.push("alice/app:1.0", &[]).digest;
    let source = s.reference("alice/app:1.0");
    assert_ok(
        "retag",
        &skopeo_copy(&source, ALICE, &s.reference("alice/app:latest"), ALICE),
    );
    assert!(wait_until(PATIENCE, || s.tag("alice/app:latest").is_some()
        && s.tag("alice/app:1.0").is_some()));
    let in_registry = |reference: &str| {
        crate::harness::run(
            std::process::Command::new("skopeo")
                .args([
                    "--insecure-policy",
                    "inspect",
                    "--raw",
                    "--tls-verify=false",
                    "--creds=alice:alice-password",
                ])
                .arg(s.reference(reference)),
        )
        .status
        .success()
    };

    match flavour {
        Flavour::V2_8 => {
            let refused = s.portus.try_cli(&["tag", "delete", "alice/app:1.0"], None);
            assert!(!refused.status.success());
            assert!(String::from_utf8_lossy(&refused.stderr).contains("shares its manifest with latest"));
            assert!(s.tag("alice/app:1.0").is_some(), "nothing changes when refused");

            let deleted = s
                .portus
                .cli(&["tag", "delete", "alice/app:1.0", "--with-siblings"], None);
            assert!(deleted.contains(&digest), "{deleted}");
            assert!(s.tag("alice/app:1.0").is_none() && s.tag("alice/app:latest").is_none());
        }
        Flavour::V3 => {
            let deleted = s.portus.cli(&["tag", "delete", "alice/app:1.0"], None);
            assert!(deleted.contains("(tags: 1.0)."), "{deleted}");
            assert!(s.tag("alice/app:1.0").is_none());
            assert!(in_registry("alice/app:latest"), "the sibling stays in the registry");
            std::thread::sleep(Duration::from_secs(1));
            assert_eq!(s.tag("alice/app:latest").map(|t| t.0), Some(digest.clone()));

            // The manifest's last tag deletes the manifest.
            s.portus.cli(&["tag", "delete", "alice/app:latest"], None);
            assert!(s.tag("alice/app:latest").is_none());
            assert!(!in_registry(&format!("alice/app@{digest}")), "the manifest is gone");
        }
    }
    assert!(!in_registry("alice/app:1.0"), "the tag is gone from the registry too");
    let actions: Vec<String> = s
        .activities("alice/app:1.0")
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions.first().map(String::as_str), Some("tag.delete"));
    // The registry's notification of that deletion (made by portus' service account) is
    // applied without a second record, whichever arrives first: one activity per act.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let deletes: Vec<String> = s
        .activities("alice/app:1.0")
        .iter()
        .filter(|a| a["action"] == "tag.delete")
        .map(|a| a["actor"].as_str().unwrap_or("-").to_owned())
        .collect();
    assert_eq!(deletes, ["cli"], "{}", s.portus.log());
}

fn serve_syncs_the_catalog_periodically(flavour: Flavour) {
    let s = Setup::with_flavour(flavour, false, 1, "");
    let digest = s.push("alice/periodic:1.0", &[]).digest;
    assert!(
        wait_until(PATIENCE, || s.tag("alice/periodic:1.0").is_some()),
        "the periodic sync did not record the tag; log:\n{}",
        s.portus.log()
    );
    assert_eq!(s.tag("alice/periodic:1.0").unwrap().0, digest);
    let activities = s.activities("alice/periodic:1.0");
    assert_eq!(activities[0]["action"], "tag.discovered");
}

fn scan_json(s: &Setup, reference: &str) -> (bool, serde_json::Value) {
    let output = s.portus.try_cli(&["scan", reference, "--json"], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "scan output is not JSON ({e}): {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.success(), json)
}

#[test]
fn scan_merges_backend_findings_for_images_and_indexes() {
    let s = Setup::with_config(true, 0, "[security.dummy]\nserver = \"on\"\n");
    s.push("alice/app:1.0", &[]);
    let (ok, result) = scan_json(&s, "alice/app:1.0");
    assert!(ok, "{result}");
    assert_eq!(result["status"], "done");
    assert_eq!(result["backends"]["dummy"], "done");
    let ids: Vec<&str> = result["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["CVE-2016-6304", "CVE-2016-7052", "CVE-2016-2178"],
        "most severe first"
    );
    assert_eq!(result["vulnerabilities"][0]["found_by"], serde_json::json!(["dummy"]));
    assert_eq!(result["counts"], serde_json::json!({"High": 1, "Medium": 1, "Low": 1}));

    // An index is scanned through its platforms; findings are merged by id.
    s.push_index("alice/multi:1.0");
    let (ok, result) = scan_json(&s, "alice/multi:1.0");
    assert!(ok && result["status"] == "done", "{result}");
    assert_eq!(result["vulnerabilities"].as_array().unwrap().len(), 3);

    let table = s.portus.cli(&["scan", "alice/app:1.0"], None);
    assert!(
        table.contains("CVE-2016-6304") && table.contains("1 High, 1 Medium, 1 Low"),
        "{table}"
    );

    // A tag the registry does not have is named as asked, not as a registry URL path.
    let missing = s.portus.try_cli(&["scan", "alice/app:nope"], None);
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(
        err.contains("the registry has no alice/app:nope") && !err.contains("/v2/"),
        "{err}"
    );
}

#[test]
fn a_scanner_that_is_down_never_yields_a_clean_result() {
    let down = format!("http://127.0.0.1:{}", free_port());
    let extra = format!("[security.dummy]\nserver = \"on\"\n[security.clair]\nserver = \"{down}\"\n");
    let s = Setup::with_config(true, 0, &extra);
    s.push("alice/app:1.0", &[]);
    let (ok, result) = scan_json(&s, "alice/app:1.0");
    assert!(!ok, "a failed scanner makes the command fail");
    assert_eq!(result["status"], "failed");
    assert!(
        result["backends"]["clair-legacy"]
            .as_str()
            .unwrap()
            .starts_with("failed: security scanner is unavailable"),
        "{result}"
    );
    assert_eq!(result["backends"]["dummy"], "done");

    let off = Setup::new(true);
    off.push("alice/app:1.0", &[]);
    let output = off.portus.try_cli(&["scan", "alice/app:1.0"], None);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("scanning is off"));
    // What is stored is shown without a backend.
    let stored = off
        .portus
        .try_cli(&["scan", "alice/app:1.0", "--stored", "--json"], None);
    assert!(stored.status.success(), "{}", String::from_utf8_lossy(&stored.stderr));
    let json: serde_json::Value = serde_json::from_slice(&stored.stdout).unwrap();
    assert!(json.get("status").is_some(), "{json}");
}

/// The stored scan result; the command exits non-zero exactly when a scanner failed.
fn stored(s: &Setup, reference: &str) -> serde_json::Value {
    let output = s.portus.try_cli(&["scan", reference, "--stored", "--json"], None);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(output.status.success(), json["status"] != "failed", "{json}");
    json
}

#[test]
fn serve_scans_new_tags_in_the_background() {
    let s = Setup::with_config(
        true,
        0,
        "[security]\ninterval_secs = 1\n[security.dummy]\nserver = \"on\"\n",
    );
    s.push("alice/app:1.0", &[]);
    assert!(
        wait_until(PATIENCE, || stored(&s, "alice/app:1.0")["status"] == "done"),
        "not scanned in the background; log:\n{}",
        s.portus.log()
    );
    let result = stored(&s, "alice/app:1.0");
    assert_eq!(result["vulnerabilities"].as_array().unwrap().len(), 3);
    assert_eq!(result["backends"]["dummy"], "done");
}

#[test]
fn scan_all_records_results_and_keeps_failures_visible() {
    let down = format!("http://127.0.0.1:{}", free_port());
    let extra = format!(
        "[security]\ninterval_secs = 3600\n[security.dummy]\nserver = \"on\"\n[security.clair]\nserver = \"{down}\"\n"
    );
    let s = Setup::with_config(true, 0, &extra);
    s.push("alice/app:1.0", &[]);
    assert!(wait_until(PATIENCE, || s.tag("alice/app:1.0").is_some()));
    assert_eq!(
        stored(&s, "alice/app:1.0")["status"],
        "pending",
        "nothing scanned yet is pending, not clean"
    );
    let out = s.portus.cli(&["scan", "--all"], None);
    assert!(
        out.contains("scanned 1 digests: 1 backend scans done, 0 pending, 1 failed"),
        "{out}"
    );
    let result = stored(&s, "alice/app:1.0");
    assert_eq!(result["status"], "failed");
    assert!(
        result["backends"]["clair-legacy"]
            .as_str()
            .unwrap()
            .starts_with("failed:"),
        "{result}"
    );
    assert_eq!(
        result["vulnerabilities"].as_array().unwrap().len(),
        3,
        "the dummy findings are shown meanwhile"
    );
    let again = s.portus.cli(&["scan", "--all"], None);
    assert!(
        again.contains("scanned 0 digests"),
        "the failure waits for its backoff: {again}"
    );
}

#[test]
fn clair_v4_and_dummy_results_are_merged_with_attribution() {
    let clair = crate::harness::FakeClairV4::start();
    let extra = format!(
        "[security]\ninterval_secs = 3600\n[security.dummy]\nserver = \"on\"\n[security.clair_v4]\nserver = \"http://{}/\"\n",
        clair.addr
    );
    let s = Setup::with_config(true, 0, &extra);
    s.push("alice/app:1.0", &[]);
    assert!(wait_until(PATIENCE, || s.tag("alice/app:1.0").is_some()));
    let out = s.portus.cli(&["scan", "--all"], None);
    assert!(out.contains("2 backend scans done, 0 pending, 0 failed"), "{out}");
    assert!(
        clair.fetched.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "Clair downloaded the layers from the registry with the token portus gave it"
    );
    let result = stored(&s, "alice/app:1.0");
    assert_eq!(result["status"], "done");
    assert_eq!(
        result["backends"],
        serde_json::json!({"clair": "done", "dummy": "done"})
    );
    let first = &result["vulnerabilities"][0];
    assert_eq!(first["id"], "CVE-2016-6304");
    assert_eq!(
        first["severity"], "Critical",
        "the higher of Clair's Critical and dummy's High"
    );
    assert_eq!(first["found_by"], serde_json::json!(["clair", "dummy"]));
    assert_eq!(first["fixed_in"], serde_json::json!(["1.0.2i"]));
    assert_eq!(result["vulnerabilities"].as_array().unwrap().len(), 3);

    // The same merged view through the API, for alice with an application token.
    let token = s
        .portus
        .cli(&["token", "create", "alice", "--name", "api"], None)
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let tags: serde_json::Value = serde_json::from_str(&s.portus.cli(&["tag", "list", "--json"], None)).unwrap();
    let id = tags[0]["id"].as_i64().unwrap();
    let auth = format!("alice:{token}");
    let response = crate::harness::http_get(
        s.portus.addr,
        &format!("/api/v1/tags/{id}/vulnerabilities"),
        &[("Portus-Auth", &auth)],
    );
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let body: serde_json::Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    // Each scanner's time is on the tag page's answer too.
    let mut security = body["security"].clone();
    let times = security.as_object_mut().unwrap().remove("scanned_at").unwrap();
    assert!(times["clair"].is_string() && times["dummy"].is_string(), "{times}");
    assert_eq!(security, result);
    assert_eq!(body["tag"]["repository"], "alice/app");
    let anonymous = crate::harness::http_get(s.portus.addr, &format!("/api/v1/tags/{id}/vulnerabilities"), &[]);
    assert!(
        anonymous.starts_with("HTTP/1.1 404") && !anonymous.contains("alice/app"),
        "{anonymous}"
    );
}
