//! Search: namespaces, repositories and tags the caller may see whose names contain a text,
//! one page of each kind, filtered and counted by the store.

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use portus_core::model::{
    ListQuery, NamespaceFilter, NamespaceSort, RepositoryFilter, RepositorySort, TagFilter, TagSort,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use portus_core::prelude::*;

use super::{ApiCaller, Page, PageQuery};
use crate::error::ApiError;
use crate::state::AppState;

/// The text of `GET /api/v1/search`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct SearchQuery {
    /// Text to find in names, case-insensitive: 1 to 128 characters, not only white space.
    #[param(min_length = 1, max_length = 128, pattern = r"\S")]
    q: String,
}

/// A namespace found.
#[derive(Serialize, ToSchema)]
pub(super) struct NamespaceHit {
    id: i64,
    name: String,
}

/// A repository found.
#[derive(Serialize, ToSchema)]
pub(super) struct RepositoryHit {
    id: i64,
    /// Full name (`namespace/repository`).
    name: String,
    stars: u64,
}

/// A tag found.
#[derive(Serialize, ToSchema)]
pub(super) struct TagHit {
    id: i64,
    repository: String,
    name: String,
    digest: String,
}

/// How many of each kind matched in all.
#[derive(Serialize, ToSchema)]
pub(super) struct SearchTotals {
    namespaces: u64,
    repositories: u64,
    tags: u64,
}

/// What a search found: the same page of each kind, and each kind's total.
#[derive(Serialize, ToSchema)]
pub(super) struct SearchHits {
    namespaces: Vec<NamespaceHit>,
    repositories: Vec<RepositoryHit>,
    tags: Vec<TagHit>,
    totals: SearchTotals,
}

/// Search namespaces, repositories and tags the caller may see.
///
/// Case-insensitive substring search over names, ordered by name. `page` and `per_page` slice
/// each kind alike; `X-Total` is the largest kind's total (so the pages cover every kind) and
/// `totals` gives each.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    params(SearchQuery, Page),
    security((), ("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = SearchHits))
)]
pub(super) async fn search(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(query): Query<SearchQuery>,
    page: PageQuery,
) -> Result<Response, ApiError> {
    let trimmed = query.q.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 128 {
        return Err(ApiError::bad_request("q must be 1 to 128 characters"));
    }
    let needle = trimmed.to_lowercase();
    let store = &state.store;
    let slice: ListQuery<RepositorySort> = page.0.query()?;
    let visible = caller.visible_namespaces(&state);
    // The global namespace's name is empty: no text finds it.
    let namespaces = store
        .namespaces_page(
            &NamespaceFilter {
                visible: visible.clone(),
                team: None,
                name_contains: Some(needle.clone()),
            },
            &ListQuery {
                sort: NamespaceSort::Name,
                descending: slice.descending,
                offset: slice.offset,
                limit: slice.limit,
            },
        )
        .await?;
    let namespace_total = namespaces.total;
    let namespace_hits = namespaces
        .items
        .into_iter()
        .map(|n| NamespaceHit {
            id: n.id.0,
            name: n.name,
        })
        .collect();

    let repositories = store
        .repositories_page(
            &RepositoryFilter {
                visible: visible.clone(),
                name_contains: Some(needle.clone()),
                ..RepositoryFilter::default()
            },
            &ListQuery {
                sort: RepositorySort::Name,
                ..slice.clone()
            },
        )
        .await?;
    let tags = store
        .tags_page(
            &TagFilter {
                visible,
                name_contains: Some(needle),
                ..TagFilter::default()
            },
            &ListQuery {
                sort: TagSort::Name,
                descending: slice.descending,
                offset: slice.offset,
                limit: slice.limit,
            },
        )
        .await?;
    let totals = SearchTotals {
        namespaces: namespace_total,
        repositories: repositories.total,
        tags: tags.total,
    };
    let total = totals.namespaces.max(totals.repositories).max(totals.tags);
    let hits = SearchHits {
        namespaces: namespace_hits,
        repositories: repositories
            .items
            .into_iter()
            .map(|l| RepositoryHit {
                id: l.repository.id.0,
                name: l.repository.name,
                stars: l.repository.stars,
            })
            .collect(),
        tags: tags
            .items
            .into_iter()
            .map(|t| TagHit {
                id: t.id.0,
                repository: t.repository,
                name: t.name,
                digest: t.manifest.digest,
            })
            .collect(),
        totals,
    };
    let mut response = Json(hits).into_response();
    page.0.paginate(&mut response, "/api/v1/search", total)?;
    Ok(response)
}
