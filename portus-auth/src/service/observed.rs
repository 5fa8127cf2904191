//! Logins and lockouts as the token service reports them to its observer (metrics).

use std::sync::Arc;

use portus_core::model::User;
use portus_core::observe::{LoginMethod, Observer};
use portus_core::traits::{AuthMethod, Secret};

use super::TokenService;
use crate::{Error, Result};

impl TokenService {
    /// Reports logins and lockouts to `observer` from now on (set once; later calls are
    /// ignored).
    pub fn set_observer(&self, observer: Arc<dyn Observer>) {
        self.observer.set(observer);
    }

    /// The observer logins are reported to (the web sign-in reports its own there too).
    pub fn observer(&self) -> &dyn Observer {
        self.observer.get()
    }

    /// Verifies a user name and secret and returns the usable user they belong to.
    ///
    /// Unknown users, wrong secrets and disabled or locked users all give
    /// [`Error::InvalidCredentials`].
    pub async fn authenticate(&self, username: &str, secret: &Secret) -> Result<(User, AuthMethod)> {
        let result = self.authenticate_unobserved(username, secret).await;
        match &result {
            Ok((_, method)) => self.observer().login(login_method(method), true),
            // A store outage is no refused login.
            Err(Error::Core(_)) => {}
            Err(_) => self.observer().login(LoginMethod::Password, false),
        }
        result
    }

    /// The usable user an application token belongs to (REST API `Authorization: Bearer` and
    /// `Portus-Auth`). Unknown tokens and disabled or locked users give
    /// [`Error::InvalidCredentials`].
    pub async fn authenticate_app_token(&self, secret: &Secret) -> Result<User> {
        let result = self.authenticate_app_token_unobserved(secret).await;
        if !matches!(result, Err(Error::Core(_))) {
            self.observer().login(LoginMethod::AppToken, result.is_ok());
        }
        result
    }
}

/// The metric label of how a login was proven.
fn login_method(method: &AuthMethod) -> LoginMethod {
    match method {
        AuthMethod::Password => LoginMethod::Password,
        AuthMethod::AppToken(_) => LoginMethod::AppToken,
        AuthMethod::External(name) if name.eq_ignore_ascii_case("ldap") => LoginMethod::Ldap,
        AuthMethod::External(_) => LoginMethod::External,
    }
}
