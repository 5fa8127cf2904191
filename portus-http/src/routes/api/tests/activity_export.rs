//! The activity log's export and scoping: each role sees exactly its own activities and those
//! of its teams and their namespaces, in pages and in CSV and JSON exports; anonymous callers
//! nothing; time bounds, the formula guard and the cap.

use portus_core::model::{ActivityAction, ActivityFilter, NewActivity};

use super::*;

/// `GET uri` as `user`: status, headers and the body as text.
async fn raw(f: &Fixture, uri: &str, user: Option<&str>) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::builder().method(Method::GET).uri(uri);
    if let Some(user) = user {
        request = request.header(header::AUTHORIZATION, format!("Bearer {}", f.tokens[user]));
    }
    let response = f
        .app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, 64 << 20).await.unwrap();
    (parts.status, parts.headers, String::from_utf8(bytes.to_vec()).unwrap())
}

/// The log the tests read: activities of the private `devs` namespace and team, of the `ops`
/// team's public and protected namespaces, of carol's own namespace, and of users.
const LOG: [(Option<&str>, ActivityAction, &str, Option<&str>); 9] = [
    (Some("alice"), ActivityAction::TagPush, "devs/secret:1.0", None),
    (Some("admin"), ActivityAction::TagPush, "open/app:1.0", None),
    (Some("admin"), ActivityAction::NamespaceCreate, "prot", None),
    (Some("admin"), ActivityAction::TeamMemberAdd, "devs", Some("bob")),
    (Some("admin"), ActivityAction::TeamCreate, "ops", None),
    (Some("carol"), ActivityAction::TagPush, "carol/x:1", None),
    (None, ActivityAction::TagPush, "devs/secret:2.0", Some("sha256:d2")),
    (Some("admin"), ActivityAction::UserCreate, "dave", None),
    (
        Some("alice"),
        ActivityAction::NamespaceUpdate,
        "devs",
        Some("=HYPERLINK(\"http://evil\";\"x\")"),
    ),
];

