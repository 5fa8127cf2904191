//! The SQL body of [`ProfileStore`](crate::traits::ProfileStore), for both databases: display
//! names on `users`, reset tokens in `password_resets` (one row per user, by token hash).

/// Implements [`ProfileStore`](crate::traits::ProfileStore) for `$store` inside a module that
/// defines the row helpers of [`sql_policy_store!`](super::sql_policy_store).
macro_rules! sql_profiles_store {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl crate::traits::ProfileStore for $store {
            async fn users_by_email(&self, email: &str) -> Result<Vec<User>> {
                let sql = sqlx::AssertSqlSafe(format!(
                    "{USER_COLUMNS} WHERE lower(u.email) = lower($1) ORDER BY u.id"
                ));
                let rows = sqlx::query_as::<_, UserRow>(sql)
                    .bind(email)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                // The databases' `lower` differ beyond ASCII; the rule is ASCII case only.
                Ok(rows
                    .into_iter()
                    .map(User::from)
                    .filter(|u| u.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email)))
                    .collect())
            }
            async fn set_user_display_name(&self, id: UserId, display_name: Option<String>) -> Result<()> {
                let result = sqlx::query("UPDATE users SET display_name = $1 WHERE id = $2")
                    .bind(&display_name)
                    .bind(id.0)
                    .execute(&self.pool)
                    .await;
                let result = match result {
                    Ok(result) => result,
                    Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                        let name = display_name.unwrap_or_default();
                        return Err(Error::Conflict(format!("the display name {name:?} is taken")));
                    }
                    Err(e) => return Err(db_error(e)),
                };
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("user", id.to_string()));
                }
                Ok(())
            }
            async fn put_password_reset(
                &self,
                user: UserId,
                token_hash: &str,
                expires_at: DateTime<Utc>,
            ) -> Result<()> {
                let result = sqlx::query(
                    "INSERT INTO password_resets (user_id, token_hash, expires_at) \
                     SELECT id, $2, $3 FROM users WHERE id = $1 \
                     ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash, \
                     expires_at = excluded.expires_at",
                )
                .bind(user.0)
                .bind(token_hash)
                .bind(crate::model::at_store_precision(expires_at))
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("user", user.to_string()));
                }
                Ok(())
            }
            async fn take_password_reset(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<UserId>> {
                // One statement: of two requests with the same token, one gets the row.
                let row: Option<(i64, DateTime<Utc>)> =
                    sqlx::query_as("DELETE FROM password_resets WHERE token_hash = $1 RETURNING user_id, expires_at")
                        .bind(token_hash)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_error)?;
                Ok(row.and_then(|(user, expires_at)| (expires_at > now).then_some(UserId(user))))
            }
        }
    };
}

pub(crate) use sql_profiles_store;
