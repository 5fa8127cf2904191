//! The [`Dispatcher`]: delivers the store's webhook queue, signed, in order per webhook,
//! retried with exponential backoff until the give-up age.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::future::join_all;
use portus_core::model::{AttemptOutcome, Delivery, DeliveryAttempt, WebhookContentType, WebhookMethod};
use portus_core::traits::WebhookStore;
use tokio::sync::Notify;
use tracing::{debug, warn};

use super::guard::{GuardedResolver, check_target};
use super::seal::{Sealer, signature};
use crate::Error;

/// How much of a response body the log keeps.
const MAX_LOGGED_BODY: usize = 4096;
/// How many deliveries (of as many webhooks) are attempted at once.
const BATCH: usize = 32;

/// The dispatcher's settings (`[webhooks]`).
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// Whether internal addresses may be targets (`allow_private_targets`).
    pub allow_private: bool,
    /// Per-request timeout.
    pub timeout: Duration,
    /// The first retry's delay; each further one doubles it.
    pub first_retry: Duration,
    /// The longest delay between retries.
    pub max_retry: Duration,
    /// A delivery still failing this long after it was queued is given up.
    pub give_up_after: Duration,
    /// How often the queue is looked at.
    pub poll: Duration,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        DispatchConfig {
            allow_private: false,
            timeout: Duration::from_secs(10),
            first_retry: Duration::from_secs(2),
            max_retry: Duration::from_secs(300),
            give_up_after: Duration::from_secs(24 * 3600),
            poll: Duration::from_secs(1),
        }
    }
}

/// The delay before the retry after `attempts` failed attempts: `first`, doubled per further
/// attempt, at most `max`.
pub fn backoff(attempts: u32, first: Duration, max: Duration) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(30));
    first.saturating_mul(factor).min(max)
}

