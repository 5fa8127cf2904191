//! Stand-ins for GitHub (Enterprise Server shape: `{base}/login/oauth/*`, API at
//! `{base}/api/v3`), a self-managed GitLab under a relative root (`{base}/gitlab`) and
//! Bitbucket Cloud (site and API on `{base}`), served on 127.0.0.1 by the test with the real
//! endpoint paths and answer shapes of `shared/reference/oauth-providers.md`: GitHub's token
//! errors come with 200 and its answer is form-encoded unless JSON is asked for; GitLab's
//! are 400 Doorkeeper errors; Bitbucket's client authenticates with HTTP Basic and gets
//! `scopes`. The authorization endpoints sign the account of [`World`] in at once; the APIs
//! answer for it, and only to the access token they gave out, in the `Authorization` header.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest::{SHA256, digest};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use data_encoding::{BASE64, BASE64URL_NOPAD};
use serde_json::{Value, json};

pub(super) const CLIENT_ID: &str = "portus-client";
pub(super) const CLIENT_SECRET: &str = "portus-secret";

/// The account signed in at the providers, and how they answer.
#[derive(Debug, Clone)]
pub(super) struct World {
    /// GitHub and GitLab numeric id; the Bitbucket uuid is `{00000000-…-<id>}`.
    pub(super) id: u64,
    /// Login / username / nickname (people may change it).
    pub(super) login: String,
    /// (address, primary, verified).
    pub(super) emails: Vec<(String, bool, bool)>,
    /// GitHub organization memberships: org → state (`active` / `pending`).
    pub(super) orgs: HashMap<String, String>,
    /// GitHub team memberships: `org/team-slug` → state.
    pub(super) teams: HashMap<String, String>,
    /// GitLab groups (full paths) and Bitbucket workspaces the account is a member of.
    pub(super) groups: Vec<String>,
    /// The token endpoints refuse every code (as for an expired or forged one).
    pub(super) refuse_codes: bool,
    /// The APIs answer 429 with GitHub's rate-limit headers (limit reached).
    pub(super) throttled: bool,
}

impl World {
    pub(super) fn new(id: u64, login: &str) -> Self {
        World {
            id,
            login: login.into(),
            emails: vec![(format!("{login}@example.com"), true, true)],
            orgs: HashMap::new(),
            teams: HashMap::new(),
            groups: Vec::new(),
            refuse_codes: false,
            throttled: false,
        }
    }

    pub(super) fn uuid(&self) -> String {
        format!("{{00000000-0000-4000-8000-{:012}}}", self.id)
    }
}

struct Grant {
    challenge: Option<String>,
    redirect_uri: String,
}

/// The three providers on one local port.
pub(super) struct Standins {
    pub(super) base: String,
    pub(super) world: Mutex<World>,
    grants: Mutex<HashMap<String, Grant>>,
    tokens: Mutex<Vec<String>>,
}

impl Standins {
    pub(super) fn set(&self, world: World) {
        *self.world.lock().unwrap() = world;
    }

    pub(super) fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap()
    }
}

type Q = Query<HashMap<String, String>>;

fn random() -> String {
    crate::web::session::random_token()
}

/// The authorization endpoints: check the request, sign the account in, send the browser back.
async fn authorize(State(s): State<Arc<Standins>>, pkce: bool, Query(q): Q) -> Response {
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["response_type"], "code");
    let challenge = if pkce {
        assert_eq!(q["code_challenge_method"], "S256", "PKCE");
        Some(q["code_challenge"].clone())
    } else {
        assert!(!q.contains_key("code_challenge"), "Bitbucket Cloud has no PKCE");
        None
    };
    let code = random();
    let redirect_uri = q["redirect_uri"].clone();
    s.grants.lock().unwrap().insert(
        code.clone(),
        Grant {
            challenge,
            redirect_uri: redirect_uri.clone(),
        },
    );
    Redirect::to(&format!("{redirect_uri}?code={code}&state={}", q["state"])).into_response()
}

