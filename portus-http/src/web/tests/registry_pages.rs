//! The pages registry users look for: pull commands with the registry's host, the tag page's
//! facts, deleting tags and repositories (with the sibling-tag warning, only where the API
//! allows, never by a forged form), activity rows linking their objects, a namespace's team,
//! search headings, and the dashboard of a new installation.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use portus_core::InMemoryRegistry;
use portus_core::model::{
    ActivityAction, ManifestRecord, MissingNamespace, NewActivity, NewNamespace, Role, ScanRecord, ScanState,
    Visibility,
};
use portus_core::prelude::*;
use portus_core::testing::ScriptedBackend;

use super::{Site, site, site_with_state};

struct Registry {
    site: Site,
    registry: Arc<InMemoryRegistry>,
}

/// alice owns team `devs` (namespace `devs`, private) where bob is a viewer; team `ops`
/// (namespace `ops`, private) is admin's alone. `devs/app:1.0` and `devs/app:latest` share an
/// image, `devs/app:2.0` has its own; `ops/tool:1.0` is hidden from alice and bob.
async fn registry_site(host: Option<&str>) -> Registry {
    let registry = Arc::new(InMemoryRegistry::new());
    let in_state = registry.clone();
    let host = host.map(str::to_owned);
    let site = site_with_state(
        |_, _| {},
        move |state| {
            state.registry = Some(in_state);
            state.external_hostname = host;
            let scanner = ScriptedBackend::clean("dummy");
            state.scanner.register(Arc::new(scanner)).unwrap();
        },
    )
    .await;
    let store = &site.store;
    let user = |name: &'static str| async move { store.user_by_name(name).await.unwrap().unwrap() };
    let (admin, alice, bob) = (user("admin").await, user("alice").await, user("bob").await);
    let devs = store.create_team("devs", alice.id, None).await.unwrap();
    store.set_team_member(devs.id, bob.id, Role::Viewer).await.unwrap();
    let ops = store.create_team("ops", admin.id, None).await.unwrap();
    for (name, team) in [("devs", devs.id), ("ops", ops.id)] {
        store
            .create_namespace(NewNamespace {
                name: name.into(),
                team_id: team,
                visibility: Visibility::Private,
                description: None,
            })
            .await
            .unwrap();
    }
    for (reference, digest) in [
        ("devs/app:1.0", "sha256:a1"),
        ("devs/app:latest", "sha256:a1"),
        ("devs/app:2.0", "sha256:a2"),
        ("ops/tool:1.0", "sha256:o1"),
    ] {
        let (repository, tag) = reference.split_once(':').unwrap();
        registry.push_image(repository, tag, digest, &[]);
        let manifest = ManifestRecord {
            digest: digest.into(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            size: Some(3 * 1024 * 1024),
        };
        store
            .put_tag(repository, tag, &manifest, Some("alice"), MissingNamespace::Ignore)
            .await
            .unwrap();
    }
    store
        .put_scan_record(&ScanRecord {
            digest: "sha256:a1".into(),
            backend: "dummy".into(),
            state: ScanState::Done,
            report: Some(Default::default()),
            error: None,
            attempts: 0,
            updated_at: "2026-03-04T05:06:07Z".parse().unwrap(),
            next_attempt_at: None,
        })
        .await
        .unwrap();
    Registry { site, registry }
}

impl Registry {
    async fn tag_id(&self, repository: &str, tag: &str) -> i64 {
        self.site.store.tag(repository, tag).await.unwrap().unwrap().id.0
    }

    async fn repository_id(&self, name: &str) -> i64 {
        let repositories = self.site.store.list_repositories().await.unwrap();
        repositories.iter().find(|r| r.name == name).unwrap().id.0
    }
}

#[tokio::test]
async fn the_tag_page_shows_its_facts_pull_commands_and_scan_times() {
    let r = registry_site(Some("registry.example.com:5000")).await;
    let alice = r.site.sign_in("alice", "alice-password").await.unwrap();
    let id = r.tag_id("devs/app", "1.0").await;
    let page = r.site.get(&format!("/tags/{id}"), &alice).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let body = &page.body;
    assert!(
        body.contains("<code class=\"digest\" id=\"digest\">sha256:a1</code>"),
        "{body}"
    );
    assert!(body.contains("data-copy=\"sha256:a1\""), "{body}");
    assert!(
        body.contains(
            "<dd id=\"size\"><span class=\"size\" title=\"3145728 bytes\" data-bytes=\"3145728\">3.0 MiB</span></dd>"
        ),
        "{body}"
    );
    assert!(body.contains("<dd id=\"pulled-at\">never</dd>"), "{body}");
    assert!(body.contains("<dd id=\"pull-count\">0</dd>"), "{body}");
    assert!(body.contains("<dd id=\"pushed-by\">alice</dd>"), "{body}");
    assert!(body.contains("<dd id=\"pushed-at\"><time datetime="), "{body}");
    for client in ["docker", "podman"] {
        let command = format!("{client} pull registry.example.com:5000/devs/app:1.0");
        assert!(body.contains(&format!("{command}</code>")), "{client}: {body}");
        assert!(body.contains(&format!("data-copy=\"{command}\"")), "{client}: {body}");
    }
    assert!(!body.contains("REGISTRY_HOST"));
    // The scanner's state and when it last changed.
    assert!(
        body.contains("<strong>dummy</strong>: done · <time datetime=\"2026-03-04T05:06:07Z\">2026-03-04 05:06</time>"),
        "{body}"
    );
    // The repository page shows the pull command too.
    let repository = r.repository_id("devs/app").await;
    let page = r.site.get(&format!("/repositories/{repository}"), &alice).await;
    assert!(
        page.body.contains("docker pull registry.example.com:5000/devs/app:"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_repository_page_shows_each_tags_size_pulls_and_pull_command() {
    use portus_core::model::{ImageSizes, PlatformSize};
    let r = registry_site(Some("registry.example.com:5000")).await;
    let store = &r.site.store;
    let sizes = ImageSizes {
        total: 5 * 1024 * 1024 + 1,
        platforms: vec![
            PlatformSize {
                platform: "linux/amd64".into(),
                digest: "sha256:c1".into(),
                size: 1024 * 1024,
            },
            PlatformSize {
                platform: "linux/arm64".into(),
                digest: "sha256:c2".into(),
                size: 4 * 1024 * 1024 + 1,
            },
        ],
    };
    store.record_image_sizes("sha256:a2", &sizes).await.unwrap();
    let at = "2026-11-30T10:20:30Z".parse().unwrap();
    for _ in 0..3 {
        store.record_pull("devs/app", "2.0", at).await.unwrap();
    }
    let alice = r.site.sign_in("alice", "alice-password").await.unwrap();
    let repository = r.repository_id("devs/app").await;
    let page = r.site.get(&format!("/repositories/{repository}"), &alice).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let row = |tag: &str| {
        let start = page.body.find(&format!("<tr data-tag=\"{tag}\">")).expect(tag);
        let end = start + page.body[start..].find("</tr>").unwrap();
        page.body[start..end].to_owned()
    };
    let two = row("2.0");
    assert!(
        two.contains("title=\"5242881 bytes\" data-bytes=\"5242881\">5.0 MiB</span>"),
        "{two}"
    );
    assert!(
        two.contains("<li title=\"1048576 bytes\">linux/amd64: 1.0 MiB</li>"),
        "{two}"
    );
    assert!(
        two.contains("<li title=\"4194305 bytes\">linux/arm64: 4.0 MiB</li>"),
        "{two}"
    );
    assert!(
        two.contains("<td class=\"pulled-at\"><time datetime=\"2026-11-30T10:20:30Z\">2026-11-30 10:20</time></td>"),
        "{two}"
    );
    assert!(two.contains("<td class=\"pull-count\">3</td>"), "{two}");
    let command = "podman pull registry.example.com:5000/devs/app:2.0";
    assert!(
        two.contains(&format!("<code class=\"pull-command\">{command}</code>")),
        "{two}"
    );
    assert!(two.contains(&format!("data-copy=\"{command}\"")), "{two}");
    let one = row("1.0");
    assert!(one.contains("<td class=\"pulled-at\">never</td>"), "{one}");
    assert!(one.contains("<td class=\"pull-count\">0</td>"), "{one}");
    assert!(one.contains(">3.0 MiB</span>"), "{one}");
}

#[tokio::test]
async fn without_a_registry_host_the_pull_command_has_a_placeholder_and_a_hint() {
    let r = registry_site(None).await;
    let alice = r.site.sign_in("alice", "alice-password").await.unwrap();
    let id = r.tag_id("devs/app", "2.0").await;
    let page = r.site.get(&format!("/tags/{id}"), &alice).await;
    assert!(
        page.body.contains("docker pull REGISTRY_HOST/devs/app:2.0</code>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"pull-hint\""), "{}", page.body);
    assert!(page.body.contains("registry.external_hostname"), "{}", page.body);
}

#[tokio::test]
async fn a_tag_is_deleted_from_its_page_after_confirming_its_sibling_tags() {
    let r = registry_site(Some("registry.example.com")).await;
    let alice = r.site.sign_in("alice", "alice-password").await.unwrap();
    let id = r.tag_id("devs/app", "1.0").await;
    let repository = r.repository_id("devs/app").await;
    let page = r.site.get(&format!("/tags/{id}"), &alice).await;
    assert!(
        page.body.contains(&format!("href=\"/tags/{id}/delete\"")),
        "{}",
        page.body
    );
    let confirm = r.site.get(&format!("/tags/{id}/delete"), &alice).await;
    assert_eq!(confirm.status, StatusCode::OK);
    let warning = &confirm.body[confirm.body.find("id=\"siblings\"").expect("the sibling warning")..];
    assert!(warning.contains("<code>devs/app:latest</code>"), "{warning}");
    assert!(confirm.body.contains("Delete 2 tags"), "{}", confirm.body);

    // A post that did not confirm the sibling goes back to the confirmation; nothing deleted.
    let action = format!("/tags/{id}/delete");
    let unconfirmed = r.site.post(&action, &action, &alice, "siblings=").await;
    assert_eq!(unconfirmed.location.as_deref(), Some(action.as_str()));
    assert!(r.registry.deleted().is_empty());
    assert!(r.site.store.tag("devs/app", "1.0").await.unwrap().is_some());

    let deleted = r.site.post(&action, &action, &alice, "siblings=latest").await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    assert_eq!(deleted.location, Some(format!("/repositories/{repository}")));
    assert_eq!(r.registry.deleted(), [("devs/app".to_owned(), "sha256:a1".to_owned())]);
    for tag in ["1.0", "latest"] {
        assert!(r.site.store.tag("devs/app", tag).await.unwrap().is_none(), "{tag}");
    }
    assert!(r.site.store.tag("devs/app", "2.0").await.unwrap().is_some());

    // A tag alone: no warning, one tag deleted.
    let alone = r.tag_id("devs/app", "2.0").await;
    let action = format!("/tags/{alone}/delete");
    let confirm = r.site.get(&action, &alice).await;
    assert!(!confirm.body.contains("id=\"siblings\"") && confirm.body.contains("Delete devs/app:2.0"));
    r.site.post(&action, &action, &alice, "siblings=").await;
    assert!(r.site.store.tag("devs/app", "2.0").await.unwrap().is_none());
}

#[tokio::test]
async fn delete_buttons_show_only_where_the_api_allows_and_forged_forms_are_refused() {
    let r = registry_site(Some("registry.example.com")).await;
    let bob = r.site.sign_in("bob", "bob-password").await.unwrap();
    let id = r.tag_id("devs/app", "2.0").await;
    let repository = r.repository_id("devs/app").await;
    let tag_page = r.site.get(&format!("/tags/{id}"), &bob).await;
    assert_eq!(tag_page.status, StatusCode::OK);
    assert!(
        !tag_page.body.contains("/delete\""),
        "a viewer gets no delete button: {}",
        tag_page.body
    );
    let repository_page = r.site.get(&format!("/repositories/{repository}"), &bob).await;
    assert!(!repository_page.body.contains("delete-repository"));
    // Posted anyway, with bob's own valid form token: the API refuses.
    let csrf = tag_page.csrf();
    for action in [
        format!("/tags/{id}/delete"),
        format!("/repositories/{repository}/delete"),
    ] {
        let forged = r
            .site
            .request(Method::POST, &action, &[&bob], Some(&format!("csrf={csrf}&siblings=")))
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{action}: {}", forged.body);
    }
    assert!(r.registry.deleted().is_empty());
    assert!(r.site.store.tag("devs/app", "2.0").await.unwrap().is_some());

    // Without the form token, not even alice deletes.
    let alice = r.site.sign_in("alice", "alice-password").await.unwrap();
    let forged = r
        .site
        .request(
            Method::POST,
            &format!("/tags/{id}/delete"),
            &[&alice],
            Some("siblings="),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(r.registry.deleted().is_empty());

    // A hidden tag's deletion looks exactly like a missing one's.
    let hidden = r.tag_id("ops/tool", "1.0").await;
    let hidden_page = r.site.get(&format!("/tags/{hidden}/delete"), &alice).await;
    let missing_page = r.site.get("/tags/987654/delete", &alice).await;
    assert_eq!(hidden_page.status, StatusCode::NOT_FOUND);
    assert_eq!(
        (hidden_page.status, hidden_page.body),
        (missing_page.status, missing_page.body)
    );
    let csrf = r.site.get("/", &alice).await.csrf();
    let hidden_post = r
        .site
        .request(
            Method::POST,
            &format!("/tags/{hidden}/delete"),
            &[&alice],
            Some(&format!("csrf={csrf}&siblings=")),
        )
        .await;
    assert_eq!(hidden_post.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn registry_errors_are_shown_and_nothing_is_lost() {
    let r = registry_site(Some("registry.example.com")).await;
    let alice = r.site.sign_in("alice", "alice-password").await.unwrap();
    let id = r.tag_id("devs/app", "2.0").await;
    r.registry.set_unavailable(true);
    let action = format!("/tags/{id}/delete");
    let failed = r.site.post(&action, &action, &alice, "siblings=").await;
    assert!(failed.status.is_server_error(), "{:?}: {}", failed.status, failed.body);
    assert!(failed.body.contains("role=\"alert\""), "{}", failed.body);
    assert!(
        r.site.store.tag("devs/app", "2.0").await.unwrap().is_some(),
        "nothing lost"
    );
}

#[tokio::test]
async fn a_repository_is_deleted_after_a_confirmation() {
    let r = registry_site(Some("registry.example.com")).await;
    let alice = r.site.sign_in("alice", "alice-password").await.unwrap();
    let repository = r.repository_id("devs/app").await;
    let page = r.site.get(&format!("/repositories/{repository}"), &alice).await;
    assert!(
        page.body
            .contains(&format!("href=\"/repositories/{repository}/delete\"")),
        "{}",
        page.body
    );
    let action = format!("/repositories/{repository}/delete");
    let confirm = r.site.get(&action, &alice).await;
    assert!(
        confirm.body.contains("3 tags") && confirm.body.contains("confirm-delete"),
        "{}",
        confirm.body
    );
    let namespace = r
        .site
        .store
        .namespace(portus_core::model::NamespaceRef::Named("devs"))
        .await
        .unwrap()
        .unwrap();
    let deleted = r.site.post(&action, &action, &alice, "").await;
    assert_eq!(
        deleted.location,
        Some(format!("/namespaces/{}", namespace.id.0)),
        "{}",
        deleted.body
    );
    assert_eq!(r.registry.deleted().len(), 2, "both images");
    assert!(r.site.store.tags(Some("devs/app")).await.unwrap().is_empty());
}

#[tokio::test]
async fn activity_rows_link_objects_that_exist_and_may_be_seen() {
    let r = registry_site(Some("registry.example.com")).await;
    let store = &r.site.store;
    for (action, target) in [
        (ActivityAction::TeamCreate, "devs"),
        (ActivityAction::NamespaceCreate, "devs"),
        (ActivityAction::TagPush, "devs/app:1.0"),
        (ActivityAction::TagPush, "devs/app:9.9"),
        (ActivityAction::TagPush, "ops/tool:1.0"),
        (ActivityAction::RepositoryUpdate, "devs/app"),
    ] {
        store
            .record_activity(NewActivity::new(Some("alice"), action, target))
            .await
            .unwrap();
    }
    let alice = r.site.sign_in("alice", "alice-password").await.unwrap();
    let page = r.site.get("/", &alice).await;
    let body = &page.body;
    let team = store.team_by_name("devs").await.unwrap().unwrap().id.0;
    let namespace = store
        .namespace(portus_core::model::NamespaceRef::Named("devs"))
        .await
        .unwrap()
        .unwrap()
        .id
        .0;
    let tag = r.tag_id("devs/app", "1.0").await;
    let repository = r.repository_id("devs/app").await;
    for link in [
        format!("<a href=\"/teams/{team}\">devs</a>"),
        format!("<a href=\"/namespaces/{namespace}\">devs</a>"),
        format!("<a href=\"/tags/{tag}\">devs/app:1.0</a>"),
        format!("<a href=\"/repositories/{repository}\">devs/app</a>"),
    ] {
        assert!(body.contains(&link), "{link}: {body}");
    }
    // A deleted tag and a hidden one are plain text alike.
    assert!(body.contains("<td>devs/app:9.9</td>"), "{body}");
    assert!(body.contains("<td>ops/tool:1.0</td>"), "{body}");
}

#[tokio::test]
async fn the_namespace_page_shows_its_team_and_members() {
    let r = registry_site(None).await;
    let bob = r.site.sign_in("bob", "bob-password").await.unwrap();
    let namespace = r
        .site
        .store
        .namespace(portus_core::model::NamespaceRef::Named("devs"))
        .await
        .unwrap()
        .unwrap();
    let team = r.site.store.team_by_name("devs").await.unwrap().unwrap();
    let page = r.site.get(&format!("/namespaces/{}", namespace.id.0), &bob).await;
    let section = &page.body[page.body.find("id=\"team\"").expect("the team section")..];
    assert!(
        section.contains(&format!("<a href=\"/teams/{}\">devs</a>", team.id.0)),
        "{section}"
    );
    assert!(
        section.contains("<li>alice · owner</li>") && section.contains("<li>bob · viewer</li>"),
        "{section}"
    );
}

#[tokio::test]
async fn search_shows_only_the_kinds_with_hits() {
    let r = registry_site(None).await;
    let alice = r.site.sign_in("alice", "alice-password").await.unwrap();
    let page = r.site.get("/search?q=app", &alice).await;
    assert!(page.body.contains("<h2 id=\"hits-repositories\">"), "{}", page.body);
    assert!(
        !page.body.contains("id=\"hits-namespaces\"") && !page.body.contains("id=\"hits-tags\""),
        "{}",
        page.body
    );
    let nothing = r.site.get("/search?q=zzz", &alice).await;
    assert!(nothing.body.contains("Nothing matched «zzz»."), "{}", nothing.body);
    assert!(!nothing.body.contains("<h2"), "{}", nothing.body);
}

#[tokio::test]
async fn a_new_installation_dashboard_says_what_to_do_first() {
    let site = site().await;
    let admin = site.sign_in("admin", "admin-password").await.unwrap();
    let page = site.get("/", &admin).await;
    for step in [
        "id=\"getting-started\"",
        "id=\"step-namespace\"",
        "id=\"step-registry\"",
        "portus config registry",
        "docker push REGISTRY_HOST/admin/IMAGE:TAG",
    ] {
        assert!(page.body.contains(step), "{step}: {}", page.body);
    }
    // Once there are namespaces and images, the dashboard is the usual one.
    let r = registry_site(None).await;
    let admin = r.site.sign_in("admin", "admin-password").await.unwrap();
    let page = r.site.get("/", &admin).await;
    assert!(!page.body.contains("getting-started"), "{}", page.body);
}

/// A repository holding only charts reads "not an image" in the lists, not "Scan pending".
#[tokio::test]
async fn a_repository_of_charts_reads_not_an_image_in_the_lists() {
    use portus_core::model::{Artifact, ArtifactKind};
    let r = registry_site(None).await;
    let chart = Artifact {
        kind: ArtifactKind::HelmChart,
        ..Artifact::image()
    };
    for (tag, digest) in [("0.1.0", "sha256:c1"), ("0.2.0", "sha256:c2")] {
        let manifest = ManifestRecord {
            digest: digest.into(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            size: None,
        };
        let store = &r.site.store;
        store
            .put_tag("devs/charts", tag, &manifest, Some("alice"), MissingNamespace::Ignore)
            .await
            .unwrap();
        assert!(store.record_artifact("devs/charts", tag, digest, &chart).await.unwrap());
    }
    let alice = r.site.sign_in("alice", "alice-password").await.unwrap();
    let page = r.site.get("/repositories", &alice).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let start = page.body.find(">devs/charts</a>").expect("the charts' row");
    let end = page.body[start..].find("</tr>").unwrap() + start;
    let row = &page.body[start..end];
    assert!(row.contains("data-status=\"not-an-image\""), "{row}");
    assert!(row.contains("Not scanned: not an image"), "{row}");
}
