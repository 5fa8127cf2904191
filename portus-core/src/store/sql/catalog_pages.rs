//! Pages of repositories and tags, for both databases: the order, the slice and the filters in
//! the query, the figures from `repository_summaries`, the total from an index or the kept tag
//! counts. A page's ids are chosen first on the narrowest rows (an index where the order has
//! one), then only those rows are joined with their columns: a deep page skips ids, not rows.

/// `ORDER BY` direction, and where rows without a value go (first, as in the in-memory store).
pub(crate) fn direction(descending: bool) -> (&'static str, &'static str) {
    if descending {
        ("DESC", "NULLS LAST")
    } else {
        ("ASC", "NULLS FIRST")
    }
}

/// `text` as a case-insensitive LIKE pattern matching it anywhere, its wildcards escaped
/// (with `\`).
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// `text` as an unescaped LIKE pattern matching it anywhere, for a trigram index, when the index
/// can narrow the search: the text has a run of three characters that are not wildcards (a
/// trigram index has nothing to look up for shorter ones). Unescaped wildcards in the text only widen what it
/// matches; the exact [`contains_pattern`] is applied after it.
pub(crate) fn trigram_pattern(text: &str) -> Option<String> {
    let lowered = text.to_lowercase();
    if lowered.contains('\\') {
        // An escape character to one database, a plain one to the other; no name holds it.
        return None;
    }
    lowered
        .split(['%', '_'])
        .any(|run| run.chars().count() >= 3)
        .then(|| format!("%{lowered}%"))
}

/// The ids in `ids` as the JSON array the id-list fragment of each database reads.
pub(crate) fn id_list<T: Copy + Into<i64>>(ids: &[T]) -> String {
    let ids: Vec<i64> = ids.iter().map(|id| (*id).into()).collect();
    serde_json::to_string(&ids).unwrap_or_else(|_| "[]".to_owned())
}

