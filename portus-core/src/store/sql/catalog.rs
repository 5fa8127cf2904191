//! The SQL body of [`CatalogStore`](crate::traits::CatalogStore), for both databases.

/// Counts a pull of the tag `$2` of the repository `$3` at `$1`, keeping the later time:
/// events may be applied out of their pulls' order.
pub(crate) const RECORD_PULL: &str = "UPDATE tags SET pull_count = pull_count + 1, \
     pulled_at = CASE WHEN pulled_at IS NULL OR pulled_at < $1 THEN $1 ELSE pulled_at END \
     WHERE name = $2 AND repository_id = (SELECT id FROM repositories WHERE name = $3)";

/// Implements [`CatalogStore`](crate::traits::CatalogStore) for `$store` inside a module that defines the
/// row helpers of [`sql_policy_store!`](super::sql_policy_store).
macro_rules! sql_catalog_store {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl crate::traits::CatalogStore for $store {
            async fn put_tag<'a>(
                &self,
                repository: &str,
                tag: &str,
                manifest: &ManifestRecord,
                pushed_by: Option<&'a str>,
                missing: MissingNamespace,
            ) -> Result<TagChange> {
                let mut tx = self.write_tx().await?;
                let Some(repository_id) = repository_id(&mut tx, repository, missing).await? else {
                    return Ok(TagChange::NamespaceMissing);
                };
                let now = crate::model::now();
                let size = manifest.size.map(|s| s.min(i64::MAX as u64) as i64);
                let existing: Option<(String, Option<String>)> = sqlx::query_as("SELECT digest, pushed_by FROM tags WHERE repository_id = $1 AND name = $2")
                    .bind(repository_id)
                    .bind(tag)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let change = match existing {
                    None => {
                        sqlx::query(
                            "INSERT INTO tags (repository_id, name, digest, media_type, size, pushed_by, created_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        )
                        .bind(repository_id)
                        .bind(tag)
                        .bind(&manifest.digest)
                        .bind(&manifest.media_type)
                        .bind(size)
                        .bind(pushed_by)
                        .bind(now)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                        tag_added(&mut tx, repository_id, &manifest.digest, now).await?;
                        TagChange::Created
                    }
                    Some((previous_digest, previous_pusher)) => {
                        if previous_digest == manifest.digest {
                            // A tag discovered without its pusher takes the pusher a
                            // (redelivered) push names.
                            let restored = previous_pusher.is_none() && pushed_by.is_some();
                            sqlx::query(
                                "UPDATE tags SET size = COALESCE(size, $1), pushed_by = COALESCE(pushed_by, $2) \
                                 WHERE repository_id = $3 AND name = $4",
                            )
                            .bind(size)
                            .bind(pushed_by)
                            .bind(repository_id)
                            .bind(tag)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_error)?;
                            if restored { TagChange::PusherRestored } else { TagChange::Unchanged }
                        } else {
                            sqlx::query(
                                "UPDATE tags SET digest = $1, media_type = $2, size = $3, pushed_by = COALESCE($4, pushed_by), \
                                 updated_at = $5, image_id = NULL, image_size = NULL, platform_sizes = NULL WHERE repository_id = $6 AND name = $7",
                            )
                            .bind(&manifest.digest)
                            .bind(&manifest.media_type)
                            .bind(size)
                            .bind(pushed_by)
                            .bind(now)
                            .bind(repository_id)
                            .bind(tag)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_error)?;
                            // Another manifest now: what the old one held no longer holds
                            // (the tag's row is locked by the update above).
                            let forgotten: Vec<String> = sqlx::query_scalar(
                                "DELETE FROM tag_artifacts WHERE tag_id = \
                                 (SELECT id FROM tags WHERE repository_id = $1 AND name = $2) RETURNING kind",
                            )
                            .bind(repository_id)
                            .bind(tag)
                            .fetch_all(&mut *tx)
                            .await
                            .map_err(db_error)?;
                            let not_images = forgotten.iter().filter(|kind| kind.as_str() != "image").count();
                            add_not_images(&mut tx, repository_id, -(not_images as i64)).await?;
                            tag_moved(&mut tx, repository_id, &previous_digest, &manifest.digest, now).await?;
                            TagChange::Updated { previous_digest }
                        }
                    }
                };
                tx.commit().await.map_err(db_error)?;
                Ok(change)
            }
            async fn ensure_repository(&self, repository: &str, missing: MissingNamespace) -> Result<bool> {
                let mut tx = self.write_tx().await?;
                let found = repository_id(&mut tx, repository, missing).await?.is_some();
                tx.commit().await.map_err(db_error)?;
                Ok(found)
            }
            async fn tag(&self, repository: &str, tag: &str) -> Result<Option<TagRecord>> {
                let sql = sqlx::AssertSqlSafe(format!("{TAG_COLUMNS} WHERE r.name = $1 AND t.name = $2"));
                let row = sqlx::query_as::<_, TagRow>(sql)
                    .bind(repository)
                    .bind(tag)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(row.map(TagRecord::from))
            }
            async fn tag_by_id(&self, id: TagId) -> Result<Option<TagRecord>> {
                let sql = sqlx::AssertSqlSafe(format!("{TAG_COLUMNS} WHERE t.id = $1"));
                let row = sqlx::query_as::<_, TagRow>(sql)
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(row.map(TagRecord::from))
            }
            async fn tags<'a>(&self, repository: Option<&'a str>) -> Result<Vec<TagRecord>> {
                let rows = match repository {
                    Some(repository) => {
                        let sql = sqlx::AssertSqlSafe(format!("{TAG_COLUMNS} WHERE r.name = $1 ORDER BY r.name, t.name"));
                        sqlx::query_as::<_, TagRow>(sql).bind(repository).fetch_all(&self.pool).await
                    }
                    None => {
                        let sql = sqlx::AssertSqlSafe(format!("{TAG_COLUMNS} ORDER BY r.name, t.name"));
                        sqlx::query_as::<_, TagRow>(sql).fetch_all(&self.pool).await
                    }
                }
                .map_err(db_error)?;
                Ok(rows.into_iter().map(TagRecord::from).collect())
            }
            async fn set_repository_description(&self, id: RepositoryId, description: Option<String>) -> Result<()> {
                let result = sqlx::query("UPDATE repositories SET description = $1 WHERE id = $2")
                    .bind(description)
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("repository", id.to_string()));
                }
                Ok(())
            }
            async fn repositories(&self) -> Result<Vec<String>> {
                sqlx::query_scalar("SELECT name FROM repositories ORDER BY name")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)
            }
            async fn list_repositories(&self) -> Result<Vec<Repository>> {
                let sql = sqlx::AssertSqlSafe(format!("{REPOSITORY_COLUMNS} ORDER BY r.name"));
                let rows = sqlx::query_as::<_, RepositoryRow>(sql).fetch_all(&self.pool).await.map_err(db_error)?;
                Ok(rows.into_iter().map(Repository::from).collect())
            }
            async fn repository_by_id(&self, id: RepositoryId) -> Result<Option<Repository>> {
                let sql = sqlx::AssertSqlSafe(format!("{REPOSITORY_COLUMNS} WHERE r.id = $1"));
                let row = sqlx::query_as::<_, RepositoryRow>(sql)
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(row.map(Repository::from))
            }
            async fn search_names(&self, text: &str, limit: usize) -> Result<SearchHits> {
                // LIKE with the wildcards of the text escaped: a substring match both databases
                // run the same way, without reading every row into the process.
                let pattern = super::sql::catalog_pages::contains_pattern(text);
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                /// The rows `sql` finds for the pattern and limit.
                async fn matching<T>(pool: &sqlx::Pool<$db>, sql: String, pattern: &str, limit: i64) -> Result<Vec<T>>
                where
                    T: for<'r> sqlx::FromRow<'r, <$db as sqlx::Database>::Row> + Send + Unpin,
                {
                    sqlx::query_as(sqlx::AssertSqlSafe(sql))
                        .bind(pattern)
                        .bind(limit)
                        .fetch_all(pool)
                        .await
                        .map_err(db_error)
                }
                let rows: Vec<NamespaceRow> = matching(
                    &self.pool,
                    format!(
                        "SELECT {NAMESPACE_COLUMNS} FROM namespaces n \
                         WHERE NOT n.global AND lower(n.name) LIKE $1 ESCAPE '\\' ORDER BY n.name LIMIT $2"
                    ),
                    &pattern,
                    limit,
                )
                .await?;
                let namespaces = rows.into_iter().map(Namespace::try_from).collect::<Result<Vec<_>>>()?;
                let rows: Vec<RepositoryRow> = matching(
                    &self.pool,
                    format!("{REPOSITORY_COLUMNS} WHERE lower(r.name) LIKE $1 ESCAPE '\\' ORDER BY r.name LIMIT $2"),
                    &pattern,
                    limit,
                )
                .await?;
                let repositories = rows.into_iter().map(Repository::from).collect();
                let rows: Vec<TagRow> = matching(
                    &self.pool,
                    format!("{TAG_COLUMNS} WHERE lower(t.name) LIKE $1 ESCAPE '\\' ORDER BY r.name, t.name LIMIT $2"),
                    &pattern,
                    limit,
                )
                .await?;
                let tags = rows.into_iter().map(TagRecord::from).collect();
                Ok(SearchHits {
                    namespaces,
                    repositories,
                    tags,
                })
            }
            async fn repositories_page(
                &self,
                filter: &RepositoryFilter,
                query: &ListQuery<RepositorySort>,
            ) -> Result<ListPage<RepositoryListing>> {
                repositories_page_of(&self.pool, filter, query).await
            }
            async fn tags_page(&self, filter: &TagFilter, query: &ListQuery<TagSort>) -> Result<ListPage<TagRecord>> {
                tags_page_of(&self.pool, filter, query).await
            }
            async fn set_star(&self, user: UserId, repository: RepositoryId, starred: bool) -> Result<()> {
                let result = if starred {
                    sqlx::query(
                        "INSERT INTO stars (user_id, repository_id, created_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (user_id, repository_id) DO NOTHING",
                    )
                    .bind(user.0)
                    .bind(repository.0)
                    .bind(crate::model::now())
                    .execute(&self.pool)
                    .await
                } else {
                    sqlx::query("DELETE FROM stars WHERE user_id = $1 AND repository_id = $2")
                        .bind(user.0)
                        .bind(repository.0)
                        .execute(&self.pool)
                        .await
                };
                match result {
                    Ok(_) if starred => Ok(()),
                    Ok(_) => {
                        // Unstarring is idempotent, but only for a repository and user that exist.
                        user_exists(&self.pool, user).await?;
                        if self.repository_by_id(repository).await?.is_none() {
                            return Err(Error::not_found("repository", repository.to_string()));
                        }
                        Ok(())
                    }
                    Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                        user_exists(&self.pool, user).await?;
                        Err(Error::not_found("repository", repository.to_string()))
                    }
                    Err(e) => Err(db_error(e)),
                }
            }
            async fn starred(&self, user: UserId) -> Result<Vec<RepositoryId>> {
                let ids: Vec<i64> =
                    sqlx::query_scalar("SELECT repository_id FROM stars WHERE user_id = $1 ORDER BY repository_id")
                        .bind(user.0)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_error)?;
                Ok(ids.into_iter().map(RepositoryId).collect())
            }
            async fn delete_tag(&self, repository: &str, tag: &str) -> Result<Option<TagRecord>> {
                let mut tx = self.write_tx().await?;
                let sql = sqlx::AssertSqlSafe(format!("{TAG_COLUMNS} WHERE r.name = $1 AND t.name = $2"));
                let row = sqlx::query_as::<_, TagRow>(sql)
                    .bind(repository)
                    .bind(tag)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let Some(record) = row.map(TagRecord::from) else {
                    return Ok(None);
                };
                // The tag's row locked first, then what it holds read in a statement of its own
                // (see the summaries module).
                let locked = sqlx::AssertSqlSafe(format!("SELECT id FROM tags WHERE id = $1{FOR_UPDATE}"));
                sqlx::query_scalar::<_, i64>(locked)
                    .bind(record.id.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let not_images = not_images_among(&mut tx, &[record.id.0]).await?;
                let repository_id: i64 = sqlx::query_scalar("DELETE FROM tags WHERE id = $1 RETURNING repository_id")
                    .bind(record.id.0)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_error)?;
                add_not_images(&mut tx, repository_id, -not_images).await?;
                tag_removed(&mut tx, repository_id, &record.manifest.digest, 1).await?;
                tx.commit().await.map_err(db_error)?;
                Ok(Some(record))
            }
            async fn delete_tags_by_digest(&self, repository: &str, digest: &str) -> Result<Vec<TagRecord>> {
                let mut tx = self.write_tx().await?;
                let sql = sqlx::AssertSqlSafe(format!(
                    "{TAG_COLUMNS} WHERE r.name = $1 AND t.digest = $2 ORDER BY t.name"
                ));
                let rows = sqlx::query_as::<_, TagRow>(sql)
                    .bind(repository)
                    .bind(digest)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let records: Vec<TagRecord> = rows.into_iter().map(TagRecord::from).collect();
                let locked = sqlx::AssertSqlSafe(format!(
                    "SELECT id FROM tags WHERE digest = $1 AND repository_id = \
                     (SELECT id FROM repositories WHERE name = $2){FOR_UPDATE}"
                ));
                let ids: Vec<i64> = sqlx::query_scalar(locked)
                    .bind(digest)
                    .bind(repository)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let not_images = not_images_among(&mut tx, &ids).await?;
                let deleted: Vec<i64> = sqlx::query_scalar(
                    "DELETE FROM tags WHERE digest = $1 AND repository_id = (SELECT id FROM repositories WHERE name = $2) \
                     RETURNING repository_id",
                )
                .bind(digest)
                .bind(repository)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
                if let Some(repository_id) = deleted.first() {
                    add_not_images(&mut tx, *repository_id, -not_images).await?;
                    tag_removed(&mut tx, *repository_id, digest, deleted.len() as i64).await?;
                }
                tx.commit().await.map_err(db_error)?;
                Ok(records)
            }
            async fn delete_repository(&self, repository: &str) -> Result<Vec<TagRecord>> {
                let mut tx = self.write_tx().await?;
                let sql = sqlx::AssertSqlSafe(format!("{TAG_COLUMNS} WHERE r.name = $1 ORDER BY t.name"));
                let rows = sqlx::query_as::<_, TagRow>(sql)
                    .bind(repository)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let records: Vec<TagRecord> = rows.into_iter().map(TagRecord::from).collect();
                // Tags go with the repository (ON DELETE CASCADE).
                sqlx::query("DELETE FROM repositories WHERE name = $1")
                    .bind(repository)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                tx.commit().await.map_err(db_error)?;
                Ok(records)
            }
        }

        #[async_trait]
        impl crate::traits::TagFactsStore for $store {
            async fn record_image_sizes(&self, digest: &str, sizes: &crate::model::ImageSizes) -> Result<u64> {
                let total = i64::try_from(sizes.total).unwrap_or(i64::MAX);
                let platforms = if sizes.platforms.is_empty() {
                    None
                } else {
                    Some(serde_json::to_string(&sizes.platforms).map_err(|e| Error::Invalid(format!("platform sizes: {e}")))?)
                };
                let result = sqlx::query("UPDATE tags SET image_size = $1, platform_sizes = $2 WHERE digest = $3")
                    .bind(total)
                    .bind(platforms)
                    .bind(digest)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(result.rows_affected())
            }
            async fn record_pull(&self, repository: &str, tag: &str, at: chrono::DateTime<chrono::Utc>) -> Result<bool> {
                let at = crate::model::at_store_precision(at);
                // The later of the two times: events may be applied out of their pulls' order.
                let result = sqlx::query(crate::store::sql::catalog::RECORD_PULL)
                .bind(at)
                .bind(tag)
                .bind(repository)
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
                Ok(result.rows_affected() > 0)
            }
            async fn record_artifact(&self, repository: &str, tag: &str, digest: &str, artifact: &crate::model::Artifact) -> Result<bool> {
                let chart = artifact.chart.as_ref();
                let mut tx = self.write_tx().await?;
                // The tag's row locked first (a move or delete of it waits, or went first), then
                // what it held read in a statement of its own (see the summaries module).
                let locked = sqlx::AssertSqlSafe(format!(
                    "SELECT id, repository_id FROM tags WHERE digest = $1 AND name = $2 \
                     AND repository_id = (SELECT id FROM repositories WHERE name = $3){FOR_UPDATE}"
                ));
                let Some((tag_id, repository_id)): Option<(i64, i64)> = sqlx::query_as(locked)
                    .bind(digest)
                    .bind(tag)
                    .bind(repository)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?
                else {
                    return Ok(false);
                };
                let was_not_image = not_images_among(&mut tx, &[tag_id]).await?;
                sqlx::query(
                    "INSERT INTO tag_artifacts (tag_id, repository_id, kind, artifact_type, chart_name, chart_version, subject) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (tag_id) DO UPDATE SET kind = excluded.kind, artifact_type = excluded.artifact_type, \
                     chart_name = excluded.chart_name, chart_version = excluded.chart_version, subject = excluded.subject",
                )
                .bind(tag_id)
                .bind(repository_id)
                .bind(artifact.kind.as_str())
                .bind(&artifact.artifact_type)
                .bind(chart.map(|c| c.name.as_str()))
                .bind(chart.map(|c| c.version.as_str()))
                .bind(&artifact.subject)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                let is_not_image = i64::from(!artifact.kind.is_scannable());
                add_not_images(&mut tx, repository_id, is_not_image - was_not_image).await?;
                tx.commit().await.map_err(db_error)?;
                Ok(true)
            }
            async fn put_referrer(&self, referrer: &crate::model::Referrer) -> Result<bool> {
                let Some(subject) = referrer.artifact.subject.as_deref() else {
                    return Ok(false);
                };
                let result = sqlx::query(
                    "INSERT INTO referrers (repository_id, digest, subject, kind, artifact_type) \
                     SELECT id, $1, $2, $3, $4 FROM repositories WHERE name = $5 \
                     ON CONFLICT (repository_id, digest) DO NOTHING",
                )
                .bind(&referrer.digest)
                .bind(subject)
                .bind(referrer.artifact.kind.as_str())
                .bind(&referrer.artifact.artifact_type)
                .bind(&referrer.repository)
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
                Ok(result.rows_affected() > 0)
            }
        }
    };
}

pub(crate) use sql_catalog_store;
