//! The error type shared by the core traits.

use std::error::Error as StdError;

use crate::scope::ScopeError;

/// Boxed source error carried by backend failures.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Result alias for core operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors produced by stores, authenticators and the other core traits.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The named object does not exist.
    #[error("{kind} '{name}' not found")]
    NotFound {
        /// What kind of object was looked up (user, team, namespace, ...).
        kind: &'static str,
        /// The name or id that was looked up.
        name: String,
    },
    /// The object already exists or the change conflicts with existing data.
    #[error("{0}")]
    Conflict(String),
    /// The input was rejected (bad name, bad value); the message says why.
    #[error("{0}")]
    Invalid(String),
    /// The change is well-formed but would break a rule the data keeps (the last owner of a
    /// team stays; administrators are always owners); the message says which.
    #[error("{0}")]
    Rule(String),
    /// A scope string did not follow the Docker scope grammar.
    #[error(transparent)]
    Scope(#[from] ScopeError),
    /// The backend could not be reached or is temporarily unable to answer.
    #[error("{what} is unavailable")]
    Unavailable {
        /// Which backend failed (e.g. "policy store", "LDAP server").
        what: &'static str,
        /// The underlying failure.
        #[source]
        source: BoxError,
    },
    /// Any other backend failure.
    #[error("{what} failed")]
    Backend {
        /// Which backend failed.
        what: &'static str,
        /// The underlying failure.
        #[source]
        source: BoxError,
    },
}

/// Coarse classification of an [`Error`], for mapping to protocol status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// See [`Error::NotFound`].
    NotFound,
    /// See [`Error::Conflict`].
    Conflict,
    /// See [`Error::Invalid`] and [`Error::Scope`].
    Invalid,
    /// See [`Error::Rule`].
    Rule,
    /// See [`Error::Unavailable`].
    Unavailable,
    /// See [`Error::Backend`].
    Backend,
}

impl Error {
    /// The coarse kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Invalid(_) | Error::Scope(_) => ErrorKind::Invalid,
            Error::Rule(_) => ErrorKind::Rule,
            Error::Unavailable { .. } => ErrorKind::Unavailable,
            Error::Backend { .. } => ErrorKind::Backend,
        }
    }

    /// Whether retrying the same operation later may succeed.
    pub fn is_temporary(&self) -> bool {
        matches!(self, Error::Unavailable { .. })
    }

    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(kind: &'static str, name: impl Into<String>) -> Self {
        Error::NotFound {
            kind,
            name: name.into(),
        }
    }
}
