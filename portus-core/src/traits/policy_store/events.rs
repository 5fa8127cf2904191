use std::sync::Arc;

use async_trait::async_trait;

use crate::Result;
use crate::model::{EventStatus, StoredEvent};

/// Registry notification events, persisted before they are applied.
///
/// A role of the [`PolicyStore`](super::PolicyStore); every implementation runs the role's
/// conformance suite in `crate::testing`.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores registry notification events `(event id, JSON)` as pending, skipping ids that
    /// are already known; returns how many were new.
    async fn insert_events(&self, events: &[(String, String)]) -> Result<usize>;
    /// The oldest pending events, in arrival order.
    async fn pending_events(&self, limit: usize) -> Result<Vec<StoredEvent>>;
    /// Marks an event applied, ignored or failed.
    async fn finish_event<'a>(&self, seq: i64, status: EventStatus, error: Option<&'a str>) -> Result<()>;
}

macro_rules! forward {
    ($wrapper:ty) => {
        #[async_trait]
        impl<T: EventStore + ?Sized> EventStore for $wrapper {
            async fn insert_events(&self, events: &[(String, String)]) -> Result<usize> {
                (**self).insert_events(events).await
            }
            async fn pending_events(&self, limit: usize) -> Result<Vec<StoredEvent>> {
                (**self).pending_events(limit).await
            }
            async fn finish_event<'a>(&self, seq: i64, status: EventStatus, error: Option<&'a str>) -> Result<()> {
                (**self).finish_event(seq, status, error).await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
