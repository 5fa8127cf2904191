//! Sign-in sessions and CSRF tokens for the web pages.
//!
//! A session is a random 256-bit identifier in an `HttpOnly`, `SameSite=Lax` cookie; the
//! policy store keeps only its SHA-256, the user and a digest of their password hash
//! ([`SessionStore`]), so every instance on the same database serves every session and a
//! restart signs nobody out. Signing in always starts a new session, so an identifier planted
//! before sign-in is worth nothing.
//!
//! Every form carries a CSRF token compared in constant time: once signed in, the session's
//! own, derived from its identifier (so no instance needs to store it, and the store's hash of
//! the identifier does not reveal it); before that (the sign-in form) a random value also set
//! in a separate cookie. Sign-in attempts at an external provider (OpenID Connect, OAuth) are
//! kept in the store too, by the SHA-256 of their cookie, each taken once.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use portus_core::model::{User, UserId, WebSession};
use portus_core::traits::SessionStore;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "portus_session";
/// Name of the cookie holding the CSRF token of the sign-in form.
pub const SIGN_IN_CSRF_COOKIE: &str = "portus_csrf";

/// A session's expiry is written back at most once a minute: most page views only read it.
const TOUCH_STEP: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// A random URL-safe token of 256 bits.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random generator failed");
    data_encoding::BASE64URL_NOPAD.encode(&bytes)
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure` when `secure`.
pub fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        max_age.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who signed in.
    pub user_id: UserId,
    /// The token every form of this session must carry.
    pub csrf: String,
    /// The digest of the user's password hash when the session started (none without a
    /// password): a session outlives no password change ([`Session::outlived_by`]).
    password: Option<String>,
}

impl Session {
    /// Whether `user`'s password changed (set, replaced or removed) since the session began.
    pub fn outlived_by(&self, user: &User) -> bool {
        self.password != password_fingerprint(user)
    }
}

fn password_fingerprint(user: &User) -> Option<String> {
    user.password_hash.as_ref().map(|hash| hex(&hash.0))
}

/// The hex SHA-256 of `value`: what the store keeps of an identifier.
fn hex(value: &str) -> String {
    data_encoding::HEXLOWER.encode(digest(&SHA256, value.as_bytes()).as_ref())
}

/// The CSRF token of session `id`: a digest no one without the identifier can compute.
fn csrf_of(id: &str) -> String {
    let purpose = format!("portus web session csrf\0{id}");
    data_encoding::BASE64URL_NOPAD.encode(digest(&SHA256, purpose.as_bytes()).as_ref())
}

/// The sessions, in the policy store.
pub struct Sessions {
    store: Arc<dyn SessionStore>,
    lifetime: Duration,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

fn expiry(lifetime: Duration) -> chrono::DateTime<chrono::Utc> {
    portus_core::model::now() + chrono::TimeDelta::from_std(lifetime).unwrap_or(chrono::TimeDelta::MAX)
}

impl Sessions {
    /// Sessions in `store` that end `lifetime` after their last use.
    pub fn new(store: Arc<dyn SessionStore>, lifetime: Duration) -> Self {
        Sessions { store, lifetime }
    }

    /// How long an unused session lives.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Starts a session for `user`; returns its identifier (for the cookie). Sessions and
    /// attempts expired by now are deleted first: sign-ins are rare enough to carry the sweep.
    pub async fn start(&self, user: &User) -> portus_core::Result<String> {
        self.store.purge_expired_sessions(portus_core::model::now()).await?;
        let id = random_token();
        let session = WebSession {
            user_id: user.id,
            password_fingerprint: password_fingerprint(user),
            expires_at: expiry(self.lifetime),
        };
        self.store.start_session(&hex(&id), &session).await?;
        Ok(id)
    }

    /// The live session `id` names, its lifetime extended.
    pub async fn get(&self, id: &str) -> portus_core::Result<Option<Session>> {
        let now = portus_core::model::now();
        let found = self
            .store
            .touch_session(&hex(id), now, expiry(self.lifetime), TOUCH_STEP)
            .await?;
        Ok(found.map(|session| Session {
            user_id: session.user_id,
            csrf: csrf_of(id),
            password: session.password_fingerprint,
        }))
    }

    /// Ends session `id` (sign out).
    pub async fn end(&self, id: &str) -> portus_core::Result<()> {
        self.store.end_session(&hex(id)).await
    }
}

/// Short-lived server-side values keyed by a random cookie (an OpenID Connect attempt between
/// leaving for the provider and coming back), in the policy store as JSON: each can be taken
/// once, on any instance.
pub struct Attempts<T> {
    store: Arc<dyn SessionStore>,
    lifetime: Duration,
    /// Which kind of attempt: the identifiers of different kinds never meet.
    purpose: &'static str,
    kept: std::marker::PhantomData<fn(T) -> T>,
}

impl<T> std::fmt::Debug for Attempts<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempts")
            .field("purpose", &self.purpose)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl<T: serde::Serialize + serde::de::DeserializeOwned> Attempts<T> {
    /// Attempts named `purpose` in `store` that expire `lifetime` after they start.
    pub fn new(store: Arc<dyn SessionStore>, purpose: &'static str, lifetime: Duration) -> Self {
        Attempts {
            store,
            lifetime,
            purpose,
            kept: std::marker::PhantomData,
        }
    }

    fn key(&self, id: &str) -> String {
        hex(&format!("{}\0{id}", self.purpose))
    }

    /// Remembers `value`; returns the identifier for the cookie.
    pub async fn put(&self, value: &T) -> portus_core::Result<String> {
        let id = random_token();
        let json = serde_json::to_string(value).map_err(|e| portus_core::Error::Invalid(e.to_string()))?;
        self.store
            .put_sign_in_attempt(&self.key(&id), &json, expiry(self.lifetime))
            .await?;
        Ok(id)
    }

    /// Takes the live value `id` names (it cannot be taken again); a value no longer readable
    /// (written by another version) is as good as none.
    pub async fn take(&self, id: &str) -> portus_core::Result<Option<T>> {
        let json = self
            .store
            .take_sign_in_attempt(&self.key(id), portus_core::model::now())
            .await?;
        Ok(json.and_then(|json| serde_json::from_str(&json).ok()))
    }
}

#[cfg(test)]
mod tests {
    use portus_auth::password::secrets_equal;

    use super::*;

    fn store() -> Arc<portus_core::InMemoryStore> {
        Arc::new(portus_core::InMemoryStore::new())
    }

    #[tokio::test]
    async fn sessions_live_until_ended_or_expired() {
        use portus_core::traits::AccountStore;
        let store = store();
        let user = store
            .create_user(portus_core::model::NewUser {
                username: "user7".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let sessions = Sessions::new(store.clone(), Duration::from_secs(60));
        let id = sessions.start(&user).await.unwrap();
        let session = sessions.get(&id).await.unwrap().expect("a fresh session is live");
        assert_eq!(session.user_id, user.id);
        assert_ne!(session.csrf, id, "the CSRF token is not the session identifier");
        assert_eq!(session.csrf, sessions.get(&id).await.unwrap().unwrap().csrf, "stable");
        assert!(sessions.get("not-a-session").await.unwrap().is_none());
        // Only the SHA-256 of the identifier is stored: the identifier itself finds nothing.
        let raw = store
            .touch_session(&id, portus_core::model::now(), expiry(Duration::ZERO), TOUCH_STEP)
            .await
            .unwrap();
        assert!(raw.is_none());
        sessions.end(&id).await.unwrap();
        assert!(sessions.get(&id).await.unwrap().is_none(), "signed out");

        let short = Sessions::new(store.clone(), Duration::ZERO);
        let id = short.start(&user).await.unwrap();
        assert!(short.get(&id).await.unwrap().is_none(), "an expired session is gone");
    }

    #[tokio::test]
    async fn attempts_are_taken_once_and_expire() {
        let store = store();
        let attempts = Attempts::<u32>::new(store.clone(), "test", Duration::from_secs(60));
        let id = attempts.put(&5).await.unwrap();
        assert_eq!(attempts.take("other").await.unwrap(), None);
        let other_kind = Attempts::<u32>::new(store.clone(), "other", Duration::from_secs(60));
        assert_eq!(other_kind.take(&id).await.unwrap(), None, "kinds never meet");
        assert_eq!(attempts.take(&id).await.unwrap(), Some(5));
        assert_eq!(attempts.take(&id).await.unwrap(), None, "taken once");
        let expired = Attempts::<u32>::new(store, "test", Duration::ZERO);
        let id = expired.put(&1).await.unwrap();
        assert_eq!(expired.take(&id).await.unwrap(), None);
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, "a=1; portus_session_x=2".parse().unwrap());
        headers.append(COOKIE, "portus_session=abc".parse().unwrap());
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "missing"), None);
        let set = set_cookie(SESSION_COOKIE, "v", Duration::from_secs(5), true);
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.ends_with("; Secure"));
    }

    #[test]
    fn tokens_are_random_and_compared_exactly() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(secrets_equal(a.as_bytes(), a.clone().as_bytes()));
        assert!(!secrets_equal(a.as_bytes(), b.as_bytes()));
        assert!(!secrets_equal(a.as_bytes(), &a.as_bytes()[..42]));
    }
}
