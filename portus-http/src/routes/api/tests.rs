//! The REST API end to end over the router: every route, every permission rule, and the
//! negative cases (401, 403, 404 without leaks, 409, 422, bad input).

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use portus_auth::password::{APP_TOKEN_PREFIX, generate_secret};
use portus_auth::{TokenService, TokenServiceConfig};
use portus_core::model::{
    ManifestRecord, MissingNamespace, NamespaceRef, NewNamespace, NewUser, Role, ScanRecord, ScanState, User,
    Visibility,
};
use portus_core::policy::PolicyConfig;
use portus_core::prelude::*;
use portus_core::testing::ScriptedBackend;
use portus_core::traits::{ScanReport, Severity, Vulnerability};
use portus_core::{InMemoryRegistry, InMemoryStore};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::router::router;
use crate::state::{AppState, HttpLimits};

struct Fixture {
    app: axum::Router,
    store: Arc<InMemoryStore>,
    /// Holds the fixture's tags; records the deletions.
    registry: Arc<InMemoryRegistry>,
    /// Application tokens by user name.
    tokens: std::collections::HashMap<&'static str, String>,
    users: std::collections::HashMap<&'static str, User>,
}

fn manifest(digest: &str) -> ManifestRecord {
    ManifestRecord {
        digest: digest.into(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: Some(10),
    }
}

struct Options {
    policy: PolicyConfig,
    registry: bool,
    scanner_healthy: bool,
    max_app_tokens: usize,
    health_checks: Vec<Arc<dyn crate::HealthCheck>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            policy: PolicyConfig::default(),
            registry: true,
            scanner_healthy: true,
            max_app_tokens: portus_core::ops::MAX_APP_TOKENS,
            health_checks: Vec::new(),
        }
    }
}

/// admin (administrator); alice owns team `devs` (namespace `devs`, private), bob is a viewer
/// and dave a contributor there; carol belongs to no team. Namespaces `open` (public) and
/// `prot` (protected) belong to team `ops` (owner: admin).
async fn fixture(options: Options) -> Fixture {
    let store = Arc::new(InMemoryStore::new());
    let mut users = std::collections::HashMap::new();
    let mut tokens = std::collections::HashMap::new();
    for (name, admin) in [
        ("admin", true),
        ("alice", false),
        ("bob", false),
        ("carol", false),
        ("dave", false),
    ] {
        let user = store
            .create_user(NewUser {
                username: name.into(),
                admin,
                ..NewUser::default()
            })
            .await
            .unwrap();
        let secret = generate_secret(APP_TOKEN_PREFIX).unwrap();
        store
            .create_app_token(user.id, "test", &secret.digest, &Default::default())
            .await
            .unwrap();
        tokens.insert(name, secret.plain.expose().to_owned());
        users.insert(name, user);
    }
    let devs = store.create_team("devs", users["alice"].id, None).await.unwrap();
    store
        .set_team_member(devs.id, users["bob"].id, Role::Viewer)
        .await
        .unwrap();
    store
        .set_team_member(devs.id, users["dave"].id, Role::Contributor)
        .await
        .unwrap();
    let ops = store.create_team("ops", users["admin"].id, None).await.unwrap();
    for (name, team, visibility) in [
        ("devs", devs.id, Visibility::Private),
        ("open", ops.id, Visibility::Public),
        ("prot", ops.id, Visibility::Protected),
    ] {
        store
            .create_namespace(NewNamespace {
                name: name.into(),
                team_id: team,
                visibility,
                description: None,
            })
            .await
            .unwrap();
    }
    let registry = Arc::new(InMemoryRegistry::new());
    for (reference, digest) in [
        ("devs/secret:1.0", "sha256:d1"),
        ("devs/secret:latest", "sha256:d1"),
        ("devs/secret:2.0", "sha256:d2"),
        ("open/app:1.0", "sha256:o1"),
        ("prot/tool:1.0", "sha256:p1"),
    ] {
        let (repository, tag) = reference.split_once(':').unwrap();
        registry.push_image(repository, tag, digest, &[]);
        store
            .put_tag(
                repository,
                tag,
                &manifest(digest),
                Some("alice"),
                MissingNamespace::Ignore,
            )
            .await
            .unwrap();
    }
    let finding = Vulnerability {
        id: "CVE-2024-1".into(),
        severity: Severity::High,
        package: Some("openssl".into()),
        package_version: Some("1.0".into()),
        fixed_in: None,
        links: vec![],
        description: None,
    };
    store
        .put_scan_record(&ScanRecord {
            digest: "sha256:o1".into(),
            backend: "dummy".into(),
            state: ScanState::Done,
            report: Some(ScanReport {
                vulnerabilities: vec![finding],
            }),
            error: None,
            attempts: 0,
            updated_at: portus_core::model::now(),
            next_attempt_at: None,
        })
        .await
        .unwrap();
    let issuer = crate::test_support::test_issuer();
    let mut config = TokenServiceConfig::new("registry.local");
    config.policy = options.policy;
    let service = TokenService::new(store.clone(), vec![], issuer, config);
    let mut state = AppState::new(Arc::new(service));
    state.bcrypt_cost = 4;
    state.max_app_tokens = options.max_app_tokens;
    state.health_checks = options.health_checks;
    if options.registry {
        state.registry = Some(registry.clone());
    }
    // A scanner known by name whose health can be switched off.
    let scanner = ScriptedBackend::clean("dummy");
    scanner.set_healthy(options.scanner_healthy);
    state.scanner.register(Arc::new(scanner)).unwrap();
    Fixture {
        app: router(
            state,
            HttpLimits {
                max_body_bytes: 8 * 1024,
                ..HttpLimits::default()
            },
        ),
        store,
        registry,
        tokens,
        users,
    }
}

impl Fixture {
    async fn call(&self, method: Method, uri: &str, user: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let (status, _, json) = self.call_with_headers(method, uri, user, body).await;
        (status, json)
    }

    async fn call_with_headers(
        &self,
        method: Method,
        uri: &str,
        user: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(user) = user {
            request = request.header(header::AUTHORIZATION, format!("Bearer {}", self.tokens[user]));
        }
        self.send(request, body).await
    }

    /// Sends `request` with `body` as JSON; the answer's status, headers and JSON body.
    async fn send(
        &self,
        mut request: axum::http::request::Builder,
        body: Option<Value>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let body = match body {
            Some(json) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let response = self.app.clone().oneshot(request.body(body).unwrap()).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = to_bytes(body, 1 << 20).await.unwrap();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("JSON body: {}", String::from_utf8_lossy(&bytes)))
        };
        (parts.status, parts.headers, json)
    }

    async fn get(&self, uri: &str, user: Option<&str>) -> (StatusCode, Value) {
        self.call(Method::GET, uri, user, None).await
    }

    fn id(&self, user: &str) -> i64 {
        self.users[user].id.0
    }

    async fn namespace_id(&self, name: &str) -> i64 {
        self.store
            .namespace(NamespaceRef::Named(name))
            .await
            .unwrap()
            .unwrap()
            .id
            .0
    }

    async fn team_id(&self, name: &str) -> i64 {
        self.store.team_by_name(name).await.unwrap().unwrap().id.0
    }

    async fn repository_id(&self, name: &str) -> i64 {
        let repositories = self.store.list_repositories().await.unwrap();
        repositories.iter().find(|r| r.name == name).unwrap().id.0
    }

    async fn tag_id(&self, reference: &str) -> i64 {
        let (repository, tag) = reference.split_once(':').unwrap();
        self.store.tag(repository, tag).await.unwrap().unwrap().id.0
    }
}

