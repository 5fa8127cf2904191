//! `POST /api/v1/users/bootstrap`: the first administrator, without authentication, once.

use super::*;

/// A router on an empty store, as a new installation serves it.
fn empty_installation(first_user_admin: bool) -> (axum::Router, Arc<InMemoryStore>) {
    let store = Arc::new(InMemoryStore::new());
    let service = TokenService::new(
        store.clone(),
        vec![],
        crate::test_support::test_issuer(),
        TokenServiceConfig::new("registry.local"),
    );
    let mut state = AppState::new(Arc::new(service));
    state.bcrypt_cost = 4;
    state.first_user_admin = first_user_admin;
    (router(state, HttpLimits::default()), store)
}

async fn post(app: &axum::Router, uri: &str, bearer: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn root(password: &str) -> Value {
    json!({"user": {"username": "root", "email": "root@example.org", "password": password}})
}

#[tokio::test]
async fn the_first_administrator_is_made_once_with_a_token_that_works() {
    let (app, store) = empty_installation(true);
    let (status, answer) = post(&app, "/api/v1/users/bootstrap", None, root("root-password")).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["application"], "bootstrap");
    assert_eq!(answer["username"], "root");
    let plain = answer["plain_token"].as_str().unwrap().to_owned();
    let user = store.user_by_name("root").await.unwrap().unwrap();
    assert!(user.admin);
    assert_eq!(answer["user_id"], user.id.0);
    // The token answers as an administrator's.
    let (status, created) = post(
        &app,
        "/api/v1/users",
        Some(&plain),
        json!({"username": "alice", "password": "alice-password"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");

    // Once users exist: refused, nothing made, and no password was even looked at.
    let (status, refused) = post(
        &app,
        "/api/v1/users/bootstrap",
        None,
        json!({"username": "mallory", "password": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("users exist")
    );
    assert_eq!(store.user_by_name("mallory").await.unwrap(), None);
}

#[tokio::test]
async fn turned_off_or_bad_input_makes_nobody() {
    let (off, store) = empty_installation(false);
    let (status, refused) = post(&off, "/api/v1/users/bootstrap", None, root("root-password")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{refused}");
    assert_eq!(store.list_users().await.unwrap(), vec![]);

    let (app, store) = empty_installation(true);
    for (body, expected) in [
        (root("short"), StatusCode::BAD_REQUEST),
        (json!({"username": "root"}), StatusCode::BAD_REQUEST),
        (
            json!({"username": "ro ot", "password": "long-enough"}),
            StatusCode::BAD_REQUEST,
        ),
        (root(&"x".repeat(73)), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let (status, answer) = post(&app, "/api/v1/users/bootstrap", None, body.clone()).await;
        assert_eq!(status, expected, "{body} -> {answer}");
    }
    assert_eq!(store.list_users().await.unwrap(), vec![]);
}

#[tokio::test]
async fn of_two_racing_requests_one_makes_the_administrator() {
    let (app, store) = empty_installation(true);
    let first = json!({"username": "first", "password": "first-password"});
    let second = json!({"username": "second", "password": "second-password"});
    let (a, b) = tokio::join!(
        post(&app, "/api/v1/users/bootstrap", None, first),
        post(&app, "/api/v1/users/bootstrap", None, second),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT]);
    assert_eq!(store.list_users().await.unwrap().len(), 1);
}
