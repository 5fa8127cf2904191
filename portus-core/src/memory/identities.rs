use async_trait::async_trait;

use crate::model::{ExternalIdentity, NewUser, User, UserId};
use crate::{Error, Result};

use super::{InMemoryStore, State};

impl State {
    /// The user `identity` is linked to.
    fn identity_owner(&self, identity: &ExternalIdentity) -> Option<UserId> {
        self.identities
            .iter()
            .find(|(_, p, i, s)| *p == identity.provider && *i == identity.issuer && *s == identity.subject)
            .map(|(user, ..)| *user)
    }
}

fn identity_taken(identity: &ExternalIdentity) -> Error {
    Error::Conflict(format!("{identity} is linked to another user"))
}

#[async_trait]
impl crate::traits::IdentityStore for InMemoryStore {
    async fn user_by_identity(&self, identity: &ExternalIdentity) -> Result<Option<User>> {
        identity.validate()?;
        let state = self.lock();
        Ok(state
            .identity_owner(identity)
            .and_then(|id| state.users.iter().find(|u| u.id == id).cloned()))
    }
    async fn link_identity(&self, user: UserId, identity: &ExternalIdentity) -> Result<bool> {
        identity.validate()?;
        let mut state = self.lock();
        state.user_mut(user)?;
        match state.identity_owner(identity) {
            Some(owner) if owner == user => Ok(false),
            Some(_) => Err(identity_taken(identity)),
            None => {
                state.identities.push((
                    user,
                    identity.provider.clone(),
                    identity.issuer.clone(),
                    identity.subject.clone(),
                ));
                Ok(true)
            }
        }
    }
    async fn create_user_with_identity(&self, user: NewUser, identity: &ExternalIdentity) -> Result<User> {
        identity.validate()?;
        let mut state = self.lock();
        if state.identity_owner(identity).is_some() {
            return Err(identity_taken(identity));
        }
        let user = state.insert_user(user)?;
        state.identities.push((
            user.id,
            identity.provider.clone(),
            identity.issuer.clone(),
            identity.subject.clone(),
        ));
        Ok(user)
    }
    async fn identities_of(&self, user: UserId) -> Result<Vec<ExternalIdentity>> {
        let mut found: Vec<ExternalIdentity> = self
            .lock()
            .identities
            .iter()
            .filter(|(owner, ..)| *owner == user)
            .map(|(_, p, i, s)| ExternalIdentity::new(p, i, s))
            .collect();
        found.sort();
        Ok(found)
    }
    async fn unlink_identity(&self, identity: &ExternalIdentity) -> Result<()> {
        identity.validate()?;
        let mut state = self.lock();
        let before = state.identities.len();
        state
            .identities
            .retain(|(_, p, i, s)| !(*p == identity.provider && *i == identity.issuer && *s == identity.subject));
        if state.identities.len() == before {
            return Err(Error::not_found("linked identity", identity.to_string()));
        }
        Ok(())
    }
}
