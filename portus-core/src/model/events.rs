//! Registry notification events, stored before they are applied.

/// A registry notification event as stored before it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Arrival order.
    pub seq: i64,
    /// The registry's event id (unique).
    pub event_id: String,
    /// The event's JSON.
    pub payload: String,
}

/// Outcome of applying a stored event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    /// Waiting to be applied.
    Pending,
    /// Applied to the store.
    Applied,
    /// Nothing to do (blob event, unknown namespace with `ignore`, ...).
    Ignored,
    /// Could not be applied; the error is kept.
    Failed,
}

impl EventStatus {
    /// The lower-case name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Pending => "pending",
            EventStatus::Applied => "applied",
            EventStatus::Ignored => "ignored",
            EventStatus::Failed => "failed",
        }
    }
}
