//! The SQL body of [`NamespaceStore`](crate::traits::NamespaceStore), for both databases.

/// Implements [`NamespaceStore`](crate::traits::NamespaceStore) for `$store` inside a module that defines the
/// row helpers of [`sql_policy_store!`](super::sql_policy_store).
macro_rules! sql_namespaces_store {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl crate::traits::NamespaceStore for $store {
            async fn create_namespace(&self, new: NewNamespace) -> Result<Namespace> {
                validate_namespace_name(&new.name)?;
                let inserted = sqlx::query_scalar::<_, i64>(
                    "INSERT INTO namespaces (name, description, team_id, visibility, global, created_at) VALUES ($1, $2, $3, $4, FALSE, $5) RETURNING id",
                )
                .bind(&new.name)
                .bind(&new.description)
                .bind(new.team_id.0)
                .bind(new.visibility.as_str())
                .bind(crate::model::now())
                .fetch_one(&self.pool)
                .await;
                match inserted {
                    Ok(id) => Ok(Namespace {
                        id: NamespaceId(id),
                        name: new.name,
                        description: new.description,
                        team_id: Some(new.team_id),
                        visibility: new.visibility,
                        global: false,
                        personal_owner: None,
                    }),
                    Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                        Err(Error::Conflict(format!("namespace '{}' already exists", new.name)))
                    }
                    Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                        Err(Error::not_found("team", new.team_id.to_string()))
                    }
                    Err(e) => Err(db_error(e)),
                }
            }
            async fn namespace<'a>(&self, namespace: NamespaceRef<'a>) -> Result<Option<Namespace>> {
                Ok(self.namespace_access(namespace, None).await?.map(|a| a.namespace))
            }
            async fn set_namespace_visibility(&self, id: NamespaceId, visibility: Visibility) -> Result<()> {
                let result = sqlx::query("UPDATE namespaces SET visibility = $1 WHERE id = $2")
                    .bind(visibility.as_str())
                    .bind(id.0)
                    .execute(&self.pool)
                    .await;
                match result {
                    Ok(r) if r.rows_affected() == 0 => Err(Error::not_found("namespace", id.to_string())),
                    Ok(_) => Ok(()),
                    Err(sqlx::Error::Database(db)) if db.is_check_violation() => {
                        Err(Error::Invalid("the global namespace cannot be private".into()))
                    }
                    Err(e) => Err(db_error(e)),
                }
            }
            async fn namespace_by_id(&self, id: NamespaceId) -> Result<Option<Namespace>> {
                let sql = sqlx::AssertSqlSafe(format!("SELECT {NAMESPACE_COLUMNS} FROM namespaces n WHERE n.id = $1"));
                let row = sqlx::query_as::<_, NamespaceRow>(sql)
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                row.map(Namespace::try_from).transpose()
            }
            async fn namespaces_page(
                &self,
                filter: &crate::model::NamespaceFilter,
                query: &crate::model::ListQuery<crate::model::NamespaceSort>,
            ) -> Result<crate::model::ListPage<Namespace>> {
                use crate::model::{NamespaceSort, VisibleNamespaces};
                use super::sql::lists::{limit_offset, order_by};
                /// The filter's WHERE clause, if it has one. Each alternative of the visibility
                /// rule has its index (`namespaces_by_visibility`, `namespaces_listed`,
                /// `namespaces_by_team`), so SQLite counts with one index lookup per
                /// alternative.
                fn push_filter(builder: &mut sqlx::QueryBuilder<$db>, filter: &crate::model::NamespaceFilter) {
                    if filter.visible == VisibleNamespaces::All && filter.team.is_none() && filter.name_contains.is_none() {
                        return;
                    }
                    builder.push(" WHERE ");
                    if let VisibleNamespaces::Some {
                        visibilities,
                        global,
                        teams,
                    } = &filter.visible
                    {
                        builder.push("(");
                        let mut alternatives = 0;
                        if !visibilities.is_empty() {
                            builder.push("n.visibility IN (");
                            let mut list = builder.separated(", ");
                            for visibility in visibilities {
                                list.push_bind(visibility.as_str());
                            }
                            builder.push(")");
                            alternatives += 1;
                        }
                        if *global {
                            // `= TRUE`, not the bare column: SQLite then serves the
                            // alternative from `namespaces_listed` (global, ...).
                            builder.push(if alternatives > 0 { " OR n.global = TRUE" } else { "n.global = TRUE" });
                            alternatives += 1;
                        }
                        if !teams.is_empty() {
                            builder.push(if alternatives > 0 { " OR n.team_id IN (" } else { "n.team_id IN (" });
                            let mut list = builder.separated(", ");
                            for team in teams {
                                list.push_bind(team.0);
                            }
                            builder.push(")");
                            alternatives += 1;
                        }
                        if alternatives == 0 {
                            builder.push("FALSE");
                        }
                        builder.push(")");
                        if filter.team.is_some() {
                            builder.push(" AND ");
                        }
                    }
                    if let Some(team) = filter.team {
                        builder.push("n.team_id = ").push_bind(team.0);
                    }
                    if let Some(text) = &filter.name_contains {
                        if filter.visible == VisibleNamespaces::All && filter.team.is_none() {
                            builder.push("TRUE");
                        }
                        push_name_contains(builder, "n.name", text);
                    }
                }
                // `namespaces_listed` (global DESC, name, id) and the primary key.
                let keys: &[super::sql::lists::Key] = match query.sort {
                    NamespaceSort::Name => &[("n.global", true), ("n.name", false), ("n.id", false)],
                    NamespaceSort::Id => &[("n.id", false)],
                };
                let (limit, offset) = limit_offset(query);
                let mut builder = sqlx::QueryBuilder::<$db>::new(format!("SELECT {NAMESPACE_COLUMNS} FROM namespaces n"));
                push_filter(&mut builder, filter);
                builder.push(order_by(keys, query.descending));
                builder.push(" LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(offset);
                let rows = builder
                    .build_query_as::<NamespaceRow>()
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                let items = rows.into_iter().map(Namespace::try_from).collect::<Result<Vec<_>>>()?;
                let count = || {
                    let mut count = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM namespaces n");
                    push_filter(&mut count, filter);
                    count
                };
                let total = total_or_count(&self.pool, query, items.len(), count).await?;
                Ok(crate::model::ListPage { items, total })
            }
            async fn repository_counts(&self, namespaces: &[NamespaceId]) -> Result<Vec<(NamespaceId, u64)>> {
                // Counted on `repositories_by_namespace`, only for the namespaces asked; a page
                // asks for at most 100, a whole list (`all=true`) in chunks that stay far
                // below both databases' limits on bound parameters.
                let mut counts = Vec::new();
                for chunk in namespaces.chunks(1000) {
                    let mut builder = sqlx::QueryBuilder::<$db>::new(
                        "SELECT namespace_id, COUNT(*) FROM repositories WHERE namespace_id IN (",
                    );
                    let mut list = builder.separated(", ");
                    for namespace in chunk {
                        list.push_bind(namespace.0);
                    }
                    builder.push(") GROUP BY namespace_id");
                    let rows: Vec<(i64, i64)> =
                        builder.build_query_as().fetch_all(&self.pool).await.map_err(db_error)?;
                    counts.extend(rows.into_iter().map(|(namespace, count)| (NamespaceId(namespace), count as u64)));
                }
                Ok(counts)
            }
            async fn delete_namespace(&self, id: NamespaceId) -> Result<()> {
                // Repositories, and through them tags, stars and comments, and webhooks go by
                // ON DELETE CASCADE.
                let mut tx = self.write_tx().await?;
                let global: Option<bool> = sqlx::query_scalar("SELECT global FROM namespaces WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
                match global {
                    None => return Err(Error::not_found("namespace", id.to_string())),
                    Some(true) => return Err(Error::Invalid("the global namespace cannot be deleted".into())),
                    Some(false) => {}
                }
                sqlx::query("DELETE FROM namespaces WHERE id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                tx.commit().await.map_err(db_error)?;
                Ok(())
            }
            async fn update_namespace(&self, id: NamespaceId, update: NamespaceUpdate) -> Result<Namespace> {
                let (set_description, description) = match update.description {
                    Some(description) => (true, description),
                    None => (false, None),
                };
                let mut tx = self.write_tx().await?;
                let global: bool = sqlx::query_scalar("SELECT global FROM namespaces WHERE id = $1")
                    .bind(id.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?
                    .ok_or_else(|| Error::not_found("namespace", id.to_string()))?;
                if global && update.team_id.is_some() {
                    return Err(Error::Invalid("the global namespace belongs to the administrators".into()));
                }
                let result = sqlx::query(
                    "UPDATE namespaces SET team_id = COALESCE($1, team_id), \
                     description = CASE WHEN $2 THEN $3 ELSE description END WHERE id = $4",
                )
                .bind(update.team_id.map(|t| t.0))
                .bind(set_description)
                .bind(description)
                .bind(id.0)
                .execute(&mut *tx)
                .await;
                match result {
                    Ok(_) => {}
                    Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                        return Err(Error::not_found("team", update.team_id.map(|t| t.to_string()).unwrap_or_default()));
                    }
                    Err(e) => return Err(db_error(e)),
                }
                let sql = sqlx::AssertSqlSafe(format!("SELECT {NAMESPACE_COLUMNS} FROM namespaces n WHERE n.id = $1"));
                let row = sqlx::query_as::<_, NamespaceRow>(sql)
                    .bind(id.0)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let namespace = row.try_into()?;
                tx.commit().await.map_err(db_error)?;
                Ok(namespace)
            }
            async fn namespace_access<'a>(
                &self,
                namespace: NamespaceRef<'a>,
                user: Option<UserId>,
            ) -> Result<Option<NamespaceAccess>> {
                // One indexed query per namespace: the namespace row and the caller's role in its team.
                let row = match namespace {
                    NamespaceRef::Global => {
                        let sql = sqlx::AssertSqlSafe(format!(
                            "SELECT {NAMESPACE_COLUMNS}, m.role FROM namespaces n \
                             LEFT JOIN team_members m ON m.team_id = n.team_id AND m.user_id = $1 WHERE n.global"
                        ));
                        sqlx::query_as::<_, AccessRow>(sql)
                            .bind(user.map(|u| u.0))
                            .fetch_optional(&self.pool)
                            .await
                    }
                    NamespaceRef::Named(name) => {
                        let sql = sqlx::AssertSqlSafe(format!(
                            "SELECT {NAMESPACE_COLUMNS}, m.role FROM namespaces n \
                             LEFT JOIN team_members m ON m.team_id = n.team_id AND m.user_id = $1 \
                             WHERE NOT n.global AND n.name = $2"
                        ));
                        sqlx::query_as::<_, AccessRow>(sql)
                            .bind(user.map(|u| u.0))
                            .bind(name)
                            .fetch_optional(&self.pool)
                            .await
                    }
                }
                .map_err(db_error)?;
                row.map(NamespaceAccess::try_from).transpose()
            }
            async fn namespaces_access<'a>(
                &self,
                namespaces: &[NamespaceRef<'a>],
                user: Option<UserId>,
            ) -> Result<Vec<Option<NamespaceAccess>>> {
                let names = named(namespaces);
                let global = namespaces.contains(&NamespaceRef::Global);
                if names.is_empty() && !global {
                    return Ok(Vec::new());
                }
                // Two indexed lookups in one statement (an OR would defeat the name index).
                let select = format!(
                    "SELECT {NAMESPACE_COLUMNS}, m.role FROM namespaces n \
                     LEFT JOIN team_members m ON m.team_id = n.team_id AND m.user_id = "
                );
                let mut builder = sqlx::QueryBuilder::<$db>::new("");
                if !names.is_empty() {
                    builder.push(&select).push_bind(user.map(|u| u.0));
                    builder.push(" WHERE NOT n.global AND n.name IN (");
                    let mut list = builder.separated(", ");
                    for name in &names {
                        list.push_bind((*name).to_owned());
                    }
                    builder.push(")");
                }
                if global {
                    if !names.is_empty() {
                        builder.push(" UNION ALL ");
                    }
                    builder.push(&select).push_bind(user.map(|u| u.0)).push(" WHERE n.global");
                }
                let rows = builder.build_query_as::<AccessRow>().fetch_all(&self.pool).await.map_err(db_error)?;
                let found = rows.into_iter().map(NamespaceAccess::try_from).collect::<Result<Vec<_>>>()?;
                Ok(in_order(namespaces, &found))
            }
            fn change_marker(&self) -> Option<Vec<u8>> {
                self.current_change_marker()
            }
            async fn user_and_namespaces_access<'a>(
                &self,
                username: &str,
                namespaces: &[NamespaceRef<'a>],
            ) -> Result<Option<(User, Vec<Option<NamespaceAccess>>)>> {
                let names = named(namespaces);
                if names.is_empty() || namespaces.contains(&NamespaceRef::Global) {
                    // The global namespace needs a second index lookup: the two-step default.
                    return crate::traits::user_then_namespaces_access(self, username, namespaces).await;
                }
                // One row per namespace found (one with NULL namespace columns if none is), each
                // carrying the user: the token path's two lookups in one round trip.
                let user_columns = USER_COLUMNS
                    .strip_suffix(" FROM users u")
                    .expect("USER_COLUMNS ends with its FROM clause");
                let mut builder = sqlx::QueryBuilder::<$db>::new(user_columns);
                builder.push(format!(
                    ", {NAMESPACE_COLUMNS}, m.role FROM users u \
                     LEFT JOIN namespaces n ON NOT n.global AND n.name IN ("
                ));
                let mut list = builder.separated(", ");
                for name in &names {
                    list.push_bind((*name).to_owned());
                }
                builder
                    .push(") LEFT JOIN team_members m ON m.team_id = n.team_id AND m.user_id = u.id WHERE u.username = ")
                    .push_bind(username.to_owned());
                let rows = builder.build().fetch_all(&self.pool).await.map_err(db_error)?;
                let Some(first) = rows.first() else {
                    return Ok(None);
                };
                let user = User::from(UserRow::from_row(first).map_err(db_error)?);
                let mut found: Vec<NamespaceAccess> = Vec::with_capacity(rows.len());
                for row in &rows {
                    // NULL namespace columns: none of the names was found.
                    let ns_id: Option<i64> = row.try_get("ns_id").map_err(db_error)?;
                    if ns_id.is_some() {
                        found.push(AccessRow::from_row(row).map_err(db_error)?.try_into()?);
                    }
                }
                Ok(Some((user, in_order(namespaces, &found))))
            }
        }
    };
}

pub(crate) use sql_namespaces_store;
