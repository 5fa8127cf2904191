//! Upkeep of the kept per-repository figures ([`RepositorySummary`](crate::model::RepositorySummary)),
//! for both databases: every write that adds, moves or removes a tag, or changes a scan record,
//! calls these inside its own transaction.
//!
//! A repository's `tags`, `tags_failed` and `tags_done` count tags; its severity columns count
//! the findings of its distinct images, each digest once (see
//! [`RepositorySummary`](crate::model::RepositorySummary)). So a tag added adds its image's
//! findings only when it is the repository's first tag of that digest, a tag removed or moved
//! away subtracts them only when it was the last, and a digest's new figures change each
//! repository holding it once, not once per tag.
//!
//! On PostgreSQL two instances may write at once. Each change of a digest's figures, and each
//! tag added to or removed from a digest, first locks that digest's `digest_summaries` row
//! (creating it): a scan's new figures then reach every tag committed before it, and a tag added
//! meanwhile reads the figures committed after. Locks are taken digest row first, repository
//! rows after, in every path. Whether a repository's other tags still point at a digest is
//! read after that lock too, in a statement of its own (READ COMMITTED: a new snapshot), so it
//! sees every tag change to that digest committed before and none still to come: of two tags of
//! one image pushed (or deleted) at once, exactly one finds itself the first (or the last).

use crate::model::{DigestFigures, RepositorySummary};
use crate::traits::Severity;

/// The severity columns of both summary tables, in [`Severity::ALL`] order.
pub(crate) const SEVERITY_COLUMNS: [&str; 6] = ["unknown", "negligible", "low", "medium", "high", "critical"];

/// A signed change of a repository's figures.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delta {
    pub(crate) tags: i64,
    pub(crate) failed: i64,
    pub(crate) done: i64,
    pub(crate) severities: [i64; 6],
}

impl Delta {
    /// `tags` tags (negative: removed) of an image with `figures`, whose findings count
    /// `images` times (1 when the image is new to the repository, -1 when it left it, else 0).
    pub(crate) fn of(figures: &DigestFigures, tags: i64, images: i64) -> Delta {
        let mut severities = [0; 6];
        for (i, severity) in Severity::ALL.iter().enumerate() {
            let n = figures.counts.get(severity).copied().unwrap_or(0);
            severities[i] = i64::try_from(n).unwrap_or(i64::MAX).saturating_mul(images);
        }
        Delta {
            tags: 0,
            failed: i64::from(figures.failed) * tags,
            done: i64::from(figures.done) * tags,
            severities,
        }
    }

    /// What changes for a repository with `tags` tags of one image (`images` 1: the image
    /// counts in it) when that image's figures go from `old` to `new`.
    pub(crate) fn between(old: &DigestFigures, new: &DigestFigures, tags: i64, images: i64) -> Delta {
        Delta::of(new, tags, images).minus(&Delta::of(old, tags, images))
    }

    /// This change less `other`.
    pub(crate) fn minus(&self, other: &Delta) -> Delta {
        let mut severities = [0; 6];
        for (i, slot) in severities.iter_mut().enumerate() {
            *slot = self.severities[i] - other.severities[i];
        }
        Delta {
            tags: self.tags - other.tags,
            failed: self.failed - other.failed,
            done: self.done - other.done,
            severities,
        }
    }

    pub(crate) fn is_zero(&self) -> bool {
        *self == Delta::default()
    }
}

/// Figures from the eight columns `failed, done, unknown, ..., critical`.
pub(crate) fn figures_from_columns(failed: i64, done: i64, severities: [i64; 6]) -> DigestFigures {
    DigestFigures {
        failed: failed != 0,
        done: done != 0,
        counts: tally(severities),
    }
}

/// A tally from the six severity columns (zeros left out).
pub(crate) fn tally(severities: [i64; 6]) -> crate::model::SeverityTally {
    Severity::ALL
        .iter()
        .zip(severities)
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| (*s, u64::try_from(n).unwrap_or(0)))
        .collect()
}

/// The six severity columns of a tally.
pub(crate) fn columns(tally: &crate::model::SeverityTally) -> [i64; 6] {
    let mut columns = [0; 6];
    for (i, severity) in Severity::ALL.iter().enumerate() {
        columns[i] = tally.get(severity).map_or(0, |n| i64::try_from(*n).unwrap_or(i64::MAX));
    }
    columns
}

