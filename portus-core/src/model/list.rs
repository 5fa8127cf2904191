//! Lists as stores answer them: one ordered slice and the total, so no caller reads a whole
//! table to show one page of it.

use serde::{Deserialize, Serialize};

/// Which slice of a list, in which order. `S` names the orders a list offers; every order ends
/// with the store identifier, so pages never overlap or skip items of equal keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery<S> {
    /// The order.
    pub sort: S,
    /// Largest first.
    pub descending: bool,
    /// Items to skip.
    pub offset: u64,
    /// Items to return at most; `None` for every item (Portus' `all=true`).
    pub limit: Option<u64>,
}

impl<S: Default> Default for ListQuery<S> {
    fn default() -> Self {
        ListQuery {
            sort: S::default(),
            descending: false,
            offset: 0,
            limit: None,
        }
    }
}

impl<S> ListQuery<S> {
    /// Every item, in `sort` order.
    pub fn all(sort: S) -> Self {
        ListQuery {
            sort,
            descending: false,
            offset: 0,
            limit: None,
        }
    }

    /// `limit` items from `offset`, in `sort` order.
    pub fn page(sort: S, offset: u64, limit: u64) -> Self {
        ListQuery {
            sort,
            descending: false,
            offset,
            limit: Some(limit),
        }
    }

    /// The same slice, largest first when `descending`.
    pub fn descending(mut self, descending: bool) -> Self {
        self.descending = descending;
        self
    }

    /// SQL's `LIMIT` and `OFFSET` (`-1` is "no limit" for SQLite; PostgreSQL takes `NULL`).
    pub fn limit_offset(&self) -> (Option<i64>, i64) {
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        (self.limit.map(clamp), clamp(self.offset))
    }

    /// The list's total when a slice of `len` items tells it (a short page, or a first page
    /// that is empty): SQL stores then skip the count.
    pub fn total_from_slice(&self, len: usize) -> Option<u64> {
        let len = len as u64;
        let short = self.limit.is_none_or(|limit| len < limit);
        (short && (len > 0 || self.offset == 0)).then_some(self.offset + len)
    }

    /// The same slice read from the list's other end, for a list of `total` items, when that
    /// end is nearer: the order turned around, the offset counted from the end, the limit cut
    /// to the items left. Stores step over `offset` items one by one, so a page deep in a long
    /// list is found in half the steps at worst; the caller turns the items found around.
    /// `None` when the slice starts in the list's first half, or is empty.
    pub fn from_the_far_end(&self, total: u64) -> Option<ListQuery<S>>
    where
        S: Clone,
    {
        let end = self
            .limit
            .map_or(total, |limit| self.offset.saturating_add(limit).min(total));
        if end <= self.offset || self.offset <= total - end {
            return None;
        }
        Some(ListQuery {
            sort: self.sort.clone(),
            descending: !self.descending,
            offset: total - end,
            limit: Some(end - self.offset),
        })
    }

    /// Applies the query to a list already in memory: orders `items` by `key` (then by `id`),
    /// turns it around for `descending`, and keeps the slice. The in-memory stores answer
    /// with this; SQL stores order and slice in the query.
    pub fn apply<T, K: Ord, I: Ord>(
        &self,
        mut items: Vec<T>,
        key: impl Fn(&T) -> K,
        id: impl Fn(&T) -> I,
    ) -> ListPage<T> {
        items.sort_by(|a, b| key(a).cmp(&key(b)).then_with(|| id(a).cmp(&id(b))));
        if self.descending {
            items.reverse();
        }
        let total = items.len() as u64;
        let offset = usize::try_from(self.offset).unwrap_or(usize::MAX);
        let limit = self
            .limit
            .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        ListPage {
            items: items.into_iter().skip(offset).take(limit).collect(),
            total,
        }
    }
}

/// One slice of a list and how many items the whole list has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPage<T> {
    /// The items of the slice, in order.
    pub items: Vec<T>,
    /// How many items the list has in all.
    pub total: u64,
}

impl<T> ListPage<T> {
    /// The same page with each item turned into another.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> ListPage<U> {
        ListPage {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deep_slice_read_from_the_far_end_is_the_same_slice() {
        let items: Vec<(u32, u32)> = (0..23).map(|i| (i % 5, i)).collect();
        for descending in [false, true] {
            for offset in 0..26 {
                for limit in [Some(1), Some(4), Some(10), None] {
                    let query = ListQuery {
                        sort: (),
                        descending,
                        offset,
                        limit,
                    };
                    let expected = query.apply(items.clone(), |i| i.0, |i| i.1);
                    let Some(far) = query.from_the_far_end(23) else {
                        let end = limit.map_or(23, |l| (offset + l).min(23));
                        assert!(end <= offset || offset <= 23 - end, "{query:?}");
                        continue;
                    };
                    assert!(far.offset < offset, "{query:?} -> {far:?}");
                    let mut found = far.apply(items.clone(), |i| i.0, |i| i.1);
                    found.items.reverse();
                    assert_eq!(found, expected, "{query:?} -> {far:?}");
                }
            }
        }
    }

    #[test]
    fn apply_orders_by_key_then_id_and_slices() {
        let items = vec![(3, "b"), (1, "a"), (2, "b"), (4, "a")];
        let page = ListQuery::page((), 1, 2).apply(items.clone(), |i| i.1, |i| i.0);
        assert_eq!(page.items, vec![(4, "a"), (2, "b")]);
        assert_eq!(page.total, 4);
        let page = ListQuery::page((), 0, 3)
            .descending(true)
            .apply(items, |i| i.1, |i| i.0);
        assert_eq!(page.items, vec![(3, "b"), (2, "b"), (4, "a")]);
    }

    #[test]
    fn a_short_slice_tells_the_total() {
        let page = ListQuery::page((), 20, 10);
        assert_eq!(page.total_from_slice(3), Some(23));
        assert_eq!(page.total_from_slice(10), None, "a full page may have more after it");
        assert_eq!(page.total_from_slice(0), None, "past the end: unknown");
        assert_eq!(ListQuery::page((), 0, 10).total_from_slice(0), Some(0));
        assert_eq!(ListQuery::all(()).total_from_slice(7), Some(7));
    }

    #[test]
    fn apply_past_the_end_is_empty_with_the_total() {
        let page = ListQuery::page((), 10, 5).apply(vec![1, 2], |i| *i, |i| *i);
        assert!(page.items.is_empty());
        assert_eq!(page.total, 2);
    }
}
