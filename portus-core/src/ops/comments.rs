//! Comments on repositories.

use super::record;
use crate::model::{ActivityAction, Comment, Repository, User};
use crate::traits::{ActivityStore, CommentStore};
use crate::{Error, Result};

/// Longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 16_384;

/// Writes `author`'s comment `body` (Markdown, 1 to [`MAX_COMMENT_CHARS`] characters, not
/// only white space) on `repository`.
pub async fn add<S: CommentStore + ActivityStore + ?Sized>(
    store: &S,
    author: &User,
    repository: &Repository,
    body: &str,
) -> Result<Comment> {
    if body.trim().is_empty() {
        return Err(Error::Rule("a comment needs some text".into()));
    }
    if body.chars().count() > MAX_COMMENT_CHARS {
        return Err(Error::Invalid(format!(
            "a comment has at most {MAX_COMMENT_CHARS} characters"
        )));
    }
    let comment = store.add_comment(repository.id, &author.username, body).await?;
    let action = ActivityAction::RepositoryComment;
    record(store, Some(&author.username), action, repository.name.clone(), None).await?;
    Ok(comment)
}

/// Deletes `comment` from `repository`.
pub async fn delete<S: CommentStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    repository: &Repository,
    comment: &Comment,
) -> Result<()> {
    store.delete_comment(comment.id).await?;
    let details = comment.author.as_ref().map(|author| format!("by {author}"));
    record(
        store,
        actor,
        ActivityAction::RepositoryCommentDelete,
        repository.name.clone(),
        details,
    )
    .await
}
