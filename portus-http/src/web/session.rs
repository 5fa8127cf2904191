//! Sign-in sessions and CSRF tokens for the web pages.
//!
//! A session is a random 256-bit identifier in an `HttpOnly`, `SameSite=Lax` cookie; the
//! server keeps only its SHA-256, the user and the session's CSRF token, in memory (a restart
//! signs everybody out; with several instances, route a browser to one of them). Signing in
//! always starts a new session, so an identifier planted before sign-in is worth nothing.
//!
//! Every form carries a CSRF token compared in constant time: the session's own once signed
//! in, and before that (the sign-in form) a random value also set in a separate cookie.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use portus_core::model::UserId;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "portus_session";
/// Name of the cookie holding the CSRF token of the sign-in form.
pub const SIGN_IN_CSRF_COOKIE: &str = "portus_csrf";

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
    /// The SHA-256 of the user's password hash when the session started (none without a
    /// password): a session outlives no password change ([`Session::outlived_by`]).
    password: Option<Vec<u8>>,
}

impl Session {
    /// Whether `user`'s password changed (set, replaced or removed) since the session began.
    pub fn outlived_by(&self, user: &portus_core::model::User) -> bool {
        self.password != password_fingerprint(user)
    }
}

fn password_fingerprint(user: &portus_core::model::User) -> Option<Vec<u8>> {
    user.password_hash.as_ref().map(|hash| key(&hash.0))
}

fn key(id: &str) -> Vec<u8> {
    digest(&SHA256, id.as_bytes()).as_ref().to_vec()
}

/// Values kept server-side under the SHA-256 of a random identifier (the cookie's value),
/// each until its expiry; expired ones are swept when a new one is put.
struct Expiring<T> {
    by_digest: Mutex<HashMap<Vec<u8>, (Instant, T)>>,
    lifetime: Duration,
}

impl<T> Expiring<T> {
    fn new(lifetime: Duration) -> Self {
        Expiring {
            by_digest: Mutex::new(HashMap::new()),
            lifetime,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, (Instant, T)>> {
        self.by_digest.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `value` for `lifetime`; returns its new identifier.
    fn put(&self, value: T) -> String {
        let id = random_token();
        let now = Instant::now();
        let mut entries = self.lock();
        entries.retain(|_, (expires, _)| *expires > now);
        entries.insert(key(&id), (now + self.lifetime, value));
        id
    }
}

/// The live sessions.
pub struct Sessions(Expiring<Session>);

impl std::fmt::Debug for Sessions {
    // Session identifiers and CSRF tokens are secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("lifetime", &self.0.lifetime)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Sessions that end `lifetime` after their last use.
    pub fn new(lifetime: Duration) -> Self {
        Sessions(Expiring::new(lifetime))
    }

    /// How long an unused session lives.
    pub fn lifetime(&self) -> Duration {
        self.0.lifetime
    }

    /// Starts a session for `user`; returns its identifier (for the cookie).
    pub fn start(&self, user: &portus_core::model::User) -> String {
        self.0.put(Session {
            user_id: user.id,
            csrf: random_token(),
            password: password_fingerprint(user),
        })
    }

    /// The live session `id` names, its lifetime extended.
    pub fn get(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut sessions = self.0.lock();
        let (expires, session) = sessions.get_mut(&key(id))?;
        if *expires <= now {
            sessions.remove(&key(id));
            return None;
        }
        *expires = now + self.0.lifetime;
        Some(session.clone())
    }

    /// Ends session `id` (sign out).
    pub fn end(&self, id: &str) {
        self.0.lock().remove(&key(id));
    }
}

/// Short-lived server-side values keyed by a random cookie (an OpenID Connect attempt between
/// leaving for the provider and coming back): each can be taken once.
pub struct Attempts<T>(Expiring<T>);

impl<T> std::fmt::Debug for Attempts<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempts")
            .field("lifetime", &self.0.lifetime)
            .finish_non_exhaustive()
    }
}

impl<T> Attempts<T> {
    /// Attempts that expire `lifetime` after they start.
    pub fn new(lifetime: Duration) -> Self {
        Attempts(Expiring::new(lifetime))
    }

    /// Remembers `value`; returns the identifier for the cookie.
    pub fn put(&self, value: T) -> String {
        self.0.put(value)
    }

    /// Takes the live value `id` names (it cannot be taken again).
    pub fn take(&self, id: &str) -> Option<T> {
        let (expires, value) = self.0.lock().remove(&key(id))?;
        (expires > Instant::now()).then_some(value)
    }
}

#[cfg(test)]
mod tests {
    use portus_auth::password::secrets_equal;

    use super::*;

    fn user(id: i64) -> portus_core::model::User {
        portus_core::model::User {
            id: UserId(id),
            username: format!("user{id}"),
            email: None,
            admin: false,
            enabled: true,
            password_hash: None,
            personal_namespace: None,
            failed_logins: 0,
            locked_until: None,
            display_name: None,
            bot: false,
            created_at: portus_core::model::now(),
        }
    }

    #[test]
    fn sessions_live_until_ended_or_expired() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let id = sessions.start(&user(7));
        let session = sessions.get(&id).expect("a fresh session is live");
        assert_eq!(session.user_id, UserId(7));
        assert_ne!(session.csrf, id, "the CSRF token is not the session identifier");
        assert!(sessions.get("not-a-session").is_none());
        sessions.end(&id);
        assert!(sessions.get(&id).is_none(), "signed out");

        let short = Sessions::new(Duration::ZERO);
        let id = short.start(&user(1));
        assert!(short.get(&id).is_none(), "an expired session is gone");
    }

    #[test]
    fn attempts_are_taken_once_and_expire() {
        let attempts = Attempts::new(Duration::from_secs(60));
        let id = attempts.put(5);
        assert_eq!(attempts.take("other"), None);
        assert_eq!(attempts.take(&id), Some(5));
        assert_eq!(attempts.take(&id), None, "taken once");
        let expired = Attempts::new(Duration::ZERO);
        let id = expired.put(1);
        assert_eq!(expired.take(&id), None);
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
