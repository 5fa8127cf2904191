//! The SQL body of [`ScanStore`](crate::traits::ScanStore), for both databases.

/// Implements [`ScanStore`](crate::traits::ScanStore) for `$store` inside a module that defines the
/// row helpers of [`sql_policy_store!`](super::sql_policy_store).
macro_rules! sql_scans_store {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl crate::traits::ScanStore for $store {
            async fn put_scan_record(&self, record: &ScanRecord) -> Result<()> {
                let mut tx = self.write_tx().await?;
                write_scan_record(&mut tx, record).await?;
                refresh_digest(&mut tx, &record.digest).await?;
                tx.commit().await.map_err(db_error)
            }
            async fn scan_records_of(&self, digests: &[String]) -> Result<Vec<ScanRecord>> {
                let mut records = Vec::new();
                // Bound the statement's parameters: SQLite takes at most 32,766.
                for chunk in digests.chunks(500) {
                    let mut builder = sqlx::QueryBuilder::<$db>::new(
                        "SELECT digest, backend, state, report, error, attempts, updated_at, next_attempt_at FROM scan_records \
                         WHERE digest IN (",
                    );
                    let mut list = builder.separated(", ");
                    for digest in chunk {
                        list.push_bind(digest.clone());
                    }
                    builder.push(") ORDER BY digest, backend");
                    let rows = builder
                        .build_query_as::<ScanRecordRow>()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_error)?;
                    for row in rows {
                        records.push(ScanRecord::try_from(row)?);
                    }
                }
                records.sort_by(|a, b| (&a.digest, &a.backend).cmp(&(&b.digest, &b.backend)));
                Ok(records)
            }
            async fn set_scan_scope(&self, scanners: &[String]) -> Result<bool> {
                let scope = crate::model::normalize_scope(scanners);
                let mut tx = self.write_tx().await?;
                // Locks the scope row (PostgreSQL), so instances starting together rebuild once.
                let sql = sqlx::AssertSqlSafe(format!("SELECT scanners FROM scan_scope WHERE id = 1{FOR_UPDATE}"));
                let stored: Option<String> = sqlx::query_scalar(sql)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let stored: Vec<String> = stored
                    .and_then(|json| serde_json::from_str(&json).ok())
                    .unwrap_or_default();
                if stored == scope {
                    return Ok(false);
                }
                let json = serde_json::to_string(&scope).map_err(|e| Error::Backend {
                    what: WHAT,
                    source: Box::new(e),
                })?;
                sqlx::query(
                    "INSERT INTO scan_scope (id, scanners) VALUES (1, $1) \
                     ON CONFLICT (id) DO UPDATE SET scanners = excluded.scanners",
                )
                .bind(json)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                rebuild_in(&mut tx).await?;
                tx.commit().await.map_err(db_error)?;
                Ok(true)
            }
            async fn scan_scope(&self) -> Result<Vec<String>> {
                let mut tx = self.pool.begin().await.map_err(db_error)?;
                let scope = read_scope(&mut tx).await?;
                tx.commit().await.map_err(db_error)?;
                Ok(scope)
            }
            async fn rebuild_summaries(&self) -> Result<crate::model::SummaryRebuild> {
                let mut tx = self.write_tx().await?;
                let rebuilt = rebuild_in(&mut tx).await?;
                tx.commit().await.map_err(db_error)?;
                Ok(rebuilt)
            }
            async fn scan_records<'a>(&self, digest: Option<&'a str>) -> Result<Vec<ScanRecord>> {
                const COLUMNS: &str =
                    "SELECT digest, backend, state, report, error, attempts, updated_at, next_attempt_at FROM scan_records";
                // Two statements, not `$1 IS NULL OR digest = $1`: with that, SQLite reads every
                // record (reports included) to find one digest's.
                let rows = match digest {
                    Some(digest) => {
                        let sql = sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE digest = $1 ORDER BY backend"));
                        sqlx::query_as::<_, ScanRecordRow>(sql)
                            .bind(digest)
                            .fetch_all(&self.pool)
                            .await
                    }
                    None => {
                        let sql = sqlx::AssertSqlSafe(format!("{COLUMNS} ORDER BY digest, backend"));
                        sqlx::query_as::<_, ScanRecordRow>(sql).fetch_all(&self.pool).await
                    }
                }
                .map_err(db_error)?;
                rows.into_iter().map(ScanRecord::try_from).collect()
            }
            async fn claim_scan(
                &self,
                digest: &str,
                backend: &str,
                seen: Option<DateTime<Utc>>,
                lease_until: DateTime<Utc>,
            ) -> Result<bool> {
                claim_one(self, digest, backend, seen, lease_until).await
            }
            async fn claim_scans(
                &self,
                digest: &str,
                wanted: &[(String, Option<DateTime<Utc>>)],
                lease_until: DateTime<Utc>,
            ) -> Result<Vec<String>> {
                // Never-scanned backends (the common case: a new image) in one INSERT; the
                // database reports which rows it inserted, i.e. which claims were won.
                let unseen: Vec<&str> = wanted
                    .iter()
                    .filter(|(_, seen)| seen.is_none())
                    .map(|(backend, _)| backend.as_str())
                    .collect();
                let mut claimed: Vec<String> = Vec::with_capacity(wanted.len());
                if !unseen.is_empty() {
                    let now = crate::model::now();
                    let lease_until = crate::model::at_store_precision(lease_until);
                    let mut builder = sqlx::QueryBuilder::<$db>::new(
                        "INSERT INTO scan_records (digest, backend, state, attempts, updated_at, next_attempt_at) ",
                    );
                    builder.push_values(&unseen, |mut row, backend| {
                        row.push_bind(digest.to_owned())
                            .push_bind((*backend).to_owned())
                            .push_bind("scanning")
                            .push_bind(0_i64)
                            .push_bind(now)
                            .push_bind(lease_until);
                    });
                    builder.push(" ON CONFLICT (digest, backend) DO NOTHING RETURNING backend");
                    let won: Vec<String> = builder
                        .build_query_scalar()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_error)?;
                    claimed.extend(won);
                }
                for (backend, seen) in wanted.iter().filter(|(_, seen)| seen.is_some()) {
                    if claim_one(self, digest, backend, *seen, lease_until).await? {
                        claimed.push(backend.clone());
                    }
                }
                // In the order asked for, whatever order the database returned them in.
                claimed.sort_by_key(|b| wanted.iter().position(|(w, _)| w == b));
                Ok(claimed)
            }
            async fn put_scan_records(&self, records: &[ScanRecord]) -> Result<()> {
                let mut tx = self.write_tx().await?;
                for record in records {
                    write_scan_record(&mut tx, record).await?;
                }
                let digests: std::collections::BTreeSet<&str> = records.iter().map(|r| r.digest.as_str()).collect();
                for digest in digests {
                    refresh_digest(&mut tx, digest).await?;
                }
                tx.commit().await.map_err(db_error)
            }
        }
    };
}

pub(crate) use sql_scans_store;
