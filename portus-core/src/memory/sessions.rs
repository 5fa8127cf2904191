use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use crate::model::{UserId, WebSession, at_store_precision};
use crate::{Error, Result};

use super::InMemoryStore;

#[async_trait]
impl crate::traits::SessionStore for InMemoryStore {
    async fn start_session(&self, id_hash: &str, session: &WebSession) -> Result<()> {
        let mut state = self.lock();
        state.user_mut(session.user_id)?;
        if state.sessions.contains_key(id_hash) {
            return Err(Error::Conflict("the session identifier is taken".into()));
        }
        let session = WebSession {
            expires_at: at_store_precision(session.expires_at),
            ..session.clone()
        };
        state.sessions.insert(id_hash.to_owned(), session);
        Ok(())
    }
    async fn touch_session(
        &self,
        id_hash: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        min_step: TimeDelta,
    ) -> Result<Option<WebSession>> {
        let mut state = self.lock();
        let Some(session) = state.sessions.get_mut(id_hash) else {
            return Ok(None);
        };
        if session.expires_at <= now {
            return Ok(None);
        }
        if expires_at - session.expires_at >= min_step {
            session.expires_at = at_store_precision(expires_at);
        }
        Ok(Some(session.clone()))
    }
    async fn end_session(&self, id_hash: &str) -> Result<()> {
        self.lock().sessions.remove(id_hash);
        Ok(())
    }
    async fn end_user_sessions(&self, user: UserId) -> Result<u64> {
        let mut state = self.lock();
        let before = state.sessions.len();
        state.sessions.retain(|_, s| s.user_id != user);
        Ok((before - state.sessions.len()) as u64)
    }
    async fn put_sign_in_attempt(&self, state_hash: &str, value: &str, expires_at: DateTime<Utc>) -> Result<()> {
        let mut state = self.lock();
        if state.sign_in_attempts.contains_key(state_hash) {
            return Err(Error::Conflict("the attempt's state is taken".into()));
        }
        state.sign_in_attempts.insert(
            state_hash.to_owned(),
            (value.to_owned(), at_store_precision(expires_at)),
        );
        Ok(())
    }
    async fn take_sign_in_attempt(&self, state_hash: &str, now: DateTime<Utc>) -> Result<Option<String>> {
        let taken = self.lock().sign_in_attempts.remove(state_hash);
        Ok(taken.and_then(|(value, expires_at)| (expires_at > now).then_some(value)))
    }
    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let mut state = self.lock();
        let before = state.sessions.len() + state.sign_in_attempts.len();
        state.sessions.retain(|_, s| s.expires_at > now);
        state.sign_in_attempts.retain(|_, (_, expires_at)| *expires_at > now);
        Ok((before - state.sessions.len() - state.sign_in_attempts.len()) as u64)
    }
}
