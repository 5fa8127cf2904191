//! List answers: pagination (`page`, `per_page`, `all`) and ordering (`sort_attr`,
//! `sort_order`) as Portus' API v1 takes them, with its headers (`X-Total`, `X-Total-Pages`,
//! `X-Page`, `X-Per-Page`, `X-Next-Page`, `X-Prev-Page`, `Link`).

use axum::Json;
use axum::extract::Query;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use portus_core::model::{ListPage, ListQuery};

use crate::error::ApiError;

/// Default page size.
pub(crate) const DEFAULT_PER_PAGE: usize = 25;
/// Largest page size.
pub(crate) const MAX_PER_PAGE: usize = 100;

/// Direction of `sort_attr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SortOrder {
    /// Smallest first (the default once `sort_attr` is given).
    Asc,
    /// Largest first.
    Desc,
}

/// The query of list endpoints: `page` (from 1), `per_page` (1 to 100, default 25), `all`
/// (every item on one page, as Portus' `all=true`), `sort_attr` (a field of the listed items;
/// an unknown one keeps the default order, as Portus falls back to its default) and
/// `sort_order` (`asc` or `desc`).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Page {
    /// Page number, from 1 (paginated lists).
    #[param(minimum = 1)]
    pub(crate) page: Option<i32>,
    /// Items per page, 1 to 100 (default 25; paginated lists).
    #[param(minimum = 1, maximum = 100)]
    pub(crate) per_page: Option<usize>,
    /// Every item on one page.
    #[serde(default)]
    pub(crate) all: bool,
    /// A field of the items to order by; an unknown one keeps the default order.
    pub(crate) sort_attr: Option<String>,
    /// `asc` (the default once `sort_attr` is given) or `desc`.
    #[param(inline)]
    pub(crate) sort_order: Option<SortOrder>,
}

/// The query of paginated list endpoints.
pub(crate) type PageQuery = Query<Page>;

impl Page {
    /// `page` and `per_page`, checked: 400 outside their bounds.
    fn bounds(&self) -> Result<(usize, usize), ApiError> {
        let per_page = self.per_page.unwrap_or(DEFAULT_PER_PAGE);
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(ApiError::bad_request("per_page must be between 1 and 100"));
        }
        match usize::try_from(self.page.unwrap_or(1)) {
            Ok(page) if page > 0 => Ok((page, per_page)),
            _ => Err(ApiError::bad_request("page starts at 1")),
        }
    }

    /// The slice and order to ask a store for: `sort_attr` names one of the orders `S` offers
    /// (an unknown one keeps the default order, as Portus does).
    pub(crate) fn query<S: SortKey>(&self) -> Result<ListQuery<S>, ApiError> {
        let (page, per_page) = self.bounds()?;
        let sort = self.sort_attr.as_deref().and_then(S::from_attr).unwrap_or_default();
        let query = if self.all {
            ListQuery::all(sort)
        } else {
            ListQuery::page(sort, ((page - 1) * per_page) as u64, per_page as u64)
        };
        Ok(query.descending(self.sort_order == Some(SortOrder::Desc)))
    }

    /// One page a store ordered and sliced (asked with [`Page::query`]), with Portus'
    /// pagination headers; `path` is what the `Link`s point to (with the list's filters, if
    /// any, already in its query).
    pub(crate) fn respond_page<T: Serialize>(&self, path: &str, page: ListPage<T>) -> Result<Response, ApiError> {
        let (number, per_page) = self.bounds()?;
        let total = usize::try_from(page.total).unwrap_or(usize::MAX);
        let mut response = Json(page.items).into_response();
        self.headers(&mut response, path, number, per_page, total);
        Ok(response)
    }

    /// Adds Portus' pagination headers to an answer that pages something else than one array
    /// (a search's several kinds): `total` items in all.
    pub(crate) fn paginate(&self, response: &mut Response, path: &str, total: u64) -> Result<(), ApiError> {
        let (number, per_page) = self.bounds()?;
        self.headers(
            response,
            path,
            number,
            per_page,
            usize::try_from(total).unwrap_or(usize::MAX),
        );
        Ok(())
    }

    /// Portus' pagination headers for page `page` of `total` items.
    fn headers(&self, response: &mut Response, path: &str, page: usize, per_page: usize, total: usize) {
        let (page, per_page) = if self.all { (1, total.max(1)) } else { (page, per_page) };
        let pages = total.div_ceil(per_page).max(1);
        let headers = response.headers_mut();
        let number = |n: usize| HeaderValue::from(n as u64);
        headers.insert("x-total", number(total));
        headers.insert("x-total-pages", number(pages));
        headers.insert("x-page", number(page));
        headers.insert("x-per-page", number(per_page));
        if page < pages {
            headers.insert("x-next-page", number(page + 1));
        }
        if page > 1 {
            headers.insert("x-prev-page", number(page - 1));
        }
        let mut sort = String::new();
        if let Some(attr) = &self.sort_attr
            && attr.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            sort.push_str(&format!("&sort_attr={attr}"));
        }
        if let Some(order) = self.sort_order {
            sort.push_str(if order == SortOrder::Asc {
                "&sort_order=asc"
            } else {
                "&sort_order=desc"
            });
        }
        // `path` may carry the list's own filters (`/api/v1/activities?actor=bob`): the links
        // keep them.
        let separator = if path.contains('?') { '&' } else { '?' };
        let link =
            |n: usize, rel: &str| format!("<{path}{separator}page={n}&per_page={per_page}{sort}>; rel=\"{rel}\"");
        let mut links = Vec::new();
        if page < pages {
            links.push(link(page + 1, "next"));
        }
        if page > 1 {
            links.push(link(page - 1, "prev"));
        }
        if !self.all && pages > 1 {
            links.push(link(1, "first"));
            links.push(link(pages, "last"));
        }
        if !links.is_empty()
            && let Ok(value) = HeaderValue::from_str(&links.join(", "))
        {
            headers.insert(header::LINK, value);
        }
    }
}

/// The orders a list offers by Portus' `sort_attr` names (the fields of the listed items).
pub(crate) trait SortKey: Default {
    /// The order `sort_attr` names, if the list offers it.
    fn from_attr(attr: &str) -> Option<Self>;
}