/// A summary from its stored columns.
pub(crate) fn summary_from_columns(
    tags: i64,
    latest_push: Option<chrono::DateTime<chrono::Utc>>,
    failed: i64,
    done: i64,
    not_images: i64,
    severities: [i64; 6],
) -> RepositorySummary {
    let clamp = |n: i64| u64::try_from(n).unwrap_or(0);
    RepositorySummary {
        tags: clamp(tags),
        latest_push,
        tags_failed: clamp(failed),
        tags_done: clamp(done),
        tags_not_images: clamp(not_images),
        counts: tally(severities),
    }
}

/// Defines, inside [`sql_policy_store!`](super::sql_policy_store), the upkeep functions the
/// writes call: `lock_digest_figures`, `add_to_repository`, `tag_added`, `tag_removed`,
/// `tag_moved`, `refresh_digest`, `read_scope` and `rebuild_in`.
macro_rules! sql_summary_upkeep {
    ($db:ty) => {
        use super::sql::summaries::{Delta, SEVERITY_COLUMNS, columns, figures_from_columns};
        use crate::model::DigestFigures;

        /// Locks (creating) the figures row of `digest` and returns its figures.
        async fn lock_digest_figures(tx: &mut sqlx::Transaction<'static, $db>, digest: &str) -> Result<DigestFigures> {
            sqlx::query("INSERT INTO digest_summaries (digest) VALUES ($1) ON CONFLICT (digest) DO NOTHING")
                .bind(digest)
                .execute(&mut **tx)
                .await
                .map_err(db_error)?;
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT failed, done, unknown, negligible, low, medium, high, critical FROM digest_summaries \
                 WHERE digest = $1{FOR_UPDATE}"
            ));
            let row: (i64, i64, i64, i64, i64, i64, i64, i64) = sqlx::query_as(sql)
                .bind(digest)
                .fetch_one(&mut **tx)
                .await
                .map_err(db_error)?;
            Ok(figures_from_columns(row.0, row.1, [row.2, row.3, row.4, row.5, row.6, row.7]))
        }

        /// Adds `delta` to a repository's figures; with `push`, a push at that time.
        async fn add_to_repository(
            tx: &mut sqlx::Transaction<'static, $db>,
            repository_id: i64,
            delta: &Delta,
            push: Option<DateTime<Utc>>,
        ) -> Result<()> {
            if delta.is_zero() && push.is_none() {
                return Ok(());
            }
            let mut sql = String::from(
                "UPDATE repository_summaries SET tags = tags + $1, tags_failed = tags_failed + $2, tags_done = tags_done + $3",
            );
            for (i, column) in SEVERITY_COLUMNS.iter().enumerate() {
                sql.push_str(&format!(", {column} = {column} + ${}", i + 4));
            }
            sql.push_str(
                ", latest_push = CASE WHEN $10 IS NOT NULL AND (latest_push IS NULL OR latest_push < $10) \
                 THEN $10 ELSE latest_push END WHERE repository_id = $11",
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(delta.tags)
                .bind(delta.failed)
                .bind(delta.done);
            for n in delta.severities {
                query = query.bind(n);
            }
            query
                .bind(push)
                .bind(repository_id)
                .execute(&mut **tx)
                .await
                .map_err(db_error)?;
            Ok(())
        }

        /// Adds `n` (negative: removes) to the tags of `repository_id` holding no image.
        async fn add_not_images(tx: &mut sqlx::Transaction<'static, $db>, repository_id: i64, n: i64) -> Result<()> {
            if n == 0 {
                return Ok(());
            }
            sqlx::query("UPDATE repository_summaries SET tags_not_images = tags_not_images + $1 WHERE repository_id = $2")
                .bind(n)
                .bind(repository_id)
                .execute(&mut **tx)
                .await
                .map_err(db_error)?;
            Ok(())
        }

        /// How many of the tags `ids` (locked by the caller) hold no image.
        async fn not_images_among(tx: &mut sqlx::Transaction<'static, $db>, ids: &[i64]) -> Result<i64> {
            if ids.is_empty() {
                return Ok(0);
            }
            let mut builder = sqlx::QueryBuilder::<$db>::new(
                "SELECT COUNT(*) FROM tag_artifacts WHERE kind <> 'image' AND tag_id IN (",
            );
            let mut list = builder.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            builder.push(")");
            builder
                .build_query_scalar::<i64>()
                .fetch_one(&mut **tx)
                .await
                .map_err(db_error)
        }

        /// After a repository was inserted: its figures start at nothing.
        async fn repository_created(tx: &mut sqlx::Transaction<'static, $db>, repository_id: i64) -> Result<()> {
            sqlx::query("INSERT INTO repository_summaries (repository_id) VALUES ($1)")
                .bind(repository_id)
                .execute(&mut **tx)
                .await
                .map_err(db_error)?;
            Ok(())
        }

        /// After a tag of `repository_id` pointing at `digest` was inserted, pushed at `at`.
        async fn tag_added(
            tx: &mut sqlx::Transaction<'static, $db>,
            repository_id: i64,
            digest: &str,
            at: DateTime<Utc>,
        ) -> Result<()> {
            // The lock first, then the count (see the module's documentation).
            let figures = lock_digest_figures(tx, digest).await?;
            let first = tags_of_image(tx, repository_id, digest).await? == 1;
            let delta = Delta {
                tags: 1,
                ..Delta::of(&figures, 1, i64::from(first))
            };
            add_to_repository(tx, repository_id, &delta, Some(at)).await
        }

        /// How many tags of `repository_id` point at `digest`, counted up to 2 (enough to tell
        /// none, the one just added, or others too) on the `(repository_id, digest)` index.
        /// Called after `lock_digest_figures(digest)` only, so that it sees every committed
        /// change of those tags (see the module's documentation).
        async fn tags_of_image(
            tx: &mut sqlx::Transaction<'static, $db>,
            repository_id: i64,
            digest: &str,
        ) -> Result<i64> {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM (SELECT 1 FROM tags WHERE repository_id = $1 AND digest = $2 LIMIT 2) AS image_tags",
            )
            .bind(repository_id)
            .bind(digest)
            .fetch_one(&mut **tx)
            .await
            .map_err(db_error)
        }

        /// After `count` tags of `repository_id` pointing at `digest` were deleted.
        async fn tag_removed(
            tx: &mut sqlx::Transaction<'static, $db>,
            repository_id: i64,
            digest: &str,
            count: i64,
        ) -> Result<()> {
            if count == 0 {
                return Ok(());
            }
            // The lock first, then the count (see the module's documentation).
            let figures = lock_digest_figures(tx, digest).await?;
            let last = tags_of_image(tx, repository_id, digest).await? == 0;
            let delta = Delta {
                tags: -count,
                ..Delta::of(&figures, -count, -i64::from(last))
            };
            add_to_repository(tx, repository_id, &delta, None).await?;
            reset_latest_push(tx, repository_id).await
        }

        /// After a tag of `repository_id` moved from `old` to `new` at `at`.
        async fn tag_moved(
            tx: &mut sqlx::Transaction<'static, $db>,
            repository_id: i64,
            old: &str,
            new: &str,
            at: DateTime<Utc>,
        ) -> Result<()> {
            // Both digest rows in one order, so two moves in opposite directions cannot deadlock.
            let (first, second) = if old <= new { (old, new) } else { (new, old) };
            let first_figures = lock_digest_figures(tx, first).await?;
            let second_figures = lock_digest_figures(tx, second).await?;
            let (old_figures, new_figures) = if old <= new {
                (first_figures, second_figures)
            } else {
                (second_figures, first_figures)
            };
            // Both locks first, then the counts (see the module's documentation).
            let left = tags_of_image(tx, repository_id, old).await? == 0;
            let arrived = tags_of_image(tx, repository_id, new).await? == 1;
            let delta = Delta::of(&new_figures, 1, i64::from(arrived))
                .minus(&Delta::of(&old_figures, 1, i64::from(left)));
            add_to_repository(tx, repository_id, &delta, Some(at)).await
        }

        /// The newest push of a repository's remaining tags (after deletes).
        async fn reset_latest_push(tx: &mut sqlx::Transaction<'static, $db>, repository_id: i64) -> Result<()> {
            sqlx::query(
                "UPDATE repository_summaries SET latest_push = \
                 (SELECT MAX(updated_at) FROM tags WHERE repository_id = $1) WHERE repository_id = $1",
            )
            .bind(repository_id)
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
            Ok(())
        }

        /// The scanners in scope, as stored.
        async fn read_scope(tx: &mut sqlx::Transaction<'static, $db>) -> Result<Vec<String>> {
            let stored: Option<String> = sqlx::query_scalar("SELECT scanners FROM scan_scope WHERE id = 1")
                .fetch_optional(&mut **tx)
                .await
                .map_err(db_error)?;
            Ok(stored
                .and_then(|json| serde_json::from_str(&json).ok())
                .unwrap_or_default())
        }

        /// After scan records of `digest` changed: recomputes its figures and passes the change
        /// on to every repository with tags of it.
        async fn refresh_digest(tx: &mut sqlx::Transaction<'static, $db>, digest: &str) -> Result<()> {
            let old = lock_digest_figures(tx, digest).await?;
            let scope = read_scope(tx).await?;
            let rows = sqlx::query_as::<_, ScanRecordRow>(
                "SELECT digest, backend, state, report, error, attempts, updated_at, next_attempt_at FROM scan_records \
                 WHERE digest = $1",
            )
            .bind(digest)
            .fetch_all(&mut **tx)
            .await
            .map_err(db_error)?;
            let records = rows.into_iter().map(ScanRecord::try_from).collect::<Result<Vec<_>>>()?;
            let new = DigestFigures::of(digest, &records, &scope);
            if new == old {
                return Ok(());
            }
            write_digest_figures(tx, digest, &new).await?;
            let counts: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT repository_id, COUNT(*) FROM tags WHERE digest = $1 GROUP BY repository_id",
            )
            .bind(digest)
            .fetch_all(&mut **tx)
            .await
            .map_err(db_error)?;
            // Tags in a state change per tag; findings once per repository holding the image.
            for (repository_id, count) in counts {
                add_to_repository(tx, repository_id, &Delta::between(&old, &new, count, 1), None).await?;
            }
            Ok(())
        }

        /// Stores the figures of `digest` (its row exists).
        async fn write_digest_figures(
            tx: &mut sqlx::Transaction<'static, $db>,
            digest: &str,
            figures: &DigestFigures,
        ) -> Result<()> {
            let severities = columns(&figures.counts);
            let mut query = sqlx::query(
                "UPDATE digest_summaries SET failed = $1, done = $2, unknown = $3, negligible = $4, low = $5, \
                 medium = $6, high = $7, critical = $8 WHERE digest = $9",
            )
            .bind(i64::from(figures.failed))
            .bind(i64::from(figures.done));
            for n in severities {
                query = query.bind(n);
            }
            query.bind(digest).execute(&mut **tx).await.map_err(db_error)?;
            Ok(())
        }

        /// Recomputes every figure inside `tx`: each scanned digest's from its records (read
        /// in chunks of whole digests: reports can be large), then each repository's by one
        /// query over its tags and its distinct digests.
        async fn rebuild_in(tx: &mut sqlx::Transaction<'static, $db>) -> Result<crate::model::SummaryRebuild> {
            const CHUNK: usize = 1000;
            let scope = read_scope(tx).await?;
            let mut figures: Vec<(String, DigestFigures)> = Vec::new();
            let mut after = String::new();
            loop {
                let rows = sqlx::query_as::<_, ScanRecordRow>(
                    "SELECT digest, backend, state, report, error, attempts, updated_at, next_attempt_at FROM scan_records \
                     WHERE digest > $1 ORDER BY digest, backend LIMIT $2",
                )
                .bind(&after)
                .bind(CHUNK as i64)
                .fetch_all(&mut **tx)
                .await
                .map_err(db_error)?;
                let full = rows.len() == CHUNK;
                let mut records = rows.into_iter().map(ScanRecord::try_from).collect::<Result<Vec<_>>>()?;
                if full && let Some(last) = records.last().map(|r| r.digest.clone()) {
                    // The last digest may go on in the next chunk: read it whole there.
                    let whole: Vec<ScanRecord> = records.iter().filter(|r| r.digest != last).cloned().collect();
                    if !whole.is_empty() {
                        records = whole;
                    }
                }
                for group in records.chunk_by(|a, b| a.digest == b.digest) {
                    let digest = group[0].digest.clone();
                    figures.push((digest.clone(), DigestFigures::of(&digest, group, &scope)));
                }
                match records.last() {
                    Some(last) if full => after = last.digest.clone(),
                    _ => break,
                }
            }
            sqlx::query("DELETE FROM digest_summaries")
                .execute(&mut **tx)
                .await
                .map_err(db_error)?;
            let digests = figures.len() as u64;
            for chunk in figures.chunks(500) {
                let mut builder = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO digest_summaries (digest, failed, done, unknown, negligible, low, medium, high, critical) ",
                );
                builder.push_values(chunk, |mut row, (digest, f)| {
                    row.push_bind(digest.clone())
                        .push_bind(i64::from(f.failed))
                        .push_bind(i64::from(f.done));
                    for n in columns(&f.counts) {
                        row.push_bind(n);
                    }
                });
                builder.build().execute(&mut **tx).await.map_err(db_error)?;
            }
            let kept = summaries_in(tx, KEPT_SUMMARIES).await?;
            let recomputed = summaries_in(tx, RECOMPUTED_SUMMARIES).await?;
            let corrected = recomputed
                .iter()
                .filter(|(id, summary)| kept.get(id) != Some(summary))
                .count() as u64;
            sqlx::query("DELETE FROM repository_summaries")
                .execute(&mut **tx)
                .await
                .map_err(db_error)?;
            let sql = sqlx::AssertSqlSafe(format!(
                "INSERT INTO repository_summaries (repository_id, tags, latest_push, tags_failed, tags_done, tags_not_images, \
                 unknown, negligible, low, medium, high, critical) {RECOMPUTED_SUMMARIES}"
            ));
            sqlx::query(sql).execute(&mut **tx).await.map_err(db_error)?;
            Ok(crate::model::SummaryRebuild {
                digests,
                repositories: recomputed.len() as u64,
                corrected,
            })
        }

        /// Every repository's kept figures.
        const KEPT_SUMMARIES: &str = "SELECT repository_id, tags, latest_push, tags_failed, tags_done, tags_not_images, \
             unknown, negligible, low, medium, high, critical FROM repository_summaries";

        /// Every repository's figures from the digests' figures: the tags in each state summed
        /// over its tags, the findings over its distinct digests (each image once).
        const RECOMPUTED_SUMMARIES: &str = "SELECT r.id, COALESCE(bt.tags, 0), bt.latest_push, \
             COALESCE(bt.failed, 0), COALESCE(bt.done, 0), COALESCE(bt.not_images, 0), \
             COALESCE(bi.unknown, 0), COALESCE(bi.negligible, 0), COALESCE(bi.low, 0), \
             COALESCE(bi.medium, 0), COALESCE(bi.high, 0), COALESCE(bi.critical, 0) \
             FROM repositories r \
             LEFT JOIN (SELECT t.repository_id, COUNT(*) AS tags, MAX(t.updated_at) AS latest_push, \
                 CAST(COALESCE(SUM(d.failed), 0) AS BIGINT) AS failed, CAST(COALESCE(SUM(d.done), 0) AS BIGINT) AS done, \
                 CAST(COUNT(a.tag_id) AS BIGINT) AS not_images \
                 FROM tags t LEFT JOIN digest_summaries d ON d.digest = t.digest \
                 LEFT JOIN tag_artifacts a ON a.tag_id = t.id AND a.kind <> 'image' GROUP BY t.repository_id) bt \
             ON bt.repository_id = r.id \
             LEFT JOIN (SELECT i.repository_id, \
                 CAST(COALESCE(SUM(d.unknown), 0) AS BIGINT) AS unknown, \
                 CAST(COALESCE(SUM(d.negligible), 0) AS BIGINT) AS negligible, \
                 CAST(COALESCE(SUM(d.low), 0) AS BIGINT) AS low, CAST(COALESCE(SUM(d.medium), 0) AS BIGINT) AS medium, \
                 CAST(COALESCE(SUM(d.high), 0) AS BIGINT) AS high, \
                 CAST(COALESCE(SUM(d.critical), 0) AS BIGINT) AS critical \
                 FROM (SELECT DISTINCT repository_id, digest FROM tags) i \
                 JOIN digest_summaries d ON d.digest = i.digest GROUP BY i.repository_id) bi \
             ON bi.repository_id = r.id";

        /// The figures `sql` (one of the two above) selects, by repository id.
        async fn summaries_in(
            tx: &mut sqlx::Transaction<'static, $db>,
            sql: &'static str,
        ) -> Result<std::collections::HashMap<i64, crate::model::RepositorySummary>> {
            let rows = sqlx::query_as::<_, SummaryRow>(sql)
                .fetch_all(&mut **tx)
                .await
                .map_err(db_error)?;
            Ok(rows.into_iter().map(|row| (row.0, row.summary())).collect())
        }
    };
}

pub(crate) use sql_summary_upkeep;
