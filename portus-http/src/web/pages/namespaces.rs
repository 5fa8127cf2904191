//! Namespaces: list, create, show, edit.

use super::Fields;
use super::array;
use super::back;
use super::dashboard::repository_rows;
use super::field;
use super::id;
use super::optional;
use super::page_number;
use crate::web::PageError;
use crate::web::Signed;
use crate::web::views::csrf_field;
use crate::web::views::none;
use crate::web::views::pager;
use crate::web::views::text;
use axum::Form;
use axum::extract::Path;
use axum::extract::Query;
use axum::http::Method;
use axum::response::Response;
use maud::html;
use serde_json::Value;
use serde_json::json;

const VISIBILITIES: [&str; 3] = ["private", "protected", "public"];

/// `GET /namespaces`.
pub(crate) async fn namespaces(signed: Signed, Query(query): Query<Fields>) -> Result<Response, PageError> {
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
pub(crate) async fn create_namespace(signed: Signed, Form(form): Form<Fields>) -> Result<Response, PageError> {
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
pub(crate) async fn namespace(
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
    let team = team_of(&signed, &namespace["team_id"]).await?;
    let body = html! {
        p.meta {
            "Visibility: " strong #visibility { (text(&namespace["visibility"])) }
            @if let Some(role) = namespace["permissions"]["role"].as_str() { " · your role: " (role) }
        }
        @if let Some(description) = namespace["description"].as_str() { p { (description) } }
        @if let Some((team, members, more)) = &team {
            section.card #team aria-labelledby="team-heading" {
                h2 #team-heading { "Team " a href={ "/teams/" (team["id"]) } { (text(&team["name"])) } }
                @if array(members).is_empty() { (none("members")) }
                ul #members {
                    @for m in array(members) { li { (text(&m["username"])) " · " (text(&m["role"])) } }
                }
                @if *more { p { a href={ "/teams/" (team["id"]) } { "All members" } } }
            }
        }
        h2 { "Repositories" }
        @if array(&repositories).is_empty() { (none("repositories")) }
        @else { (repository_rows(array(&repositories))) }
        (pager(&format!("/namespaces/{id}"), page, pages))
        @if permissions["webhooks"].as_bool() == Some(true) {
            p { a #webhooks-link href={ "/namespaces/" (id) "/webhooks" } { "Webhooks" } }
        }
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
        @if permissions["remove"].as_bool() == Some(true) && namespace["personal"].as_bool() != Some(true)
            && namespace["global"].as_bool() != Some(true) {
            p { a #delete-namespace href={ "/namespaces/" (id) "/delete" } { "Delete this namespace" } }
        }
    };
    Ok(signed.page(&format!("Namespace {}", text(&namespace["name"])), body))
}

/// The namespace's team and the first page of its members, when the user may see the team (a
/// team the user may not see is left out, as if there were none).
async fn team_of(signed: &Signed, team_id: &Value) -> Result<Option<(Value, Value, bool)>, PageError> {
    let Some(id) = team_id.as_i64() else {
        return Ok(None);
    };
    let team = match signed.get(&format!("/api/v1/teams/{id}")).await {
        Ok(team) => team,
        Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => return Ok(None),
        Err(e) => return Err(e),
    };
    let (members, pages) = signed.list(&format!("/api/v1/teams/{id}/members"), 1).await?;
    Ok(Some((team, members, pages > 1)))
}

/// `POST /namespaces/{id}`.
pub(crate) async fn update_namespace(
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

/// `GET /namespaces/{id}/delete`: what deleting the namespace takes, and the button.
pub(crate) async fn confirm_namespace_deletion(signed: Signed, Path(raw): Path<String>) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let namespace = signed.get(&format!("/api/v1/namespaces/{id}")).await?;
    let name = text(&namespace["name"]);
    let body = html! {
        div.warning role="alert" {
            p { "The registry deletes every image of the " (text(&namespace["repositories_count"])) " repositories in "
                strong { (name) } "; their tags, comments, stars and webhooks go too." }
        }
        form.inline.confirmed method="post" action={ "/namespaces/" (id) "/delete" } {
            (csrf_field(&signed.csrf))
            button.danger type="submit" #confirm-delete { "Delete namespace " (name) }
        }
        p { a href={ "/namespaces/" (id) } { "Cancel" } }
    };
    Ok(signed.page(&format!("Delete namespace {name}"), body))
}

/// `POST /namespaces/{id}/delete`.
pub(crate) async fn delete_namespace(
    signed: Signed,
    Path(raw): Path<String>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    signed
        .submit(&form, Method::DELETE, &format!("/api/v1/namespaces/{id}"), None)
        .await?;
    Ok(back("/namespaces".to_owned()))
}
