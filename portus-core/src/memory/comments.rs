use async_trait::async_trait;

use crate::model::{Comment, CommentId, CommentSort, ListPage, ListQuery, RepositoryId};
use crate::{Error, Result};

use super::InMemoryStore;

#[async_trait]
impl crate::traits::CommentStore for InMemoryStore {
    async fn add_comment(&self, repository: RepositoryId, author: &str, body: &str) -> Result<Comment> {
        let mut state = self.lock();
        if !state.repositories.iter().any(|r| r.id == repository) {
            return Err(Error::not_found("repository", repository.to_string()));
        }
        let comment = Comment {
            id: CommentId(state.next_id()),
            repository_id: repository,
            author: Some(author.to_owned()),
            body: body.to_owned(),
            created_at: crate::model::now(),
        };
        state.comments.push(comment.clone());
        Ok(comment)
    }
    async fn comments_page(
        &self,
        repository: RepositoryId,
        query: &ListQuery<CommentSort>,
    ) -> Result<ListPage<Comment>> {
        let found: Vec<Comment> = self
            .lock()
            .comments
            .iter()
            .filter(|c| c.repository_id == repository)
            .cloned()
            .collect();
        Ok(match query.sort {
            CommentSort::CreatedAt => query.apply(found, |c| c.created_at, |c| c.id),
            CommentSort::Id => query.apply(found, |c| c.id, |c| c.id),
        })
    }
    async fn delete_comment(&self, id: CommentId) -> Result<()> {
        let mut state = self.lock();
        let before = state.comments.len();
        state.comments.retain(|c| c.id != id);
        if state.comments.len() == before {
            return Err(Error::not_found("comment", id.to_string()));
        }
        Ok(())
    }
}
