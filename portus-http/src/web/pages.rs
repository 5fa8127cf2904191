//! One handler per page or form. Each reads or changes data through the REST API as the
//! signed-in user ([`Signed::api`]) and renders the answer; forms answer with a redirect
//! (post/redirect/get) or, when the API refuses, with its status and message.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use maud::{Markup, html};
use portus_core::traits::Secret;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

use super::session::{SESSION_COOKIE, SIGN_IN_CSRF_COOKIE, cookie, random_token, set_cookie};
use super::views::{
    button_form, csrf_field, digest, none, notice, pager, security_badge, severity_rank, size, text, when,
};
use super::{PageError, Signed, Web, views};
use crate::routes::AppState;
use portus_auth::password::secrets_equal;

type Fields = HashMap<String, String>;

fn field<'a>(form: &'a Fields, name: &str) -> &'a str {
    form.get(name).map(|s| s.trim()).unwrap_or_default()
}

fn optional(form: &Fields, name: &str) -> Option<String> {
    Some(field(form, name).to_owned()).filter(|s| !s.is_empty())
}

fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Only decimal identifiers reach the API paths built from them.
fn id(raw: &str) -> Result<&str, PageError> {
    if !raw.is_empty() && raw.len() <= 19 && raw.bytes().all(|b| b.is_ascii_digit()) {
        Ok(raw)
    } else {
        Err(PageError::not_found())
    }
}

/// The `page` query parameter (from 1; 1 when absent or not a number).
fn page_number(query: &Fields) -> usize {
    query
        .get("page")
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1)
}

fn back(to: String) -> Response {
    Redirect::to(&to).into_response()
}

