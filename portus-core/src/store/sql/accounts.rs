//! The SQL body of [`AccountStore`](crate::traits::AccountStore), for both databases.

/// Implements [`AccountStore`](crate::traits::AccountStore) for `$store` inside a module that defines the
/// row helpers of [`sql_policy_store!`](super::sql_policy_store).
macro_rules! sql_accounts_store {
    ($store:ty, $db:ty) => {
        /// `Conflict` when another user than `except` has `email` (compared without regard to
        /// ASCII case): an address leads to one account, so a reset link reaches its owner only.
        async fn refuse_taken_email(
            executor: impl sqlx::Executor<'_, Database = $db>,
            email: &str,
            except: Option<UserId>,
        ) -> Result<()> {
            let taken = sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM users WHERE lower(email) = lower($1) AND id <> $2",
            )
            .bind(email)
            .bind(except.map_or(0, |id| id.0))
            .fetch_one(executor)
            .await
            .map_err(db_error)?;
            if taken > 0 {
                return Err(Error::Conflict("this e-mail address belongs to another account".into()));
            }
            Ok(())
        }

        /// Creates a user with their personal namespace inside `tx` (what
        /// [`AccountStore::create_user`](crate::traits::AccountStore::create_user) commits).
        async fn insert_user(tx: &mut sqlx::Transaction<'static, $db>, new: NewUser) -> Result<User> {
            validate_username(&new.username)?;
            crate::naming::validate_bot(&new)?;
        if let Some(email) = &new.email {
            crate::naming::validate_email(email)?;
            refuse_taken_email(&mut **tx, email, None).await?;
        }
            let now = crate::model::now();
            let inserted = sqlx::query_scalar::<_, i64>(
                "INSERT INTO users (username, email, admin, enabled, password_hash, created_at, bot) VALUES ($1, $2, $3, TRUE, $4, $5, $6) RETURNING id",
            )
            .bind(&new.username)
            .bind(&new.email)
            .bind(new.admin)
            .bind(new.password_hash.as_ref().map(|h| h.0.as_str()))
            .bind(now)
            .bind(new.bot)
            .fetch_one(&mut **tx)
            .await;
            let user_id = match inserted {
                Ok(id) => UserId(id),
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                    return Err(Error::Conflict(format!("user '{}' already exists", new.username)));
                }
                Err(e) => return Err(db_error(e)),
            };
            let mut personal_namespace = None;
            if let Some(base) = namespace_name_for_user(&new.username).filter(|_| !new.bot) {
                let taken_ns = names_with_prefix(
                    tx,
                    "SELECT name FROM namespaces WHERE NOT global AND substr(name, 1, $2) = $1",
                    &base,
                )
                .await?;
                let taken_teams = names_with_prefix(
                    tx,
                    "SELECT name FROM teams WHERE substr(name, 1, $2) = $1",
                    &new.username,
                )
                .await?;
                let ns_name = first_free_name(&base, |n| taken_ns.contains(n));
                let team_name = first_free_name(&new.username, |n| taken_teams.contains(n));
                let team_id = sqlx::query_scalar::<_, i64>("INSERT INTO teams (name, hidden, created_at) VALUES ($1, TRUE, $2) RETURNING id")
                    .bind(&team_name)
                    .bind(now)
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(db_error)?;
                sqlx::query("INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, 'owner')")
                    .bind(team_id)
                    .bind(user_id.0)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_error)?;
                let description = format!("This personal namespace belongs to {}.", new.username);
                let ns_id = sqlx::query_scalar::<_, i64>(
                    "INSERT INTO namespaces (name, description, team_id, visibility, global, personal_owner_id, created_at) \
                     VALUES ($1, $2, $3, 'private', FALSE, $4, $5) RETURNING id",
                )
                .bind(&ns_name)
                .bind(description)
                .bind(team_id)
                .bind(user_id.0)
                .bind(now)
                .fetch_one(&mut **tx)
                .await
                .map_err(db_error)?;
                personal_namespace = Some(NamespaceId(ns_id));
            }
            Ok(User {
                id: user_id,
                username: new.username,
                email: new.email,
                admin: new.admin,
                enabled: true,
                password_hash: new.password_hash,
                personal_namespace,
                failed_logins: 0,
                locked_until: None,
                display_name: None,
                bot: new.bot,
                created_at: now,
            })
        }

        #[async_trait]
        impl crate::traits::LockoutStore for $store {
            async fn record_login_failure(&self, id: UserId) -> Result<u32> {
                let count: Option<i64> =
                    sqlx::query_scalar("UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins")
                        .bind(id.0)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_error)?;
                let count = count.ok_or_else(|| Error::not_found("user", id.to_string()))?;
                Ok(count.clamp(0, u32::MAX as i64) as u32)
            }
            async fn set_user_lock(&self, id: UserId, until: Option<DateTime<Utc>>) -> Result<()> {
                let result = sqlx::query(
                    "UPDATE users SET locked_until = $1, \
                     failed_logins = CASE WHEN $1 IS NULL THEN 0 ELSE failed_logins END WHERE id = $2",
                )
                .bind(until.map(crate::model::at_store_precision))
                .bind(id.0)
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("user", id.to_string()));
                }
                Ok(())
            }
        }

        #[async_trait]
        impl crate::traits::AccountStore for $store {
            async fn create_user(&self, new: NewUser) -> Result<User> {
                let mut tx = self.write_tx().await?;
                let user = insert_user(&mut tx, new).await?;
                tx.commit().await.map_err(db_error)?;
                Ok(user)
            }
            async fn create_first_user(&self, new: NewUser) -> Result<Option<User>> {
                let mut tx = self.write_tx().await?;
                // Taken before the count, so a second caller waits for the first to commit and
                // then counts its user (SQLite's write transaction already excludes others).
                if !LOCK_USERS.is_empty() {
                    sqlx::query(LOCK_USERS).execute(&mut *tx).await.map_err(db_error)?;
                }
                let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT 1 FROM users LIMIT 1) AS any_user")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_error)?;
                if existing > 0 {
                    return Ok(None);
                }
                let user = insert_user(&mut tx, new).await?;
                tx.commit().await.map_err(db_error)?;
                Ok(Some(user))
            }
            async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
                let sql = sqlx::AssertSqlSafe(format!("{USER_COLUMNS} WHERE u.username = $1"));
                let row = sqlx::query_as::<_, UserRow>(sql)
                    .bind(username)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(row.map(User::from))
            }
            async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
                let sql = sqlx::AssertSqlSafe(format!("{USER_COLUMNS} WHERE u.id = $1"));
                let row = sqlx::query_as::<_, UserRow>(sql)
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(row.map(User::from))
            }
            async fn users_page(
                &self,
                query: &crate::model::ListQuery<crate::model::UserSort>,
            ) -> Result<crate::model::ListPage<User>> {
                use crate::model::UserSort;
                use super::sql::lists::{limit_offset, order_by};
                // The username's unique index, the primary key and `users_by_created_at`.
                let keys: &[super::sql::lists::Key] = match query.sort {
                    UserSort::Username => &[("u.username", false), ("u.id", false)],
                    UserSort::Id => &[("u.id", false)],
                    UserSort::CreatedAt => &[("u.created_at", false), ("u.id", false)],
                };
                let (limit, offset) = limit_offset(query);
                let sql = sqlx::AssertSqlSafe(format!(
                    "{USER_COLUMNS}{} LIMIT $1 OFFSET $2",
                    order_by(keys, query.descending)
                ));
                let rows = sqlx::query_as::<_, UserRow>(sql)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                let items: Vec<User> = rows.into_iter().map(User::from).collect();
                let count = || sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM users");
                let total = total_or_count(&self.pool, query, items.len(), count).await?;
                Ok(crate::model::ListPage { items, total })
            }
            async fn set_user_enabled(&self, id: UserId, enabled: bool) -> Result<()> {
                update_user_flag(&self.pool, "UPDATE users SET enabled = $1 WHERE id = $2", id, enabled)
                    .await
            }
            async fn set_user_admin(&self, id: UserId, admin: bool) -> Result<()> {
                update_user_flag(&self.pool, "UPDATE users SET admin = $1 WHERE id = $2", id, admin)
                    .await
            }
            async fn set_password_hash(&self, id: UserId, hash: Option<PasswordHash>) -> Result<()> {
                let mut tx = self.write_tx().await?;
                let result = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                    .bind(hash.map(|h| h.0))
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("user", id.to_string()));
                }
                sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                tx.commit().await.map_err(db_error)
            }
            async fn set_user_email(&self, id: UserId, email: Option<String>) -> Result<()> {
                if let Some(email) = &email {
                    crate::naming::validate_email(email)?;
                    refuse_taken_email(&self.pool, email, Some(id)).await?;
                }
                let result = sqlx::query("UPDATE users SET email = $1 WHERE id = $2")
                    .bind(email)
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("user", id.to_string()));
                }
                Ok(())
            }
            async fn delete_user(&self, id: UserId) -> Result<()> {
                // Memberships, credentials and stars go with the user (ON DELETE CASCADE); the
                // personal namespace loses its owner (ON DELETE SET NULL) and keeps its images.
                let result = sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("user", id.to_string()));
                }
                Ok(())
            }
            async fn create_app_token(
                &self,
                user: UserId,
                label: &str,
                secret_hash: &str,
                limits: &crate::model::TokenLimits,
            ) -> Result<AppToken> {
                if label.trim().is_empty() {
                    return Err(Error::Invalid("application token label must not be empty".into()));
                }
                let now = crate::model::now();
                let limits = crate::model::TokenLimits {
                    expires_at: limits.expires_at.map(crate::model::at_store_precision),
                    scope: limits.scope.clone(),
                };
                let scope = limits.scope.as_ref().map(|s| serde_json::Value::from(s.rules()).to_string());
                let inserted = sqlx::query_scalar::<_, i64>(
                    "INSERT INTO app_tokens (user_id, label, secret_hash, created_at, expires_at, scope) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(user.0)
                .bind(label)
                .bind(secret_hash)
                .bind(now)
                .bind(limits.expires_at)
                .bind(scope)
                .fetch_one(&self.pool)
                .await;
                match inserted {
                    Ok(id) => Ok(AppToken {
                        id: AppTokenId(id),
                        user_id: user,
                        label: label.to_owned(),
                        created_at: now,
                        limits,
                        last_used_at: None,
                    }),
                    Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Err(Error::Conflict(format!(
                        "an application token labelled '{label}' already exists"
                    ))),
                    Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                        Err(Error::not_found("user", user.to_string()))
                    }
                    Err(e) => Err(db_error(e)),
                }
            }
            async fn touch_app_token(&self, id: AppTokenId, at: DateTime<Utc>) -> Result<()> {
                let result = sqlx::query("UPDATE app_tokens SET last_used_at = $1 WHERE id = $2")
                    .bind(crate::model::at_store_precision(at))
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("application token", id.to_string()));
                }
                Ok(())
            }
            async fn app_token_by_hash(&self, secret_hash: &str) -> Result<Option<AppToken>> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {APP_TOKEN_COLUMNS} FROM app_tokens WHERE secret_hash = $1"));
                let row = sqlx::query_as::<_, AppTokenRow>(sql)
                .bind(secret_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
                Ok(row.map(AppToken::from))
            }
            async fn legacy_app_tokens(&self, user: UserId) -> Result<Vec<(AppToken, String)>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {APP_TOKEN_COLUMNS}, secret_hash FROM app_tokens \
                     WHERE user_id = $1 AND substr(secret_hash, 1, 7) <> 'sha256:' ORDER BY id"
                ));
                let rows = sqlx::query_as::<_, LegacyAppTokenRow>(sql)
                    .bind(user.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(rows.into_iter().map(|row| (AppToken::from(row.token), row.secret_hash)).collect())
            }
            async fn set_app_token_hash(&self, id: AppTokenId, secret_hash: &str) -> Result<()> {
                let result = sqlx::query("UPDATE app_tokens SET secret_hash = $1 WHERE id = $2")
                    .bind(secret_hash)
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("application token", id.to_string()));
                }
                Ok(())
            }
            async fn app_tokens_page(
                &self,
                user: UserId,
                query: &crate::model::ListQuery<crate::model::AppTokenSort>,
            ) -> Result<crate::model::ListPage<AppToken>> {
                use crate::model::AppTokenSort;
                use super::sql::lists::{limit_offset, order_by};
                // `app_tokens_by_user` (user, id) and the unique (user, label) serve the filter
                // and order; a user has at most 20, so ordering by time is a tiny sort.
                let keys: &[super::sql::lists::Key] = match query.sort {
                    AppTokenSort::Id => &[("id", false)],
                    AppTokenSort::Label => &[("label", false), ("id", false)],
                    AppTokenSort::CreatedAt => &[("created_at", false), ("id", false)],
                };
                let (limit, offset) = limit_offset(query);
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {APP_TOKEN_COLUMNS} FROM app_tokens WHERE user_id = $1{} LIMIT $2 OFFSET $3",
                    order_by(keys, query.descending)
                ));
                let rows = sqlx::query_as::<_, AppTokenRow>(sql)
                    .bind(user.0)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                let items: Vec<AppToken> = rows.into_iter().map(AppToken::from).collect();
                let count = || {
                    let mut count = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM app_tokens WHERE user_id = ");
                    count.push_bind(user.0);
                    count
                };
                let total = total_or_count(&self.pool, query, items.len(), count).await?;
                Ok(crate::model::ListPage { items, total })
            }
            async fn revoke_app_token(&self, id: AppTokenId) -> Result<()> {
                // Refresh tokens obtained with this token go with it (ON DELETE CASCADE).
                let result = sqlx::query("DELETE FROM app_tokens WHERE id = $1")
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("application token", id.to_string()));
                }
                Ok(())
            }
            async fn create_refresh_token(
                &self,
                user: UserId,
                service: &str,
                app_token: Option<AppTokenId>,
                secret_hash: &str,
            ) -> Result<RefreshToken> {
                let now = crate::model::now();
                let inserted = sqlx::query_scalar::<_, i64>(
                    "INSERT INTO refresh_tokens (user_id, service, app_token_id, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(user.0)
                .bind(service)
                .bind(app_token.map(|t| t.0))
                .bind(secret_hash)
                .bind(now)
                .fetch_one(&self.pool)
                .await;
                match inserted {
                    Ok(id) => Ok(RefreshToken {
                        id: RefreshTokenId(id),
                        user_id: user,
                        service: service.to_owned(),
                        app_token_id: app_token,
                        created_at: now,
                    }),
                    Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                        Err(Error::not_found("user or application token", user.to_string()))
                    }
                    Err(e) => Err(db_error(e)),
                }
            }
            async fn refresh_token_by_hash(&self, secret_hash: &str) -> Result<Option<RefreshToken>> {
                let row = sqlx::query_as::<_, RefreshTokenRow>(
                    "SELECT id, user_id, service, app_token_id, created_at FROM refresh_tokens WHERE secret_hash = $1",
                )
                .bind(secret_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
                Ok(row.map(RefreshToken::from))
            }
            async fn revoke_refresh_tokens(&self, user: UserId) -> Result<u64> {
                let result = sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1")
                    .bind(user.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(result.rows_affected())
            }
        }
    };
}

pub(crate) use sql_accounts_store;
