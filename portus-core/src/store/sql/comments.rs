//! The SQL body of [`CommentStore`](crate::traits::CommentStore), for both databases.

/// Implements [`CommentStore`](crate::traits::CommentStore) for `$store` inside a module that defines the
/// row helpers of [`sql_policy_store!`](super::sql_policy_store).
macro_rules! sql_comments_store {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl crate::traits::CommentStore for $store {
            async fn add_comment(&self, repository: RepositoryId, author: &str, body: &str) -> Result<Comment> {
                let now = crate::model::now();
                let id = sqlx::query_scalar::<_, i64>(
                    "INSERT INTO comments (repository_id, author, body, created_at) \
                     SELECT id, $2, $3, $4 FROM repositories WHERE id = $1 RETURNING id",
                )
                .bind(repository.0)
                .bind(author)
                .bind(body)
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?
                .ok_or_else(|| Error::not_found("repository", repository.to_string()))?;
                Ok(Comment {
                    id: CommentId(id),
                    repository_id: repository,
                    author: Some(author.to_owned()),
                    body: body.to_owned(),
                    created_at: now,
                })
            }
            async fn comments_page(
                &self,
                repository: RepositoryId,
                query: &crate::model::ListQuery<crate::model::CommentSort>,
            ) -> Result<crate::model::ListPage<Comment>> {
                use super::sql::lists::{limit_offset, order_by};
                use crate::model::CommentSort;
                // `comments_by_repository_time` (repository, created_at, id) and
                // `comments_by_repository` (repository, id).
                let keys: &[super::sql::lists::Key] = match query.sort {
                    CommentSort::CreatedAt => &[("created_at", false), ("id", false)],
                    CommentSort::Id => &[("id", false)],
                };
                let (limit, offset) = limit_offset(query);
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT id, repository_id, author, body, created_at FROM comments \
                     WHERE repository_id = $1{} LIMIT $2 OFFSET $3",
                    order_by(keys, query.descending)
                ));
                let rows = sqlx::query_as::<_, (i64, i64, Option<String>, String, DateTime<Utc>)>(sql)
                    .bind(repository.0)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                let items: Vec<Comment> = rows
                    .into_iter()
                    .map(|(id, repository_id, author, body, created_at)| Comment {
                        id: CommentId(id),
                        repository_id: RepositoryId(repository_id),
                        author,
                        body,
                        created_at,
                    })
                    .collect();
                let count = || {
                    let mut count =
                        sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM comments WHERE repository_id = ");
                    count.push_bind(repository.0);
                    count
                };
                let total = total_or_count(&self.pool, query, items.len(), count).await?;
                Ok(crate::model::ListPage { items, total })
            }
            async fn delete_comment(&self, id: CommentId) -> Result<()> {
                let result = sqlx::query("DELETE FROM comments WHERE id = $1")
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("comment", id.to_string()));
                }
                Ok(())
            }
        }
    };
}

pub(crate) use sql_comments_store;