/// The code's grant when the request proves it (verifier, redirect URI); a code works once.
fn redeem(s: &Standins, form: &HashMap<String, String>) -> Option<String> {
    let grant = s.grants.lock().unwrap().remove(form.get("code")?)?;
    if s.world().refuse_codes || form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return None;
    }
    if let Some(challenge) = grant.challenge {
        let verifier = form.get("code_verifier")?;
        if BASE64URL_NOPAD.encode(digest(&SHA256, verifier.as_bytes()).as_ref()) != challenge {
            return None;
        }
    }
    let token = format!("tok-{}", random());
    s.tokens.lock().unwrap().push(token.clone());
    Some(token)
}

fn form_client_ok(form: &HashMap<String, String>) -> bool {
    form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
}

/// `POST /login/oauth/access_token`: errors with HTTP 200; form-encoded without
/// `Accept: application/json`.
async fn github_token(
    State(s): State<Arc<Standins>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let answer = if !form_client_ok(&form) {
        json!({"error": "incorrect_client_credentials", "error_description": "The client_id and/or client_secret passed are incorrect."})
    } else {
        match redeem(&s, &form) {
            Some(token) => {
                json!({"access_token": token, "scope": "read:org,read:user,user:email", "token_type": "bearer"})
            }
            None => {
                json!({"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."})
            }
        }
    };
    let json = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) == Some("application/json");
    if json {
        axum::Json(answer).into_response()
    } else {
        let pairs: Vec<(String, String)> = answer
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        ([(header::CONTENT_TYPE, "application/x-www-form-urlencoded")], body).into_response()
    }
}

/// `POST B/oauth/token` (Doorkeeper): 401 `invalid_client`, 400 for the rest.
async fn gitlab_token(State(s): State<Arc<Standins>>, Form(form): Form<HashMap<String, String>>) -> Response {
    if !form_client_ok(&form) {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client"}))).into_response();
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    match redeem(&s, &form) {
        Some(token) => axum::Json(json!({
            "access_token": token, "token_type": "Bearer", "expires_in": 7200,
            "refresh_token": "r", "scope": "read_user openid email", "created_at": 1,
        }))
        .into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant", "error_description": "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."})),
        )
            .into_response(),
    }
}

/// `POST /site/oauth2/access_token`: the client in HTTP Basic.
async fn bitbucket_token(
    State(s): State<Arc<Standins>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let basic = format!(
        "Basic {}",
        BASE64.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}").as_bytes())
    );
    if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(basic.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client", "error_description": "Invalid OAuth client credentials"})),
        )
            .into_response();
    }
    match redeem(&s, &form) {
        Some(token) => axum::Json(json!({
            "access_token": token, "token_type": "bearer", "expires_in": 7200,
            "refresh_token": "r", "scopes": "account email", "state": "authorization_code",
        }))
        .into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant", "error_description": "The code is invalid"})),
        )
            .into_response(),
    }
}

/// The API caller's token: only from the `Authorization` header, and one we gave out.
fn authorized(s: &Standins, headers: &HeaderMap, query: &HashMap<String, String>) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    !query.contains_key("access_token") && bearer.is_some_and(|t| s.tokens.lock().unwrap().iter().any(|k| k == t))
}

fn status(code: StatusCode, body: Value) -> Response {
    (code, axum::Json(body)).into_response()
}

macro_rules! guard {
    ($s:expr, $headers:expr, $q:expr) => {
        if !authorized(&$s, &$headers, &$q) {
            return status(StatusCode::UNAUTHORIZED, json!({"message": "Bad credentials"}));
        }
        if $s.world().throttled {
            let headers = [("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1900000000"), ("retry-after", "60")];
            return (StatusCode::TOO_MANY_REQUESTS, headers, axum::Json(json!({"message": "API rate limit exceeded"}))).into_response();
        }
    };
}

async fn github_user(State(s): State<Arc<Standins>>, headers: HeaderMap, Query(q): Q) -> Response {
    guard!(s, headers, q);
    let w = s.world().clone();
    axum::Json(json!({"login": w.login, "id": w.id, "email": null, "name": "Some One", "type": "User"})).into_response()
}

async fn github_emails(State(s): State<Arc<Standins>>, headers: HeaderMap, Query(q): Q) -> Response {
    guard!(s, headers, q);
    let emails: Vec<Value> = s
        .world()
        .emails
        .iter()
        .map(|(e, primary, verified)| json!({"email": e, "primary": primary, "verified": verified, "visibility": null}))
        .collect();
    axum::Json(emails).into_response()
}

