use std::sync::Arc;

use async_trait::async_trait;

use crate::Result;
use crate::model::{ImportBatch, ImportCounts};

/// Writes rows brought over from another installation (a Portus database).
///
/// A role of the [`PolicyStore`](super::PolicyStore); every implementation runs the role's
/// conformance suite in `crate::testing`.
#[async_trait]
pub trait ImportStore: Send + Sync {
    /// Writes `batch` in one transaction: all of it or, on error, none of it. Rows already
    /// present (same natural key, or the same `(source, source_id)` for rows without one) are
    /// left as they are and not counted, so a second import of the same batch writes nothing.
    /// Rows referring to a name that exists neither in the store nor earlier in the batch fail
    /// the batch with `NotFound`.
    async fn import_batch(&self, batch: &ImportBatch) -> Result<ImportCounts>;
}

macro_rules! forward {
    ($wrapper:ty) => {
        #[async_trait]
        impl<T: ImportStore + ?Sized> ImportStore for $wrapper {
            async fn import_batch(&self, batch: &ImportBatch) -> Result<ImportCounts> {
                (**self).import_batch(batch).await
            }
        }
    };
}

forward!(Arc<T>);
forward!(Box<T>);
