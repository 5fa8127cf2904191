//! Sign in with GitHub, GitLab and Bitbucket against the stand-ins of [`super::oauth_standins`]:
//! users created and linked by the provider's id, found again by it whatever their login
//! becomes, never handed an existing account by name; Portus' restrictions refused; unverified
//! addresses unused; forged, replayed, mixed-up and refused answers refused; a provider that
//! is down is 503.

use portus_auth::oauth::OAuthProvider;
use portus_auth::oauth::bitbucket::BitbucketSettings;
use portus_auth::oauth::github::GithubSettings;
use portus_auth::oauth::gitlab::GitlabSettings;
use portus_core::model::ExternalIdentity;

use serde_json::{Value, json};

use super::oauth_standins::{CLIENT_ID, CLIENT_SECRET, World, serve};
use super::*;
use crate::web::OAuthLogin;

fn callback(kind: &str) -> String {
    format!("http://portus.test/sign_in/{kind}/callback")
}

/// A provider section: the registration, `fields`, and `extra` (a JSON object) over them.
fn section<T: serde::de::DeserializeOwned>(mut fields: Value, extra: Value) -> T {
    fields["client_id"] = json!(CLIENT_ID);
    fields["client_secret"] = json!(CLIENT_SECRET);
    fields["timeout_secs"] = json!(5);
    for (key, value) in extra.as_object().unwrap() {
        fields[key] = value.clone();
    }
    serde_json::from_value(fields).unwrap()
}

fn github(base: &str, extra: Value) -> GithubSettings {
    section(json!({"base_url": base, "name": "Acme GitHub"}), extra)
}

/// A self-managed GitLab under a relative root, written with a trailing slash.
fn gitlab(base: &str, extra: Value) -> GitlabSettings {
    section(json!({"base_url": format!("{base}/gitlab/")}), extra)
}

fn bitbucket(base: &str, extra: Value) -> BitbucketSettings {
    section(json!({"site_url": base, "api_url": base}), extra)
}

/// A site offering the providers `logins` makes (from the site's store).
async fn site_offering(logins: impl FnOnce(Arc<dyn PolicyStore>) -> Vec<(String, OAuthProvider)>) -> Site {
    site_with(|web, store| {
        let store: Arc<dyn PolicyStore> = store.clone();
        web.oauth = logins(store)
            .into_iter()
            .map(|(name, provider)| OAuthLogin {
                name,
                provider: Arc::new(provider),
            })
            .collect();
    })
    .await
}

async fn github_site(base: &str, extra: Value) -> Site {
    let settings = github(base, extra);
    site_offering(|store| {
        vec![(
            settings.name.clone(),
            settings.provider(callback("github"), store).unwrap(),
        )]
    })
    .await
}

/// Leaves for the provider `kind` and comes back: the callback path and the attempt cookie.
async fn round_trip(site: &Site, kind: &str) -> (String, String) {
    let begin = site.request(Method::GET, &format!("/sign_in/{kind}"), &[], None).await;
    assert_eq!(begin.status, StatusCode::SEE_OTHER, "{}", begin.body);
    let attempt = format!("portus_oauth={}", begin.cookie("portus_oauth").unwrap());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let at_provider = http.get(begin.location.unwrap()).send().await.unwrap();
    assert_eq!(at_provider.status(), StatusCode::SEE_OTHER);
    let back = at_provider.headers()[header::LOCATION].to_str().unwrap().to_owned();
    let path = back.strip_prefix("http://portus.test").expect("back to our callback");
    (path.to_owned(), attempt)
}

async fn sign_in_with(site: &Site, kind: &str) -> Page {
    let (callback, attempt) = round_trip(site, kind).await;
    site.request(Method::GET, &callback, &[&attempt], None).await
}

/// The name of the user `page` signed in, from the dashboard's header.
async fn who(site: &Site, page: &Page) -> String {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let session = format!("portus_session={}", page.cookie("portus_session").expect("signed in"));
    let body = site.get("/", &session).await.body;
    let marker = "<span class=\"who\">";
    let start = body.find(marker).expect("signed in") + marker.len();
    body[start..].split('<').next().unwrap().to_owned()
}

