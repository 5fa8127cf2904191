//! The local user an LDAP sign-in maps to (by name: the directory is the authority on its
//! names; other providers link by identity, see `oidc`).

use portus_core::model::{NewUser, User};
use portus_core::prelude::*;
use portus_core::{Error as CoreError, ErrorKind, ops};
use tracing::{info, warn};

/// The local user `username`, created without a local password when it does not exist yet
/// (`source` names the sign-in for the log and is the activity's actor). An e-mail the store refuses (taken by another
/// user, or invalid) is dropped rather than failing the sign-in; a user another sign-in created
/// meanwhile is found, not duplicated.
pub(crate) async fn find_or_create(
    store: &dyn PolicyStore,
    username: &str,
    email: Option<String>,
    admin: bool,
    source: &str,
) -> Result<User, CoreError> {
    if let Some(user) = store.user_by_name(username).await? {
        return Ok(user);
    }
    let new_user = |email| NewUser {
        username: username.to_owned(),
        email,
        admin,
        password_hash: None,
        bot: false,
    };
    let create = |email| ops::users::create(store, Some(source), new_user(email));
    let created = match create(email.clone()).await {
        Err(error) if email.is_some() && matches!(error.kind(), ErrorKind::Conflict | ErrorKind::Invalid) => {
            if let Some(user) = store.user_by_name(username).await? {
                return Ok(user);
            }
            warn!(user = username, %error, "e-mail refused; creating the user without e-mail");
            create(None).await
        }
        other => other,
    };
    match created {
        Ok(user) => {
            info!(user = username, admin, source, "created local user on first sign-in");
            Ok(user)
        }
        // Another sign-in of the same user created it meanwhile.
        Err(error) if error.kind() == ErrorKind::Conflict => store.user_by_name(username).await?.ok_or(error),
        Err(error) => Err(error),
    }
}
