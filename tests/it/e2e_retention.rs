//! End to end: retention (issue 19 item 2) against real registries (2.8 and 3) with skopeo.
//! A repository with shared images and a protected tag: `portus retention --dry-run` prints a
//! plan, `portus retention` carries out exactly that plan (on 2.8, which cannot delete a tag
//! alone, the untag is skipped and the shared image stays), and the registry's listing and
//! portus' agree afterwards; a listing that fails midway removes nothing.

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::{
    Creds, FaultyProxy, Flavour, Portus, Registry, against_both_registries, free_port, oci_layout, run,
    skopeo_copy_with, skopeo_digest, wait_until,
};

const SERVICE: &str = "registry.retention";
const ALICE: Creds = Creds::User("alice", "alice-password");
const PATIENCE: Duration = Duration::from_secs(20);

struct Setup {
    portus: Portus,
    registry: Registry,
    tmp: tempfile::TempDir,
}

fn assert_ok(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Setup {
    fn new(flavour: Flavour) -> Setup {
        Self::with_interval(flavour, 0)
    }

    fn with_interval(flavour: Flavour, interval_secs: u64) -> Setup {
        let tmp = tempfile::tempdir().unwrap();
        let registry_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut portus = Portus::new(tmp.path(), SERVICE, "");
        // The newest tag stays, and `stable`; everything else in alice/app expires at once.
        portus.append_config(&format!(
            "[registry]\nurl = \"http://{registry_addr}\"\n[sync]\ninterval_secs = 0\n\
             [retention]\ninterval_secs = {interval_secs}\n\
             rules = [{{ repository = \"alice/app\", keep_latest = 1, protect = [\"stable\"] }}]\n"
        ));
        let yaml = portus.cli(&["config", "registry"], None);
        portus.start();
        let registry = Registry::start_on_flavour(tmp.path(), &yaml, registry_addr, flavour);
        portus.user("alice", "alice-password");
        Setup { portus, registry, tmp }
    }

    fn reference(&self, target: &str) -> String {
        format!("docker://{}/{}", self.registry.addr, target)
    }

    /// Pushes the image `content` names to `target`, and waits until portus recorded it.
    fn push(&self, content: &str, target: &str) -> String {
        let layout = self.tmp.path().join(format!("image-{content}"));
        if !layout.exists() {
            oci_layout(&layout, "1", &format!("content {content}\n"));
        }
        let output = skopeo_copy_with(
            &[],
            &format!("oci:{}:1", layout.display()),
            Creds::Anonymous,
            &self.reference(target),
            ALICE,
        );
        assert_ok(&format!("push {target}"), &output);
        let (repository, tag) = target.split_once(':').unwrap();
        assert!(
            wait_until(PATIENCE, || self.recorded(repository).contains(&tag.to_owned())),
            "{target} never recorded"
        );
        // Push times are what "newest" orders by: keep them apart.
        std::thread::sleep(Duration::from_millis(20));
        skopeo_digest(&self.reference(target), ALICE)
    }

    /// The tags portus has recorded for `repository`, sorted.
    fn recorded(&self, repository: &str) -> Vec<String> {
        let json: Value = serde_json::from_str(&self.portus.cli(&["tag", "list", "--json"], None)).unwrap();
        let mut tags: Vec<String> = json
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["repository"] == repository)
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect();
        tags.sort();
        tags
    }

    /// The registry's own listing of `repository`, sorted.
    fn listed(&self, repository: &str) -> Vec<String> {
        let mut command = Command::new("skopeo");
        command.args(["list-tags", "--tls-verify=false", "--creds=alice:alice-password"]);
        let output = run(command.arg(self.reference(repository)));
        assert_ok("list tags", &output);
        let json: Value = serde_json::from_slice(&output.stdout).unwrap();
        let mut tags: Vec<String> = json["Tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect();
        tags.sort();
        tags
    }

    fn retention(&self, args: &[&str], env: &[(&str, &str)]) -> Value {
        let mut all = vec!["retention", "--json"];
        all.extend_from_slice(args);
        let output = self.portus.try_cli_env(&all, None, env);
        assert_ok("portus retention", &output);
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

against_both_registries!(retention_applies_its_plan_and_never_acts_on_a_partial_listing);

/// `serve` applies the rules every `retention.interval_secs`.
#[test]
fn serve_applies_the_rules_periodically() {
    let s = Setup::with_interval(Flavour::V3, 1);
    s.push("a", "alice/app:1");
    s.push("b", "alice/app:2");
    assert!(
        wait_until(PATIENCE, || s.listed("alice/app") == ["2"]),
        "the older tag expires; registry lists {:?}; portus log:\n{}",
        s.listed("alice/app"),
        s.portus.log()
    );
    assert!(wait_until(PATIENCE, || s.recorded("alice/app") == ["2"]));
    let out = s.portus.cli(&["activity", "--json", "--target", "alice/app:1"], None);
    assert!(out.contains("retention: image deleted"), "{out}");
}

fn retention_applies_its_plan_and_never_acts_on_a_partial_listing(flavour: Flavour) {
    let s = Setup::new(flavour);
    let a = s.push("a", "alice/app:1");
    s.push("a", "alice/app:old");
    let b = s.push("b", "alice/app:2");
    s.push("b", "alice/app:stable");
    s.push("c", "alice/app:3");
    // Another repository has no rule: never touched.
    s.push("a", "alice/other:1");
    let all = ["1", "2", "3", "old", "stable"].map(String::from).to_vec();
    assert_eq!(s.listed("alice/app"), all);

    // A listing that fails midway (one tag's manifest cannot be read): nothing planned for
    // the repository, nothing removed.
    let proxy = FaultyProxy::start(s.registry.addr, "/alice/app/manifests/stable");
    let url = format!("http://{}", proxy.addr);
    let env = [("PORTUS_REGISTRY_URL", url.as_str())];
    let partial = s.retention(&[], &env);
    assert_eq!(partial["plan"]["repositories"], json!([]), "{partial}");
    assert_eq!(partial["plan"]["not_listed"][0][0], "alice/app", "{partial}");
    assert_eq!(partial["report"]["removed"], json!([]), "{partial}");
    assert_eq!(s.listed("alice/app"), all, "nothing removed after a failed listing");
    // A registry that answers nothing: the same.
    let down = format!("http://127.0.0.1:{}", free_port());
    let nothing = s.retention(&[], &[("PORTUS_REGISTRY_URL", down.as_str())]);
    assert_eq!(nothing["report"]["removed"], json!([]), "{nothing}");
    assert_eq!(s.listed("alice/app"), all);

    // The dry run: image a goes with both its tags; 2 is untagged, its image stays for stable.
    let dry = s.retention(&["--dry-run"], &[]);
    let plan = &dry["repositories"][0];
    assert_eq!(plan["repository"], "alice/app", "{dry}");
    assert_eq!(
        plan["removals"],
        json!([
            {"action": "delete_manifest", "digest": a, "tags": ["1", "old"]},
            {"action": "untag", "tag": "2", "digest": b, "kept_siblings": ["stable"]},
        ]),
        "{dry}"
    );
    assert_eq!(plan["kept"], json!({"3": "newest", "stable": "protected"}), "{dry}");
    assert_eq!(s.listed("alice/app"), all, "a dry run changes nothing");

    // Applied: the result is the plan (2.8 cannot untag: 2 is skipped, never deleted by digest).
    let applied = s.retention(&[], &[]);
    assert_eq!(
        applied["plan"]["repositories"][0]["removals"], plan["removals"],
        "{applied}"
    );
    let report = &applied["report"];
    let expected = match flavour {
        Flavour::V3 => vec!["3", "stable"],
        Flavour::V2_8 => {
            assert_eq!(report["skipped"][0][0], "alice/app:2", "{applied}");
            vec!["2", "3", "stable"]
        }
    };
    let removed: Vec<&str> = report["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let mut planned: Vec<&str> = vec!["alice/app:1", "alice/app:old"];
    if flavour == Flavour::V3 {
        planned.push("alice/app:2");
    }
    assert_eq!(removed, planned, "{applied}");
    assert_eq!(
        report["deleted_manifests"],
        json!([format!("alice/app@{a}")]),
        "{applied}"
    );
    assert_eq!(s.listed("alice/app"), expected, "the registry after retention");
    assert!(
        wait_until(PATIENCE, || s.recorded("alice/app") == expected),
        "portus agrees with the registry: {:?}",
        s.recorded("alice/app")
    );
    assert_eq!(s.listed("alice/other"), ["1"], "no rule, untouched (shares image a)");
    // One activity per removed tag.
    for tag in removed {
        let out = s.portus.cli(&["activity", "--json", "--target", tag], None);
        let activities: Value = serde_json::from_str(&out).unwrap();
        let deletes: Vec<&Value> = activities
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["action"] == "tag.delete")
            .collect();
        assert_eq!(deletes.len(), 1, "{tag}: {activities}");
        assert!(
            deletes[0]["details"].as_str().unwrap().contains("retention"),
            "{activities}"
        );
    }
    // Nothing left to expire.
    let again = s.retention(&["--dry-run"], &[]);
    let left = again["repositories"][0]["removals"].as_array().unwrap().len();
    assert_eq!(left, if flavour == Flavour::V3 { 0 } else { 1 }, "{again}");
}
