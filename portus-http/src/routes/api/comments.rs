//! Comments on repositories: written and deleted here (Portus' rules), and brought over from
//! Portus by `portus import portus`.

use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use portus_core::model::{Comment, CommentSort};
use portus_core::ops::comments::MAX_COMMENT_CHARS;
use portus_core::prelude::*;
use portus_core::{ops, permissions};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::lists::SortKey;
use super::schema::{Forbidden, Unprocessable};
use super::{ApiCaller, JsonBody, PageQuery, check, created, no_content, not_found, parse_id};
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

/// A new comment.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewCommentBody {
    /// Markdown, 1 to 16,384 characters, not only white space.
    #[schema(min_length = 1, max_length = 16384)]
    body: String,
}

super::request_bodies! {
    NewCommentBody => Some("comment");
}

/// `POST /api/v1/repositories/{id}/comments`: any signed-in user who may see the repository
/// (administrators, its team's members, everyone in public and protected namespaces).
#[utoipa::path(
    post,
    path = "/api/v1/repositories/{id}/comments",
    params(("id" = i64, Path, description = "Repository id")),
    request_body = NewCommentBody,
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 201, body = CommentView), Forbidden, Unprocessable)
)]
pub(super) async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<NewCommentBody>,
) -> Result<Response, ApiError> {
    let author = caller.user()?;
    let (repository, namespace) = super::repositories::load(&state, &caller, &id).await?;
    let view_of_namespace = caller.namespace_view(&namespace, &state);
    check(permissions::comment(caller.caller, &view_of_namespace), "repository")?;
    if body.body.chars().count() > MAX_COMMENT_CHARS {
        return Err(ApiError::bad_request("a comment has at most 16384 characters"));
    }
    let comment = ops::comments::add(state.store.as_ref(), author, &repository, &body.body).await?;
    Ok(created(view(comment)))
}

/// `DELETE /api/v1/repositories/{id}/comments/{comment_id}`: its author and administrators.
#[utoipa::path(
    delete,
    path = "/api/v1/repositories/{id}/comments/{comment_id}",
    params(
        ("id" = i64, Path, description = "Repository id"),
        ("comment_id" = i64, Path, description = "Comment id"),
    ),
    security(("bearer" = []), ("portusAuth" = [])),
    responses((status = 204), Forbidden)
)]
pub(super) async fn delete(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((id, comment_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let user = caller.user()?;
    let (repository, namespace) = super::repositories::load(&state, &caller, &id).await?;
    let comment_id = parse_id(&comment_id, "comment")?;
    let comment = state
        .store
        .comments(repository.id)
        .await?
        .into_iter()
        .find(|c| c.id.0 == comment_id)
        .ok_or_else(|| not_found("comment"))?;
    let is_author = comment.author.as_deref() == Some(user.username.as_str());
    let view_of_namespace = caller.namespace_view(&namespace, &state);
    check(
        permissions::delete_comment(caller.caller, &view_of_namespace, is_author),
        "comment",
    )?;
    ops::comments::delete(state.store.as_ref(), caller.actor(), &repository, &comment).await?;
    Ok(no_content())
}
