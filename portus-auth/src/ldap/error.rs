//! What goes wrong talking to the directory, and the LDAP result codes this module acts on.
//!
//! A directory that cannot answer is [`portus_core::Error::Unavailable`] (HTTP 503 upstream,
//! and never "unknown user": fail closed); an unexpected result code that is not temporary is
//! [`portus_core::Error::Backend`].

use std::time::Duration;

use ldap3::{LdapError, LdapResult};
use portus_core::Error as CoreError;

/// What [`portus_core::Error::Unavailable`] names when the directory fails.
const WHAT: &str = "LDAP server";

// LDAP result codes (RFC 4511, appendix A) this module acts on.
pub(super) const RC_SIZE_LIMIT_EXCEEDED: u32 = 4;
pub(super) const RC_REFERRAL: u32 = 10;
pub(super) const RC_NO_SUCH_OBJECT: u32 = 32;
pub(super) const RC_INVALID_CREDENTIALS: u32 = 49;
pub(super) const RC_BUSY: u32 = 51;
pub(super) const RC_UNAVAILABLE: u32 = 52;

/// Why the directory could not answer; the source of [`portus_core::Error::Unavailable`] (and
/// of [`portus_core::Error::Backend`] for unexpected result codes).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LdapServerError {
    /// TCP connection, TLS handshake or StartTLS failed.
    #[error("cannot connect to {url}")]
    Connect {
        /// The server URL.
        url: String,
        /// The underlying failure.
        #[source]
        source: LdapError,
    },
    /// The server did not answer in time.
    #[error("{operation} timed out after {timeout:?}")]
    Timeout {
        /// What was being done (`connect`, `service bind`, `user search`, ...).
        operation: &'static str,
        /// The configured timeout.
        timeout: Duration,
    },
    /// The connection failed during an operation.
    #[error("{operation} failed")]
    Operation {
        /// What was being done.
        operation: &'static str,
        /// The underlying failure.
        #[source]
        source: LdapError,
    },
    /// The server answered with an error result code.
    #[error("{operation} refused by the server: result code {code} {text:?}")]
    Refused {
        /// What was being done.
        operation: &'static str,
        /// The LDAP result code (49: invalid credentials, 52: unavailable, ...).
        code: u32,
        /// The server's diagnostic message.
        text: String,
    },
}

impl LdapServerError {
    pub(super) fn refused(operation: &'static str, result: &LdapResult) -> Self {
        LdapServerError::Refused {
            operation,
            code: result.rc,
            text: result.text.clone(),
        }
    }
}

pub(super) fn unavailable(error: LdapServerError) -> CoreError {
    CoreError::Unavailable {
        what: WHAT,
        source: Box::new(error),
    }
}

/// A result code that is neither success nor handled by the caller: temporary conditions are
/// `Unavailable`, anything else (insufficient access, a bad filter...) a configuration problem.
pub(super) fn result_error(operation: &'static str, result: &LdapResult) -> CoreError {
    let error = LdapServerError::refused(operation, result);
    match result.rc {
        RC_BUSY | RC_UNAVAILABLE => unavailable(error),
        _ => CoreError::Backend {
            what: WHAT,
            source: Box::new(error),
        },
    }
}
