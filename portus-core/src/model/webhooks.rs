//! Outgoing webhooks per namespace and their queued deliveries.
//!
//! A webhook's secret, HTTP Basic credentials and custom header values are kept sealed
//! (encrypted by the caller, `portus_scan::webhooks::Sealer`): the store holds one opaque
//! text and never sees them in clear.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::NamespaceId;
use crate::traits::Severity;

id_type!(
    /// Identifies an outgoing webhook.
    WebhookId
);
id_type!(
    /// Identifies one queued delivery of a webhook.
    DeliveryId
);

macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The stored and API name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = crate::Error;

            fn from_str(text: &str) -> crate::Result<Self> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|value| value.as_str().eq_ignore_ascii_case(text.trim()))
                    .ok_or_else(|| {
                        let known: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                        crate::Error::Invalid(format!("unknown value '{text}' (one of: {})", known.join(", ")))
                    })
            }
        }
    };
}

named_enum!(
    /// The HTTP method of a webhook's requests (Portus' two).
    WebhookMethod {
        /// `GET` (the body is sent all the same, as Portus did).
        Get => "GET",
        /// `POST`.
        Post => "POST",
    }
);

named_enum!(
    /// How a webhook's body is encoded.
    WebhookContentType {
        /// The JSON envelope as is.
        Json => "application/json",
        /// `payload=<the JSON envelope>`, form-encoded.
        Form => "application/x-www-form-urlencoded",
    }
);

named_enum!(
    /// What a webhook can be told about.
    WebhookEvent {
        /// A tag was pushed.
        Push => "push",
        /// A tag or manifest was deleted.
        Delete => "delete",
        /// A scan of an image finished.
        ScanCompleted => "scan_completed",
        /// A scanner failed on an image.
        ScanFailed => "scan_failed",
        /// A finished scan found vulnerabilities at or above the webhook's severity.
        VulnerabilityFound => "vulnerability_found",
    }
);

named_enum!(
    /// Where a delivery stands.
    DeliveryState {
        /// Waiting for its (next) attempt.
        Pending => "pending",
        /// The receiver answered 2xx.
        Delivered => "delivered",
        /// Given up: older than the give-up age, or its webhook was deleted.
        Failed => "failed",
    }
);

/// What a webhook is, as created or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// A name, unique in its namespace.
    pub name: String,
    /// Where requests go (`http` or `https`).
    pub url: String,
    /// The request method.
    pub method: WebhookMethod,
    /// The body's encoding.
    pub content_type: WebhookContentType,
    /// The events it wants (at least one).
    pub events: Vec<WebhookEvent>,
    /// The least severity a finding needs for `vulnerability_found`.
    pub min_severity: Severity,
    /// Whether deliveries are made.
    pub enabled: bool,
    /// The names of its custom headers (their values are sealed).
    pub header_names: Vec<String>,
    /// Whether it sends HTTP Basic credentials (sealed).
    pub has_credentials: bool,
    /// The signing secret, the credentials and the header values, encrypted.
    pub sealed: String,
}

impl WebhookSettings {
    /// Whether an event (with the worst severity found, for scan events) is for this webhook.
    pub fn wants(&self, event: WebhookEvent, worst: Option<Severity>) -> bool {
        self.events.contains(&event)
            && (event != WebhookEvent::VulnerabilityFound || worst.is_some_and(|s| s >= self.min_severity))
    }
}

/// A webhook of a namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Its id.
    pub id: WebhookId,
    /// The namespace whose events it is told.
    pub namespace_id: NamespaceId,
    /// What it is.
    pub settings: WebhookSettings,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// One attempt at a delivery, as logged (headers and bodies truncated by the sender).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeliveryAttempt {
    /// When it started.
    pub at: Option<DateTime<Utc>>,
    /// The receiver's HTTP status; `None` when none came (refused, timed out, ...).
    pub status: Option<u16>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// The request headers sent (never the credentials), one `name: value` per line.
    pub request_headers: String,
    /// The response headers, one `name: value` per line.
    pub response_headers: String,
    /// The start of the response body.
    pub response_body: String,
    /// Why it failed, when it did without an answer.
    pub error: Option<String>,
}

/// A queued delivery of one event to one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its id; a webhook's deliveries are made in id order.
    pub id: DeliveryId,
    /// The webhook.
    pub webhook_id: WebhookId,
    /// The event.
    pub event: WebhookEvent,
    /// What makes it unique for its webhook (the registry event id, ...): queuing it twice
    /// queues it once.
    pub event_key: String,
    /// The JSON envelope sent.
    pub body: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: DateTime<Utc>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// The last attempt, if any.
    pub last_attempt: Option<DeliveryAttempt>,
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// It arrived.
    Delivered,
    /// It failed; try again at this time.
    RetryAt(DateTime<Utc>),
    /// It failed for good.
    GaveUp,
}
