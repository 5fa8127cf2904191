//! The pages that manage a namespace's webhooks, delete a namespace, and edit or delete a team
//! (handing its namespaces to another one): each reaches the API as the signed-in user, so the
//! API's refusals hold on the pages too.

use portus_core::model::{NamespaceId, NewNamespace, Role, Visibility, WebhookEvent};

use super::*;

/// A site where alice owns team `devs` (bob a viewer in it) and its private namespace `devs`,
/// and webhooks may target loopback addresses (the receiver of these tests is local).
async fn devs_site() -> (Site, NamespaceId) {
    let site = site_with_state(|_, _| {}, |state| state.outgoing.allow_private_targets = true).await;
    let store = &site.store;
    let alice = store.user_by_name("alice").await.unwrap().unwrap();
    let bob = store.user_by_name("bob").await.unwrap().unwrap();
    let devs = store.create_team("devs", alice.id, None).await.unwrap();
    store.set_team_member(devs.id, bob.id, Role::Viewer).await.unwrap();
    let namespace = store
        .create_namespace(NewNamespace {
            name: "devs".into(),
            team_id: devs.id,
            visibility: Visibility::Private,
            description: None,
        })
        .await
        .unwrap();
    (site, namespace.id)
}

const NEW_WEBHOOK: &str = "name=ci&url=http%3A%2F%2F127.0.0.1%3A9%2Fhook&method=POST&content_type=json\
     &event_push=on&event_vulnerability_found=on&min_severity=critical&enabled=on\
     &username=robot&password=s3cret&headers=X-Team%3A+blue";

#[tokio::test]
async fn owners_create_edit_disable_resend_and_delete_webhooks_and_the_secret_is_shown_once() {
    let (site, namespace) = devs_site().await;
    let alice = site.sign_in("alice", "alice-password").await.unwrap();
    let namespace_page = site.get(&format!("/namespaces/{namespace}"), &alice).await;
    assert!(
        namespace_page.body.contains("id=\"webhooks-link\""),
        "{}",
        namespace_page.body
    );
    let list = format!("/namespaces/{namespace}/webhooks");

    let created = site.post(&list, &list, &alice, NEW_WEBHOOK).await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let secret = created
        .body
        .split("id=\"webhook-secret\">")
        .nth(1)
        .expect("the secret is shown");
    let secret = secret.split('<').next().unwrap().to_owned();
    assert!(secret.len() >= 32, "{secret}");
    let stored = site.store.namespace_webhooks(namespace).await.unwrap();
    let [webhook] = stored.as_slice() else {
        panic!("one webhook: {stored:?}")
    };
    assert_eq!(
        webhook.settings.events,
        [WebhookEvent::Push, WebhookEvent::VulnerabilityFound]
    );
    assert_eq!(webhook.settings.min_severity, portus_core::traits::Severity::Critical);
    assert!(webhook.settings.has_credentials);
    assert_eq!(webhook.settings.header_names, ["X-Team"]);
    let listed = site.get(&list, &alice).await;
    assert!(listed.body.contains(">ci</a>"), "{}", listed.body);
    assert!(!listed.body.contains(&secret), "the secret is never shown again");

    let page_path = format!("/namespaces/{namespace}/webhooks/{}", webhook.id);
    let page = site.get(&page_path, &alice).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(!page.body.contains(&secret) && !page.body.contains("s3cret") && !page.body.contains("blue"));

    // Editing without credential or header fields keeps both; the name changes.
    let edit = "name=ci-renamed&url=http%3A%2F%2F127.0.0.1%3A9%2Fhook&method=GET&content_type=form&event_push=on\
                &min_severity=high&enabled=on&username=&password=&headers=";
    let saved = site.post(&page_path, &page_path, &alice, edit).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let edited = site.store.webhook(webhook.id).await.unwrap().unwrap();
    assert_eq!(edited.settings.name, "ci-renamed");
    assert_eq!(edited.settings.events, [WebhookEvent::Push]);
    assert!(edited.settings.has_credentials && edited.settings.header_names == ["X-Team"]);

    let rotated = site.post(&page_path, &format!("{page_path}/secret"), &alice, "").await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new_secret = rotated
        .body
        .split("id=\"webhook-secret\">")
        .nth(1)
        .expect("the new secret is shown");
    let new_secret = new_secret.split('<').next().unwrap().to_owned();
    assert!(new_secret.len() >= 32 && new_secret != secret, "{new_secret}");
    assert!(
        !site.get(&page_path, &alice).await.body.contains(&new_secret),
        "shown once"
    );

    let toggle = format!("{page_path}/toggle");
    site.post(&page_path, &toggle, &alice, "enabled=false").await;
    assert!(!site.store.webhook(webhook.id).await.unwrap().unwrap().settings.enabled);
    assert!(site.get(&page_path, &alice).await.body.contains("Disabled"));
    site.post(&page_path, &toggle, &alice, "enabled=true").await;
    assert!(site.store.webhook(webhook.id).await.unwrap().unwrap().settings.enabled);

    // A queued delivery shows in the log, and re-sending queues it again.
    let queued = portus_core::ops::webhooks::notify(
        site.store.as_ref(),
        "devs/app",
        WebhookEvent::Push,
        "event-1",
        "{\"event\":\"push\"}",
        None,
    )
    .await
    .unwrap();
    assert_eq!(queued, 1);
    let page = site.get(&page_path, &alice).await;
    assert!(page.body.contains("id=\"deliveries\""), "{}", page.body);
    let delivery = site.store.deliveries(webhook.id, 10).await.unwrap().remove(0);
    let resent = site
        .post(
            &page_path,
            &format!("{page_path}/deliveries/{}/resend", delivery.id),
            &alice,
            "",
        )
        .await;
    assert_eq!(resent.status, StatusCode::SEE_OTHER, "{}", resent.body);
    assert_eq!(site.store.deliveries(webhook.id, 10).await.unwrap().len(), 2);

    site.post(&page_path, &format!("{page_path}/delete"), &alice, "").await;
    assert!(site.store.namespace_webhooks(namespace).await.unwrap().is_empty());
}

