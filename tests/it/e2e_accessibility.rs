//! Accessibility of the web pages, checked by axe-core (the npm registry's package, fetched and
//! verified by `scripts/install-test-deps.sh`) inside real headless Chromium: the landing pages
//! (sign-in, sign-up, forgotten and new password, explore), the dashboard (new and in use),
//! namespaces, a repository, a tag with findings and its deletion page, search, tokens, the
//! profile, the activity log, teams with the team and namespace deletion pages, a namespace's
//! webhooks and one webhook's page, and the administrators' pages, on an installation with a
//! pushed and scanned image. Every page must have no violation axe rates *serious* or
//! *critical*.
//!
//! To check that this test notices a problem, break a page (say, empty the search button's text
//! in `portus-http/src/web/views.rs`): every signed-in page then fails axe's critical
//! `button-name` rule.

use std::net::SocketAddr;
use std::path::PathBuf;

use fantoccini::{Client, Locator};
use serde_json::Value;

use crate::e2e_web::{browser, click_through, path_of, push_webapp_and_wait_for_its_scan, sign_in};
use crate::harness::{Portus, Registry, free_port};

const SERVICE: &str = "registry.a11y";
/// The axe-core release `scripts/install-test-deps.sh` installs.
const AXE_VERSION: &str = "4.10.3";

/// The axe-core script: `PORTUS_AXE_CORE` when set, else where the install script caches it.
fn axe_source() -> String {
    let path = std::env::var_os("PORTUS_AXE_CORE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            crate::harness::test_cache_dir()
                .join(format!("axe-core-{AXE_VERSION}"))
                .join("axe.min.js")
        });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is not at {}: run scripts/install-test-deps.sh ({e})",
            path.display()
        )
    })
}

/// axe's serious and critical violations on the page the browser shows, one line each (rule,
/// impact, help and the offending elements).
async fn serious_violations(client: &Client, axe: &str) -> Vec<String> {
    client.execute(axe, vec![]).await.expect("axe-core loads");
    let result = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
                .then(r => done(r.violations), e => done({ error: String(e) }));",
            vec![],
        )
        .await
        .expect("axe-core runs");
    let violations = match result {
        Value::Array(violations) => violations,
        other => panic!("axe-core failed: {other}"),
    };
    violations
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .map(|v| {
            let targets: Vec<String> = v["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|node| node["target"].to_string())
                .collect();
            format!(
                "{} ({}): {} at {}",
                v["id"].as_str().unwrap_or("?"),
                v["impact"].as_str().unwrap_or("?"),
                v["help"].as_str().unwrap_or("?"),
                targets.join(", ")
            )
        })
        .collect()
}

/// Checks the current page and records what axe found under `name`.
async fn check(client: &Client, axe: &str, name: &str, found: &mut Vec<String>) {
    let violations = serious_violations(client, axe).await;
    let path = path_of(client).await;
    found.extend(violations.into_iter().map(|v| format!("{name} ({path}): {v}")));
}