fn names(list: &Value, key: &str) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .unwrap_or_else(|| panic!("array: {list}"))
        .iter()
        .map(|v| v[key].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Sets `name`'s password in the store (bcrypt cost 4).
async fn give_password(f: &Fixture, name: &str, password: &str) {
    let user = f.store.user_by_name(name).await.unwrap().unwrap();
    let hash = portus_auth::password::hash_password(&portus_core::traits::Secret::new(password), 4)
        .await
        .unwrap();
    portus_core::ops::users::set_password(f.store.as_ref(), None, &user, Some(hash))
        .await
        .unwrap();
}

/// Whether `name`'s stored password is `password`.
async fn has_password(f: &Fixture, name: &str, password: &str) -> bool {
    let user = f.store.user_by_name(name).await.unwrap().unwrap();
    let hash = user.password_hash.expect("a password");
    portus_auth::password::verify_password(&portus_core::traits::Secret::new(password), &hash).await
}

#[tokio::test]
async fn changing_ones_own_email_or_password_needs_the_current_password() {
    let f = fixture(Options::default()).await;
    give_password(&f, "alice", "old password 1").await;
    let alice = format!("/api/v1/users/{}", f.id("alice"));
    for body in [
        json!({"password": "new password 2"}),
        json!({"password": "new password 2", "current_password": "wrong password"}),
        json!({"email": "taken-over@example.org"}),
        json!({"email": "taken-over@example.org", "current_password": ""}),
    ] {
        let (status, answer) = f.call(Method::PUT, &alice, Some("alice"), Some(body.clone())).await;
        assert_eq!(
            (status, error_code(&answer)),
            (StatusCode::FORBIDDEN, "DENIED"),
            "{body}"
        );
    }
    assert!(has_password(&f, "alice", "old password 1").await, "nothing changed");
    assert_eq!(f.store.user_by_name("alice").await.unwrap().unwrap().email, None);
    let (status, _) = f
        .call(
            Method::PUT,
            &alice,
            Some("alice"),
            Some(json!({"password": "new password 2", "current_password": "old password 1"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(has_password(&f, "alice", "new password 2").await);
    // An administrator changes someone else's without it; an account without a password
    // cannot confirm a change of its own.
    let (status, _) = f
        .call(
            Method::PUT,
            &alice,
            Some("admin"),
            Some(json!({"email": "a@example.org"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let carol = format!("/api/v1/users/{}", f.id("carol"));
    let (status, _) = f
        .call(
            Method::PUT,
            &carol,
            Some("carol"),
            Some(json!({"email": "c@example.org"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

fn error_code(body: &Value) -> &str {
    body["errors"][0]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("registry error format: {body}"))
}

/// Follows a local `$ref` (`#/components/schemas/X`) in `document`.
fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.strip_prefix("#/components/schemas/").unwrap();
            &document["components"]["schemas"][name]
        }
        None => schema,
    }
}

#[tokio::test]
async fn openapi_document_is_valid_and_matches_the_routes() {
    let f = fixture(Options::default()).await;
    let (status, document) = f.get("/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let parsed: utoipa::openapi::OpenApi =
        serde_json::from_value(document.clone()).expect("a valid OpenAPI 3.1 document");
    assert!(parsed.paths.paths.len() > 30);
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut operations = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            let label = format!("{method} {path}");
            let responses = operation["responses"].as_object().unwrap();
            // Every success answer with a body has a real schema, every error the registry's.
            for (status, response) in responses {
                if status == "204" {
                    assert!(response.get("content").is_none(), "{label}: 204 has no body");
                    continue;
                }
                let schema = &response["content"]["application/json"]["schema"];
                assert!(!schema.is_null(), "{label} {status}: no schema");
                if status.starts_with('4') || status.starts_with('5') && path != "/api/v1/health" {
                    assert_eq!(schema["$ref"], "#/components/schemas/Errors", "{label} {status}");
                }
            }
            // Request bodies are the Rust types' schemas, with their properties.
            if let Some(body) = operation.get("requestBody") {
                let schema = resolve(&document, &body["content"]["application/json"]["schema"]);
                assert!(
                    schema["properties"].as_object().is_some_and(|p| !p.is_empty()),
                    "{label}: body schema {schema}"
                );
                for status in ["400", "413"] {
                    assert!(responses.contains_key(status), "{label} lists {status}");
                }
            }
            if operation.get("security").is_some() {
                for status in ["401", "503"] {
                    assert!(responses.contains_key(status), "{label} lists {status}");
                }
            }
            if path.contains('{') {
                assert!(responses.contains_key("404"), "{label} lists 404");
            }
            // Every documented operation is served: not the fallback 404, not 405.
            let uri = path
                .replace("{id}", "999999")
                .replace("{token_id}", "999999")
                .replace("{user_id}", "999999");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = matches!(method, Method::POST | Method::PUT).then(|| json!({}));
            let (status, body) = f.call(method.clone(), &uri, Some("admin"), body).await;
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
            assert!(
                !(status == StatusCode::NOT_FOUND && body["errors"][0]["message"] == "no such endpoint"),
                "{method} {path} is documented but not routed"
            );
        }
    }
    assert_eq!(operations, 64, "every route once");
    // Query parameters are documented with their constraints.
    let parameters = |path: &str, method: &str| -> Vec<String> {
        document["paths"][path][method]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path} has parameters"))
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        parameters("/api/v1/search", "get"),
        ["q", "page", "per_page", "all", "sort_attr", "sort_order"]
    );
    assert_eq!(parameters("/api/v1/repositories", "get")[0], "q");
    for list in ["/api/v1/users", "/api/v1/tags"] {
        assert_eq!(
            parameters(list, "get"),
            ["page", "per_page", "all", "sort_attr", "sort_order"],
            "{list}"
        );
    }
    assert_eq!(
        parameters("/api/v1/activities", "get")[..4],
        ["actor", "namespace", "action", "since"]
    );
    assert_eq!(parameters("/api/v1/tags/{id}", "delete"), ["id", "with_siblings"]);
    assert_eq!(parameters("/api/v1/teams/{id}", "delete"), ["id", "new_team"]);
    let optional = &document["paths"]["/api/v1/teams/{id}"]["delete"]["requestBody"];
    assert!(optional.get("required").is_none_or(|r| r == false), "{optional}");
    assert_eq!(
        optional["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/DeleteTeam",
        "absent, not null"
    );
    let per_page = &document["paths"]["/api/v1/users"]["get"]["parameters"][1]["schema"];
    assert_eq!((&per_page["minimum"], &per_page["maximum"]), (&json!(1), &json!(100)));
    // And every answer a route gives.
    let statuses = |path: &str, method: &str| -> Vec<String> {
        document["paths"][path][method]["responses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(
        statuses("/api/v1/tags/{id}", "delete"),
        ["200", "400", "401", "403", "404", "409", "422", "503"]
    );
    assert_eq!(
        statuses("/api/v1/namespaces", "post"),
        ["201", "400", "401", "403", "404", "409", "413", "503"]
    );
    assert_eq!(statuses("/api/v1/_ping", "get"), ["200"]);
    assert_eq!(statuses("/api/v1/health", "get"), ["200", "503"]);
    // And what is not documented is not served.
    let (status, body) = f.get("/api/v1/nothing-here", Some("admin")).await;
    assert_eq!(
        (status, body["errors"][0]["message"].as_str()),
        (StatusCode::NOT_FOUND, Some("no such endpoint"))
    );
    let (status, headers, body) = f.call_with_headers(Method::DELETE, "/api/v1/_ping", None, None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED")
    );
    assert_eq!(headers[header::ALLOW], "GET,HEAD", "405 says what is allowed");
}

#[tokio::test]
async fn authentication_by_bearer_or_portus_auth() {
    let f = fixture(Options::default()).await;
    assert_eq!(f.get("/api/v1/users", Some("admin")).await.0, StatusCode::OK);
    let portus_auth = |value: String| {
        Request::get("/api/v1/users/".to_owned() + &f.id("alice").to_string())
            .header("portus-auth", value)
            .body(Body::empty())
            .unwrap()
    };
    let ok = f
        .app
        .clone()
        .oneshot(portus_auth(format!("alice:{}", f.tokens["alice"])))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let wrong_user = f
        .app
        .clone()
        .oneshot(portus_auth(format!("bob:{}", f.tokens["alice"])))
        .await
        .unwrap();
    assert_eq!(
        wrong_user.status(),
        StatusCode::UNAUTHORIZED,
        "the token must belong to the named user"
    );
    let (status, body) = f
        .call_with_headers(Method::GET, "/api/v1/users", None, None)
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "UNAUTHORIZED");
    let bad = Request::get("/api/v1/users")
        .header(header::AUTHORIZATION, "Bearer pat_not-a-token")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        f.app.clone().oneshot(bad).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

trait IntoParts {
    fn into_parts(self) -> (StatusCode, Value);
}

impl IntoParts for (StatusCode, axum::http::HeaderMap, Value) {
    fn into_parts(self) -> (StatusCode, Value) {
        (self.0, self.2)
    }
}

#[tokio::test]
async fn users_are_administered_by_administrators() {
    let f = fixture(Options::default()).await;
    let (status, list) = f.get("/api/v1/users", Some("admin")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&list, "username"), ["admin", "alice", "bob", "carol", "dave"]);
    assert_eq!(f.get("/api/v1/users", Some("alice")).await.0, StatusCode::FORBIDDEN);

    let new_user = json!({"username": "erin", "email": "erin@example.org", "password": "long-enough-pw"});
    assert_eq!(
        f.call(Method::POST, "/api/v1/users", Some("alice"), Some(new_user.clone()))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, erin) = f
        .call(Method::POST, "/api/v1/users", Some("admin"), Some(new_user.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{erin}");
    assert_eq!(
        (erin["username"].as_str(), erin["admin"].as_bool()),
        (Some("erin"), Some(false))
    );
    let (status, body) = f
        .call(Method::POST, "/api/v1/users", Some("admin"), Some(new_user))
        .await;
    assert_eq!((status, error_code(&body)), (StatusCode::CONFLICT, "CONFLICT"));
    let weak = json!({"username": "fred", "password": "short"});
    assert_eq!(
        f.call(Method::POST, "/api/v1/users", Some("admin"), Some(weak)).await.0,
        StatusCode::BAD_REQUEST
    );
    let bad_name = json!({"username": "no spaces allowed"});
    assert_eq!(
        f.call(Method::POST, "/api/v1/users", Some("admin"), Some(bad_name))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert!(
        f.store.user_by_name("fred").await.unwrap().is_none(),
        "nothing created on a refusal"
    );

    let alice = format!("/api/v1/users/{}", f.id("alice"));
    let bob = format!("/api/v1/users/{}", f.id("bob"));
    assert_eq!(
        f.get(&alice, Some("alice")).await.0,
        StatusCode::OK,
        "users see themselves"
    );
    assert_eq!(
        f.get(&bob, Some("alice")).await.0,
        StatusCode::NOT_FOUND,
        "and nobody else"
    );
    assert_eq!(
        f.get("/api/v1/users/424242", Some("admin")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.get("/api/v1/users/not-a-number", Some("admin")).await.0,
        StatusCode::NOT_FOUND
    );

    give_password(&f, "alice", "alice's password").await;
    let (status, updated) = f
        .call(
            Method::PUT,
            &alice,
            Some("alice"),
            Some(json!({"email": "a@example.org", "current_password": "alice's password"})),
        )
        .await;
    assert_eq!(
        (status, updated["email"].as_str()),
        (StatusCode::OK, Some("a@example.org"))
    );
    let (status, _) = f
        .call(Method::PUT, &alice, Some("alice"), Some(json!({"admin": true})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no self-promotion");
    assert!(!f.store.user_by_name("alice").await.unwrap().unwrap().admin);
    assert_eq!(
        f.call(Method::PUT, &bob, Some("alice"), Some(json!({"email": null})))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let unknown_field = json!({"emial": "typo@example.org"});
    let (status, body) = f.call(Method::PUT, &alice, Some("alice"), Some(unknown_field)).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "INVALID_REQUEST")
    );

    // Disabling takes effect at once, for the API token too.
    let (status, body) = f
        .call(Method::PUT, &bob, Some("admin"), Some(json!({"enabled": false})))
        .await;
    assert_eq!((status, body["enabled"].as_bool()), (StatusCode::OK, Some(false)));
    assert_eq!(f.get(&bob, Some("bob")).await.0, StatusCode::UNAUTHORIZED);
    f.call(Method::PUT, &bob, Some("admin"), Some(json!({"enabled": true})))
        .await;
    assert_eq!(f.get(&bob, Some("bob")).await.0, StatusCode::OK);

    // Unlocking a locked account.
    let until = portus_core::model::now() + chrono::Duration::minutes(10);
    f.store.set_user_lock(f.users["bob"].id, Some(until)).await.unwrap();
    assert_eq!(f.get(&bob, Some("admin")).await.1["locked"], json!(true));
    let (_, body) = f
        .call(Method::PUT, &bob, Some("admin"), Some(json!({"locked": false})))
        .await;
    assert_eq!(body["locked"], json!(false));

    let admin = format!("/api/v1/users/{}", f.id("admin"));
    assert_eq!(
        f.call(Method::DELETE, &admin, Some("admin"), None).await.0,
        StatusCode::FORBIDDEN,
        "not yourself"
    );
    assert_eq!(
        f.call(Method::DELETE, &bob, Some("alice"), None).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.call(Method::DELETE, &bob, Some("admin"), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(f.get(&bob, Some("admin")).await.0, StatusCode::NOT_FOUND);
    let (_, log) = f.get("/api/v1/activities?action=user.", Some("admin")).await;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"user.delete") && actions.contains(&"user.create") && actions.contains(&"user.disable"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn application_tokens_belong_to_their_owner() {
    let f = fixture(Options::default()).await;
    let alice_tokens = format!("/api/v1/users/{}/application_tokens", f.id("alice"));
    let bob_tokens = format!("/api/v1/users/{}/application_tokens", f.id("bob"));
    let (status, list) = f.get(&alice_tokens, Some("alice")).await;
    assert_eq!(
        (status, names(&list, "application")),
        (StatusCode::OK, vec!["test".to_owned()])
    );
    // Portus let any user list and mint tokens for any user id; here it is a 404.
    assert_eq!(f.get(&bob_tokens, Some("alice")).await.0, StatusCode::NOT_FOUND);
    let mint = json!({"application": "ci"});
    assert_eq!(
        f.call(Method::POST, &bob_tokens, Some("alice"), Some(mint.clone()))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.get(&bob_tokens, Some("admin")).await.0,
        StatusCode::OK,
        "administrators may"
    );

    let (status, created) = f
        .call(Method::POST, &alice_tokens, Some("alice"), Some(mint.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let plain = created["plain_token"].as_str().unwrap().to_owned();
    let with_new_token = Request::get("/api/v1/_ping").header(header::AUTHORIZATION, format!("Bearer {plain}"));
    let users = Request::get(format!("/api/v1/users/{}", f.id("alice")))
        .header(header::AUTHORIZATION, format!("Bearer {plain}"))
        .body(Body::empty())
        .unwrap();
    drop(with_new_token);
    assert_eq!(
        f.app.clone().oneshot(users).await.unwrap().status(),
        StatusCode::OK,
        "the new token works"
    );
    assert_eq!(
        f.call(Method::POST, &alice_tokens, Some("alice"), Some(mint)).await.0,
        StatusCode::CONFLICT
    );
    let (_, list) = f.get(&alice_tokens, Some("alice")).await;
    assert!(
        list.as_array().unwrap().iter().all(|t| t.get("plain_token").is_none()),
        "secrets are shown once"
    );

    let token_id = created["id"].as_i64().unwrap();
    let bob_path = format!("{bob_tokens}/{token_id}");
    assert_eq!(
        f.call(Method::DELETE, &bob_path, Some("admin"), None).await.0,
        StatusCode::NOT_FOUND,
        "not bob's"
    );
    let path = format!("{alice_tokens}/{token_id}");
    assert_eq!(
        f.call(Method::DELETE, &path, Some("alice"), None).await.0,
        StatusCode::NO_CONTENT
    );
    let revoked = Request::get(format!("/api/v1/users/{}", f.id("alice")))
        .header(header::AUTHORIZATION, format!("Bearer {plain}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        f.app.clone().oneshot(revoked).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn teams_and_members_follow_roles() {
    let f = fixture(Options::default()).await;
    let (_, teams) = f.get("/api/v1/teams", Some("bob")).await;
    assert_eq!(names(&teams, "name"), ["devs"], "own visible teams only");
    let (_, teams) = f.get("/api/v1/teams", Some("admin")).await;
    assert_eq!(
        names(&teams, "name"),
        ["devs", "ops"],
        "hidden personal teams are not listed"
    );
    assert_eq!(f.get("/api/v1/teams", None).await.0, StatusCode::UNAUTHORIZED);

    let devs = format!("/api/v1/teams/{}", f.team_id("devs").await);
    assert_eq!(f.get(&devs, Some("bob")).await.0, StatusCode::OK);
    assert_eq!(f.get(&devs, Some("carol")).await.0, StatusCode::NOT_FOUND);
    let personal = format!("/api/v1/teams/{}", f.team_id("alice").await);
    assert_eq!(
        f.get(&personal, Some("alice")).await.0,
        StatusCode::NOT_FOUND,
        "hidden teams are not teams"
    );

    let (status, team) = f
        .call(
            Method::POST,
            "/api/v1/teams",
            Some("carol"),
            Some(json!({"name": "qa"})),
        )
        .await;
    assert_eq!((status, team["role"].as_str()), (StatusCode::CREATED, Some("owner")));
    let for_someone = json!({"name": "qa2", "owner_id": f.id("bob")});
    assert_eq!(
        f.call(Method::POST, "/api/v1/teams", Some("carol"), Some(for_someone.clone()))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        f.call(Method::POST, "/api/v1/teams", Some("admin"), Some(for_someone))
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(
        f.call(
            Method::POST,
            "/api/v1/teams",
            Some("carol"),
            Some(json!({"name": "qa"}))
        )
        .await
        .0,
        StatusCode::CONFLICT
    );

    let rename = json!({"description": "developers"});
    assert_eq!(
        f.call(Method::PUT, &devs, Some("bob"), Some(rename.clone())).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = f.call(Method::PUT, &devs, Some("alice"), Some(rename)).await;
    assert_eq!(
        (status, body["description"].as_str()),
        (StatusCode::OK, Some("developers"))
    );

    let members = format!("{devs}/members");
    let (_, list) = f.get(&members, Some("bob")).await;
    assert_eq!(names(&list, "username"), ["alice", "bob", "dave"]);
    let add = json!({"user": "carol", "role": "viewer"});
    assert_eq!(
        f.call(Method::POST, &members, Some("bob"), Some(add.clone())).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        f.call(Method::POST, &members, Some("alice"), Some(add.clone())).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        f.call(Method::POST, &members, Some("alice"), Some(add)).await.0,
        StatusCode::CONFLICT
    );
    let ghost = json!({"user": "ghost", "role": "viewer"});
    assert_eq!(
        f.call(Method::POST, &members, Some("alice"), Some(ghost)).await.0,
        StatusCode::NOT_FOUND
    );
    let bad_role = json!({"user": "carol", "role": "king"});
    assert_eq!(
        f.call(Method::POST, &members, Some("alice"), Some(bad_role)).await.0,
        StatusCode::BAD_REQUEST
    );
    let (status, admin) = f
        .call(
            Method::POST,
            &members,
            Some("alice"),
            Some(json!({"user": "admin", "role": "viewer"})),
        )
        .await;
    assert_eq!(
        (status, admin["role"].as_str()),
        (StatusCode::CREATED, Some("owner")),
        "administrators join as owners"
    );

    let carol = format!("{members}/{}", f.id("carol"));
    let (status, body) = f
        .call(Method::PUT, &carol, Some("alice"), Some(json!({"role": "contributor"})))
        .await;
    assert_eq!((status, body["role"].as_str()), (StatusCode::OK, Some("contributor")));
    let admin_member = format!("{members}/{}", f.id("admin"));
    let demote = json!({"role": "viewer"});
    assert_eq!(
        f.call(Method::PUT, &admin_member, Some("alice"), Some(demote.clone()))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        f.call(Method::DELETE, &admin_member, Some("alice"), None).await.0,
        StatusCode::NO_CONTENT
    );
    let alice_member = format!("{members}/{}", f.id("alice"));
    assert_eq!(
        f.call(Method::PUT, &alice_member, Some("alice"), Some(demote)).await.0,
        StatusCode::UNPROCESSABLE_ENTITY,
        "last owner"
    );
    assert_eq!(
        f.call(Method::DELETE, &alice_member, Some("alice"), None).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        f.call(Method::DELETE, &carol, Some("bob"), None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        f.call(Method::DELETE, &carol, Some("alice"), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        f.call(Method::DELETE, &carol, Some("alice"), None).await.0,
        StatusCode::NOT_FOUND
    );

    let (_, namespaces) = f.get(&format!("{devs}/namespaces"), Some("bob")).await;
    assert_eq!(names(&namespaces, "name"), ["devs"]);
}

#[tokio::test]
async fn user_permission_knobs_restrict_to_administrators() {
    let policy = PolicyConfig {
        create_team: false,
        manage_team: false,
        create_namespace: false,
        manage_namespace: false,
        change_visibility: false,
        ..PolicyConfig::default()
    };
    let f = fixture(Options {
        policy,
        ..Options::default()
    })
    .await;
    let devs = format!("/api/v1/teams/{}", f.team_id("devs").await);
    let ns = format!("/api/v1/namespaces/{}", f.namespace_id("devs").await);
    let cases = [
        (Method::POST, "/api/v1/teams".to_owned(), json!({"name": "new"})),
        (Method::PUT, devs.clone(), json!({"description": "x"})),
        (
            Method::POST,
            "/api/v1/namespaces".to_owned(),
            json!({"name": "more", "team": "devs"}),
        ),
        (Method::PUT, ns.clone(), json!({"description": "x"})),
        (Method::PUT, ns.clone(), json!({"visibility": "public"})),
    ];
    for (method, uri, body) in cases {
        let (status, _) = f.call(method.clone(), &uri, Some("alice"), Some(body.clone())).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "owner: {method} {uri} {body}");
        let (status, answer) = f.call(method.clone(), &uri, Some("admin"), Some(body.clone())).await;
        assert!(status.is_success(), "admin: {method} {uri} {body}: {status} {answer}");
    }
    // Member management is not a knob: owners keep it.
    let add = json!({"user": "carol", "role": "viewer"});
    assert_eq!(
        f.call(Method::POST, &format!("{devs}/members"), Some("alice"), Some(add))
            .await
            .0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn namespaces_are_seen_and_changed_by_the_right_people() {
    let f = fixture(Options::default()).await;
    let (_, anonymous) = f.get("/api/v1/namespaces", None).await;
    assert_eq!(names(&anonymous, "name"), ["(global)", "open"]);
    let (_, carol) = f.get("/api/v1/namespaces", Some("carol")).await;
    assert_eq!(names(&carol, "name"), ["(global)", "carol", "open", "prot"]);
    let (_, bob) = f.get("/api/v1/namespaces", Some("bob")).await;
    assert_eq!(names(&bob, "name"), ["(global)", "bob", "devs", "open", "prot"]);
    let devs_entry = bob.as_array().unwrap().iter().find(|n| n["name"] == "devs").unwrap();
    assert_eq!(devs_entry["permissions"]["pull"], json!(true));
    assert_eq!(devs_entry["permissions"]["push"], json!(false), "viewers do not push");

    let devs = format!("/api/v1/namespaces/{}", f.namespace_id("devs").await);
    assert_eq!(
        f.get(&devs, Some("carol")).await.0,
        StatusCode::NOT_FOUND,
        "private: no leak"
    );
    assert_eq!(f.get(&devs, None).await.0, StatusCode::NOT_FOUND);

    let create = |name: &str| json!({"name": name, "team": "devs"});
    assert_eq!(
        f.call(
            Method::POST,
            "/api/v1/namespaces",
            Some("bob"),
            Some(create("viewerns"))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        f.call(
            Method::POST,
            "/api/v1/namespaces",
            Some("carol"),
            Some(create("strangerns"))
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (status, created) = f
        .call(Method::POST, "/api/v1/namespaces", Some("dave"), Some(create("daves")))
        .await;
    assert_eq!(
        (status, created["visibility"].as_str()),
        (StatusCode::CREATED, Some("private"))
    );
    assert_eq!(
        f.call(Method::POST, "/api/v1/namespaces", Some("dave"), Some(create("daves")))
            .await
            .0,
        StatusCode::CONFLICT
    );
    let public = json!({"name": "loud", "team": "devs", "visibility": "public"});
    assert_eq!(
        f.call(Method::POST, "/api/v1/namespaces", Some("dave"), Some(public))
            .await
            .0,
        StatusCode::FORBIDDEN,
        "contributors cannot publish"
    );
    let invalid = json!({"name": "Not Valid", "team": "devs"});
    assert_eq!(
        f.call(Method::POST, "/api/v1/namespaces", Some("alice"), Some(invalid))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );

    assert_eq!(
        f.call(Method::PUT, &devs, Some("dave"), Some(json!({"description": "x"})))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = f
        .call(
            Method::PUT,
            &devs,
            Some("alice"),
            Some(json!({"description": "ours", "visibility": "protected"})),
        )
        .await;
    assert_eq!(
        (status, body["visibility"].as_str(), body["description"].as_str()),
        (StatusCode::OK, Some("protected"), Some("ours"))
    );
    assert_eq!(f.get(&devs, Some("carol")).await.0, StatusCode::OK, "protected now");
    let to_ops = json!({"team": "ops"});
    // A team alice may not see answers exactly like a team that does not exist.
    let invisible = f.call(Method::PUT, &devs, Some("alice"), Some(to_ops.clone())).await;
    let missing = f
        .call(Method::PUT, &devs, Some("alice"), Some(json!({"team": "no-such-team"})))
        .await;
    assert_eq!(
        invisible.0,
        StatusCode::NOT_FOUND,
        "not alice's team, and not visible to her"
    );
    assert_eq!(invisible, missing, "identical answers");
    // One she sees (a member) but does not own is refused as such.
    let seen = f.store.create_team("seen", f.users["admin"].id, None).await.unwrap();
    f.store
        .set_team_member(seen.id, f.users["alice"].id, Role::Viewer)
        .await
        .unwrap();
    assert_eq!(
        f.call(Method::PUT, &devs, Some("alice"), Some(json!({"team": "seen"})))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = f.call(Method::PUT, &devs, Some("admin"), Some(to_ops)).await;
    assert_eq!(
        (status, body["team_id"].as_i64()),
        (StatusCode::OK, Some(f.team_id("ops").await))
    );
    let bad_visibility = json!({"visibility": "secret"});
    assert_eq!(
        f.call(Method::PUT, &devs, Some("admin"), Some(bad_visibility)).await.0,
        StatusCode::BAD_REQUEST
    );

    let global = format!(
        "/api/v1/namespaces/{}",
        f.store.namespace(NamespaceRef::Global).await.unwrap().unwrap().id
    );
    assert_eq!(
        f.call(
            Method::PUT,
            &global,
            Some("alice"),
            Some(json!({"visibility": "protected"}))
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        f.call(
            Method::PUT,
            &global,
            Some("admin"),
            Some(json!({"visibility": "private"}))
        )
        .await
        .0,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a well-formed request a rule refuses"
    );
    let personal = format!("/api/v1/namespaces/{}", f.namespace_id("alice").await);
    assert_eq!(
        f.call(Method::PUT, &personal, Some("alice"), Some(json!({"team": "devs"})))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let (_, repositories) = f
        .get(
            &format!("/api/v1/namespaces/{}/repositories", f.namespace_id("open").await),
            None,
        )
        .await;
    assert_eq!(names(&repositories, "name"), ["open/app"]);
}

#[tokio::test]
async fn repositories_tags_and_stars() {
    let f = fixture(Options::default()).await;
    let (_, anonymous) = f.get("/api/v1/repositories", None).await;
    assert_eq!(names(&anonymous, "name"), ["open/app"]);
    let (_, bob) = f.get("/api/v1/repositories", Some("bob")).await;
    assert_eq!(names(&bob, "name"), ["devs/secret", "open/app", "prot/tool"]);
    let (_, found) = f.get("/api/v1/repositories?q=O", Some("bob")).await;
    assert_eq!(names(&found, "name"), ["open/app", "prot/tool"], "q filters names");
    for bad in ["", &"a".repeat(129)] {
        let (status, _) = f.get(&format!("/api/v1/repositories?q={bad}"), Some("bob")).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "q={bad:?} is outside 1 to 128 characters"
        );
    }
    let (_, by_tags) = f
        .get("/api/v1/repositories?sort_attr=tags_count&sort_order=desc", Some("bob"))
        .await;
    assert_eq!(
        names(&by_tags, "name")[0],
        "devs/secret",
        "sorted by the kept tag count"
    );

    let open = format!("/api/v1/repositories/{}", f.repository_id("open/app").await);
    let (status, repository) = f.get(&open, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(repository["security"]["counts"]["High"], json!(1), "{repository}");
    assert_eq!(repository["security"]["tags_by_status"]["done"], json!(1));
    assert_eq!(repository["security"]["status"], json!("done"));
    let secret = format!("/api/v1/repositories/{}", f.repository_id("devs/secret").await);
    assert_eq!(f.get(&secret, Some("carol")).await.0, StatusCode::NOT_FOUND);
    let (_, detail) = f.get(&secret, Some("bob")).await;
    assert_eq!(detail["tags_count"], json!(3));
    assert_eq!(
        detail["security"]["tags_by_status"]["pending"],
        json!(3),
        "unscanned is pending, never clean"
    );
    assert_eq!(detail["security"]["status"], json!("pending"));
    // Lists show the figures the store keeps; a repository's page recomputes them from its
    // tags and scan records: both say the same.
    for listed in bob.as_array().unwrap() {
        let (_, detail) = f
            .get(&format!("/api/v1/repositories/{}", listed["id"]), Some("bob"))
            .await;
        for field in ["security", "tags_count", "latest_push", "stars"] {
            assert_eq!(listed[field], detail[field], "{field} of {}", listed["name"]);
        }
    }
    assert_eq!(bob[1]["security"]["counts"]["High"], json!(1), "{bob}");

    let (_, tags) = f.get(&format!("{secret}/tags"), Some("bob")).await;
    assert_eq!(names(&tags, "name"), ["1.0", "2.0", "latest"]);
    assert_eq!(
        f.get(&format!("{secret}/tags"), Some("carol")).await.0,
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        f.call(Method::PUT, &format!("{open}/star"), None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        f.call(Method::PUT, &format!("{secret}/star"), Some("carol"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.call(Method::PUT, &format!("{open}/star"), Some("carol"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        f.call(Method::PUT, &format!("{open}/star"), Some("bob"), None).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, starred) = f.get("/api/v1/stars", Some("carol")).await;
    assert_eq!(names(&starred, "name"), ["open/app"]);
    assert_eq!(starred[0]["stars"], json!(2));
    assert_eq!(starred[0]["starred"], json!(true));
    assert_eq!(
        f.call(Method::DELETE, &format!("{open}/star"), Some("carol"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(f.get("/api/v1/stars", Some("carol")).await.1, json!([]));

    let tag = format!("/api/v1/tags/{}", f.tag_id("open/app:1.0").await);
    let (status, body) = f.get(&tag, None).await;
    assert_eq!(
        (status, body["scan"]["status"].as_str()),
        (StatusCode::OK, Some("done"))
    );
    let (_, vulnerabilities) = f.get(&format!("{tag}/vulnerabilities"), None).await;
    assert_eq!(
        vulnerabilities["security"]["vulnerabilities"][0]["id"],
        json!("CVE-2024-1")
    );
    let secret_tag = format!("/api/v1/tags/{}", f.tag_id("devs/secret:2.0").await);
    assert_eq!(f.get(&secret_tag, Some("carol")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        f.get(&format!("{secret_tag}/vulnerabilities"), None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn deletion_goes_through_the_registry_and_the_policy() {
    let f = fixture(Options::default()).await;
    let one = format!("/api/v1/tags/{}", f.tag_id("devs/secret:1.0").await);
    assert_eq!(
        f.call(Method::DELETE, &one, Some("bob"), None).await.0,
        StatusCode::FORBIDDEN,
        "viewer"
    );
    assert_eq!(
        f.call(Method::DELETE, &one, Some("dave"), None).await.0,
        StatusCode::FORBIDDEN,
        "contributors do not delete by default"
    );
    assert_eq!(
        f.call(Method::DELETE, &one, Some("carol"), None).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = f.call(Method::DELETE, &one, Some("alice"), None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "CONFLICT"),
        "latest shares the manifest"
    );
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("latest"));
    assert!(f.registry.deleted().is_empty(), "nothing deleted on refusal");
    let (status, body) = f
        .call(
            Method::DELETE,
            &format!("{one}?with_siblings=true"),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        names(
            &json!(
                body["deleted"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| json!({"n": n}))
                    .collect::<Vec<_>>()
            ),
            "n"
        ),
        ["1.0", "latest"]
    );
    assert_eq!(
        f.registry.deleted().as_slice(),
        [("devs/secret".to_owned(), "sha256:d1".to_owned())]
    );
    assert!(f.store.tag("devs/secret", "latest").await.unwrap().is_none());

    let secret = format!("/api/v1/repositories/{}", f.repository_id("devs/secret").await);
    assert_eq!(
        f.call(Method::DELETE, &secret, Some("dave"), None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        f.call(Method::DELETE, &secret, Some("alice"), None).await.0,
        StatusCode::NO_CONTENT
    );
    assert!(
        f.registry
            .deleted()
            .contains(&("devs/secret".to_owned(), "sha256:d2".to_owned()))
    );
    assert_eq!(f.get(&secret, Some("alice")).await.0, StatusCode::NOT_FOUND);
    let (_, log) = f.get("/api/v1/activities?namespace=devs", Some("alice")).await;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"repository.delete") && actions.contains(&"tag.delete"),
        "{actions:?}"
    );

    let without_registry = fixture(Options {
        registry: false,
        ..Options::default()
    })
    .await;
    // Without a registry, deleting is what this configuration refuses (not an outage to
    // retry): 422, naming the setting; still only after the caller's permission.
    let tag = format!("/api/v1/tags/{}", without_registry.tag_id("devs/secret:2.0").await);
    assert_eq!(
        without_registry.call(Method::DELETE, &tag, Some("bob"), None).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = without_registry.call(Method::DELETE, &tag, Some("alice"), None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "UNSUPPORTED")
    );
    assert!(
        body["errors"][0]["message"].as_str().unwrap().contains("registry.url"),
        "{body}"
    );
    let repository = format!(
        "/api/v1/repositories/{}",
        without_registry.repository_id("devs/secret").await
    );
    let (status, body) = without_registry
        .call(Method::DELETE, &repository, Some("alice"), None)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "UNSUPPORTED")
    );
    assert!(
        without_registry
            .store
            .tag("devs/secret", "2.0")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn search_respects_visibility() {
    let f = fixture(Options::default()).await;
    let (status, anonymous) = f.get("/api/v1/search?q=1.0", None).await;
    assert_eq!(status, StatusCode::OK);
    let repositories: Vec<&str> = anonymous["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["repository"].as_str().unwrap())
        .collect();
    assert_eq!(repositories, ["open/app"]);
    let (_, bob) = f.get("/api/v1/search?q=SECRET", Some("bob")).await;
    assert_eq!(names(&bob["repositories"], "name"), ["devs/secret"]);
    let (_, carol) = f.get("/api/v1/search?q=secret", Some("carol")).await;
    assert_eq!(carol["repositories"], json!([]), "no leak of private names");
    assert_eq!(carol["totals"]["repositories"], json!(0), "nor of their number");
    // Pages slice every kind alike; X-Total is the largest kind's total.
    let (_, all) = f.get("/api/v1/search?q=.", Some("bob")).await;
    let tags = all["totals"]["tags"].as_u64().unwrap();
    assert!(
        tags >= 2 && tags as usize == all["tags"].as_array().unwrap().len(),
        "{all}"
    );
    let (status, headers, second) = f
        .call_with_headers(Method::GET, "/api/v1/search?q=.&per_page=1&page=2", Some("bob"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["tags"][0], all["tags"][1]);
    let largest = ["namespaces", "repositories", "tags"]
        .iter()
        .map(|k| all["totals"][k].as_u64().unwrap())
        .max()
        .unwrap();
    assert_eq!(headers["x-total"], largest.to_string().as_str());
    assert_eq!(headers["x-page"], "2");
    let (_, namespaces) = f.get("/api/v1/search?q=dev", Some("carol")).await;
    assert_eq!(namespaces["namespaces"], json!([]));
    assert_eq!(f.get("/api/v1/search?q=", None).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(f.get("/api/v1/search", None).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn activities_are_filtered_and_scoped() {
    let f = fixture(Options::default()).await;
    f.call(
        Method::POST,
        "/api/v1/teams",
        Some("carol"),
        Some(json!({"name": "qa"})),
    )
    .await;
    f.call(
        Method::POST,
        "/api/v1/teams",
        Some("bob"),
        Some(json!({"name": "bobs"})),
    )
    .await;
    let (_, all) = f.get("/api/v1/activities?action=team.create", Some("admin")).await;
    assert_eq!(names(&all, "actor"), ["bob", "carol"]);
    let (_, own) = f.get("/api/v1/activities", Some("carol")).await;
    assert_eq!(names(&own, "actor"), ["carol"]);
    // Naming another actor only narrows: carol sees nothing of bob's team.
    assert_eq!(
        f.get("/api/v1/activities?actor=bob", Some("carol")).await,
        (StatusCode::OK, json!([]))
    );
    let (_, by_bob) = f.get("/api/v1/activities?actor=bob", Some("admin")).await;
    assert_eq!(names(&by_bob, "target"), ["bobs"]);
    let (_, future) = f
        .get("/api/v1/activities?since=2999-01-01T00:00:00Z", Some("admin"))
        .await;
    assert_eq!(future, json!([]));
    assert_eq!(
        f.get("/api/v1/activities?since=yesterday", Some("admin")).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(f.get("/api/v1/activities", None).await.0, StatusCode::UNAUTHORIZED);
}

/// A component of the embedding program, as `portus serve` reports LDAP.
#[derive(Debug)]
struct Directory(Result<String, String>);

impl crate::HealthCheck for Directory {
    fn check(&self) -> crate::HealthFuture<'_> {
        Box::pin(async move { vec![("ldap".to_owned(), self.0.clone())] })
    }
}

#[tokio::test]
async fn health_reports_the_embedding_programs_components() {
    let up = fixture(Options {
        health_checks: vec![Arc::new(Directory(Ok("ok".into())))],
        ..Options::default()
    })
    .await;
    let (status, health) = up.get("/api/v1/health", None).await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(health["ldap"], json!({"success": true, "msg": "ok"}));
    let down = fixture(Options {
        health_checks: vec![Arc::new(Directory(Err("LDAP server unavailable".into())))],
        ..Options::default()
    })
    .await;
    let (status, health) = down.get("/api/v1/health", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{health}");
    assert_eq!(
        health["ldap"],
        json!({"success": false, "msg": "LDAP server unavailable"})
    );
    assert_eq!(health["database"]["success"], json!(true));
}

#[tokio::test]
async fn health_version_and_registries() {
    let f = fixture(Options::default()).await;
    assert_eq!(f.get("/api/v1/_ping", None).await.0, StatusCode::OK);
    let (_, version) = f.get("/api/v1/version", None).await;
    assert_eq!(version["api-versions"], json!(["v1"]));
    let (status, health) = f.get("/api/v1/health", None).await;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(health["database"]["success"], json!(true));
    assert_eq!(health["registry"]["success"], json!(true));
    assert_eq!(health["scanner:dummy"]["success"], json!(true));
    let sick = fixture(Options {
        scanner_healthy: false,
        ..Options::default()
    })
    .await;
    let (status, health) = sick.get("/api/v1/health", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health["scanner:dummy"]["success"], json!(false));
    assert!(health.get("scanning").is_none(), "{health}");
    // A scanner without registry.url can read no image: said, not silently idle.
    let blind = fixture(Options {
        registry: false,
        ..Options::default()
    })
    .await;
    let (status, health) = blind.get("/api/v1/health", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{health}");
    assert_eq!(health["scanning"]["success"], json!(false));
    assert!(
        health["scanning"]["msg"].as_str().unwrap().contains("registry.url"),
        "{health}"
    );

    assert_eq!(
        f.get("/api/v1/registries", Some("alice")).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, registries) = f.get("/api/v1/registries", Some("admin")).await;
    assert_eq!(
        (status, registries[0]["service"].as_str()),
        (StatusCode::OK, Some("registry.local"))
    );
    // The pull host: none is configured here, and the field says so.
    assert_eq!(registries[0].get("external_hostname"), Some(&Value::Null));
}

#[tokio::test]
async fn lists_are_paginated_and_bad_input_is_refused_clearly() {
    let f = fixture(Options::default()).await;
    let (status, headers, page) = f
        .call_with_headers(Method::GET, "/api/v1/users?per_page=2&page=2", Some("admin"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&page, "username"), ["bob", "carol"]);
    assert_eq!(headers["x-total"], "5");
    assert_eq!(headers["x-total-pages"], "3");
    assert_eq!(headers["x-page"], "2");
    let link = headers[header::LINK].to_str().unwrap();
    assert!(
        link.contains("page=3&per_page=2>; rel=\"next\"") && link.contains("page=1&per_page=2>; rel=\"prev\""),
        "{link}"
    );
    assert_eq!(
        f.get("/api/v1/users?per_page=0", Some("admin")).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        f.get("/api/v1/users?per_page=1000", Some("admin")).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        f.get("/api/v1/users?page=0", Some("admin")).await.0,
        StatusCode::BAD_REQUEST
    );

    let garbage = Request::post("/api/v1/teams")
        .header(header::AUTHORIZATION, format!("Bearer {}", f.tokens["alice"]))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    let response = f.app.clone().oneshot(garbage).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let huge = json!({"name": "x".repeat(20_000)});
    let (status, body) = f.call(Method::POST, "/api/v1/teams", Some("alice"), Some(huge)).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "SIZE_INVALID")
    );
    assert_eq!(
        f.store.list_teams().await.unwrap().len(),
        7,
        "nothing created by bad input"
    );
}

mod activity_export;
mod bootstrap;
mod links;
mod lists;
mod password_resets;
mod portus_v1;
mod refusals;
mod token_limits;

#[tokio::test]
async fn comments_are_listed_to_whoever_may_see_the_repository() {
    let f = fixture(Options::default()).await;
    let secret = repository_named(&f, "devs/secret").await;
    f.store.add_comment(secret.id, "alice", "first").await.unwrap();
    let hostile = "<b>second</b> <script>alert(1)</script><img src=x onerror=alert(1)> \
                   [x](javascript:alert(1)) <a href=\"https://ok.example\" onclick=alert(1)>y</a>";
    f.store.add_comment(secret.id, "bob", hostile).await.unwrap();
    let uri = format!("/api/v1/repositories/{}/comments", secret.id);
    let (status, body) = f.call(Method::GET, &uri, Some("bob"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed: Vec<(&str, &str)> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["author"].as_str().unwrap(), c["body"].as_str().unwrap()))
        .collect();
    assert_eq!(
        listed,
        [("alice", "first"), ("bob", hostile)],
        "the Markdown as written"
    );
    let html: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body_html"].as_str().unwrap())
        .collect();
    assert_eq!(
        html,
        [
            "<p>first</p>\n",
            "<p>second  <a rel=\"nofollow noopener noreferrer\">x</a> \
             <a href=\"https://ok.example\" rel=\"nofollow noopener noreferrer\">y</a></p>\n"
        ],
        "rendered and sanitized"
    );
    let (_, document) = f.get("/api/openapi.json", None).await;
    let schema = &document["components"]["schemas"]["CommentView"];
    assert!(
        schema["required"].as_array().unwrap().contains(&json!("body_html")),
        "{schema}"
    );
    assert_eq!(schema["properties"]["body_html"]["type"], "string", "{schema}");
    // The private repository looks missing to outsiders, exactly like an unknown one.
    let (hidden, hidden_body) = f.call(Method::GET, &uri, Some("carol"), None).await;
    let (missing, missing_body) = f
        .call(Method::GET, "/api/v1/repositories/999999/comments", Some("carol"), None)
        .await;
    assert_eq!((hidden, &hidden_body), (StatusCode::NOT_FOUND, &missing_body));
    assert_eq!(missing, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deleting_a_team_needs_the_right_to_its_namespaces() {
    // Team owners may manage their team but not its namespaces: the team cannot go, as that
    // would delete (or hand over) the namespaces they may not touch.
    let policy = PolicyConfig {
        manage_namespace: false,
        ..PolicyConfig::default()
    };
    let f = fixture(Options {
        policy,
        ..Options::default()
    })
    .await;
    let devs = format!("/api/v1/teams/{}", f.team_id("devs").await);
    let (status, body) = f.call(Method::DELETE, &devs, Some("alice"), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    f.call(
        Method::POST,
        "/api/v1/teams",
        Some("alice"),
        Some(json!({"name": "heirs"})),
    )
    .await;
    let (status, body) = f
        .call(Method::DELETE, &format!("{devs}?new_team=heirs"), Some("alice"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(f.call(Method::GET, &devs, Some("alice"), None).await.0, StatusCode::OK);
    // Administrators may.
    let (status, body) = f
        .call(Method::DELETE, &format!("{devs}?new_team=heirs"), Some("admin"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

#[tokio::test]
async fn callers_learn_who_they_are() {
    let f = fixture(Options::default()).await;
    let (status, answer) = f.call(Method::GET, "/api/v1/users/me", Some("alice"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (answer["username"].as_str(), answer["id"].as_i64()),
        (Some("alice"), Some(f.id("alice")))
    );
    let (status, _) = f.call(Method::GET, "/api/v1/users/me", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn e_mail_addresses_are_checked_and_belong_to_one_account() {
    let f = fixture(Options::default()).await;
    let bob = format!("/api/v1/users/{}", f.id("bob"));
    let (status, _) = f
        .call(
            Method::PUT,
            &bob,
            Some("admin"),
            Some(json!({"email": "Shared@Example.org"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = f
        .call(
            Method::POST,
            "/api/v1/users",
            Some("admin"),
            Some(json!({"username": "dora", "email": "shared@example.org"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    let (status, _) = f
        .call(
            Method::POST,
            "/api/v1/users",
            Some("admin"),
            Some(json!({"username": "dora", "email": "dora@example.org\r\nBcc: eve@example.org"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(f.store.user_by_name("dora").await.unwrap().is_none());
    let alice = format!("/api/v1/users/{}", f.id("alice"));
    let (status, _) = f
        .call(
            Method::PUT,
            &alice,
            Some("admin"),
            Some(json!({"email": "shared@EXAMPLE.org", "display_name": "Alice A."})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let alice = f.store.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!((alice.email, alice.display_name), (None, None), "nothing written");
}

/// Portus' rules: signed-in users who may see the repository write comments; authors and
/// administrators delete them; a hidden repository stays hidden.
#[tokio::test]
async fn comments_are_written_by_those_who_see_the_repository_and_deleted_by_authors_and_administrators() {
    let f = fixture(Options::default()).await;
    let secret = repository_named(&f, "devs/secret").await;
    let uri = format!("/api/v1/repositories/{}/comments", secret.id);
    let hostile = "**bold** <script>alert(1)</script> [x](javascript:alert(1))";
    let (status, written) = f
        .call(Method::POST, &uri, Some("bob"), Some(json!({"body": hostile})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{written}");
    assert_eq!(
        (written["author"].as_str(), written["body"].as_str()),
        (Some("bob"), Some(hostile))
    );
    let html = written["body_html"].as_str().unwrap();
    assert!(
        html.contains("<strong>bold</strong>") && !html.contains("<script") && !html.contains("javascript:"),
        "{html}"
    );
    let (status, _) = f
        .call(
            Method::POST,
            &uri,
            Some("alice"),
            Some(json!({"comment": {"body": "wrapped as Portus sends it"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let (hidden, _) = f
        .call(Method::POST, &uri, Some("carol"), Some(json!({"body": "hi"})))
        .await;
    assert_eq!(hidden, StatusCode::NOT_FOUND, "outsiders cannot tell it exists");
    let (anonymous, _) = f.call(Method::POST, &uri, None, Some(json!({"body": "hi"}))).await;
    assert_eq!(anonymous, StatusCode::UNAUTHORIZED);
    let (blank, _) = f
        .call(Method::POST, &uri, Some("bob"), Some(json!({"body": " \n "})))
        .await;
    assert_eq!(blank, StatusCode::UNPROCESSABLE_ENTITY);
    let long = "x".repeat(16_385);
    let (too_long, _) = f
        .call(Method::POST, &uri, Some("bob"), Some(json!({"body": long})))
        .await;
    assert!(
        matches!(too_long, StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE),
        "over 16,384 characters (or the body limit): {too_long}"
    );

    let comments = f.store.comments(secret.id).await.unwrap();
    assert_eq!(comments.len(), 2, "refused comments are not written");
    let (bobs, alices) = (comments[0].id.0, comments[1].id.0);
    let (status, _) = f
        .call(Method::DELETE, &format!("{uri}/{bobs}"), Some("alice"), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not hers");
    let (status, _) = f
        .call(Method::DELETE, &format!("{uri}/{bobs}"), Some("carol"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = f
        .call(Method::DELETE, &format!("{uri}/{bobs}"), Some("bob"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = f
        .call(Method::DELETE, &format!("{uri}/{alices}"), Some("admin"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = f
        .call(Method::DELETE, &format!("{uri}/{alices}"), Some("admin"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "gone");
    assert!(f.store.comments(secret.id).await.unwrap().is_empty());
    let actions: Vec<String> = f
        .store
        .activities(&portus_core::model::ActivityFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .filter(|a| a.starts_with("repository.comment"))
        .collect();
    assert_eq!(actions.len(), 4, "{actions:?}");
}

async fn repository_named(f: &Fixture, name: &str) -> portus_core::model::Repository {
    let repositories = f.store.list_repositories().await.unwrap();
    repositories
        .into_iter()
        .find(|r| r.name == name)
        .expect("a repository of the fixture")
}

#[tokio::test]
async fn artifacts_show_their_kind_are_not_scanned_and_signatures_mark_their_subject() {
    use portus_core::model::{Artifact, ArtifactKind, ChartInfo, HELM_CONFIG_MEDIA_TYPE};
    let f = fixture(Options::default()).await;
    // A chart whose digest even has a (stale) finished scan: it still reads as not scanned.
    f.store
        .put_tag(
            "open/app",
            "0.1.0",
            &manifest("sha256:o1"),
            None,
            MissingNamespace::Ignore,
        )
        .await
        .unwrap();
    let chart = Artifact {
        kind: ArtifactKind::HelmChart,
        artifact_type: Some(HELM_CONFIG_MEDIA_TYPE.into()),
        chart: Some(ChartInfo {
            name: "demo".into(),
            version: "0.1.0".into(),
        }),
        subject: None,
    };
    assert!(
        f.store
            .record_artifact("open/app", "0.1.0", "sha256:o1", &chart)
            .await
            .unwrap()
    );
    let tag = format!("/api/v1/tags/{}", f.tag_id("open/app:0.1.0").await);
    let (status, body) = f.get(&tag, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["kind"], json!("helm_chart"));
    assert_eq!(body["kind_label"], json!("Helm chart demo 0.1.0"));
    assert_eq!(body["chart"], json!({"name": "demo", "version": "0.1.0"}));
    assert_eq!(body["scan"]["status"], json!("notanimage"));
    assert_eq!(body["scanned"], json!(0));
    assert_eq!(body["signed"], json!(false));
    let (_, vulnerabilities) = f.get(&format!("{tag}/vulnerabilities"), None).await;
    assert_eq!(vulnerabilities["security"]["status"], json!("notanimage"));
    assert_eq!(vulnerabilities["security"]["vulnerabilities"], json!([]));
    // The image tag of that digest is not recognized yet: no kind, scanned as before.
    let image = format!("/api/v1/tags/{}", f.tag_id("open/app:1.0").await);
    let (_, body) = f.get(&image, None).await;
    assert_eq!(
        (body["kind"].clone(), body["scan"]["status"].clone()),
        (json!(null), json!("done"))
    );
    // A cosign-style signature of the image's digest marks it signed.
    let signature_tag = "sha256-0000000000000000000000000000000000000000000000000000000000000001.sig";
    let subject = "sha256:0000000000000000000000000000000000000000000000000000000000000001";
    f.store
        .put_tag("open/app", "9", &manifest(subject), None, MissingNamespace::Ignore)
        .await
        .unwrap();
    f.store
        .put_tag(
            "open/app",
            signature_tag,
            &manifest("sha256:s1"),
            None,
            MissingNamespace::Ignore,
        )
        .await
        .unwrap();
    let signature = Artifact {
        kind: ArtifactKind::Signature,
        artifact_type: None,
        chart: None,
        subject: Some(subject.into()),
    };
    f.store
        .record_artifact("open/app", signature_tag, "sha256:s1", &signature)
        .await
        .unwrap();
    let id = f.get("/api/v1/repositories", None).await.1[0]["id"].clone();
    let (_, tags) = f.get(&format!("/api/v1/repositories/{id}/tags"), None).await;
    let by_name = |name: &str| {
        tags.as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("9")["signed"], json!(true));
    assert_eq!(by_name("1.0")["signed"], json!(false));
    assert_eq!(by_name(signature_tag)["kind"], json!("signature"));
    assert_eq!(by_name(signature_tag)["subject"], json!(subject));
}

#[tokio::test]
async fn a_repository_of_charts_is_not_an_image_and_its_charts_are_never_pending() {
    use portus_core::model::{Artifact, ArtifactKind};
    let f = fixture(Options::default()).await;
    let chart = Artifact {
        kind: ArtifactKind::HelmChart,
        ..Artifact::image()
    };
    for (repository, tag, digest) in [
        ("open/charts", "0.1.0", "sha256:c1"),
        ("open/charts", "0.2.0", "sha256:c2"),
        ("open/app", "chart", "sha256:c3"),
    ] {
        f.store
            .put_tag(repository, tag, &manifest(digest), None, MissingNamespace::Ignore)
            .await
            .unwrap();
        assert!(f.store.record_artifact(repository, tag, digest, &chart).await.unwrap());
    }
    let (status, list) = f.get("/api/v1/repositories", None).await;
    assert_eq!(status, StatusCode::OK);
    let security = |name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|r| r["full_name"] == name)
            .unwrap_or_else(|| panic!("{name}: {list:#}"))["security"]
            .clone()
    };
    let charts = security("open/charts");
    assert_eq!(charts["status"], json!("notanimage"), "{charts:#}");
    assert_eq!(charts["tags_by_status"], json!({"notanimage": 2}));
    let app = security("open/app");
    assert_eq!(app["status"], json!("done"), "the chart is not pending: {app:#}");
    assert_eq!(app["tags_by_status"]["notanimage"], json!(1), "{app:#}");
    assert_eq!(app["tags_by_status"].get("pending"), None, "{app:#}");
    // One repository read on its own (from its tags) says the same.
    for (name, want) in [("open/charts", charts), ("open/app", app)] {
        let id = f.repository_id(name).await;
        let (_, one) = f.get(&format!("/api/v1/repositories/{id}"), None).await;
        assert_eq!(one["security"], want, "{name}");
    }
}
