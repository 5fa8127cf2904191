//! Errors of the authentication and token layer.

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while authenticating a caller or issuing a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Wrong user name or secret, unknown user or disabled user. Deliberately one variant, so
    /// callers cannot tell them apart.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// An external sign-in (OpenID Connect) proved an identity that no local user is linked to,
    /// and the provider may not create users: an administrator must link it first.
    #[error("this account is not linked to a portus user; an administrator must link it")]
    NotLinked,
    /// The request is malformed (bad scope, unknown service, ...); the message says what.
    #[error("{0}")]
    InvalidRequest(String),
    /// A refresh token is unknown, revoked, for another service, or its user is disabled.
    #[error("invalid or revoked refresh token")]
    InvalidRefreshToken,
    /// A signing key or certificate could not be loaded.
    #[error("signing key: {0}")]
    Key(String),
    /// Signing failed inside the crypto library.
    #[error("token signing failed")]
    Signing,
    /// A key or certificate file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// The policy store or an authenticator failed.
    #[error(transparent)]
    Core(#[from] portus_core::Error),
}

impl Error {
    /// Whether retrying later may succeed (a backend was unavailable).
    pub fn is_temporary(&self) -> bool {
        matches!(self, Error::Core(e) if e.is_temporary())
    }
}
