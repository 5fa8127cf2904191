use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Result;
use crate::model::{User, UserId};

/// What people change about their own account besides their credentials, and how they get it
/// back when they forget their password: display names, the look-up of accounts by e-mail,
/// and single-use password-reset tokens.
///
/// Reset tokens are stored by the hash the caller computes (never the token itself), one per
/// user at most: a new one replaces the user's older one. Deleting a user deletes their token.
///
/// A role of the [`PolicyStore`](super::PolicyStore); every implementation runs the role's
/// conformance suite in `crate::testing`.
#[async_trait]
pub trait ProfileStore: Send + Sync {
    /// The users whose e-mail is `email`, compared without regard to ASCII case, by id.
    async fn users_by_email(&self, email: &str) -> Result<Vec<User>>;
    /// Sets or (with `None`) removes the user's display name: `NotFound` for an unknown user,
    /// `Conflict` when another user shows the same name (names people see must not be
    /// mistaken for each other's).
    async fn set_user_display_name(&self, id: UserId, display_name: Option<String>) -> Result<()>;
    /// Stores a reset token of `user` by `token_hash`, valid until `expires_at`, replacing any
    /// older token of the user; `NotFound` for an unknown user.
    async fn put_password_reset(&self, user: UserId, token_hash: &str, expires_at: DateTime<Utc>) -> Result<()>;
    /// Takes the token stored by `token_hash`: it is gone afterwards whatever the answer, which
    /// is its user if it was still valid at `now`, else `None` (unknown, used or expired).
    async fn take_password_reset(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<UserId>>;
}

macro_rules! forward {
    ($wrapper:ty) => {
        #[async_trait]
        impl<T: ProfileStore + ?Sized> ProfileStore for $wrapper {
            async fn users_by_email(&self, email: &str) -> Result<Vec<User>> {
                (**self).users_by_email(email).await
            }
            async fn set_user_display_name(&self, id: UserId, display_name: Option<String>) -> Result<()> {
                (**self).set_user_display_name(id, display_name).await
            }
            async fn put_password_reset(
                &self,
                user: UserId,
                token_hash: &str,
                expires_at: DateTime<Utc>,
            ) -> Result<()> {
                (**self).put_password_reset(user, token_hash, expires_at).await
            }
            async fn take_password_reset(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<UserId>> {
                (**self).take_password_reset(token_hash, now).await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
