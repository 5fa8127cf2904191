//! The web pages over the router, in process: sessions, CSRF on every form, the forms of each
//! page reaching the API, and the API's refusals shown as pages. The browser test
//! (`tests/it/e2e_web.rs`) drives the main path in Chromium.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use portus_auth::password::{LocalAuthenticator, hash_password};
use portus_auth::{TokenService, TokenServiceConfig};
use portus_core::model::NewUser;
use portus_core::prelude::*;
use portus_core::traits::Secret;
use portus_core::{InMemoryStore, PolicyStore};
use tower::ServiceExt;

use super::WebConfig;
use crate::router::router_with_web;
use crate::state::{AppState, HttpLimits};

struct Site {
    app: axum::Router,
    store: Arc<InMemoryStore>,
}

#[derive(Debug)]
struct Page {
    status: StatusCode,
    location: Option<String>,
    cookies: Vec<String>,
    body: String,
}

impl Page {
    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> String {
        let start = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with a CSRF field")
            + 19;
        self.body[start..].split('"').next().unwrap().to_owned()
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .find_map(|c| c.strip_prefix(&format!("{name}=")))
            .map(|rest| rest.split(';').next().unwrap().to_owned())
    }
}

async fn site() -> Site {
    site_with(|_, _| {}).await
}

async fn site_with(configure: impl FnOnce(&mut WebConfig, &Arc<InMemoryStore>)) -> Site {
    site_with_state(configure, |_| {}).await
}

/// [`site_with`], with the API's state configured by `state_of` too (a registry, its host).
async fn site_with_state(
    configure: impl FnOnce(&mut WebConfig, &Arc<InMemoryStore>),
    state_of: impl FnOnce(&mut AppState),
) -> Site {
    site_of(
        &[("admin", true), ("alice", false), ("bob", false)],
        configure,
        state_of,
    )
    .await
}

/// A site whose store holds `users` (name, administrator), each with the password
/// `<name>-password`.
async fn site_of(
    users: &[(&str, bool)],
    configure: impl FnOnce(&mut WebConfig, &Arc<InMemoryStore>),
    state_of: impl FnOnce(&mut AppState),
) -> Site {
    let store = Arc::new(InMemoryStore::new());
    for &(name, admin) in users {
        let hash = hash_password(&Secret::new(format!("{name}-password")), 4)
            .await
            .unwrap();
        store
            .create_user(NewUser {
                username: name.into(),
                admin,
                password_hash: Some(hash),
                ..NewUser::default()
            })
            .await
            .unwrap();
    }
    let issuer = crate::test_support::test_issuer();
    let local = LocalAuthenticator::new(store.clone(), 4).unwrap();
    let mut config = TokenServiceConfig::new("registry.local");
    config.lockout = portus_auth::LockoutPolicy {
        max_failures: 3,
        lock_for: Duration::from_secs(600),
    };
    let service = TokenService::new(store.clone(), vec![Arc::new(local)], issuer, config);
    let mut state = AppState::new(Arc::new(service));
    state.bcrypt_cost = 4;
    state_of(&mut state);
    let mut web = WebConfig {
        secure_cookies: false,
        ..WebConfig::default()
    };
    configure(&mut web, &store);
    Site {
        app: router_with_web(state, HttpLimits::default(), web),
        store,
    }
}

impl Site {
    async fn request(&self, method: Method, path: &str, cookies: &[&str], form: Option<&str>) -> Page {
        let mut request = Request::builder().method(method).uri(path);
        if !cookies.is_empty() {
            request = request.header(header::COOKIE, cookies.join("; "));
        }
        if form.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let request = request
            .body(form.map(|f| Body::from(f.to_owned())).unwrap_or_else(Body::empty))
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let cookies = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let body = String::from_utf8(to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
        Page {
            status,
            location,
            cookies,
            body,
        }
    }

    async fn get(&self, path: &str, session: &str) -> Page {
        self.request(Method::GET, path, &[session], None).await
    }

    /// Posts `form` with the CSRF token of the page at `from`.
    async fn post(&self, from: &str, action: &str, session: &str, form: &str) -> Page {
        let csrf = self.get(from, session).await.csrf();
        let body = format!("csrf={csrf}&{form}");
        self.request(Method::POST, action, &[session], Some(&body)).await
    }

    /// Signs `user` in; returns the session cookie (`name=value`).
    async fn sign_in(&self, user: &str, password: &str) -> Result<String, Page> {
        let form = self.request(Method::GET, "/sign_in", &[], None).await;
        let csrf_cookie = format!("portus_csrf={}", form.cookie("portus_csrf").unwrap());
        let body = format!("csrf={}&username={user}&password={password}", form.csrf());
        let answer = self
            .request(Method::POST, "/sign_in", &[&csrf_cookie], Some(&body))
            .await;
        match answer.cookie("portus_session") {
            Some(session) if answer.status == StatusCode::SEE_OTHER => Ok(format!("portus_session={session}")),
            _ => Err(answer),
        }
    }
}

#[tokio::test]
async fn sign_in_needs_the_form_token_and_right_credentials_and_tells_about_lockout() {
    let site = site().await;
    let anonymous = site.request(Method::GET, "/", &[], None).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.location.as_deref(), Some("/sign_in"));

