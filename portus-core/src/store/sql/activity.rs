//! The SQL body of [`ActivityStore`](crate::traits::ActivityStore), for both databases.

/// Implements [`ActivityStore`](crate::traits::ActivityStore) for `$store` inside a module that defines the
/// row helpers of [`sql_policy_store!`](super::sql_policy_store).
macro_rules! sql_activity_store {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl crate::traits::ActivityStore for $store {
            async fn record_activity(&self, activity: NewActivity) -> Result<()> {
                sqlx::query("INSERT INTO activities (at, actor, action, target, details) VALUES ($1, $2, $3, $4, $5)")
                    .bind(crate::model::now())
                    .bind(activity.actor)
                    .bind(activity.action)
                    .bind(activity.target)
                    .bind(activity.details)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(())
            }
            async fn activities_page(
                &self,
                filter: &ActivityFilter,
                query: &crate::model::ListQuery<crate::model::ActivitySort>,
            ) -> Result<crate::model::ListPage<Activity>> {
                use super::sql::lists::{limit_offset, order_by};
                use crate::model::ActivitySort;
                /// Only the filters given, each a bound value, so the planner sees plain
                /// conditions: an actor's activities come from `activities_by_actor` (actor,
                /// id), an action's from `activities_by_action` (action, id), and `since`/`until` from
                /// `activities_by_time` (at, id). Prefixes are compared exactly with `substr`
                /// (a range would follow the database's collation).
                fn push_filter(builder: &mut sqlx::QueryBuilder<$db>, filter: &ActivityFilter) {
                    // `substr` counts characters and takes an `integer` (PostgreSQL has no
                    // `bigint` variant).
                    fn characters(text: &str) -> i32 {
                        i32::try_from(text.chars().count()).unwrap_or(i32::MAX)
                    }
                    let given = filter.actor.is_some()
                        || filter.action.is_some()
                        || filter.target_prefix.is_some()
                        || filter.since.is_some()
                        || filter.until.is_some()
                        || filter.scope.is_some();
                    if !given {
                        return;
                    }
                    builder.push(" WHERE ");
                    let mut conditions = builder.separated(" AND ");
                    if let Some(actor) = &filter.actor {
                        conditions.push("actor = ").push_bind_unseparated(actor.clone());
                    }
                    match filter.action.as_deref() {
                        Some(prefix) if prefix.ends_with('.') => {
                            conditions
                                .push("substr(action, 1, ")
                                .push_bind_unseparated(characters(prefix))
                                .push_unseparated(") = ")
                                .push_bind_unseparated(prefix.to_owned());
                        }
                        Some(action) => {
                            conditions
                                .push("action = ")
                                .push_bind_unseparated(action.to_owned());
                        }
                        None => {}
                    }
                    if let Some(prefix) = &filter.target_prefix {
                        conditions
                            .push("substr(target, 1, ")
                            .push_bind_unseparated(characters(prefix))
                            .push_unseparated(") = ")
                            .push_bind_unseparated(prefix.clone());
                    }
                    if let Some(since) = filter.since {
                        conditions.push("at >= ").push_bind_unseparated(since);
                    }
                    if let Some(until) = filter.until {
                        conditions.push("at < ").push_bind_unseparated(until);
                    }
                    if let Some(scope) = &filter.scope {
                        // `ActivityScope::admits` in SQL: the caller's own, or an action of a
                        // family on a target of theirs. An empty list adds no alternative (an
                        // empty `IN ()` is not SQL).
                        conditions.push("(actor = ").push_bind_unseparated(scope.actor.clone());
                        for (family, names) in [("team.", &scope.teams), ("namespace.", &scope.namespaces)] {
                            if names.is_empty() {
                                continue;
                            }
                            conditions
                                .push_unseparated(" OR (substr(action, 1, ")
                                .push_bind_unseparated(characters(family))
                                .push_unseparated(") = ")
                                .push_bind_unseparated(family)
                                .push_unseparated(" AND target IN (");
                            for (i, name) in names.iter().enumerate() {
                                if i > 0 {
                                    conditions.push_unseparated(", ");
                                }
                                conditions.push_bind_unseparated(name.clone());
                            }
                            conditions.push_unseparated("))");
                        }
                        if !scope.namespaces.is_empty() {
                            conditions.push_unseparated(
                                " OR ((substr(action, 1, 4) = 'tag.' OR substr(action, 1, 11) = 'repository.') AND (",
                            );
                            for (i, namespace) in scope.namespaces.iter().enumerate() {
                                let prefix = format!("{namespace}/");
                                if i > 0 {
                                    conditions.push_unseparated(" OR ");
                                }
                                conditions
                                    .push_unseparated("substr(target, 1, ")
                                    .push_bind_unseparated(characters(&prefix))
                                    .push_unseparated(") = ")
                                    .push_bind_unseparated(prefix);
                            }
                            conditions.push_unseparated("))");
                        }
                        conditions.push_unseparated(")");
                    }
                }
                let keys: &[super::sql::lists::Key] = match query.sort {
                    ActivitySort::Newest => &[("id", true)],
                    ActivitySort::Id => &[("id", false)],
                    ActivitySort::At => &[("at", false), ("id", false)],
                    ActivitySort::Action => &[("action", false), ("id", false)],
                };
                let count = || {
                    let mut count = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM activities");
                    push_filter(&mut count, filter);
                    count
                };
                let known = known_total(&self.pool, query, count).await?;
                let far = known.and_then(|total| query.from_the_far_end(total));
                let slice = far.as_ref().unwrap_or(query);
                let (limit, offset) = limit_offset(slice);
                // The page's ids first, stepped over on a narrow index (`activities_by_id`, or the
                // filter's), then only those rows read whole: a deep page skips ids, not every
                // earlier activity's details.
                let mut builder = sqlx::QueryBuilder::<$db>::new(
                    "SELECT id, at, actor, action, target, details FROM activities WHERE id IN (SELECT id FROM activities",
                );
                push_filter(&mut builder, filter);
                builder.push(order_by(keys, slice.descending));
                builder
                    .push(" LIMIT ")
                    .push_bind(limit)
                    .push(" OFFSET ")
                    .push_bind(offset)
                    .push(")");
                builder.push(order_by(keys, slice.descending));
                let rows = builder
                    .build_query_as::<ActivityRow>()
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                let mut items: Vec<Activity> = rows.into_iter().map(Activity::from).collect();
                if far.is_some() {
                    items.reverse();
                }
                let total = match known {
                    Some(total) => total,
                    None => total_or_count(&self.pool, query, items.len(), count).await?,
                };
                Ok(crate::model::ListPage { items, total })
            }
        }
    };
}

pub(crate) use sql_activity_store;