async fn github_org_membership(
    State(s): State<Arc<Standins>>,
    headers: HeaderMap,
    Path(org): Path<String>,
    Query(q): Q,
) -> Response {
    guard!(s, headers, q);
    let w = s.world().clone();
    // The `{org}` segment is case-insensitive.
    match w.orgs.iter().find(|(o, _)| o.eq_ignore_ascii_case(&org)) {
        Some((o, state)) => axum::Json(json!({
            "state": state, "role": "member",
            "organization": {"login": o, "id": 77}, "user": {"login": w.login, "id": w.id},
        }))
        .into_response(),
        None => status(StatusCode::NOT_FOUND, json!({"message": "Not Found"})),
    }
}

async fn github_team_membership(
    State(s): State<Arc<Standins>>,
    headers: HeaderMap,
    Path((org, team, user)): Path<(String, String, String)>,
    Query(q): Q,
) -> Response {
    guard!(s, headers, q);
    let w = s.world().clone();
    match w.teams.get(&format!("{org}/{team}")) {
        Some(state) if user == w.login => {
            axum::Json(json!({"url": "https://api/teams/1/memberships/u", "role": "member", "state": state}))
                .into_response()
        }
        _ => status(StatusCode::NOT_FOUND, json!({"message": "Not Found"})),
    }
}

/// `GET /user/teams`: one active team per page, `Link` with `rel="next"` until the last.
async fn github_teams(State(s): State<Arc<Standins>>, headers: HeaderMap, Query(q): Q) -> Response {
    guard!(s, headers, q);
    let mut teams: Vec<String> = s
        .world()
        .teams
        .iter()
        .filter(|(_, state)| *state == "active")
        .map(|(t, _)| t.clone())
        .collect();
    teams.sort();
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let items: Vec<Value> = teams
        .iter()
        .skip(page - 1)
        .take(1)
        .map(|t| {
            let (org, slug) = t.split_once('/').unwrap();
            json!({"id": 1, "slug": slug, "name": slug.to_uppercase(), "organization": {"login": org, "id": 77}})
        })
        .collect();
    let url = |n: usize| format!("<{}/api/v3/user/teams?per_page=1&page={n}>", s.base);
    let mut links = vec![format!("{}; rel=\"first\"", url(1))];
    if page < teams.len() {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
        links.push(format!("{}; rel=\"last\"", url(teams.len())));
    }
    ([(header::LINK, links.join(", "))], axum::Json(items)).into_response()
}

async fn gitlab_user(State(s): State<Arc<Standins>>, headers: HeaderMap, Query(q): Q) -> Response {
    guard!(s, headers, q);
    let w = s.world().clone();
    let email = w.emails.iter().find(|e| e.1).map(|e| e.0.clone());
    axum::Json(json!({"id": w.id, "username": w.login, "name": "Some One", "state": "active", "email": email}))
        .into_response()
}

async fn gitlab_userinfo(State(s): State<Arc<Standins>>, headers: HeaderMap, Query(q): Q) -> Response {
    guard!(s, headers, q);
    let w = s.world().clone();
    let primary = w.emails.iter().find(|e| e.1).cloned();
    axum::Json(json!({
        "sub": w.id.to_string(), "nickname": w.login, "preferred_username": w.login,
        "email": primary.as_ref().map(|e| e.0.clone()), "email_verified": primary.is_some_and(|e| e.2),
        "groups": w.groups,
    }))
    .into_response()
}

/// `GET B/api/v4/groups/:id/members/all/:user_id` (`:id` the URL-encoded full path).
async fn gitlab_member(
    State(s): State<Arc<Standins>>,
    headers: HeaderMap,
    Path((group, user)): Path<(String, String)>,
    Query(q): Q,
) -> Response {
    guard!(s, headers, q);
    let w = s.world().clone();
    if w.groups.contains(&group) && user == w.id.to_string() {
        axum::Json(json!({"id": w.id, "username": w.login, "state": "active", "access_level": 30, "expires_at": null}))
            .into_response()
    } else {
        status(StatusCode::NOT_FOUND, json!({"message": "404 Not found"}))
    }
}

