//! Application tokens with an expiry and a scope through the API (created, shown, refused when
//! malformed, kept away from the API itself when scoped), and the bots that hold such tokens.

use super::*;

#[tokio::test]
async fn scoped_expiring_tokens_are_created_listed_and_reach_no_api() {
    let f = fixture(Options::default()).await;
    let tokens = format!("/api/v1/users/{}/application_tokens", f.id("alice"));
    let expires_at = (portus_core::model::now() + chrono::Duration::days(30)).to_rfc3339();
    let body = json!({"application": "ci", "expires_at": expires_at, "scopes": ["devs/*:pull", "devs/app:push"]});
    let (status, created) = f.call(Method::POST, &tokens, Some("alice"), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["scopes"], json!(["devs/*:pull", "devs/app:push"]));
    assert!(created["expires_at"].is_string());
    assert!(created["last_used_at"].is_null());
    let (_, list) = f.get(&tokens, Some("alice")).await;
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["application"] == "ci")
        .unwrap();
    assert_eq!(listed["scopes"], created["scopes"]);
    assert!(listed.get("plain_token").is_none());
    // The scoped token does not act on the API (it would act with alice's full rights).
    let plain = created["plain_token"].as_str().unwrap();
    let request = Request::get(format!("/api/v1/users/{}", f.id("alice")))
        .header(header::AUTHORIZATION, format!("Bearer {plain}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        f.app.clone().oneshot(request).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let request = Request::get("/api/v1/users")
        .header("Portus-Auth", format!("alice:{plain}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        f.app.clone().oneshot(request).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn malformed_limits_are_refused_and_make_no_token() {
    let f = fixture(Options::default()).await;
    let tokens = format!("/api/v1/users/{}/application_tokens", f.id("alice"));
    let past = (portus_core::model::now() - chrono::Duration::minutes(1)).to_rfc3339();
    // A past expiry is a rule the schema cannot state: 422, as refusals.rs has it.
    let body = json!({"application": "a", "expires_at": past});
    let (status, answer) = f.call(Method::POST, &tokens, Some("alice"), Some(body)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    for body in [
        json!({"application": "b", "expires_at": "next week"}),
        json!({"application": "c", "scopes": []}),
        json!({"application": "d", "scopes": ["devs/*"]}),
        json!({"application": "e", "scopes": ["devs/*:write"]}),
        json!({"application": "f", "scopes": ["DEVS/*:pull"]}),
        json!({"application": "g", "scopes": [""]}),
        json!({"application": "h", "scopes": [format!("{}:pull", "a".repeat(260))]}),
    ] {
        let (status, answer) = f.call(Method::POST, &tokens, Some("alice"), Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {answer}");
    }
    let (_, list) = f.get(&tokens, Some("alice")).await;
    assert_eq!(names(&list, "application"), ["test"]);
}

#[tokio::test]
async fn administrators_make_bots_that_have_no_namespace_and_no_password() {
    let f = fixture(Options::default()).await;
    let (status, bot) = f
        .call(
            Method::POST,
            "/api/v1/users",
            Some("admin"),
            Some(json!({"username": "ci-bot", "bot": true})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{bot}");
    assert_eq!(
        (bot["bot"].clone(), bot["namespace_id"].clone()),
        (json!(true), Value::Null)
    );
    let tokens = format!("/api/v1/users/{}/application_tokens", bot["id"]);
    let (status, token) = f
        .call(
            Method::POST,
            &tokens,
            Some("admin"),
            Some(json!({"application": "default"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "administrators make its tokens: {token}");
    // Valid bodies by the schema, refused by a rule.
    for body in [
        json!({"username": "pw-bot", "bot": true, "password": "a-long-password"}),
        json!({"username": "admin-bot", "bot": true, "admin": true}),
    ] {
        let (status, answer) = f
            .call(Method::POST, "/api/v1/users", Some("admin"), Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} -> {answer}");
    }
    let (status, _) = f
        .call(
            Method::POST,
            "/api/v1/users",
            Some("alice"),
            Some(json!({"username": "my-bot", "bot": true})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "administrators only");
}
