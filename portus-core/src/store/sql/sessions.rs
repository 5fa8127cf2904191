//! The SQL body of [`SessionStore`](crate::traits::SessionStore), for both databases:
//! `web_sessions` (by the hash of the session identifier, gone with their user) and
//! `sign_in_attempts` (by the hash of the attempt's state, deleted when taken).

/// Implements [`SessionStore`](crate::traits::SessionStore) for `$store` inside a module that
/// defines the row helpers of [`sql_policy_store!`](super::sql_policy_store).
macro_rules! sql_sessions_store {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl crate::traits::SessionStore for $store {
            async fn start_session(&self, id_hash: &str, session: &crate::model::WebSession) -> Result<()> {
                let result = sqlx::query(
                    "INSERT INTO web_sessions (id_hash, user_id, password_fingerprint, expires_at) \
                     SELECT $1, id, $3, $4 FROM users WHERE id = $2",
                )
                .bind(id_hash)
                .bind(session.user_id.0)
                .bind(&session.password_fingerprint)
                .bind(crate::model::at_store_precision(session.expires_at))
                .execute(&self.pool)
                .await;
                let result = match result {
                    Ok(result) => result,
                    Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                        return Err(Error::Conflict("the session identifier is taken".into()));
                    }
                    Err(e) => return Err(db_error(e)),
                };
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("user", session.user_id.to_string()));
                }
                Ok(())
            }
            async fn touch_session(
                &self,
                id_hash: &str,
                now: DateTime<Utc>,
                expires_at: DateTime<Utc>,
                min_step: chrono::TimeDelta,
            ) -> Result<Option<crate::model::WebSession>> {
                let row: Option<(i64, Option<String>, DateTime<Utc>)> = sqlx::query_as(
                    "SELECT user_id, password_fingerprint, expires_at FROM web_sessions WHERE id_hash = $1",
                )
                .bind(id_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
                let Some((user_id, password_fingerprint, stored)) = row.filter(|(_, _, at)| *at > now) else {
                    return Ok(None);
                };
                let mut session = crate::model::WebSession {
                    user_id: UserId(user_id),
                    password_fingerprint,
                    expires_at: stored,
                };
                // Most uses only read: a write per page would be a write per click.
                if expires_at - stored >= min_step {
                    let expires_at = crate::model::at_store_precision(expires_at);
                    sqlx::query("UPDATE web_sessions SET expires_at = $2 WHERE id_hash = $1")
                        .bind(id_hash)
                        .bind(expires_at)
                        .execute(&self.pool)
                        .await
                        .map_err(db_error)?;
                    session.expires_at = expires_at;
                }
                Ok(Some(session))
            }
            async fn end_session(&self, id_hash: &str) -> Result<()> {
                sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(())
            }
            async fn end_user_sessions(&self, user: UserId) -> Result<u64> {
                let result = sqlx::query("DELETE FROM web_sessions WHERE user_id = $1")
                    .bind(user.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(result.rows_affected())
            }
            async fn put_sign_in_attempt(
                &self,
                state_hash: &str,
                value: &str,
                expires_at: DateTime<Utc>,
            ) -> Result<()> {
                let result =
                    sqlx::query("INSERT INTO sign_in_attempts (state_hash, value, expires_at) VALUES ($1, $2, $3)")
                        .bind(state_hash)
                        .bind(value)
                        .bind(crate::model::at_store_precision(expires_at))
                        .execute(&self.pool)
                        .await;
                match result {
                    Ok(_) => Ok(()),
                    Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                        Err(Error::Conflict("the attempt's state is taken".into()))
                    }
                    Err(e) => Err(db_error(e)),
                }
            }
            async fn take_sign_in_attempt(&self, state_hash: &str, now: DateTime<Utc>) -> Result<Option<String>> {
                // One statement: of two callbacks with the same state, one gets the row.
                let row: Option<(String, DateTime<Utc>)> =
                    sqlx::query_as("DELETE FROM sign_in_attempts WHERE state_hash = $1 RETURNING value, expires_at")
                        .bind(state_hash)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_error)?;
                Ok(row.and_then(|(value, expires_at)| (expires_at > now).then_some(value)))
            }
            async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
                let mut purged = 0;
                for sql in [
                    "DELETE FROM web_sessions WHERE expires_at <= $1",
                    "DELETE FROM sign_in_attempts WHERE expires_at <= $1",
                ] {
                    purged += sqlx::query(sql)
                        .bind(crate::model::at_store_precision(now))
                        .execute(&self.pool)
                        .await
                        .map_err(db_error)?
                        .rows_affected();
                }
                Ok(purged)
            }
        }
    };
}

pub(crate) use sql_sessions_store;