async fn bitbucket_user(State(s): State<Arc<Standins>>, headers: HeaderMap, Query(q): Q) -> Response {
    guard!(s, headers, q);
    let w = s.world().clone();
    axum::Json(json!({
        "type": "user", "uuid": w.uuid(), "account_id": format!("5b{}", w.id),
        "nickname": w.login, "display_name": "Some One", "links": {},
    }))
    .into_response()
}

/// `GET /2.0/user/emails`: one address per page, `next` until the last.
async fn bitbucket_emails(State(s): State<Arc<Standins>>, headers: HeaderMap, Query(q): Q) -> Response {
    guard!(s, headers, q);
    let emails = s.world().emails.clone();
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let values: Vec<Value> = emails
        .iter()
        .skip(page - 1)
        .take(1)
        .map(|(e, primary, confirmed)| json!({"type": "email", "email": e, "is_primary": primary, "is_confirmed": confirmed}))
        .collect();
    let mut body = json!({"pagelen": 1, "page": page, "size": emails.len(), "values": values});
    if page < emails.len() {
        body["next"] = json!(format!("{}/2.0/user/emails?page={}", s.base, page + 1));
    }
    axum::Json(body).into_response()
}

/// `GET /2.0/user/workspaces`: one workspace per page, `next` until the last.
async fn bitbucket_workspaces(State(s): State<Arc<Standins>>, headers: HeaderMap, Query(q): Q) -> Response {
    guard!(s, headers, q);
    let workspaces = s.world().groups.clone();
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let values: Vec<Value> = workspaces
        .iter()
        .skip(page - 1)
        .take(1)
        .map(|w| json!({"type": "workspace_access", "workspace": {"type": "workspace", "uuid": format!("{{{w}}}"), "slug": w}}))
        .collect();
    let mut body = json!({"pagelen": 1, "page": page, "values": values});
    if page < workspaces.len() {
        body["next"] = json!(format!("{}/2.0/user/workspaces?page={}", s.base, page + 1));
    }
    axum::Json(body).into_response()
}

async fn bitbucket_permission(
    State(s): State<Arc<Standins>>,
    headers: HeaderMap,
    Path(workspace): Path<String>,
    Query(q): Q,
) -> Response {
    guard!(s, headers, q);
    if s.world().groups.contains(&workspace) {
        axum::Json(json!({
            "type": "workspace_membership", "permission": "member",
            "workspace": {"type": "workspace", "uuid": "{w}", "slug": workspace, "name": workspace},
        }))
        .into_response()
    } else {
        status(
            StatusCode::NOT_FOUND,
            json!({"type": "error", "error": {"message": "No workspace found"}}),
        )
    }
}

/// Serves the three providers; the account is `world`.
pub(super) async fn serve(world: World) -> Arc<Standins> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let standins = Arc::new(Standins {
        base,
        world: Mutex::new(world),
        grants: Mutex::new(HashMap::new()),
        tokens: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        // GitHub Enterprise Server at {base}.
        .route("/login/oauth/authorize", get(|s, q| authorize(s, true, q)))
        .route("/login/oauth/access_token", post(github_token))
        .route("/api/v3/user", get(github_user))
        .route("/api/v3/user/emails", get(github_emails))
        .route("/api/v3/user/teams", get(github_teams))
        .route("/api/v3/user/memberships/orgs/{org}", get(github_org_membership))
        .route(
            "/api/v3/orgs/{org}/teams/{team}/memberships/{user}",
            get(github_team_membership),
        )
        // GitLab at {base}/gitlab.
        .route("/gitlab/oauth/authorize", get(|s, q| authorize(s, true, q)))
        .route("/gitlab/oauth/token", post(gitlab_token))
        .route("/gitlab/oauth/userinfo", get(gitlab_userinfo))
        .route("/gitlab/api/v4/user", get(gitlab_user))
        .route("/gitlab/api/v4/groups/{group}/members/all/{user}", get(gitlab_member))
        // Bitbucket Cloud: site and API at {base}.
        .route("/site/oauth2/authorize", get(|s, q| authorize(s, false, q)))
        .route("/site/oauth2/access_token", post(bitbucket_token))
        .route("/2.0/user", get(bitbucket_user))
        .route("/2.0/user/emails", get(bitbucket_emails))
        .route("/2.0/user/workspaces", get(bitbucket_workspaces))
        .route("/2.0/user/workspaces/{workspace}/permission", get(bitbucket_permission))
        .with_state(standins.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    standins
}
