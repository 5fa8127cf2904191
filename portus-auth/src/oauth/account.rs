//! The local user of a verified [`ExternalProfile`], by the same rules as OpenID Connect's:
//! found by the identity (linked at its first sign-in, or by an administrator), never by a
//! name or an e-mail; a first sign-in creates a user (named by the provider's login, or with
//! Portus' `_NN` suffix when taken) when `create_users` allows.

use portus_core::model::{ExternalIdentity, NewUser, User};
use portus_core::prelude::*;
use portus_core::{ErrorKind, ops};
use tracing::{info, warn};

use super::ExternalProfile;
use crate::error::{Error, Result};

/// What a provider's sign-ins may do with the accounts it vouches for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignInRules {
    /// Create a local user (without password) at an identity's first sign-in; otherwise only
    /// identities an administrator linked may sign in.
    pub create_users: bool,
    /// When not empty: the verified e-mail's domain must be one of these (case-insensitive,
    /// exact, as Portus' `domain`).
    pub allowed_domains: Vec<String>,
}

/// The enabled, unlocked local user of `profile` (`source` names the provider in the log and
/// as the actor of what the sign-in writes).
pub(crate) async fn sign_in(
    store: &dyn PolicyStore,
    source: &str,
    rules: &SignInRules,
    profile: ExternalProfile,
) -> Result<User> {
    if !rules.allowed_domains.is_empty() {
        let domain = profile
            .verified_email
            .as_deref()
            .and_then(|e| e.rsplit_once('@'))
            .map(|(_, d)| d.to_ascii_lowercase());
        let allowed = domain
            .as_deref()
            .is_some_and(|d| rules.allowed_domains.iter().any(|a| a.eq_ignore_ascii_case(d)));
        if !allowed {
            warn!(
                provider = source,
                subject = %profile.identity.subject,
                domain = domain.as_deref().unwrap_or("(no verified e-mail)"),
                "sign-in refused: the verified e-mail's domain is not in allowed_domains"
            );
            return Err(Error::InvalidCredentials);
        }
    }
    let user = match store.user_by_identity(&profile.identity).await? {
        Some(user) => user,
        None => first_sign_in(store, source, rules, profile).await?,
    };
    if let Err(refusal) = portus_core::account::check_usable(&user, portus_core::model::now()) {
        info!(user = %user.username, %refusal, provider = source, "sign-in refused");
        return Err(Error::InvalidCredentials);
    }
    Ok(user)
}

async fn first_sign_in(
    store: &dyn PolicyStore,
    source: &str,
    rules: &SignInRules,
    profile: ExternalProfile,
) -> Result<User> {
    let identity = &profile.identity;
    if let Some(imported) = &profile.imported_as
        && let Some(user) = store.user_by_identity(imported).await?
    {
        return link_imported(store, source, user, identity, imported).await;
    }
    if !rules.create_users {
        // Never the existing user of the same name or e-mail: the provider may let anyone
        // choose those. The administrator learns what to link.
        warn!(
            provider = source,
            claimed_name = profile.preferred_username.as_deref().unwrap_or(""),
            "sign-in refused: no user is linked to this identity and create_users is off; an administrator \
             must link it: portus user link-identity USER --provider {} --issuer {} --subject {}",
            identity.provider,
            identity.issuer,
            identity.subject,
        );
        return Err(Error::NotLinked);
    }
    let Some(name) = profile.preferred_username.as_deref().map(usable_name) else {
        warn!(provider = source, "sign-in refused: the provider gave no user name");
        return Err(Error::InvalidCredentials);
    };
    if let Err(error) = portus_core::naming::validate_username(&name) {
        warn!(provider = source, %error, "sign-in refused: the provider's user name is not a valid portus name");
        return Err(Error::InvalidCredentials);
    }
    create(store, source, identity, &name, profile.verified_email).await
}

/// The provider's login as a user name: spaces and `:` (not allowed here; Bitbucket
/// nicknames may have spaces) become `_`.
fn usable_name(login: &str) -> String {
    login
        .trim()
        .chars()
        .map(|c| if c == ':' || c.is_whitespace() { '_' } else { c })
        .filter(|c| !c.is_control())
        .collect()
}

/// Links `identity` to `user`, whom a Portus import recorded as `imported`, in its place.
async fn link_imported(
    store: &dyn PolicyStore,
    source: &str,
    user: User,
    identity: &ExternalIdentity,
    imported: &ExternalIdentity,
) -> Result<User> {
    match ops::users::link_identity(store, Some(source), &user, identity).await {
        Ok(_) => {}
        Err(error) if error.kind() == ErrorKind::Conflict => {
            return Ok(store.user_by_identity(identity).await?.ok_or(error)?);
        }
        Err(error) => return Err(error.into()),
    }
    match ops::users::unlink_identity(store, Some(source), &user, imported).await {
        Err(error) if error.kind() != ErrorKind::NotFound => return Err(error.into()),
        _ => {}
    }
    info!(user = %user.username, provider = source, "identity imported from Portus linked to its base URL");
    Ok(user)
}

/// A new user for `identity`, named `username` or the first free of `username_01` ...
/// `username_998`, linked in the same transaction.
async fn create(
    store: &dyn PolicyStore,
    source: &str,
    identity: &ExternalIdentity,
    username: &str,
    mut email: Option<String>,
) -> Result<User> {
    let mut names = portus_core::naming::suffixed_user_names(username);
    let mut candidate = names.next();
    while let Some(name) = candidate.take() {
        if store.user_by_name(&name).await?.is_some() {
            candidate = names.next();
            continue;
        }
        let new = NewUser {
            username: name.clone(),
            email: email.clone(),
            admin: false,
            password_hash: None,
            bot: false,
        };
        match ops::users::create_with_identity(store, Some(source), new, identity).await {
            Ok(user) => {
                info!(user = %user.username, claimed_name = username, provider = source, "created local user at an identity's first sign-in");
                return Ok(user);
            }
            Err(error) if error.kind() == ErrorKind::Conflict => {
                if let Some(user) = store.user_by_identity(identity).await? {
                    return Ok(user);
                }
                if store.user_by_name(&name).await?.is_none() {
                    // The e-mail is another user's: create without it.
                    if email.take().is_some() {
                        warn!(user = %name, %error, "e-mail refused; creating the user without e-mail");
                        candidate = Some(name);
                        continue;
                    }
                    return Err(error.into());
                }
                candidate = names.next();
            }
            Err(error) if error.kind() == ErrorKind::Invalid && email.is_some() => {
                warn!(user = %name, %error, "e-mail refused; creating the user without e-mail");
                email = None;
                candidate = Some(name);
            }
            Err(error) => return Err(error.into()),
        }
    }
    warn!(
        provider = source,
        "sign-in refused: '{username}' and its _01 to _998 are taken"
    );
    Err(Error::InvalidCredentials)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_logins_become_valid_names() {
        assert_eq!(usable_name(" Jane Doe "), "Jane_Doe");
        assert_eq!(usable_name("a:b"), "a_b");
    }
}
