//! End to end: artifacts beyond images with the real clients. A Helm chart pushed and pulled
//! with `helm` (OCI) through portus' token server with each role's permissions, an arbitrary
//! artifact pushed with `oras push --artifact-type`, and a signature-like referrer attached with
//! `oras attach` to an image pushed with skopeo, against the real registry (2.8 and 3). portus
//! shows each with its kind (chart name and version for Helm), the signed image with its
//! "signed" badge, and never sends the artifacts to the (dummy) image scanner.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{
    Creds, Flavour, Portus, Registry, against_both_registries, assert_ok, free_port, go_tool, http_get, oci_layout,
    run, skopeo_copy, wait_until,
};

const SERVICE: &str = "registry.artifacts";
const SIGNATURE_TYPE: &str = "application/vnd.cncf.notary.signature";
const THING_TYPE: &str = "application/vnd.example.thing.v1";

fn body(response: &str) -> Value {
    let json = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    serde_json::from_str(json).unwrap_or_else(|e| panic!("not JSON ({e}): {response}"))
}

/// `helm ARGS` with its configuration, cache and registry credentials in `home` (one per
/// user, so logins do not leak between them).
fn helm(home: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = Command::new(go_tool("helm"));
    command
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("HELM_REGISTRY_CONFIG", home.join("registry.json"))
        .args(args);
    match stdin {
        Some(input) => {
            use std::io::Write;
            let mut child = command
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
            child.wait_with_output().unwrap()
        }
        None => run(&mut command),
    }
}

/// `oras ARGS` with credentials `creds`, over plain HTTP, without any credentials file.
fn oras(dir: &Path, args: &[&str], creds: Creds) -> Output {
    let mut command = Command::new(go_tool("oras"));
    command.current_dir(dir).args(args).arg("--plain-http");
    command.arg("--registry-config").arg(dir.join("oras-auth.json"));
    if let Creds::User(user, password) = creds {
        command.args(["--username", user, "--password", password]);
    }
    run(&mut command)
}

fn refused(what: &str, output: &Output) {
    assert!(!output.status.success(), "{what} succeeded");
    let text = String::from_utf8_lossy(&output.stderr).to_lowercase();
    assert!(
        text.contains("denied") || text.contains("unauthorized") || text.contains("401") || text.contains("403"),
        "{what} failed for another reason than authorization: {text}"
    );
}

/// The tags of `repository` as the API shows them to `bearer`, once the repository exists.
fn tags(portus: &Portus, bearer: &str, repository: &str) -> Vec<Value> {
    let auth = [("Authorization", bearer)];
    let repositories = body(&http_get(portus.addr, "/api/v1/repositories", &auth));
    let Some(id) = repositories
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == repository)
        .map(|r| r["id"].clone())
    else {
        return Vec::new();
    };
    let listed = body(&http_get(
        portus.addr,
        &format!("/api/v1/repositories/{id}/tags"),
        &auth,
    ));
    listed.as_array().cloned().unwrap_or_default()
}

/// The tag `repository:name` once `ready` holds for it (within a minute).
fn tag_when(portus: &Portus, bearer: &str, reference: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let (repository, name) = reference.split_once(':').unwrap();
    let mut last = Vec::new();
    let found = wait_until(Duration::from_secs(60), || {
        last = tags(portus, bearer, repository);
        last.iter().any(|t| t["name"] == name && ready(t))
    });
    assert!(found, "{reference} never got there: {last:#?}\n{}", portus.log());
    last.into_iter().find(|t| t["name"] == name).unwrap()
}

