//! The SQL body of [`IdentityStore`](crate::traits::IdentityStore), for both databases: the
//! `user_identities` table, keyed by `(provider, issuer, subject)`.

/// Implements [`IdentityStore`](crate::traits::IdentityStore) for `$store` inside a module that
/// defines the row helpers of [`sql_policy_store!`](super::sql_policy_store).
macro_rules! sql_identities_store {
    ($store:ty, $db:ty) => {
        /// The id of the user `identity` is linked to.
        async fn identity_owner<'e, E>(executor: E, identity: &crate::model::ExternalIdentity) -> Result<Option<UserId>>
        where
            E: sqlx::Executor<'e, Database = $db>,
        {
            let owner: Option<i64> = sqlx::query_scalar(
                "SELECT user_id FROM user_identities WHERE provider = $1 AND issuer = $2 AND subject = $3",
            )
            .bind(&identity.provider)
            .bind(&identity.issuer)
            .bind(&identity.subject)
            .fetch_optional(executor)
            .await
            .map_err(db_error)?;
            Ok(owner.map(UserId))
        }

        fn identity_taken(identity: &crate::model::ExternalIdentity) -> Error {
            Error::Conflict(format!("{identity} is linked to another user"))
        }

        #[async_trait]
        impl crate::traits::IdentityStore for $store {
            async fn user_by_identity(&self, identity: &crate::model::ExternalIdentity) -> Result<Option<User>> {
                identity.validate()?;
                // The primary key of `user_identities`.
                let sql = sqlx::AssertSqlSafe(format!(
                    "{USER_COLUMNS} JOIN user_identities i ON i.user_id = u.id \
                     WHERE i.provider = $1 AND i.issuer = $2 AND i.subject = $3"
                ));
                let row = sqlx::query_as::<_, UserRow>(sql)
                    .bind(&identity.provider)
                    .bind(&identity.issuer)
                    .bind(&identity.subject)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(row.map(User::from))
            }
            async fn link_identity(&self, user: UserId, identity: &crate::model::ExternalIdentity) -> Result<bool> {
                identity.validate()?;
                let mut tx = self.write_tx().await?;
                let inserted = sqlx::query(
                    "INSERT INTO user_identities (user_id, provider, issuer, subject) \
                     SELECT id, $2, $3, $4 FROM users WHERE id = $1 \
                     ON CONFLICT (provider, issuer, subject) DO NOTHING",
                )
                .bind(user.0)
                .bind(&identity.provider)
                .bind(&identity.issuer)
                .bind(&identity.subject)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected()
                    == 1;
                if inserted {
                    tx.commit().await.map_err(db_error)?;
                    return Ok(true);
                }
                // Either the user is missing or the identity was linked already.
                match identity_owner(&mut *tx, identity).await? {
                    Some(owner) if owner == user => Ok(false),
                    Some(_) => Err(identity_taken(identity)),
                    None => Err(Error::not_found("user", user.to_string())),
                }
            }
            async fn create_user_with_identity(
                &self,
                new: NewUser,
                identity: &crate::model::ExternalIdentity,
            ) -> Result<User> {
                identity.validate()?;
                let mut tx = self.write_tx().await?;
                if identity_owner(&mut *tx, identity).await?.is_some() {
                    return Err(identity_taken(identity));
                }
                let user = insert_user(&mut tx, new).await?;
                let linked = sqlx::query(
                    "INSERT INTO user_identities (user_id, provider, issuer, subject) VALUES ($1, $2, $3, $4)",
                )
                .bind(user.id.0)
                .bind(&identity.provider)
                .bind(&identity.issuer)
                .bind(&identity.subject)
                .execute(&mut *tx)
                .await;
                match linked {
                    Ok(_) => {}
                    // Linked by another instance since the check: nothing of this is kept.
                    Err(sqlx::Error::Database(db)) if db.is_unique_violation() => return Err(identity_taken(identity)),
                    Err(e) => return Err(db_error(e)),
                }
                tx.commit().await.map_err(db_error)?;
                Ok(user)
            }
            async fn identities_of(&self, user: UserId) -> Result<Vec<crate::model::ExternalIdentity>> {
                // `user_identities_by_user`.
                let rows = sqlx::query_as::<_, (String, String, String)>(
                    "SELECT provider, issuer, subject FROM user_identities WHERE user_id = $1",
                )
                .bind(user.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
                // Sorted here: the databases' collations need not agree with each other.
                let mut found: Vec<crate::model::ExternalIdentity> = rows
                    .into_iter()
                    .map(|(provider, issuer, subject)| crate::model::ExternalIdentity {
                        provider,
                        issuer,
                        subject,
                    })
                    .collect();
                found.sort();
                Ok(found)
            }
            async fn unlink_identity(&self, identity: &crate::model::ExternalIdentity) -> Result<()> {
                identity.validate()?;
                let result =
                    sqlx::query("DELETE FROM user_identities WHERE provider = $1 AND issuer = $2 AND subject = $3")
                        .bind(&identity.provider)
                        .bind(&identity.issuer)
                        .bind(&identity.subject)
                        .execute(&self.pool)
                        .await
                        .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("linked identity", identity.to_string()));
                }
                Ok(())
            }
        }
    };
}

pub(crate) use sql_identities_store;