    let form = site.request(Method::GET, "/sign_in", &[], None).await;
    assert!(
        form.body
            .contains("After 3 failed sign-ins in a row an account is locked for 10 minutes.")
    );
    let set = form.cookies.join("\n");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");

    // Without the cookie twin of the form token (a cross-site post): refused before any check.
    let body = format!("csrf={}&username=alice&password=alice-password", form.csrf());
    let forged = site.request(Method::POST, "/sign_in", &[], Some(&body)).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.cookie("portus_session").is_none());
    let wrong_twin = site
        .request(Method::POST, "/sign_in", &["portus_csrf=other"], Some(&body))
        .await;
    assert_eq!(wrong_twin.status, StatusCode::FORBIDDEN);

    let wrong = site.sign_in("alice", "nope").await.unwrap_err();
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Invalid user name or password"));
    let unknown = site.sign_in("nobody", "nope").await.unwrap_err();
    assert_eq!(
        unknown.status,
        StatusCode::UNAUTHORIZED,
        "the same answer for unknown users"
    );
    let (wrong_body, unknown_body) = (
        wrong.body.replace("alice", "NAME"),
        unknown.body.replace("nobody", "NAME"),
    );
    let strip_csrf = |b: &str| b.split("name=\"csrf\"").next().unwrap().to_owned();
    assert_eq!(strip_csrf(&wrong_body), strip_csrf(&unknown_body));

    // Lockout: the third failure locks; then even the right password is refused.
    site.sign_in("alice", "nope").await.unwrap_err();
    site.sign_in("alice", "nope").await.unwrap_err();
    let locked = site.sign_in("alice", "alice-password").await.unwrap_err();
    assert_eq!(locked.status, StatusCode::UNAUTHORIZED);
    assert!(locked.body.contains("locked"));

    let session = site.sign_in("bob", "bob-password").await.unwrap();
    let dashboard = site.get("/", &session).await;
    assert_eq!(dashboard.status, StatusCode::OK);
    assert!(dashboard.body.contains("<span class=\"who\">bob</span>"));
}

