//! What the SQL stores' list queries share: the `ORDER BY` of a [`ListQuery`]'s order and
//! direction, and its `LIMIT`/`OFFSET` as both databases take them.
//!
//! Every list is two statements: the slice (ordered by an index where one serves the filter
//! and order, then limited) and, unless the slice tells it (see
//! [`ListQuery::total_from_slice`]), a `COUNT(*)` under the same filter, which the same
//! indexes serve.

use crate::model::ListQuery;

/// One key of a list's order: a column, and whether it runs largest first in the list's own
/// order (before `descending` turns the whole order around).
pub(crate) type Key = (&'static str, bool);

/// ` ORDER BY` over `keys`, turned around when `descending`.
pub(crate) fn order_by(keys: &[Key], descending: bool) -> String {
    let keys: Vec<String> = keys
        .iter()
        .map(|(column, largest_first)| {
            let direction = if *largest_first != descending { "DESC" } else { "ASC" };
            format!("{column} {direction}")
        })
        .collect();
    format!(" ORDER BY {}", keys.join(", "))
}

/// `LIMIT` and `OFFSET`: no limit is the largest one, which both databases take (SQLite's
/// `-1` and PostgreSQL's `NULL` for "none" are not shared).
pub(crate) fn limit_offset<S>(query: &ListQuery<S>) -> (i64, i64) {
    let (limit, offset) = query.limit_offset();
    (limit.unwrap_or(i64::MAX), offset)
}

/// Defines, inside [`sql_policy_store!`](super::sql_policy_store) and for every list of the
/// store, `known_total` and `total_or_count` (a list's total, counted only when the page does
/// not tell it) and `push_name_contains` (the name filter of lists searched by a text).
macro_rules! sql_list_totals {
    ($db:ty) => {
        /// The list's total counted before its page when the page does not start the list:
        /// then the count is needed anyway (a page after the first is full or the list's last)
        /// and tells whether the page is nearer the list's other end
        /// ([`ListQuery::from_the_far_end`](crate::model::ListQuery::from_the_far_end)).
        async fn known_total<S>(
            pool: &sqlx::Pool<$db>,
            query: &crate::model::ListQuery<S>,
            count: impl FnOnce() -> sqlx::QueryBuilder<$db>,
        ) -> Result<Option<u64>> {
            if query.offset == 0 || query.limit.is_none() {
                return Ok(None);
            }
            count_of(pool, count()).await.map(Some)
        }

        /// The list's total: what a page of `len` items tells (see
        /// [`ListQuery::total_from_slice`](crate::model::ListQuery::total_from_slice)), else
        /// what `count` counts.
        async fn total_or_count<S>(
            pool: &sqlx::Pool<$db>,
            query: &crate::model::ListQuery<S>,
            len: usize,
            count: impl FnOnce() -> sqlx::QueryBuilder<$db>,
        ) -> Result<u64> {
            match query.total_from_slice(len) {
                Some(total) => Ok(total),
                None => count_of(pool, count()).await,
            }
        }

        /// The one number a `COUNT(*)` statement answers.
        async fn count_of(pool: &sqlx::Pool<$db>, mut count: sqlx::QueryBuilder<$db>) -> Result<u64> {
            let total: i64 = count
                .build_query_scalar()
                .fetch_one(pool)
                .await
                .map_err(db_error)?;
            Ok(u64::try_from(total).unwrap_or(0))
        }

        /// ` AND {column}` contains `text`, ignoring ASCII case, its wildcards taken literally.
        fn push_name_contains(builder: &mut sqlx::QueryBuilder<$db>, column: &str, text: &str) {
            builder.push(" AND ");
            builder.push(column);
            builder.push(LIKE_ANY_CASE);
            builder.push_bind(super::sql::catalog_pages::contains_pattern(text));
            builder.push(" ESCAPE '\\'");
        }
    };
}

pub(crate) use sql_list_totals;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_turn_around_whole() {
        let keys = [("n.global", true), ("n.name", false), ("n.id", false)];
        assert_eq!(order_by(&keys, false), " ORDER BY n.global DESC, n.name ASC, n.id ASC");
        assert_eq!(order_by(&keys, true), " ORDER BY n.global ASC, n.name DESC, n.id DESC");
    }

    #[test]
    fn no_limit_is_the_largest() {
        assert_eq!(limit_offset(&ListQuery::all(())), (i64::MAX, 0));
        assert_eq!(limit_offset(&ListQuery::page((), 50, 25)), (25, 50));
    }
}
