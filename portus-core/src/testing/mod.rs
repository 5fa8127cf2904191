//! The conformance suites every implementation runs (feature `testing`).
//!
//! Every store runs one suite per store role, [`policy_store_conformance!`] invoking them all.
//! Each check is a public async function taking a fresh, empty store (the narrowest role it
//! needs where it exercises one role only, the whole [`PolicyStore`] where it sets the scene
//! with several); each role's macro turns its checks into `#[tokio::test]`s, one named test per
//! check, in the module where it is invoked:
//!
//! ```ignore
//! portus_core::policy_store_conformance!(async { portus_core::InMemoryStore::new() });
//! ```
//!
//! | module | role | macro |
//! |---|---|---|
//! | [`accounts`] | [`AccountStore`] | [`account_store_conformance!`] |
//! | [`teams`] | [`TeamStore`] | [`team_store_conformance!`] |
//! | [`namespaces`] | [`NamespaceStore`] | [`namespace_store_conformance!`] |
//! | [`catalog`] | [`CatalogStore`] | [`catalog_store_conformance!`] |
//! | [`events`] | [`EventStore`] | [`event_store_conformance!`] |
//! | [`scans`] | [`ScanStore`] | [`scan_store_conformance!`] |
//! | [`catalog_pages`] | pages of repositories and tags of [`CatalogStore`] | [`catalog_page_conformance!`] |
//! | [`summaries`] | kept figures of [`CatalogStore`] and [`ScanStore`] | [`summary_store_conformance!`] |
//! | [`activity`] | [`ActivityStore`] | [`activity_store_conformance!`] |
//! | [`comments`] | [`CommentStore`] | [`comment_store_conformance!`] |
//! | [`import`] | [`ImportStore`] | [`import_store_conformance!`] |
//! | [`identities`] | [`IdentityStore`] | [`identity_store_conformance!`] |
//! | [`profiles`] | [`ProfileStore`] | [`profile_store_conformance!`] |
//! | [`webhooks`] | [`WebhookStore`] | [`webhook_store_conformance!`] |
//! | [`sessions`] | [`SessionStore`] | [`session_store_conformance!`] |
//! | [`policy`] | scopes authorized over a whole [`PolicyStore`] | [`authorization_conformance!`] |
//!
//! The other traits have suites of their own, built the same way:
//! [`registry_client`] (run by the in-memory registry and the HTTP client against the real
//! registry) and [`security_backend`] (run by every scanner backend against its fake scanner).
//! [`ScriptedBackend`] is the scanner tests configure instead of writing one.
//!
//! [`account_store_conformance!`]: crate::account_store_conformance
//! [`team_store_conformance!`]: crate::team_store_conformance
//! [`namespace_store_conformance!`]: crate::namespace_store_conformance
//! [`catalog_store_conformance!`]: crate::catalog_store_conformance
//! [`event_store_conformance!`]: crate::event_store_conformance
//! [`scan_store_conformance!`]: crate::scan_store_conformance
//! [`catalog_page_conformance!`]: crate::catalog_page_conformance
//! [`summary_store_conformance!`]: crate::summary_store_conformance
//! [`activity_store_conformance!`]: crate::activity_store_conformance
//! [`comment_store_conformance!`]: crate::comment_store_conformance
//! [`import_store_conformance!`]: crate::import_store_conformance
//! [`identity_store_conformance!`]: crate::identity_store_conformance
//! [`profile_store_conformance!`]: crate::profile_store_conformance
//! [`webhook_store_conformance!`]: crate::webhook_store_conformance
//! [`session_store_conformance!`]: crate::session_store_conformance
//! [`authorization_conformance!`]: crate::authorization_conformance
//! [`policy_store_conformance!`]: crate::policy_store_conformance
//! [`AccountStore`]: crate::traits::AccountStore
//! [`TeamStore`]: crate::traits::TeamStore
//! [`NamespaceStore`]: crate::traits::NamespaceStore
//! [`CatalogStore`]: crate::traits::CatalogStore
//! [`EventStore`]: crate::traits::EventStore
//! [`ScanStore`]: crate::traits::ScanStore
//! [`ActivityStore`]: crate::traits::ActivityStore
//! [`CommentStore`]: crate::traits::CommentStore
//! [`ImportStore`]: crate::traits::ImportStore
//! [`IdentityStore`]: crate::traits::IdentityStore
//! [`ProfileStore`]: crate::traits::ProfileStore
//! [`WebhookStore`]: crate::traits::WebhookStore
//! [`SessionStore`]: crate::traits::SessionStore
//! [`PolicyStore`]: crate::traits::PolicyStore

pub mod accounts;
pub mod activity;
pub mod catalog;
pub mod catalog_pages;
pub mod comments;
pub mod events;
pub mod identities;
pub mod import;
mod lists;
pub mod namespaces;
pub mod policy;
pub mod profiles;
pub mod registry_client;
pub mod scans;
mod scripted;
pub mod security_backend;
pub mod sessions;
pub mod summaries;
pub mod teams;
pub mod webhooks;

pub use registry_client::{ImagePusher, fake_digest};
pub use scripted::{ScanHook, Script, ScriptedBackend, finding, image};
pub use security_backend::{ScannerFixture, ScannerState};

use crate::model::{NewUser, User};
use crate::traits::AccountStore;

/// Creates a user with the given name (no password), panicking on failure.
pub async fn user<S: AccountStore + ?Sized>(store: &S, name: &str) -> User {
    store
        .create_user(NewUser {
            username: name.into(),
            ..NewUser::default()
        })
        .await
        .expect("create user")
}

/// Expands to one `#[tokio::test]` per store conformance check, each on a fresh store made by
/// the given async expression: every role's suite, then the authorization checks.
#[macro_export]
macro_rules! policy_store_conformance {
    ($make:expr) => {
        $crate::account_store_conformance!($make);
        $crate::team_store_conformance!($make);
        $crate::namespace_store_conformance!($make);
        $crate::catalog_store_conformance!($make);
        $crate::event_store_conformance!($make);
        $crate::scan_store_conformance!($make);
        $crate::catalog_page_conformance!($make);
        $crate::summary_store_conformance!($make);
        $crate::activity_store_conformance!($make);
        $crate::comment_store_conformance!($make);
        $crate::import_store_conformance!($make);
        $crate::identity_store_conformance!($make);
        $crate::profile_store_conformance!($make);
        $crate::webhook_store_conformance!($make);
        $crate::session_store_conformance!($make);
        $crate::authorization_conformance!($make);
    };
}

/// The expansion shared by the role macros: one `#[tokio::test]` per named check of
/// `$crate::testing::$module`, each on a fresh store from `$make`.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_tests {
    ($make:expr; $module:ident; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let store = $make.await;
                $crate::testing::$module::$check(&store).await;
            }
        )*
    };
}
