//! Token issuance and authentication for portus.
//!
//! - [`token`]: signing keys (RS256 / ES256 from PEM), the libtrust `kid`, optional `x5c`, and
//!   the [`TokenIssuer`] that signs registry bearer tokens.
//! - [`basic`]: HTTP Basic credentials from an `Authorization` header.
//! - [`password`]: bcrypt passwords (compatible with Portus/Devise hashes), application and
//!   refresh token secrets, and the [`LocalAuthenticator`].
//! - [`service`]: the [`TokenService`] that answers a token request end to end: authenticate,
//!   authorize every scope action, sign.
//! - [`external_sign_in`]: what every external sign-in does once its provider vouched for
//!   someone: rules, linking by identity, groups to teams.
//! - `ldap` (feature `ldap`): the `LdapAuthenticator`, which checks passwords against an LDAP
//!   directory and creates the local users (and team memberships) of its users.
//! - `oidc` and `oauth` (feature `oidc`): sign in with OpenID Connect, and with GitHub, GitLab or
//!   Bitbucket (OAuth 2.0 with Portus' restrictions), linked by identity, never by name.

pub mod basic;
mod cache;
pub mod error;
pub mod external_sign_in;
#[cfg(feature = "ldap")]
mod external_user;
pub mod jwks;
#[cfg(feature = "ldap")]
pub mod ldap;
#[cfg(feature = "testing")]
pub mod ldap_testing;
#[cfg(feature = "oidc")]
pub mod oauth;
#[cfg(feature = "oidc")]
pub mod oidc;
pub mod password;
pub mod service;
pub mod token;
mod token_limits;

pub use basic::{BasicAuthError, parse_basic_authorization};
pub use error::{Error, Result};
#[cfg(feature = "ldap")]
pub use ldap::{LdapAuthenticator, LdapConfig};
pub use password::LocalAuthenticator;
pub use service::{Credentials, LockoutPolicy, TokenGrant, TokenRequest, TokenService, TokenServiceConfig};
pub use token::{SigningAlgorithm, SigningKey, TokenIssuer};
