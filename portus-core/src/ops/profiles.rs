//! What people change about their own account, and the password reset by e-mail.

use chrono::{DateTime, TimeDelta, Utc};

use super::record;
use crate::Result;
use crate::model::{ActivityAction, PasswordHash, User};
use crate::traits::{AccountStore, ActivityStore, ProfileStore, SessionStore};

/// How long a password-reset link works.
pub const PASSWORD_RESET_LIFETIME: TimeDelta = TimeDelta::hours(6);

/// Longest display name, in characters (Portus' column).
pub const MAX_DISPLAY_NAME: usize = 255;

/// Whether `user` may reset a forgotten password by e-mail: an enabled person with a local
/// password. Bots sign in with tokens only; an account without a local password (LDAP, OpenID
/// Connect) has its password elsewhere; a disabled one signs in nowhere.
pub fn may_reset_password(user: &User) -> bool {
    user.enabled && !user.bot && user.password_hash.is_some()
}

/// Stores a reset token of `user` by `token_digest` (the caller mails the token itself),
/// valid [`PASSWORD_RESET_LIFETIME`] from `now`, replacing any older token of theirs. Answers
/// `false`, storing nothing, for a user who may not reset a password
/// ([`may_reset_password`]). Nothing is recorded: nothing changed yet.
pub async fn request_password_reset<S: ProfileStore + ?Sized>(
    store: &S,
    user: &User,
    token_digest: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    if !may_reset_password(user) {
        return Ok(false);
    }
    store
        .put_password_reset(user.id, token_digest, now + PASSWORD_RESET_LIFETIME)
        .await?;
    Ok(true)
}

/// Sets the password of the user whose reset token has `token_digest`, once: the token is
/// used up whatever the outcome. `None`, nothing changed, when the token is unknown, used or
/// expired at `now`, or its user may no longer reset a password. The store revokes the user's
/// refresh tokens with the password (and web sessions end with it); a lockout stays as it is.
/// Recorded as the user's own password change.
pub async fn reset_password<S: ProfileStore + AccountStore + ActivityStore + SessionStore + ?Sized>(
    store: &S,
    token_digest: &str,
    hash: PasswordHash,
    now: DateTime<Utc>,
) -> Result<Option<User>> {
    let Some(id) = store.take_password_reset(token_digest, now).await? else {
        return Ok(None);
    };
    let Some(user) = store.user_by_id(id).await?.filter(may_reset_password) else {
        return Ok(None);
    };
    store.set_password_hash(user.id, Some(hash)).await?;
    store.end_user_sessions(user.id).await?;
    let details = Some("reset by e-mail".to_owned());
    record(
        store,
        Some(&user.username),
        ActivityAction::UserPassword,
        user.username.clone(),
        details,
    )
    .await?;
    store.user_by_id(id).await
}

/// Sets or removes (`None`, or only white space) the display name shown instead of the user
/// name: trimmed, at most [`MAX_DISPLAY_NAME`] characters without control characters
/// (`Invalid`), not another user's (`Conflict`).
pub async fn set_display_name<S: ProfileStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    user: &User,
    display_name: Option<&str>,
) -> Result<()> {
    let name = display_name.map(str::trim).filter(|n| !n.is_empty());
    if let Some(name) = name
        && (name.chars().count() > MAX_DISPLAY_NAME || name.chars().any(char::is_control))
    {
        return Err(crate::Error::Invalid(format!(
            "a display name has at most {MAX_DISPLAY_NAME} characters and no control characters"
        )));
    }
    store.set_user_display_name(user.id, name.map(str::to_owned)).await?;
    record(
        store,
        actor,
        ActivityAction::UserDisplayName,
        user.username.clone(),
        name.map(str::to_owned),
    )
    .await
}
