//! Sign in with OpenID Connect against a provider served on 127.0.0.1 by the test: discovery,
//! keys, an authorization endpoint that signs its one user in at once, and a token endpoint
//! that checks the client, the code, the redirect URL and PKCE like a real provider.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use data_encoding::{BASE64, BASE64URL_NOPAD};
use portus_auth::external_sign_in::SignInRules;
use portus_auth::oidc::{Flavour, OidcConfig, OidcProvider, UsernameClaim};
use portus_core::model::ExternalIdentity;
use portus_core::model::Role;
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
    /// Claims added to (or replacing those of) the next ID tokens: groups, `hd`, `email`.
    extra: Mutex<serde_json::Map<String, serde_json::Value>>,
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
    let mut claims = claims;
    for (name, value) in p.extra.lock().unwrap().iter() {
        claims[name] = value.clone();
    }
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
        extra: Mutex::new(serde_json::Map::new()),
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
    let rules = SignInRules {
        create_users,
        ..SignInRules::default()
    };
    login_with(config(issuer, rules), store)
}

fn config(issuer: &str, rules: SignInRules) -> OidcConfig {
    OidcConfig {
        flavour: Flavour::Generic,
        issuer: issuer.to_owned(),
        client_id: CLIENT_ID.into(),
        client_secret: Some(CLIENT_SECRET.into()),
        redirect_url: CALLBACK.into(),
        scopes: vec!["profile".into(), "email".into()],
        username_claim: UsernameClaim::PreferredUsername,
        rules,
        groups_claim: None,
        timeout: Duration::from_secs(5),
    }
}

fn login_with(config: OidcConfig, store: &Arc<InMemoryStore>) -> OidcLogin {
    let store: Arc<dyn PolicyStore> = store.clone();
    OidcLogin {
        name: "TestID".into(),
        provider: Arc::new(OidcProvider::new(config, store).unwrap()),
    }
}

/// Leaves for the provider from `/sign_in/oidc` and comes back: the callback path and the
/// attempt cookie.
async fn round_trip(site: &Site) -> (String, String) {
    round_trip_from(site, "/sign_in/oidc").await
}

