//! What the tag page and the activity log need beyond the objects themselves: the tags a
//! deletion takes along, each scanner's time, and links from activities to the objects they
//! name, given only for objects that exist and that the caller may see.

use portus_core::model::{ActivityAction, NewActivity};

use super::*;

#[tokio::test]
async fn a_tags_findings_name_its_siblings_its_repository_and_each_scanners_time() {
    let f = fixture(Options::default()).await;
    let one = f.store.tag("devs/secret", "1.0").await.unwrap().unwrap();
    let (status, answer) = f
        .get(&format!("/api/v1/tags/{}/vulnerabilities", one.id.0), Some("alice"))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["tag"]["siblings"], json!(["latest"]));
    let repository = f.store.list_repositories().await.unwrap();
    let secret = repository.iter().find(|r| r.name == "devs/secret").unwrap();
    assert_eq!(answer["tag"]["repository_id"], json!(secret.id.0));
    assert_eq!(answer["tag"]["namespace_id"], json!(secret.namespace_id.0));
    // No scanner looked at this image yet: no time.
    assert_eq!(answer["security"]["scanned_at"], json!({}));
    let open = f.store.tag("open/app", "1.0").await.unwrap().unwrap();
    let (_, answer) = f
        .get(&format!("/api/v1/tags/{}/vulnerabilities", open.id.0), Some("alice"))
        .await;
    assert_eq!(answer["tag"]["siblings"], json!([]));
    assert!(answer["security"]["scanned_at"]["dummy"].is_string(), "{answer}");
}

#[tokio::test]
async fn activities_link_objects_that_exist_and_that_the_caller_may_see() {
    let f = fixture(Options::default()).await;
    for (actor, action, target) in [
        ("alice", ActivityAction::TagPush, "devs/secret:1.0"),
        ("alice", ActivityAction::TagPush, "devs/secret:9.9"),
        ("carol", ActivityAction::TagPush, "devs/secret:1.0"),
        ("carol", ActivityAction::TagPush, "open/app:1.0"),
        ("alice", ActivityAction::UserPassword, "alice"),
    ] {
        f.store
            .record_activity(NewActivity::new(Some(actor), action, target))
            .await
            .unwrap();
    }
    let links = |list: &Value| -> Vec<(String, Value)> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|a| (a["target"].as_str().unwrap().to_owned(), a["link"].clone()))
            .collect()
    };
    let secret = f.store.tag("devs/secret", "1.0").await.unwrap().unwrap().id.0;
    let open = f.store.tag("open/app", "1.0").await.unwrap().unwrap().id.0;
    let (_, alice) = f.get("/api/v1/activities?sort_attr=id", Some("alice")).await;
    assert_eq!(
        links(&alice),
        [
            ("devs/secret:1.0".to_owned(), json!({"kind": "tag", "id": secret})),
            ("devs/secret:9.9".to_owned(), Value::Null),
            // carol's push into alice's team's namespace is in alice's log too.
            ("devs/secret:1.0".to_owned(), json!({"kind": "tag", "id": secret})),
            // Users have pages for administrators only.
            ("alice".to_owned(), Value::Null),
        ]
    );
    // carol may not see devs: its tag is as unlinked as a deleted one.
    let (_, carol) = f.get("/api/v1/activities?sort_attr=id", Some("carol")).await;
    assert_eq!(
        links(&carol),
        [
            ("devs/secret:1.0".to_owned(), Value::Null),
            ("open/app:1.0".to_owned(), json!({"kind": "tag", "id": open})),
        ]
    );
    let (_, admin) = f.get("/api/v1/activities?sort_attr=id", Some("admin")).await;
    let alice_id = f.store.user_by_name("alice").await.unwrap().unwrap().id.0;
    assert!(
        links(&admin).contains(&("alice".to_owned(), json!({"kind": "user", "id": alice_id}))),
        "{admin}"
    );
}
