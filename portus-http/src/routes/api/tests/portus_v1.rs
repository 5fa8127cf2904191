//! Portus' API v1 as its clients (portusctl, scripts) speak it: `Portus-Auth` headers, bodies
//! wrapped in the resource's name, Portus' routes, list parameters, CORS headers and the field
//! names they read. Each request and answer below is shaped as Portus sent and answered it.

use std::time::Duration;

use portus_core::model::ScanState;
use portus_scan::scanner::Scanner;
use portus_scan::worker::{PullAuthorization, ScanWorker, WorkerConfig};

use super::*;

impl Fixture {
    /// A request as portusctl sends it: `Portus-Auth: <user>:<token>` and a JSON body.
    async fn portus(
        &self,
        method: Method,
        uri: &str,
        user: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(user) = user {
            request = request.header("portus-auth", format!("{user}:{}", self.tokens[user]));
        }
        self.send(request, body).await
    }

    async fn portus_status(&self, method: Method, uri: &str, user: Option<&str>, body: Option<Value>) -> StatusCode {
        self.portus(method, uri, user, body).await.0
    }
}

#[tokio::test]
async fn bodies_wrapped_in_the_resource_name_are_accepted() {
    let f = fixture(Options::default()).await;
    let (status, _, user) = f
        .portus(
            Method::POST,
            "/api/v1/users",
            Some("admin"),
            Some(
                json!({"user": {"username": "erin", "email": "erin@example.com", "password": "long enough password"}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(
        (&user["username"], &user["email"], &user["display_username"]),
        (&json!("erin"), &json!("erin@example.com"), &json!("erin"))
    );
    let erin = format!("/api/v1/users/{}", user["id"]);
    let (status, _, user) = f
        .portus(
            Method::PUT,
            &erin,
            Some("admin"),
            Some(json!({"user": {"email": "new@example.com"}})),
        )
        .await;
    assert_eq!((status, &user["email"]), (StatusCode::OK, &json!("new@example.com")));

    let (status, _, team) = f
        .portus(
            Method::POST,
            "/api/v1/teams",
            Some("alice"),
            Some(json!({"team": {"name": "qa", "description": "quality"}})),
        )
        .await;
    assert_eq!((status, &team["description"]), (StatusCode::CREATED, &json!("quality")));
    let (status, _, team) = f
        .portus(
            Method::PUT,
            &format!("/api/v1/teams/{}", team["id"]),
            Some("alice"),
            Some(json!({"team": {"description": "assurance"}})),
        )
        .await;
    assert_eq!((status, &team["description"]), (StatusCode::OK, &json!("assurance")));

    let (status, _, namespace) = f
        .portus(
            Method::POST,
            "/api/v1/namespaces",
            Some("alice"),
            Some(json!({"namespace": {"name": "qa", "team": "qa", "description": "tests"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{namespace}");
    let (status, _, namespace) = f
        .portus(
            Method::PUT,
            &format!("/api/v1/namespaces/{}", namespace["id"]),
            Some("admin"),
            Some(json!({"namespace": {"visibility": "public", "description": "open tests"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{namespace}");
    assert_eq!(
        (&namespace["visibility"], &namespace["description"]),
        (&json!("public"), &json!("open tests"))
    );

    // Only the resource's own name unwraps, and only a lone wrapper: anything else is read as
    // a bare body and refused clearly.
    let (status, _, body) = f
        .portus(
            Method::POST,
            "/api/v1/users",
            Some("admin"),
            Some(json!({"team": {"username": "x"}})),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_REQUEST")
    );
    let (status, _, body) = f
        .portus(
            Method::POST,
            "/api/v1/users",
            Some("admin"),
            Some(json!({"user": {"username": "y"}, "extra": 1})),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_REQUEST")
    );
    assert!(f.store.user_by_name("x").await.unwrap().is_none());
    assert!(f.store.user_by_name("y").await.unwrap().is_none());
    // Members keep their own `user` field: `{user: <name>, role}` is not a wrapper.
    let (status, _, member) = f
        .portus(
            Method::POST,
            &format!("/api/v1/teams/{}/members", f.team_id("devs").await),
            Some("alice"),
            Some(json!({"user": "carol", "role": "viewer"})),
        )
        .await;
    assert_eq!((status, &member["username"]), (StatusCode::CREATED, &json!("carol")));
}

#[tokio::test]
async fn version_is_portus_shaped_for_signed_in_users() {
    let f = fixture(Options::default()).await;
    assert_eq!(
        f.portus_status(Method::GET, "/api/version", None, None).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _, version) = f.portus(Method::GET, "/api/version", Some("carol"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(version["api-versions"], json!(["v1"]));
    assert_eq!(version["version"], json!(env!("CARGO_PKG_VERSION")));
    assert!(version.as_object().unwrap().contains_key("git"), "{version}");
}

#[tokio::test]
async fn lists_take_all_sort_attr_and_sort_order() {
    let f = fixture(Options::default()).await;
    let usernames = |list: &Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, headers, users) = f
        .portus(
            Method::GET,
            "/api/v1/users?sort_attr=username&sort_order=desc&per_page=2",
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(usernames(&users), ["dave", "carol"]);
    assert_eq!(headers["x-next-page"], "2");
    assert!(
        headers[header::LINK]
            .to_str()
            .unwrap()
            .contains("page=2&per_page=2&sort_attr=username&sort_order=desc>; rel=\"next\"")
    );
    let (_, _, users) = f
        .portus(
            Method::GET,
            "/api/v1/users?sort_attr=id&sort_order=asc",
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(usernames(&users), ["admin", "alice", "bob", "carol", "dave"]);
    // An attribute the items do not have keeps the default order, as Portus falls back.
    let (status, _, users) = f
        .portus(Method::GET, "/api/v1/users?sort_attr=nonsense", Some("admin"), None)
        .await;
    assert_eq!(
        (status, usernames(&users)),
        (
            StatusCode::OK,
            vec![
                "admin".into(),
                "alice".into(),
                "bob".into(),
                "carol".into(),
                "dave".into()
            ]
        )
    );
    let (_, headers, users) = f
        .portus(Method::GET, "/api/v1/users?all=true&per_page=1", Some("admin"), None)
        .await;
    assert_eq!(users.as_array().unwrap().len(), 5, "all ignores the page size");
    assert_eq!(headers["x-total-pages"], "1");
    assert_eq!(
        f.portus_status(Method::GET, "/api/v1/users?sort_order=sideways", Some("admin"), None)
            .await,
        StatusCode::BAD_REQUEST
    );
    // Lists that are not paginated sort too.
    let devs = f.team_id("devs").await;
    let (_, _, members) = f
        .portus(
            Method::GET,
            &format!("/api/v1/teams/{devs}/members?sort_attr=username&sort_order=desc"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(names(&members, "username"), ["alice", "bob", "dave"]);
    assert_eq!(members[0]["username"], "dave");
    let (_, _, activities) = f
        .portus(
            Method::GET,
            "/api/v1/activities?all=true&sort_order=asc",
            Some("admin"),
            None,
        )
        .await;
    assert!(activities.is_array());
}

#[tokio::test]
async fn every_api_answer_carries_portus_cors_headers() {
    let f = fixture(Options::default()).await;
    let expect = |headers: &axum::http::HeaderMap| {
        assert_eq!(headers["access-control-allow-origin"], "*");
        assert_eq!(headers["access-control-request-method"], "*");
        assert_eq!(
            headers["access-control-allow-headers"],
            "Content-Type, api_key, Authorization, portus-auth"
        );
    };
    let (status, headers, _) = f.portus(Method::GET, "/api/v1/_ping", None, None).await;
    assert_eq!(status, StatusCode::OK);
    expect(&headers);
    let (status, headers, _) = f.portus(Method::GET, "/api/v1/users", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    expect(&headers);
    let (status, headers, _) = f.portus(Method::GET, "/api/v1/no-such-route", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    expect(&headers);
    // Preflights need no credentials.
    let (status, headers, _) = f.portus(Method::OPTIONS, "/api/v1/users", None, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    expect(&headers);
    // Not on the registry's endpoints.
    let (_, headers, _) = f.portus(Method::GET, "/v2/", None, None).await;
    assert!(!headers.contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn tags_grouped_by_manifest_and_every_tag_for_administrators() {
    let f = fixture(Options::default()).await;
    // A newer push onto the first manifest makes its group the newest.
    tokio::time::sleep(Duration::from_millis(5)).await;
    f.store
        .put_tag(
            "devs/secret",
            "3.0",
            &manifest("sha256:d1"),
            Some("alice"),
            MissingNamespace::Ignore,
        )
        .await
        .unwrap();
    let secret = f.repository_id("devs/secret").await;
    let uri = format!("/api/v1/repositories/{secret}/tags/grouped");
    let (status, _, groups) = f.portus(Method::GET, &uri, Some("bob"), None).await;
    assert_eq!(status, StatusCode::OK);
    let groups: Vec<Vec<&str>> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            g.as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(groups, [vec!["1.0", "3.0", "latest"], vec!["2.0"]]);
    // Groups come a page at a time: the second page of one holds the older group.
    let (_, headers, second) = f
        .portus(Method::GET, &format!("{uri}?per_page=1&page=2"), Some("bob"), None)
        .await;
    assert_eq!(headers["x-total"], "2");
    assert_eq!(second[0][0]["name"], "2.0");
    assert_eq!(second.as_array().unwrap().len(), 1);
    assert_eq!(
        f.portus_status(Method::GET, &uri, Some("carol"), None).await,
        StatusCode::NOT_FOUND
    );

    let first = f.store.tags(None).await.unwrap().remove(0);
    let sizes = portus_core::model::ImageSizes {
        total: 3000,
        platforms: vec![portus_core::model::PlatformSize {
            platform: "linux/amd64".into(),
            digest: "sha256:c1".into(),
            size: 3000,
        }],
    };
    f.store
        .record_image_sizes(&first.manifest.digest, &sizes)
        .await
        .unwrap();
    let pulled: chrono::DateTime<chrono::Utc> = "2026-11-30T10:20:30Z".parse().unwrap();
    f.store
        .record_pull(&first.repository, &first.name, pulled)
        .await
        .unwrap();
    let (status, headers, tags) = f.portus(Method::GET, "/api/v1/tags", Some("admin"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-total"], "6");
    let tag = tags.as_array().unwrap().iter().find(|t| t["id"] == first.id.0).unwrap();
    assert_eq!(tag["author"], json!({"id": f.id("alice"), "name": "alice"}));
    for field in [
        "id",
        "name",
        "digest",
        "size",
        "scanned",
        "pulled_at",
        "pull_count",
        "platforms",
    ] {
        assert!(tag.get(field).is_some(), "{field} in {tag}");
    }
    // The image's size measured from the registry's manifests, and the pulls it reported.
    assert_eq!(
        (tag["size"].as_u64(), tag["pull_count"].as_u64()),
        (Some(3000), Some(1)),
        "{tag}"
    );
    assert_eq!(tag["pulled_at"], "2026-11-30T10:20:30Z");
    assert_eq!(
        tag["platforms"],
        json!([{"platform": "linux/amd64", "digest": "sha256:c1", "size": 3000}])
    );
    assert_eq!(
        f.portus_status(Method::GET, "/api/v1/tags", Some("alice"), None).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        f.portus_status(Method::GET, "/api/v1/tags", None, None).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_forced_rescan_is_scanned_again_by_the_worker() {
    let f = fixture(Options::default()).await;
    let tag = f.tag_id("open/app:1.0").await;
    let (_, _, before) = f.portus(Method::GET, &format!("/api/v1/tags/{tag}"), None, None).await;
    assert_eq!(
        (&before["scanned"], &before["scan"]["status"]),
        (&json!(2), &json!("done"))
    );
    let uri = format!("/api/v1/vulnerabilities/{tag}");
    assert_eq!(
        f.portus_status(Method::POST, &uri, Some("alice"), None).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        f.portus_status(Method::POST, "/api/v1/vulnerabilities/999999", Some("admin"), None)
            .await,
        StatusCode::NOT_FOUND
    );
    let (status, _, _) = f.portus(Method::POST, &uri, Some("admin"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, _, after) = f.portus(Method::GET, &format!("/api/v1/tags/{tag}"), None, None).await;
    assert_eq!(
        (&after["scanned"], &after["scan"]["status"]),
        (&json!(0), &json!("pending"))
    );

    // The scan worker picks it up at its next pass.
    let backend = Arc::new(ScriptedBackend::clean("dummy"));
    let mut scanner = Scanner::new(Duration::from_secs(5));
    scanner.register(backend.clone()).unwrap();
    let authorization: PullAuthorization = Arc::new(|_: &str| Ok("Bearer pull".to_owned()));
    let worker = ScanWorker::new(
        f.store.clone(),
        f.registry.clone(),
        scanner,
        authorization,
        WorkerConfig {
            concurrency: 1,
            retry_base: Duration::from_secs(60),
            retry_max: Duration::from_secs(60),
            rescan_after: Duration::from_secs(3600),
            registry_url: "http://registry".into(),
            lease: Duration::from_secs(60),
        },
    );
    worker.run_once(&|_, _| {}).await.unwrap();
    assert!(backend.scanned().iter().any(|image| image.digest == "sha256:o1"));
    let (_, _, rescanned) = f.portus(Method::GET, &format!("/api/v1/tags/{tag}"), None, None).await;
    assert_eq!(rescanned["scanned"], json!(2));

    // Every tag: every record goes back to pending.
    let (status, _, _) = f
        .portus(Method::POST, "/api/v1/vulnerabilities", Some("admin"), None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(
        f.store
            .scan_records(None)
            .await
            .unwrap()
            .iter()
            .all(|r| r.state == ScanState::Pending)
    );
    assert_eq!(
        f.portus_status(Method::POST, "/api/v1/vulnerabilities", Some("bob"), None)
            .await,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn application_tokens_are_revoked_by_id_alone() {
    let f = fixture(Options::default()).await;
    let (status, _, token) = f
        .portus(
            Method::POST,
            &format!("/api/v1/users/{}/application_tokens", f.id("alice")),
            Some("alice"),
            Some(json!({"application": "ci"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let uri = format!("/api/v1/users/application_tokens/{}", token["id"]);
    assert_eq!(
        f.portus_status(Method::DELETE, &uri, Some("bob"), None).await,
        StatusCode::NOT_FOUND,
        "someone else's token looks missing"
    );
    assert_eq!(
        f.portus_status(Method::DELETE, &uri, None, None).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        f.portus_status(Method::DELETE, &uri, Some("alice"), None).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        f.portus_status(Method::DELETE, &uri, Some("alice"), None).await,
        StatusCode::NOT_FOUND
    );
    let bobs = f.store.list_app_tokens(f.users["bob"].id).await.unwrap()[0].id;
    assert_eq!(
        f.portus_status(
            Method::DELETE,
            &format!("/api/v1/users/application_tokens/{bobs}"),
            Some("admin"),
            None
        )
        .await,
        StatusCode::NO_CONTENT,
        "administrators revoke anyone's"
    );
    assert!(f.store.list_app_tokens(f.users["bob"].id).await.unwrap().is_empty());
    let (_, _, log) = f
        .portus(
            Method::GET,
            "/api/v1/activities?action=application_token.",
            Some("admin"),
            None,
        )
        .await;
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "application_token.destroy" && a["target"] == "bob/test"),
        "{log}"
    );
}

#[tokio::test]
async fn namespace_names_are_validated_as_portus_does() {
    let f = fixture(Options::default()).await;
    let (status, _, free) = f
        .portus(
            Method::GET,
            "/api/v1/namespaces/validate?name=fresh",
            Some("carol"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(free, json!({"valid": true, "messages": {}}));
    let (_, _, taken) = f
        .portus(
            Method::GET,
            "/api/v1/namespaces/validate?name=devs",
            Some("carol"),
            None,
        )
        .await;
    assert_eq!(taken["valid"], json!(false));
    assert_eq!(taken["messages"]["name"][0], "has already been taken");
    let (_, _, bad) = f
        .portus(
            Method::GET,
            "/api/v1/namespaces/validate?name=Bad%20Name",
            Some("carol"),
            None,
        )
        .await;
    assert_eq!(bad["valid"], json!(false));
    assert!(
        bad["messages"]["name"][0]
            .as_str()
            .unwrap()
            .contains("invalid namespace name")
    );
    assert_eq!(
        f.portus_status(Method::GET, "/api/v1/namespaces/validate?name=x", None, None)
            .await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn answers_carry_the_field_names_portus_clients_read() {
    let f = fixture(Options::default()).await;
    let secret = f.repository_id("devs/secret").await;
    let (_, _, repository) = f
        .portus(
            Method::GET,
            &format!("/api/v1/repositories/{secret}"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(repository["full_name"], "devs/secret");
    assert_eq!(repository["stars"], 0);
    assert_eq!(repository["tags_count"], 3);
    assert_eq!(
        repository["namespace"],
        json!({"id": f.namespace_id("devs").await, "name": "devs"})
    );
    let (_, _, namespaces) = f.portus(Method::GET, "/api/v1/namespaces", Some("alice"), None).await;
    let devs = namespaces
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "devs")
        .unwrap();
    assert_eq!(
        (&devs["visibility"], &devs["global"], &devs["repositories_count"]),
        (&json!("private"), &json!(false), &json!(1))
    );
    let (_, _, user) = f
        .portus(
            Method::GET,
            &format!("/api/v1/users/{}", f.id("bob")),
            Some("bob"),
            None,
        )
        .await;
    assert_eq!(user["display_username"], "bob");
}

#[tokio::test]
async fn namespaces_are_deleted_with_their_images() {
    let f = fixture(Options::default()).await;
    let devs = format!("/api/v1/namespaces/{}", f.namespace_id("devs").await);
    assert_eq!(
        f.portus_status(Method::DELETE, &devs, Some("carol"), None).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.portus_status(Method::DELETE, &devs, Some("bob"), None).await,
        StatusCode::FORBIDDEN,
        "a viewer sees it but may not delete it"
    );
    let personal = format!("/api/v1/namespaces/{}", f.namespace_id("alice").await);
    let (status, _, body) = f.portus(Method::DELETE, &personal, Some("admin"), None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "INVALID_REQUEST")
    );
    // Without a registry, a namespace holding images cannot go; the answer names the setting.
    let without_registry = fixture(Options {
        registry: false,
        ..Options::default()
    })
    .await;
    let (status, _, body) = without_registry
        .portus(Method::DELETE, &devs, Some("alice"), None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("registry.url"));

    assert_eq!(
        f.portus_status(Method::DELETE, &devs, Some("alice"), None).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(f.get(&devs, Some("alice")).await.0, StatusCode::NOT_FOUND);
    let mut deleted = f.registry.deleted();
    deleted.sort();
    assert_eq!(
        deleted,
        [
            ("devs/secret".to_owned(), "sha256:d1".to_owned()),
            ("devs/secret".to_owned(), "sha256:d2".to_owned())
        ]
    );
    let (_, _, log) = f
        .portus(
            Method::GET,
            "/api/v1/activities?action=namespace.delete",
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(names(&log, "target"), ["devs"]);
}

#[tokio::test]
async fn teams_are_deleted_handing_their_namespaces_to_new_team() {
    let f = fixture(Options::default()).await;
    let devs = format!("/api/v1/teams/{}", f.team_id("devs").await);
    let (status, _, _) = f
        .portus(
            Method::POST,
            "/api/v1/teams",
            Some("alice"),
            Some(json!({"name": "heirs"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        f.portus_status(Method::DELETE, &devs, Some("bob"), None).await,
        StatusCode::FORBIDDEN
    );
    // A team alice may not see answers exactly like one that does not exist.
    let invisible = f
        .portus(Method::DELETE, &format!("{devs}?new_team=ops"), Some("alice"), None)
        .await;
    let missing = f
        .portus(Method::DELETE, &format!("{devs}?new_team=nobody"), Some("alice"), None)
        .await;
    assert_eq!(invisible.0, StatusCode::NOT_FOUND);
    assert_eq!((invisible.0, invisible.2), (missing.0, missing.2));
    // As portusctl sends it: `new_team` in a JSON body.
    let (status, _, body) = f
        .portus(Method::DELETE, &devs, Some("alice"), Some(json!({"new_team": "heirs"})))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(f.get(&devs, Some("admin")).await.0, StatusCode::NOT_FOUND);
    let namespace = f.store.namespace(NamespaceRef::Named("devs")).await.unwrap().unwrap();
    assert_eq!(namespace.team_id.map(|t| t.0), Some(f.team_id("heirs").await));
    assert!(f.registry.deleted().is_empty(), "the images stay");
    let (_, _, log) = f
        .portus(
            Method::GET,
            "/api/v1/activities?action=team.delete",
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(log.as_array().unwrap().len(), 1, "one activity: {log}");
    assert_eq!(log[0]["target"], "devs");

    // Without new_team, the namespaces go with their images.
    let heirs = format!("/api/v1/teams/{}", f.team_id("heirs").await);
    assert_eq!(
        f.portus_status(Method::DELETE, &heirs, Some("alice"), None).await,
        StatusCode::NO_CONTENT
    );
    assert!(f.store.namespace(NamespaceRef::Named("devs")).await.unwrap().is_none());
    assert_eq!(f.registry.deleted().len(), 2);
}

#[tokio::test]
async fn repositories_are_described() {
    let f = fixture(Options::default()).await;
    let secret = format!("/api/v1/repositories/{}", f.repository_id("devs/secret").await);
    let (status, _, repository) = f
        .portus(
            Method::PUT,
            &secret,
            Some("alice"),
            Some(json!({"repository": {"description": "The *secret* app"}})),
        )
        .await;
    assert_eq!(
        (status, &repository["description"]),
        (StatusCode::OK, &json!("The *secret* app"))
    );
    assert_eq!(f.get(&secret, Some("bob")).await.1["description"], "The *secret* app");
    assert_eq!(
        f.portus_status(Method::PUT, &secret, Some("bob"), Some(json!({"description": "x"})))
            .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        f.portus_status(Method::PUT, &secret, Some("carol"), Some(json!({"description": "x"})))
            .await,
        StatusCode::NOT_FOUND
    );
    let (status, _, repository) = f
        .portus(Method::PUT, &secret, Some("alice"), Some(json!({"description": null})))
        .await;
    assert_eq!((status, &repository["description"]), (StatusCode::OK, &Value::Null));
    let (_, _, log) = f
        .portus(
            Method::GET,
            "/api/v1/activities?action=repository.update",
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(names(&log, "target"), ["devs/secret", "devs/secret"]);
}
