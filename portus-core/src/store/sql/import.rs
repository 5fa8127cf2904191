//! The SQL body of [`ImportStore`](crate::traits::ImportStore), for both databases.

/// Implements [`ImportStore`](crate::traits::ImportStore) for `$store` inside a module that defines the
/// row helpers of [`sql_policy_store!`](super::sql_policy_store).
macro_rules! sql_import_store {
    ($store:ty, $db:ty) => {
        /// The media type assumed for imported tags whose source did not record one.
        const IMPORT_DEFAULT_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";

        /// The id `sql` (one `$1` parameter) finds for `name`, or `NotFound` naming `kind`.
        async fn import_lookup(
            tx: &mut sqlx::Transaction<'static, $db>,
            sql: &'static str,
            kind: &'static str,
            name: &str,
        ) -> Result<i64> {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(name)
                .fetch_optional(&mut **tx)
                .await
                .map_err(db_error)?
                .ok_or_else(|| Error::not_found(kind, name))
        }

        /// Whether `sql` (one `$1` parameter) finds a row for `name`.
        async fn import_exists(tx: &mut sqlx::Transaction<'static, $db>, sql: &'static str, name: &str) -> Result<bool> {
            Ok(sqlx::query_scalar::<_, i64>(sql)
                .bind(name)
                .fetch_optional(&mut **tx)
                .await
                .map_err(db_error)?
                .is_some())
        }

        async fn import_user_id(tx: &mut sqlx::Transaction<'static, $db>, name: &str) -> Result<i64> {
            import_lookup(tx, "SELECT id FROM users WHERE username = $1", "user", name).await
        }

        async fn import_team_id(tx: &mut sqlx::Transaction<'static, $db>, name: &str) -> Result<i64> {
            import_lookup(tx, "SELECT id FROM teams WHERE name = $1", "team", name).await
        }

        async fn import_namespace_id(tx: &mut sqlx::Transaction<'static, $db>, name: &str) -> Result<i64> {
            if name.is_empty() {
                import_lookup(tx, "SELECT id FROM namespaces WHERE global AND $1 = ''", "namespace", name).await
            } else {
                import_lookup(tx, "SELECT id FROM namespaces WHERE NOT global AND name = $1", "namespace", name).await
            }
        }

        async fn import_repository_id(tx: &mut sqlx::Transaction<'static, $db>, name: &str) -> Result<i64> {
            import_lookup(tx, "SELECT id FROM repositories WHERE name = $1", "repository", name).await
        }

        /// Whether the import ledger knows `(source, kind, key)`: a row written by an earlier
        /// import, still here or deleted since.
        async fn import_seen(
            tx: &mut sqlx::Transaction<'static, $db>,
            source: &str,
            kind: &'static str,
            key: &str,
        ) -> Result<bool> {
            Ok(sqlx::query_scalar::<_, String>(
                "SELECT source_key FROM imported_rows WHERE source = $1 AND kind = $2 AND source_key = $3",
            )
            .bind(source)
            .bind(kind)
            .bind(key)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_error)?
            .is_some())
        }

        /// Records `(source, kind, key)` in the import ledger; `false` if it was already there.
        async fn import_mark(
            tx: &mut sqlx::Transaction<'static, $db>,
            source: &str,
            kind: &'static str,
            key: &str,
        ) -> Result<bool> {
            let result = sqlx::query(
                "INSERT INTO imported_rows (source, kind, source_key) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(source)
            .bind(kind)
            .bind(key)
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
            Ok(result.rows_affected() == 1)
        }

        async fn import_accounts(
            tx: &mut sqlx::Transaction<'static, $db>,
            batch: &ImportBatch,
            counts: &mut ImportCounts,
            now: DateTime<Utc>,
        ) -> Result<()> {
            for user in &batch.users {
                if import_seen(tx, &batch.source, "user", &user.source_key).await? {
                    continue;
                }
                if import_exists(tx, "SELECT id FROM users WHERE username = $1", &user.username).await? {
                    return Err(crate::model::import_name_taken("user", &user.username));
                }
                validate_username(&user.username)?;
                let id = sqlx::query_scalar::<_, i64>(
                    "INSERT INTO users (username, email, admin, enabled, password_hash, created_at, locked_until, \
                     display_name, bot) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(&user.username)
                .bind(&user.email)
                .bind(user.admin)
                .bind(user.enabled)
                .bind(&user.password_hash)
                .bind(user.created_at.map(crate::model::at_store_precision).unwrap_or(now))
                .bind(user.locked_until.map(crate::model::at_store_precision))
                .bind(&user.display_name)
                .bind(user.bot)
                .fetch_one(&mut **tx)
                .await
                .map_err(db_error)?;
                for (provider, issuer, subject) in &user.identities {
                    sqlx::query(
                        "INSERT INTO user_identities (user_id, provider, issuer, subject) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(provider)
                    .bind(issuer)
                    .bind(subject)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_error)?;
                }
                import_mark(tx, &batch.source, "user", &user.source_key).await?;
                counts.users += 1;
            }
            for team in &batch.teams {
                if import_seen(tx, &batch.source, "team", &team.source_key).await? {
                    continue;
                }
                if import_exists(tx, "SELECT id FROM teams WHERE name = $1", &team.name).await? {
                    return Err(crate::model::import_name_taken("team", &team.name));
                }
                validate_team_name(&team.name)?;
                sqlx::query("INSERT INTO teams (name, description, hidden, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(&team.name)
                    .bind(&team.description)
                    .bind(team.hidden)
                    .bind(now)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_error)?;
                import_mark(tx, &batch.source, "team", &team.source_key).await?;
                counts.teams += 1;
            }
            for namespace in &batch.namespaces {
                if import_seen(tx, &batch.source, "namespace", &namespace.source_key).await? {
                    continue;
                }
                import_mark(tx, &batch.source, "namespace", &namespace.source_key).await?;
                if namespace.global {
                    // Never private here (see the CHECK on `namespaces`): protected is closest.
                    let visibility = match namespace.visibility {
                        Visibility::Private => Visibility::Protected,
                        other => other,
                    };
                    let result = sqlx::query(
                        "UPDATE namespaces SET description = $1, visibility = $2 WHERE global \
                         AND (description IS DISTINCT FROM $1 OR visibility <> $2)",
                    )
                    .bind(&namespace.description)
                    .bind(visibility.as_str())
                    .execute(&mut **tx)
                    .await
                    .map_err(db_error)?;
                    counts.namespaces += result.rows_affected();
                    continue;
                }
                validate_namespace_name(&namespace.name)?;
                let team = match &namespace.team {
                    Some(team) => Some(import_team_id(tx, team).await?),
                    None => None,
                };
                let owner = match &namespace.personal_owner {
                    Some(user) => Some(import_user_id(tx, user).await?),
                    None => None,
                };
                let existing: Option<(i64, Option<i64>, Option<i64>)> = sqlx::query_as(
                    "SELECT id, team_id, personal_owner_id FROM namespaces WHERE NOT global AND name = $1",
                )
                .bind(&namespace.name)
                .fetch_optional(&mut **tx)
                .await
                .map_err(db_error)?;
                match existing {
                    // Made by a push before the import, for administrators only: it is Portus'.
                    Some((id, None, None)) => {
                        sqlx::query(
                            "UPDATE namespaces SET description = $1, team_id = $2, visibility = $3, \
                             personal_owner_id = $4 WHERE id = $5",
                        )
                        .bind(&namespace.description)
                        .bind(team)
                        .bind(namespace.visibility.as_str())
                        .bind(owner)
                        .bind(id)
                        .execute(&mut **tx)
                        .await
                        .map_err(db_error)?;
                    }
                    Some(_) => return Err(crate::model::import_name_taken("namespace", &namespace.name)),
                    None => {
                        sqlx::query(
                            "INSERT INTO namespaces (name, description, team_id, visibility, global, personal_owner_id, created_at) \
                             VALUES ($1, $2, $3, $4, FALSE, $5, $6)",
                        )
                        .bind(&namespace.name)
                        .bind(&namespace.description)
                        .bind(team)
                        .bind(namespace.visibility.as_str())
                        .bind(owner)
                        .bind(now)
                        .execute(&mut **tx)
                        .await
                        .map_err(db_error)?;
                    }
                }
                counts.namespaces += 1;
            }
            for membership in &batch.memberships {
                if !import_mark(tx, &batch.source, "membership", &membership.source_key).await? {
                    continue;
                }
                let team = import_team_id(tx, &membership.team).await?;
                let user = import_user_id(tx, &membership.username).await?;
                let result = sqlx::query(
                    "INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(team)
                .bind(user)
                .bind(membership.role.as_str())
                .execute(&mut **tx)
                .await
                .map_err(db_error)?;
                counts.memberships += result.rows_affected();
            }
            for token in &batch.app_tokens {
                if !import_mark(tx, &batch.source, "app_token", &token.source_key).await? {
                    continue;
                }
                let user = import_user_id(tx, &token.username).await?;
                let result = sqlx::query(
                    "INSERT INTO app_tokens (user_id, label, secret_hash, created_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(user)
                .bind(&token.label)
                .bind(&token.secret_hash)
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err(db_error)?;
                counts.app_tokens += result.rows_affected();
            }
            Ok(())
        }

        async fn import_catalog(
            tx: &mut sqlx::Transaction<'static, $db>,
            batch: &ImportBatch,
            counts: &mut ImportCounts,
            now: DateTime<Utc>,
        ) -> Result<()> {
            for repository in &batch.repositories {
                if !import_mark(tx, &batch.source, "repository", &repository.source_key).await? {
                    continue;
                }
                if import_exists(tx, "SELECT id FROM repositories WHERE name = $1", &repository.name).await? {
                    // Recorded from the registry already: adopted as it is, with the description.
                    sqlx::query("UPDATE repositories SET description = $1 WHERE name = $2 AND description IS NULL")
                        .bind(&repository.description)
                        .bind(&repository.name)
                        .execute(&mut **tx)
                        .await
                        .map_err(db_error)?;
                    continue;
                }
                let namespace = match NamespaceRef::of_repository(&repository.name).0 {
                    NamespaceRef::Global => import_namespace_id(tx, "").await?,
                    NamespaceRef::Named(name) => import_namespace_id(tx, name).await?,
                };
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO repositories (namespace_id, name, description, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(namespace)
                .bind(&repository.name)
                .bind(&repository.description)
                .bind(repository.created_at.map(crate::model::at_store_precision).unwrap_or(now))
                .fetch_one(&mut **tx)
                .await
                .map_err(db_error)?;
                repository_created(tx, id).await?;
                counts.repositories += 1;
            }
            for tag in &batch.tags {
                if !import_mark(tx, &batch.source, "tag", &tag.source_key).await? {
                    continue;
                }
                let repository = import_repository_id(tx, &tag.repository).await?;
                let created_at = tag.created_at.map(crate::model::at_store_precision).unwrap_or(now);
                let updated_at = tag.updated_at.map(crate::model::at_store_precision).unwrap_or(created_at);
                let result = sqlx::query(
                    "INSERT INTO tags (repository_id, name, digest, media_type, size, pushed_by, created_at, updated_at, \
                     image_id, image_size, pulled_at) VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(repository)
                .bind(&tag.name)
                .bind(&tag.digest)
                .bind(tag.media_type.as_deref().unwrap_or(IMPORT_DEFAULT_MEDIA_TYPE))
                .bind(&tag.pushed_by)
                .bind(created_at)
                .bind(updated_at)
                .bind(&tag.image_id)
                .bind(tag.image_size.map(|s| i64::try_from(s).unwrap_or(i64::MAX)))
                .bind(tag.pulled_at.map(crate::model::at_store_precision))
                .execute(&mut **tx)
                .await
                .map_err(db_error)?;
                if result.rows_affected() == 1 {
                    tag_added(tx, repository, &tag.digest, updated_at).await?;
                }
                counts.tags += result.rows_affected();
            }
            for star in &batch.stars {
                if !import_mark(tx, &batch.source, "star", &star.source_key).await? {
                    continue;
                }
                let user = import_user_id(tx, &star.username).await?;
                let repository = import_repository_id(tx, &star.repository).await?;
                let result = sqlx::query(
                    "INSERT INTO stars (user_id, repository_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(user)
                .bind(repository)
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err(db_error)?;
                counts.stars += result.rows_affected();
            }
            for comment in &batch.comments {
                let repository = import_repository_id(tx, &comment.repository).await?;
                if !import_mark(tx, &batch.source, "comment", &comment.source_key).await? {
                    continue;
                }
                sqlx::query("INSERT INTO comments (repository_id, author, body, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(repository)
                    .bind(&comment.author)
                    .bind(&comment.body)
                    .bind(comment.created_at.map(crate::model::at_store_precision).unwrap_or(now))
                    .execute(&mut **tx)
                    .await
                    .map_err(db_error)?;
                counts.comments += 1;
            }
            Ok(())
        }

        async fn import_webhooks_and_activities(
            tx: &mut sqlx::Transaction<'static, $db>,
            batch: &ImportBatch,
            counts: &mut ImportCounts,
            now: DateTime<Utc>,
        ) -> Result<()> {
            for webhook in &batch.webhooks {
                let namespace = import_namespace_id(tx, &webhook.namespace).await?;
                if !import_mark(tx, &batch.source, "webhook", &webhook.source_key).await? {
                    continue;
                }
                let id = sqlx::query_scalar::<_, i64>(
                    "INSERT INTO webhooks (namespace_id, name, url, method, content_type, username, password, enabled, \
                     created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(namespace)
                .bind(&webhook.name)
                .bind(&webhook.url)
                .bind(&webhook.method)
                .bind(&webhook.content_type)
                .bind(&webhook.username)
                .bind(&webhook.password)
                .bind(webhook.enabled)
                .bind(webhook.created_at.map(crate::model::at_store_precision).unwrap_or(now))
                .fetch_one(&mut **tx)
                .await
                .map_err(db_error)?;
                for (name, value) in &webhook.headers {
                    sqlx::query(
                        "INSERT INTO webhook_headers (webhook_id, name, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(name)
                    .bind(value)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_error)?;
                }
                for delivery in &webhook.deliveries {
                    sqlx::query(
                        "INSERT INTO webhook_deliveries (webhook_id, uuid, status, request_header, request_body, \
                         response_header, response_body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(&delivery.uuid)
                    .bind(delivery.status)
                    .bind(&delivery.request_header)
                    .bind(&delivery.request_body)
                    .bind(&delivery.response_header)
                    .bind(&delivery.response_body)
                    .bind(delivery.created_at.map(crate::model::at_store_precision).unwrap_or(now))
                    .execute(&mut **tx)
                    .await
                    .map_err(db_error)?;
                }
                counts.webhooks += 1;
            }
            for activity in &batch.activities {
                if !import_mark(tx, &batch.source, "activity", &activity.source_key).await? {
                    continue;
                }
                sqlx::query("INSERT INTO activities (at, actor, action, target, details) VALUES ($1, $2, $3, $4, $5)")
                    .bind(activity.at.map(crate::model::at_store_precision).unwrap_or(now))
                    .bind(&activity.actor)
                    .bind(&activity.action)
                    .bind(&activity.target)
                    .bind(&activity.details)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_error)?;
                counts.activities += 1;
            }
            Ok(())
        }

        #[async_trait]
        impl crate::traits::ImportStore for $store {
            async fn import_batch(&self, batch: &ImportBatch) -> Result<ImportCounts> {
                let now = crate::model::now();
                let mut counts = ImportCounts::default();
                let mut tx = self.write_tx().await?;
                import_accounts(&mut tx, batch, &mut counts, now).await?;
                import_catalog(&mut tx, batch, &mut counts, now).await?;
                import_webhooks_and_activities(&mut tx, batch, &mut counts, now).await?;
                tx.commit().await.map_err(db_error)?;
                Ok(counts)
            }
        }
    };
}

pub(crate) use sql_import_store;
