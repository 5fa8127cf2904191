use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::Result;
use crate::model::{
    AppToken, AppTokenId, AppTokenSort, ListPage, ListQuery, NewUser, PasswordHash, RefreshToken, TokenLimits, User,
    UserId, UserSort,
};

/// Users and their credentials (password hashes, application and refresh tokens); login
/// lockout is [`LockoutStore`](super::LockoutStore)'s.
///
/// A role of the [`PolicyStore`](super::PolicyStore); every implementation runs the role's
/// conformance suite in `crate::testing`.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Creates a user together with a personal namespace (private, owned by a hidden team whose
    /// only owner is the user). Fails with `Conflict` if the user name is taken.
    async fn create_user(&self, user: NewUser) -> Result<User>;
    /// Creates `user` (as [`create_user`](Self::create_user)) only if no user exists yet, and
    /// answers `None` otherwise: of two callers racing to make an installation's first
    /// account, exactly one gets it (the bootstrap endpoint and `first_user_admin` rely on it).
    async fn create_first_user(&self, user: NewUser) -> Result<Option<User>>;
    /// Looks a user up by login name.
    async fn user_by_name(&self, username: &str) -> Result<Option<User>>;
    /// Looks a user up by id.
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>>;
    /// One page of the users, in the order asked, with their number
    /// ([`AccountStoreExt::list_users`](super::AccountStoreExt::list_users): all of them).
    async fn users_page(&self, query: &ListQuery<UserSort>) -> Result<ListPage<User>>;
    /// Enables or disables a user.
    async fn set_user_enabled(&self, id: UserId, enabled: bool) -> Result<()>;
    /// Grants or revokes administrator rights.
    async fn set_user_admin(&self, id: UserId, admin: bool) -> Result<()>;
    /// Replaces the local password hash and revokes the user's refresh tokens.
    async fn set_password_hash(&self, id: UserId, hash: Option<PasswordHash>) -> Result<()>;
    /// Replaces the user's e-mail.
    async fn set_user_email(&self, id: UserId, email: Option<String>) -> Result<()>;
    /// Deletes a user with their memberships and credentials. Their personal namespace stays,
    /// without an owner (administrators only), so nothing pushed is lost.
    async fn delete_user(&self, id: UserId) -> Result<()>;
    /// Stores a new application token by the hash of its secret, with its `limits`. Labels are
    /// unique per user.
    async fn create_app_token(
        &self,
        user: UserId,
        label: &str,
        secret_hash: &str,
        limits: &TokenLimits,
    ) -> Result<AppToken>;
    /// Records that the token was used at `at`; `NotFound` if it does not exist.
    async fn touch_app_token(&self, id: AppTokenId, at: DateTime<Utc>) -> Result<()>;
    /// Finds an application token by the hash of its secret.
    async fn app_token_by_hash(&self, secret_hash: &str) -> Result<Option<AppToken>>;
    /// A user's application tokens stored by another installation's hash (anything but this
    /// project's `sha256:` digest, e.g. Portus' bcrypt), with that hash: verified one by one on
    /// use, then re-stored with [`set_app_token_hash`](Self::set_app_token_hash).
    async fn legacy_app_tokens(&self, user: UserId) -> Result<Vec<(AppToken, String)>>;
    /// Replaces the stored hash of an application token; `NotFound` if it does not exist.
    async fn set_app_token_hash(&self, id: AppTokenId, secret_hash: &str) -> Result<()>;
    /// One page of a user's application tokens, in the order asked, with their number
    /// ([`AccountStoreExt::list_app_tokens`](super::AccountStoreExt::list_app_tokens): all of
    /// them, oldest first).
    async fn app_tokens_page(&self, user: UserId, query: &ListQuery<AppTokenSort>) -> Result<ListPage<AppToken>>;
    /// Deletes an application token and the refresh tokens obtained with it.
    async fn revoke_app_token(&self, id: AppTokenId) -> Result<()>;
    /// Stores a refresh token by the hash of its secret.
    async fn create_refresh_token(
        &self,
        user: UserId,
        service: &str,
        app_token: Option<AppTokenId>,
        secret_hash: &str,
    ) -> Result<RefreshToken>;
    /// Finds a refresh token by the hash of its secret.
    async fn refresh_token_by_hash(&self, secret_hash: &str) -> Result<Option<RefreshToken>>;
    /// Deletes all refresh tokens of a user; returns how many were deleted.
    async fn revoke_refresh_tokens(&self, user: UserId) -> Result<u64>;
}

