//! What the running parts report for monitoring: logins, lockouts, registry events applied,
//! scanner failures, outgoing deliveries. The core defines only this trait; the program
//! implements it with its metrics registry (in `portus-http`), so no part below the HTTP
//! adapter depends on a metrics crate. Every method has a no-op default and must be cheap
//! (an atomic increment): they are called on hot paths.

use std::time::Duration;

use crate::model::{EventStatus, ScanState};

/// How a login proved (or failed to prove) who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LoginMethod {
    /// The local password (Basic credentials, the OAuth2 password grant, the sign-in form).
    Password,
    /// An application token.
    AppToken,
    /// The LDAP directory.
    Ldap,
    /// An OpenID Connect or OAuth provider (web sign-in).
    Oidc,
    /// Another external authenticator.
    External,
    /// No credentials at all (anonymous token requests).
    Anonymous,
}

impl LoginMethod {
    /// The lower-case name used as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginMethod::Password => "password",
            LoginMethod::AppToken => "app_token",
            LoginMethod::Ldap => "ldap",
            LoginMethod::Oidc => "oidc",
            LoginMethod::External => "external",
            LoginMethod::Anonymous => "anonymous",
        }
    }
}

/// The outcome of an outgoing webhook delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeliveryOutcome {
    /// The target answered 2xx.
    Delivered,
    /// The attempt failed and will be retried.
    Retrying,
    /// The attempt failed and the delivery gave up.
    Failed,
}

/// Receives what the running parts report. Implementations must be cheap and never fail.
pub trait Observer: Send + Sync + std::fmt::Debug {
    /// A login attempt ended: `ok` is whether it proved a usable account. Failed password
    /// logins are reported as [`LoginMethod::Password`] (the method is not known when the
    /// credentials are wrong).
    fn login(&self, method: LoginMethod, ok: bool) {
        let _ = (method, ok);
    }

    /// An account was locked after repeated failed logins.
    fn account_locked(&self) {}

    /// A registry event finished with `status`; `lag` is the time from the event's own
    /// timestamp to now, when the event carried one.
    fn event_finished(&self, status: EventStatus, lag: Option<Duration>) {
        let _ = (status, lag);
    }

    /// The scan records by state, as the scan worker found them at the start of a pass
    /// (`(state, count)`, every state once).
    fn scan_queue(&self, depth: &[(ScanState, usize)]) {
        let _ = depth;
    }

    /// A scanner backend failed to scan an image.
    fn scan_failed(&self, backend: &str) {
        let _ = backend;
    }

    /// An outgoing webhook delivery attempt ended.
    fn delivery(&self, outcome: DeliveryOutcome) {
        let _ = outcome;
    }
}

/// An [`Observer`] that reports nowhere (the default of every part).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl Observer for NoObserver {}

/// A settable observer slot: parts keep one and report through it; `portus serve` sets it once.
#[derive(Debug, Default)]
pub struct ObserverSlot(std::sync::OnceLock<std::sync::Arc<dyn Observer>>);

impl ObserverSlot {
    /// Sets the observer; later calls are ignored.
    pub fn set(&self, observer: std::sync::Arc<dyn Observer>) {
        let _ = self.0.set(observer);
    }

    /// The observer set, or [`NoObserver`].
    pub fn get(&self) -> &dyn Observer {
        match self.0.get() {
            Some(observer) => observer.as_ref(),
            None => &NoObserver,
        }
    }
}
