//! Webhook secrets at rest: sealed with ChaCha20-Poly1305 under a key kept in the data
//! directory (or given in the configuration), never stored in clear.

use std::path::Path;

use aws_lc_rs::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use data_encoding::{BASE64, HEXLOWER};
use serde::{Deserialize, Serialize};

use crate::Error;

/// What a webhook keeps secret: its signing secret, HTTP Basic credentials and custom headers.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSecrets {
    /// The HMAC-SHA256 key of `X-Portus-Signature-256`.
    pub secret: String,
    /// HTTP Basic user name.
    #[serde(default)]
    pub username: Option<String>,
    /// HTTP Basic password.
    #[serde(default)]
    pub password: Option<String>,
    /// Custom headers, name and value.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret: only what there is.
        f.debug_struct("WebhookSecrets")
            .field("username", &self.username.is_some())
            .field("password", &self.password.is_some())
            .field("headers", &self.headers.len())
            .finish_non_exhaustive()
    }
}

impl WebhookSecrets {
    /// A fresh random signing secret (32 bytes, hex).
    pub fn generate_secret() -> Result<String, Error> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| Error::Webhook("no randomness for a webhook secret".into()))?;
        Ok(HEXLOWER.encode(&bytes))
    }
}

/// Seals and opens [`WebhookSecrets`] with one 256-bit key.
pub struct Sealer {
    key: LessSafeKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").finish_non_exhaustive()
    }
}

/// The prefix of sealed texts (the format's version).
const PREFIX: &str = "v1:";

impl Sealer {
    /// A sealer over a 32-byte key.
    pub fn new(key: &[u8]) -> Result<Self, Error> {
        let key = UnboundKey::new(&CHACHA20_POLY1305, key)
            .map_err(|_| Error::Webhook("the webhook key must be 32 bytes".into()))?;
        Ok(Sealer {
            key: LessSafeKey::new(key),
        })
    }

    /// A sealer over a key written as base64 (`webhooks.key`).
    pub fn from_base64(text: &str) -> Result<Self, Error> {
        let key = BASE64
            .decode(text.trim().as_bytes())
            .map_err(|_| Error::Webhook("webhooks.key is not base64".into()))?;
        Self::new(&key)
    }

    /// The key in the file at `path` (base64), created with a fresh random key (mode 0600)
    /// when it does not exist yet.
    pub fn from_file_or_generate(path: &Path) -> Result<Self, Error> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                SystemRandom::new()
                    .fill(&mut key)
                    .map_err(|_| Error::Webhook("no randomness for the webhook key".into()))?;
                write_private(path, &BASE64.encode(&key))
                    .map_err(|e| Error::Webhook(format!("cannot write {}: {e}", path.display())))?;
                Self::new(&key)
            }
            Err(e) => Err(Error::Webhook(format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// Seals `secrets` (a fresh random nonce each time).
    pub fn seal(&self, secrets: &WebhookSecrets) -> Result<String, Error> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| Error::Webhook("no randomness for sealing".into()))?;
        let mut data = serde_json::to_vec(secrets).map_err(|e| Error::Webhook(e.to_string()))?;
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .map_err(|_| Error::Webhook("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!("{PREFIX}{}", BASE64.encode(&out)))
    }

    /// Opens what [`seal`](Self::seal) made; fails on another key or a changed text.
    pub fn open(&self, sealed: &str) -> Result<WebhookSecrets, Error> {
        let fail = || Error::Webhook("the webhook's secrets cannot be opened with this key".into());
        let data = sealed.strip_prefix(PREFIX).ok_or_else(fail)?;
        let mut data = BASE64.decode(data.as_bytes()).map_err(|_| fail())?;
        if data.len() < NONCE_LEN {
            return Err(fail());
        }
        let nonce = Nonce::try_assume_unique_for_key(&data[..NONCE_LEN]).map_err(|_| fail())?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut data[NONCE_LEN..])
            .map_err(|_| fail())?;
        serde_json::from_slice(plain).map_err(|_| fail())
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// `sha256=<hex HMAC-SHA256 of body under secret>`, the value of `X-Portus-Signature-256`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    format!("sha256={}", HEXLOWER.encode(aws_lc_rs::hmac::sign(&key, body).as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_with_their_key_only() {
        let sealer = Sealer::new(&[7; 32]).unwrap();
        let secrets = WebhookSecrets {
            secret: "s3cret".into(),
            username: Some("ci".into()),
            password: Some("pw".into()),
            headers: vec![("X-Token".into(), "t".into())],
        };
        let sealed = sealer.seal(&secrets).unwrap();
        assert!(!sealed.contains("s3cret") && !sealed.contains("pw"));
        assert_ne!(sealed, sealer.seal(&secrets).unwrap(), "a fresh nonce each time");
        assert_eq!(sealer.open(&sealed).unwrap(), secrets);
        assert!(Sealer::new(&[8; 32]).unwrap().open(&sealed).is_err());
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push('A');
        assert!(sealer.open(&tampered).is_err());
        assert!(!format!("{secrets:?}").contains("s3cret"));
    }

    #[test]
    fn the_key_file_is_made_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("portus-webhook-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("webhooks.key");
        let _ = std::fs::remove_file(&path);
        let sealed = Sealer::from_file_or_generate(&path)
            .unwrap()
            .seal(&WebhookSecrets::default())
            .unwrap();
        assert!(Sealer::from_file_or_generate(&path).unwrap().open(&sealed).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn signatures_are_hmac_sha256_in_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