#[tokio::test]
async fn every_form_needs_the_session_token() {
    let site = site().await;
    let session = site.sign_in("admin", "admin-password").await.unwrap();
    for (action, form) in [
        ("/sign_out", ""),
        ("/teams", "name=sneaky"),
        ("/namespaces", "name=sneaky&team=sneaky"),
        ("/tokens", "application=sneaky"),
        ("/admin/users", "username=sneaky&password=sneaky-password"),
        ("/admin/users/2", "enabled=false"),
    ] {
        for csrf in ["", "csrf=wrong&"] {
            let page = site
                .request(Method::POST, action, &[&session], Some(&format!("{csrf}{form}")))
                .await;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{action} with '{csrf}'");
            assert!(page.body.contains("security token is missing or stale"));
        }
    }
    // Nothing happened: no team, no user, alice still enabled, admin still signed in.
    assert!(site.store.team_by_name("sneaky").await.unwrap().is_none());
    assert!(site.store.user_by_name("sneaky").await.unwrap().is_none());
    assert!(site.store.user_by_name("alice").await.unwrap().unwrap().enabled);
    assert_eq!(site.get("/", &session).await.status, StatusCode::OK);

    // Another session's token does not do either.
    let other = site.sign_in("bob", "bob-password").await.unwrap();
    let bobs_csrf = site.get("/", &other).await.csrf();
    let page = site
        .request(
            Method::POST,
            "/teams",
            &[&session],
            Some(&format!("csrf={bobs_csrf}&name=sneaky")),
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    let signed_out = site.post("/", "/sign_out", &session, "").await;
    assert_eq!(signed_out.location.as_deref(), Some("/sign_in"));
    assert_eq!(
        site.get("/", &session).await.status,
        StatusCode::SEE_OTHER,
        "the session ended"
    );
}

#[tokio::test]
async fn teams_namespaces_tokens_and_users_are_managed_through_the_api_rules() {
    let site = site().await;
    let alice = site.sign_in("alice", "alice-password").await.unwrap();

    let created = site
        .post("/teams", "/teams", &alice, "name=devs&description=builders")
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let team_page = created.location.unwrap();
    let added = site
        .post(
            &team_page,
            &format!("{team_page}/members"),
            &alice,
            "user=bob&role=viewer",
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let page = site.get(&team_page, &alice).await;
    assert!(page.body.contains("bob") && page.body.contains("builders"));
    // The API's refusal shows as a page with its status and message: the last owner stays.
    let alice_id = site.store.user_by_name("alice").await.unwrap().unwrap().id;
    let refused = site
        .post(
            &team_page,
            &format!("{team_page}/members/{}", alice_id.0),
            &alice,
            "action=remove",
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("at least one owner"), "{}", refused.body);

    let namespace = site
        .post(
            "/namespaces",
            "/namespaces",
            &alice,
            "name=devs-ns&team=devs&visibility=private&description=",
        )
        .await;
    assert_eq!(namespace.status, StatusCode::SEE_OTHER, "{}", namespace.body);
    let namespace_page = namespace.location.unwrap();
    let changed = site
        .post(
            &namespace_page,
            &namespace_page,
            &alice,
            "visibility=public&description=open+now",
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
    let page = site.get(&namespace_page, &alice).await;
    assert!(page.body.contains("<strong id=\"visibility\">public</strong>") && page.body.contains("open now"));

    // bob, a viewer, sees the namespace but gets no edit form, and a forged edit is refused.
    let bob = site.sign_in("bob", "bob-password").await.unwrap();
    let bobs_view = site.get(&namespace_page, &bob).await;
    assert_eq!(bobs_view.status, StatusCode::OK);
    assert!(!bobs_view.body.contains("<h2>Edit</h2>"));
    let forged = site.post("/", &namespace_page, &bob, "visibility=private").await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
    assert_eq!(site.get("/admin/users", &bob).await.status, StatusCode::FORBIDDEN);
    assert_eq!(site.get("/teams/999", &bob).await.status, StatusCode::NOT_FOUND);
    assert_eq!(site.get("/repositories/x'1", &bob).await.status, StatusCode::NOT_FOUND);

    // Application tokens: shown once on creation, listed without the secret, revocable.
    let created = site.post("/tokens", "/tokens", &alice, "application=ci").await;
    assert_eq!(created.status, StatusCode::OK);
    let start = created.body.find("<code id=\"new-token\">").unwrap() + 21;
    let secret = created.body[start..].split('<').next().unwrap().to_owned();
    assert!(secret.len() > 20);
    let listed = site.get("/tokens", &alice).await;
    assert!(
        listed.body.contains("ci") && !listed.body.contains(&secret),
        "the secret is shown once"
    );
    let store_tokens = site.store.list_app_tokens(alice_id).await.unwrap();
    let revoke = format!("/tokens/{}/revoke", store_tokens[0].id.0);
    assert_eq!(
        site.post("/tokens", &revoke, &alice, "").await.status,
        StatusCode::SEE_OTHER
    );
    assert!(site.store.list_app_tokens(alice_id).await.unwrap().is_empty());

    // Administration: create a user, disable alice: her session ends at once.
    let admin = site.sign_in("admin", "admin-password").await.unwrap();
    let new_user = site
        .post(
            "/admin/users",
            "/admin/users",
            &admin,
            "username=carol&email=carol%40example.com&password=carol-password",
        )
        .await;
    assert_eq!(new_user.status, StatusCode::SEE_OTHER, "{}", new_user.body);
    assert!(site.sign_in("carol", "carol-password").await.is_ok());
    let disable = site
        .post(
            "/admin/users",
            &format!("/admin/users/{}", alice_id.0),
            &admin,
            "enabled=false",
        )
        .await;
    assert_eq!(disable.status, StatusCode::SEE_OTHER, "{}", disable.body);
    assert_eq!(
        site.get("/", &alice).await.status,
        StatusCode::SEE_OTHER,
        "disabled: signed out"
    );
    assert!(site.sign_in("alice", "alice-password").await.is_err());
    let users = site.get("/admin/users", &admin).await;
    assert!(users.body.contains("disabled"));
}

#[tokio::test]
async fn the_repository_page_shows_its_description_stars_and_comments_as_text() {
    let site = site().await;
    let manifest = portus_core::model::ManifestRecord {
        digest: "sha256:c1".into(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: None,
    };
    site.store
        .put_tag(
            "alice/app",
            "1.0",
            &manifest,
            Some("alice"),
            portus_core::model::MissingNamespace::Ignore,
        )
        .await
        .unwrap();
    let repository = site.store.list_repositories().await.unwrap().remove(0);
    site.store
        .set_repository_description(repository.id, Some("The *app*".into()))
        .await
        .unwrap();
    let alice_user = site.store.user_by_name("alice").await.unwrap().unwrap();
    site.store.set_star(alice_user.id, repository.id, true).await.unwrap();
    site.store
        .add_comment(repository.id, "alice", "Tag releases as x.y")
        .await
        .unwrap();
    site.store
        .add_comment(repository.id, "bob", "<script>alert(1)</script>")
        .await
        .unwrap();
    let alice = site.sign_in("alice", "alice-password").await.unwrap();
    let page = site.get(&format!("/repositories/{}", repository.id), &alice).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("The *app*"), "{}", page.body);
    assert!(page.body.contains("<span id=\"stars\">1 ★</span>"), "{}", page.body);
    let comments = &page.body[page.body.find("id=\"comments\"").unwrap()..];
    let first = comments.find("Tag releases as x.y").unwrap();
    let second = comments.find("&lt;script&gt;alert(1)&lt;/script&gt;").unwrap();
    assert!(first < second, "oldest first");
    assert!(!page.body.contains("<script>alert"), "comments are escaped");
    // bob may not see alice's private repository: no page, no comments.
    let bob = site.sign_in("bob", "bob-password").await.unwrap();
    let hidden = site.get(&format!("/repositories/{}", repository.id), &bob).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert!(!hidden.body.contains("Tag releases"));
}

#[tokio::test]
async fn long_lists_are_paged() {
    let site = site().await;
    for n in 0..55 {
        site.store
            .create_user(NewUser {
                username: format!("user{n:02}"),
                ..NewUser::default()
            })
            .await
            .unwrap();
    }
    let admin = site.sign_in("admin", "admin-password").await.unwrap();
    let rows = |page: &Page| page.body.matches("<tr id=\"user-").count();
    let first = site.get("/admin/users", &admin).await;
    assert_eq!(rows(&first), 50, "58 users: 50 on the first page");
    assert!(first.body.contains("Page 1 of 2") && first.body.contains("href=\"/admin/users?page=2\""));
    assert!(!first.body.contains("rel=\"prev\""));
    let second = site.get("/admin/users?page=2", &admin).await;
    assert_eq!(rows(&second), 8);
    assert!(second.body.contains("Page 2 of 2") && second.body.contains("href=\"/admin/users?page=1\""));
    assert!(!second.body.contains("rel=\"next\""));
    let nonsense = site.get("/admin/users?page=zero", &admin).await;
    assert_eq!(rows(&nonsense), 50, "a page that is not a number is the first");
}

#[tokio::test]
async fn a_teams_members_and_namespaces_are_paged_apart() {
    let site = site().await;
    let alice = site.store.user_by_name("alice").await.unwrap().unwrap();
    let team = site.store.create_team("crowd", alice.id, None).await.unwrap();
    for n in 0..52 {
        let member = site
            .store
            .create_user(NewUser {
                username: format!("member{n:02}"),
                ..NewUser::default()
            })
            .await
            .unwrap();
        site.store
            .set_team_member(team.id, member.id, portus_core::model::Role::Viewer)
            .await
            .unwrap();
    }
    let session = site.sign_in("alice", "alice-password").await.unwrap();
    let path = format!("/teams/{}", team.id);
    let first = site.get(&path, &session).await;
    assert_eq!(first.status, StatusCode::OK);
    // 53 members (alice and 52): 50, then 3.
    assert!(
        first.body.contains("member48") && !first.body.contains("member49"),
        "by name"
    );
    assert!(
        first.body.contains(&format!("href=\"{path}?members=2\"")),
        "{}",
        first.body
    );
    assert!(
        !first.body.contains("Pages of namespaces"),
        "one page of namespaces: no pager"
    );
    let second = site.get(&format!("{path}?members=2"), &session).await;
    assert!(second.body.contains("member51") && !second.body.contains("member48"));
    assert!(second.body.contains(&format!("href=\"{path}?members=1\"")));
}

#[tokio::test]
async fn pages_carry_security_headers_and_assets_are_served_locally() {
    let site = site().await;
    let page = site.request(Method::GET, "/sign_in", &[], None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page.body.contains("http://") && !page.body.contains("https://"),
        "no external assets"
    );
    let response = site
        .app
        .clone()
        .oneshot(Request::get("/sign_in").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let headers = response.headers();
    assert!(
        headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    for asset in ["/assets/portus.css", "/assets/portus.js"] {
        let page = site.request(Method::GET, asset, &[], None).await;
        assert_eq!(page.status, StatusCode::OK, "{asset}");
        assert!(!page.body.is_empty());
    }
    // The API keeps answering in JSON next to the pages.
    let api = site.request(Method::GET, "/api/v1/teams", &[], None).await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    assert!(api.body.starts_with("{\"errors\""), "{}", api.body);
    // A session cookie is not an API credential: the API only takes application tokens.
    let session = site.sign_in("alice", "alice-password").await.unwrap();
    let api = site.request(Method::GET, "/api/v1/teams", &[&session], None).await;
    assert_eq!(
        api.status,
        StatusCode::UNAUTHORIZED,
        "no cookie-authenticated API, so no CSRF there"
    );
}

#[tokio::test]
async fn a_signed_in_user_who_gets_locked_is_signed_out() {
    let site = site().await;
    let session = site.sign_in("alice", "alice-password").await.unwrap();
    assert_eq!(site.get("/", &session).await.status, StatusCode::OK);
    // Someone else fails alice's password until the account locks (3 in this site).
    for _ in 0..3 {
        site.sign_in("alice", "nope").await.unwrap_err();
    }
    let alice = site.store.user_by_name("alice").await.unwrap().unwrap();
    assert!(alice.is_locked(portus_core::model::now()), "{alice:?}");
    for path in ["/", "/tokens", "/namespaces"] {
        let page = site.get(path, &session).await;
        assert_eq!(
            (page.status, page.location.as_deref()),
            (StatusCode::SEE_OTHER, Some("/sign_in")),
            "{path}"
        );
    }
    // The session ended for good: unlocking does not bring it back, signing in again does.
    site.store.set_user_lock(alice.id, None).await.unwrap();
    assert_eq!(site.get("/", &session).await.status, StatusCode::SEE_OTHER);
    let again = site.sign_in("alice", "alice-password").await.unwrap();
    assert_eq!(site.get("/", &again).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_password_change_ends_the_sessions_begun_before_it() {
    let site = site().await;
    let stolen = site.sign_in("alice", "alice-password").await.unwrap();
    assert_eq!(site.get("/", &stolen).await.status, StatusCode::OK);
    let alice = site.store.user_by_name("alice").await.unwrap().unwrap();
    let hash = hash_password(&Secret::new("a-new-password"), 4).await.unwrap();
    portus_core::ops::users::set_password(site.store.as_ref(), Some("alice"), &alice, Some(hash))
        .await
        .unwrap();
    let page = site.get("/", &stolen).await;
    assert_eq!(
        (page.status, page.location.as_deref()),
        (StatusCode::SEE_OTHER, Some("/sign_in"))
    );
    let fresh = site.sign_in("alice", "a-new-password").await.unwrap();
    assert_eq!(
        site.get("/", &fresh).await.status,
        StatusCode::OK,
        "a session begun after it lives"
    );
}

mod password_reset;
mod profile;
mod registry_pages;
mod signup;
mod tokens;

/// Sign in with OpenID Connect against a provider served on 127.0.0.1 by the test: discovery,
/// keys, an authorization endpoint that signs its one user in at once, and a token endpoint
/// that checks the client, the code, the redirect URL and PKCE like a real provider.
#[cfg(feature = "oidc")]
mod oidc {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use aws_lc_rs::digest::{SHA256, digest};
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use axum::extract::{Form, Query, State};
    use axum::response::{IntoResponse, Redirect, Response};
    use axum::routing::{get, post};
    use data_encoding::{BASE64, BASE64URL_NOPAD};
    use portus_auth::oidc::{OidcConfig, OidcProvider, UsernameClaim};
    use portus_core::model::ExternalIdentity;
    use serde_json::json;

    use super::*;
    use crate::web::OidcLogin;

    const CLIENT_ID: &str = "portus-web";
    const CLIENT_SECRET: &str = "client-secret";
    const CALLBACK: &str = "http://portus.test/sign_in/oidc/callback";

    struct Grant {
        nonce: String,
        challenge: String,
        redirect_uri: String,
        user: String,
        name: String,
    }

    struct Provider {
        issuer: String,
        key: Vec<u8>,
        other_key: Vec<u8>,
        point: Vec<u8>,
        grants: Mutex<HashMap<String, Grant>>,
        /// Who signs in at the provider: `sub` is `id-{user}`, `preferred_username` the user
        /// unless `name` says otherwise (a name people may choose at the provider).
        user: Mutex<String>,
        name: Mutex<Option<String>>,
        tamper: Mutex<&'static str>,
    }

    fn pkcs8() -> Vec<u8> {
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .unwrap()
            .as_ref()
            .to_vec()
    }

    async fn discovery(State(p): State<Arc<Provider>>) -> Response {
        axum::Json(json!({
            "issuer": p.issuer,
            "authorization_endpoint": format!("{}/authorize", p.issuer),
            "token_endpoint": format!("{}/token", p.issuer),
            "jwks_uri": format!("{}/jwks", p.issuer),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        }))
        .into_response()
    }

    async fn jwks(State(p): State<Arc<Provider>>) -> Response {
        axum::Json(json!({"keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "k1",
            "x": BASE64URL_NOPAD.encode(&p.point[1..33]),
            "y": BASE64URL_NOPAD.encode(&p.point[33..65]),
        }]}))
        .into_response()
    }

    async fn authorize(State(p): State<Arc<Provider>>, Query(q): Query<HashMap<String, String>>) -> Response {
        assert_eq!(q["client_id"], CLIENT_ID);
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["code_challenge_method"], "S256", "PKCE");
        assert!(q["scope"].split(' ').any(|s| s == "openid"));
        let code = crate::web::session::random_token();
        let user = p.user.lock().unwrap().clone();
        let name = p.name.lock().unwrap().clone().unwrap_or_else(|| user.clone());
        p.grants.lock().unwrap().insert(
            code.clone(),
            Grant {
                nonce: q["nonce"].clone(),
                challenge: q["code_challenge"].clone(),
                redirect_uri: q["redirect_uri"].clone(),
                user,
                name,
            },
        );
        Redirect::to(&format!("{}?code={code}&state={}", q["redirect_uri"], q["state"])).into_response()
    }

    async fn token(
        State(p): State<Arc<Provider>>,
        headers: axum::http::HeaderMap,
        Form(form): Form<HashMap<String, String>>,
    ) -> Response {
        let client = format!(
            "Basic {}",
            BASE64.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}").as_bytes())
        );
        let refuse = |error: &str| (StatusCode::BAD_REQUEST, axum::Json(json!({"error": error}))).into_response();
        if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(client.as_str()) {
            return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client"}))).into_response();
        }
        let Some(grant) = p.grants.lock().unwrap().remove(&form["code"]) else {
            return refuse("invalid_grant");
        };
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        if BASE64URL_NOPAD.encode(digest(&SHA256, verifier.as_bytes()).as_ref()) != grant.challenge
            || form["redirect_uri"] != grant.redirect_uri
        {
            return refuse("invalid_grant");
        }
        let tamper = *p.tamper.lock().unwrap();
        let now = chrono::Utc::now().timestamp();
        let claims = json!({
            "iss": p.issuer,
            "sub": format!("id-{}", grant.user),
            "aud": if tamper == "audience" { "someone-else" } else { CLIENT_ID },
            "iat": now,
            "exp": if tamper == "expired" { now - 600 } else { now + 300 },
            "nonce": if tamper == "nonce" { "another-nonce".to_owned() } else { grant.nonce },
            "preferred_username": grant.name,
            "email": format!("{}@example.com", grant.user),
            "email_verified": true,
        });
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("k1".into());
        let key = if tamper == "signature" { &p.other_key } else { &p.key };
        let id_token = jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_ec_der(key)).unwrap();
        axum::Json(json!({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token}))
            .into_response()
    }

    async fn provider() -> Arc<Provider> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let key = pkcs8();
        let point = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &key)
            .unwrap()
            .public_key()
            .as_ref()
            .to_vec();
        let provider = Arc::new(Provider {
            issuer,
            key,
            other_key: pkcs8(),
            point,
            grants: Mutex::new(HashMap::new()),
            user: Mutex::new("carol".into()),
            name: Mutex::new(None),
            tamper: Mutex::new(""),
        });
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(provider.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        provider
    }

    fn login(issuer: &str, store: &Arc<InMemoryStore>) -> OidcLogin {
        login_creating(issuer, store, true)
    }

    fn login_creating(issuer: &str, store: &Arc<InMemoryStore>, create_users: bool) -> OidcLogin {
        let config = OidcConfig {
            issuer: issuer.to_owned(),
            client_id: CLIENT_ID.into(),
            client_secret: Some(CLIENT_SECRET.into()),
            redirect_url: CALLBACK.into(),
            scopes: vec!["profile".into(), "email".into()],
            username_claim: UsernameClaim::PreferredUsername,
            create_users,
            timeout: Duration::from_secs(5),
        };
        let store: Arc<dyn PolicyStore> = store.clone();
        OidcLogin {
            name: "TestID".into(),
            provider: Arc::new(OidcProvider::new(config, store).unwrap()),
        }
    }

    /// Leaves for the provider and comes back: the callback path and the attempt cookie.
    async fn round_trip(site: &Site) -> (String, String) {
        let begin = site.request(Method::GET, "/sign_in/oidc", &[], None).await;
        assert_eq!(begin.status, StatusCode::SEE_OTHER, "{}", begin.body);
        let attempt = format!("portus_oidc={}", begin.cookie("portus_oidc").unwrap());
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let at_provider = http.get(begin.location.unwrap()).send().await.unwrap();
        assert_eq!(at_provider.status(), StatusCode::SEE_OTHER);
        let back = at_provider.headers()[header::LOCATION].to_str().unwrap().to_owned();
        let callback = back
            .strip_prefix("http://portus.test")
            .expect("back to our callback")
            .to_owned();
        (callback, attempt)
    }

    async fn finish(site: &Site, callback: &str, attempt: &str) -> Page {
        site.request(Method::GET, callback, &[attempt], None).await
    }

    #[tokio::test]
    async fn users_sign_in_with_the_provider_and_forged_or_replayed_answers_are_refused() {
        let provider = provider().await;
        let issuer = provider.issuer.clone();
        let site = site_with(|web, store| web.oidc = Some(login(&issuer, store))).await;
        let form = site.request(Method::GET, "/sign_in", &[], None).await;
        assert!(form.body.contains("Sign in with TestID"));

        // First sign-in creates carol (no password) and signs her in.
        let (callback, attempt) = round_trip(&site).await;
        let done = finish(&site, &callback, &attempt).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        assert_eq!(done.location.as_deref(), Some("/"));
        let session = format!("portus_session={}", done.cookie("portus_session").unwrap());
        assert!(
            site.get("/", &session)
                .await
                .body
                .contains("<span class=\"who\">carol</span>")
        );
        let carol = site
            .store
            .user_by_name("carol")
            .await
            .unwrap()
            .expect("created on first sign-in");
        assert!(carol.password_hash.is_none() && !carol.admin);
        assert_eq!(carol.email.as_deref(), Some("carol@example.com"));

        // The same answer again: the attempt is used up.
        let replayed = finish(&site, &callback, &attempt).await;
        assert_eq!(replayed.status, StatusCode::BAD_REQUEST);
        assert!(replayed.cookie("portus_session").is_none());
        // An answer without the browser's attempt cookie (login CSRF): refused.
        let (callback, _) = round_trip(&site).await;
        assert_eq!(
            site.request(Method::GET, &callback, &[], None).await.status,
            StatusCode::BAD_REQUEST
        );
        // Another attempt's state.
        let (callback, attempt) = round_trip(&site).await;
        let forged = callback.replace("state=", "state=x");
        let refused = finish(&site, &forged, &attempt).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(refused.body.contains("Sign-in with TestID failed."));
        // The provider reports an error.
        let (_, attempt) = round_trip(&site).await;
        let error = finish(&site, "/sign_in/oidc/callback?error=access_denied&state=s", &attempt).await;
        assert_eq!(error.status, StatusCode::UNAUTHORIZED);

        // ID tokens that must not verify.
        for tamper in ["nonce", "audience", "signature", "expired"] {
            *provider.tamper.lock().unwrap() = tamper;
            let (callback, attempt) = round_trip(&site).await;
            let page = finish(&site, &callback, &attempt).await;
            assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{tamper}: {}", page.body);
            assert!(page.cookie("portus_session").is_none(), "{tamper}");
        }
        *provider.tamper.lock().unwrap() = "";

        // A returning identity is the same user.
        let (callback, attempt) = round_trip(&site).await;
        let again = finish(&site, &callback, &attempt).await;
        let session = format!("portus_session={}", again.cookie("portus_session").unwrap());
        assert!(
            site.get("/", &session)
                .await
                .body
                .contains("<span class=\"who\">carol</span>")
        );
        assert_eq!(
            site.store.list_users().await.unwrap().len(),
            4,
            "admin, alice, bob, carol"
        );
    }

    /// The name of the user signed in by `session`, from the page header.
    async fn who(site: &Site, page: &Page) -> String {
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let session = format!("portus_session={}", page.cookie("portus_session").expect("signed in"));
        let body = site.get("/", &session).await.body;
        let marker = "<span class=\"who\">";
        let start = body.find(marker).expect("signed in") + marker.len();
        body[start..].split('<').next().unwrap().to_owned()
    }

    async fn sign_in_as(site: &Site, provider: &Provider, user: &str, name: Option<&str>) -> Page {
        *provider.user.lock().unwrap() = user.into();
        *provider.name.lock().unwrap() = name.map(str::to_owned);
        let (callback, attempt) = round_trip(site).await;
        finish(site, &callback, &attempt).await
    }

    /// The acceptance test of the linking defect: a provider that lets people choose their
    /// name does not hand out the local account of that name, administrators' included.
    #[tokio::test]
    async fn a_provider_name_equal_to_an_administrators_makes_a_new_account_not_the_administrator() {
        let provider = provider().await;
        let issuer = provider.issuer.clone();
        let site = site_with(|web, store| web.oidc = Some(login(&issuer, store))).await;
        let admin = site.store.user_by_name("admin").await.unwrap().unwrap();

        let first = sign_in_as(&site, &provider, "mallory", Some("admin")).await;
        assert_eq!(who(&site, &first).await, "admin_01", "not the administrator");
        let created = site.store.user_by_name("admin_01").await.unwrap().unwrap();
        assert!(!created.admin && created.password_hash.is_none());
        assert_eq!(site.store.user_by_name("admin").await.unwrap(), Some(admin.clone()));
        let mallory = ExternalIdentity::new("oidc", issuer.as_str(), "id-mallory");
        assert_eq!(
            site.store.identities_of(created.id).await.unwrap(),
            vec![mallory.clone()]
        );
        assert_eq!(site.store.identities_of(admin.id).await.unwrap(), vec![]);

        // The same identity again, whatever name it claims now: the same account.
        let again = sign_in_as(&site, &provider, "mallory", Some("admin")).await;
        assert_eq!(who(&site, &again).await, "admin_01");
        let renamed = sign_in_as(&site, &provider, "mallory", Some("bob")).await;
        assert_eq!(
            who(&site, &renamed).await,
            "admin_01",
            "the link, not the name, decides"
        );
        // Another identity claiming the name gets the next free one; one claiming a user's
        // name gets a new account too.
        let other = sign_in_as(&site, &provider, "eve", Some("admin")).await;
        assert_eq!(who(&site, &other).await, "admin_02");
        let alice_name = sign_in_as(&site, &provider, "trudy", Some("alice")).await;
        assert_eq!(who(&site, &alice_name).await, "alice_01");
        let users = site.store.list_users().await.unwrap();
        assert_eq!(users.len(), 6, "admin, alice, bob and three new accounts");
        assert_eq!(users.iter().filter(|u| u.admin).count(), 1);
    }

    #[tokio::test]
    async fn without_create_users_an_unlinked_identity_is_refused_until_an_administrator_links_it() {
        let provider = provider().await;
        let issuer = provider.issuer.clone();
        let site = site_with(|web, store| web.oidc = Some(login_creating(&issuer, store, false))).await;

        // Claiming an administrator's name, and a user's: refused, nothing created or linked.
        for name in ["admin", "alice"] {
            let page = sign_in_as(&site, &provider, "mallory", Some(name)).await;
            assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{name}: {}", page.body);
            assert!(page.cookie("portus_session").is_none());
            assert!(
                page.body
                    .contains("Your TestID account is not linked to an account here. Ask an administrator to link it."),
                "{}",
                page.body
            );
        }
        assert_eq!(site.store.list_users().await.unwrap().len(), 3);

        // An administrator links the identity to alice: it signs in as alice, whatever its name.
        let alice = site.store.user_by_name("alice").await.unwrap().unwrap();
        let identity = ExternalIdentity::new("oidc", issuer.as_str(), "id-mallory");
        portus_core::ops::users::link_identity(site.store.as_ref(), Some("admin"), &alice, &identity)
            .await
            .unwrap();
        let linked = sign_in_as(&site, &provider, "mallory", Some("admin")).await;
        assert_eq!(who(&site, &linked).await, "alice");
        // A disabled user does not sign in this way either.
        site.store.set_user_enabled(alice.id, false).await.unwrap();
        let disabled = sign_in_as(&site, &provider, "mallory", None).await;
        assert_eq!(disabled.status, StatusCode::UNAUTHORIZED);
        assert!(disabled.body.contains("Sign-in with TestID failed."));

        // An account Portus made at an OpenID Connect sign-up (imported with its `uid`, no
        // issuer) keeps signing in, linked by issuer from then on in place of the import.
        let bob = site.store.user_by_name("bob").await.unwrap().unwrap();
        let imported = ExternalIdentity::new("openid_connect", "", "id-bob");
        site.store.link_identity(bob.id, &imported).await.unwrap();
        let migrated = sign_in_as(&site, &provider, "bob", Some("admin")).await;
        assert_eq!(who(&site, &migrated).await, "bob");
        let bobs = ExternalIdentity::new("oidc", issuer.as_str(), "id-bob");
        assert_eq!(site.store.identities_of(bob.id).await.unwrap(), vec![bobs]);
        assert_eq!(site.store.list_users().await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn an_unreachable_provider_is_503() {
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let site = site_with(|web, store| web.oidc = Some(login(&issuer, store))).await;
        let page = site.request(Method::GET, "/sign_in/oidc", &[], None).await;
        assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE, "{}", page.body);
    }
}

#[tokio::test]
async fn repositories_are_browsed_by_name_and_explored_without_signing_in() {
    let site = site().await;
    let manifest = portus_core::model::ManifestRecord {
        digest: "sha256:e1".into(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: None,
    };
    for repository in ["open/web-app", "open/api", "alice/secret-app"] {
        site.store
            .put_tag(
                repository,
                "1",
                &manifest,
                None,
                portus_core::model::MissingNamespace::Create,
            )
            .await
            .unwrap();
    }
    let open = site
        .store
        .namespace(portus_core::model::NamespaceRef::Named("open"))
        .await
        .unwrap()
        .unwrap();
    site.store
        .set_namespace_visibility(open.id, portus_core::model::Visibility::Public)
        .await
        .unwrap();
    let visitor = site.request(Method::GET, "/explore", &[], None).await;
    assert_eq!(visitor.status, StatusCode::OK, "{}", visitor.body);
    assert!(visitor.body.contains("open/web-app") && visitor.body.contains("open/api"));
    assert!(!visitor.body.contains("alice/secret-app"), "only what anyone may pull");
    let filtered = site.request(Method::GET, "/explore?q=APP", &[], None).await;
    assert!(filtered.body.contains("open/web-app") && !filtered.body.contains("open/api"));

    let alice = site.sign_in("alice", "alice-password").await.unwrap();
    let mine = site.get("/repositories?q=app", &alice).await;
    assert_eq!(mine.status, StatusCode::OK);
    assert!(mine.body.contains("alice/secret-app") && mine.body.contains("open/web-app"));
    assert!(!mine.body.contains("open/api"));
    let bob = site.sign_in("bob", "bob-password").await.unwrap();
    let theirs = site.get("/repositories", &bob).await;
    assert!(!theirs.body.contains("alice/secret-app") && theirs.body.contains("open/api"));
    let signed_out = site.request(Method::GET, "/repositories", &[], None).await;
    assert_eq!(signed_out.location.as_deref(), Some("/sign_in"));
}

#[tokio::test]
async fn a_repositorys_comments_are_paged() {
    let site = site().await;
    let manifest = portus_core::model::ManifestRecord {
        digest: "sha256:c2".into(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: None,
    };
    site.store
        .put_tag(
            "alice/app",
            "1",
            &manifest,
            None,
            portus_core::model::MissingNamespace::Ignore,
        )
        .await
        .unwrap();
    let repository = site.store.list_repositories().await.unwrap().remove(0);
    for n in 0..55 {
        site.store
            .add_comment(repository.id, "alice", &format!("comment number {n:02}"))
            .await
            .unwrap();
    }
    let alice = site.sign_in("alice", "alice-password").await.unwrap();
    let first = site.get(&format!("/repositories/{}", repository.id), &alice).await;
    assert_eq!(first.body.matches("comment number").count(), 50, "{}", first.body);
    assert!(
        first
            .body
            .contains(&format!("href=\"/repositories/{}?comments=2\"", repository.id))
    );
    let second = site
        .get(&format!("/repositories/{}?comments=2", repository.id), &alice)
        .await;
    assert_eq!(second.body.matches("comment number").count(), 5);
    assert!(second.body.contains("comment number 54"));
}