/// Delivers queued webhook events.
pub struct Dispatcher {
    store: Arc<dyn WebhookStore>,
    sealer: Arc<Sealer>,
    client: reqwest::Client,
    config: DispatchConfig,
    wake: Notify,
    observer: portus_core::observe::ObserverSlot,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher over the store's queue; its HTTP client follows no redirects and resolves
    /// names through the [`GuardedResolver`].
    pub fn new(store: Arc<dyn WebhookStore>, sealer: Arc<Sealer>, config: DispatchConfig) -> Result<Arc<Self>, Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .user_agent(concat!("portus-webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: config.allow_private,
            }))
            .build()
            .map_err(|source| Error::Unreachable { source })?;
        Ok(Arc::new(Dispatcher {
            store,
            sealer,
            client,
            config,
            wake: Notify::new(),
            observer: Default::default(),
        }))
    }

    /// Reports each delivery attempt's outcome to `observer` (set once).
    pub fn set_observer(&self, observer: Arc<dyn portus_core::observe::Observer>) {
        self.observer.set(observer);
    }

    /// Looks at the queue now (after a delivery was queued or re-sent).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Attempts every due delivery, again while more become due; returns how many attempts
    /// were made.
    pub async fn run_once(&self) -> Result<usize, Error> {
        let mut attempts = 0;
        loop {
            // A lease well past one attempt's timeout: another instance's dispatcher takes a
            // delivery over only when this one died in the middle of it.
            let now = Utc::now();
            let lease = chrono::Duration::from_std(self.config.timeout * 3).unwrap_or(chrono::Duration::minutes(1));
            let due = self.store.claim_due_deliveries(now, BATCH, now + lease).await?;
            if due.is_empty() {
                return Ok(attempts);
            }
            attempts += due.len();
            // One per webhook: different receivers in parallel, each webhook's in order.
            for result in join_all(due.iter().map(|d| self.attempt(d))).await {
                result?;
            }
        }
    }

    /// Runs [`run_once`](Self::run_once) every poll interval and when woken, until aborted.
    pub fn spawn(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        self.spawn_until(crate::stop::never())
    }

    /// [`spawn`](Self::spawn), ending after the pass in progress once `stop` says so
    /// (deliveries still queued go out at the next start, or from another instance).
    pub fn spawn_until(self: &Arc<Self>, mut stop: crate::stop::Stop) -> tokio::task::JoinHandle<()> {
        let dispatcher = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                if let Err(e) = dispatcher.run_once().await {
                    warn!(error = %e, "delivering webhooks failed; will retry");
                }
                tokio::select! {
                    _ = crate::stop::requested(&mut stop) => return,
                    _ = dispatcher.wake.notified() => {}
                    _ = tokio::time::sleep(dispatcher.config.poll) => {}
                }
            }
        })
    }

    async fn attempt(&self, delivery: &Delivery) -> Result<(), Error> {
        let started = Utc::now();
        let attempt = match self.store.webhook(delivery.webhook_id).await? {
            None => return Ok(()), // deleted meanwhile, its queue with it
            Some(webhook) => self.send(&webhook, delivery).await,
        };
        let delivered = attempt.status.is_some_and(|s| (200..300).contains(&s));
        let age = (started - delivery.created_at).to_std().unwrap_or_default();
        let outcome = if delivered {
            AttemptOutcome::Delivered
        } else if age >= self.config.give_up_after {
            warn!(delivery = %delivery.id, webhook = %delivery.webhook_id, "webhook delivery given up");
            AttemptOutcome::GaveUp
        } else {
            let delay = backoff(delivery.attempts + 1, self.config.first_retry, self.config.max_retry);
            AttemptOutcome::RetryAt(Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default())
        };
        debug!(delivery = %delivery.id, status = ?attempt.status, ?outcome, "webhook delivery attempted");
        self.observer.get().delivery(match outcome {
            AttemptOutcome::Delivered => portus_core::observe::DeliveryOutcome::Delivered,
            AttemptOutcome::GaveUp => portus_core::observe::DeliveryOutcome::Failed,
            _ => portus_core::observe::DeliveryOutcome::Retrying,
        });
        match self.store.finish_attempt(delivery.id, &attempt, outcome).await {
            // Deleted meanwhile, with its queue.
            Err(e) if e.kind() == portus_core::ErrorKind::NotFound => Ok(()),
            other => other.map_err(Error::from),
        }
    }

    /// Sends one delivery; never fails, the attempt records what went wrong.
    async fn send(&self, webhook: &portus_core::model::Webhook, delivery: &Delivery) -> DeliveryAttempt {
        let mut attempt = DeliveryAttempt {
            at: Some(portus_core::model::now()),
            ..DeliveryAttempt::default()
        };
        let settings = &webhook.settings;
        if let Err(e) = check_target(&settings.url, self.config.allow_private).await {
            attempt.error = Some(e.to_string());
            return attempt;
        }
        let secrets = match self.sealer.open(&settings.sealed) {
            Ok(secrets) => secrets,
            Err(e) => {
                attempt.error = Some(e.to_string());
                return attempt;
            }
        };
        let body: Vec<u8> = match settings.content_type {
            WebhookContentType::Json => delivery.body.clone().into_bytes(),
            WebhookContentType::Form => {
                let encoded: String = url::form_urlencoded::byte_serialize(delivery.body.as_bytes()).collect();
                format!("payload={encoded}").into_bytes()
            }
        };
        let method = match settings.method {
            WebhookMethod::Get => reqwest::Method::GET,
            WebhookMethod::Post => reqwest::Method::POST,
        };
        let mut logged = vec![
            format!("content-type: {}", settings.content_type.as_str()),
            format!("x-portus-event: {}", delivery.event),
            format!("x-portus-delivery: {}", delivery.id),
            format!("x-portus-signature-256: {}", signature(&secrets.secret, &body)),
        ];
        let mut request = self
            .client
            .request(method, &settings.url)
            .header(reqwest::header::CONTENT_TYPE, settings.content_type.as_str())
            .header("X-Portus-Event", delivery.event.as_str())
            .header("X-Portus-Delivery", delivery.id.to_string())
            .header("X-Portus-Signature-256", signature(&secrets.secret, &body));
        for (name, value) in &secrets.headers {
            request = request.header(name.as_str(), value.as_str());
            logged.push(format!("{}: [hidden]", name.to_ascii_lowercase()));
        }
        if let Some(username) = &secrets.username {
            request = request.basic_auth(username, secrets.password.as_deref());
            logged.push("authorization: Basic [hidden]".into());
        }
        attempt.request_headers = logged.join("\n");
        let clock = Instant::now();
        let result = request.body(body).send().await;
        match result {
            Ok(response) => {
                attempt.status = Some(response.status().as_u16());
                attempt.response_headers = response
                    .headers()
                    .iter()
                    .map(|(n, v)| format!("{n}: {}", String::from_utf8_lossy(v.as_bytes())))
                    .collect::<Vec<_>>()
                    .join("\n");
                let bytes = response.bytes().await.unwrap_or_default();
                let kept = &bytes[..bytes.len().min(MAX_LOGGED_BODY)];
                attempt.response_body = String::from_utf8_lossy(kept).into_owned();
            }
            Err(e) => {
                // The chain says why (refused, timed out, an address the guard dropped).
                let mut reason = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(inner) = source {
                    reason.push_str(&format!(": {inner}"));
                    source = inner.source();
                }
                attempt.error = Some(reason);
            }
        }
        attempt.duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let (first, max) = (Duration::from_secs(2), Duration::from_secs(60));
        let delays: Vec<u64> = (1..=7).map(|n| backoff(n, first, max).as_secs()).collect();
        assert_eq!(delays, vec![2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(u32::MAX, first, max), max);
    }
}
