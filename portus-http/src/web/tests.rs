//! The web pages over the router, in process: sessions, CSRF on every form, the forms of each
//! page reaching the API, and the API's refusals shown as pages. The browser test
//! (`tests/it/e2e_web.rs`) drives the main path in Chromium.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
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

use super::testing::Page;

struct Site {
    app: axum::Router,
    store: Arc<InMemoryStore>,
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
        super::testing::request(&self.app, method, path, cookies, form).await
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
        super::testing::sign_in(&self.app, user, password).await
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
async fn the_repository_page_shows_its_description_stars_and_comments_rendered_inert() {
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
        .add_comment(
            repository.id,
            "alice",
            "Tag releases as *x.y*, see [the docs](https://example.com/docs)",
        )
        .await
        .unwrap();
    site.store
        .add_comment(
            repository.id,
            "bob",
            "**bold** [x](JaVaScRiPt:alert(1)) <img src=x onerror=alert(1)>\n\n<script>alert(1)</script>\n\n\
             <a href=\"https://evil.example\" onclick=\"alert(1)\">y</a><iframe src=\"https://evil.example\"></iframe>",
        )
        .await
        .unwrap();
    let alice = site.sign_in("alice", "alice-password").await.unwrap();
    let page = site.get(&format!("/repositories/{}", repository.id), &alice).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("The *app*"), "{}", page.body);
    assert!(page.body.contains("<span id=\"stars\">1 ★</span>"), "{}", page.body);
    let comments = &page.body[page.body.find("id=\"comments\"").unwrap()..];
    // Markdown is rendered (links marked as user content) ...
    let first = comments
        .find("<p>Tag releases as <em>x.y</em>, see <a href=\"https://example.com/docs\" rel=\"nofollow noopener noreferrer\">the docs</a></p>")
        .unwrap_or_else(|| panic!("{comments}"));
    let second = comments
        .find("<strong>bold</strong>")
        .unwrap_or_else(|| panic!("{comments}"));
    assert!(first < second, "oldest first");
    // ... and nothing of the hostile comment stays live.
    for live in [
        "<script>alert",
        "alert(1)",
        "onerror",
        "onclick",
        "javascript:",
        "<img",
        "<iframe",
    ] {
        assert!(
            !page.body.to_ascii_lowercase().contains(&live.to_ascii_lowercase()),
            "{live}: {comments}"
        );
    }
    assert!(
        comments.contains("<a href=\"https://evil.example\" rel=\"nofollow noopener noreferrer\">y</a>"),
        "{comments}"
    );
    // bob may not see alice's private repository: no page, no comments.
    let bob = site.sign_in("bob", "bob-password").await.unwrap();
    let hidden = site.get(&format!("/repositories/{}", repository.id), &bob).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert!(!hidden.body.contains("Tag releases"));
    // The page's policy stays strict: no inline scripts, whatever a comment holds.
    let csp = site
        .app
        .clone()
        .oneshot(
            Request::get(format!("/repositories/{}", repository.id))
                .header(header::COOKIE, alice.as_str())
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let policy = csp.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        policy.starts_with("default-src 'self';") && !policy.contains("unsafe-inline"),
        "{policy}"
    );
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

mod lifecycle;
#[cfg(feature = "oidc")]
mod oauth;
#[cfg(feature = "oidc")]
mod oauth_standins;
mod password_reset;
mod profile;
mod registry_pages;
mod signup;
mod tokens;

#[cfg(feature = "oidc")]
mod oidc;

/// Tags `1` of `repositories` (their namespaces created), then makes the namespace `open`
/// public.
async fn with_public_namespace_open(site: &Site, repositories: &[&str]) {
    let manifest = portus_core::model::ManifestRecord {
        digest: format!("sha256:{}", "e".repeat(64)),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: None,
    };
    for repository in repositories {
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
}

/// `web.anonymous_browsing = false`: the explore page sends visitors to sign in and shows
/// nothing, even of public namespaces.
#[tokio::test]
async fn explore_is_off_without_anonymous_browsing() {
    let site = site_with(|web, _| web.anonymous_browsing = false).await;
    with_public_namespace_open(&site, &["open/web-app"]).await;
    for path in ["/explore", "/explore?q=web"] {
        let visitor = site.request(Method::GET, path, &[], None).await;
        assert_eq!(visitor.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(visitor.location.as_deref(), Some("/sign_in"), "{path}");
        assert!(!visitor.body.contains("open/web-app"), "{path}");
    }
    // Nor do the visitors' pages offer it.
    let closed = site_with(|web, _| {
        web.anonymous_browsing = false;
        web.signup = true;
    })
    .await;
    for path in ["/sign_in", "/sign_up"] {
        let page = closed.request(Method::GET, path, &[], None).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.body.contains("href=\"/explore\""), "{path}: {}", page.body);
    }
    let open = site_with(|_, _| {}).await;
    let page = open.request(Method::GET, "/sign_in", &[], None).await;
    assert!(page.body.contains("href=\"/explore\""), "on by default");
}

/// Error pages (404, 403) offer the explore link only when visitors may explore, as the
/// sign-in page does.
#[tokio::test]
async fn error_pages_follow_anonymous_browsing() {
    for browsing in [false, true] {
        let site = site_with(|web, _| web.anonymous_browsing = browsing).await;
        let alice = site.sign_in("alice", "alice-password").await.unwrap();
        let missing = site.get("/repositories/999999", &alice).await;
        let refused = site
            .request(Method::POST, "/tokens", &[&alice], Some("application=x"))
            .await;
        let no_sign_up = site.request(Method::GET, "/sign_up", &[], None).await;
        for (what, page, status) in [
            ("404", &missing, StatusCode::NOT_FOUND),
            ("403", &refused, StatusCode::FORBIDDEN),
            ("visitor's 404", &no_sign_up, StatusCode::NOT_FOUND),
        ] {
            assert_eq!(page.status, status, "{what}: {}", page.body);
            assert!(
                page.body.contains("role=\"alert\""),
                "{what}: an error page: {}",
                page.body
            );
            assert_eq!(
                page.body.contains("href=\"/explore\""),
                browsing,
                "{what} with anonymous_browsing = {browsing}: {}",
                page.body
            );
        }
    }
}

#[tokio::test]
async fn repositories_are_browsed_by_name_and_explored_without_signing_in() {
    let site = site().await;
    with_public_namespace_open(&site, &["open/web-app", "open/api", "alice/secret-app"]).await;
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

#[tokio::test]
async fn comments_are_written_and_deleted_on_the_repository_page() {
    let site = site().await;
    let manifest = portus_core::model::ManifestRecord {
        digest: "sha256:c2".into(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: None,
    };
    site.store
        .put_tag(
            "alice/tool",
            "1",
            &manifest,
            Some("alice"),
            portus_core::model::MissingNamespace::Ignore,
        )
        .await
        .unwrap();
    let repository = site.store.list_repositories().await.unwrap().remove(0);
    let path = format!("/repositories/{}", repository.id);
    let alice = site.sign_in("alice", "alice-password").await.unwrap();
    let posted = site
        .post(
            &path,
            &format!("{path}/comments"),
            &alice,
            "body=Hello+*there*+%3Cscript%3Ex%3C%2Fscript%3E",
        )
        .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.body);
    let page = site.get(&path, &alice).await;
    assert!(
        page.body.contains("<em>there</em>") && !page.body.contains("<script>x"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("class=\"delete-comment\""),
        "the author may delete it"
    );
    let admin = site.sign_in("admin", "admin-password").await.unwrap();
    assert!(site.get(&path, &admin).await.body.contains("class=\"delete-comment\""));

    let comment = site.store.comments(repository.id).await.unwrap().remove(0);
    let delete = format!("{path}/comments/{}/delete", comment.id.0);
    let bob = site.sign_in("bob", "bob-password").await.unwrap();
    let forged = site.post("/", &delete, &bob, "").await;
    assert_eq!(
        forged.status,
        StatusCode::NOT_FOUND,
        "alice's repository is hidden from bob"
    );
    let deleted = site.post(&path, &delete, &alice, "").await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert!(site.store.comments(repository.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_activity_page_filters_the_log_and_shows_each_user_only_what_they_may_see() {
    let site = site().await;
    let store = site.store.as_ref();
    let alice = store.user_by_name("alice").await.unwrap().unwrap();
    let bob = store.user_by_name("bob").await.unwrap().unwrap();
    portus_core::ops::teams::create(store, Some("alice"), "alpha-team", &alice, None)
        .await
        .unwrap();
    portus_core::ops::teams::create(store, Some("bob"), "beta-team", &bob, None)
        .await
        .unwrap();

    let admin = site.sign_in("admin", "admin-password").await.unwrap();
    let all = site.get("/activities", &admin).await;
    assert_eq!(all.status, StatusCode::OK);
    assert!(
        all.body.contains("alpha-team") && all.body.contains("beta-team"),
        "{}",
        all.body
    );
    let filtered = site.get("/activities?actor=alice&action=team.", &admin).await;
    assert!(filtered.body.contains("alpha-team") && !filtered.body.contains("beta-team"));
    assert!(filtered.body.contains("value=\"alice\""), "the form keeps the filters");
    let future = site.get("/activities?since=2999-01-01T00:00:00Z", &admin).await;
    assert!(future.body.contains("No activity yet.") && !future.body.contains("alpha-team"));
    let bad = site.get("/activities?since=yesterday", &admin).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let bob_session = site.sign_in("bob", "bob-password").await.unwrap();
    let own = site.get("/activities", &bob_session).await;
    assert!(
        own.body.contains("beta-team") && !own.body.contains("alpha-team"),
        "{}",
        own.body
    );
}

/// A scanner that is reachable and says what it knows about its vulnerability data.
#[derive(Debug)]
struct DataScanner(&'static str, portus_core::traits::VulnerabilityData);

#[async_trait::async_trait]
impl portus_core::traits::SecurityBackend for DataScanner {
    fn name(&self) -> &str {
        self.0
    }
    async fn scan(&self, _: &portus_core::traits::ImageRef) -> portus_core::Result<portus_core::traits::ScanOutcome> {
        Ok(portus_core::traits::ScanOutcome::Finished(Default::default()))
    }
    async fn health(&self) -> portus_core::Result<()> {
        Ok(())
    }
    async fn vulnerability_data(&self) -> portus_core::Result<portus_core::traits::VulnerabilityData> {
        Ok(self.1)
    }
}

#[tokio::test]
async fn administrators_see_each_scanners_data_age_on_the_dashboard() {
    use portus_core::traits::VulnerabilityData;
    let site = site_with_state(
        |_, _| {},
        |state| {
            let updated = VulnerabilityData::UpdatedAt {
                at: chrono::Utc::now() - chrono::Duration::hours(3),
            };
            state
                .scanner
                .register(Arc::new(DataScanner("clair", updated)))
                .unwrap()
                .register(Arc::new(DataScanner("airgapped", VulnerabilityData::Missing)))
                .unwrap();
        },
    )
    .await;
    let admin = site.sign_in("admin", "admin-password").await.unwrap();
    let dashboard = site.get("/", &admin).await;
    assert_eq!(dashboard.status, StatusCode::OK);
    let body = &dashboard.body;
    assert!(body.contains("Security scanners"), "{body}");
    assert!(
        body.contains("<strong>clair</strong>: ok; vulnerability data updated") && body.contains("(3 hours ago)"),
        "{body}"
    );
    assert!(
        body.contains("<li data-healthy=\"false\"><strong>airgapped</strong>: not working — reachable, but it has no vulnerability data yet"),
        "{body}"
    );
    let alice = site.sign_in("alice", "alice-password").await.unwrap();
    let dashboard = site.get("/", &alice).await;
    assert!(
        !dashboard.body.contains("Security scanners"),
        "only administrators: {}",
        dashboard.body
    );
}

#[tokio::test]
async fn the_repository_and_tag_pages_show_what_a_tag_holds_and_signed_images() {
    use portus_core::model::{
        Artifact, ArtifactKind, ChartInfo, HELM_CONFIG_MEDIA_TYPE, ManifestRecord, MissingNamespace,
    };
    let site = site().await;
    let hex = "cd".repeat(32);
    let signature_tag = format!("sha256-{hex}.sig");
    for (tag, digest) in [
        ("0.1.0", "sha256:c1".to_owned()),
        ("1.0", format!("sha256:{hex}")),
        (signature_tag.as_str(), "sha256:51".to_owned()),
    ] {
        let manifest = ManifestRecord {
            digest,
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            size: None,
        };
        site.store
            .put_tag("alice/app", tag, &manifest, Some("alice"), MissingNamespace::Ignore)
            .await
            .unwrap();
    }
    let chart = Artifact {
        kind: ArtifactKind::HelmChart,
        artifact_type: Some(HELM_CONFIG_MEDIA_TYPE.into()),
        chart: Some(ChartInfo {
            name: "demo".into(),
            version: "0.1.0".into(),
        }),
        subject: None,
    };
    let signature = Artifact {
        kind: ArtifactKind::Signature,
        artifact_type: None,
        chart: None,
        subject: Some(format!("sha256:{hex}")),
    };
    for (tag, digest, artifact) in [
        ("0.1.0", "sha256:c1", &chart),
        (signature_tag.as_str(), "sha256:51", &signature),
    ] {
        assert!(
            site.store
                .record_artifact("alice/app", tag, digest, artifact)
                .await
                .unwrap()
        );
    }
    let repository = site.store.list_repositories().await.unwrap().remove(0);
    let alice = site.sign_in("alice", "alice-password").await.unwrap();
    let page = site.get(&format!("/repositories/{}", repository.id), &alice).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let tags = &page.body[page.body.find("id=\"tags\"").unwrap()..];
    let row = |name: &str| {
        let start = tags
            .find(&format!(">{name}</a>"))
            .unwrap_or_else(|| panic!("{name}: {tags}"));
        let end = tags[start..].find("</tr>").unwrap() + start;
        tags[start..end].to_owned()
    };
    let chart_row = row("0.1.0");
    assert!(chart_row.contains("data-kind=\"helm_chart\""), "{chart_row}");
    assert!(chart_row.contains("Helm chart demo 0.1.0"), "{chart_row}");
    assert!(chart_row.contains("Not scanned: not an image"), "{chart_row}");
    assert!(!chart_row.contains("data-signed"), "{chart_row}");
    let image_row = row("1.0");
    assert!(image_row.contains("data-signed=\"true\""), "{image_row}");
    assert!(
        !image_row.contains("data-kind"),
        "a plain image shows no kind badge: {image_row}"
    );
    assert!(row(&signature_tag).contains("data-kind=\"signature\""));
    let chart_id = site.store.tag("alice/app", "0.1.0").await.unwrap().unwrap().id;
    let page = site.get(&format!("/tags/{chart_id}"), &alice).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let kind = &page.body[page.body.find("id=\"kind\"").unwrap()..];
    assert!(kind.starts_with("id=\"kind\">Helm chart demo 0.1.0"), "{kind}");
    assert!(page.body.contains("Not scanned: not an image"), "{}", page.body);
}
