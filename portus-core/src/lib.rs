//! Domain core of portus: the data model, the Docker scope grammar, the pure authorization
//! policy and the object-safe traits every backend implements.
//!
//! This crate performs no I/O of its own; stores, authenticators, registry clients and scanners
//! live behind the traits in [`traits`] and are implemented in the other crates (or by the
//! program embedding portus).
//!
//! ```
//! use portus_core::scope::Scope;
//! let scope: Scope = "repository:alice/app:pull,push".parse().unwrap();
//! assert_eq!(scope.name, "alice/app");
//! assert_eq!(scope.actions, ["pull", "push"]);
//! ```

pub mod access;
pub mod error;
pub mod memory;
pub mod model;
pub mod naming;
pub mod permissions;
pub mod policy;
pub mod scope;
#[cfg(feature = "testing")]
pub mod testing;
pub mod traits;

pub use error::{Error, ErrorKind, Result};
pub use memory::InMemoryStore;
pub use traits::{Authenticator, PolicyStore, RegistryClient, SecurityBackend};
