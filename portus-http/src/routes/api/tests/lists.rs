//! Every list answers one page the store ordered and sliced, with Portus' pagination headers,
//! and says so in the OpenAPI document.

use super::*;

/// The pagination headers of an answer: (`X-Total`, `X-Total-Pages`, `Link`).
fn pages(headers: &axum::http::HeaderMap) -> (String, String, String) {
    let text = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    (text("x-total"), text("x-total-pages"), text("link"))
}

/// Names in the order of the answer (unlike [`names`], which sorts them).
fn in_order(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("array: {list}"))
        .iter()
        .map(|v| v[key].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_list_route_is_documented_with_its_page_parameters_and_headers() {
    let f = fixture(Options::default()).await;
    let (_, document) = f.get("/api/openapi.json", None).await;
    // Arrays that are no pages: the one configured registry.
    let not_paged = ["/api/v1/registries"];
    let mut lists = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        let Some(get) = item.get("get") else { continue };
        let ok = &get["responses"]["200"];
        if ok["content"]["application/json"]["schema"]["type"] != "array" || not_paged.contains(&path.as_str()) {
            continue;
        }
        lists.push(path.clone());
        let parameters: Vec<&str> = get["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for name in ["page", "per_page", "all", "sort_attr", "sort_order"] {
            assert!(parameters.contains(&name), "GET {path} takes {name}: {parameters:?}");
        }
        for name in [
            "X-Total",
            "X-Total-Pages",
            "X-Page",
            "X-Per-Page",
            "X-Next-Page",
            "X-Prev-Page",
            "Link",
        ] {
            let header = &ok["headers"][name];
            assert!(header["description"].is_string(), "GET {path} documents {name}: {ok}");
        }
        assert_eq!(ok["headers"]["X-Total"]["schema"]["type"], "integer", "GET {path}");
    }
    for list in [
        "/api/v1/users",
        "/api/v1/users/{id}/application_tokens",
        "/api/v1/teams",
        "/api/v1/teams/{id}/members",
        "/api/v1/teams/{id}/namespaces",
        "/api/v1/namespaces",
        "/api/v1/activities",
        "/api/v1/repositories/{id}/comments",
        "/api/v1/namespaces/{id}/webhooks",
        "/api/v1/namespaces/{id}/webhooks/{webhook_id}/deliveries",
    ] {
        assert!(
            lists.iter().any(|l| l == list),
            "{list} is a documented list: {lists:?}"
        );
    }
}

