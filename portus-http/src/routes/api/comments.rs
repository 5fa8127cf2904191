//! Comments on repositories (brought over from Portus by `portus import portus`).

use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use portus_core::model::{Comment, CommentSort};
use portus_core::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::lists::SortKey;
use super::{ApiCaller, PageQuery};
use crate::error::ApiError;
use crate::state::AppState;

/// A comment on a repository.
#[derive(Serialize, ToSchema)]
pub(super) struct CommentView {
    id: i64,
    /// Who wrote it (kept by name: it outlives the author's account).
    author: Option<String>,
    /// Markdown text, as written.
    body: String,
    /// `body` rendered to HTML and sanitized (no scripts, styles, images or event handlers;
    /// only http, https and mailto links). Rendered at each answer, never stored, so a
    /// stricter sanitizer applies to old comments too.
    body_html: String,
    created_at: DateTime<Utc>,
}

fn view(comment: Comment) -> CommentView {
    CommentView {
        id: comment.id.0,
        author: comment.author,
        body_html: crate::markdown::render(&comment.body),
        body: comment.body,
        created_at: comment.created_at,
    }
}

impl SortKey for CommentSort {
    fn from_attr(attr: &str) -> Option<Self> {
        match attr {
            "created_at" => Some(CommentSort::CreatedAt),
            "id" => Some(CommentSort::Id),
            _ => None,
        }
    }
}

/// `GET /api/v1/repositories/{id}/comments`: oldest first, for whoever may see the repository.
///
/// `sort_attr`: `created_at` (the default) or `id`.
#[utoipa::path(
    get,
    path = "/api/v1/repositories/{id}/comments",
    params(("id" = i64, Path, description = "Repository id"), super::Page),
    security((), ("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = Vec<CommentView>))
)]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    page: PageQuery,
) -> Result<Response, ApiError> {
    let (repository, _) = super::repositories::load(&state, &caller, &id).await?;
    let comments = state
        .store
        .comments_page(repository.id, &page.0.query::<CommentSort>()?)
        .await?;
    page.0.respond_page(
        &format!("/api/v1/repositories/{}/comments", repository.id),
        comments.map(view),
    )
}