/// Defines, inside [`sql_policy_store!`](super::sql_policy_store), `repositories_page_of` and
/// `tags_page_of`. The backend module defines `ID_LIST` (a condition `{column} IN` the ids of a
/// JSON array bound once, so any number of ids takes one parameter), `LIKE_ANY_CASE` (LIKE
/// ignoring ASCII case, for [`sql_list_totals!`](super::lists::sql_list_totals)'s name filter:
/// names are ASCII, and `lower()` on every row costs more than the match) and `TAG_NAME_TRIGRAMS` (the query asking a trigram index for at most `$2` ids of tags whose
/// names match the [`trigram_pattern`] `$1`, or `None` without such an index).
macro_rules! sql_catalog_pages {
    ($db:ty) => {
        use super::sql::catalog_pages::{direction, id_list, trigram_pattern};
        use crate::model::{
            ListPage, ListQuery, RepositoryFilter, RepositoryListing, RepositorySort, TagFilter, TagSort,
        };

        /// Appends the conditions of `filter` on `repositories r`.
        fn push_repository_filter(builder: &mut sqlx::QueryBuilder<$db>, filter: &RepositoryFilter) {
            builder.push(" WHERE TRUE");
            push_visible(builder, &filter.visible, "r.namespace_id");
            if let Some(namespaces) = &filter.namespaces {
                builder.push(" AND ");
                push_id_list(
                    builder,
                    "r.namespace_id",
                    id_list(&namespaces.iter().map(|n| n.0).collect::<Vec<_>>()),
                );
            }
            if let Some(user) = filter.starred_by {
                builder.push(" AND r.id IN (SELECT repository_id FROM stars WHERE user_id = ");
                builder.push_bind(user.0);
                builder.push(")");
            }
            if let Some(text) = &filter.name_contains {
                push_name_contains(builder, "r.name", text);
            }
        }

        /// ` AND {column}` is a namespace `visible` admits (nothing for every namespace): the
        /// pull rule's alternatives, each served by an index of `namespaces`.
        fn push_visible(
            builder: &mut sqlx::QueryBuilder<$db>,
            visible: &crate::model::VisibleNamespaces,
            column: &str,
        ) {
            let crate::model::VisibleNamespaces::Some {
                visibilities,
                global,
                teams,
            } = visible
            else {
                return;
            };
            builder.push(format!(
                " AND {column} IN (SELECT n.id FROM namespaces n WHERE FALSE"
            ));
            if !visibilities.is_empty() {
                builder.push(" OR n.visibility IN (");
                let mut list = builder.separated(", ");
                for visibility in visibilities {
                    list.push_bind(visibility.as_str());
                }
                builder.push(")");
            }
            if *global {
                builder.push(" OR n.global = TRUE");
            }
            if !teams.is_empty() {
                builder.push(" OR n.team_id IN (");
                let mut list = builder.separated(", ");
                for team in teams {
                    list.push_bind(team.0);
                }
                builder.push(")");
            }
            builder.push(")");
        }

        /// `{column} IN (the ids of the JSON array json)`.
        fn push_id_list(builder: &mut sqlx::QueryBuilder<$db>, column: &str, json: String) {
            let (open, close) = ID_LIST;
            builder.push(column);
            builder.push(open);
            builder.push_bind(json);
            builder.push(close);
        }

        /// `LIMIT`/`OFFSET` of `query` (none for every item).
        fn push_slice<S>(builder: &mut sqlx::QueryBuilder<$db>, query: &ListQuery<S>) {
            let (limit, offset) = query.limit_offset();
            if let Some(limit) = limit {
                builder.push(" LIMIT ");
                builder.push_bind(limit);
                builder.push(" OFFSET ");
                builder.push_bind(offset);
            }
        }

        /// The `ORDER BY` of a repository page, over `r` and `rs`.
        fn repository_order(query: &ListQuery<RepositorySort>) -> String {
            let (dir, nulls) = direction(query.descending);
            let key = match query.sort {
                RepositorySort::Name => format!("r.name {dir}"),
                RepositorySort::CreatedAt => format!("r.created_at {dir}"),
                RepositorySort::Stars => {
                    format!("(SELECT COUNT(*) FROM stars s WHERE s.repository_id = r.id) {dir}")
                }
                RepositorySort::Tags => format!("COALESCE(rs.tags, 0) {dir}"),
                RepositorySort::LatestPush => format!("rs.latest_push {dir} {nulls}"),
                _ => format!("r.id {dir}"),
            };
            format!(" ORDER BY {key}, r.id {dir}")
        }

        async fn repositories_page_of(
            pool: &sqlx::Pool<$db>,
            filter: &RepositoryFilter,
            query: &ListQuery<RepositorySort>,
        ) -> Result<ListPage<RepositoryListing>> {
            let count = || {
                let mut count = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM repositories r");
                push_repository_filter(&mut count, filter);
                count
            };
            let known = known_total(pool, query, count).await?;
            let far = known.and_then(|total| query.from_the_far_end(total));
            let slice = far.as_ref().unwrap_or(query);
            let order = repository_order(slice);
            let mut builder = sqlx::QueryBuilder::<$db>::new(
                "SELECT r.id, r.name, r.namespace_id, r.description, r.created_at, \
                 (SELECT COUNT(*) FROM stars s WHERE s.repository_id = r.id) AS stars, \
                 COALESCE(rs.tags, 0) AS s_tags, rs.latest_push AS s_latest_push, \
                 COALESCE(rs.tags_failed, 0) AS s_failed, COALESCE(rs.tags_done, 0) AS s_done, \
                 COALESCE(rs.tags_not_images, 0) AS s_not_images, \
                 COALESCE(rs.unknown, 0) AS s_unknown, COALESCE(rs.negligible, 0) AS s_negligible, \
                 COALESCE(rs.low, 0) AS s_low, COALESCE(rs.medium, 0) AS s_medium, \
                 COALESCE(rs.high, 0) AS s_high, COALESCE(rs.critical, 0) AS s_critical \
                 FROM repositories r LEFT JOIN repository_summaries rs ON rs.repository_id = r.id \
                 WHERE r.id IN (SELECT r.id FROM repositories r \
                 LEFT JOIN repository_summaries rs ON rs.repository_id = r.id",
            );
            push_repository_filter(&mut builder, filter);
            builder.push(&order);
            push_slice(&mut builder, slice);
            builder.push(")");
            builder.push(&order);
            let mut rows: Vec<RepositoryListingRow> =
                builder.build_query_as().fetch_all(pool).await.map_err(db_error)?;
            if far.is_some() {
                rows.reverse();
            }
            let total = match known {
                Some(total) => total,
                None => total_or_count(pool, query, rows.len(), count).await?,
            };
            Ok(ListPage {
                items: rows.into_iter().map(RepositoryListing::from).collect(),
                total,
            })
        }

        /// The ids (a JSON array) of every tag whose name may contain the text `filter` looks for,
        /// when a trigram index finds them and they are few; `None` when the tags' names are
        /// to be read instead. A text many names contain is served better by walking the tags
        /// in the page's order until the page is full than by sorting every match.
        async fn tag_name_candidates(pool: &sqlx::Pool<$db>, filter: &TagFilter) -> Result<Option<String>> {
            const MOST: i64 = 1000;
            let (Some(query), Some(pattern)) = (
                TAG_NAME_TRIGRAMS,
                filter.name_contains.as_deref().and_then(trigram_pattern),
            ) else {
                return Ok(None);
            };
            let ids: Vec<i64> = sqlx::query_scalar(query)
                .bind(pattern)
                .bind(MOST + 1)
                .fetch_all(pool)
                .await
                .map_err(db_error)?;
            Ok((ids.len() as i64 <= MOST).then(|| id_list(&ids)))
        }

        /// Appends the conditions of `filter` on `tags t`, among the `candidates` ids if any
        /// (see [`tag_name_candidates`]).
        fn push_tag_filter(builder: &mut sqlx::QueryBuilder<$db>, filter: &TagFilter, candidates: Option<&str>) {
            builder.push(" WHERE TRUE");
            if filter.visible != crate::model::VisibleNamespaces::All {
                builder.push(" AND t.repository_id IN (SELECT r.id FROM repositories r WHERE TRUE");
                push_visible(builder, &filter.visible, "r.namespace_id");
                builder.push(")");
            }
            if let Some(repository) = filter.repository {
                builder.push(" AND t.repository_id = ");
                builder.push_bind(repository.0);
            }
            if let Some(namespaces) = &filter.namespaces {
                builder.push(" AND t.repository_id IN (SELECT r.id FROM repositories r WHERE ");
                push_namespace_ids(builder, namespaces);
                builder.push(")");
            }
            if let Some(candidates) = candidates {
                builder.push(" AND ");
                push_id_list(builder, "t.id", candidates.to_owned());
            }
            if let Some(text) = &filter.name_contains {
                push_name_contains(builder, "t.name", text);
            }
        }

        /// `r.namespace_id IN (namespaces)`.
        fn push_namespace_ids(builder: &mut sqlx::QueryBuilder<$db>, namespaces: &[crate::model::NamespaceId]) {
            let ids: Vec<i64> = namespaces.iter().map(|n| n.0).collect();
            push_id_list(builder, "r.namespace_id", id_list(&ids));
        }

        /// The `ORDER BY` of a tag page, over `t`.
        fn tag_order(query: &ListQuery<TagSort>) -> String {
            let (dir, _) = direction(query.descending);
            let key = match query.sort {
                TagSort::Name => format!("t.repository_id {dir}, t.name {dir}"),
                TagSort::CreatedAt => format!("t.created_at {dir}"),
                TagSort::UpdatedAt => format!("t.updated_at {dir}"),
                _ => format!("t.id {dir}"),
            };
            format!(" ORDER BY {key}, t.id {dir}")
        }

        async fn tags_page_of(
            pool: &sqlx::Pool<$db>,
            filter: &TagFilter,
            query: &ListQuery<TagSort>,
        ) -> Result<ListPage<TagRecord>> {
            let candidates = tag_name_candidates(pool, filter).await?;
            // The kept tag counts answer for whole repositories; tags are counted only for what
            // they cannot: a name filter.
            let count = || {
                if filter.name_contains.is_some() {
                    let mut count = sqlx::QueryBuilder::<$db>::new("SELECT COUNT(*) FROM tags t");
                    push_tag_filter(&mut count, filter, candidates.as_deref());
                    return count;
                }
                let mut count = sqlx::QueryBuilder::<$db>::new(
                    "SELECT CAST(COALESCE(SUM(rs.tags), 0) AS BIGINT) FROM repository_summaries rs WHERE TRUE",
                );
                if let Some(repository) = filter.repository {
                    count.push(" AND rs.repository_id = ");
                    count.push_bind(repository.0);
                }
                if let Some(namespaces) = &filter.namespaces {
                    count.push(" AND rs.repository_id IN (SELECT r.id FROM repositories r WHERE ");
                    push_namespace_ids(&mut count, namespaces);
                    count.push(")");
                }
                if filter.visible != crate::model::VisibleNamespaces::All {
                    count.push(" AND rs.repository_id IN (SELECT r.id FROM repositories r WHERE TRUE");
                    push_visible(&mut count, &filter.visible, "r.namespace_id");
                    count.push(")");
                }
                count
            };
            let known = known_total(pool, query, count).await?;
            let far = known.and_then(|total| query.from_the_far_end(total));
            let slice = far.as_ref().unwrap_or(query);
            let order = tag_order(slice);
            let mut builder = sqlx::QueryBuilder::<$db>::new(TAG_COLUMNS);
            builder.push(" WHERE t.id IN (SELECT t.id FROM tags t");
            push_tag_filter(&mut builder, filter, candidates.as_deref());
            builder.push(&order);
            push_slice(&mut builder, slice);
            builder.push(")");
            builder.push(&order);
            let mut rows: Vec<TagRow> = builder.build_query_as().fetch_all(pool).await.map_err(db_error)?;
            if far.is_some() {
                rows.reverse();
            }
            let total = match known {
                Some(total) => total,
                None => total_or_count(pool, query, rows.len(), count).await?,
            };
            Ok(ListPage {
                items: rows.into_iter().map(TagRecord::from).collect(),
                total,
            })
        }
    };
}

pub(crate) use sql_catalog_pages;
