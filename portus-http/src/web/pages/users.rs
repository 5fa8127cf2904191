//! User administration.

use super::Fields;
use super::array;
use super::back;
use super::field;
use super::id;
use super::optional;
use super::page_number;
use crate::web::PageError;
use crate::web::Signed;
use crate::web::views::button_form;
use crate::web::views::csrf_field;
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

/// `GET /admin/users` (administrators; the API answers others with 403).
pub(crate) async fn users(signed: Signed, Query(query): Query<Fields>) -> Result<Response, PageError> {
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
                    tr id={ "user-" (u["id"]) } {
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
pub(crate) async fn create_user(signed: Signed, Form(form): Form<Fields>) -> Result<Response, PageError> {
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
pub(crate) async fn update_user(
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
