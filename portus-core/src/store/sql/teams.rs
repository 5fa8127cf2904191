//! The SQL body of [`TeamStore`](crate::traits::TeamStore), for both databases.

/// Implements [`TeamStore`](crate::traits::TeamStore) for `$store` inside a module that defines the
/// row helpers of [`sql_policy_store!`](super::sql_policy_store).
macro_rules! sql_teams_store {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl crate::traits::TeamStore for $store {
            async fn create_team(&self, name: &str, owner: UserId, description: Option<String>) -> Result<Team> {
                validate_team_name(name)?;
                let mut tx = self.write_tx().await?;
                let inserted = sqlx::query_scalar::<_, i64>(
                    "INSERT INTO teams (name, description, hidden, created_at) VALUES ($1, $2, FALSE, $3) RETURNING id",
                )
                .bind(name)
                .bind(&description)
                .bind(crate::model::now())
                .fetch_one(&mut *tx)
                .await;
                let team_id = match inserted {
                    Ok(id) => TeamId(id),
                    Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                        return Err(Error::Conflict(format!("team '{name}' already exists")));
                    }
                    Err(e) => return Err(db_error(e)),
                };
                let member = sqlx::query("INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, 'owner')")
                    .bind(team_id.0)
                    .bind(owner.0)
                    .execute(&mut *tx)
                    .await;
                match member {
                    Ok(_) => {}
                    Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                        return Err(Error::not_found("user", owner.to_string()));
                    }
                    Err(e) => return Err(db_error(e)),
                }
                tx.commit().await.map_err(db_error)?;
                Ok(Team {
                    id: team_id,
                    name: name.to_owned(),
                    description,
                    hidden: false,
                })
            }
            async fn team_by_name(&self, name: &str) -> Result<Option<Team>> {
                let row =
                    sqlx::query_as::<_, TeamRow>("SELECT id, name, description, hidden FROM teams WHERE name = $1")
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_error)?;
                Ok(row.map(Team::from))
            }
            async fn set_team_member(&self, team: TeamId, user: UserId, role: Role) -> Result<()> {
                let result = sqlx::query(
                    "INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, $3) \
                     ON CONFLICT (team_id, user_id) DO UPDATE SET role = excluded.role",
                )
                .bind(team.0)
                .bind(user.0)
                .bind(role.as_str())
                .execute(&self.pool)
                .await;
                match result {
                    Ok(_) => Ok(()),
                    Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                        user_exists(&self.pool, user).await?;
                        Err(Error::not_found("team", team.to_string()))
                    }
                    Err(e) => Err(db_error(e)),
                }
            }
            async fn team_members(&self, team: TeamId) -> Result<Vec<TeamMember>> {
                let rows = sqlx::query_as::<_, TeamMemberRow>(
                    "SELECT m.user_id, u.username, m.role FROM team_members m JOIN users u ON u.id = m.user_id \
                     WHERE m.team_id = $1 ORDER BY u.username",
                )
                .bind(team.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
                rows.into_iter().map(TeamMember::try_from).collect()
            }
            async fn remove_team_member(&self, team: TeamId, user: UserId) -> Result<()> {
                let result = sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
                    .bind(team.0)
                    .bind(user.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("team member", user.to_string()));
                }
                Ok(())
            }
            async fn team_by_id(&self, id: TeamId) -> Result<Option<Team>> {
                let row = sqlx::query_as::<_, TeamRow>("SELECT id, name, description, hidden FROM teams WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(row.map(Team::from))
            }
            async fn list_teams(&self) -> Result<Vec<Team>> {
                let rows =
                    sqlx::query_as::<_, TeamRow>("SELECT id, name, description, hidden FROM teams ORDER BY name")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_error)?;
                Ok(rows.into_iter().map(Team::from).collect())
            }
            async fn delete_team(&self, id: TeamId) -> Result<()> {
                let mut tx = self.write_tx().await?;
                let owns: Option<i64> = sqlx::query_scalar("SELECT id FROM namespaces WHERE team_id = $1 LIMIT 1")
                    .bind(id.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
                if owns.is_some() {
                    return Err(Error::Conflict(
                        "the team still owns namespaces: delete them or hand them to another team first".into(),
                    ));
                }
                // Memberships go by ON DELETE CASCADE.
                let result = sqlx::query("DELETE FROM teams WHERE id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("team", id.to_string()));
                }
                tx.commit().await.map_err(db_error)?;
                Ok(())
            }
            async fn update_team(&self, id: TeamId, update: TeamUpdate) -> Result<Team> {
                if let Some(name) = &update.name {
                    validate_team_name(name)?;
                }
                let (set_description, description) = match update.description {
                    Some(description) => (true, description),
                    None => (false, None),
                };
                let row = sqlx::query_as::<_, TeamRow>(
                    "UPDATE teams SET name = COALESCE($1, name), \
                     description = CASE WHEN $2 THEN $3 ELSE description END \
                     WHERE id = $4 RETURNING id, name, description, hidden",
                )
                .bind(&update.name)
                .bind(set_description)
                .bind(description)
                .bind(id.0)
                .fetch_optional(&self.pool)
                .await;
                match row {
                    Ok(Some(row)) => Ok(row.into()),
                    Ok(None) => Err(Error::not_found("team", id.to_string())),
                    Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Err(Error::Conflict(format!(
                        "team '{}' already exists",
                        update.name.unwrap_or_default()
                    ))),
                    Err(e) => Err(db_error(e)),
                }
            }
            async fn memberships(&self, user: UserId) -> Result<Vec<(TeamId, Role)>> {
                let rows = sqlx::query_as::<_, MembershipRow>(
                    "SELECT team_id, role FROM team_members WHERE user_id = $1 ORDER BY team_id",
                )
                .bind(user.0)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
                rows.into_iter().map(<(TeamId, Role)>::try_from).collect()
            }
        }
    };
}

pub(crate) use sql_teams_store;
