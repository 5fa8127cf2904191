//! The object-safe async traits that backends implement: [`Authenticator`],
//! [`RegistryClient`], [`SecurityBackend`] and the store roles joined by [`PolicyStore`].
//!
//! Each is used as `Arc<dyn Trait>`; blanket implementations make `Arc<T>` and `Box<T>` usable
//! wherever a `T` is.

mod authenticator;
mod policy_store;
mod registry_client;
mod security_backend;

pub use authenticator::{AuthMethod, AuthOutcome, Authenticator, Identity, Secret};
pub use policy_store::{
    AccountStore, AccountStoreExt, ActivityStore, ActivityStoreExt, ApplierLock, CatalogStore, CatalogStoreExt,
    CommentStore, CommentStoreExt, EventStore, IdentityStore, ImportStore, LockoutStore, NamespaceStore,
    NamespaceStoreExt, PolicyStore, ProfileStore, ScanStore, SessionStore, TagFactsStore, TeamStore, TeamStoreExt,
    WebhookStore, search_by_listing, user_then_namespaces_access,
};
pub use registry_client::{ManifestInfo, RegistryClient};
pub use security_backend::{
    ImageRef, Layer, ScanOutcome, ScanReport, SecurityBackend, Severity, Vulnerability, VulnerabilityData,
};
