use chrono::{DateTime, Utc};

use super::UserId;

/// A signed-in browser's session as the store keeps it, under the SHA-256 of its identifier
/// (the identifier itself is only in the browser's cookie).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSession {
    /// Who signed in.
    pub user_id: UserId,
    /// A digest of the user's password hash when the session began (none without a password):
    /// a session outlives no password change.
    pub password_fingerprint: Option<String>,
    /// When the session ends unless it is used again before.
    pub expires_at: DateTime<Utc>,
}
