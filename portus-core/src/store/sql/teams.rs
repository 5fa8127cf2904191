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
            async fn team_members_page(
                &self,
                team: TeamId,
                query: &crate::model::ListQuery<crate::model::MemberSort>,
            ) -> Result<crate::model::ListPage<TeamMember>> {
                use super::sql::lists::{limit_offset, order_by};
                use crate::model::MemberSort;
                // The primary key (team, user) finds a team's members; a team's members are
                // few, so ordering them by name or role is a small sort.
                let keys: &[super::sql::lists::Key] = match query.sort {
                    MemberSort::Username => &[("u.username", false), ("m.user_id", false)],
                    MemberSort::UserId => &[("m.user_id", false)],
                    MemberSort::Role => &[("m.role", false), ("m.user_id", false)],
                };
                let (limit, offset) = limit_offset(query);
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT m.user_id, u.username, m.role FROM team_members m JOIN users u ON u.id = m.user_id \
                     WHERE m.team_id = $1{} LIMIT $2 OFFSET $3",
                    order_by(keys, query.descending)
                ));
                let rows = sqlx::query_as::<_, TeamMemberRow>(sql)
                    .bind(team.0)
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                let items = rows
                    .into_iter()
                    .map(TeamMember::try_from)
                    .collect::<Result<Vec<_>>>()?;
                // Every membership has its user (ON DELETE CASCADE): no join needed.
                let count = || {
                    let mut count =
                        sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM team_members WHERE team_id = ");
                    count.push_bind(team.0);
                    count
                };
                let total = total_or_count(&self.pool, query, items.len(), count).await?;
                Ok(crate::model::ListPage { items, total })
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
            async fn teams_page(
                &self,
                filter: &crate::model::TeamFilter,
                query: &crate::model::ListQuery<crate::model::TeamSort>,
            ) -> Result<crate::model::ListPage<Team>> {
                use super::sql::lists::{limit_offset, order_by};
                use crate::model::TeamSort;
                /// The filter's WHERE clause: `hidden = FALSE` (not `NOT hidden`) so SQLite
                /// walks `teams_listed` (hidden, name, id) and `teams_by_hidden` (hidden, id)
                /// in order; a member's teams come from `team_members_by_user` (user, team).
                fn push_filter(builder: &mut sqlx::QueryBuilder<$db>, filter: &crate::model::TeamFilter) {
                    let mut conditions = builder.separated(" AND ");
                    if !filter.include_hidden {
                        conditions.push("t.hidden = FALSE");
                    }
                    if let Some(user) = filter.member {
                        conditions.push("t.id IN (SELECT m.team_id FROM team_members m WHERE m.user_id = ");
                        conditions.push_bind_unseparated(user.0);
                        conditions.push_unseparated(")");
                    }
                }
                let filtered = !filter.include_hidden || filter.member.is_some();
                let keys: &[super::sql::lists::Key] = match query.sort {
                    TeamSort::Name => &[("t.name", false), ("t.id", false)],
                    TeamSort::Id => &[("t.id", false)],
                };
                let (limit, offset) = limit_offset(query);
                let mut builder =
                    sqlx::QueryBuilder::<$db>::new("SELECT t.id, t.name, t.description, t.hidden FROM teams t");
                if filtered {
                    builder.push(" WHERE ");
                    push_filter(&mut builder, filter);
                }
                builder.push(order_by(keys, query.descending));
                builder
                    .push(" LIMIT ")
                    .push_bind(limit)
                    .push(" OFFSET ")
                    .push_bind(offset);
                let rows = builder
                    .build_query_as::<TeamRow>()
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                let items: Vec<Team> = rows.into_iter().map(Team::from).collect();
                let count = || {
                    let mut count = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM teams t");
                    if filtered {
                        count.push(" WHERE ");
                        push_filter(&mut count, filter);
                    }
                    count
                };
                let total = total_or_count(&self.pool, query, items.len(), count).await?;
                Ok(crate::model::ListPage { items, total })
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
