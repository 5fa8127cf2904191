//! The dashboard and search.

use super::Fields;
use super::array;
use super::encode;
use super::field;
use super::page_number;
use crate::web::PageError;
use crate::web::Signed;
use crate::web::views::none;
use crate::web::views::pager;
use crate::web::views::security_badge;
use crate::web::views::text;
use crate::web::views::when;
use axum::extract::Query;
use axum::response::Response;
use maud::Markup;
use maud::html;
use serde_json::Value;

pub(super) fn repository_rows(repositories: &[Value]) -> Markup {
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
pub(super) fn repository_badge(repository: &Value) -> Markup {
    let security = &repository["security"];
    security_badge(security["status"].as_str().unwrap_or_default(), &security["counts"])
}

/// `GET /`: recent activity and starred repositories.
pub(crate) async fn dashboard(signed: Signed) -> Result<Response, PageError> {
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
pub(crate) async fn search(signed: Signed, Query(query): Query<Fields>) -> Result<Response, PageError> {
    let q = field(&query, "q");
    if q.is_empty() {
        return Ok(signed.page("Search", html! { p { "Type a name into the search box." } }));
    }
    let page = page_number(&query);
    let (hits, pages) = signed.list(&format!("/api/v1/search?q={}", encode(q)), page).await?;
    let totals = &hits["totals"];
    let body = html! {
        p {
            "Results for " strong { (q) } ": "
            (totals["namespaces"]) " namespaces, " (totals["repositories"]) " repositories, "
            (totals["tags"]) " tags"
        }
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
        (pager(&format!("/search?q={}", encode(q)), page, pages))
    };
    Ok(signed.page("Search", body))
}
