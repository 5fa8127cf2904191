//! The store roles behind authorization, sync and scanning, and the umbrella [`PolicyStore`].
//!
//! Each role is a small object-safe trait (at most 20 methods) with its own conformance suite;
//! components take the narrowest role they need (`Arc<dyn ScanStore>` for the scan worker,
//! `Arc<dyn EventStore>` for the notification queue). A type implementing every role is a
//! [`PolicyStore`] through the blanket impl, so `Arc<dyn PolicyStore>` keeps serving embedders
//! that want one handle, and upcasts to any role (`Arc<dyn PolicyStore>` → `Arc<dyn
//! AccountStore>`).
//!
//! Conveniences every caller would otherwise repeat (a lookup that must find its record, a
//! user's role in a team) are default-bodied methods of the `…Ext` traits
//! ([`AccountStoreExt`], [`TeamStoreExt`], [`NamespaceStoreExt`], [`CatalogStoreExt`],
//! [`ActivityStoreExt`], [`CommentStoreExt`]), implemented for every implementor of their role:
//! among them the full lists (`list_users`, `list_teams`, ...), built from the one paginated
//! method of each list.
//!
//! Secrets are never stored: application and refresh tokens are looked up by a hash the caller
//! computes.

mod accounts;
mod activity;
mod catalog;
mod comments;
mod events;
mod ext;
mod identities;
mod import;
mod lockout;
mod namespaces;
mod profiles;
mod scans;
mod sessions;
mod tag_facts;
mod teams;
mod webhooks;

pub use accounts::AccountStore;
pub use activity::ActivityStore;
pub use catalog::CatalogStore;
pub use comments::CommentStore;
pub use events::{ApplierLock, EventStore};
pub use ext::{AccountStoreExt, ActivityStoreExt, CatalogStoreExt, CommentStoreExt, NamespaceStoreExt, TeamStoreExt};
pub use identities::IdentityStore;
pub use import::ImportStore;
pub use lockout::LockoutStore;
pub use namespaces::NamespaceStore;
pub use profiles::ProfileStore;
pub use scans::ScanStore;
pub use sessions::SessionStore;
pub use tag_facts::TagFactsStore;
pub use teams::TeamStore;
pub use webhooks::WebhookStore;

use crate::Result;
use crate::model::{Namespace, NamespaceAccess, NamespaceRef, Repository, SearchHits, TagRecord, User};

/// Persistent state behind authorization, sync and scanning: every store role at once.
///
/// Implemented automatically for any type that implements all the roles; implement the roles,
/// never this trait. Every implementation runs the conformance suites in `crate::testing`.
pub trait PolicyStore:
    AccountStore
    + TeamStore
    + NamespaceStore
    + CatalogStore
    + EventStore
    + ScanStore
    + ActivityStore
    + CommentStore
    + ImportStore
    + IdentityStore
    + LockoutStore
    + ProfileStore
    + WebhookStore
    + SessionStore
    + std::fmt::Debug
{
}

impl<T> PolicyStore for T where
    T: AccountStore
        + TeamStore
        + NamespaceStore
        + CatalogStore
        + EventStore
        + ScanStore
        + ActivityStore
        + CommentStore
        + ImportStore
        + IdentityStore
        + LockoutStore
        + ProfileStore
        + WebhookStore
        + SessionStore
        + std::fmt::Debug
        + ?Sized
{
}

/// [`NamespaceStore::user_and_namespaces_access`] as two lookups, the user then the namespaces:
/// what the in-memory store answers, and what SQL stores fall back to where one query would not
/// use an index.
pub async fn user_then_namespaces_access<S: AccountStore + NamespaceStore + ?Sized>(
    store: &S,
    username: &str,
    namespaces: &[NamespaceRef<'_>],
) -> Result<Option<(User, Vec<Option<NamespaceAccess>>)>> {
    let Some(user) = store.user_by_name(username).await? else {
        return Ok(None);
    };
    let access = store.namespaces_access(namespaces, Some(user.id)).await?;
    Ok(Some((user, access)))
}

/// [`CatalogStore::search_names`] answered from the full lists of namespaces, repositories and
/// tags: right for small stores (the in-memory one); SQL stores search with a query.
pub async fn search_by_listing<S: NamespaceStore + CatalogStore + ?Sized>(
    store: &S,
    text: &str,
    limit: usize,
) -> Result<SearchHits> {
    let text = text.to_lowercase();
    let matches = |name: &str| name.to_lowercase().contains(&text);
    let mut namespaces: Vec<Namespace> = store
        .list_namespaces()
        .await?
        .into_iter()
        .filter(|n| !n.global && matches(&n.name))
        .collect();
    namespaces.truncate(limit);
    let mut repositories: Vec<Repository> = store
        .list_repositories()
        .await?
        .into_iter()
        .filter(|r| matches(&r.name))
        .collect();
    repositories.truncate(limit);
    let mut tags: Vec<TagRecord> = store
        .tags(None)
        .await?
        .into_iter()
        .filter(|t| matches(&t.name))
        .collect();
    tags.truncate(limit);
    Ok(SearchHits {
        namespaces,
        repositories,
        tags,
    })
}
