//! End to end in a real browser: Debian's headless Chromium, driven through chromedriver
//! (WebDriver) by fantoccini, against `portus serve` with a real `docker-registry`, an image
//! pushed with skopeo and the dummy scanner. Set `PORTUS_SCREENSHOTS=DIR` to save the
//! repository and tag pages as PNG (that is how `docs/screenshots/` was made).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

use crate::harness::{
    Creds, Daemon, Portus, Registry, free_port, oci_layout, require_program, skopeo_copy, wait_for_port, wait_until,
};

const SERVICE: &str = "registry.web";

/// chromedriver on a free loopback port, and a session of headless Chromium.
/// alice pushes a one-layer image as `alice/webapp:1.0` (built in `layout`) with skopeo; waits
/// until portus has scanned it.
pub(crate) fn push_webapp_and_wait_for_its_scan(portus: &Portus, layout: &std::path::Path, registry: SocketAddr) {
    oci_layout(layout, "1", "the web test's image\n");
    let pushed = skopeo_copy(
        &format!("oci:{}:1", layout.display()),
        Creds::Anonymous,
        &format!("docker://{registry}/alice/webapp:1.0"),
        Creds::User("alice", "alice-password"),
    );
    assert!(
        pushed.status.success(),
        "push: {}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    let scanned = || {
        let out = portus.try_cli(&["scan", "alice/webapp:1.0", "--stored", "--json"], None);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).is_ok_and(|j| j["status"] == "done")
    };
    assert!(
        wait_until(Duration::from_secs(15), scanned),
        "not scanned:\n{}",
        portus.log()
    );
}

pub(crate) async fn browser(dir: &std::path::Path) -> (Daemon, Client) {
    require_program("chromedriver");
    let port = free_port();
    let log = dir.join("chromedriver.log");
    let daemon = Daemon::spawn(Command::new("chromedriver").arg(format!("--port={port}")), log.clone());
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_for_port(addr, "chromedriver", &log);
    let profile = dir.join("chromium-profile");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://{addr}"))
        .await
        .expect("a Chromium session through chromedriver");
    (daemon, client)
}

pub(crate) async fn text_of(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
        .text()
        .await
        .unwrap()
}

