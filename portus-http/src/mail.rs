//! Sending e-mail (password resets): the [`Mailer`] trait, an in-memory [`InMemoryMailer`]
//! for tests and embedders, and the [`PasswordResets`] settings the REST API and the pages
//! use. The `portus` program's SMTP mailer (lettre) implements the trait in the root crate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

/// A plain-text e-mail. Its `Debug` output leaves the body out: it may carry a reset link.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("body", &"<redacted>")
            .finish()
    }
}

/// Why a mail was not sent (the server refused it, could not be reached, the address is not
/// one). Carries a message for the log, never the mail's body.
#[derive(Debug, thiserror::Error)]
#[error("the mail was not sent: {0}")]
pub struct MailError(pub String);

/// Sends e-mail. Object-safe: used as `Arc<dyn Mailer>`.
#[async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug {
    /// Sends `mail`; the sender address is the mailer's own.
    async fn send(&self, mail: Mail) -> Result<(), MailError>;
}

/// A [`Mailer`] that keeps what it is given, in order: for tests.
#[derive(Debug, Default)]
pub struct InMemoryMailer {
    sent: Mutex<Vec<Mail>>,
    notify: tokio::sync::Notify,
}

impl InMemoryMailer {
    /// An empty mailbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// The mails sent so far.
    pub fn sent(&self) -> Vec<Mail> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until at least `count` mails were sent (mails go out in the background) or
    /// `timeout` passes; answers the mails sent by then.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Mail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.notify.notified();
            let sent = self.sent();
            if sent.len() >= count || tokio::time::Instant::now() >= deadline {
                return sent;
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }
}

#[async_trait]
impl Mailer for InMemoryMailer {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).push(mail);
        self.notify.notify_waiters();
        Ok(())
    }
}

#[async_trait]
impl<T: Mailer + ?Sized> Mailer for Arc<T> {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        (**self).send(mail).await
    }
}

/// Requests for one address within [`RATE_WINDOW`] beyond which no further mail goes out.
pub const RATE_LIMIT: u32 = 3;
/// The window of [`RATE_LIMIT`].
pub const RATE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Password resets by e-mail, turned on by the `[email]` section: the mailer, the URL the
/// links start with, and a per-address limit on mails.
#[derive(Clone)]
pub struct PasswordResets {
    /// Sends the links.
    pub mailer: Arc<dyn Mailer>,
    /// The URL people reach the web pages at, without a trailing slash (`public_url`).
    pub public_url: String,
    /// Per lowercased address: when its window began and how many requests it saw.
    recent: Arc<Mutex<HashMap<String, (Instant, u32)>>>,
}

impl std::fmt::Debug for PasswordResets {
    // The addresses recently asked for are nobody's business.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordResets")
            .field("mailer", &self.mailer)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl PasswordResets {
    /// Resets mailed by `mailer`, with links under `public_url`.
    pub fn new(mailer: Arc<dyn Mailer>, public_url: &str) -> Self {
        PasswordResets {
            mailer,
            public_url: public_url.trim_end_matches('/').to_owned(),
            recent: Arc::default(),
        }
    }

    /// Counts a request for `email`; `false` once the address had [`RATE_LIMIT`] requests in
    /// the last [`RATE_WINDOW`] (no mail then: a mailbox is not flooded, nor a mail server's
    /// reputation spent). Kept in memory, swept as it goes.
    pub fn admit(&self, email: &str) -> bool {
        let now = Instant::now();
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.retain(|_, (since, _)| now.duration_since(*since) < RATE_WINDOW);
        let (_, count) = recent.entry(email.to_ascii_lowercase()).or_insert((now, 0));
        *count += 1;
        *count <= RATE_LIMIT
    }

    /// The link that resets a password with `token`.
    pub fn link(&self, token: &str) -> String {
        format!("{}/password_reset/{token}", self.public_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_in_memory_mailer_keeps_mails_in_order() {
        let mailer = InMemoryMailer::new();
        let mail = |to: &str| Mail {
            to: to.into(),
            subject: "s".into(),
            body: "secret link".into(),
        };
        mailer.send(mail("a@example.org")).await.unwrap();
        mailer.send(mail("b@example.org")).await.unwrap();
        let sent = mailer.wait_for(2, Duration::from_secs(1)).await;
        assert_eq!(sent, vec![mail("a@example.org"), mail("b@example.org")]);
        assert!(!format!("{:?}", sent[0]).contains("secret"), "the body is not printed");
    }

    #[test]
    fn requests_per_address_are_limited() {
        let resets = PasswordResets::new(Arc::new(InMemoryMailer::new()), "https://portus.example/");
        for _ in 0..RATE_LIMIT {
            assert!(resets.admit("Alice@Example.org"));
        }
        assert!(!resets.admit("alice@example.org"), "the same address whatever its case");
        assert!(resets.admit("bob@example.org"));
        assert_eq!(resets.link("t0k"), "https://portus.example/password_reset/t0k");
    }
}
