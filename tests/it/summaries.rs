//! The kept per-repository figures: `portus maintenance rebuild-summaries` finds and repairs
//! figures that do not match the tags, and lists show the repaired figures.

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
    let mut p = Portus::new(tmp.path(), "registry.summaries", "");
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
        r#"{{"events":[{},{},{}]}}"#,
        push_event("e1", "web/app", "1", &digest(1)),
        push_event("e2", "web/app", "2", &digest(2)),
        push_event("e3", "web/api", "1", &digest(3)),
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
    assert!(answer.contains("\"accepted\":3"), "{answer}");
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
    let right = vec![("web/api".to_owned(), 1), ("web/app".to_owned(), 2)];
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

    // Figures gone wrong behind the store's back (a restored backup, a manual edit).
    let database = p.dir.join("data").join("portus.db");
    let script = format!(
        "import sqlite3; c = sqlite3.connect({:?}); c.execute('UPDATE repository_summaries SET tags = tags + 5'); c.commit()",
        database.display().to_string()
    );
    let edited = std::process::Command::new("python3")
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(edited.success());
    assert_eq!(
        tag_counts(),
        vec![("web/api".to_owned(), 6), ("web/app".to_owned(), 7)],
        "lists read the kept figures"
    );

    let repaired = p.cli(&["maintenance", "rebuild-summaries"], None);
    assert!(repaired.contains("2 repositories had wrong figures"), "{repaired}");
    assert_eq!(tag_counts(), right);
    let refused = p.try_cli(
        &["--server", "http://127.0.0.1:1", "maintenance", "rebuild-summaries"],
        None,
    );
    assert!(
        !refused.status.success(),
        "the store is repaired where it lives, not through --server"
    );
}
