//! Refusals as the OpenAPI document states them: what a schema can say (types, ranges, lengths)
//! answers 400 exactly when the document says the request is invalid; what only a rule can
//! refuse (a limit in bytes, a count, the global namespace) answers 422. schemathesis checks
//! the same against a live server (scripts/schemathesis.sh); these are the cases it found.

use super::*;

#[tokio::test]
async fn page_numbers_are_bounded_as_documented() {
    let f = fixture(Options::default()).await;
    // `page` is an int32 from 1: past it is invalid, not an empty page.
    assert_eq!(
        f.get("/api/v1/users?page=2147483648", Some("admin")).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        f.get("/api/v1/users?page=-1", Some("admin")).await.0,
        StatusCode::BAD_REQUEST
    );
    let (status, page) = f.get("/api/v1/users?page=2147483647", Some("admin")).await;
    assert_eq!((status, page), (StatusCode::OK, json!([])));
    // Every list is paginated, a team's members too: the same bounds.
    let members = format!("/api/v1/teams/{}/members", f.team_id("devs").await);
    assert_eq!(
        f.get(&format!("{members}?per_page=100000"), Some("alice")).await.0,
        StatusCode::BAD_REQUEST
    );
    let (status, page) = f.get(&format!("{members}?per_page=1"), Some("alice")).await;
    assert_eq!((status, page.as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
}

#[tokio::test]
async fn passwords_are_counted_in_characters_and_limited_in_bytes() {
    let f = fixture(Options::default()).await;
    let create = |password: String| json!({"username": "erin", "password": password});
    // Seven characters are too few, whatever their bytes.
    let (status, _) = f
        .call(
            Method::POST,
            "/api/v1/users",
            Some("admin"),
            Some(create("é".repeat(7))),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Forty characters of two bytes are more than bcrypt reads: a rule, not bad input.
    let (status, body) = f
        .call(
            Method::POST,
            "/api/v1/users",
            Some("admin"),
            Some(create("é".repeat(40))),
        )
        .await;
    assert_eq!(
        (status, body["errors"][0]["message"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("a password has at most 72 bytes (bcrypt reads no more)")
        )
    );
    assert!(f.store.user_by_name("erin").await.unwrap().is_none());
    let (status, _) = f
        .call(
            Method::POST,
            "/api/v1/users",
            Some("admin"),
            Some(create("é".repeat(36))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

/// carol asks for an application token labelled `label`.
async fn new_token_of_carol(f: &Fixture, label: &str) -> (StatusCode, Value) {
    let tokens = format!("/api/v1/users/{}/application_tokens", f.id("carol"));
    f.call(
        Method::POST,
        &tokens,
        Some("carol"),
        Some(json!({ "application": label })),
    )
    .await
}

#[tokio::test]
async fn the_configured_token_limit_is_a_rule() {
    // carol holds the fixture's token already: two more reach the limit.
    let f = fixture(Options {
        max_app_tokens: 3,
        ..Options::default()
    })
    .await;
    let tokens = format!("/api/v1/users/{}/application_tokens", f.id("carol"));
    for label in ["x".repeat(100), "ci".into(), "third".into()] {
        let (status, body) = new_token_of_carol(&f, &label).await;
        if label == "third" {
            assert_eq!(
                (status, error_code(&body)),
                (StatusCode::UNPROCESSABLE_ENTITY, "INVALID_REQUEST")
            );
        } else {
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
    }
    let (_, listed) = f.call(Method::GET, &tokens, Some("carol"), None).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed}");
}

#[tokio::test]
async fn token_labels_are_bounded() {
    let f = fixture(Options::default()).await;
    let tokens = format!("/api/v1/users/{}/application_tokens", f.id("carol"));
    for label in ["x".repeat(1_000), "x".repeat(101), "a\u{7}b".into(), " \t ".into()] {
        let (status, body) = new_token_of_carol(&f, &label).await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
            "{}",
            label.len()
        );
    }
    let (_, listed) = f.call(Method::GET, &tokens, Some("carol"), None).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "nothing was stored: {listed}");
}

#[tokio::test]
async fn names_are_limited_in_characters() {
    let f = fixture(Options::default()).await;
    let (status, _) = f
        .call(
            Method::POST,
            "/api/v1/teams",
            Some("alice"),
            Some(json!({"name": "é".repeat(255)})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "255 characters, 510 bytes");
    let (status, _) = f
        .call(
            Method::POST,
            "/api/v1/users",
            Some("admin"),
            Some(json!({"username": "ü".repeat(200)})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn integers_are_json_schema_integers() {
    let f = fixture(Options::default()).await;
    // `3.0` is an integer to JSON Schema (and so to the document); `3.5` is not.
    let alice = f.id("alice") as f64;
    let (status, team) = f
        .call(
            Method::POST,
            "/api/v1/teams",
            Some("admin"),
            Some(json!({"name": "floats", "owner_id": alice})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{team}");
    let members = f
        .get(&format!("/api/v1/teams/{}/members", team["id"]), Some("admin"))
        .await
        .1;
    assert_eq!(names(&members, "username"), ["alice"]);
    let (status, _) = f
        .call(
            Method::POST,
            "/api/v1/teams",
            Some("admin"),
            Some(json!({"name": "halves", "owner_id": alice + 0.5})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