fn artifacts_are_recognized_permissions_hold_and_only_images_are_scanned(flavour: Flavour) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let registry_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let x5c = match flavour {
        Flavour::V2_8 => "",
        Flavour::V3 => "x5c = false\n",
    };
    let mut portus = Portus::new(dir, SERVICE, x5c);
    portus.append_config(&format!(
        "[registry]\nurl = \"http://{registry_addr}\"\n[sync]\ninterval_secs = 0\n\
         [security]\ninterval_secs = 1\n[security.dummy]\nserver = \"on\"\n"
    ));
    let yaml = portus.cli(&["config", "registry"], None);
    for (user, password) in [("alice", "alice-password"), ("bob", "bob-password")] {
        portus.user(user, password);
    }
    portus.cli(&["team", "create", "charts", "--owner", "alice"], None);
    portus.cli(&["team", "add-member", "charts", "bob", "--role", "viewer"], None);
    portus.cli(&["namespace", "create", "charts", "--team", "charts"], None);
    let token = portus.cli(&["token", "create", "alice", "--name", "artifacts"], None);
    let bearer = format!("Bearer {}", token.lines().last().unwrap().trim());
    portus.start();
    let _registry = Registry::start_on_flavour(dir, &yaml, registry_addr, flavour);
    let host = registry_addr.to_string();

    // A tiny chart, packaged by helm.
    let chart_dir = dir.join("demo");
    std::fs::create_dir_all(chart_dir.join("templates")).unwrap();
    std::fs::write(
        chart_dir.join("Chart.yaml"),
        "apiVersion: v2\nname: demo\nversion: 0.1.0\ndescription: portus e2e\n",
    )
    .unwrap();
    std::fs::write(chart_dir.join("values.yaml"), "replicas: 1\n").unwrap();
    let (alice, bob, anonymous) = (dir.join("helm-alice"), dir.join("helm-bob"), dir.join("helm-anonymous"));
    let package = helm(
        &alice,
        &["package", chart_dir.to_str().unwrap(), "-d", dir.to_str().unwrap()],
        None,
    );
    assert_ok("helm package", &package);
    let archive = dir.join("demo-0.1.0.tgz");
    let archive = archive.to_str().unwrap();
    let namespace = format!("oci://{host}/charts");
    let chart = format!("oci://{host}/charts/demo");

    // The namespace owner logs in, pushes and pulls.
    for (home, user) in [(&alice, "alice"), (&bob, "bob")] {
        let login = helm(
            home,
            &[
                "registry",
                "login",
                &host,
                "--plain-http",
                "--username",
                user,
                "--password-stdin",
            ],
            Some(&format!("{user}-password")),
        );
        assert_ok(&format!("helm registry login as {user}"), &login);
    }
    let wrong = helm(
        &anonymous,
        &[
            "registry",
            "login",
            &host,
            "--plain-http",
            "--username",
            "bob",
            "--password-stdin",
        ],
        Some("not-the-password"),
    );
    assert!(!wrong.status.success(), "a wrong password logs in");
    assert_ok(
        "helm push as the owner",
        &helm(&alice, &["push", archive, &namespace, "--plain-http"], None),
    );
    let pulled = dir.join("pulled-alice");
    std::fs::create_dir_all(&pulled).unwrap();
    assert_ok(
        "helm pull as the owner",
        &helm(
            &alice,
            &[
                "pull",
                &chart,
                "--version",
                "0.1.0",
                "--plain-http",
                "-d",
                pulled.to_str().unwrap(),
            ],
            None,
        ),
    );
    assert!(pulled.join("demo-0.1.0.tgz").is_file());
    // A viewer pulls but cannot push; nobody anonymous reaches the private namespace.
    refused(
        "helm push as a viewer",
        &helm(
            &bob,
            &["push", archive, &format!("oci://{host}/charts/viewer"), "--plain-http"],
            None,
        ),
    );
    let pulled = dir.join("pulled-bob");
    std::fs::create_dir_all(&pulled).unwrap();
    assert_ok(
        "helm pull as a viewer",
        &helm(
            &bob,
            &[
                "pull",
                &chart,
                "--version",
                "0.1.0",
                "--plain-http",
                "-d",
                pulled.to_str().unwrap(),
            ],
            None,
        ),
    );
    refused(
        "anonymous helm pull of a private namespace",
        &helm(
            &anonymous,
            &[
                "pull",
                &chart,
                "--version",
                "0.1.0",
                "--plain-http",
                "-d",
                dir.to_str().unwrap(),
            ],
            None,
        ),
    );

    // An image (skopeo), an arbitrary artifact and a signature attached to the image (oras).
    let owner = Creds::User("alice", "alice-password");
    let layout = dir.join("image");
    oci_layout(&layout, "1", "signed content\n");
    assert_ok(
        "skopeo push",
        &skopeo_copy(
            &format!("oci:{}:1", layout.display()),
            Creds::Anonymous,
            &format!("docker://{host}/charts/app:1.0"),
            owner,
        ),
    );
    std::fs::write(dir.join("thing.txt"), "an arbitrary artifact\n").unwrap();
    assert_ok(
        "oras push",
        &oras(
            dir,
            &[
                "push",
                &format!("{host}/charts/thing:v1"),
                "--artifact-type",
                THING_TYPE,
                "thing.txt:text/plain",
            ],
            owner,
        ),
    );
    std::fs::write(dir.join("signature.json"), "{\"signed\":\"charts/app:1.0\"}\n").unwrap();
    assert_ok(
        "oras attach",
        &oras(
            dir,
            &[
                "attach",
                &format!("{host}/charts/app:1.0"),
                "--artifact-type",
                SIGNATURE_TYPE,
                "signature.json:application/jose+json",
            ],
            owner,
        ),
    );
    refused(
        "oras push as a viewer",
        &oras(
            dir,
            &[
                "push",
                &format!("{host}/charts/thing:v2"),
                "--artifact-type",
                THING_TYPE,
                "thing.txt:text/plain",
            ],
            Creds::User("bob", "bob-password"),
        ),
    );

    // The chart shows as one, with its name and version, and is never scanned.
    let chart_tag = tag_when(&portus, &bearer, "charts/demo:0.1.0", |t| !t["kind"].is_null());
    assert_eq!(chart_tag["kind"], "helm_chart", "{chart_tag:#}");
    assert_eq!(
        chart_tag["chart"],
        serde_json::json!({"name": "demo", "version": "0.1.0"})
    );
    assert_eq!(chart_tag["kind_label"], "Helm chart demo 0.1.0");
    let thing = tag_when(&portus, &bearer, "charts/thing:v1", |t| !t["kind"].is_null());
    assert_eq!(
        (thing["kind"].as_str(), thing["artifact_type"].as_str()),
        (Some("artifact"), Some(THING_TYPE))
    );
    // The image is scanned (the worker ran) and signed by the referrer oras attached.
    let image = tag_when(&portus, &bearer, "charts/app:1.0", |t| {
        t["scan"]["status"] == "done" && t["signed"] == true
    });
    assert_eq!(image["kind"], "image");
    for reference in ["charts/demo:0.1.0", "charts/thing:v1"] {
        let tag = tag_when(&portus, &bearer, reference, |_| true);
        assert_eq!(tag["scan"]["status"], "notanimage", "{reference}: {tag:#}");
        assert_eq!(tag["scanned"], 0);
        assert_eq!(tag["signed"], false);
        let id = tag["id"].clone();
        let security = body(&http_get(
            portus.addr,
            &format!("/api/v1/tags/{id}/vulnerabilities"),
            &[("Authorization", bearer.as_str())],
        ));
        assert_eq!(security["security"]["backends"], serde_json::json!({}), "{reference}");
    }
    // Asked to scan a chart directly, portus refuses instead of reporting it clean.
    let scan = portus.try_cli(&["scan", "charts/demo:0.1.0"], None);
    assert!(!scan.status.success());
    assert!(
        String::from_utf8_lossy(&scan.stderr).contains("not an image"),
        "{}",
        String::from_utf8_lossy(&scan.stderr)
    );
    // Neither registry answers a manifest with a subject with `OCI-Subject` (Distribution 2.8
    // predates OCI 1.1; 3.1.1 does not say it either), so oras also keeps the referrers in a
    // `sha256-<hex>` index tag: it is recognized as such, not as an image. The signature itself
    // was pushed by digest and recorded from its push event (that is what signs the image).
    let referrers_tag = format!(
        "charts/app:sha256-{}",
        image["digest"].as_str().unwrap().trim_start_matches("sha256:")
    );
    let fallback = tag_when(&portus, &bearer, &referrers_tag, |t| !t["kind"].is_null());
    assert_eq!(fallback["kind"], "referrers", "{fallback:#}");
    assert_eq!(fallback["subject"], image["digest"]);
    assert_eq!(fallback["scan"]["status"], "notanimage");
    assert!(portus.log().contains("referrer recorded"), "{}", portus.log());
}

against_both_registries!(artifacts_are_recognized_permissions_hold_and_only_images_are_scanned);