/// The fixture with [`LOG`] recorded, a few milliseconds apart (distinct times).
async fn logged() -> Fixture {
    let f = fixture(Options::default()).await;
    for (actor, action, target, details) in LOG {
        let mut activity = NewActivity::new(actor, action, target);
        if let Some(details) = details {
            activity = activity.with_details(details);
        }
        f.store.record_activity(activity).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    f
}

/// The targets of the log's entries `indices`, in the log's order.
fn targets(indices: &[usize]) -> Vec<String> {
    indices.iter().map(|&i| LOG[i].2.to_owned()).collect()
}

/// The `target` column of a CSV export (no target here holds a comma or a quote).
fn csv_targets(csv: &str) -> Vec<String> {
    let mut lines = csv.split("\r\n");
    assert_eq!(lines.next(), Some("id,time,actor,action,target,details"), "{csv}");
    lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').nth(4).unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn each_role_exports_exactly_what_it_may_see() {
    let f = logged().await;
    let devs = targets(&[0, 3, 6, 8]);
    for (user, expected) in [
        ("admin", targets(&[0, 1, 2, 3, 4, 5, 6, 7, 8])),
        // Owner, viewer and contributor of `devs` alike: its team, namespace, repositories and
        // tags, nothing of `ops`' namespaces, carol's, or users.
        ("alice", devs.clone()),
        ("bob", devs.clone()),
        ("dave", devs.clone()),
        // Of another team: only her own.
        ("carol", targets(&[5])),
    ] {
        let (status, headers, csv) = raw(&f, "/api/v1/activities?format=csv", Some(user)).await;
        assert_eq!(status, StatusCode::OK, "{user}: {csv}");
        assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
        assert_eq!(
            headers[header::CONTENT_DISPOSITION],
            "attachment; filename=\"activities.csv\""
        );
        assert_eq!(csv_targets(&csv), expected, "{user} (CSV)");
        let (status, headers, json) = raw(&f, "/api/v1/activities?format=json", Some(user)).await;
        assert_eq!(status, StatusCode::OK, "{user}: {json}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        let json: Value = serde_json::from_str(&json).unwrap();
        let exported: Vec<String> = json
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["target"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(exported, expected, "{user} (JSON)");
        // The pages show the same, newest first.
        let (_, page) = f.get("/api/v1/activities?all=true", Some(user)).await;
        let mut paged: Vec<String> = page
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["target"].as_str().unwrap().to_owned())
            .collect();
        paged.reverse();
        assert_eq!(paged, expected, "{user} (pages)");
    }
    // Naming another actor narrows what the caller sees; it widens nothing.
    let (status, by_admin) = f.get("/api/v1/activities?actor=admin", Some("bob")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&by_admin, "target"), ["devs"]);
    let (_, carol_of_admin) = f.get("/api/v1/activities?actor=admin", Some("carol")).await;
    assert_eq!(carol_of_admin, json!([]));
    for uri in [
        "/api/v1/activities?format=csv",
        "/api/v1/activities?format=json",
        "/api/v1/activities",
    ] {
        assert_eq!(raw(&f, uri, None).await.0, StatusCode::UNAUTHORIZED, "{uri}");
    }
}

#[tokio::test]
async fn exports_defuse_formulas_and_quote_cells() {
    let f = logged().await;
    let (_, _, csv) = raw(
        &f,
        "/api/v1/activities?format=csv&action=namespace.update",
        Some("alice"),
    )
    .await;
    let row = csv.split("\r\n").nth(1).unwrap();
    assert!(
        row.ends_with(",alice,namespace.update,devs,\"'=HYPERLINK(\"\"http://evil\"\";\"\"x\"\")\""),
        "{row}"
    );
    assert_eq!(csv.split("\r\n").filter(|l| !l.is_empty()).count(), 2);
}

#[tokio::test]
async fn exports_take_since_and_an_exclusive_until() {
    let f = logged().await;
    let all = f
        .store
        .activities_page(
            &ActivityFilter::default(),
            &portus_core::model::ListQuery::all(portus_core::model::ActivitySort::Id),
        )
        .await
        .unwrap()
        .items;
    let time = |i: usize| url::form_urlencoded::byte_serialize(all[i].at.to_rfc3339().as_bytes()).collect::<String>();
    // [since, until): the activity at `until` is left out, the one at `since` kept.
    let uri = format!("/api/v1/activities?format=csv&since={}&until={}", time(2), time(5));
    let (status, _, csv) = raw(&f, &uri, Some("admin")).await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    assert_eq!(csv_targets(&csv), targets(&[2, 3, 4]));
    let uri = format!("/api/v1/activities?since={}&until={}", time(2), time(5));
    let (_, page) = f.get(&uri, Some("admin")).await;
    assert_eq!(names(&page, "target"), ["devs", "ops", "prot"]);
    // An empty range is empty; a reversed one refused.
    let uri = format!("/api/v1/activities?format=json&since={}&until={}", time(3), time(3));
    assert_eq!(raw(&f, &uri, Some("admin")).await.2, "[]");
    let uri = format!("/api/v1/activities?format=json&since={}&until={}", time(5), time(2));
    assert_eq!(f.get(&uri, Some("admin")).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        f.get("/api/v1/activities?until=tomorrow", Some("admin")).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        f.get("/api/v1/activities?format=xml", Some("admin")).await.0,
        StatusCode::BAD_REQUEST
    );
    // An export is not paged.
    assert_eq!(
        f.get("/api/v1/activities?format=json&page=2", Some("admin")).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn exports_beyond_the_cap_are_refused() {
    let f = logged().await;
    let cap = usize::try_from(portus_core::model::ACTIVITY_EXPORT_CAP).unwrap();
    for i in 0..cap - 1 {
        f.store
            .record_activity(NewActivity::new(
                Some("admin"),
                ActivityAction::TagPush,
                format!("open/app:{i}"),
            ))
            .await
            .unwrap();
    }
    let (status, _, answer) = raw(&f, "/api/v1/activities?format=csv", Some("admin")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.contains("narrow"), "{answer}");
    // Only what the caller may see counts: alice's range is small.
    let (status, _, csv) = raw(&f, "/api/v1/activities?format=csv", Some("alice")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv_targets(&csv), targets(&[0, 3, 6, 8]));
    // A range of exactly the cap is exported whole, across batches.
    let (status, _, csv) = raw(
        &f,
        "/api/v1/activities?format=csv&action=tag.push&namespace=open",
        Some("admin"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv_targets(&csv).len(), cap);
}