fn assert_refused(page: &Page, what: &str) {
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{what}: {}", page.body);
    assert!(page.cookie("portus_session").is_none(), "{what}");
}

async fn identities(site: &Site, name: &str) -> Vec<ExternalIdentity> {
    let user = site.store.user_by_name(name).await.unwrap().expect("the user exists");
    site.store.identities_of(user.id).await.unwrap()
}

#[tokio::test]
async fn github_users_are_linked_by_id_never_by_login_and_need_the_organization_and_team() {
    let mut carol = World::new(1001, "carol");
    carol.orgs.insert("Acme".into(), "active".into());
    carol.teams.insert("acme/ops".into(), "active".into());
    let standins = serve(carol.clone()).await;
    let base = standins.base.clone();
    let site = github_site(&base, json!({"organization": "acme", "team": "ops"})).await;
    let form = site.request(Method::GET, "/sign_in", &[], None).await;
    assert!(form.body.contains("Sign in with Acme GitHub"), "{}", form.body);

    // First sign-in: a new user named by the login, with the primary verified address, linked
    // to (github, base URL, id).
    let first = sign_in_with(&site, "github").await;
    assert_eq!(who(&site, &first).await, "carol");
    let created = site.store.user_by_name("carol").await.unwrap().unwrap();
    assert!(created.password_hash.is_none() && !created.admin);
    assert_eq!(created.email.as_deref(), Some("carol@example.com"));
    assert_eq!(
        identities(&site, "carol").await,
        vec![ExternalIdentity::new("github", base.as_str(), "1001")]
    );

    // She renames herself to "admin" at GitHub: still carol here, not the administrator.
    standins.world().login = "admin".into();
    let renamed = sign_in_with(&site, "github").await;
    assert_eq!(who(&site, &renamed).await, "carol", "the id, not the login, decides");

    // Someone else whose login is "admin" gets a new account, admin_01, not the administrator.
    let mut mallory = carol.clone();
    (mallory.id, mallory.login) = (1002, "admin".into());
    mallory.emails = vec![("admin@example.com".into(), true, true)];
    standins.set(mallory.clone());
    let impostor = sign_in_with(&site, "github").await;
    assert_eq!(who(&site, &impostor).await, "admin_01");
    assert!(!site.store.user_by_name("admin_01").await.unwrap().unwrap().admin);
    assert_eq!(
        identities(&site, "admin").await,
        vec![],
        "the administrator is not linked"
    );

    // Restrictions, checked at every sign-in: a pending or missing organization membership, a
    // missing or pending team membership.
    let refusals = [
        ("pending organization", Some("pending"), Some("active")),
        ("no organization", None, Some("active")),
        ("no team", Some("active"), None),
        ("pending team", Some("active"), Some("pending")),
    ];
    for (what, org, team) in refusals {
        let mut world = mallory.clone();
        world.orgs.clear();
        world.teams.clear();
        if let Some(state) = org {
            world.orgs.insert("acme".into(), state.into());
        }
        if let Some(state) = team {
            world.teams.insert("acme/ops".into(), state.into());
        }
        standins.set(world);
        assert_refused(&sign_in_with(&site, "github").await, what);
    }
    assert_eq!(
        site.store.list_users().await.unwrap().len(),
        5,
        "admin, alice, bob, carol, admin_01"
    );
}

#[tokio::test]
async fn github_unverified_or_secondary_addresses_are_not_used() {
    let mut dave = World::new(2001, "dave");
    dave.emails = vec![
        ("dave@evil.example".into(), true, false),
        ("dave@example.com".into(), false, true),
    ];
    let standins = serve(dave).await;
    let site = github_site(&standins.base, json!({})).await;
    assert_eq!(who(&site, &sign_in_with(&site, "github").await).await, "dave");
    let dave = site.store.user_by_name("dave").await.unwrap().unwrap();
    assert_eq!(
        dave.email, None,
        "neither the unverified primary nor a secondary address"
    );

    // allowed_domains is judged on the verified primary address only: without one, refused.
    let restricted = github_site(&standins.base, json!({"allowed_domains": ["example.com"]})).await;
    assert_refused(
        &sign_in_with(&restricted, "github").await,
        "no verified primary address",
    );
    standins.world().emails = vec![("dave@example.com".into(), true, true)];
    assert_eq!(
        who(&restricted, &sign_in_with(&restricted, "github").await).await,
        "dave"
    );
    standins.world().emails = vec![("dave@other.example".into(), true, true)];
    assert_refused(&sign_in_with(&restricted, "github").await, "another domain");
}

