//! Comments on repositories (brought over from Portus by `portus import portus`).

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use portus_core::model::Comment;
use portus_core::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiCaller;
use crate::error::ApiError;
use crate::state::AppState;

/// A comment on a repository.
#[derive(Serialize, ToSchema)]
pub(super) struct CommentView {
    id: i64,
    /// Who wrote it (kept by name: it outlives the author's account).
    author: Option<String>,
    /// Markdown text.
    body: String,
    created_at: DateTime<Utc>,
}

fn view(comment: Comment) -> CommentView {
    CommentView {
        id: comment.id.0,
        author: comment.author,
        body: comment.body,
        created_at: comment.created_at,
    }
}

/// `GET /api/v1/repositories/{id}/comments`: oldest first, for whoever may see the repository.
#[utoipa::path(
    get,
    path = "/api/v1/repositories/{id}/comments",
    params(("id" = i64, Path, description = "Repository id")),
    security((), ("bearer" = []), ("portusAuth" = [])),
    responses((status = 200, body = Vec<CommentView>))
)]
pub(super) async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Vec<CommentView>>, ApiError> {
    let (repository, _) = super::repositories::load(&state, &caller, &id).await?;
    let comments = state.store.comments(repository.id).await?;
    Ok(Json(comments.into_iter().map(view).collect()))
}
