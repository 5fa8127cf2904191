//! The kept per-repository figures: `portus maintenance rebuild-summaries` finds and repairs
//! figures that do not match the tags, and lists show the repaired figures; a repository's
//! findings count each of its images once, however many tags point at it.

use std::time::Duration;

use crate::harness::{Portus, http_get, http_post, wait_until};

fn push_event(id: &str, repository: &str, tag: &str, digest: &str) -> String {
    format!(
        r#"{{"id":"{id}","action":"push","actor":{{"name":"root"}},"target":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":2048,"digest":"{digest}","repository":"{repository}","tag":"{tag}"}}}}"#
    )
}

fn body(response: &str) -> serde_json::Value {
    let (_, body) = response.split_once("\r\n\r\n").expect("an HTTP answer");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"))
}

#[test]
fn rebuild_summaries_repairs_wrong_figures() {
    let tmp = tempfile::tempdir().unwrap();
    // The dummy scanner finds one high, one medium and one low in every image.
    let mut p = Portus::new(tmp.path(), "registry.summaries", "[security.dummy]\nserver = \"on\"\n");
    p.cli(&["user", "create", "root", "--admin"], None);
    p.cli(&["team", "create", "devs", "--owner", "root"], None);
    p.cli(
        &["namespace", "create", "web", "--team", "devs", "--visibility", "public"],
        None,
    );
    let token = p.cli(&["token", "create", "root", "--name", "t"], None);
    let bearer = format!("Bearer {}", token.lines().last().unwrap());
    p.start();
    let digest = |n: u8| format!("sha256:{}", format!("{n:02x}").repeat(32));
    let envelope = format!(
        r#"{{"events":[{},{},{},{}]}}"#,
        push_event("e1", "web/app", "1", &digest(1)),
        push_event("e2", "web/app", "2", &digest(2)),
        push_event("e3", "web/api", "1", &digest(3)),
        // A second tag of the first image.
        push_event("e4", "web/app", "3", &digest(1)),
    );
    let secret = p.webhook_authorization();
    let answer = http_post(
        p.addr,
        "/v2/webhooks/events",
        &[
            ("Authorization", secret.as_str()),
            ("Content-Type", "application/vnd.docker.distribution.events.v1+json"),
        ],
        &envelope,
    );
    assert!(answer.contains("\"accepted\":4"), "{answer}");
    let tag_counts = || -> Vec<(String, u64)> {
        let list = body(&http_get(
            p.addr,
            "/api/v1/repositories",
            &[("Authorization", bearer.as_str())],
        ));
        list.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap().to_owned(),
                    r["tags_count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let right = vec![("web/api".to_owned(), 1), ("web/app".to_owned(), 3)];
    assert!(
        wait_until(Duration::from_secs(20), || tag_counts() == right),
        "{:?}\n{}",
        tag_counts(),
        p.log()
    );
    let clean = p.cli(&["maintenance", "rebuild-summaries"], None);
    assert!(
        clean.contains("2 repositories") && clean.contains("0 repositories had wrong figures"),
        "{clean}"
    );

    // (name, high findings, tags done) of each repository, as listed.
    let findings = || -> Vec<(String, u64, u64)> {
        let list = body(&http_get(
            p.addr,
            "/api/v1/repositories",
            &[("Authorization", bearer.as_str())],
        ));
        list.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let security = &r["security"];
                (
                    r["name"].as_str().unwrap().to_owned(),
                    security["counts"]["High"].as_u64().unwrap_or(0),
                    security["tags_by_status"]["done"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    };
    assert_eq!(
        findings(),
        vec![("web/api".to_owned(), 0, 0), ("web/app".to_owned(), 0, 0)]
    );
    // The dummy scanner's results for the three images, written behind the store's back (no
    // registry here to scan from): the rebuild recomputes the figures from them.
    let database = p.dir.join("data").join("portus.db");
    let report = r#"{"vulnerabilities":[{"id":"CVE-1","severity":"High","package":null,"package_version":null,"fixed_in":null,"links":[],"description":null},{"id":"CVE-2","severity":"Low","package":null,"package_version":null,"fixed_in":null,"links":[],"description":null}]}"#;
    let script = format!(
        "import sqlite3; c = sqlite3.connect({:?}); c.executemany(\"INSERT INTO scan_records (digest, backend, state, report, attempts, updated_at) VALUES (?, 'dummy', 'done', ?, 0, '2026-01-01T00:00:00+00:00')\", [(d, {report:?}) for d in {:?}]); c.commit()",
        database.display().to_string(),
        [digest(1), digest(2), digest(3)],
    );
    let written = std::process::Command::new("python3")
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(written.success());
    let rebuilt = p.cli(&["maintenance", "rebuild-summaries"], None);
    assert!(rebuilt.contains("2 repositories had wrong figures"), "{rebuilt}");
    let scanned = vec![("web/api".to_owned(), 1, 1), ("web/app".to_owned(), 2, 3)];
    assert_eq!(
        findings(),
        scanned,
        "web/app: two images, one of them under two tags, counted once; its tags done per tag"
    );
    let list = body(&http_get(
        p.addr,
        "/api/v1/repositories",
        &[("Authorization", bearer.as_str())],
    ));
    let app = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "web/app")
        .unwrap();
    let shown = body(&http_get(
        p.addr,
        &format!("/api/v1/repositories/{}", app["id"]),
        &[("Authorization", bearer.as_str())],
    ));
    assert_eq!(
        shown["security"], app["security"],
        "the repository's page agrees with the list"
    );

    // Figures gone wrong behind the store's back (a restored backup, a manual edit).
    let script = format!(
        "import sqlite3; c = sqlite3.connect({:?}); c.execute('UPDATE repository_summaries SET tags = tags + 5, high = high + 1'); c.commit()",
        database.display().to_string()
    );
    let edited = std::process::Command::new("python3")
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(edited.success());
    assert_eq!(
        tag_counts(),
        vec![("web/api".to_owned(), 6), ("web/app".to_owned(), 8)],
        "lists read the kept figures"
    );

    let repaired = p.cli(&["maintenance", "rebuild-summaries"], None);
    assert!(repaired.contains("2 repositories had wrong figures"), "{repaired}");
    assert_eq!(tag_counts(), right);
    assert_eq!(findings(), scanned, "rebuilt: each image's findings once");
    let refused = p.try_cli(
        &["--server", "http://127.0.0.1:1", "maintenance", "rebuild-summaries"],
        None,
    );
    assert!(
        !refused.status.success(),
        "the store is repaired where it lives, not through --server"
    );
}
