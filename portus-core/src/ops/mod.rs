//! One operation per management write.
//!
//! Every change of users, teams, members, namespaces, application tokens, stars and images goes
//! through a function here, whichever adapter asks for it (REST API and through it the web
//! pages, the CLI, LDAP group mapping, OpenID Connect, importers). Each operation
//!
//! - enforces the invariants the data keeps, whoever calls: administrators are always owners
//!   of their teams, a team keeps at least one owner, a disabled user loses their refresh
//!   tokens, a user has at most [`MAX_APP_TOKENS`] application tokens;
//! - writes through the narrowest store roles it needs;
//! - records exactly one activity, named by an [`ActivityAction`],
//!   with the caller's `actor` (`None` for the system).
//!
//! Permission decisions stay with the caller ([`crate::permissions`] for the REST API): an
//! operation checks what must hold for the data, not who may ask.

pub mod comments;
pub mod images;
pub mod namespaces;
pub mod profiles;
pub mod retention;
pub mod stars;
pub mod teams;
pub mod tokens;
pub mod users;
pub mod webhooks;

pub use tokens::MAX_APP_TOKENS;

use crate::Result;
use crate::model::{ActivityAction, NewActivity};
use crate::traits::ActivityStore;

/// Records the one activity of an operation.
async fn record<S: ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    action: ActivityAction,
    target: impl Into<String>,
    details: Option<String>,
) -> Result<()> {
    let mut activity = NewActivity::new(actor, action, target);
    activity.details = details;
    store.record_activity(activity).await
}

#[cfg(test)]
mod tests;
