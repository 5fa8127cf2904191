//! End to end: image sizes and pulls (issue 19 item 6). An image and a two-platform index
//! pushed with skopeo into a real registry (2.8 and 3) get the sizes the registry's own
//! manifests add up to (per platform for the index); pulls by tag move `pulled_at` and the
//! pull count; the repository page shows the sizes and each tag's pull command.

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{
    Creds, Flavour, Portus, Registry, against_both_registries, free_port, http_get, oci_index_layout, oci_layout, run,
    skopeo_copy_with, status, wait_until, web_session,
};

const SERVICE: &str = "registry.sizes";
const ALICE: Creds = Creds::User("alice", "alice-password");
const PATIENCE: Duration = Duration::from_secs(20);

// Fields drop in order: the servers stop before their directory is removed.
struct Setup {
    portus: Portus,
    registry: Registry,
    tmp: tempfile::TempDir,
    token: String,
}

impl Setup {
    fn new(flavour: Flavour) -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let registry_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut portus = Portus::new(tmp.path(), SERVICE, "");
        portus.append_config(&format!("[registry]\nurl = \"http://{registry_addr}\"\n"));
        let yaml = portus.cli(&["config", "registry"], None);
        portus.start();
        let registry = Registry::start_on_flavour(tmp.path(), &yaml, registry_addr, flavour);
        portus.user("alice", "alice-password");
        let token = portus
            .cli(&["token", "create", "alice", "--name", "api"], None)
            .lines()
            .last()
            .unwrap()
            .to_owned();
        Setup {
            portus,
            registry,
            tmp,
            token,
        }
    }

    fn reference(&self, target: &str) -> String {
        format!("docker://{}/{}", self.registry.addr, target)
    }

    fn api(&self, path: &str) -> Value {
        let auth = format!("alice:{}", self.token);
        let response = http_get(self.portus.addr, path, &[("Portus-Auth", &auth)]);
        assert_eq!(status(&response), 200, "{path}: {response}");
        serde_json::from_str(body(&response)).unwrap()
    }

    /// The API's tag object of `repository:tag`, once recorded.
    fn tag(&self, repository: &str, tag: &str) -> Option<Value> {
        let repositories = self.api("/api/v1/repositories?per_page=100");
        let id = repositories.as_array()?.iter().find(|r| r["name"] == repository)?["id"].clone();
        let tags = self.api(&format!("/api/v1/repositories/{id}/tags?per_page=100"));
        tags.as_array()?.iter().find(|t| t["name"] == tag).cloned()
    }

    fn wait_for_tag(&self, repository: &str, tag: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let mut last = None;
        let ok = wait_until(PATIENCE, || {
            last = self.tag(repository, tag);
            last.as_ref().is_some_and(&check)
        });
        assert!(
            ok,
            "{repository}:{tag}: {what}; last seen {last:?}; portus log:\n{}",
            self.portus.log()
        );
        last.unwrap()
    }

    /// The manifest `reference` names, as the registry serves it (`skopeo inspect --raw`).
    fn raw_manifest(&self, reference: &str) -> Value {
        let mut command = Command::new("skopeo");
        command.args([
            "--insecure-policy",
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds=alice:alice-password",
        ]);
        let output = run(command.arg(self.reference(reference)));
        assert_ok(&format!("inspect {reference}"), &output);
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// Pulls `repository:tag` into a fresh OCI layout, as alice.
    fn pull(&self, target: &str, n: usize) {
        let dest = self.tmp.path().join(format!("pulled-{n}"));
        let output = skopeo_copy_with(
            &[],
            &self.reference(target),
            ALICE,
            &format!("oci:{}:x", dest.display()),
            Creds::Anonymous,
        );
        assert_ok(&format!("pull {target}"), &output);
    }
}

fn body(response: &str) -> &str {
    response.split("\r\n\r\n").nth(1).unwrap_or_default()
}

fn assert_ok(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Config plus layers of an image manifest, as the registry serves it.
fn image_bytes(manifest: &Value) -> u64 {
    let layers: u64 = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["size"].as_u64().unwrap())
        .sum();
    manifest["config"]["size"].as_u64().unwrap() + layers
}

against_both_registries!(sizes_match_the_registrys_manifests_and_pulls_are_counted);

