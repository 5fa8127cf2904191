//! The activity log with filters: everything to administrators, to others what the API lets
//! them see (their own acts and their teams'), with the same filters as the API.

use axum::extract::Query;
use axum::response::Response;
use maud::html;

use super::dashboard::activity_rows;
use super::{Fields, array, encode, field, page_number};
use crate::web::views::{none, pager};
use crate::web::{PageError, Signed};

/// The filters the page passes on to `GET /api/v1/activities`, with their labels.
const FILTERS: [(&str, &str, &str); 5] = [
    ("actor", "User", "text"),
    ("namespace", "Namespace", "text"),
    ("action", "Action (tag.push, or a prefix such as tag.)", "text"),
    ("since", "From (RFC 3339, e.g. 2026-11-01T00:00:00Z)", "text"),
    ("until", "Until, exclusive", "text"),
];

/// `GET /activities`: one page of the log, filtered.
pub(crate) async fn activities(signed: Signed, Query(query): Query<Fields>) -> Result<Response, PageError> {
    let filters: Vec<(&str, &str)> = FILTERS
        .iter()
        .map(|(name, ..)| (*name, field(&query, name)))
        .filter(|(_, value)| !value.is_empty())
        .collect();
    let search: String = filters
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    let page = page_number(&query);
    let api = format!("/api/v1/activities?{search}");
    let (activities, pages) = signed.list(&api, page).await?;
    let here = if search.is_empty() {
        "/activities".to_owned()
    } else {
        format!("/activities?{search}")
    };
    let body = html! {
        form.card #activity-filters method="get" action="/activities" {
            @for (name, label, kind) in FILTERS {
                label for={ "filter-" (name) } { (label) }
                input id={ "filter-" (name) } name=(name) type=(kind) value=(field(&query, name));
            }
            button type="submit" { "Filter" }
        }
        p.hint {
            "The whole range as a file: " code { "portus activity --since … --until … --csv" }
            " or " code { "GET /api/v1/activities?format=csv" } "."
        }
        @if array(&activities).is_empty() { (none("activity")) }
        @else { (activity_rows(array(&activities))) }
        (pager(&here, page, pages))
    };
    Ok(signed.page("Activity", body))
}