fn array(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

// --- signing in and out ---------------------------------------------------------------------

/// The sign-in form (with a fresh CSRF token and its cookie twin); the lockout rule shown is
/// the token service's own.
fn sign_in_page(state: &AppState, web: &Web, status: StatusCode, message: Option<&str>, username: &str) -> Response {
    let token = random_token();
    let rule = state.tokens.lockout();
    let lockout = (rule.max_failures > 0).then(|| {
        format!(
            "After {} failed sign-ins in a row an account is locked for {} minutes.",
            rule.max_failures,
            rule.lock_for.as_secs().div_ceil(60)
        )
    });
    let body = html! {
        form.card method="post" action="/sign_in" {
            @if let Some(message) = message {
                p.error role="alert" #sign-in-error { (message) }
            }
            input type="hidden" name="csrf" value=(token);
            label for="username" { "User name" }
            input #username name="username" autocomplete="username" required value=(username);
            label for="password" { "Password" }
            input #password type="password" name="password" autocomplete="current-password" required;
            button type="submit" #sign-in { "Sign in" }
            @if let Some(lockout) = lockout {
                p.hint { (lockout) }
            }
        }
        (oidc_button(web))
    };
    let cookie = set_cookie(
        SIGN_IN_CSRF_COOKIE,
        &token,
        Duration::from_secs(3600),
        web.config.secure_cookies,
    );
    let page = Html(views::layout("Sign in", None, body).into_string());
    (status, [(SET_COOKIE, cookie)], page).into_response()
}

/// `GET /sign_in`.
pub async fn sign_in_form(State(state): State<AppState>, Extension(web): Extension<Arc<Web>>) -> Response {
    sign_in_page(&state, &web, StatusCode::OK, None, "")
}

/// `POST /sign_in`: local or LDAP credentials, as for `docker login` (lockout included).
pub async fn sign_in(
    State(state): State<AppState>,
    Extension(web): Extension<Arc<Web>>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let expected = cookie(&headers, SIGN_IN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !secrets_equal(field(&form, "csrf").as_bytes(), expected.as_bytes()) {
        return Err(PageError::csrf());
    }
    let username = field(&form, "username");
    let password = form.get("password").map(String::as_str).unwrap_or_default();
    match state.tokens.authenticate(username, &Secret::new(password)).await {
        Ok((user, _)) => Ok(signed_in(&web, user.id, SIGN_IN_CSRF_COOKIE)),
        Err(portus_auth::Error::InvalidCredentials) => Ok(sign_in_page(
            &state,
            &web,
            StatusCode::UNAUTHORIZED,
            Some("Invalid user name or password, or the account is disabled or locked."),
            username,
        )),
        Err(other) => Err(other.into()),
    }
}

/// Starts a new session for `user` (never reusing one the browser brought: no fixation),
/// clears the cookie of the sign-in attempt and sends the browser to the dashboard.
fn signed_in(web: &Web, user: portus_core::model::UserId, attempt_cookie: &str) -> Response {
    let session = web.sessions.start(user);
    let secure = web.config.secure_cookies;
    let mut response = Redirect::to("/").into_response();
    let headers = response.headers_mut();
    let session_cookie = set_cookie(SESSION_COOKIE, &session, web.sessions.lifetime(), secure);
    let clear_attempt = set_cookie(attempt_cookie, "", Duration::ZERO, secure);
    for value in [session_cookie, clear_attempt] {
        headers.append(SET_COOKIE, value.parse().expect("cookie values are ASCII"));
    }
    response
}

#[cfg(feature = "oidc")]
fn oidc_button(web: &Web) -> Markup {
    match &web.config.oidc {
        Some(oidc) => html! {
            p.alternative { a.button #sign-in-oidc href="/sign_in/oidc" { "Sign in with " (oidc.name) } }
        },
        None => html! {},
    }
}

#[cfg(not(feature = "oidc"))]
fn oidc_button(_web: &Web) -> Markup {
    html! {}
}

/// Cookie naming the OpenID Connect attempt under way.
#[cfg(feature = "oidc")]
const OIDC_COOKIE: &str = "portus_oidc";

/// The configured provider; without one the OpenID Connect pages do not exist.
#[cfg(feature = "oidc")]
fn oidc_of(web: &Web) -> Result<&super::OidcLogin, PageError> {
    web.config.oidc.as_ref().ok_or_else(PageError::not_found)
}

/// `GET /sign_in/oidc`: off to the provider, with a fresh state, nonce and PKCE challenge.
#[cfg(feature = "oidc")]
pub async fn oidc_begin(Extension(web): Extension<Arc<Web>>) -> Result<Response, PageError> {
    let oidc = oidc_of(&web)?;
    let (url, pending) = oidc.provider.begin().await?;
    let attempt = web.oidc_attempts.put(pending);
    let mut response = Redirect::to(url.as_str()).into_response();
    let cookie = set_cookie(
        OIDC_COOKIE,
        &attempt,
        Duration::from_secs(600),
        web.config.secure_cookies,
    );
    response
        .headers_mut()
        .insert(SET_COOKIE, cookie.parse().expect("cookie values are ASCII"));
    Ok(response)
}

/// `GET /sign_in/oidc/callback`: the provider sent the browser back; the attempt is used up
/// whatever the outcome.
#[cfg(feature = "oidc")]
pub async fn oidc_callback(
    State(state): State<AppState>,
    Extension(web): Extension<Arc<Web>>,
    headers: HeaderMap,
    Query(query): Query<Fields>,
) -> Result<Response, PageError> {
    let oidc = oidc_of(&web)?;
    let pending = cookie(&headers, OIDC_COOKIE).and_then(|id| web.oidc_attempts.take(id));
    let Some(pending) = pending else {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            "This sign-in attempt is unknown, used or expired. Start again from the sign-in page.",
        ));
    };
    let failed = |web: &Web| {
        let message = format!("Sign-in with {} failed.", oidc.name);
        sign_in_page(&state, web, StatusCode::UNAUTHORIZED, Some(&message), "")
    };
    if query.contains_key("error") {
        return Ok(failed(&web));
    }
    match oidc
        .provider
        .finish(pending, field(&query, "state"), field(&query, "code"))
        .await
    {
        Ok(user) => Ok(signed_in(&web, user.id, OIDC_COOKIE)),
        Err(portus_auth::Error::InvalidCredentials) => Ok(failed(&web)),
        Err(other) => Err(other.into()),
    }
}

/// `POST /sign_out`.
pub async fn sign_out(signed: Signed, Form(form): Form<Fields>) -> Result<Response, PageError> {
    signed.check_csrf(&form)?;
    signed.web.sessions.end(&signed.session_id);
    let mut response = Redirect::to("/sign_in").into_response();
    let clear = set_cookie(SESSION_COOKIE, "", Duration::ZERO, signed.web.config.secure_cookies);
    response
        .headers_mut()
        .insert(SET_COOKIE, clear.parse().expect("cookie values are ASCII"));
    Ok(response)
}

// --- dashboard and search -------------------------------------------------------------------

fn repository_rows(repositories: &[Value]) -> Markup {
    html! {
        table {
            thead { tr { th { "Repository" } th { "Tags" } th { "Stars" } th { "Security" } } }
            tbody {
                @for r in repositories {
                    tr {
                        td { a href={ "/repositories/" (r["id"]) } { (text(&r["name"])) } }
                        td { (text(&r["tags_count"])) }
                        td { (text(&r["stars"])) }
                        td { (repository_badge(r)) }
                    }
                }
            }
        }
    }
}

/// A repository's badge: its merged counts when every tag finished, else its overall state.
fn repository_badge(repository: &Value) -> Markup {
    let security = &repository["security"];
    security_badge(security["status"].as_str().unwrap_or_default(), &security["counts"])
}

/// `GET /`: recent activity and starred repositories.
pub async fn dashboard(signed: Signed) -> Result<Response, PageError> {
    let activities = signed.get("/api/v1/activities?per_page=20").await?;
    let stars = signed.get("/api/v1/stars").await?;
    let body = html! {
        section aria-labelledby="starred" {
            h2 #starred { "Starred repositories" }
            @if array(&stars).is_empty() { (none("starred repositories")) }
            @else { (repository_rows(array(&stars))) }
        }
        section aria-labelledby="activity" {
            h2 #activity { "Recent activity" }
            @if array(&activities).is_empty() { (none("activity")) }
            @else {
                table {
                    thead { tr { th { "When" } th { "Who" } th { "What" } th { "On" } } }
                    tbody {
                        @for a in array(&activities) {
                            tr {
                                td { (when(&a["at"])) }
                                td { (text(&a["actor"])) }
                                td { (text(&a["action"])) }
                                td { (text(&a["target"])) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(signed.page("Dashboard", body))
}

/// `GET /search?q=`: namespaces, repositories and tags the user may see.
pub async fn search(signed: Signed, Query(query): Query<Fields>) -> Result<Response, PageError> {
    let q = field(&query, "q");
    if q.is_empty() {
        return Ok(signed.page("Search", html! { p { "Type a name into the search box." } }));
    }
    let hits = signed.get(&format!("/api/v1/search?q={}", encode(q))).await?;
    let body = html! {
        p { "Results for " strong { (q) } }
        section aria-labelledby="hits-namespaces" {
            h2 #hits-namespaces { "Namespaces" }
            ul.hits {
                @for n in array(&hits["namespaces"]) {
                    li { a href={ "/namespaces/" (n["id"]) } { (text(&n["name"])) } }
                }
            }
        }
        section aria-labelledby="hits-repositories" {
            h2 #hits-repositories { "Repositories" }
            ul.hits {
                @for r in array(&hits["repositories"]) {
                    li { a href={ "/repositories/" (r["id"]) } { (text(&r["name"])) } }
                }
            }
        }
        section aria-labelledby="hits-tags" {
            h2 #hits-tags { "Tags" }
            ul.hits {
                @for t in array(&hits["tags"]) {
                    li { a href={ "/tags/" (t["id"]) } { (text(&t["repository"])) ":" (text(&t["name"])) } }
                }
            }
        }
    };
    Ok(signed.page("Search", body))
}

// --- namespaces -----------------------------------------------------------------------------

const VISIBILITIES: [&str; 3] = ["private", "protected", "public"];

/// `GET /namespaces`.
pub async fn namespaces(signed: Signed, Query(query): Query<Fields>) -> Result<Response, PageError> {
    let page = page_number(&query);
    let (namespaces, pages) = signed.list("/api/v1/namespaces", page).await?;
    let teams = signed.get("/api/v1/teams?per_page=100").await?;
    let body = html! {
        table {
            thead { tr { th { "Namespace" } th { "Visibility" } th { "Description" } } }
            tbody {
                @for n in array(&namespaces) {
                    tr {
                        td { a href={ "/namespaces/" (n["id"]) } { (text(&n["name"])) } }
                        td { (text(&n["visibility"])) }
                        td { (text(&n["description"])) }
                    }
                }
            }
        }
        (pager("/namespaces", page, pages))
        @if !array(&teams).is_empty() {
            form.card method="post" action="/namespaces" {
                h2 { "New namespace" }
                (csrf_field(&signed.csrf))
                label for="ns-name" { "Name" }
                input #ns-name name="name" required pattern="[a-z0-9]+(?:[._-][a-z0-9]+)*";
                label for="ns-team" { "Team" }
                select #ns-team name="team" {
                    @for t in array(&teams) { option value=(text(&t["name"])) { (text(&t["name"])) } }
                }
                label for="ns-description" { "Description" }
                input #ns-description name="description";
                label for="ns-visibility" { "Visibility" }
                select #ns-visibility name="visibility" {
                    @for v in VISIBILITIES { option value=(v) { (v) } }
                }
                button type="submit" { "Create namespace" }
            }
        }
    };
    Ok(signed.page("Namespaces", body))
}

/// `POST /namespaces`.
pub async fn create_namespace(signed: Signed, Form(form): Form<Fields>) -> Result<Response, PageError> {
    let created = signed
        .submit(
            &form,
            Method::POST,
            "/api/v1/namespaces",
            Some(json!({
                "name": field(&form, "name"),
                "team": field(&form, "team"),
                "description": optional(&form, "description"),
                "visibility": optional(&form, "visibility"),
            })),
        )
        .await?;
    Ok(back(format!("/namespaces/{}", created["id"])))
}

/// `GET /namespaces/{id}`: repositories, and the edit form when the user may manage it.
pub async fn namespace(
    signed: Signed,
    Path(raw): Path<String>,
    Query(query): Query<Fields>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let page = page_number(&query);
    let namespace = signed.get(&format!("/api/v1/namespaces/{id}")).await?;
    let (repositories, pages) = signed
        .list(&format!("/api/v1/namespaces/{id}/repositories"), page)
        .await?;
    let permissions = &namespace["permissions"];
    let body = html! {
        p.meta {
            "Visibility: " strong #visibility { (text(&namespace["visibility"])) }
            @if let Some(role) = namespace["permissions"]["role"].as_str() { " · your role: " (role) }
        }
        @if let Some(description) = namespace["description"].as_str() { p { (description) } }
        @if array(&repositories).is_empty() { (none("repositories")) }
        @else { (repository_rows(array(&repositories))) }
        (pager(&format!("/namespaces/{id}"), page, pages))
        @if permissions["manage"].as_bool() == Some(true) || permissions["visibility"].as_bool() == Some(true) {
            form.card method="post" action={ "/namespaces/" (id) } {
                h2 { "Edit" }
                (csrf_field(&signed.csrf))
                @if permissions["manage"].as_bool() == Some(true) {
                    label for="ns-description" { "Description" }
                    input #ns-description name="description" value=(text(&namespace["description"]));
                }
                @if permissions["visibility"].as_bool() == Some(true) {
                    label for="ns-visibility" { "Visibility" }
                    select #ns-visibility name="visibility" {
                        @for v in VISIBILITIES {
                            option value=(v) selected[namespace["visibility"] == v] { (v) }
                        }
                    }
                }
                button type="submit" { "Save" }
            }
        }
    };
    Ok(signed.page(&format!("Namespace {}", text(&namespace["name"])), body))
}

/// `POST /namespaces/{id}`.
pub async fn update_namespace(
    signed: Signed,
    Path(raw): Path<String>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let mut changes = serde_json::Map::new();
    if form.contains_key("description") {
        changes.insert("description".into(), json!(field(&form, "description")));
    }
    if let Some(visibility) = optional(&form, "visibility") {
        changes.insert("visibility".into(), json!(visibility));
    }
    signed
        .submit(
            &form,
            Method::PUT,
            &format!("/api/v1/namespaces/{id}"),
            Some(Value::Object(changes)),
        )
        .await?;
    Ok(back(format!("/namespaces/{id}")))
}

// --- teams ----------------------------------------------------------------------------------

const ROLES: [&str; 3] = ["viewer", "contributor", "owner"];

/// `GET /teams`.
pub async fn teams(signed: Signed, Query(query): Query<Fields>) -> Result<Response, PageError> {
    let page = page_number(&query);
    let (teams, pages) = signed.list("/api/v1/teams", page).await?;
    let body = html! {
        @if array(&teams).is_empty() { (none("teams")) }
        @else {
            table {
                thead { tr { th { "Team" } th { "Your role" } th { "Description" } } }
                tbody {
                    @for t in array(&teams) {
                        tr {
                            td { a href={ "/teams/" (t["id"]) } { (text(&t["name"])) } }
                            td { (text(&t["role"])) }
                            td { (text(&t["description"])) }
                        }
                    }
                }
            }
        }
        (pager("/teams", page, pages))
        form.card method="post" action="/teams" {
            h2 { "New team" }
            (csrf_field(&signed.csrf))
            label for="team-name" { "Name" }
            input #team-name name="name" required;
            label for="team-description" { "Description" }
            input #team-description name="description";
            button type="submit" { "Create team" }
        }
    };
    Ok(signed.page("Teams", body))
}

/// `POST /teams`.
pub async fn create_team(signed: Signed, Form(form): Form<Fields>) -> Result<Response, PageError> {
    let created = signed
        .submit(
            &form,
            Method::POST,
            "/api/v1/teams",
            Some(json!({"name": field(&form, "name"), "description": optional(&form, "description")})),
        )
        .await?;
    Ok(back(format!("/teams/{}", created["id"])))
}

/// `GET /teams/{id}`: members with roles, namespaces, and member management for owners.
pub async fn team(signed: Signed, Path(raw): Path<String>) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let team = signed.get(&format!("/api/v1/teams/{id}")).await?;
    let members = signed.get(&format!("/api/v1/teams/{id}/members")).await?;
    let namespaces = signed.get(&format!("/api/v1/teams/{id}/namespaces")).await?;
    // Whether the user may manage members is the API's decision; the forms are offered to
    // owners and administrators, and the API answers anyone else with 403.
    let manages = signed.user.admin || team["role"] == "owner";
    let body = html! {
        @if let Some(description) = team["description"].as_str() { p { (description) } }
        h2 { "Members" }
        table {
            thead { tr { th { "User" } th { "Role" } @if manages { th { "Change" } } } }
            tbody {
                @for m in array(&members) {
                    tr {
                        td { (text(&m["username"])) }
                        td { (text(&m["role"])) }
                        @if manages {
                            td {
                                form.inline method="post" action={ "/teams/" (id) "/members/" (m["user_id"]) } {
                                    (csrf_field(&signed.csrf))
                                    label.visually-hidden for={ "role-" (m["user_id"]) } { "Role of " (text(&m["username"])) }
                                    select id={ "role-" (m["user_id"]) } name="role" {
                                        @for r in ROLES { option value=(r) selected[m["role"] == r] { (r) } }
                                    }
                                    button type="submit" name="action" value="change" { "Change role" }
                                    button.danger type="submit" name="action" value="remove" { "Remove" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if manages {
            form.card method="post" action={ "/teams/" (id) "/members" } {
                h2 { "Add a member" }
                (csrf_field(&signed.csrf))
                label for="member-user" { "User name" }
                input #member-user name="user" required;
                label for="member-role" { "Role" }
                select #member-role name="role" { @for r in ROLES { option value=(r) { (r) } } }
                button type="submit" { "Add member" }
            }
        }
        h2 { "Namespaces" }
        @if array(&namespaces).is_empty() { (none("namespaces")) }
        @else {
            ul {
                @for n in array(&namespaces) {
                    li { a href={ "/namespaces/" (n["id"]) } { (text(&n["name"])) } }
                }
            }
        }
    };
    Ok(signed.page(&format!("Team {}", text(&team["name"])), body))
}

/// `POST /teams/{id}/members`.
pub async fn add_member(
    signed: Signed,
    Path(raw): Path<String>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    signed
        .submit(
            &form,
            Method::POST,
            &format!("/api/v1/teams/{id}/members"),
            Some(json!({"user": field(&form, "user"), "role": field(&form, "role")})),
        )
        .await?;
    Ok(back(format!("/teams/{id}")))
}

/// `POST /teams/{id}/members/{user_id}`: `action=change` (with `role`) or `action=remove`.
pub async fn change_member(
    signed: Signed,
    Path((raw, raw_user)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    signed.check_csrf(&form)?;
    let (id, user) = (id(&raw)?, id(&raw_user)?);
    let path = format!("/api/v1/teams/{id}/members/{user}");
    match field(&form, "action") {
        "remove" => signed.api(Method::DELETE, &path, None).await?,
        _ => {
            signed
                .api(Method::PUT, &path, Some(json!({"role": field(&form, "role")})))
                .await?
        }
    };
    Ok(back(format!("/teams/{id}")))
}

// --- repositories and tags ------------------------------------------------------------------

/// `GET /repositories/{id}`: tags with digest, size, pusher, time and security badge.
pub async fn repository(
    signed: Signed,
    Path(raw): Path<String>,
    Query(query): Query<Fields>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let page = page_number(&query);
    let repository = signed.get(&format!("/api/v1/repositories/{id}")).await?;
    let (tags, pages) = signed.list(&format!("/api/v1/repositories/{id}/tags"), page).await?;
    let starred = repository["starred"].as_bool() == Some(true);
    let body = html! {
        div.toolbar {
            span #stars { (text(&repository["stars"])) " ★" }
            (button_form(
                &format!("/repositories/{id}/star"),
                &signed.csrf,
                &[("starred", if starred { "false" } else { "true" })],
                if starred { "Unstar" } else { "Star" },
                "star",
            ))
            a href={ "/namespaces/" (repository["namespace_id"]) } { "Namespace" }
        }
        p { "Security: " (repository_badge(&repository)) }
        @if array(&tags).is_empty() { (none("tags")) }
        @else {
            table #tags {
                thead {
                    tr { th { "Tag" } th { "Digest" } th { "Size" } th { "Pushed by" } th { "Pushed at" } th { "Vulnerabilities" } }
                }
                tbody {
                    @for t in array(&tags) {
                        tr {
                            td { a href={ "/tags/" (t["id"]) } { (text(&t["name"])) } }
                            td { (digest(&t["digest"])) }
                            td { (size(&t["size"])) }
                            td { (text(&t["pushed_by"])) }
                            td { (when(&t["updated_at"])) }
                            td { (security_badge(t["scan"]["status"].as_str().unwrap_or_default(), &t["scan"]["counts"])) }
                        }
                    }
                }
            }
        }
        (pager(&format!("/repositories/{id}"), page, pages))
    };
    Ok(signed.page(&format!("Repository {}", text(&repository["name"])), body))
}

/// `POST /repositories/{id}/star` with `starred=true|false`.
pub async fn star(signed: Signed, Path(raw): Path<String>, Form(form): Form<Fields>) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let method = if field(&form, "starred") == "false" {
        Method::DELETE
    } else {
        Method::PUT
    };
    signed
        .submit(&form, method, &format!("/api/v1/repositories/{id}/star"), None)
        .await?;
    Ok(back(format!("/repositories/{id}")))
}

/// How the tag page orders findings (`?sort=`).
fn sort_findings(findings: &mut [Value], sort: &str) {
    let package = |v: &Value| text(&v["packages"][0][0]);
    match sort {
        "severity_asc" => findings.sort_by_key(|v| std::cmp::Reverse(severity_rank(&text(&v["severity"])))),
        "id" => findings.sort_by_key(|v| text(&v["id"])),
        "package" => findings.sort_by_key(package),
        _ => findings.sort_by_key(|v| severity_rank(&text(&v["severity"]))),
    }
}

/// `GET /tags/{id}`: findings merged across backends, sortable, with each backend's state.
pub async fn tag(signed: Signed, Path(raw): Path<String>, Query(query): Query<Fields>) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let answer = signed.get(&format!("/api/v1/tags/{id}/vulnerabilities")).await?;
    let (tag, security) = (&answer["tag"], &answer["security"]);
    let sort = field(&query, "sort");
    let mut findings = array(&security["vulnerabilities"]).to_vec();
    sort_findings(&mut findings, sort);
    let severity_order = if sort.is_empty() || sort == "severity" {
        "severity_asc"
    } else {
        "severity"
    };
    let backends = security["backends"].as_object().cloned().unwrap_or_default();
    let body = html! {
        p.meta { "Digest " (digest(&tag["digest"])) " · " (security_badge(security["status"].as_str().unwrap_or_default(), &security["counts"])) }
        h2 { "Scanners" }
        ul #backends {
            @for (name, state) in &backends { li { strong { (name) } ": " (text(state)) } }
            @if backends.is_empty() { li { "No scanner is configured." } }
        }
        h2 { "Vulnerabilities" }
        @if findings.is_empty() {
            p.empty { "No vulnerabilities reported by the scanners that finished." }
        } @else {
            table #vulnerabilities {
                thead {
                    tr {
                        th { a href={ "?sort=id" } { "Identifier" } }
                        th aria-sort=(aria_sort(sort)) { a href={ "?sort=" (severity_order) } #sort-severity { "Severity" } }
                        th { a href={ "?sort=package" } { "Package" } }
                        th { "Fixed in" }
                        th { "Found by" }
                        th { "Links" }
                    }
                }
                tbody {
                    @for v in &findings {
                        tr {
                            td { (text(&v["id"])) }
                            td { span class={ "sev sev-" (text(&v["severity"]).to_ascii_lowercase()) } { (text(&v["severity"])) } }
                            td {
                                @for p in array(&v["packages"]) {
                                    div { (text(&p[0])) @if !p[1].is_null() { " " (text(&p[1])) } }
                                }
                            }
                            td { @for f in array(&v["fixed_in"]) { div { (text(f)) } } }
                            td { (array(&v["found_by"]).iter().map(text).collect::<Vec<_>>().join(", ")) }
                            td {
                                @for l in array(&v["links"]) {
                                    @let link = text(l);
                                    @if link.starts_with("https://") || link.starts_with("http://") {
                                        div { a href=(link) rel="noopener noreferrer" { (link) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(signed.page(&format!("{}:{}", text(&tag["repository"]), text(&tag["name"])), body))
}

fn aria_sort(sort: &str) -> &'static str {
    match sort {
        "" | "severity" => "descending",
        "severity_asc" => "ascending",
        _ => "none",
    }
}

// --- application tokens ---------------------------------------------------------------------

fn tokens_page(signed: &Signed, tokens: &Value, created: Option<&Value>) -> Response {
    let body = html! {
        @if let Some(created) = created {
            (notice(html! {
                p { "Token for " strong { (text(&created["application"])) } " — copy it now, it is shown only once:" }
                p { code #new-token { (text(&created["plain_token"])) } }
            }))
        }
        @if array(tokens).is_empty() { (none("application tokens")) }
        @else {
            table {
                thead { tr { th { "Application" } th { "Created" } th { "" } } }
                tbody {
                    @for t in array(tokens) {
                        tr {
                            td { (text(&t["application"])) }
                            td { (when(&t["created_at"])) }
                            td { (button_form(&format!("/tokens/{}/revoke", t["id"]), &signed.csrf, &[], "Revoke", "danger")) }
                        }
                    }
                }
            }
        }
        form.card method="post" action="/tokens" {
            h2 { "New application token" }
            (csrf_field(&signed.csrf))
            label for="application" { "Application" }
            input #application name="application" required;
            button type="submit" { "Create token" }
        }
    };
    signed.page("Application tokens", body)
}

/// `GET /tokens`: the signed-in user's application tokens.
pub async fn tokens(signed: Signed) -> Result<Response, PageError> {
    let tokens = signed
        .get(&format!("/api/v1/users/{}/application_tokens", signed.user.id))
        .await?;
    Ok(tokens_page(&signed, &tokens, None))
}

/// `POST /tokens`: answers with the page showing the new token once (no redirect, so the
/// secret is never in a URL or a later page).
pub async fn create_token(signed: Signed, Form(form): Form<Fields>) -> Result<Response, PageError> {
    let path = format!("/api/v1/users/{}/application_tokens", signed.user.id);
    let created = signed
        .submit(
            &form,
            Method::POST,
            &path,
            Some(json!({"application": field(&form, "application")})),
        )
        .await?;
    let tokens = signed.get(&path).await?;
    Ok(tokens_page(&signed, &tokens, Some(&created)))
}

/// `POST /tokens/{id}/revoke`.
pub async fn revoke_token(
    signed: Signed,
    Path(raw): Path<String>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    signed
        .submit(
            &form,
            Method::DELETE,
            &format!("/api/v1/users/{}/application_tokens/{id}", signed.user.id),
            None,
        )
        .await?;
    Ok(back("/tokens".into()))
}

// --- administration -------------------------------------------------------------------------

/// `GET /admin/users` (administrators; the API answers others with 403).
pub async fn users(signed: Signed, Query(query): Query<Fields>) -> Result<Response, PageError> {
    let page = page_number(&query);
    let (users, pages) = signed.list("/api/v1/users", page).await?;
    let body = html! {
        table #users {
            thead { tr { th { "User" } th { "E-mail" } th { "State" } th { "Administrator" } th { "" } } }
            tbody {
                @for u in array(&users) {
                    @let path = format!("/admin/users/{}", u["id"]);
                    @let enabled = u["enabled"].as_bool() == Some(true);
                    @let admin = u["admin"].as_bool() == Some(true);
                    tr {
                        td { (text(&u["username"])) }
                        td { (text(&u["email"])) }
                        td {
                            @if !enabled { "disabled" }
                            @else if u["locked"].as_bool() == Some(true) { "locked" }
                            @else { "enabled" }
                        }
                        td { @if admin { "yes" } @else { "no" } }
                        td {
                            (button_form(&path, &signed.csrf, &[("enabled", if enabled { "false" } else { "true" })],
                                if enabled { "Disable" } else { "Enable" }, if enabled { "danger" } else { "" }))
                            (button_form(&path, &signed.csrf, &[("admin", if admin { "false" } else { "true" })],
                                if admin { "Revoke administrator" } else { "Make administrator" }, ""))
                            @if u["locked"].as_bool() == Some(true) {
                                (button_form(&path, &signed.csrf, &[("locked", "false")], "Unlock", ""))
                            }
                        }
                    }
                }
            }
        }
        (pager("/admin/users", page, pages))
        form.card method="post" action="/admin/users" {
            h2 { "New user" }
            (csrf_field(&signed.csrf))
            label for="new-username" { "User name" }
            input #new-username name="username" required;
            label for="new-email" { "E-mail" }
            input #new-email type="email" name="email";
            label for="new-password" { "Password" }
            input #new-password type="password" name="password" autocomplete="new-password" minlength="8";
            label.check { input type="checkbox" name="admin" value="true"; " Administrator" }
            button type="submit" { "Create user" }
        }
    };
    Ok(signed.page("Users", body))
}

/// `POST /admin/users`.
pub async fn create_user(signed: Signed, Form(form): Form<Fields>) -> Result<Response, PageError> {
    signed
        .submit(
            &form,
            Method::POST,
            "/api/v1/users",
            Some(json!({
                "username": field(&form, "username"),
                "email": optional(&form, "email"),
                "password": form.get("password").filter(|p| !p.is_empty()),
                "admin": field(&form, "admin") == "true",
            })),
        )
        .await?;
    Ok(back("/admin/users".into()))
}

/// `POST /admin/users/{id}`: one of `enabled`, `admin`, `locked` set to `true`/`false`.
pub async fn update_user(
    signed: Signed,
    Path(raw): Path<String>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let mut changes = serde_json::Map::new();
    for key in ["enabled", "admin", "locked"] {
        if let Some(value) = form.get(key) {
            changes.insert(key.into(), json!(value == "true"));
        }
    }
    signed
        .submit(
            &form,
            Method::PUT,
            &format!("/api/v1/users/{id}"),
            Some(Value::Object(changes)),
        )
        .await?;
    Ok(back("/admin/users".into()))
}

// --- assets ---------------------------------------------------------------------------------

/// `GET /assets/portus.css`.
pub async fn stylesheet() -> Response {
    (
        [(CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/portus.css"),
    )
        .into_response()
}

/// `GET /assets/portus.js`.
pub async fn script() -> Response {
    (
        [(CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/portus.js"),
    )
        .into_response()
}