fn sizes_match_the_registrys_manifests_and_pulls_are_counted(flavour: Flavour) {
    let s = Setup::new(flavour);
    // A single image, and a two-platform index pushed with `skopeo copy --all`.
    let image = s.tmp.path().join("image");
    oci_layout(&image, "1", &"some content of the image\n".repeat(100));
    assert_ok(
        "push the image",
        &skopeo_copy_with(
            &[],
            &format!("oci:{}:1", image.display()),
            Creds::Anonymous,
            &s.reference("alice/app:1.0"),
            ALICE,
        ),
    );
    let index = s.tmp.path().join("index");
    oci_index_layout(&index, "1.0");
    assert_ok(
        "push the index",
        &skopeo_copy_with(
            &["--all"],
            &format!("oci:{}:1.0", index.display()),
            Creds::Anonymous,
            &s.reference("alice/multi:1.0"),
            ALICE,
        ),
    );

    let app = s.wait_for_tag("alice/app", "1.0", "measured", |t| !t["size"].is_null());
    let multi = s.wait_for_tag("alice/multi", "1.0", "measured", |t| !t["size"].is_null());
    // Pushing and portus' own reads (by digest) are no pulls.
    for tag in [&app, &multi] {
        assert_eq!(
            (tag["pull_count"].as_u64(), &tag["pulled_at"]),
            (Some(0), &Value::Null),
            "{tag}"
        );
    }

    // The sizes the registry's own manifests give (read by tag: alice's reads count as pulls).
    let expected_image = image_bytes(&s.raw_manifest("alice/app:1.0"));
    let raw_index = s.raw_manifest("alice/multi:1.0");
    let expected_platforms: Vec<(String, String, u64)> = raw_index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let digest = m["digest"].as_str().unwrap().to_owned();
            let platform = format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            );
            let child = s.raw_manifest(&format!("alice/multi@{digest}"));
            (platform, digest, image_bytes(&child))
        })
        .collect();
    assert_eq!(expected_platforms.len(), 2);
    let expected_total: u64 = expected_platforms.iter().map(|p| p.2).sum();

    assert_eq!(app["size"].as_u64(), Some(expected_image), "{app}");
    assert_eq!(app["platforms"], serde_json::json!([]), "{app}");
    assert_eq!(multi["size"].as_u64(), Some(expected_total), "{multi}");
    let platforms: Vec<(String, String, u64)> = multi["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["platform"].as_str().unwrap().to_owned(),
                p["digest"].as_str().unwrap().to_owned(),
                p["size"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(platforms, expected_platforms);
    // The command line says the same.
    let shown: Value =
        serde_json::from_str(&s.portus.cli(&["tag", "show", "alice/multi:1.0", "--json"], None)).unwrap();
    assert_eq!(shown["manifest"]["size"].as_u64(), Some(expected_total), "{shown}");

    // Pulls by tag move pulled_at and the count (the inspections above were one each).
    let inspected = s.wait_for_tag("alice/app", "1.0", "the inspection counted", |t| {
        t["pull_count"].as_u64() == Some(1)
    });
    let before = chrono::Utc::now() - chrono::TimeDelta::seconds(1);
    s.pull("alice/app:1.0", 1);
    let pulled = s.wait_for_tag("alice/app", "1.0", "a pull counted", |t| {
        t["pull_count"].as_u64() >= Some(2)
    });
    let per_pull = pulled["pull_count"].as_u64().unwrap() - 1;
    let at: chrono::DateTime<chrono::Utc> = pulled["pulled_at"].as_str().unwrap().parse().unwrap();
    assert!(at >= before && at <= chrono::Utc::now(), "{pulled}");
    assert!(pulled["pulled_at"] != inspected["pulled_at"], "{pulled}");
    s.pull("alice/app:1.0", 2);
    let again = s.wait_for_tag("alice/app", "1.0", "a second pull counted", |t| {
        t["pull_count"].as_u64() >= Some(2 + per_pull)
    });
    assert_eq!(
        again["pull_count"].as_u64(),
        Some(1 + 2 * per_pull),
        "each pull counts alike: {again}"
    );
    let multi_now = s.tag("alice/multi", "1.0").unwrap();
    assert_eq!(
        multi_now["pull_count"].as_u64(),
        Some(1),
        "another tag (its inspection): {multi_now}"
    );

    // The repository page: sizes (exact bytes in the tooltip) and each tag's pull command.
    let session = web_session(&s.portus, "alice", "alice-password");
    let repositories = s.api("/api/v1/repositories?per_page=100");
    let id = repositories
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "alice/multi")
        .unwrap()["id"]
        .clone();
    let page = http_get(s.portus.addr, &format!("/repositories/{id}"), &[("Cookie", &session)]);
    assert_eq!(status(&page), 200, "{page}");
    assert!(page.contains(&format!("title=\"{expected_total} bytes\"")), "{page}");
    for (platform, _, size) in &expected_platforms {
        assert!(
            page.contains(&format!("<li title=\"{size} bytes\">{platform}: ")),
            "{platform}: {page}"
        );
    }
    let command = format!("podman pull {}/alice/multi:1.0", s.registry.addr);
    assert!(
        page.contains(&format!("<code class=\"pull-command\">{command}</code>")),
        "{page}"
    );
    assert!(page.contains(&format!("data-copy=\"{command}\"")), "{page}");
    // The command works as shown (with the registry's TLS off, as in this test).
    let output = skopeo_copy_with(
        &[],
        &format!("docker://{}", command.trim_start_matches("podman pull ")),
        ALICE,
        &format!("oci:{}:x", s.tmp.path().join("by-command").display()),
        Creds::Anonymous,
    );
    assert_ok("pull with the page's reference", &output);
}
