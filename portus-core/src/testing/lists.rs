//! The check every paginated store list runs: the whole list in its order, turned around, and
//! every slice of it, each with the total.

use std::fmt::Debug;
use std::future::Future;

use crate::model::{ListPage, ListQuery};

/// Checks a list against `expected`, the keys of its items in `sort` order: `fetch` asks the
/// store for one [`ListQuery`]. Every slice (each offset up to one past the end, page sizes 1
/// to 3 and the whole length), in both directions, must be the same slice of `expected` (or
/// its reverse) and carry the whole list's total.
pub(crate) async fn check_pages<S, T, K, F, Fut>(what: &str, sort: S, expected: &[K], key: impl Fn(&T) -> K, fetch: F)
where
    S: Clone,
    K: PartialEq + Debug + Clone,
    F: Fn(ListQuery<S>) -> Fut,
    Fut: Future<Output = ListPage<T>>,
{
    let keys = |page: &ListPage<T>| page.items.iter().map(&key).collect::<Vec<K>>();
    let total = expected.len() as u64;
    let reversed: Vec<K> = expected.iter().rev().cloned().collect();
    for (descending, order) in [(false, expected), (true, reversed.as_slice())] {
        let whole = fetch(ListQuery::all(sort.clone()).descending(descending)).await;
        assert_eq!(keys(&whole), order, "{what}: the whole list, descending={descending}");
        assert_eq!(whole.total, total, "{what}: the total, descending={descending}");
        let mut sizes = vec![1, 2, 3, order.len().max(1)];
        sizes.dedup();
        for limit in sizes {
            for offset in 0..=order.len() {
                let query = ListQuery::page(sort.clone(), offset as u64, limit as u64).descending(descending);
                let page = fetch(query).await;
                let end = (offset + limit).min(order.len());
                assert_eq!(
                    keys(&page),
                    &order[offset..end],
                    "{what}: {limit} from {offset}, descending={descending}"
                );
                assert_eq!(
                    page.total, total,
                    "{what}: the total of {limit} from {offset}, descending={descending}"
                );
            }
        }
    }
}
