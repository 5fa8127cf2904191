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
