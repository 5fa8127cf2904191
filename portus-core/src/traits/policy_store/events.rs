use std::sync::Arc;

use async_trait::async_trait;

use chrono::{DateTime, Utc};

use crate::Result;
use crate::model::{EventStatus, StoredEvent};

/// The right to apply registry events, held until it is dropped ([`EventStore::lock_applier`]).
pub struct ApplierLock {
    /// What keeps the right (a PostgreSQL transaction holding an advisory lock); nothing for a
    /// store only one process uses.
    held: Option<Box<dyn Send>>,
}

impl ApplierLock {
    /// The right of the only process applying events (a store no other process shares).
    pub fn sole() -> ApplierLock {
        ApplierLock { held: None }
    }

    /// A right kept by `held` until it is dropped.
    pub fn held_by(held: impl Send + 'static) -> ApplierLock {
        ApplierLock {
            held: Some(Box::new(held)),
        }
    }
}

impl std::fmt::Debug for ApplierLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplierLock")
            .field("shared", &self.held.is_some())
            .finish()
    }
}

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
    /// Applies the pull event `seq`: counts a pull of `repository:tag` at `at` (as
    /// [`TagFactsStore::record_pull`](super::TagFactsStore::record_pull)) and finishes the event
    /// as applied, both or neither: an applier that dies in between leaves the event pending
    /// and the pull uncounted, so the next applier counts it once. Answers `false`, changing
    /// nothing, when the tag is unknown.
    async fn finish_pull_event(&self, seq: i64, repository: &str, tag: &str, at: DateTime<Utc>) -> Result<bool>;
    /// Waits for the right to apply events, held until the answer is dropped. Instances
    /// sharing a store apply events one at a time: two appliers reading the same pending
    /// events would apply each twice (a pull counted twice, a push re-applied after the delete
    /// that followed it) and out of order. A process that dies releases it. The default, for a
    /// store only one process uses, answers at once.
    async fn lock_applier(&self) -> Result<ApplierLock> {
        Ok(ApplierLock::sole())
    }
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
            async fn finish_pull_event(
                &self,
                seq: i64,
                repository: &str,
                tag: &str,
                at: DateTime<Utc>,
            ) -> Result<bool> {
                (**self).finish_pull_event(seq, repository, tag, at).await
            }
            async fn lock_applier(&self) -> Result<ApplierLock> {
                (**self).lock_applier().await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
