//! Application tokens. The secret is made and shown by the caller; the store keeps only its
//! digest.

use super::record;
use crate::model::{ActivityAction, AppToken, AppTokenId, TokenLimits, User};
use crate::traits::{AccountStore, AccountStoreExt, ActivityStore};
use crate::{Error, Result};

/// Most application tokens a user may hold at once, unless configured otherwise
/// (`auth.max_app_tokens`; Portus allowed 5).
pub const MAX_APP_TOKENS: usize = 20;

/// Longest application token label, in characters.
pub const MAX_TOKEN_LABEL_CHARS: usize = 100;

/// Checks a token label: 1 to [`MAX_TOKEN_LABEL_CHARS`] characters, not only white space, no
/// control characters (labels are shown in lists, logs and the activity log).
pub fn validate_label(label: &str) -> Result<()> {
    if label.trim().is_empty() {
        return Err(Error::Invalid("the token label is empty".into()));
    }
    if label.chars().count() > MAX_TOKEN_LABEL_CHARS {
        return Err(Error::Invalid(format!(
            "the token label is longer than {MAX_TOKEN_LABEL_CHARS} characters"
        )));
    }
    if label.chars().any(char::is_control) {
        return Err(Error::Invalid("the token label has control characters".into()));
    }
    Ok(())
}

/// Stores a new application token of `owner` labelled `label`, by the digest of its secret,
/// with its `limits`.
/// Refused for a label [`validate_label`] refuses (`Invalid`) and when the user already holds
/// `most` tokens (`Rule`); labels are unique per user (`Conflict`).
pub async fn create<S: AccountStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    owner: &User,
    label: &str,
    secret_digest: &str,
    limits: &TokenLimits,
    most: usize,
) -> Result<AppToken> {
    validate_label(label)?;
    if store.list_app_tokens(owner.id).await?.len() >= most {
        return Err(Error::Rule(format!(
            "at most {most} application tokens per user; revoke one first"
        )));
    }
    let token = store.create_app_token(owner.id, label, secret_digest, limits).await?;
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
