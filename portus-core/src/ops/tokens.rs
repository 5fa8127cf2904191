//! Application tokens. The secret is made and shown by the caller; the store keeps only its
//! digest.

use super::record;
use crate::model::{ActivityAction, AppToken, AppTokenId, User};
use crate::traits::{AccountStore, AccountStoreExt, ActivityStore};
use crate::{Error, Result};

/// Most application tokens a user may hold at once.
pub const MAX_APP_TOKENS: usize = 20;

/// Stores a new application token of `owner` labelled `label`, by the digest of its secret.
/// Refused (`Invalid`) when the user already holds [`MAX_APP_TOKENS`]; labels are unique per
/// user (`Conflict`).
pub async fn create<S: AccountStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    owner: &User,
    label: &str,
    secret_digest: &str,
) -> Result<AppToken> {
    if store.list_app_tokens(owner.id).await?.len() >= MAX_APP_TOKENS {
        return Err(Error::Invalid(format!(
            "at most {MAX_APP_TOKENS} application tokens per user; revoke one first"
        )));
    }
    let token = store.create_app_token(owner.id, label, secret_digest).await?;
    let target = format!("{}/{}", owner.username, token.label);
    record(store, actor, ActivityAction::ApplicationTokenCreate, target, None).await?;
    Ok(token)
}

/// Revokes `owner`'s token `id` with the refresh tokens obtained with it. `NotFound` unless the
/// token is theirs.
pub async fn revoke<S: AccountStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    owner: &User,
    id: AppTokenId,
) -> Result<AppToken> {
    let token = store
        .list_app_tokens(owner.id)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| Error::not_found("application token", id.to_string()))?;
    store.revoke_app_token(token.id).await?;
    let target = format!("{}/{}", owner.username, token.label);
    record(store, actor, ActivityAction::ApplicationTokenDestroy, target, None).await?;
    Ok(token)
}
