//! The SQL body of [`EventStore`](crate::traits::EventStore), for both databases.

/// Implements [`EventStore`](crate::traits::EventStore) for `$store` inside a module that defines the
/// row helpers of [`sql_policy_store!`](super::sql_policy_store).
macro_rules! sql_events_store {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl crate::traits::EventStore for $store {
            async fn insert_events(&self, events: &[(String, String)]) -> Result<usize> {
                if events.is_empty() {
                    return Ok(0);
                }
                let now = crate::model::now();
                // One multi-row statement per chunk: a single statement is atomic on its own, and each
                // round trip to SQLite's worker thread costs more than the insert itself.
                let statement = |chunk: &[(String, String)]| {
                    let mut builder = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO registry_events (event_id, payload, status, received_at) ",
                    );
                    builder.push_values(chunk, |mut row, (event_id, payload)| {
                        row.push_bind(event_id.clone())
                            .push_bind(payload.clone())
                            .push_bind("pending")
                            .push_bind(now);
                    });
                    builder.push(" ON CONFLICT (event_id) DO NOTHING");
                    builder
                };
                // SQLite allows 32766 bound variables per statement; 4 per row.
                const ROWS_PER_STATEMENT: usize = 1000;
                if events.len() <= ROWS_PER_STATEMENT {
                    let mut builder = statement(events);
                    let result = builder.build().execute(&self.pool).await.map_err(db_error)?;
                    return Ok(result.rows_affected() as usize);
                }
                let mut tx = self.write_tx().await?;
                let mut inserted = 0;
                for chunk in events.chunks(ROWS_PER_STATEMENT) {
                    let mut builder = statement(chunk);
                    inserted += builder
                        .build()
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?
                        .rows_affected() as usize;
                }
                tx.commit().await.map_err(db_error)?;
                Ok(inserted)
            }
            async fn pending_events(&self, limit: usize) -> Result<Vec<StoredEvent>> {
                let rows = sqlx::query_as::<_, StoredEventRow>(
                    "SELECT seq, event_id, payload FROM registry_events WHERE status = 'pending' ORDER BY seq LIMIT $1",
                )
                .bind(limit as i64)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
                Ok(rows.into_iter().map(StoredEvent::from).collect())
            }
            async fn finish_event<'a>(&self, seq: i64, status: EventStatus, error: Option<&'a str>) -> Result<()> {
                let result =
                    sqlx::query("UPDATE registry_events SET status = $1, error = $2, finished_at = $3 WHERE seq = $4")
                        .bind(status.as_str())
                        .bind(error)
                        .bind(crate::model::now())
                        .bind(seq)
                        .execute(&self.pool)
                        .await
                        .map_err(db_error)?;
                if result.rows_affected() == 0 {
                    return Err(Error::not_found("event", seq.to_string()));
                }
                Ok(())
            }
            async fn finish_pull_event(
                &self,
                seq: i64,
                repository: &str,
                tag: &str,
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool> {
                let mut tx = self.write_tx().await?;
                let counted = sqlx::query(crate::store::sql::catalog::RECORD_PULL)
                    .bind(crate::model::at_store_precision(at))
                    .bind(tag)
                    .bind(repository)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                if counted.rows_affected() == 0 {
                    return Ok(false);
                }
                let finished = sqlx::query(
                    "UPDATE registry_events SET status = $1, error = NULL, finished_at = $2 WHERE seq = $3",
                )
                .bind(EventStatus::Applied.as_str())
                .bind(crate::model::now())
                .bind(seq)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                if finished.rows_affected() == 0 {
                    return Err(Error::not_found("event", seq.to_string()));
                }
                tx.commit().await.map_err(db_error)?;
                Ok(true)
            }
            async fn lock_applier(&self) -> Result<crate::traits::ApplierLock> {
                self.applier_lock().await
            }
        }
    };
}

pub(crate) use sql_events_store;
