use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Result;
use crate::model::UserId;

/// Login lockout: consecutive failed logins counted per user, and the time a locked account
/// unlocks (kept on the user, read with the user).
///
/// A role of the [`PolicyStore`](super::PolicyStore); its checks are in the accounts
/// conformance suite in `crate::testing`. Unknown users are `NotFound`.
#[async_trait]
pub trait LockoutStore: Send + Sync {
    /// Counts one failed login atomically; returns the new count.
    async fn record_login_failure(&self, id: UserId) -> Result<u32>;
    /// Locks the account until `until`, or with `None` unlocks it and resets the failure count
    /// (what a successful login does).
    async fn set_user_lock(&self, id: UserId, until: Option<DateTime<Utc>>) -> Result<()>;
}

macro_rules! forward {
    ($wrapper:ty) => {
        #[async_trait]
        impl<T: LockoutStore + ?Sized> LockoutStore for $wrapper {
            async fn record_login_failure(&self, id: UserId) -> Result<u32> {
                (**self).record_login_failure(id).await
            }
            async fn set_user_lock(&self, id: UserId, until: Option<DateTime<Utc>>) -> Result<()> {
                (**self).set_user_lock(id, until).await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
