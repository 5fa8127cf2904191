//! Browsing repositories: every repository the user may see (`/repositories`), and what
//! anyone may pull, for visitors who have not signed in (`/explore`, Portus' anonymous
//! browsing). Both a page at a time, filtered by a name.

use std::sync::Arc;

use axum::Extension;
use axum::extract::Query;
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};

use super::dashboard::repository_rows;
use super::{Fields, array, encode, field, page_number};
use crate::web::views::{layout, none, pager};
use crate::web::{PageError, Signed, Web, list_as};

/// The API path listing repositories whose names contain `q` (all with an empty `q`).
fn api_path(q: &str) -> String {
    if q.is_empty() {
        "/api/v1/repositories".to_owned()
    } else {
        format!("/api/v1/repositories?q={}", encode(q))
    }
}

/// `page` with `q` kept in its links.
fn page_path(page: &str, q: &str) -> String {
    if q.is_empty() {
        page.to_owned()
    } else {
        format!("{page}?q={}", encode(q))
    }
}

fn listing(action: &str, q: &str, repositories: &serde_json::Value, page: usize, pages: usize) -> Markup {
    html! {
        form.search role="search" method="get" action=(action) {
            label for="filter" { "Repository name contains" }
            input #filter type="search" name="q" value=(q);
            button type="submit" { "Filter" }
        }
        @if array(repositories).is_empty() { (none("repositories")) }
        @else { (repository_rows(array(repositories))) }
        (pager(&page_path(action, q), page, pages))
    }
}

/// `GET /repositories?q=`: the repositories the user may see, by name.
pub(crate) async fn repository_list(signed: Signed, Query(query): Query<Fields>) -> Result<Response, PageError> {
    let q = field(&query, "q").trim();
    let page = page_number(&query);
    let (repositories, pages) = signed.list(&api_path(q), page).await?;
    Ok(signed.page("Repositories", listing("/repositories", q, &repositories, page, pages)))
}

/// `GET /explore?q=`: the repositories anyone may pull, without signing in; to the sign-in
/// page when `anonymous_browsing` is off.
pub(crate) async fn explore(
    Extension(web): Extension<Arc<Web>>,
    Query(query): Query<Fields>,
) -> Result<Response, PageError> {
    if !web.config.anonymous_browsing {
        return Ok(axum::response::Redirect::to("/sign_in").into_response());
    }
    let q = field(&query, "q").trim();
    let page = page_number(&query);
    let (repositories, pages) = list_as(&web, None, &api_path(q), page).await?;
    let body = html! {
        p { "Repositories anyone may pull. " a href="/sign_in" { "Sign in" } " to see more." }
        (listing("/explore", q, &repositories, page, pages))
    };
    Ok(Html(layout("Explore", None, body).into_string()).into_response())
}