/// Clicks what `locator` finds and waits until the browser has loaded the next page (a click
/// returns before the navigation it starts is done).
pub(crate) async fn click_through(client: &Client, locator: Locator<'_>) {
    client.execute("window.__portusOldPage = true;", vec![]).await.unwrap();
    client.find(locator).await.unwrap().click().await.unwrap();
    for _ in 0..150 {
        let loaded = client
            .execute(
                "return window.__portusOldPage === undefined && document.readyState === 'complete';",
                vec![],
            )
            .await;
        if matches!(loaded, Ok(serde_json::Value::Bool(true))) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the click on {locator:?} loaded no new page");
}

pub(crate) async fn path_of(client: &Client) -> String {
    let url = client.current_url().await.unwrap();
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

pub(crate) async fn sign_in(client: &Client, base: &str, user: &str, password: &str) {
    client.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(
        path_of(client).await,
        "/sign_in",
        "signed-out visitors are sent to sign in"
    );
    client
        .find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys(user)
        .await
        .unwrap();
    client
        .find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    click_through(client, Locator::Id("sign-in")).await;
}

async fn screenshot(client: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("PORTUS_SCREENSHOTS") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let png = client.screenshot().await.unwrap();
        std::fs::write(dir.join(name), png).unwrap();
    }
}

#[test]
fn browse_a_pushed_repository_with_its_vulnerabilities_star_search_and_sign_out() {
    let tmp = tempfile::tempdir().unwrap();
    let registry_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut portus = Portus::new(tmp.path(), SERVICE, "");
    portus.append_config(&format!(
        "[registry]\nurl = \"http://{registry_addr}\"\nexternal_hostname = \"localhost:{}\"\n[sync]\ninterval_secs = 0\n[security]\ninterval_secs = 1\n[security.dummy]\nserver = \"on\"\n",
        registry_addr.port()
    ));
    let pull_host = format!("localhost:{}", registry_addr.port());
    let yaml = portus.cli(&["config", "registry"], None);
    portus.start();
    let _registry = Registry::start_on(tmp.path(), &yaml, registry_addr);
    portus.user("alice", "alice-password");
    portus.user("bob", "bob-password");

    let base = format!("http://{}", portus.addr);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (driver, client) = runtime.block_on(browser(tmp.path()));
    runtime.block_on(async {
        // A new installation: the dashboard says what to do first.
        sign_in(&client, &base, "alice", "alice-password").await;
        let start = text_of(&client, "#getting-started").await;
        assert!(start.contains("Create a namespace"), "{start}");
        assert!(start.contains("Connect the registry"), "{start}");
        assert!(
            start.contains(&format!("docker push {pull_host}/alice/IMAGE:TAG")),
            "{start}"
        );
        screenshot(&client, "onboarding.png").await;
        client.delete_all_cookies().await.unwrap();
    });

    push_webapp_and_wait_for_its_scan(&portus, &tmp.path().join("image"), registry_addr);

    // A second image under two tags, to be deleted from the page.
    let other = tmp.path().join("other");
    oci_layout(&other, "1", "an image to delete\n");
    for tag in ["old", "old-alias"] {
        let pushed = skopeo_copy(
            &format!("oci:{}:1", other.display()),
            Creds::Anonymous,
            &format!("docker://{registry_addr}/alice/webapp:{tag}"),
            Creds::User("alice", "alice-password"),
        );
        assert!(
            pushed.status.success(),
            "push {tag}: {}",
            String::from_utf8_lossy(&pushed.stderr)
        );
    }
    let stored = || {
        portus
            .try_cli(&["scan", "alice/webapp:old-alias", "--stored", "--json"], None)
            .status
            .success()
    };
    assert!(
        wait_until(Duration::from_secs(15), stored),
        "not stored:\n{}",
        portus.log()
    );

    runtime.block_on(async {
        let _driver = driver;

        // A wrong password: refused with a message, still on the sign-in page.
        sign_in(&client, &base, "alice", "not-her-password").await;
        assert_eq!(path_of(&client).await, "/sign_in");
        assert!(
            text_of(&client, "#sign-in-error")
                .await
                .contains("Invalid user name or password")
        );

        client.delete_all_cookies().await.unwrap();
        sign_in(&client, &base, "alice", "alice-password").await;
        assert_eq!(path_of(&client).await, "/", "signed in, on the dashboard");
        assert!(
            text_of(&client, "#content").await.contains("tag.push"),
            "the push is in the activity"
        );

        // Namespace -> repository: the tag with its vulnerability badge from the dummy backend.
        click_through(&client, Locator::LinkText("Namespaces")).await;
        click_through(&client, Locator::LinkText("alice")).await;
        click_through(&client, Locator::LinkText("alice/webapp")).await;
        let repository_path = path_of(&client).await;
        assert!(repository_path.starts_with("/repositories/"), "{repository_path}");
        let row = text_of(&client, "#tags tbody tr").await;
        assert!(
            row.contains("1.0") && row.contains("alice") && row.contains("sha256:"),
            "{row}"
        );
        let badge = client.find(Locator::Css("#tags tbody tr .badge")).await.unwrap();
        assert_eq!(badge.attr("data-status").await.unwrap().as_deref(), Some("vulnerable"));
        let badge_text = badge.text().await.unwrap();
        assert_eq!(badge_text, "1 high · 1 medium · 1 low");
        screenshot(&client, "repository.png").await;

        // The tag page: findings merged across backends, sortable by severity.
        click_through(&client, Locator::LinkText("1.0")).await;
        assert!(path_of(&client).await.starts_with("/tags/"));
        let severities = |client: Client| async move {
            let mut out = Vec::new();
            for cell in client
                .find_all(Locator::Css("#vulnerabilities tbody td:nth-child(2)"))
                .await
                .unwrap()
            {
                out.push(cell.text().await.unwrap());
            }
            out
        };
        let descending = severities(client.clone()).await;
        assert_eq!(descending.len(), 3, "the dummy backend's three findings");
        assert_eq!(descending, ["High", "Medium", "Low"]);
        assert!(
            text_of(&client, "#vulnerabilities tbody").await.contains("dummy"),
            "found by"
        );
        assert!(
            text_of(&client, "#backends").await.contains("dummy: done · 20"),
            "with its time"
        );
        // The facts registry users look for, and the pull commands with the configured host.
        let digest = text_of(&client, "#digest").await;
        assert!(
            digest.starts_with("sha256:") && digest.len() == 71,
            "the whole digest: {digest}"
        );
        assert_eq!(text_of(&client, "#pushed-by").await, "alice");
        // A push notification reports no image size; the scan read it from the registry.
        let size = text_of(&client, "#size").await;
        assert!(
            size.ends_with('B') && !size.contains("manifest"),
            "the image's size: {size}"
        );
        let pull = text_of(&client, "section.pull").await;
        for client_name in ["docker", "podman"] {
            assert!(
                pull.contains(&format!("{client_name} pull {pull_host}/alice/webapp:1.0")),
                "{pull}"
            );
        }
        let copy = client.find(Locator::Css("section.pull button.copy")).await.unwrap();
        assert!(copy.is_displayed().await.unwrap(), "the script shows the copy buttons");
        screenshot(&client, "tag.png").await;
        click_through(&client, Locator::Id("sort-severity")).await;
        let ascending = severities(client.clone()).await;
        let mut reversed = descending.clone();
        reversed.reverse();
        assert_eq!(ascending, reversed, "sorted by severity the other way");

        // Star it: the count changes and the dashboard lists it.
        client.goto(&format!("{base}{repository_path}")).await.unwrap();
        assert!(text_of(&client, "#stars").await.starts_with('0'));
        click_through(&client, Locator::Css("button.star")).await;
        assert!(text_of(&client, "#stars").await.starts_with('1'), "starred");
        click_through(&client, Locator::LinkText("Portus")).await;
        assert!(
            text_of(&client, "#content").await.contains("alice/webapp"),
            "starred on the dashboard"
        );

        // Search for it.
        client
            .find(Locator::Id("q"))
            .await
            .unwrap()
            .send_keys("webapp")
            .await
            .unwrap();
        click_through(&client, Locator::Css("form.search button")).await;
        assert!(path_of(&client).await.starts_with("/search?q=webapp"));
        let hits = text_of(&client, "#content").await;
        assert!(hits.contains("alice/webapp"), "{hits}");
        click_through(&client, Locator::LinkText("alice/webapp")).await;
        assert_eq!(
            path_of(&client).await,
            repository_path,
            "the hit leads to the repository"
        );

        // A form posted without its CSRF token is refused, and nothing changes.
        client.goto(&format!("{base}{repository_path}")).await.unwrap();
        client
            .execute(
                "document.querySelector('form button.star').form.querySelector('input[name=csrf]').remove();",
                vec![],
            )
            .await
            .unwrap();
        click_through(&client, Locator::Css("button.star")).await;
        assert!(
            text_of(&client, "#content")
                .await
                .contains("security token is missing or stale"),
            "refused without the CSRF token"
        );
        client.goto(&format!("{base}{repository_path}")).await.unwrap();
        assert!(
            text_of(&client, "#stars").await.starts_with('1'),
            "the refused unstar changed nothing"
        );

        // Delete a tag from its page: the confirmation names the tag sharing its image, and
        // both are gone from the registry and from portus afterwards.
        client.goto(&format!("{base}{repository_path}")).await.unwrap();
        click_through(&client, Locator::LinkText("old")).await;
        let old_tag_path = path_of(&client).await;
        click_through(&client, Locator::Id("delete-tag")).await;
        let warning = text_of(&client, "#siblings").await;
        assert!(warning.contains("alice/webapp:old-alias"), "{warning}");
        screenshot(&client, "delete-tag.png").await;
        click_through(&client, Locator::Id("confirm-delete")).await;
        assert_eq!(path_of(&client).await, repository_path, "back on the repository");
        let tags = text_of(&client, "#tags").await;
        assert!(tags.contains("1.0") && !tags.contains("old"), "{tags}");
        for tag in ["old", "old-alias"] {
            let inspect = Command::new("skopeo")
                .args(["--insecure-policy", "inspect", "--raw", "--tls-verify=false"])
                .arg("--creds=alice:alice-password")
                .arg(format!("docker://{registry_addr}/alice/webapp:{tag}"))
                .output()
                .unwrap();
            assert!(!inspect.status.success(), "{tag} is still in the registry");
        }
        client.goto(&format!("{base}{old_tag_path}")).await.unwrap();
        assert!(
            client.source().await.unwrap().contains("Not Found"),
            "the tag page is gone"
        );
        client.goto(&format!("{base}{repository_path}")).await.unwrap();

        // Sign out: the session is gone.
        click_through(&client, Locator::Id("sign-out")).await;
        assert_eq!(path_of(&client).await, "/sign_in");
        client.goto(&format!("{base}{repository_path}")).await.unwrap();
        assert_eq!(path_of(&client).await, "/sign_in", "signed out for good");

        // bob has no access to alice's private namespace: no page, no leak of the name.
        sign_in(&client, &base, "bob", "bob-password").await;
        assert_eq!(path_of(&client).await, "/");
        client.goto(&format!("{base}{repository_path}")).await.unwrap();
        let source = client.source().await.unwrap();
        assert!(source.contains("Not Found"), "{source}");
        assert!(!source.contains("webapp"), "the private name leaked: {source}");
        client.goto(&format!("{base}/search?q=webapp")).await.unwrap();
        let source = client.source().await.unwrap();
        assert!(!source.contains("alice/webapp"), "the search leaked: {source}");
        client.goto(&format!("{base}/admin/users")).await.unwrap();
        assert!(
            client.source().await.unwrap().contains("Forbidden"),
            "not an administrator"
        );

        client.close().await.unwrap();
    });
}