macro_rules! forward {
    ($wrapper:ty) => {
        #[async_trait]
        impl<T: AccountStore + ?Sized> AccountStore for $wrapper {
            async fn create_user(&self, user: NewUser) -> Result<User> {
                (**self).create_user(user).await
            }
            async fn create_first_user(&self, user: NewUser) -> Result<Option<User>> {
                (**self).create_first_user(user).await
            }
            async fn user_by_name(&self, username: &str) -> Result<Option<User>> {
                (**self).user_by_name(username).await
            }
            async fn user_by_id(&self, id: UserId) -> Result<Option<User>> {
                (**self).user_by_id(id).await
            }
            async fn users_page(&self, query: &ListQuery<UserSort>) -> Result<ListPage<User>> {
                (**self).users_page(query).await
            }
            async fn set_user_enabled(&self, id: UserId, enabled: bool) -> Result<()> {
                (**self).set_user_enabled(id, enabled).await
            }
            async fn set_user_admin(&self, id: UserId, admin: bool) -> Result<()> {
                (**self).set_user_admin(id, admin).await
            }
            async fn set_password_hash(&self, id: UserId, hash: Option<PasswordHash>) -> Result<()> {
                (**self).set_password_hash(id, hash).await
            }
            async fn set_user_email(&self, id: UserId, email: Option<String>) -> Result<()> {
                (**self).set_user_email(id, email).await
            }
            async fn delete_user(&self, id: UserId) -> Result<()> {
                (**self).delete_user(id).await
            }
            async fn create_app_token(
                &self,
                user: UserId,
                label: &str,
                secret_hash: &str,
                limits: &TokenLimits,
            ) -> Result<AppToken> {
                (**self).create_app_token(user, label, secret_hash, limits).await
            }
            async fn touch_app_token(&self, id: AppTokenId, at: DateTime<Utc>) -> Result<()> {
                (**self).touch_app_token(id, at).await
            }
            async fn app_token_by_hash(&self, secret_hash: &str) -> Result<Option<AppToken>> {
                (**self).app_token_by_hash(secret_hash).await
            }
            async fn legacy_app_tokens(&self, user: UserId) -> Result<Vec<(AppToken, String)>> {
                (**self).legacy_app_tokens(user).await
            }
            async fn set_app_token_hash(&self, id: AppTokenId, secret_hash: &str) -> Result<()> {
                (**self).set_app_token_hash(id, secret_hash).await
            }
            async fn app_tokens_page(
                &self,
                user: UserId,
                query: &ListQuery<AppTokenSort>,
            ) -> Result<ListPage<AppToken>> {
                (**self).app_tokens_page(user, query).await
            }
            async fn revoke_app_token(&self, id: AppTokenId) -> Result<()> {
                (**self).revoke_app_token(id).await
            }
            async fn create_refresh_token(
                &self,
                user: UserId,
                service: &str,
                app_token: Option<AppTokenId>,
                secret_hash: &str,
            ) -> Result<RefreshToken> {
                (**self)
                    .create_refresh_token(user, service, app_token, secret_hash)
                    .await
            }
            async fn refresh_token_by_hash(&self, secret_hash: &str) -> Result<Option<RefreshToken>> {
                (**self).refresh_token_by_hash(secret_hash).await
            }
            async fn revoke_refresh_tokens(&self, user: UserId) -> Result<u64> {
                (**self).revoke_refresh_tokens(user).await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
