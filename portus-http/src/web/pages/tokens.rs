//! The signed-in user's application tokens.

use super::Fields;
use super::array;
use super::back;
use super::field;
use super::id;
use super::page_number;
use crate::web::PageError;
use crate::web::Signed;
use crate::web::views::button_form;
use crate::web::views::csrf_field;
use crate::web::views::none;
use crate::web::views::notice;
use crate::web::views::pager;
use crate::web::views::text;
use crate::web::views::when;
use axum::Form;
use axum::extract::Path;
use axum::extract::Query;
use axum::http::Method;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde_json::Value;
use serde_json::json;

/// The tokens page: page `page` of `pages` of the user's tokens, and the one just `created`.
fn tokens_page(signed: &Signed, (tokens, page, pages): (&Value, usize, usize), created: Option<&Value>) -> Response {
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
                thead { tr { th { "Application" } th { "Created" } th { "Expires" } th { "Scope" } th { "Last used" } th { "" } } }
                tbody {
                    @for t in array(tokens) {
                        tr {
                            td { (text(&t["application"])) }
                            td { (when(&t["created_at"])) }
                            td { @if t["expires_at"].is_null() { "never" } @else { (when(&t["expires_at"])) } }
                            td.scope {
                                @if let Some(rules) = t["scopes"].as_array() {
                                    @for rule in rules { code { (text(rule)) } " " }
                                } @else { "owner's rights" }
                            }
                            td { @if t["last_used_at"].is_null() { "never" } @else { (when(&t["last_used_at"])) } }
                            td { (button_form(&format!("/tokens/{}/revoke", t["id"]), &signed.csrf, &[], "Revoke", "danger")) }
                        }
                    }
                }
            }
        }
        (pager("/tokens", page, pages))
        form.card method="post" action="/tokens" {
            h2 { "New application token" }
            (csrf_field(&signed.csrf))
            label for="application" { "Application" }
            input #application name="application" required;
            label for="scopes" { "Scope: one PATTERN:ACTIONS per line, such as devs/*:pull (empty: your rights; a scoped token signs in to the registry only)" }
            textarea #scopes name="scopes" rows="3" {}
            label for="expires_in_days" { "Expires after this many days (empty: never)" }
            input #expires_in_days type="number" name="expires_in_days" min="1" max="3660";
            button type="submit" { "Create token" }
        }
    };
    signed.page("Application tokens", body)
}

/// `GET /tokens`: the signed-in user's application tokens.
pub(crate) async fn tokens(signed: Signed, Query(query): Query<Fields>) -> Result<Response, PageError> {
    let page = page_number(&query);
    let (tokens, pages) = signed
        .list(&format!("/api/v1/users/{}/application_tokens", signed.user.id), page)
        .await?;
    Ok(tokens_page(&signed, (&tokens, page, pages), None))
}

/// `POST /tokens`: answers with the page showing the new token once (no redirect, so the
/// secret is never in a URL or a later page).
pub(crate) async fn create_token(signed: Signed, Form(form): Form<Fields>) -> Result<Response, PageError> {
    let path = format!("/api/v1/users/{}/application_tokens", signed.user.id);
    let mut body = json!({"application": field(&form, "application")});
    let scopes: Vec<&str> = field(&form, "scopes")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if !scopes.is_empty() {
        body["scopes"] = json!(scopes);
    }
    let days = field(&form, "expires_in_days");
    if !days.is_empty() {
        let days: i64 = days
            .parse()
            .ok()
            .filter(|d| (1..=3660).contains(d))
            .ok_or_else(|| PageError::new(StatusCode::BAD_REQUEST, "Give the expiry as 1 to 3660 days."))?;
        body["expires_at"] = json!(portus_core::model::now() + chrono::Duration::days(days));
    }
    let created = signed.submit(&form, Method::POST, &path, Some(body)).await?;
    let (tokens, pages) = signed.list(&path, 1).await?;
    Ok(tokens_page(&signed, (&tokens, 1, pages), Some(&created)))
}

/// `POST /tokens/{id}/revoke`.
pub(crate) async fn revoke_token(
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
