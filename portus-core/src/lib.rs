//! Domain core of portus: the data model, the Docker scope grammar, the pure authorization
//! policy and the object-safe traits every backend implements.
//!
//! Without features this crate performs no I/O: stores, authenticators, registry clients and
//! scanners live behind the traits in [`traits`]. The SQL stores are opt-in backends, the
//! object_store way: `store::SqliteStore` (feature `sqlite`) and `store::PostgresStore`
//! (feature `postgres`).
//!
//! ```
//! use portus_core::scope::Scope;
//! let scope: Scope = "repository:alice/app:pull,push".parse().unwrap();
//! assert_eq!(scope.name, "alice/app");
//! assert_eq!(scope.actions, ["pull", "push"]);
//! ```

pub mod access;
pub mod account;
mod action;
pub mod error;
pub mod kept_access;
pub mod memory;
pub mod model;
pub mod naming;
pub mod observe;
pub mod ops;
pub mod permissions;
pub mod policy;
pub mod reference;
pub mod retention;
pub mod scope;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod traits;

pub use error::{Error, ErrorKind, Result};
pub use memory::{InMemoryRegistry, InMemoryStore, StaticAuthenticator};
pub use traits::{Authenticator, PolicyStore, RegistryClient, SecurityBackend};

/// The store role traits and their `…Ext` conveniences, to bring their methods into scope
/// wherever a [`PolicyStore`] is used: `use portus_core::prelude::*;`.
pub mod prelude {
    pub use crate::traits::{
        AccountStore, AccountStoreExt, ActivityStore, ActivityStoreExt, CatalogStore, CatalogStoreExt, CommentStore,
        CommentStoreExt, EventStore, IdentityStore, ImportStore, LockoutStore, NamespaceStore, NamespaceStoreExt,
        PolicyStore, ProfileStore, ScanStore, SessionStore, TagFactsStore, TeamStore, TeamStoreExt, WebhookStore,
    };
}
