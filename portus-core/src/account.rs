//! The one account-state rule: whether a user may use any credential at all.
//!
//! Every credential check — password, application token (as docker password or API
//! credential), refresh token, web session, OpenID Connect sign-in — first proves *who* the
//! caller is, then asks [`check_usable`] whether that account may act now. Keeping the rule in
//! one pure function is what makes "a disabled or locked user gets nothing anywhere" hold:
//! a path that decided account state on its own could (and once did) forget the lock.
//!
//! Callers turn a refusal into the same answer as wrong credentials, so the caller cannot
//! tell a locked or disabled account from a bad secret; the reason is for the log only.
//!
//! ```
//! use chrono::{Duration, Utc};
//! use portus_core::account::{AccountRefusal, check_usable};
//! # let mut user = portus_core::model::User {
//! #     id: portus_core::model::UserId(1), username: "alice".into(), email: None, admin: false,
//! #     enabled: true, password_hash: None, personal_namespace: None, failed_logins: 0,
//! #     locked_until: None, display_name: None, bot: false, created_at: Utc::now(),
//! # };
//! let now = Utc::now();
//! assert_eq!(check_usable(&user, now), Ok(()));
//! user.locked_until = Some(now + Duration::minutes(5));
//! assert!(matches!(check_usable(&user, now), Err(AccountRefusal::Locked { .. })));
//! ```

use chrono::{DateTime, Utc};

use crate::model::User;

/// Why an account may not be used now. Only for logs and administrators: callers of the
/// credential paths see the same refusal as for wrong credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccountRefusal {
    /// An administrator disabled the account; it stays unusable until enabled again.
    #[error("the account is disabled")]
    Disabled,
    /// Too many failed logins locked the account until `until` (or an administrator unlocks it).
    #[error("the account is locked until {until}")]
    Locked {
        /// When the lock ends by itself.
        until: DateTime<Utc>,
    },
}

/// Whether `user` may use any credential at `now`: `Ok` for an enabled account that is not
/// locked, otherwise why not.
///
/// A disabled account is refused whether or not it is also locked (disabling is the stronger,
/// lasting state). A lock that ended before or at `now` no longer refuses: lockout is
/// temporary and ends by itself.
///
/// Pure: the caller reads the user from the store and supplies `now`, so every path judges the
/// account as the store has it at that moment.
pub fn check_usable(user: &User, now: DateTime<Utc>) -> Result<(), AccountRefusal> {
    if !user.enabled {
        return Err(AccountRefusal::Disabled);
    }
    match user.locked_until {
        Some(until) if until > now => Err(AccountRefusal::Locked { until }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::model::UserId;

    fn user(enabled: bool, locked_until: Option<DateTime<Utc>>) -> User {
        User {
            id: UserId(1),
            username: "alice".into(),
            email: None,
            admin: false,
            enabled,
            password_hash: None,
            personal_namespace: None,
            failed_logins: 0,
            locked_until,
            display_name: None,
            bot: false,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn an_enabled_unlocked_account_is_usable() {
        let now = Utc::now();
        assert_eq!(check_usable(&user(true, None), now), Ok(()));
    }

    #[test]
    fn a_disabled_account_is_refused() {
        let now = Utc::now();
        assert_eq!(check_usable(&user(false, None), now), Err(AccountRefusal::Disabled));
    }

    #[test]
    fn a_locked_account_is_refused_until_the_lock_ends() {
        let now = Utc::now();
        let until = now + Duration::minutes(15);
        let locked = user(true, Some(until));
        assert_eq!(check_usable(&locked, now), Err(AccountRefusal::Locked { until }));
        assert_eq!(
            check_usable(&locked, until - Duration::microseconds(1)),
            Err(AccountRefusal::Locked { until })
        );
        assert_eq!(check_usable(&locked, until), Ok(()), "the lock ends at `until`");
        assert_eq!(check_usable(&user(true, Some(now - Duration::seconds(1))), now), Ok(()));
    }

    #[test]
    fn disabled_wins_over_locked() {
        let now = Utc::now();
        let both = user(false, Some(now + Duration::minutes(1)));
        assert_eq!(check_usable(&both, now), Err(AccountRefusal::Disabled));
    }

    #[test]
    fn failed_logins_below_the_lock_do_not_refuse() {
        // Counting failures is the token service's business; only a lock set refuses.
        let mut counted = user(true, None);
        counted.failed_logins = 9;
        assert_eq!(check_usable(&counted, Utc::now()), Ok(()));
    }

    #[test]
    fn the_rule_agrees_with_is_locked() {
        let now = Utc::now();
        for locked_until in [
            None,
            Some(now),
            Some(now - Duration::seconds(1)),
            Some(now + Duration::seconds(1)),
        ] {
            let u = user(true, locked_until);
            assert_eq!(check_usable(&u, now).is_err(), u.is_locked(now), "{locked_until:?}");
        }
    }
}
