use std::sync::Arc;

use async_trait::async_trait;

use crate::Result;
use crate::model::{Comment, CommentId, CommentSort, ListPage, ListQuery, RepositoryId};

/// Comments on repositories.
///
/// A role of the [`PolicyStore`](super::PolicyStore); every implementation runs the role's
/// conformance suite in `crate::testing`.
#[async_trait]
pub trait CommentStore: Send + Sync {
    /// Adds a comment; `NotFound` if the repository does not exist.
    async fn add_comment(&self, repository: RepositoryId, author: &str, body: &str) -> Result<Comment>;
    /// One page of the comments on a repository, in the order asked, with their number
    /// ([`CommentStoreExt::comments`](super::CommentStoreExt::comments): all of them, oldest
    /// first).
    async fn comments_page(
        &self,
        repository: RepositoryId,
        query: &ListQuery<CommentSort>,
    ) -> Result<ListPage<Comment>>;
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
            async fn comments_page(
                &self,
                repository: RepositoryId,
                query: &ListQuery<CommentSort>,
            ) -> Result<ListPage<Comment>> {
                (**self).comments_page(repository, query).await
            }
            async fn delete_comment(&self, id: CommentId) -> Result<()> {
                (**self).delete_comment(id).await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
