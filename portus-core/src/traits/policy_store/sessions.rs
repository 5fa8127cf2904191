use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Result;
use crate::model::{UserId, WebSession};

/// The web pages' server-side state, shared by every instance on the store: signed-in sessions
/// and sign-in attempts under way at an external provider (OpenID Connect, OAuth).
///
/// Both are stored by the hash the caller computes of their random identifier (the cookie's
/// value), never the identifier itself. A session lives until its expiry, which each use may
/// push back; an attempt is taken once. Expired rows are never answered and are deleted by
/// [`purge_expired_sessions`](Self::purge_expired_sessions). Deleting a user deletes their
/// sessions.
///
/// A role of the [`PolicyStore`](super::PolicyStore); every implementation runs the role's
/// conformance suite in `crate::testing`.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session by `id_hash`: `NotFound` for an unknown user, `Conflict` when the
    /// hash is taken.
    async fn start_session(&self, id_hash: &str, session: &WebSession) -> Result<()>;
    /// The session stored by `id_hash` if it is live at `now` (`None` otherwise), its expiry
    /// first moved to `expires_at` when that is later than the stored one by at least
    /// `min_step` (a session used many times a minute is written at most once in `min_step`).
    async fn touch_session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        min_step: chrono::TimeDelta,
    ) -> Result<Option<WebSession>>;
    /// Ends the session stored by `id_hash` (nothing when there is none).
    async fn end_session(&self, id_hash: &str) -> Result<()>;
    /// Ends every session of `user`; returns how many there were.
    async fn end_user_sessions(&self, user: UserId) -> Result<u64>;
    /// Stores a sign-in attempt's `value` by `state_hash` until `expires_at`; `Conflict` when
    /// the hash is taken.
    async fn put_sign_in_attempt(&self, state_hash: &str, value: &str, expires_at: DateTime<Utc>) -> Result<()>;
    /// Takes the attempt stored by `state_hash`: it is gone afterwards whatever the answer,
    /// which is its value if it was still live at `now`.
    async fn take_sign_in_attempt(&self, state_hash: &str, now: DateTime<Utc>) -> Result<Option<String>>;
    /// Deletes the sessions and attempts expired at `now`; returns how many.
    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64>;
}

macro_rules! forward {
    ($wrapper:ty) => {
        #[async_trait]
        impl<T: SessionStore + ?Sized> SessionStore for $wrapper {
            async fn start_session(&self, id_hash: &str, session: &WebSession) -> Result<()> {
                (**self).start_session(id_hash, session).await
            }
            async fn touch_session(
                &self,
                id_hash: &str,
                now: DateTime<Utc>,
                expires_at: DateTime<Utc>,
                min_step: chrono::TimeDelta,
            ) -> Result<Option<WebSession>> {
                (**self).touch_session(id_hash, now, expires_at, min_step).await
            }
            async fn end_session(&self, id_hash: &str) -> Result<()> {
                (**self).end_session(id_hash).await
            }
            async fn end_user_sessions(&self, user: UserId) -> Result<u64> {
                (**self).end_user_sessions(user).await
            }
            async fn put_sign_in_attempt(
                &self,
                state_hash: &str,
                value: &str,
                expires_at: DateTime<Utc>,
            ) -> Result<()> {
                (**self).put_sign_in_attempt(state_hash, value, expires_at).await
            }
            async fn take_sign_in_attempt(&self, state_hash: &str, now: DateTime<Utc>) -> Result<Option<String>> {
                (**self).take_sign_in_attempt(state_hash, now).await
            }
            async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
                (**self).purge_expired_sessions(now).await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
