//! The verified-credential cache: repeated logins with the same user name and secret (every
//! `docker push` asks for several tokens) skip the bcrypt verification for a short while.
//!
//! Entries are keyed by an HMAC of user name and secret under a key generated per process, so
//! the cache holds no secret and a memory dump reveals none. An entry only says "this secret
//! verified against this password hash (or this application token) at that time": every hit is
//! checked against the store again, so a password change, a revoked token, a disabled or locked
//! user take effect at once, on every instance. Failed logins are never cached, so each one
//! still counts towards the lockout.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use portus_core::model::{AppTokenId, PasswordHash};
use portus_core::traits::{AuthMethod, Secret};

/// What a successful verification proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Proof {
    /// The secret matched this password hash.
    Password(PasswordHash),
    /// The secret is this application token.
    AppToken(AppTokenId),
}

impl Proof {
    /// The proof for an authentication method, given the user's current password hash.
    /// External verifications (LDAP) are not cached: the directory stays the judge of every
    /// login (a bind costs milliseconds, not bcrypt's tens), so a password changed or an account
    /// closed there, or a directory outage, shows at once.
    pub(crate) fn of(method: &AuthMethod, password_hash: Option<&PasswordHash>) -> Option<Proof> {
        match method {
            AuthMethod::Password => password_hash.cloned().map(Proof::Password),
            AuthMethod::AppToken(id) => Some(Proof::AppToken(*id)),
            AuthMethod::External(_) => None,
        }
    }

    /// The authentication method this proof stands for.
    pub(crate) fn method(&self) -> AuthMethod {
        match self {
            Proof::Password(_) => AuthMethod::Password,
            Proof::AppToken(id) => AuthMethod::AppToken(*id),
        }
    }
}

struct Entry {
    username: String,
    proof: Proof,
    expires: Instant,
}

/// A bounded, time-limited map from HMAC(user, secret) to what verifying them proved.
pub(crate) struct CredentialCache {
    key: hmac::Key,
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

impl CredentialCache {
    /// A cache whose entries live `ttl`, holding at most `capacity` of them; `None` when `ttl`
    /// is zero (caching off).
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Option<Self> {
        if ttl.is_zero() || capacity == 0 {
            return None;
        }
        let mut key = [0u8; 32];
        SystemRandom::new().fill(&mut key).ok()?;
        Some(CredentialCache {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
            ttl,
            capacity,
            entries: Mutex::new(HashMap::new()),
        })
    }

    fn fingerprint(&self, username: &str, secret: &Secret) -> [u8; 32] {
        let mut context = hmac::Context::with_key(&self.key);
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        context.update(&(username.len() as u64).to_be_bytes());
        context.update(username.as_bytes());
        context.update(secret.expose().as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(context.sign().as_ref());
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What an earlier verification of these credentials proved, if it has not expired.
    pub(crate) fn get(&self, username: &str, secret: &Secret) -> Option<Proof> {
        let fingerprint = self.fingerprint(username, secret);
        let mut entries = self.lock();
        match entries.get(&fingerprint) {
            Some(entry) if entry.expires > Instant::now() && entry.username == username => Some(entry.proof.clone()),
            Some(_) => {
                entries.remove(&fingerprint);
                None
            }
            None => None,
        }
    }

    /// Remembers a successful verification.
    pub(crate) fn insert(&self, username: &str, secret: &Secret, proof: Proof) {
        let fingerprint = self.fingerprint(username, secret);
        let now = Instant::now();
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            entries.retain(|_, e| e.expires > now);
            if entries.len() >= self.capacity {
                // Still full of live entries: start over rather than grow without bound.
                entries.clear();
            }
        }
        entries.insert(
            fingerprint,
            Entry {
                username: username.to_owned(),
                proof,
                expires: now + self.ttl,
            },
        );
    }

    /// Forgets an entry that no longer holds.
    pub(crate) fn remove(&self, username: &str, secret: &Secret) {
        let fingerprint = self.fingerprint(username, secret);
        self.lock().remove(&fingerprint);
    }

    /// How many entries it holds (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_per_user_and_secret_and_expire() {
        let cache = CredentialCache::new(Duration::from_millis(50), 10).unwrap();
        let proof = Proof::AppToken(AppTokenId(7));
        cache.insert("alice", &Secret::new("pw"), proof.clone());
        assert_eq!(cache.get("alice", &Secret::new("pw")), Some(proof));
        assert_eq!(cache.get("alice", &Secret::new("other")), None);
        assert_eq!(cache.get("alic", &Secret::new("epw")), None, "length-prefixed");
        assert_eq!(cache.get("bob", &Secret::new("pw")), None);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get("alice", &Secret::new("pw")), None, "expired");
        assert_eq!(cache.len(), 0, "expired entries are dropped");
    }

    #[test]
    fn capacity_is_bounded() {
        let cache = CredentialCache::new(Duration::from_secs(60), 3).unwrap();
        for i in 0..10 {
            cache.insert(&format!("u{i}"), &Secret::new("pw"), Proof::AppToken(AppTokenId(i)));
            assert!(cache.len() <= 3);
        }
        assert!(CredentialCache::new(Duration::ZERO, 3).is_none(), "ttl 0 turns it off");
    }
}
