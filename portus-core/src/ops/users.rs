//! Users: create, change, disable, unlock, delete.

use super::record;
use crate::Result;
use crate::model::{ActivityAction, AppToken, ExternalIdentity, NewUser, PasswordHash, Role, User};
use crate::traits::{AccountStore, ActivityStore, IdentityStore, LockoutStore, SessionStore, TeamStore};

/// Creates a user with their personal namespace.
pub async fn create<S: AccountStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    new: NewUser,
) -> Result<User> {
    let user = store.create_user(new).await?;
    record(store, actor, ActivityAction::UserCreate, user.username.clone(), None).await?;
    Ok(user)
}

/// The label of the application token [`bootstrap`] makes.
pub const BOOTSTRAP_TOKEN_LABEL: &str = "bootstrap";

/// Makes an installation's first administrator from `new` (made an administrator whatever it
/// says) with an application token labelled [`BOOTSTRAP_TOKEN_LABEL`] stored by
/// `secret_digest`: what Portus' unauthenticated `POST /api/v1/users/bootstrap` does. `None`,
/// and nothing written, once any user exists (two callers racing: one wins).
pub async fn bootstrap<S: AccountStore + ActivityStore + ?Sized>(
    store: &S,
    new: NewUser,
    secret_digest: &str,
) -> Result<Option<(User, AppToken)>> {
    let new = NewUser { admin: true, ..new };
    let Some(user) = store.create_first_user(new).await? else {
        return Ok(None);
    };
    let details = Some("the first administrator, bootstrapped".to_owned());
    record(store, None, ActivityAction::UserCreate, user.username.clone(), details).await?;
    let token = super::tokens::create(
        store,
        Some(&user.username),
        &user,
        BOOTSTRAP_TOKEN_LABEL,
        secret_digest,
        &crate::model::TokenLimits::default(),
        super::MAX_APP_TOKENS,
    )
    .await?;
    Ok(Some((user, token)))
}

/// Creates the account someone signs up for (with their personal namespace), recorded as
/// their own act. With `first_user_admin` the installation's first account is made an
/// administrator (decided by the store atomically, so two first sign-ups make one); every
/// other sign-up is an ordinary user, whatever `new` says.
pub async fn sign_up<S: AccountStore + ActivityStore + ?Sized>(
    store: &S,
    new: NewUser,
    first_user_admin: bool,
) -> Result<User> {
    let first = if first_user_admin {
        store
            .create_first_user(NewUser {
                admin: true,
                ..new.clone()
            })
            .await?
    } else {
        None
    };
    let user = match first {
        Some(user) => user,
        None => store.create_user(NewUser { admin: false, ..new }).await?,
    };
    let details = Some(
        if user.admin {
            "signed up, the first administrator"
        } else {
            "signed up"
        }
        .to_owned(),
    );
    record(
        store,
        Some(&user.username),
        ActivityAction::UserCreate,
        user.username.clone(),
        details,
    )
    .await?;
    Ok(user)
}

/// Creates a user with their personal namespace, linked to `identity` in the same transaction
/// (an external sign-in's first visit): `Conflict` and nothing written if the name is taken or
/// the identity is linked already.
pub async fn create_with_identity<S: IdentityStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    new: NewUser,
    identity: &ExternalIdentity,
) -> Result<User> {
    let user = store.create_user_with_identity(new, identity).await?;
    let details = format!("linked to the {identity}");
    record(
        store,
        actor,
        ActivityAction::UserCreate,
        user.username.clone(),
        Some(details),
    )
    .await?;
    Ok(user)
}

/// Links `identity` to `user`: from then on that identity signs in as `user`. `Conflict` if it
/// is linked to another user; linking it again to the same user changes nothing, records
/// nothing and answers `false`.
pub async fn link_identity<S: IdentityStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    user: &User,
    identity: &ExternalIdentity,
) -> Result<bool> {
    let linked = store.link_identity(user.id, identity).await?;
    if linked {
        let details = identity.to_string();
        record(
            store,
            actor,
            ActivityAction::UserIdentityLink,
            user.username.clone(),
            Some(details),
        )
        .await?;
    }
    Ok(linked)
}

/// Unlinks `identity` from `user`; `NotFound` if it is not linked to them.
pub async fn unlink_identity<S: IdentityStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    user: &User,
    identity: &ExternalIdentity,
) -> Result<()> {
    if !store.identities_of(user.id).await?.contains(identity) {
        return Err(crate::Error::not_found("linked identity", identity.to_string()));
    }
    store.unlink_identity(identity).await?;
    let details = identity.to_string();
    record(
        store,
        actor,
        ActivityAction::UserIdentityUnlink,
        user.username.clone(),
        Some(details),
    )
    .await
}

/// Enables or disables a user. A disabled user also loses their refresh tokens and web
/// sessions, so nothing obtained before brings them back in.
pub async fn set_enabled<S: AccountStore + ActivityStore + SessionStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    user: &User,
    enabled: bool,
) -> Result<()> {
    store.set_user_enabled(user.id, enabled).await?;
    let action = if enabled {
        ActivityAction::UserEnable
    } else {
        store.revoke_refresh_tokens(user.id).await?;
        store.end_user_sessions(user.id).await?;
        ActivityAction::UserDisable
    };
    record(store, actor, action, user.username.clone(), None).await
}

/// Grants or revokes administrator rights. A new administrator becomes owner of every team they
/// are a member of: administrators are always owners.
pub async fn set_admin<S: AccountStore + TeamStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    user: &User,
    admin: bool,
) -> Result<()> {
    store.set_user_admin(user.id, admin).await?;
    if admin {
        for (team, role) in store.memberships(user.id).await? {
            if role != Role::Owner {
                store.set_team_member(team, user.id, Role::Owner).await?;
            }
        }
    }
    let action = if admin {
        ActivityAction::UserAdminGrant
    } else {
        ActivityAction::UserAdminRevoke
    };
    record(store, actor, action, user.username.clone(), None).await
}

/// Sets (or with `None` removes) the local password; the store revokes the user's refresh
/// tokens with it, and every web session of the user ends (a stolen session does not survive
/// the owner changing the password).
pub async fn set_password<S: AccountStore + ActivityStore + SessionStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    user: &User,
    hash: Option<PasswordHash>,
) -> Result<()> {
    store.set_password_hash(user.id, hash).await?;
    store.end_user_sessions(user.id).await?;
    record(store, actor, ActivityAction::UserPassword, user.username.clone(), None).await
}

/// Sets or removes the e-mail address.
pub async fn set_email<S: AccountStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    user: &User,
    email: Option<String>,
) -> Result<()> {
    store.set_user_email(user.id, email).await?;
    record(store, actor, ActivityAction::UserEmail, user.username.clone(), None).await
}

/// Unlocks an account locked by failed logins and resets its failure count.
pub async fn unlock<S: LockoutStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    user: &User,
) -> Result<()> {
    store.set_user_lock(user.id, None).await?;
    record(store, actor, ActivityAction::UserUnlock, user.username.clone(), None).await
}

/// Deletes a user with their memberships and credentials; their personal namespace stays.
pub async fn delete<S: AccountStore + ActivityStore + ?Sized>(
    store: &S,
    actor: Option<&str>,
    user: &User,
) -> Result<()> {
    store.delete_user(user.id).await?;
    record(store, actor, ActivityAction::UserDelete, user.username.clone(), None).await
}