#[tokio::test]
async fn forged_replayed_mixed_up_and_refused_answers_are_refused() {
    let standins = serve(World::new(3001, "erin")).await;
    let base = standins.base.clone();
    let (gh, gl, bb) = (
        github(&base, json!({})),
        gitlab(&base, json!({})),
        bitbucket(&base, json!({})),
    );
    let site = site_offering(|store| {
        vec![
            ("GitHub".into(), gh.provider(callback("github"), store.clone()).unwrap()),
            ("GitLab".into(), gl.provider(callback("gitlab"), store.clone()).unwrap()),
            ("Bitbucket".into(), bb.provider(callback("bitbucket"), store).unwrap()),
        ]
    })
    .await;

    // A forged state (the answer of another attempt): refused, and the attempt is used up.
    let (callback_path, attempt) = round_trip(&site, "github").await;
    let forged = callback_path.replace("state=", "state=x");
    assert_refused(
        &site.request(Method::GET, &forged, &[&attempt], None).await,
        "forged state",
    );
    let replay = site.request(Method::GET, &callback_path, &[&attempt], None).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "used up by the refusal");

    // A good answer works once; the same answer again is refused.
    let (callback_path, attempt) = round_trip(&site, "github").await;
    let done = site.request(Method::GET, &callback_path, &[&attempt], None).await;
    assert_eq!(who(&site, &done).await, "erin");
    let replayed = site.request(Method::GET, &callback_path, &[&attempt], None).await;
    assert_eq!(replayed.status, StatusCode::BAD_REQUEST, "{}", replayed.body);
    assert!(replayed.cookie("portus_session").is_none());

    // Without the browser's attempt cookie (login CSRF): refused.
    let (callback_path, _) = round_trip(&site, "github").await;
    let no_cookie = site.request(Method::GET, &callback_path, &[], None).await;
    assert_eq!(no_cookie.status, StatusCode::BAD_REQUEST);

    // A GitHub attempt's answer brought to GitLab's callback (mix-up): refused.
    let (callback_path, attempt) = round_trip(&site, "github").await;
    let mixed = callback_path.replace("/sign_in/github/", "/sign_in/gitlab/");
    assert_refused(&site.request(Method::GET, &mixed, &[&attempt], None).await, "mix-up");
    // A valid Bitbucket code (no PKCE there) with a GitHub attempt's state and cookie, at
    // Bitbucket's callback: the attempt belongs to GitHub, refused.
    let (github_path, github_attempt) = round_trip(&site, "github").await;
    let (bitbucket_path, _) = round_trip(&site, "bitbucket").await;
    let query = |path: &str, key: &str| {
        let start = path.find(&format!("{key}=")).unwrap() + key.len() + 1;
        path[start..].split('&').next().unwrap().to_owned()
    };
    let injected = format!(
        "/sign_in/bitbucket/callback?code={}&state={}",
        query(&bitbucket_path, "code"),
        query(&github_path, "state")
    );
    let page = site.request(Method::GET, &injected, &[&github_attempt], None).await;
    assert_refused(&page, "code of another provider");

    // The provider reports an error, or refuses the code (GitHub with 200, GitLab with 400).
    let (_, attempt) = round_trip(&site, "github").await;
    let denied = site
        .request(
            Method::GET,
            "/sign_in/github/callback?error=access_denied&state=s",
            &[&attempt],
            None,
        )
        .await;
    assert_refused(&denied, "access_denied");
    standins.world().refuse_codes = true;
    for kind in ["github", "gitlab"] {
        let page = sign_in_with(&site, kind).await;
        assert_refused(&page, kind);
        assert!(page.body.contains(&format!(
            "Sign-in with {} failed.",
            if kind == "github" { "GitHub" } else { "GitLab" }
        )));
    }

    // Providers not configured have no pages.
    for path in [
        "/sign_in/oidc",
        "/sign_in/google",
        "/sign_in/google/callback?code=c&state=s",
    ] {
        assert_eq!(
            site.request(Method::GET, path, &[], None).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn gitlab_self_managed_users_need_the_group_and_a_verified_address() {
    let mut frank = World::new(4001, "frank");
    frank.groups = vec!["acme/ops".into(), "acme".into()];
    let standins = serve(frank.clone()).await;
    let base = standins.base.clone();
    let settings = gitlab(&base, json!({"group": "acme/ops"}));
    let site =
        site_offering(|store| vec![("GitLab".into(), settings.provider(callback("gitlab"), store).unwrap())]).await;

    assert_eq!(who(&site, &sign_in_with(&site, "gitlab").await).await, "frank");
    let identity = ExternalIdentity::new("gitlab", format!("{base}/gitlab"), "4001");
    assert_eq!(identities(&site, "frank").await, vec![identity], "per instance URL");
    assert_eq!(
        site.store
            .user_by_name("frank")
            .await
            .unwrap()
            .unwrap()
            .email
            .as_deref(),
        Some("frank@example.com")
    );

    // Out of the group (still in its parent): refused.
    standins.world().groups = vec!["acme".into()];
    assert_refused(&sign_in_with(&site, "gitlab").await, "not in acme/ops");

    // Someone named "alice" at GitLab with an unconfirmed address: a new account, no e-mail.
    let mut grace = frank.clone();
    (grace.id, grace.login) = (4002, "alice".into());
    grace.emails = vec![("alice@example.com".into(), true, false)];
    standins.set(grace);
    assert_eq!(who(&site, &sign_in_with(&site, "gitlab").await).await, "alice_01");
    assert_eq!(site.store.user_by_name("alice_01").await.unwrap().unwrap().email, None);
}

#[tokio::test]
async fn bitbucket_users_need_the_workspace_and_a_confirmed_primary_address() {
    let mut heidi = World::new(5001, "Heidi Klum");
    heidi.groups = vec!["acme".into()];
    heidi.emails = vec![
        ("heidi@old.example".into(), false, true),
        ("heidi@example.com".into(), true, true),
    ];
    let standins = serve(heidi.clone()).await;
    let base = standins.base.clone();
    let settings = bitbucket(&base, json!({"workspace": "acme", "create_users": true}));
    let site = site_offering(|store| {
        vec![(
            "Bitbucket".into(),
            settings.provider(callback("bitbucket"), store).unwrap(),
        )]
    })
    .await;

    assert_eq!(who(&site, &sign_in_with(&site, "bitbucket").await).await, "Heidi_Klum");
    let user = site.store.user_by_name("Heidi_Klum").await.unwrap().unwrap();
    assert_eq!(
        user.email.as_deref(),
        Some("heidi@example.com"),
        "the primary confirmed one, on page 2"
    );
    let identity = ExternalIdentity::new("bitbucket", base.as_str(), heidi.uuid());
    assert_eq!(identities(&site, "Heidi_Klum").await, vec![identity]);

    // Renamed at Bitbucket: the same user.
    standins.world().login = "bob".into();
    assert_eq!(who(&site, &sign_in_with(&site, "bitbucket").await).await, "Heidi_Klum");

    // Out of the workspace: refused.
    standins.world().groups.clear();
    assert_refused(&sign_in_with(&site, "bitbucket").await, "not in acme");

    // An unconfirmed primary address is not used.
    let mut ivan = heidi.clone();
    (ivan.id, ivan.login) = (5002, "ivan".into());
    ivan.emails = vec![("ivan@example.com".into(), true, false)];
    standins.set(ivan);
    assert_eq!(who(&site, &sign_in_with(&site, "bitbucket").await).await, "ivan");
    assert_eq!(site.store.user_by_name("ivan").await.unwrap().unwrap().email, None);
}

#[tokio::test]
async fn without_create_users_an_unknown_account_is_refused_until_linked() {
    let standins = serve(World::new(6001, "alice")).await;
    let site = github_site(&standins.base, json!({"create_users": false})).await;
    let page = sign_in_with(&site, "github").await;
    assert_refused(&page, "not linked");
    assert!(
        page.body
            .contains("Your Acme GitHub account is not linked to an account here.")
    );
    assert_eq!(site.store.list_users().await.unwrap().len(), 3);

    // An account Portus created at a GitHub sign-up (imported: provider github, uid, no URL).
    let bob = site.store.user_by_name("bob").await.unwrap().unwrap();
    site.store
        .link_identity(bob.id, &ExternalIdentity::new("github", "", "6001"))
        .await
        .unwrap();
    assert_eq!(who(&site, &sign_in_with(&site, "github").await).await, "bob");
    let linked = ExternalIdentity::new("github", standins.base.as_str(), "6001");
    assert_eq!(
        identities(&site, "bob").await,
        vec![linked],
        "linked to the base URL in its place"
    );
}

#[tokio::test]
async fn a_provider_that_is_down_is_503_not_a_crash() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let site = github_site(&base, json!({})).await;
    let begin = site.request(Method::GET, "/sign_in/github", &[], None).await;
    assert_eq!(begin.status, StatusCode::SEE_OTHER);
    let attempt = format!("portus_oauth={}", begin.cookie("portus_oauth").unwrap());
    let location = begin.location.unwrap();
    let state = location.split("state=").nth(1).unwrap().split('&').next().unwrap();
    let page = site
        .request(
            Method::GET,
            &format!("/sign_in/github/callback?code=c&state={state}"),
            &[&attempt],
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE, "{}", page.body);
    assert!(page.cookie("portus_session").is_none());
}

/// The profile up to the local user: the identity, the verified address and the groups each
/// provider lists (all pages followed), for the team mappings.
#[tokio::test]
async fn profiles_carry_the_identity_and_every_page_of_the_groups() {
    let mut judy = World::new(7001, "judy");
    judy.teams.insert("acme/ops".into(), "active".into());
    judy.teams.insert("acme/dev".into(), "active".into());
    judy.teams.insert("other/qa".into(), "active".into());
    judy.teams.insert("acme/pending".into(), "pending".into());
    judy.groups = vec!["acme".into(), "acme/ops".into(), "beta".into()];
    let standins = serve(judy).await;
    let base = standins.base.clone();
    let store: Arc<dyn PolicyStore> = Arc::new(InMemoryStore::new());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let providers = [
        github(&base, json!({}))
            .provider(callback("github"), store.clone())
            .unwrap(),
        gitlab(&base, json!({}))
            .provider(callback("gitlab"), store.clone())
            .unwrap(),
        bitbucket(&base, json!({}))
            .provider(callback("bitbucket"), store)
            .unwrap(),
    ];
    let mut profiles = Vec::new();
    for provider in &providers {
        let (url, pending) = provider.begin();
        let back = http.get(url.as_str()).send().await.unwrap();
        let back = url::Url::parse(back.headers()[header::LOCATION].to_str().unwrap()).unwrap();
        let query: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
        profiles.push(
            provider
                .profile(pending, &query["state"], &query["code"])
                .await
                .unwrap(),
        );
    }
    let [github, gitlab, bitbucket] = <[_; 3]>::try_from(profiles).unwrap();
    assert_eq!(github.identity, ExternalIdentity::new("github", base.as_str(), "7001"));
    assert_eq!(github.imported_as, Some(ExternalIdentity::new("github", "", "7001")));
    assert_eq!(github.preferred_username.as_deref(), Some("judy"));
    assert_eq!(github.verified_email.as_deref(), Some("judy@example.com"));
    let teams = ["acme/dev", "acme/ops", "other/qa"].map(String::from).to_vec();
    assert_eq!(github.groups, Some(teams), "three pages of teams, not the pending one");
    assert_eq!(
        gitlab.identity,
        ExternalIdentity::new("gitlab", format!("{base}/gitlab"), "7001")
    );
    let groups = ["acme", "acme/ops", "beta"].map(String::from).to_vec();
    assert_eq!(gitlab.groups, Some(groups.clone()));
    assert_eq!(bitbucket.identity.subject, "{00000000-0000-4000-8000-000000007001}");
    assert_eq!(bitbucket.groups, Some(groups), "three pages of workspaces");
}

/// The groups each provider lists feed the section's rules at every sign-in: GitHub teams
/// (`org/team-slug`) grant team memberships and administrator rights, and take them back once
/// GitHub no longer lists them; `required_groups` refuses people in none of them.
#[tokio::test]
async fn github_teams_grant_and_withdraw_memberships_and_administrator_rights() {
    use portus_core::model::Role;

    let mut kim = World::new(8001, "kim");
    kim.teams.insert("acme/ops".into(), "active".into());
    let standins = serve(kim).await;
    let rules = json!({
        "required_groups": ["acme/ops", "acme/dev"],
        "teams": [{"group": "acme/ops", "team": "devs", "role": "contributor"}],
        "admin_group": "acme/registry-admins",
    });
    let site = github_site(&standins.base, rules).await;
    let admin = site.store.user_by_name("admin").await.unwrap().unwrap();
    let devs = site.store.create_team("devs", admin.id, None).await.unwrap();
    let kim = async || site.store.user_by_name("kim").await.unwrap().unwrap();

    assert_eq!(who(&site, &sign_in_with(&site, "github").await).await, "kim");
    assert!(!kim().await.admin);
    assert_eq!(
        site.store.role_in(devs.id, kim().await.id).await.unwrap(),
        Some(Role::Contributor)
    );

    // Made a registry administrator at GitHub: an administrator here.
    standins
        .world()
        .teams
        .insert("acme/registry-admins".into(), "active".into());
    assert_eq!(who(&site, &sign_in_with(&site, "github").await).await, "kim");
    assert!(kim().await.admin, "admin_group");

    // Moved from ops to dev at GitHub, out of the administrators: both taken back.
    standins.world().teams = [("acme/dev".to_owned(), "active".to_owned())].into();
    assert_eq!(who(&site, &sign_in_with(&site, "github").await).await, "kim");
    assert!(!kim().await.admin, "no longer in admin_group");
    assert_eq!(site.store.role_in(devs.id, kim().await.id).await.unwrap(), None);

    // In none of required_groups: refused.
    standins.world().teams.clear();
    assert_refused(&sign_in_with(&site, "github").await, "no required group");
}

/// Rate-limited by the provider in the middle of the checks: no sign-in (503, try later), not
/// a pass.
#[tokio::test]
async fn a_rate_limited_provider_is_503_for_every_provider() {
    let mut lee = World::new(9001, "lee");
    lee.orgs.insert("acme".into(), "active".into());
    lee.groups = vec!["acme".into()];
    let standins = serve(lee).await;
    let base = standins.base.clone();
    let (gh, gl, bb) = (
        github(&base, json!({"organization": "acme"})),
        gitlab(&base, json!({"group": "acme"})),
        bitbucket(&base, json!({"workspace": "acme"})),
    );
    let site = site_offering(|store| {
        vec![
            ("GitHub".into(), gh.provider(callback("github"), store.clone()).unwrap()),
            ("GitLab".into(), gl.provider(callback("gitlab"), store.clone()).unwrap()),
            ("Bitbucket".into(), bb.provider(callback("bitbucket"), store).unwrap()),
        ]
    })
    .await;
    standins.world().throttled = true;
    for kind in ["github", "gitlab", "bitbucket"] {
        let page = sign_in_with(&site, kind).await;
        assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE, "{kind}: {}", page.body);
        assert!(page.cookie("portus_session").is_none(), "{kind}");
    }
    standins.world().throttled = false;
    for kind in ["github", "gitlab", "bitbucket"] {
        let page = sign_in_with(&site, kind).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{kind} again: {}", page.body);
    }
}
