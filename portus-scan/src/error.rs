//! Errors of registry access and synchronization.

/// Failures talking to the registry or reading what it sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The registry or scanner could not be reached, or timed out.
    #[error("unreachable: {source}")]
    Unreachable {
        /// The transport failure.
        #[source]
        source: reqwest::Error,
    },
    /// The registry or a scanner answered with an error status.
    #[error("{what} answered HTTP {status}: {message}")]
    Status {
        /// HTTP status.
        status: u16,
        /// What was asked.
        what: String,
        /// The registry's error code and message.
        message: String,
    },
    /// The registry's answer could not be understood.
    #[error("invalid answer from the registry for {what}: {reason}")]
    InvalidResponse {
        /// What was asked.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A scanner reported that it could not scan the image.
    #[error("{what}: {message}")]
    Scanner {
        /// The scanner and image.
        what: String,
        /// The scanner's reason.
        message: String,
    },
    /// A backend setting cannot work; `key` is relative to the backend's configuration section
    /// (`server`, `psk_key`), which the caller names.
    #[error("{key} {reason}")]
    InvalidSetting {
        /// The setting, e.g. `server`.
        key: &'static str,
        /// What is wrong with it, e.g. "must be an http or https URL (got 'clair:6060')".
        reason: String,
    },
    /// A notification envelope could not be parsed.
    #[error("invalid notification: {0}")]
    InvalidNotification(String),
    /// A notification event names a repository, tag or digest no registry would send; it is
    /// recorded with the reason and never applied.
    #[error("refused: {0}")]
    RefusedEvent(#[from] portus_core::reference::ReferenceError),
    /// An outgoing webhook's target is refused by the SSRF guard, or its sealed secrets
    /// cannot be opened; the message says why.
    #[error("webhook: {0}")]
    Webhook(String),
    /// A webhook's settings break a rule: an unknown method, body type, event or severity
    /// name, a URL the SSRF guard refuses, a custom header without a name.
    #[error("{0}")]
    InvalidWebhook(String),
    /// The store failed.
    #[error(transparent)]
    Core(#[from] portus_core::Error),
}

impl Error {
    /// Whether retrying may help (network failures, 5xx, 429).
    pub fn is_temporary(&self) -> bool {
        match self {
            Error::Unreachable { .. } => true,
            Error::Status { status, .. } => *status >= 500 || *status == 429,
            Error::Core(e) => e.is_temporary(),
            _ => false,
        }
    }
}

impl Error {
    /// Converts to the core error of a trait boundary, naming the remote side (`registry`,
    /// `security scanner`); the details stay in the source chain.
    pub fn into_core(self, what: &'static str) -> portus_core::Error {
        match self {
            Error::Core(core) => core,
            Error::Status {
                status: 404,
                what: ref object,
                ..
            } if what == "registry" => portus_core::Error::not_found("registry object", object.clone()),
            e if e.is_temporary() => portus_core::Error::Unavailable {
                what,
                source: Box::new(e),
            },
            e => portus_core::Error::Backend {
                what,
                source: Box::new(e),
            },
        }
    }
}

impl From<Error> for portus_core::Error {
    fn from(error: Error) -> Self {
        error.into_core("registry")
    }
}