/// [`round_trip`], started at `start` (another provider's page).
async fn round_trip_from(site: &Site, start: &str) -> (String, String) {
    let begin = site.request(Method::GET, start, &[], None).await;
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

fn set_claims(provider: &Provider, claims: serde_json::Value) {
    *provider.extra.lock().unwrap() = claims.as_object().unwrap().clone();
}

async fn make_team(site: &Site, name: &str) -> portus_core::model::Team {
    let owner = site.store.user_by_name("alice").await.unwrap().unwrap();
    portus_core::ops::teams::create(site.store.as_ref(), None, name, &owner, None)
        .await
        .unwrap()
}

/// The groups claim maps to teams and administrator rights at every sign-in: added when
/// listed, removed when no longer listed; teams no mapping names are left alone.
#[tokio::test]
async fn the_groups_claim_adds_and_removes_memberships_and_administrator_rights() {
    let provider = provider().await;
    let issuer = provider.issuer.clone();
    let rules = SignInRules {
        teams: vec![
            portus_auth::external_sign_in::GroupTeam {
                group: "developers".into(),
                team: "devs".into(),
                role: Role::Contributor,
            },
            portus_auth::external_sign_in::GroupTeam {
                group: "leads".into(),
                team: "devs".into(),
                role: Role::Owner,
            },
        ],
        admin_group: Some("registry-admins".into()),
        ..SignInRules::default()
    };
    let site = site_with(|web, store| {
        let mut config = config(&issuer, rules);
        config.groups_claim = Some("groups".into());
        web.oidc = Some(login_with(config, store));
    })
    .await;
    let devs = make_team(&site, "devs").await;
    let qa = make_team(&site, "qa").await;

    set_claims(&provider, json!({"groups": ["developers", "registry-admins"]}));
    assert_eq!(
        who(&site, &sign_in_as(&site, &provider, "carol", None).await).await,
        "carol"
    );
    let carol = site.store.user_by_name("carol").await.unwrap().unwrap();
    assert!(carol.admin, "admin_group grants administrator rights");
    assert_eq!(
        site.store.role_in(devs.id, carol.id).await.unwrap(),
        Some(Role::Owner),
        "administrators own"
    );
    portus_core::ops::teams::add_member(site.store.as_ref(), None, &qa, &carol, Role::Viewer)
        .await
        .unwrap();

    set_claims(&provider, json!({"groups": ["developers"]}));
    sign_in_as(&site, &provider, "carol", None).await;
    let carol = site.store.user_by_name("carol").await.unwrap().unwrap();
    assert!(!carol.admin, "no longer in admin_group: rights taken back");

    set_claims(&provider, json!({"groups": ["leads", "unmapped"]}));
    sign_in_as(&site, &provider, "carol", None).await;
    assert_eq!(site.store.role_in(devs.id, carol.id).await.unwrap(), Some(Role::Owner));

    set_claims(&provider, json!({"groups": []}));
    sign_in_as(&site, &provider, "carol", None).await;
    assert_eq!(
        site.store.role_in(devs.id, carol.id).await.unwrap(),
        None,
        "removed with the group"
    );
    assert_eq!(
        site.store.role_in(qa.id, carol.id).await.unwrap(),
        Some(Role::Owner),
        "a team no mapping names keeps its member (owner since carol was an administrator then)"
    );

    set_claims(&provider, json!({"groups": "developers"}));
    let malformed = sign_in_as(&site, &provider, "carol", None).await;
    assert_eq!(
        malformed.status,
        StatusCode::UNAUTHORIZED,
        "a groups claim that is not a list"
    );
}

#[tokio::test]
async fn allowed_domains_and_required_groups_refuse_everyone_else() {
    let provider = provider().await;
    let issuer = provider.issuer.clone();
    let rules = SignInRules {
        allowed_domains: vec!["example.org".into()],
        required_groups: vec!["staff".into()],
        ..SignInRules::default()
    };
    let site = site_with(|web, store| {
        let mut config = config(&issuer, rules);
        config.groups_claim = Some("groups".into());
        web.oidc = Some(login_with(config, store));
    })
    .await;
    set_claims(&provider, json!({"groups": ["staff"]}));
    // The stand-in's addresses are at example.com.
    assert_eq!(
        sign_in_as(&site, &provider, "carol", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    set_claims(
        &provider,
        json!({"groups": ["staff"], "email": "carol@EXAMPLE.org", "email_verified": false}),
    );
    assert_eq!(
        sign_in_as(&site, &provider, "carol", None).await.status,
        StatusCode::UNAUTHORIZED,
        "an unverified address proves no domain"
    );
    set_claims(&provider, json!({"groups": ["visitors"], "email": "carol@EXAMPLE.org"}));
    assert_eq!(
        sign_in_as(&site, &provider, "carol", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        site.store.user_by_name("carol").await.unwrap().is_none(),
        "refused before any account is made"
    );
    set_claims(&provider, json!({"groups": ["staff"], "email": "carol@EXAMPLE.org"}));
    assert_eq!(
        who(&site, &sign_in_as(&site, &provider, "carol", None).await).await,
        "carol"
    );
}

/// Google: identities of kind `google`, the hosted-domain rule on the `hd` claim only, and an
/// address trusted only where Google is authoritative for it.
#[tokio::test]
async fn google_accounts_sign_in_only_from_their_hosted_domain() {
    let provider = provider().await;
    let issuer = provider.issuer.clone();
    let site = site_with(|web, store| {
        let mut config = config(&issuer, SignInRules::default());
        config.flavour = Flavour::Google {
            hosted_domains: vec!["example.org".into()],
        };
        config.username_claim = UsernameClaim::EmailLocalPart;
        web.oidc = Some(login_with(config, store));
    })
    .await;
    // A consumer account with an address at the Workspace domain has no `hd`.
    set_claims(&provider, json!({"email": "carol@example.org"}));
    assert_eq!(
        sign_in_as(&site, &provider, "carol", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    set_claims(&provider, json!({"email": "carol@example.net", "hd": "example.net"}));
    assert_eq!(
        sign_in_as(&site, &provider, "carol", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    set_claims(&provider, json!({"email": "carol@example.org", "hd": "example.org"}));
    assert_eq!(
        who(&site, &sign_in_as(&site, &provider, "carol", None).await).await,
        "carol"
    );
    let carol = site.store.user_by_name("carol").await.unwrap().unwrap();
    assert_eq!(carol.email.as_deref(), Some("carol@example.org"));
    assert_eq!(
        site.store.identities_of(carol.id).await.unwrap(),
        vec![ExternalIdentity::new("google", issuer.as_str(), "id-carol")]
    );
}

#[tokio::test]
async fn google_addresses_are_trusted_only_for_gmail_and_workspace_accounts() {
    let provider = provider().await;
    let issuer = provider.issuer.clone();
    let site = site_with(|web, store| {
        let mut config = config(&issuer, SignInRules::default());
        config.flavour = Flavour::Google { hosted_domains: vec![] };
        web.oidc = Some(login_with(config, store));
    })
    .await;
    set_claims(&provider, json!({"email": "dave@example.org"}));
    assert_eq!(
        who(&site, &sign_in_as(&site, &provider, "dave", None).await).await,
        "dave"
    );
    let dave = site.store.user_by_name("dave").await.unwrap().unwrap();
    assert_eq!(dave.email, None, "a consumer account's non-Gmail address may be stale");
    set_claims(&provider, json!({"email": "erin@gmail.com"}));
    sign_in_as(&site, &provider, "erin", None).await;
    let erin = site.store.user_by_name("erin").await.unwrap().unwrap();
    assert_eq!(erin.email.as_deref(), Some("erin@gmail.com"));
}

/// `[web.google]` has its own pages next to `[web.oidc]`, and an attempt started at one
/// provider is refused at the other's callback (mix-up).
#[tokio::test]
async fn google_has_its_own_pages_and_attempts_do_not_cross_providers() {
    let provider = provider().await;
    let issuer = provider.issuer.clone();
    let site = site_with(|web, store| {
        web.oidc = Some(login(&issuer, store));
        let mut google = config(&issuer, SignInRules::default());
        google.flavour = Flavour::Google { hosted_domains: vec![] };
        google.redirect_url = "http://portus.test/sign_in/google/callback".into();
        let mut google = login_with(google, store);
        google.name = "Google".into();
        web.google = Some(google);
    })
    .await;
    let form = site.request(Method::GET, "/sign_in", &[], None).await;
    assert!(form.body.contains("href=\"/sign_in/google\"") && form.body.contains("href=\"/sign_in/oidc\""));

    let (callback, attempt) = round_trip_from(&site, "/sign_in/google").await;
    assert!(callback.starts_with("/sign_in/google/callback?"), "{callback}");
    let oidc_callback = callback.replace("/sign_in/google/", "/sign_in/oidc/");
    let crossed = finish(&site, &oidc_callback, &attempt).await;
    assert_eq!(
        crossed.status,
        StatusCode::BAD_REQUEST,
        "a Google attempt at the other callback"
    );
    assert_eq!(
        finish(&site, &callback, &attempt).await.status,
        StatusCode::BAD_REQUEST,
        "used up"
    );

    let (callback, attempt) = round_trip_from(&site, "/sign_in/google").await;
    assert_eq!(who(&site, &finish(&site, &callback, &attempt).await).await, "carol");
    let carol = site.store.user_by_name("carol").await.unwrap().unwrap();
    assert_eq!(
        site.store.identities_of(carol.id).await.unwrap(),
        vec![ExternalIdentity::new("google", issuer.as_str(), "id-carol")]
    );
}

#[tokio::test]
async fn without_google_configured_its_pages_do_not_exist() {
    let site = site().await;
    for path in ["/sign_in/google", "/sign_in/google/callback?code=c&state=s"] {
        assert_eq!(
            site.request(Method::GET, path, &[], None).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

/// An address is never a key: a first sign-in whose verified address belongs to a local
/// account gets a new account without it (the address stays its owner's).
#[tokio::test]
async fn a_verified_address_of_another_account_is_left_to_its_owner() {
    let provider = provider().await;
    let issuer = provider.issuer.clone();
    let site = site_with(|web, store| web.oidc = Some(login(&issuer, store))).await;
    let alice = site.store.user_by_name("alice").await.unwrap().unwrap();
    site.store
        .set_user_email(alice.id, Some("carol@example.com".into()))
        .await
        .unwrap();
    assert_eq!(
        who(&site, &sign_in_as(&site, &provider, "carol", None).await).await,
        "carol"
    );
    let carol = site.store.user_by_name("carol").await.unwrap().unwrap();
    assert_eq!(carol.email, None);
    let alice = site.store.require_user_by_id(alice.id).await.unwrap();
    assert_eq!(alice.email.as_deref(), Some("carol@example.com"));
    assert!(site.store.identities_of(alice.id).await.unwrap().is_empty());
}
