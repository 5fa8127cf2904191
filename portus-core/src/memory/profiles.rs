use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::{User, UserId};
use crate::{Error, Result};

use super::InMemoryStore;

#[async_trait]
impl crate::traits::ProfileStore for InMemoryStore {
    async fn users_by_email(&self, email: &str) -> Result<Vec<User>> {
        let mut found: Vec<User> = self
            .lock()
            .users
            .iter()
            .filter(|u| u.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(email)))
            .cloned()
            .collect();
        found.sort_by_key(|u| u.id);
        Ok(found)
    }
    async fn set_user_display_name(&self, id: UserId, display_name: Option<String>) -> Result<()> {
        let mut state = self.lock();
        state.user_mut(id)?;
        if let Some(name) = &display_name
            && state
                .users
                .iter()
                .any(|u| u.id != id && u.display_name.as_ref() == Some(name))
        {
            return Err(Error::Conflict(format!("the display name {name:?} is taken")));
        }
        state.user_mut(id)?.display_name = display_name;
        Ok(())
    }
    async fn put_password_reset(&self, user: UserId, token_hash: &str, expires_at: DateTime<Utc>) -> Result<()> {
        let mut state = self.lock();
        state.user_mut(user)?;
        state.password_resets.retain(|(u, ..)| *u != user);
        state.password_resets.push((
            user,
            token_hash.to_owned(),
            crate::model::at_store_precision(expires_at),
        ));
        Ok(())
    }
    async fn take_password_reset(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<UserId>> {
        let mut state = self.lock();
        let Some(at) = state.password_resets.iter().position(|(_, h, _)| h == token_hash) else {
            return Ok(None);
        };
        let (user, _, expires_at) = state.password_resets.remove(at);
        Ok((expires_at > now).then_some(user))
    }
}