#[tokio::test]
async fn members_and_tokens_are_pages() {
    let f = fixture(Options::default()).await;
    let devs = f.team_id("devs").await;
    let members = format!("/api/v1/teams/{devs}/members");
    let (status, headers, page) = f
        .call_with_headers(Method::GET, &format!("{members}?per_page=2"), Some("bob"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(in_order(&page, "username"), ["alice", "bob"]);
    let (total, pages_count, link) = pages(&headers);
    assert_eq!((total.as_str(), pages_count.as_str()), ("3", "2"));
    assert!(
        link.contains(&format!("<{members}?page=2&per_page=2>; rel=\"next\"")),
        "{link}"
    );
    // Ordered by role (by its name), both ways.
    let (_, by_role) = f.get(&format!("{members}?sort_attr=role"), Some("bob")).await;
    assert_eq!(in_order(&by_role, "username"), ["dave", "alice", "bob"]);
    let (_, by_role) = f
        .get(
            &format!("{members}?sort_attr=role&sort_order=desc&per_page=1&page=3"),
            Some("bob"),
        )
        .await;
    assert_eq!(in_order(&by_role, "username"), ["dave"]);

    let alice = f.id("alice");
    for label in ["laptop", "ci"] {
        let (status, _) = f
            .call(
                Method::POST,
                &format!("/api/v1/users/{alice}/application_tokens"),
                Some("alice"),
                Some(json!({"application": label})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let tokens = format!("/api/v1/users/{alice}/application_tokens");
    let (_, headers, page) = f
        .call_with_headers(
            Method::GET,
            &format!("{tokens}?per_page=2&sort_attr=application"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(in_order(&page, "application"), ["ci", "laptop"]);
    assert_eq!(pages(&headers).0, "3");
}

#[tokio::test]
async fn namespace_lists_are_pages_of_what_the_caller_may_see() {
    let f = fixture(Options::default()).await;
    let (_, headers, anonymous) = f
        .call_with_headers(Method::GET, "/api/v1/namespaces?per_page=1", None, None)
        .await;
    assert_eq!(in_order(&anonymous, "name"), ["(global)"]);
    assert_eq!(pages(&headers).0, "2", "the global namespace and `open`");
    let (_, headers, carol) = f
        .call_with_headers(Method::GET, "/api/v1/namespaces?page=2&per_page=2", Some("carol"), None)
        .await;
    assert_eq!(in_order(&carol, "name"), ["open", "prot"]);
    assert_eq!(pages(&headers).0, "4", "global, her own, open, prot");
    let (_, alice) = f
        .get("/api/v1/namespaces?sort_attr=id&sort_order=desc", Some("alice"))
        .await;
    let ids: Vec<i64> = alice
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    let devs = alice.as_array().unwrap().iter().find(|n| n["name"] == "devs").unwrap();
    assert_eq!(devs["repositories_count"], 1);
    // A team's namespaces: pages of those the caller may see.
    let ops = f.team_id("ops").await;
    let (_, headers, page) = f
        .call_with_headers(
            Method::GET,
            &format!("/api/v1/teams/{ops}/namespaces?per_page=1&page=2"),
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(in_order(&page, "name"), ["prot"]);
    assert_eq!(page[0]["repositories_count"], 1);
    assert_eq!(pages(&headers).0, "2");
}

#[tokio::test]
async fn activity_pages_count_every_match_and_link_with_their_filters() {
    let f = fixture(Options::default()).await;
    for n in 0..1005 {
        f.store
            .record_activity(portus_core::model::NewActivity::new(
                Some("alice"),
                portus_core::model::ActivityAction::TagPush,
                format!("devs/app:{n}"),
            ))
            .await
            .unwrap();
    }
    let (status, headers, page) = f
        .call_with_headers(
            Method::GET,
            "/api/v1/activities?action=tag.push&namespace=devs&per_page=100&page=2",
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(in_order(&page, "target")[0], "devs/app:904", "newest first");
    let (total, pages_count, link) = pages(&headers);
    assert_eq!(
        (total.as_str(), pages_count.as_str()),
        ("1005", "11"),
        "no cap on the total"
    );
    assert!(
        link.contains("</api/v1/activities?namespace=devs&action=tag.push&page=3&per_page=100>; rel=\"next\""),
        "{link}"
    );
    let (_, oldest) = f
        .get("/api/v1/activities?actor=alice&sort_attr=id&per_page=1", Some("alice"))
        .await;
    assert_eq!(in_order(&oldest, "target"), ["devs/app:0"]);
}

#[tokio::test]
async fn comments_are_pages() {
    let f = fixture(Options::default()).await;
    let secret = f.repository_id("devs/secret").await;
    for body in ["one", "two", "three"] {
        f.store
            .add_comment(portus_core::model::RepositoryId(secret), "alice", body)
            .await
            .unwrap();
    }
    let uri = format!("/api/v1/repositories/{secret}/comments?per_page=2&page=2");
    let (status, headers, page) = f.call_with_headers(Method::GET, &uri, Some("bob"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(in_order(&page, "body"), ["three"]);
    assert_eq!(pages(&headers).0, "3");
}

/// A namespace's webhooks and a webhook's delivery log are pages; without `per_page` a page
/// holds 100, what each answered before it was paged.
#[tokio::test]
async fn webhooks_and_their_deliveries_are_pages() {
    use portus_core::model::WebhookEvent;
    let f = fixture(Options::default()).await;
    let namespace = f.namespace_id("devs").await;
    let mut ids = Vec::new();
    for name in ["c", "a", "b"] {
        let settings = portus_core::testing::webhooks::push_settings(name);
        let webhook = f
            .store
            .create_webhook(portus_core::model::NamespaceId(namespace), settings)
            .await
            .unwrap();
        ids.push(webhook.id);
    }
    let list = format!("/api/v1/namespaces/{namespace}/webhooks");
    let (status, headers, all) = f.call_with_headers(Method::GET, &list, Some("admin"), None).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(in_order(&all, "name"), ["c", "a", "b"], "by id, as before");
    assert_eq!(headers["x-per-page"], "100");
    let (_, headers, second) = f
        .call_with_headers(
            Method::GET,
            &format!("{list}?per_page=1&page=2&sort_attr=name"),
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(in_order(&second, "name"), ["b"]);
    let (total, pages_count, link) = pages(&headers);
    assert_eq!((total.as_str(), pages_count.as_str()), ("3", "3"));
    assert!(
        link.contains(&format!("<{list}?page=3&per_page=1&sort_attr=name>; rel=\"next\"")),
        "{link}"
    );

    let hook = ids[0];
    for n in 0..105 {
        f.store
            .enqueue_delivery(hook, WebhookEvent::Push, &format!("e{n}"), "{}")
            .await
            .unwrap();
    }
    let log = format!("{list}/{}/deliveries", hook.0);
    let (status, headers, latest) = f.call_with_headers(Method::GET, &log, Some("admin"), None).await;
    assert_eq!(status, StatusCode::OK, "{latest}");
    let keys = in_order(&latest, "event_key");
    assert_eq!(
        (keys.len(), keys[0].as_str()),
        (100, "e104"),
        "the latest 100, newest first"
    );
    assert_eq!(pages(&headers).0, "105");
    let (_, headers, rest) = f
        .call_with_headers(Method::GET, &format!("{log}?page=2"), Some("admin"), None)
        .await;
    assert_eq!(in_order(&rest, "event_key"), ["e4", "e3", "e2", "e1", "e0"]);
    assert_eq!(pages(&headers).1, "2");
    let (_, _, one) = f
        .call_with_headers(Method::GET, &format!("{log}?per_page=2&page=3"), Some("admin"), None)
        .await;
    assert_eq!(in_order(&one, "event_key"), ["e100", "e99"]);
}
