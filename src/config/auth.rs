//! `[auth]`: local authentication, lockout, application tokens and the first administrator.

use serde::{Deserialize, Serialize};

/// Local authentication settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// bcrypt cost for new password hashes (4 to 31).
    pub bcrypt_cost: u32,
    /// Consecutive failed logins (docker logins included) that lock an account; 0 disables
    /// lockout.
    pub lockout_attempts: u32,
    /// Seconds a locked account stays locked before it unlocks by itself.
    pub lockout_secs: u64,
    /// Seconds a verified user name and secret skip bcrypt on later logins (0: off). Password
    /// changes, revoked tokens, disabled and locked users still take effect at once.
    pub credential_cache_secs: u64,
    /// Most application tokens a user may hold at once (1 to 1000; Portus allowed 5).
    pub max_app_tokens: usize,
    /// `POST /api/v1/users/bootstrap` may make the first administrator (Portus' option).
    pub first_user_admin: bool,
    /// Docker logins take passwords (local or LDAP); `false`: application tokens only.
    pub password_docker_login: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            bcrypt_cost: portus_auth::password::DEFAULT_BCRYPT_COST,
            lockout_attempts: 10,
            lockout_secs: 15 * 60,
            credential_cache_secs: 60,
            max_app_tokens: portus_core::ops::MAX_APP_TOKENS,
            first_user_admin: true,
            password_docker_login: true,
        }
    }
}
