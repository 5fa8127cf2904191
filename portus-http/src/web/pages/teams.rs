//! Teams and their members.

use super::Fields;
use super::array;
use super::back;
use super::field;
use super::id;
use super::optional;
use super::page_number;
use super::page_number_of;
use crate::web::PageError;
use crate::web::Signed;
use crate::web::views::csrf_field;
use crate::web::views::none;
use crate::web::views::pager;
use crate::web::views::pager_by;
use crate::web::views::text;
use axum::Form;
use axum::extract::Path;
use axum::extract::Query;
use axum::http::Method;
use axum::response::Response;
use maud::html;
use serde_json::Value;
use serde_json::json;

const ROLES: [&str; 3] = ["viewer", "contributor", "owner"];

/// `GET /teams`.
pub(crate) async fn teams(signed: Signed, Query(query): Query<Fields>) -> Result<Response, PageError> {
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
pub(crate) async fn create_team(signed: Signed, Form(form): Form<Fields>) -> Result<Response, PageError> {
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

/// `GET /teams/{id}`: members with roles, namespaces, and member management for owners. The
/// two lists have a page each: `?members=N` and `?namespaces=N`.
pub(crate) async fn team(
    signed: Signed,
    Path(raw): Path<String>,
    Query(query): Query<Fields>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let (members_page, namespaces_page) = (page_number_of(&query, "members"), page_number_of(&query, "namespaces"));
    let team = signed.get(&format!("/api/v1/teams/{id}")).await?;
    let (members, members_pages) = signed
        .list(&format!("/api/v1/teams/{id}/members"), members_page)
        .await?;
    let (namespaces, namespaces_pages) = signed
        .list(&format!("/api/v1/teams/{id}/namespaces"), namespaces_page)
        .await?;
    let path = format!("/teams/{id}");
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
        (pager_by(&path, "members", "Pages of members", members_page, members_pages))
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
        (pager_by(&path, "namespaces", "Pages of namespaces", namespaces_page, namespaces_pages))
        @if manages && team["hidden"].as_bool() != Some(true) {
            form.card method="post" action={ "/teams/" (id) } {
                h2 { "Edit" }
                (csrf_field(&signed.csrf))
                label for="team-name" { "Name" }
                input #team-name name="name" required value=(text(&team["name"]));
                label for="team-description" { "Description" }
                input #team-description name="description" value=(text(&team["description"]));
                button type="submit" { "Save" }
            }
            p { a #delete-team href={ "/teams/" (id) "/delete" } { "Delete this team" } }
        }
    };
    Ok(signed.page(&format!("Team {}", text(&team["name"])), body))
}

/// `POST /teams/{id}/members`.
pub(crate) async fn add_member(
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
pub(crate) async fn change_member(
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

/// `POST /teams/{id}`: renames or describes the team.
pub(crate) async fn update_team(
    signed: Signed,
    Path(raw): Path<String>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    signed
        .submit(
            &form,
            Method::PUT,
            &format!("/api/v1/teams/{id}"),
            Some(json!({"name": field(&form, "name"), "description": field(&form, "description")})),
        )
        .await?;
    Ok(back(format!("/teams/{id}")))
}

/// `GET /teams/{id}/delete`: where the team's namespaces go (another team the user may see)
/// or that they are deleted with their images, and the button that does it.
pub(crate) async fn confirm_team_deletion(signed: Signed, Path(raw): Path<String>) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let team = signed.get(&format!("/api/v1/teams/{id}")).await?;
    let (namespaces, namespace_pages) = signed.list(&format!("/api/v1/teams/{id}/namespaces"), 1).await?;
    let (others, _) = signed.list("/api/v1/teams", 1).await?;
    let name = text(&team["name"]);
    let heirs: Vec<&Value> = array(&others)
        .iter()
        .filter(|t| t["id"] != team["id"] && t["hidden"].as_bool() != Some(true))
        .collect();
    let body = html! {
        @if array(&namespaces).is_empty() {
            p { "The team owns no namespaces." }
        } @else {
            div.warning role="alert" {
                p { "The team owns these namespaces" @if namespace_pages > 1 { " (and more)" } ":" }
                ul { @for n in array(&namespaces) { li { (text(&n["name"])) } } }
                p { "Hand them to another team, or they are deleted with every image in them." }
            }
        }
        form.inline.confirmed method="post" action={ "/teams/" (id) "/delete" } {
            (csrf_field(&signed.csrf))
            @if !array(&namespaces).is_empty() {
                label for="new-team" { "Team that takes the namespaces over" }
                select #new-team name="new_team" {
                    option value="" { "none: delete the namespaces and their images" }
                    @for t in &heirs { option value=(text(&t["name"])) { (text(&t["name"])) } }
                }
            }
            button.danger type="submit" #confirm-delete { "Delete team " (name) }
        }
        p { a href={ "/teams/" (id) } { "Cancel" } }
    };
    Ok(signed.page(&format!("Delete team {name}"), body))
}

/// `POST /teams/{id}/delete` with `new_team` (empty: the namespaces go too).
pub(crate) async fn delete_team(
    signed: Signed,
    Path(raw): Path<String>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let id = id(&raw)?;
    let body = optional(&form, "new_team").map(|heir| json!({"new_team": heir}));
    signed
        .submit(&form, Method::DELETE, &format!("/api/v1/teams/{id}"), body)
        .await?;
    Ok(back("/teams".to_owned()))
}
