//! The domain model: users, teams, roles, namespaces, repositories, tags and credentials.
//!
//! One private module per concept (users and their credentials; teams and roles; namespaces and
//! visibility; the catalog of repositories, tags, manifests and search hits; the activity log;
//! scans; stored registry events), every item re-exported here: `portus_core::model::User` is the
//! one path to each type.

use chrono::{DateTime, Utc};

pub use crate::action::ActivityAction;

// A store identifier type: an `i64` newtype, shown as the number.

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

/// The current time at the precision every store keeps: microseconds (PostgreSQL's).
///
/// Stores stamp records with this, so a record read back equals the one returned on creation.
pub fn now() -> DateTime<Utc> {
    at_store_precision(Utc::now())
}

/// `time` truncated to microseconds, the precision every store keeps.
pub fn at_store_precision(time: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::{DurationRound, TimeDelta};
    time.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(time)
}

mod activity;
mod artifacts;
mod catalog;
mod comments;
mod events;
mod import;
mod list;
mod namespaces;
mod scans;
mod sessions;
mod summary;
mod teams;
mod token_limits;
mod users;
mod webhooks;

pub use activity::*;
pub use artifacts::*;
pub use catalog::*;
pub use comments::*;
pub use events::*;
pub use import::*;
pub use list::*;
pub use namespaces::*;
pub use scans::*;
pub use sessions::*;
pub use summary::*;
pub use teams::*;
pub use token_limits::*;
pub use users::*;
pub use webhooks::*;
