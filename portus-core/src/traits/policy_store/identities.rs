use std::sync::Arc;

use async_trait::async_trait;

use crate::Result;
use crate::model::{ExternalIdentity, NewUser, User, UserId};

/// Accounts at other identity providers linked to local users: how an external sign-in finds
/// its local account, by `(provider, issuer, subject)` and never by a name or an e-mail the
/// provider reports.
///
/// An identity is linked to at most one user; a user may have several. Deleting a user
/// unlinks their identities. Identities are checked with [`ExternalIdentity::validate`]
/// (`Invalid`).
///
/// A role of the [`PolicyStore`](super::PolicyStore); every implementation runs the role's
/// conformance suite in `crate::testing`.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// The user `identity` is linked to.
    async fn user_by_identity(&self, identity: &ExternalIdentity) -> Result<Option<User>>;
    /// Links `identity` to `user`: `NotFound` if the user does not exist, `Conflict` if the
    /// identity is linked to another user. Linking it again to the same user changes nothing
    /// and answers `Ok(false)`; a new link answers `Ok(true)`.
    async fn link_identity(&self, user: UserId, identity: &ExternalIdentity) -> Result<bool>;
    /// Creates a user as [`AccountStore::create_user`](super::AccountStore::create_user) does,
    /// linked to `identity`, in one transaction: `Conflict` and nothing written if the user
    /// name is taken or the identity is linked already (so two first sign-ins of one identity
    /// at once make one account, not two).
    async fn create_user_with_identity(&self, user: NewUser, identity: &ExternalIdentity) -> Result<User>;
    /// The identities linked to `user`, ordered by provider, issuer and subject (none for an
    /// unknown user).
    async fn identities_of(&self, user: UserId) -> Result<Vec<ExternalIdentity>>;
    /// Removes the link of `identity`; `NotFound` if it is linked to nobody.
    async fn unlink_identity(&self, identity: &ExternalIdentity) -> Result<()>;
}

macro_rules! forward {
    ($wrapper:ty) => {
        #[async_trait]
        impl<T: IdentityStore + ?Sized> IdentityStore for $wrapper {
            async fn user_by_identity(&self, identity: &ExternalIdentity) -> Result<Option<User>> {
                (**self).user_by_identity(identity).await
            }
            async fn link_identity(&self, user: UserId, identity: &ExternalIdentity) -> Result<bool> {
                (**self).link_identity(user, identity).await
            }
            async fn create_user_with_identity(&self, user: NewUser, identity: &ExternalIdentity) -> Result<User> {
                (**self).create_user_with_identity(user, identity).await
            }
            async fn identities_of(&self, user: UserId) -> Result<Vec<ExternalIdentity>> {
                (**self).identities_of(user).await
            }
            async fn unlink_identity(&self, identity: &ExternalIdentity) -> Result<()> {
                (**self).unlink_identity(identity).await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
