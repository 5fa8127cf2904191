use std::sync::Arc;

use async_trait::async_trait;

use crate::Result;
use crate::model::{Comment, CommentId, RepositoryId};

/// Comments on repositories.
///
/// A role of the [`PolicyStore`](super::PolicyStore); every implementation runs the role's
/// conformance suite in `crate::testing`.
#[async_trait]
pub trait CommentStore: Send + Sync {
    /// Adds a comment; `NotFound` if the repository does not exist.
    async fn add_comment(&self, repository: RepositoryId, author: &str, body: &str) -> Result<Comment>;
    /// The comments on a repository, oldest first.
    async fn comments(&self, repository: RepositoryId) -> Result<Vec<Comment>>;
    /// Deletes a comment; `NotFound` if it does not exist.
    async fn delete_comment(&self, id: CommentId) -> Result<()>;
}

macro_rules! forward {
    ($wrapper:ty) => {
        #[async_trait]
        impl<T: CommentStore + ?Sized> CommentStore for $wrapper {
            async fn add_comment(&self, repository: RepositoryId, author: &str, body: &str) -> Result<Comment> {
                (**self).add_comment(repository, author, body).await
            }
            async fn comments(&self, repository: RepositoryId) -> Result<Vec<Comment>> {
                (**self).comments(repository).await
            }
            async fn delete_comment(&self, id: CommentId) -> Result<()> {
                (**self).delete_comment(id).await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