#[test]
fn every_page_passes_axe_core_without_serious_or_critical_violations() {
    let axe = axe_source();
    let tmp = tempfile::tempdir().unwrap();
    let registry_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut portus = Portus::new(tmp.path(), SERVICE, "");
    portus.append_config(&format!(
        "[registry]\nurl = \"http://{registry_addr}\"\n[sync]\ninterval_secs = 0\n[security]\ninterval_secs = 1\n[security.dummy]\nserver = \"on\"\n[web]\nsignup = true\n\
         [email]\nsmtp_url = \"smtp://127.0.0.1:{}\"\nfrom = \"portus@example.org\"\n",
        free_port()
    ));
    let yaml = portus.cli(&["config", "registry"], None);
    portus.start();
    let _registry = Registry::start_on(tmp.path(), &yaml, registry_addr);
    portus.cli(
        &["user", "create", "root", "--admin", "--password-stdin"],
        Some("root-password\n"),
    );
    portus.user("alice", "alice-password");
    portus.cli(&["team", "create", "developers", "--owner", "alice"], None);
    portus.cli(&["namespace", "create", "devspace", "--team", "developers"], None);

    let base = format!("http://{}", portus.addr);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let found = runtime.block_on(async {
        let (_driver, client) = browser(tmp.path()).await;
        let mut found = Vec::new();

        // A new installation: the getting-started dashboard, before anything is pushed.
        sign_in(&client, &base, "alice", "alice-password").await;
        assert!(client.find(Locator::Id("getting-started")).await.is_ok());
        check(&client, &axe, "getting-started dashboard", &mut found).await;
        client.delete_all_cookies().await.unwrap();
        push_webapp_and_wait_for_its_scan(&portus, &tmp.path().join("image"), registry_addr);

        // Signed out: the sign-in page and anonymous browsing.
        client.goto(&format!("{base}/sign_in")).await.unwrap();
        check(&client, &axe, "sign-in", &mut found).await;
        client.goto(&format!("{base}/explore")).await.unwrap();
        check(&client, &axe, "explore", &mut found).await;
        client.goto(&format!("{base}/sign_up")).await.unwrap();
        check(&client, &axe, "sign-up", &mut found).await;
        client.goto(&format!("{base}/password_reset")).await.unwrap();
        check(&client, &axe, "forgotten password", &mut found).await;
        client
            .goto(&format!("{base}/password_reset/not-a-real-token"))
            .await
            .unwrap();
        check(&client, &axe, "new password", &mut found).await;

        sign_in(&client, &base, "alice", "alice-password").await;
        assert_eq!(path_of(&client).await, "/");
        check(&client, &axe, "dashboard", &mut found).await;
        click_through(&client, Locator::LinkText("Namespaces")).await;
        check(&client, &axe, "namespaces", &mut found).await;
        click_through(&client, Locator::LinkText("alice")).await;
        check(&client, &axe, "namespace", &mut found).await;
        click_through(&client, Locator::LinkText("alice/webapp")).await;
        check(&client, &axe, "repository", &mut found).await;
        click_through(&client, Locator::LinkText("1.0")).await;
        assert!(path_of(&client).await.starts_with("/tags/"));
        check(&client, &axe, "tag", &mut found).await;
        click_through(&client, Locator::Id("delete-tag")).await;
        check(&client, &axe, "tag deletion", &mut found).await;
        client.goto(&format!("{base}/repositories")).await.unwrap();
        check(&client, &axe, "repositories", &mut found).await;
        client.goto(&format!("{base}/search?q=webapp")).await.unwrap();
        check(&client, &axe, "search", &mut found).await;
        client
            .goto(&format!("{base}/search?q=nothing-has-this-name"))
            .await
            .unwrap();
        check(&client, &axe, "search without hits", &mut found).await;
        client.goto(&format!("{base}/tokens")).await.unwrap();
        check(&client, &axe, "tokens", &mut found).await;
        client.goto(&format!("{base}/profile")).await.unwrap();
        check(&client, &axe, "profile", &mut found).await;
        client.goto(&format!("{base}/activities?action=tag.")).await.unwrap();
        check(&client, &axe, "activities", &mut found).await;
        client.goto(&format!("{base}/teams")).await.unwrap();
        check(&client, &axe, "teams", &mut found).await;
        click_through(&client, Locator::LinkText("developers")).await;
        check(&client, &axe, "team", &mut found).await;
        click_through(&client, Locator::Id("delete-team")).await;
        check(&client, &axe, "team deletion", &mut found).await;
        client.goto(&format!("{base}/namespaces")).await.unwrap();
        click_through(&client, Locator::LinkText("devspace")).await;
        click_through(&client, Locator::Id("delete-namespace")).await;
        check(&client, &axe, "namespace deletion", &mut found).await;
        client.goto(&format!("{base}/namespaces")).await.unwrap();
        click_through(&client, Locator::LinkText("devspace")).await;
        click_through(&client, Locator::Id("webhooks-link")).await;
        check(&client, &axe, "webhooks", &mut found).await;
        for (field, value) in [("wh-name", "ci"), ("wh-url", "http://203.0.113.10/hook")] {
            let input = client.find(Locator::Id(field)).await.unwrap();
            input.send_keys(value).await.unwrap();
        }
        click_through(&client, Locator::Id("create-webhook")).await;
        assert!(
            client.find(Locator::Id("webhook-secret")).await.is_ok(),
            "the secret is shown once"
        );
        check(&client, &axe, "webhook created", &mut found).await;
        click_through(&client, Locator::LinkText("ci")).await;
        check(&client, &axe, "webhook", &mut found).await;
        client.goto(&format!("{base}/repositories/999999")).await.unwrap();
        check(&client, &axe, "not found", &mut found).await;

        client.delete_all_cookies().await.unwrap();
        sign_in(&client, &base, "root", "root-password").await;
        client.goto(&format!("{base}/admin/users")).await.unwrap();
        check(&client, &axe, "admin users", &mut found).await;
        client.goto(&format!("{base}/namespaces")).await.unwrap();
        check(&client, &axe, "namespaces as an administrator", &mut found).await;

        client.close().await.unwrap();
        found
    });
    assert!(
        found.is_empty(),
        "axe-core found serious or critical violations:\n{}",
        found.join("\n")
    );
}
