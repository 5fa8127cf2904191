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
            async fn activities(&self, filter: &ActivityFilter) -> Result<Vec<Activity>> {
                let limit = if filter.limit == 0 { 100 } else { filter.limit } as i64;
                let (action_exact, action_prefix) = match filter.action.as_deref() {
                    Some(a) if a.ends_with('.') => (None, Some(a.to_owned())),
                    Some(a) => (Some(a.to_owned()), None),
                    None => (None, None),
                };
                // Optional filters as `?N IS NULL OR ...` keep one static, injection-free statement.
                let rows = sqlx::query_as::<_, ActivityRow>(
                    "SELECT id, at, actor, action, target, details FROM activities \
                     WHERE ($1 IS NULL OR actor = $1) AND ($2 IS NULL OR action = $2) \
                     AND ($3 IS NULL OR substr(action, 1, length($3)) = $3) \
                     AND ($4 IS NULL OR substr(target, 1, length($4)) = $4) AND ($5 IS NULL OR at >= $5) \
                     ORDER BY id DESC LIMIT $6",
                )
                .bind(&filter.actor)
                .bind(action_exact)
                .bind(action_prefix)
                .bind(&filter.target_prefix)
                .bind(filter.since)
                .bind(limit)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
                Ok(rows.into_iter().map(Activity::from).collect())
            }
        }
    };
}

pub(crate) use sql_activity_store;