#[tokio::test]
async fn viewers_see_webhooks_but_change_nothing_and_bad_headers_create_nothing() {
    let (site, namespace) = devs_site().await;
    let (alice, bob) = (
        site.sign_in("alice", "alice-password").await.unwrap(),
        site.sign_in("bob", "bob-password").await.unwrap(),
    );
    let list = format!("/namespaces/{namespace}/webhooks");
    let bad = site
        .post(
            &list,
            &list,
            &alice,
            "name=x&url=http%3A%2F%2F127.0.0.1%3A9%2F&headers=no-colon",
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
    assert!(site.store.namespace_webhooks(namespace).await.unwrap().is_empty());
    site.post(&list, &list, &alice, NEW_WEBHOOK).await;

    let seen = site.get(&list, &bob).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(
        seen.body.contains(">ci</a>") && !seen.body.contains("Create webhook"),
        "{}",
        seen.body
    );
    // The list page has no form for bob, so his post carries the CSRF token of another page.
    let refused = site.post("/tokens", &list, &bob, NEW_WEBHOOK).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let webhook = site.store.namespace_webhooks(namespace).await.unwrap().remove(0);
    let toggle = format!("{list}/{}/toggle", webhook.id);
    let refused = site.post("/tokens", &toggle, &bob, "enabled=false").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(site.store.webhook(webhook.id).await.unwrap().unwrap().settings.enabled);
    assert_eq!(site.store.namespace_webhooks(namespace).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_namespace_is_deleted_from_its_confirmation_page_by_those_who_may_only() {
    let (site, namespace) = devs_site().await;
    let (alice, bob) = (
        site.sign_in("alice", "alice-password").await.unwrap(),
        site.sign_in("bob", "bob-password").await.unwrap(),
    );
    let page = format!("/namespaces/{namespace}");
    assert!(!site.get(&page, &bob).await.body.contains("id=\"delete-namespace\""));
    let refused = site.post("/tokens", &format!("{page}/delete"), &bob, "").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(site.store.namespace_by_id(namespace).await.unwrap().is_some());

    assert!(site.get(&page, &alice).await.body.contains("id=\"delete-namespace\""));
    let confirm = format!("{page}/delete");
    assert!(site.get(&confirm, &alice).await.body.contains("Delete namespace devs"));
    let deleted = site.post(&confirm, &confirm, &alice, "").await;
    assert_eq!(
        (deleted.status, deleted.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/namespaces"))
    );
    assert!(site.store.namespace_by_id(namespace).await.unwrap().is_none());
}

#[tokio::test]
async fn a_team_is_edited_then_deleted_handing_its_namespaces_to_another() {
    let (site, namespace) = devs_site().await;
    let alice = site.sign_in("alice", "alice-password").await.unwrap();
    let owner = site.store.user_by_name("alice").await.unwrap().unwrap();
    let qa = site.store.create_team("qa", owner.id, None).await.unwrap();
    let devs = site.store.team_by_name("devs").await.unwrap().unwrap();
    let team_page = format!("/teams/{}", devs.id);

    let saved = site
        .post(&team_page, &team_page, &alice, "name=devs&description=The+builders")
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let described = site.store.team_by_name("devs").await.unwrap().unwrap();
    assert_eq!(described.description.as_deref(), Some("The builders"));

    let confirm = format!("{team_page}/delete");
    let page = site.get(&confirm, &alice).await;
    assert!(page.body.contains("<option value=\"qa\">"), "{}", page.body);
    let deleted = site.post(&confirm, &confirm, &alice, "new_team=qa").await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER, "{}", deleted.body);
    assert!(site.store.team_by_name("devs").await.unwrap().is_none());
    let kept = site
        .store
        .namespace_by_id(namespace)
        .await
        .unwrap()
        .expect("handed over, not deleted");
    assert_eq!(kept.team_id, Some(qa.id));
}

#[tokio::test]
async fn a_repository_is_described_from_its_page_by_those_who_manage_its_namespace() {
    use portus_core::model::{ManifestRecord, MissingNamespace};
    let (site, _) = devs_site().await;
    let manifest = ManifestRecord {
        digest: format!("sha256:{}", "ab".repeat(32)),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: Some(2),
    };
    site.store
        .put_tag("devs/app", "1.0", &manifest, Some("alice"), MissingNamespace::Ignore)
        .await
        .unwrap();
    let repository_of = || async {
        let all = site.store.list_repositories().await.unwrap();
        all.into_iter().find(|r| r.name == "devs/app").unwrap()
    };
    let repository = repository_of().await;
    let page = format!("/repositories/{}", repository.id);
    let (alice, bob) = (
        site.sign_in("alice", "alice-password").await.unwrap(),
        site.sign_in("bob", "bob-password").await.unwrap(),
    );
    assert!(!site.get(&page, &bob).await.body.contains("id=\"repo-description\""));
    let refused = site.post("/tokens", &page, &bob, "description=mine").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);

    assert!(site.get(&page, &alice).await.body.contains("id=\"repo-description\""));
    let saved = site.post(&page, &page, &alice, "description=The+web+app").await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let described = repository_of().await;
    assert_eq!(described.description.as_deref(), Some("The web app"));
    assert!(site.get(&page, &bob).await.body.contains("The web app"));
}

/// More webhooks, or deliveries, than a page holds: the rest are one "Next" away.
#[tokio::test]
async fn the_webhook_list_and_the_delivery_log_are_paged() {
    let (site, namespace) = devs_site().await;
    let alice = site.sign_in("alice", "alice-password").await.unwrap();
    let mut first = None;
    for n in 0..51 {
        let settings = portus_core::testing::webhooks::push_settings(&format!("hook-{n:02}"));
        let webhook = site.store.create_webhook(namespace, settings).await.unwrap();
        first.get_or_insert(webhook.id);
    }
    let list = format!("/namespaces/{namespace}/webhooks");
    let page = site.get(&list, &alice).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(">hook-49</a>") && !page.body.contains(">hook-50</a>"));
    assert!(page.body.contains(&format!("href=\"{list}?page=2\"")), "{}", page.body);
    let next = site.get(&format!("{list}?page=2"), &alice).await;
    assert!(next.body.contains(">hook-50</a>") && !next.body.contains(">hook-00</a>"));
    assert!(next.body.contains("Page 2 of 2"), "{}", next.body);

    let hook = first.unwrap();
    for n in 0..51 {
        site.store
            .enqueue_delivery(hook, WebhookEvent::Push, &format!("e{n}"), &format!("body-{n:02}"))
            .await
            .unwrap();
    }
    let log = format!("{list}/{}", hook.0);
    let page = site.get(&log, &alice).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("body-50") && !page.body.contains("body-00"),
        "newest first"
    );
    assert!(page.body.contains(&format!("href=\"{log}?page=2\"")), "{}", page.body);
    let older = site.get(&format!("{log}?page=2"), &alice).await;
    assert!(
        older.body.contains("body-00") && !older.body.contains("body-50"),
        "{}",
        older.body
    );
}
